"""The loan cycle in a real browser (Debian's Chromium through Selenium), against a real desk
server, a provisioned unit in a temp data folder and the unit's own ``usb-sync``.

Screenshots of each step go to the test's temp folder (and to ``$STATION_DESK_SHOTS`` when set,
to look at them).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest
from helpers import counts, practise, provision_unit
from sqlalchemy import select

from station.cli import main
from station.clinic import prescription as rx
from station.clinic import report
from station.desk import db
from station.desk.app import create_app

pytestmark = pytest.mark.slow  # the fast lane (-m "not slow") leaves this module out

ALIAS = "PT-BROWSER-7"


def _binaries() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("Chromium and chromedriver are absent: apt-get install chromium chromium-driver")
    return browser, driver


@pytest.fixture
def browser():  # noqa: ANN201
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    binary, driver_path = _binaries()
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="desk-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1280,1000"):
        opts.add_argument(arg)
    opts.accept_insecure_certs = True  # the HTTPS test's desk has a self-signed certificate
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def server(tmp_path: Path):  # noqa: ANN201
    from waitress.server import create_server

    u = provision_unit(tmp_path)
    factory = db.open_db(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = create_server(create_app(factory, u.key_file, stick_roots=(tmp_path,)), host="127.0.0.1", port=port,
                        threads=2)
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{port}", factory, u
    finally:
        srv.close()
        t.join(timeout=10)


class Shots:
    def __init__(self, drv, folder: Path) -> None:  # noqa: ANN001
        self.drv, self.folder, self.n = drv, folder, 0
        self.copy_to = os.environ.get("STATION_DESK_SHOTS")

    def __call__(self, name: str, full: bool = False) -> Path:
        self.n += 1
        if full:
            height = self.drv.execute_script("return document.body.scrollHeight")
            self.drv.set_window_size(1280, min(12000, max(1000, height + 40)))
        path = self.folder / f"{self.n:02d}-{name}.png"
        assert self.drv.save_screenshot(str(path))
        assert path.stat().st_size > 5000
        if self.copy_to:
            Path(self.copy_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.copy_to)
        if full:
            self.drv.set_window_size(1280, 1000)
        return path

    def save_file(self, name: str, data: bytes) -> Path:
        """Keep a file the page gave (a PDF) beside the screenshots."""
        path = self.folder / name
        path.write_bytes(data)
        if self.copy_to:
            Path(self.copy_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.copy_to)
        return path


def test_loan_cycle_in_a_browser(browser, server, tmp_path: Path):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, factory, u = server
    shot = Shots(browser, tmp_path)
    wait = WebDriverWait(browser, 20, poll_frequency=0.05)

    def field(name: str, value: str, form: str | None = None) -> None:
        scope = browser.find_element(By.ID, form) if form else browser
        el = scope.find_element(By.NAME, name)
        el.clear()
        el.send_keys(value)

    def submit(form_id: str) -> None:
        """Submit and wait for the next page (never read the old page's message by mistake)."""
        browser.execute_script("window.deskOldPage = true")  # gone once the next page loaded
        browser.find_element(By.CSS_SELECTOR, f"#{form_id} button").click()
        WebDriverWait(browser, 20, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return document.readyState === 'complete' && !window.deskOldPage"))

    def status() -> str:
        return wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.msg, p.error"))).text

    # 1. register the unit
    browser.get(base + "/")
    assert "The loan cycle" in browser.page_source
    field("unit_id", u.unit_id, "register")
    field("key_id", u.key_id, "register")
    submit("register")
    assert f"Unit {u.unit_id} registered." in status()
    shot("unit-registered")

    # 2. a prescription with a mistake, then fixed
    browser.get(base + "/prescribe")
    field("alias", ALIAS)
    browser.find_element(By.CSS_SELECTOR, "select[name=affected_side] option[value=left]").click()
    field("small_smile_reps", "12")
    submit("rx")
    err = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '.field-error[data-for="small_smile_reps"]')))
    assert err.text == "found 12; allowed: a whole number from 1 to 10"
    shot("prescription-mistake")
    field("small_smile_reps", "4")
    assert browser.find_element(By.ID, "minutes").text != "?"
    submit("rx")
    assert f"Prescription saved for {ALIAS}." in status()

    # 3. lend, and write the lending stick
    browser.get(f"{base}/units/{u.unit_id}")
    field("alias", ALIAS, "lend")
    browser.execute_script("document.querySelector('#lend input[name=due_on]').value = arguments[0]",
                           (dt.date.today() + dt.timedelta(weeks=4)).isoformat())
    submit("lend")
    assert f"lent to {ALIAS}" in status()
    stick = tmp_path / "stick"
    stick.mkdir()
    field("folder", str(stick), "stick-lend")
    submit("stick-lend")
    assert "Stick written" in status()
    shot("lent-stick-written")

    # 4. the unit's own stick flow takes the prescription; the patient practises
    assert main(["--data-dir", str(u.data_dir), "usb-sync", str(stick), "--direct"]) == 0
    assert rx.load_active(u.data_dir).alias == ALIAS
    practise(u.data_dir, days=8)  # eight days always cross a Monday: a first and a last week to compare

    # 5. the return: recording it writes the return stick; the unit exports and wipes
    browser.get(f"{base}/units/{u.unit_id}")
    assert not browser.find_elements(By.ID, "lend") and not browser.find_elements(By.ID, "wiped")
    field("folder", str(stick), "return")
    submit("return")
    assert "Return of unit" in status() and "return stick written" in status()
    assert main(["--data-dir", str(u.data_dir), "usb-sync", str(stick), "--direct"]) == 0
    assert rx.load_active(u.data_dir).source == "default"  # wiped

    # 6. read the return stick: its records are imported, the unit's result confirms the wipe
    field("folder", str(stick), "records")
    submit("records")
    assert "imported" in status() and "wiped and ready" in status()
    shot("records-in-wiped")
    browser.get(base + "/")
    assert "wiped and ready" in browser.find_element(By.ID, "units").text
    shot("front-page")

    # 7. importing the stick's bundles again adds nothing; the lending stick's empty export
    browser.get(base + "/import")
    field("path", str(stick), "import-path")
    submit("import-path")
    results = wait.until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, ".import-result")))
    assert "refused" not in {r.get_attribute("data-status") for r in results}
    submit("import-path")
    again = wait.until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, ".import-result")))
    assert {r.get_attribute("data-status") for r in again} == {"already"}, [r.text for r in again]
    shot("imported")
    with factory() as s:  # the lending stick's export of an empty unit is no one's
        assert {b.alias for b in s.scalars(select(db.Bundle).where(db.Bundle.sessions_added == 0))} <= {None}

    # 8. the patient page with its charts
    browser.get(f"{base}/patients/{ALIAS}")
    charts = browser.find_elements(By.CSS_SELECTOR, "section.chart svg")
    assert len(charts) == len(report.CHART_ORDER) and all(c.size["height"] > 100 for c in charts)
    headline = browser.find_element(By.ID, "headline").text
    assert "days of the loan" in headline and "Sessions the camera followed" in headline, headline
    pdf_url = browser.find_element(By.ID, "pdf-link").get_attribute("href")
    with urllib.request.urlopen(pdf_url, timeout=60) as resp:
        assert resp.headers["Content-Type"] == "application/pdf" and resp.read(5) == b"%PDF-"
    assert "left side affected" in browser.page_source
    assert browser.find_elements(By.CSS_SELECTOR, "#first-last tbody tr")
    assert "%" in browser.find_element(By.ID, "qualities").text  # the unit's per-rep qualities
    shot("patient-page", full=True)
    with factory() as s:
        actions = [a.action for a in s.scalars(select(db.Audit).order_by(db.Audit.id))]
    assert actions[:4] == ["register", "prescribe", "lend", "stick"]
    assert actions[4:9] == ["stick", "return", "import", "records", "wiped"]


POST_JS = """
const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];
const fields = Object.assign({csrf: document.querySelector('input[name=csrf]').value}, arguments[1]);
for (const [k, v] of Object.entries(fields)) {
  const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
}
window.deskOldPage = true; document.body.appendChild(f); f.submit();
"""


def test_out_of_order_actions_are_refused_in_a_browser(browser, server, tmp_path: Path):
    """Return without a stick, wipe without a result file, lend while records are on the unit,
    and the same as hand-made POSTs past the hidden buttons: each refused in a plain sentence,
    with no row changed."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from station.desk import loans, registry

    base, factory, u = server
    shot = Shots(browser, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    due = dt.date.today() + dt.timedelta(weeks=4)
    with factory() as s, s.begin():  # set up through the registry: the browser tries the rest
        registry.register_unit(s, "tech", u.unit_id, u.key_id, u.key_id)
        text = (Path(__file__).resolve().parents[2] / "examples" / "prescriptions" / "gentle-start.toml").read_bytes()
        registry.save_prescription(s, "therapist", text.replace(b"EXAMPLE-01", ALIAS.encode()))
        loan_id = registry.lend(s, "tech", u.unit_id, ALIAS, due).id
        registry.write_stick(s, "tech", loan_id, stick, u.key_file, "lend")
    assert main(["--data-dir", str(u.data_dir), "usb-sync", str(stick), "--direct"]) == 0
    practise(u.data_dir, days=1)
    page = f"{base}/units/{u.unit_id}"

    def wait_page() -> None:
        WebDriverWait(browser, 20, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return document.readyState === 'complete' && !window.deskOldPage"))

    def post(path: str, **fields: str) -> str:
        """A hand-made POST (with the page's CSRF token): the refusal sentence it got back."""
        browser.get(page)
        browser.execute_script(POST_JS, path, fields)
        wait_page()
        return browser.find_element(By.CSS_SELECTOR, "p.error").text

    def state() -> str:
        with factory() as s:
            return s.get(db.Unit, u.unit_id).state

    def refused(sentence: str, match: str, name: str) -> None:
        assert match in sentence and sentence.startswith(("Cannot ", "Give ", "The stick has no")), sentence
        assert sentence.endswith("Nothing was changed."), sentence
        assert counts(factory) == before and state() == expected, (name, state())
        shot(name)

    # with the patient: the page offers no wipe, no import, no lending
    browser.get(page)
    forms = {f.get_attribute("id") for f in browser.find_elements(By.CSS_SELECTOR, "#cycle form")}
    assert forms == {"stick-lend", "return"}, forms
    before, expected = counts(factory), loans.OUT
    refused(post(f"/units/{u.unit_id}/wiped", folder=str(stick)), "it is with a patient", "wiped-while-out")
    refused(post(f"/units/{u.unit_id}/lend", alias="PT-OTHER", due_on=due.isoformat()),
            "it is with a patient", "lend-while-out")
    # the return without a stick: the button's field is required; past it, the desk refuses
    browser.get(page)
    browser.execute_script("document.querySelector('#return input[name=folder]').removeAttribute('required')")
    browser.execute_script("window.deskOldPage = true")
    browser.find_element(By.CSS_SELECTOR, "#return button").click()
    wait_page()
    refused(browser.find_element(By.CSS_SELECTOR, "p.error").text, "the desk writes sticks only under",
            "return-without-stick")

    # back, with the return stick written: the previous patient's records are still on it
    with factory() as s, s.begin():
        registry.record_return(s, "tech", loan_id, stick, u.key_file)
    browser.get(page)
    forms = {f.get_attribute("id") for f in browser.find_elements(By.CSS_SELECTOR, "#cycle form")}
    assert forms == {"records", "stick-return", "discard"}, forms
    before, expected = counts(factory), loans.RETURNED
    refused(post(f"/units/{u.unit_id}/lend", alias="PT-OTHER", due_on=due.isoformat()),
            "records are still on it", "lend-with-records-on-unit")
    refused(post(f"/units/{u.unit_id}/wiped", folder=str(stick)), "not imported yet", "wiped-before-import")
    refused(post(f"/units/{u.unit_id}/records", folder=str(stick)), "no result file", "read-stick-before-unit")
    refused(post(f"/loans/{loan_id}/stick", folder=str(stick), kind="lend"), "would mix two patients",
            "lending-stick-while-back")

    # the unit runs the stick; the records come in, and its own result file confirms the wipe
    assert main(["--data-dir", str(u.data_dir), "usb-sync", str(stick), "--direct"]) == 0
    browser.get(page)
    browser.find_element(By.CSS_SELECTOR, "#records input[name=folder]").send_keys(str(stick))
    browser.execute_script("window.deskOldPage = true")
    browser.find_element(By.CSS_SELECTOR, "#records button").click()
    wait_page()
    assert "wiped and ready" in browser.find_element(By.CSS_SELECTOR, "p.msg").text
    assert state() == loans.READY
    assert {f.get_attribute("id") for f in browser.find_elements(By.CSS_SELECTOR, "#cycle form")} == {"lend"}
    shot("ready-again")


def test_prescription_form_warns_before_saving(browser, server, tmp_path: Path):
    """A session far longer than its target and an alias that reads like a name: shown, nothing
    saved; saving again accepts them (audited). Examples are placeholders, never values."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, factory, _u = server
    shot = Shots(browser, tmp_path)

    def submit() -> None:
        browser.execute_script("window.deskOldPage = true")
        browser.find_element(By.CSS_SELECTOR, "#rx button").click()
        WebDriverWait(browser, 20, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return document.readyState === 'complete' && !window.deskOldPage"))

    def saved() -> int:
        with factory() as s:
            return len(list(s.scalars(select(db.Prescription))))

    browser.get(base + "/prescribe")
    for name in ("quiet_start", "quiet_end", "reminder_times"):
        el = browser.find_element(By.NAME, name)
        assert el.get_attribute("value") == "" and el.get_attribute("placeholder").startswith("e.g. ")
    minutes = float(browser.find_element(By.ID, "minutes").text)
    assert minutes * 0.5 <= float(browser.find_element(By.NAME, "target_minutes").get_attribute("value")) \
        <= minutes * 1.25 + 0.5  # the blank form's target is what its patterns take
    browser.find_element(By.NAME, "alias").send_keys("JohnSmith")
    browser.find_element(By.CSS_SELECTOR, "select[name=affected_side] option[value=left]").click()
    for name, value in (("target_minutes", "2"), ("eye_closure_reps", "6"), ("small_smile_reps", "6")):
        el = browser.find_element(By.NAME, name)
        el.clear()
        el.send_keys(value)
    assert "longer than the 2 minute target" in browser.find_element(By.ID, "length-note").text
    submit()
    warned = browser.find_element(By.ID, "warnings").text
    assert "longer than the 2 min target" in warned and "looks like a person's name" in warned, warned
    assert saved() == 0 and "Save with these warnings" in browser.find_element(By.CSS_SELECTOR, "#rx button").text
    shot("prescription-warnings", full=True)
    submit()
    assert "Prescription saved for JohnSmith." in browser.find_element(By.CSS_SELECTOR, "p.msg").text
    assert saved() == 1
    with factory() as s:
        line = s.scalars(select(db.Audit.what).where(db.Audit.action == "prescribe")).one()
    assert "warnings accepted" in line and "looks like a person's name" in line


@pytest.fixture
def tls_server(tmp_path: Path):  # noqa: ANN201
    """The desk over HTTPS on 127.0.0.1 (cheroot, a self-signed certificate, Secure cookies)."""
    import subprocess

    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is absent: apt-get install openssl")
    cert, key = tmp_path / "desk.crt", tmp_path / "desk.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    u = provision_unit(tmp_path)
    factory = db.open_db(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    app = create_app(factory, u.key_file, secure_cookies=True, stick_roots=(tmp_path,))
    srv = wsgi.Server(("127.0.0.1", 0), app, numthreads=2)
    srv.ssl_adapter = BuiltinSSLAdapter(str(cert), str(key))
    srv.prepare()
    t = threading.Thread(target=srv.serve, daemon=True)
    t.start()
    try:
        yield f"https://localhost:{srv.bind_addr[1]}", factory, u
    finally:
        srv.stop()
        t.join(timeout=10)


def test_forms_work_over_https(browser, tls_server):
    """Over HTTPS Flask-WTF also wants the POST's Referer to be the desk itself: the desk's
    Referrer-Policy (same-origin) lets Chromium send it, so a form a technician submits is
    accepted, and the session cookie is Secure."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, factory, u = tls_server
    browser.get(base + "/")
    assert "The loan cycle" in browser.page_source
    assert browser.get_cookie("desk_session")["secure"] is True
    for name, value in (("unit_id", u.unit_id), ("key_id", u.key_id)):
        browser.find_element(By.CSS_SELECTOR, f"#register [name={name}]").send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "#register button").click()
    WebDriverWait(browser, 20, poll_frequency=0.05).until(lambda d: "/units/" in d.current_url)
    assert f"Unit {u.unit_id} registered." in browser.find_element(By.CSS_SELECTOR, "p.msg").text
    with factory() as s:
        assert s.get(db.Unit, u.unit_id) is not None
