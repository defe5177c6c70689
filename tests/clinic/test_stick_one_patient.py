"""A unit serves one patient between wipes, whatever the desk did: a stick bringing another
alias's prescription is refused while the unit holds anyone's prescription or records (unless
the same stick exports and wipes first); a unit that holds nothing writes no empty bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
from rx_helpers import VALID, dumps

from station.clinic import prescription as rx
from station.clinic import stick as clinic
from station.clinic import unit
from station.records.store import Store

UNIT = "ms-unit02"


@pytest.fixture
def secret(data_dir: Path) -> bytes:
    s = bytes(range(1, 33))
    unit.provision(data_dir, s, UNIT)
    return s


def _rx(tmp_path: Path, alias: str) -> Path:
    f = tmp_path / f"{alias}.toml"
    f.write_text(dumps(dict(VALID, patient={"alias": alias, "affected_side": "left"})))
    return f


def _session(data_dir: Path) -> None:
    """One practice session in the real record store."""
    store = Store.open(data_dir)
    try:
        store.conn.execute("INSERT INTO sessions (id, started_utc, started_mono, status) "
                           "VALUES ('s1', '2026-01-01T10:00:00Z', 1.0, 'complete')")
        store.conn.commit()
    finally:
        store.close()


def _run(stick: Path, data_dir: Path) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = clinic.run_stick(stick, data_dir, report=lines.append)
    return code, lines


def _stick(tmp_path: Path, name: str) -> Path:
    s = tmp_path / name
    s.mkdir()
    return s


def test_another_alias_is_refused_while_the_unit_holds_records(data_dir, secret, tmp_path):
    assert rx.apply_bytes(data_dir, _rx(tmp_path, "P-0100").read_bytes()).ok
    _session(data_dir)
    before = rx.active_path(data_dir).read_bytes()
    stick = _stick(tmp_path, "lend")
    req = clinic.make_stick(stick, secret, UNIT, _rx(tmp_path, "P-0200"))  # export, no wipe
    code, lines = _run(stick, data_dir)
    assert code == 1
    assert unit.MIXING in lines and "The new prescription is active." not in lines
    assert rx.active_path(data_dir).read_bytes() == before  # nothing changed
    assert unit.practice_sessions(data_dir) == 1
    assert not (stick / "station-clinic" / "export").exists()
    assert not unit.nonce_used(data_dir, req.nonce)
    # the clinic is told on the stick itself, in the same words
    assert unit.MIXING in (stick / "station-clinic" / f"result-{UNIT}.txt").read_text()


def test_records_without_any_prescription_are_someone_s_too(data_dir, secret, tmp_path):
    _session(data_dir)  # practised on the standard plan
    stick = _stick(tmp_path, "lend")
    clinic.make_stick(stick, secret, UNIT, _rx(tmp_path, "P-0200"))
    code, lines = _run(stick, data_dir)
    assert code == 1 and unit.MIXING in lines
    assert rx.load_active(data_dir).source == "default"


def test_the_same_stick_may_export_and_wipe_first(data_dir, secret, tmp_path):
    assert rx.apply_bytes(data_dir, _rx(tmp_path, "P-0100").read_bytes()).ok
    _session(data_dir)
    stick = _stick(tmp_path, "return-and-lend")
    clinic.make_stick(stick, secret, UNIT, _rx(tmp_path, "P-0200"), wipe_after_export=True)
    code, lines = _run(stick, data_dir)
    assert code == 0, lines
    assert rx.load_active(data_dir).alias == "P-0200"
    assert unit.practice_sessions(data_dir) == 0
    [bundle] = [p for p in (stick / "station-clinic" / "export").iterdir() if not p.name.startswith(".")]
    assert bundle.is_dir()


def test_same_alias_or_an_empty_unit_takes_the_prescription(data_dir, secret, tmp_path):
    stick = _stick(tmp_path, "first")
    clinic.make_stick(stick, secret, UNIT, _rx(tmp_path, "P-0100"))
    code, lines = _run(stick, data_dir)  # a fresh unit: nothing of anyone
    assert code == 0, lines
    assert "This unit holds no patient records, so there was nothing to copy." in lines
    assert not (stick / "station-clinic" / "export").exists()  # no empty bundle
    _session(data_dir)
    again = _stick(tmp_path, "changed")
    clinic.make_stick(again, secret, UNIT, _rx(tmp_path, "P-0100"))  # the same patient
    code, lines = _run(again, data_dir)
    assert code == 0, lines
    assert "The new prescription is active." in lines
    assert unit.practice_sessions(data_dir) == 1


def test_usb_sync_prints_each_line_once(data_dir, secret, tmp_path, capsys, caplog):
    import logging

    from station.cli import main

    stick = _stick(tmp_path, "sync")
    clinic.make_stick(stick, secret, UNIT, _rx(tmp_path, "P-0100"))
    with caplog.at_level(logging.INFO):
        assert main(["usb-sync", str(stick), "--direct"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out.count("The new prescription is active.") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and "stick:" in r.getMessage()]


def test_alsa_messages_go_to_the_log():
    import ctypes.util

    from station.kiosk.native_log import quiet_alsa

    if not ctypes.util.find_library("asound"):
        pytest.skip("no libasound here")
    assert quiet_alsa() and quiet_alsa()  # installed, and idempotent
