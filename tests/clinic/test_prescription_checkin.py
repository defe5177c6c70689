"""The check-in's interval in a prescription: validated by the one validator, written by the desk form."""

from __future__ import annotations

import copy

import pytest
from rx_helpers import VALID, dumps

from station.clinic import prescription as rx


def _with(value: object) -> rx.Validation:
    doc = copy.deepcopy(VALID)
    doc["session"]["checkin_every_days"] = value
    return rx.validate_bytes(dumps(doc).encode())


def test_absent_means_no_checkin():
    result = rx.validate_bytes(dumps(VALID).encode())
    assert result.ok and result.prescription.checkin_every_days is None
    assert rx.Prescription().checkin_every_days is None  # nor in the default plan
    assert "check-in" not in result.prescription.summary()


@pytest.mark.parametrize("days", [1, 7, 14, 60])
def test_a_whole_number_of_days_is_kept(days: int):
    result = _with(days)
    assert result.ok, result.problems
    assert result.prescription.checkin_every_days == days
    assert f"check-in every {days} d" in result.prescription.summary()


@pytest.mark.parametrize("bad", [0, -7, 61, 7.0, 7.5, "7", True, 10**4000])
def test_anything_else_is_a_plain_problem(bad: object):
    result = _with(bad)
    assert not result.ok
    (p,) = result.problems
    assert p.key == "session.checkin_every_days"
    assert "whole number from 1 to 60" in p.allowed
    assert p.line is not None


def test_a_misspelt_key_is_named_with_its_likely_meaning():
    doc = copy.deepcopy(VALID)
    doc["session"]["checkin_every_day"] = 7
    (p,) = rx.validate_bytes(dumps(doc).encode()).problems
    assert p.key == "session.checkin_every_day" and "checkin_every_days" in p.found


def test_the_change_log_names_the_interval(tmp_path):
    assert rx.apply_bytes(tmp_path, dumps(VALID).encode(), now=1.0).ok
    doc = copy.deepcopy(VALID)
    doc["session"]["checkin_every_days"] = 7
    assert rx.apply_bytes(tmp_path, dumps(doc).encode(), now=2.0).ok
    assert rx.load_active(tmp_path).checkin_every_days == 7
    last = (tmp_path / rx.LOG_NAME).read_text().splitlines()[-1]
    assert "checkin_every_days None -> 7" in last


def test_the_desk_form_writes_and_reads_it_back():
    rxform = pytest.importorskip("station.desk.rxform")
    form = {"alias": "P-1", "affected_side": "right", "target_minutes": "2", "use_eye_closure": "on",
            "checkin_every_days": "7"}
    text, ids = rxform.to_toml(form)
    result = rx.validate_bytes(text.encode())
    assert result.ok, result.problems
    assert result.prescription.checkin_every_days == 7
    assert rxform.from_toml(text)["checkin_every_days"] == "7"
    text2, _ = rxform.to_toml({**form, "checkin_every_days": ""})
    assert rx.validate_bytes(text2.encode()).prescription.checkin_every_days is None
    assert rxform.from_toml(text2)["checkin_every_days"] == ""
    bad, ids = rxform.to_toml({**form, "checkin_every_days": "0"})
    errors = rxform.field_errors(rx.validate_bytes(bad.encode()).problems, ids)
    assert set(errors) == {"checkin_every_days"} and "1 to 60" in errors["checkin_every_days"]
