"""Reminders: due windows, no nagging, quiet hours; and the clinician info data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rx_helpers import VALID, dumps

from station.clinic import prescription as rx
from station.clinic import unit
from station.practice import reminders as rm
from station.tracking.model import MODEL_SHA256


def at(h: int, m: int = 0, day: int = 4) -> dt.datetime:
    return dt.datetime(2026, 5, day, h, m)


RX = rx.Prescription(reminder_times=("09:00", "13:00", "23:30"), quiet_start="21:00",
                     quiet_end="08:00", source="prescription")


def test_due_from_its_time_until_the_window_passes():
    assert rm.due(at(8, 59), RX.reminder_times, None, None, None) is None
    r = rm.due(at(9, 0), RX.reminder_times, None, None, None)
    assert r is not None and r.text == rm.PROMPT and r.slot == "09:00" and r.chime
    assert rm.due(at(9, 59), RX.reminder_times, None, None, None) is not None
    assert rm.due(at(10, 0), RX.reminder_times, None, None, None) is None


def test_a_session_in_the_window_counts():
    assert rm.due(at(9, 20), RX.reminder_times, at(9, 10), None, None) is None
    assert rm.due(at(9, 20), RX.reminder_times, at(8, 45), None, None) is None  # just before
    assert rm.due(at(9, 20), RX.reminder_times, at(7, 0), None, None) is not None


def test_each_time_chimes_once_a_day_and_the_prompt_stays_gentle():
    state = rm.ReminderState()
    first = state.check(at(13, 0), RX, None)
    assert first.chime
    later = [state.check(at(13, m), RX, None) for m in range(1, 60)]
    assert all(r is not None and not r.chime for r in later)
    assert state.check(at(14, 0), RX, None) is None
    assert state.check(at(13, 0, day=5), RX, None).chime  # next day: again, once


def test_quiet_hours_are_respected_across_midnight():
    assert rm.due(at(23, 40), RX.reminder_times, None, "21:00", "08:00") is None
    assert rm.due(at(0, 10, day=5), RX.reminder_times, None, "21:00", "08:00") is None
    r = rm.due(at(0, 10, day=5), RX.reminder_times, None, None, None)
    assert r is not None and r.slot == "23:30" and r.since == at(23, 30)


def test_no_times_no_reminders():
    assert rm.ReminderState().check(at(9), rx.Prescription(), None) is None


def test_clinician_info_gathers_everything(data_dir: Path):
    info = unit.clinician_info(data_dir, "no camera found")
    # an unprovisioned unit shows the id its exports carry, marked as not provisioned
    assert info.unit_id.endswith("(not provisioned)") and info.last_export == "never"
    assert info.model_sha256 == ""
    unit.provision(data_dir, unit.new_secret(), "ms-info01")
    rx.apply_bytes(data_dir, dumps(VALID).encode())
    unit.note_export(data_dir, dt.datetime(2026, 5, 4, 10, 30).timestamp())
    info = unit.clinician_info(data_dir, "ok")
    assert info.unit_id == "ms-info01" and info.camera == "ok"
    assert info.last_export == "2026-05-04 10:30"
    assert "eye_closure x3" in info.prescription and "P-0417" not in info.prescription
    assert info.free_storage.endswith("MB free") and info.model_sha256 == ""
    assert len(MODEL_SHA256) == 64


def test_clinic_key_file_format_and_mode(tmp_path: Path):
    secret = unit.new_secret()
    key = tmp_path / "k" / "clinic.key"
    unit.write_secret(key, secret)
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().startswith("station-clinic-key-v1 ")
    assert unit.read_secret(key) == secret
    key.write_text("nonsense")
    try:
        unit.read_secret(key)
    except unit.ClinicKeyError as exc:
        assert "not a station clinic key" in str(exc)
    else:
        raise AssertionError("a malformed key was accepted")
