"""Prescription files: validation, applying, the fallback, and the two commands."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
from rx_helpers import VALID, dumps

from station.cli import main
from station.clinic import prescription as rx
from station.practice.plan import default_plan, library


def test_valid_example_builds_the_plan_it_says():
    result = rx.validate_bytes(dumps(VALID).encode())
    assert result.ok, result.problems
    p = result.prescription
    assert p.alias == "P-0417" and p.affected_side == "left"
    assert p.reminder_times == ("09:00", "13:00", "18:30")
    plan = p.plan()
    assert [(i.pattern.id, i.reps) for i in plan.items] == [("eye_closure", 3), ("small_smile", 4)]
    assert plan.items[1].pacing.hold_s == 5.0
    assert plan.items[1].pacing.move_s == library()["small_smile"].pacing.move_s
    assert plan.source == "prescription"


def test_name_field_and_unknown_keys_are_refused_with_line_numbers():
    doc = copy.deepcopy(VALID)
    doc["patient"]["name"] = "Someone"
    doc["colour"] = "blue"
    text = dumps(doc)
    problems = rx.validate_bytes(text.encode()).problems
    by_key = {p.key: p for p in problems}
    assert set(by_key) == {"patient.name", "colour"}
    assert by_key["patient.name"].found == "an unknown key"
    line = text.splitlines()[by_key["patient.name"].line - 1]
    assert line.startswith("name =")
    assert "alias" in by_key["patient.name"].allowed


@pytest.mark.parametrize(
    ("key", "bad", "expect_key", "allowed_part"),
    [
        (("pattern", 0, "reps"), 11, "pattern[1].reps", "1 to 10"),
        (("pattern", 0, "move_s"), 1.5, "pattern[1].move_s", "2 to 8"),
        (("pattern", 1, "hold_s"), 10.5, "pattern[2].hold_s", "2 to 10"),
        (("pattern", 1, "rest_s"), 0.5, "pattern[2].rest_s", "1 to 10"),
        (("pattern", 1, "release_s"), 9, "pattern[2].release_s", "2 to 8"),
        (("patient", "affected_side"), "Left", "patient.affected_side", "left"),
        (("reminders", "times"), ["9:00"], "reminders.times", "09:30"),
        (("message",), "two\nlines", "message", "printable"),
        (("message",), "x" * 161, "message", "160"),
        (("session", "target_minutes"), 0, "session.target_minutes", "1 to 15"),
    ],
)
def test_out_of_bounds_values_name_key_found_and_allowed(key, bad, expect_key, allowed_part):
    doc = copy.deepcopy(VALID)
    target = doc
    for k in key[:-1]:
        target = target[k]
    target[key[-1]] = bad
    problems = rx.validate_bytes(dumps(doc).encode()).problems
    assert [p.key for p in problems] == [expect_key]
    assert allowed_part in problems[0].allowed
    assert problems[0].line is not None


def test_fit_warning_when_patterns_exceed_target():
    doc = copy.deepcopy(VALID)
    doc["session"]["target_minutes"] = 1
    doc["pattern"][0]["reps"] = 10
    result = rx.validate_bytes(dumps(doc).encode())
    assert result.ok
    assert any("longer than the 1 min target" in w for w in result.warnings)


def test_apply_is_atomic_and_logs_without_the_alias(data_dir: Path):
    result = rx.apply_bytes(data_dir, dumps(VALID).encode(), now=5.0)
    assert result.ok
    assert rx.active_path(data_dir).read_bytes() == dumps(VALID).encode()
    assert not [p for p in data_dir.iterdir() if ".tmp" in p.name]
    log_text = (data_dir / rx.LOG_NAME).read_text()
    assert "patient changed" in log_text and "P-0417" not in log_text
    doc = copy.deepcopy(VALID)
    doc["pattern"][0]["reps"] = 5
    rx.apply_bytes(data_dir, dumps(doc).encode())
    assert "changed eye_closure: reps 3 -> 5" in (data_dir / rx.LOG_NAME).read_text()


def test_load_active_falls_back_with_a_notice(data_dir: Path):
    p = rx.load_active(data_dir)
    assert p.source == "default" and p.plan() == default_plan() and p.notice is not None
    rx.active_path(data_dir).write_bytes(b"\xff\xfe garbage")
    p = rx.load_active(data_dir)
    assert p.plan() == default_plan()
    assert p.notice.level == "attention" and "clinic" in p.notice.text
    rx.active_path(data_dir).unlink()
    os.symlink("/dev/zero", rx.active_path(data_dir))
    assert rx.load_active(data_dir).source == "default"


def test_symlink_and_special_files_are_refused(tmp_path: Path):
    real = tmp_path / "real.toml"
    real.write_text(dumps(VALID))
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    assert "symbolic link" in str(rx.validate_file(link).problems[0])
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in str(rx.validate_file(fifo).problems[0])


def test_commands_exit_codes_and_no_change_when_invalid(tmp_path: Path, data_dir: Path, capsys):
    good = tmp_path / "good.toml"
    good.write_text(dumps(VALID))
    bad = tmp_path / "bad.toml"
    bad.write_text(dumps({**VALID, "name": "x"}))
    assert main(["prescription", "check", str(good)]) == 0
    assert main(["prescription", "check", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "bad.toml: name (line 3): found an unknown key" in out
    assert main(["prescribe", str(good)]) == 0
    before = rx.active_path(data_dir).read_bytes()
    assert main(["prescribe", str(bad)]) == 2
    assert rx.active_path(data_dir).read_bytes() == before
    assert "previous prescription stays active" in capsys.readouterr().out
