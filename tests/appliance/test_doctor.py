"""``station doctor``: real pygame (dummy driver), gpiozero MockFactory, real files, fake clock."""

from __future__ import annotations

import datetime as dt

import pygame
import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from station.appliance import doctor
from station.cli import main
from station.config import Settings, load_settings_text
from station.paths import model_path
from station.tracking import nonet
from station.tracking.model import copy_model


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.close()


@pytest.fixture
def installed(data_dir, model_file):
    copy_model(model_file, model_path(data_dir))
    return data_dir


def by_name(checks):
    return {c.name: c for c in checks}


NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC).timestamp()


def test_healthy_unit_reports_ok(installed, factory):
    import pygame

    display_was_open = pygame.display.get_init()
    checks = doctor.run_checks(
        Settings(), installed, pin_factory=factory, now=lambda: NOW, ntp=lambda: True
    )
    c = by_name(checks)
    assert [x.name for x in checks] == ["camera", "model", "sandbox", "display", "button", "storage",
                                        "clock"]
    assert c["model"].status == "OK" and "64184e229b26" in c["model"].detail
    assert c["display"].status == "OK" and "dummy" in c["display"].detail
    assert c["button"].status == "OK" and "GPIO17 reads released" in c["button"].detail
    assert c["storage"].status == "OK" and "MB free" in c["storage"].detail
    assert (
        c["clock"].status == "OK"
        and "2026-03-02" in c["clock"].detail
        and "NTP synchronised" in c["clock"].detail
    )
    assert doctor.all_essential_ok(checks) or not c["camera"].ok
    assert pygame.display.get_init() == display_was_open  # it closed only what it opened


def test_missing_and_wrong_model(data_dir):
    c = doctor.check_model(data_dir)
    assert c.status == "PROBLEM" and c.essential and "station model fetch" in c.action
    p = model_path(data_dir)
    p.parent.mkdir(parents=True)
    p.write_bytes(b"not a model")
    c = doctor.check_model(data_dir)
    assert c.status == "PROBLEM" and "not the pinned one" in c.detail


class StuckPin(MockPin):
    """A pin shorted to ground: the pull-up cannot lift it (a button stuck pressed)."""

    def _set_pull(self, value):
        super()._set_pull(value)
        self.drive_low()


def test_stuck_button_is_a_problem():
    settings, _ = load_settings_text("[button]\npin = 22\n")
    factory = MockFactory(pin_class=StuckPin)
    try:
        c = doctor.check_button(settings, on_pi=True, pin_factory=factory)
    finally:
        factory.close()
    assert c.status == "PROBLEM" and "GPIO22" in c.detail and "stuck" in c.action and c.essential


def test_no_gpio_on_a_laptop(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    c = doctor.check_button(Settings(), on_pi=False)
    assert c.status == "SKIPPED" and "no GPIO here" in c.detail and not c.essential


def test_storage_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    c = doctor.check_storage(blocker / "data")
    assert c.status == "PROBLEM" and "cannot write" in c.detail and c.essential


def test_storage_nearly_full(data_dir, monkeypatch):
    monkeypatch.setattr(doctor, "MIN_FREE_BYTES", 1 << 62)
    c = doctor.check_storage(data_dir)
    assert c.status == "PROBLEM" and "export the records" in c.action


def test_implausible_clock():
    old = dt.datetime(1970, 1, 1, 0, 5, tzinfo=dt.UTC).timestamp()
    c = doctor.check_clock(old, False)
    assert c.status == "PROBLEM" and "1970-01-01" in c.detail and "not NTP synchronised" in c.detail
    assert not c.essential
    assert doctor.check_clock(NOW, None).detail.endswith("(NTP state unknown)")


def test_display_in_use_by_the_kiosk_is_left_alone():
    pygame.display.init()
    try:
        pygame.display.set_mode((80, 48))
        c = doctor.check_display()
        assert c.status == "OK" and "in use" in c.detail
        assert pygame.display.get_init()
    finally:
        pygame.display.quit()


def test_camera_file_source(tmp_path):
    settings, _ = load_settings_text(
        f'[camera]\nsource = "file"\nfile = "{tmp_path / "none.mp4"}"\n'
    )
    c = doctor.check_camera(settings, on_pi=True)
    assert c.status == "PROBLEM" and c.essential and "missing" in c.detail


def test_a_failing_check_becomes_a_problem_line(installed, monkeypatch, factory):
    def boom(*a, **k):
        raise RuntimeError("sensor on fire")

    monkeypatch.setattr(doctor, "check_storage", boom)
    checks = doctor.run_checks(
        Settings(), installed, pin_factory=factory, now=lambda: NOW, ntp=lambda: None
    )
    c = by_name(checks)["storage"]
    assert c.status == "PROBLEM" and "sensor on fire" in c.detail
    assert not doctor.all_essential_ok(checks)
    assert c.line().startswith("PROBLEM  storage")


def test_cli_exit_codes(installed, capsys, tmp_path):
    assert main(["--data-dir", str(installed), "doctor"]) == 0
    out = capsys.readouterr().out
    assert "OK       model" in out and "All essential checks passed." in out
    empty = tmp_path / "empty"
    assert main(["--data-dir", str(empty), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM  model" in out and "-> run: station model fetch" in out


@pytest.mark.skipif(nonet.native_arch() is None, reason="the filters exist for Linux on x86-64 and aarch64")
def test_the_sandbox_line_comes_from_a_real_confined_child(installed, capsys):
    found = nonet.check_this_machine()
    assert found["tables"] and found["network"] and found["files"], found
    c = doctor.check_sandbox()
    assert c.status == "OK" and c.essential
    assert "no network and no file writing" in c.detail
    assert main(["--data-dir", str(installed), "doctor"]) == 0
    assert "OK       sandbox  the face model runs in its own process with no network" in capsys.readouterr().out


def test_the_sandbox_line_says_what_is_missing():
    nothing = doctor.check_sandbox(lambda: {"machine": "linux armv7l", "tables": False,
                                            "network": False, "files": False})
    assert nothing.status == "SKIPPED" and not nothing.essential
    assert "no network filter exists for linux armv7l" in nothing.detail and "unfiltered" in nothing.detail
    refused = doctor.check_sandbox(lambda: {"tables": True, "network": False, "files": False,
                                            "error": "TimeoutExpired: probe"})
    assert refused.status == "PROBLEM" and refused.essential
    assert "will not start" in refused.detail and "TimeoutExpired" in refused.detail
    assert not doctor.all_essential_ok([refused])
    half = doctor.check_sandbox(lambda: {"tables": True, "network": True, "files": False})
    assert half.status == "PROBLEM" and "file writing" in half.detail
    assert half.line().startswith("PROBLEM  sandbox")
