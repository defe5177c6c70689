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
from pathlib import Path

import pytest
from helpers import practise, provision_unit

from station.cli import main
from station.clinic import prescription as rx
from station.desk import db
from station.desk.app import create_app

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
    practise(u.data_dir, days=5)

    # 5. the return: record it, write the return stick, the unit exports and wipes
    browser.get(f"{base}/units/{u.unit_id}")
    submit("return")
    assert "Return recorded" in status()
    field("folder", str(stick), "stick-return")
    submit("stick-return")
    assert "wipe after export" in status()
    assert main(["--data-dir", str(u.data_dir), "usb-sync", str(stick), "--direct"]) == 0
    assert rx.load_active(u.data_dir).source == "default"  # wiped

    # 6. import the bundles from the stick
    browser.get(base + "/import")
    field("path", str(stick), "import-path")
    submit("import-path")
    results = wait.until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, ".import-result")))
    assert {r.get_attribute("data-status") for r in results} == {"imported"}
    assert any(f"for {ALIAS} from unit {u.unit_id}" in r.text and " 0 new" not in r.text for r in results)
    shot("imported")
    submit("import-path")  # the same stick again adds nothing
    again = wait.until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, ".import-result")))
    assert {r.get_attribute("data-status") for r in again} == {"already"}, [r.text for r in again]

    # 7. mark wiped; the front page shows it ready
    browser.get(f"{base}/units/{u.unit_id}")
    submit("wiped")
    assert "wiped and ready" in status()
    browser.get(base + "/")
    assert "wiped and ready" in browser.find_element(By.ID, "units").text
    shot("front-page")

    # 8. the patient page with its charts
    browser.get(f"{base}/patients/{ALIAS}")
    charts = browser.find_elements(By.CSS_SELECTOR, "section.chart svg")
    assert len(charts) == 6 and all(c.size["height"] > 100 for c in charts)
    assert "left side affected" in browser.page_source
    assert browser.find_elements(By.CSS_SELECTOR, "#first-last tbody tr")
    assert "%" in browser.find_element(By.ID, "qualities").text  # the unit's per-rep qualities
    shot("patient-page", full=True)
    with factory() as s:
        actions = [a.action for a in s.scalars(db.select(db.Audit).order_by(db.Audit.id))] \
            if hasattr(db, "select") else [a.action for a in s.query(db.Audit).order_by(db.Audit.id)]
    assert actions[:4] == ["register", "prescribe", "lend", "stick"] and "import" in actions
