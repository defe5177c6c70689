"""The weekly check-in on the desk in a real browser (Chromium through Selenium): the
prescription form's interval, then the patient's check-in section with its labelled figures.

Screenshots go to the test's temp folder (and to ``$STATION_DESK_SHOTS`` when set).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from checkin_helpers import store_checkins
from helpers import practise
from sqlalchemy import select
from test_desk_browser import Shots, browser, server  # noqa: F401 - the browser and desk fixtures

from station.clinic import checkin_figures as cf
from station.clinic import prescription as rx
from station.clinic import unit
from station.clinic.export import export_bundle
from station.desk import db, importer, registry

ALIAS = "PT-CHK-WEB"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prescriptions" / "eye-focused.toml"


def test_checkin_interval_and_section_in_a_browser(browser, server, tmp_path: Path):  # noqa: F811
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, factory, u = server
    shot = Shots(browser, tmp_path)

    def submit() -> None:
        browser.execute_script("window.deskOldPage = true")
        browser.find_element(By.CSS_SELECTOR, "#rx button").click()
        WebDriverWait(browser, 20, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return document.readyState === 'complete' && !window.deskOldPage"))

    # the form: a check-in every 0 days is refused next to the field, every 7 is saved
    browser.get(base + "/prescribe")
    browser.find_element(By.NAME, "alias").send_keys(ALIAS)
    browser.find_element(By.CSS_SELECTOR, "select[name=affected_side] option[value=left]").click()
    field = browser.find_element(By.NAME, "checkin_every_days")
    assert field.get_attribute("value") == "" and field.get_attribute("placeholder") == "e.g. 7"
    field.send_keys("0")
    submit()
    note = browser.find_element(By.CSS_SELECTOR, ".field-error[data-for=checkin_every_days]").text
    assert "whole number from 1 to 60" in note, note
    field = browser.find_element(By.NAME, "checkin_every_days")
    field.clear()
    field.send_keys("7")
    submit()
    with factory() as s:
        saved = s.scalars(select(db.Prescription).where(db.Prescription.alias == ALIAS)).all()
    if not saved:  # the validator's warnings (length vs target) are shown first: accept them
        submit()
        with factory() as s:
            saved = s.scalars(select(db.Prescription).where(db.Prescription.alias == ALIAS)).all()
    assert len(saved) == 1 and rx.validate_bytes(saved[0].toml.encode()).prescription.checkin_every_days == 7

    # a unit comes back with four weekly check-ins
    # the unit holds the same side as the desk's form (the record generator practises a left side)
    text = EXAMPLE.read_text().replace("EXAMPLE-02", ALIAS).replace('affected_side = "right"',
                                                                     'affected_side = "left"')
    assert rx.apply_bytes(u.data_dir, text.encode()).ok
    practise(u.data_dir, days=2)
    store_checkins(u.data_dir, [0.35, 0.5, 0.55, 0.75])
    bundle = export_bundle(u.data_dir, tmp_path / "out")
    with factory() as s, s.begin():
        registry.register_unit(s, "tester", u.unit_id, u.key_id, None)
        registry.lend(s, "tester", u.unit_id, ALIAS, dt.date.today() + dt.timedelta(days=30))
    assert importer.import_path(factory, bundle, "tech", unit.read_secret(u.key_file)).status == "imported"

    browser.get(f"{base}/patients/{ALIAS}")
    section = browser.find_element(By.ID, "checkins")
    assert section.is_displayed()
    assert browser.find_element(By.ID, "no-score").text == cf.NO_SCORE
    assert cf.LABEL in browser.find_element(By.ID, "checkin-label").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#checkin-first-latest tbody tr")
    smile = next(r.text for r in rows if r.text.startswith("Open-mouth smile: ratio"))
    assert smile.endswith("0.35 0.75 0.01 +0.40, more than the band"), smile  # a change beyond the noise
    assert cf.SIGNS in browser.find_element(By.ID, "checkin-signs").text
    for mv in ("brow_lift", "eye_closure", "open_smile", "snarl", "lip_pucker"):
        fig = browser.find_element(By.ID, f"checkin-{mv}")
        assert fig.is_displayed() and fig.size["height"] > 150
        assert cf.LABEL.lower() in fig.find_element(By.TAG_NAME, "figcaption").text.lower()
        assert fig.find_elements(By.TAG_NAME, "svg")
    browser.execute_script("document.getElementById('checkins').scrollIntoView()")
    shot("checkin-section")
    shot("patient-page-with-checkins", full=True)

    # the PDF the page links, fetched by the signed-in browser: the check-in pages are in it
    import base64

    link = browser.find_element(By.ID, "pdf-link")
    b64 = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {"
        " let s = ''; const u = new Uint8Array(b);"
        " for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192));"
        " done(btoa(s)); }).catch(e => done(''))", link.get_attribute("href"))
    pdf = base64.b64decode(b64)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    saved = shot.save_file("report.pdf", pdf)
    assert saved.stat().st_size == len(pdf)
