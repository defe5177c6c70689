"""Regression tests for the attack run's findings (issue 10): one or more per defect A-I,
the inputs that were accepted and should not have been, and the noise items."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from recording import Wall, rows, run_session
from rx_helpers import VALID, dumps

from station import config
from station.cli import build_parser, main
from station.clinic import prescription as rx
from station.clinic import spool, unit
from station.clinic import stick as clinic
from station.feedback import Side
from station.paths import database_path, resolve_data_dir
from station.practice import words
from station.practice.events import SessionStarted
from station.practice.plan import default_plan
from station.records import store as store_mod
from station.records import wipe as wipe_mod
from station.records.recorder import SessionRecorder
from station.records.sessionlock import SessionLock, session_in_progress
from station.records.store import Store
from station.records.wipe import wipe

UNIT = "ms-unit01"
SECRET = bytes(range(32))


@pytest.fixture
def unit_data(data_dir: Path) -> Path:
    unit.provision(data_dir, SECRET, UNIT)
    assert rx.apply_bytes(data_dir, dumps(VALID).encode()).ok
    return data_dir


@pytest.fixture
def stick(tmp_path: Path) -> Path:
    s = tmp_path / "stick"
    s.mkdir()
    return s


class Calls:
    """A fake exporter and wiper that only count."""

    def __init__(self) -> None:
        self.exported = self.wiped = 0

    def export(self, data_dir: Path, out: Path) -> Path:
        self.exported += 1
        b = out / "bundle"
        b.mkdir()
        (b / "sessions.csv").write_text("id\n")
        return b

    def wipe(self, data_dir: Path) -> None:
        self.wiped += 1


def run(stick: Path, data: Path, calls: Calls) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = clinic.run_stick(stick, data, calls.export, calls.wipe, lines.append)
    return code, lines


# ---------------------------------------------------------------- A: no wipe under a session


def test_a_usb_sync_never_takes_a_job_from_a_practising_kiosk(unit_data: Path, stick: Path):
    clinic.make_stick(stick, SECRET, UNIT, wipe_after_export=True)
    t = {"now": 1000.0}
    calls = Calls()

    def sleep(s: float) -> None:  # the kiosk is mid-session: alive, but takes no job
        t["now"] += s
        spool.kiosk_heartbeat(unit_data, now=t["now"], practising=True)

    spool.kiosk_heartbeat(unit_data, now=t["now"], practising=True)
    out: list[str] = []
    code = spool.hand_off(unit_data, stick, out.append, now=lambda: t["now"], sleep=sleep,
                           pickup_s=15, total_s=60, exporter=calls.export, wiper=calls.wipe)
    assert code == 1 and calls.exported == calls.wiped == 0
    assert "practice session" in out[0] and "still busy" in out[-1]
    assert list(spool.spool_dir(unit_data).glob("job-*.json"))  # the kiosk takes it later


def test_a_direct_stick_is_refused_while_a_session_runs(unit_data: Path, stick: Path):
    clinic.make_stick(stick, SECRET, UNIT, wipe_after_export=True)
    kiosk = SessionLock(unit_data)
    kiosk.hold()  # what the kiosk's recorder holds from SessionStarted to SessionFinished
    calls = Calls()
    try:
        assert session_in_progress(unit_data)
        code, lines = run(stick, unit_data, calls)
    finally:
        kiosk.release()
    assert code == 1 and calls.exported == calls.wiped == 0
    assert any("middle of a practice session" in line for line in lines)
    assert not unit.nonce_used(unit_data, json.loads(
        (stick / "station-clinic" / "request.json").read_text())["nonce"])
    code, _ = run(stick, unit_data, calls)  # after the session, the same stick works
    assert code == 0 and calls.exported == calls.wiped == 1


def test_a_station_wipe_is_refused_mid_session(data_dir: Path, clock, capsys):
    rec = SessionRecorder(data_dir, default_plan(), wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock, stop_after=6)  # mid-session: the recorder holds the lock
    assert main(["--data-dir", str(data_dir), "wipe", "--yes"]) == 1
    assert "middle of a practice session" in capsys.readouterr().out
    assert rows(data_dir, "SELECT count(*) FROM sessions") == [(1,)]
    rec.stop()
    assert not session_in_progress(data_dir)
    assert main(["--data-dir", str(data_dir), "wipe", "--yes"]) == 0


def test_a_recorder_reopens_a_store_replaced_under_it(data_dir: Path, clock):
    rec = SessionRecorder(data_dir, default_plan(), wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock)
    wipe(data_dir)  # another process (station wipe) while the kiosk is at home
    run_session(rec, clock)
    assert rec.pending_rows == 0
    rec.stop()
    assert rows(data_dir, "SELECT status FROM sessions") == [("complete",)]
    assert rows(data_dir, "SELECT count(*) FROM reps")[0][0] > 0


# ---------------------------------------------------------------- B: huge numbers


@pytest.mark.parametrize("digits", [309, 4300, 5000])
def test_b_huge_numbers_are_exit_2_naming_the_key(tmp_path: Path, data_dir: Path, stick: Path,
                                                   digits: int, capsys):
    text = dumps(VALID).replace("reps = 3", "reps = " + "9" * digits)
    f = tmp_path / "p.toml"
    f.write_text(text)
    for argv in (["prescription", "check", str(f)], ["prescribe", str(f)],
                 ["clinic", "make-stick", str(stick), "--secret-file", str(_key(tmp_path)),
                  "--unit", UNIT, "--prescription", str(f)]):
        assert main(argv) == 2, argv
        out = capsys.readouterr()
        assert "reps" in out.out + out.err and "Traceback" not in out.err


def _key(tmp_path: Path) -> Path:
    k = tmp_path / "clinic.key"
    if not k.exists():
        unit.write_secret(k, SECRET)
    return k


# ---------------------------------------------------------------- C: full disk at restart


class _FullOnCommit:
    """A connection whose COMMIT fails as SQLite's does on a full disk (transaction gone)."""

    full = True

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def execute(self, sql: str, *a):
        if self.full and sql.strip().upper() == "COMMIT":
            self._c.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return self._c.execute(sql, *a)

    def __getattr__(self, name: str):
        return getattr(self._c, name)


def test_c_restart_on_a_full_disk_shows_the_notice_and_keeps_sessions(data_dir: Path, clock,
                                                                       monkeypatch):
    rec = SessionRecorder(data_dir, default_plan(), wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock, stop_after=5)  # a power cut mid-session leaves it open
    rec.store.close()
    real = store_mod.connect
    monkeypatch.setattr(store_mod, "connect", lambda *a, **k: _FullOnCommit(real(*a, **k)))
    rec = SessionRecorder(data_dir, default_plan(), wall=Wall(clock), affected_side=Side.LEFT)  # the restart
    assert [n.text for n in rec.notices()] == [words.STORAGE_FULL]
    run_session(rec, clock)
    assert rec.pending_rows > 0  # held in memory, not lost
    _FullOnCommit.full = False
    try:
        run_session(rec, clock)
        assert rec.pending_rows == 0
    finally:
        _FullOnCommit.full = True
    rec.stop()
    got = dict(rows(data_dir, "SELECT status, count(*) FROM sessions GROUP BY 1"))
    assert got == {"complete": 2, "interrupted": 1}


# ---------------------------------------------------------------- D: bad prescription + wipe


def test_d_bad_prescription_with_wipe_changes_nothing(unit_data: Path, stick: Path,
                                                      tmp_path: Path):
    f = tmp_path / "new.toml"
    f.write_text(dumps(dict(VALID, patient={"alias": "P-0500", "affected_side": "right"})))
    clinic.make_stick(stick, SECRET, UNIT, f, wipe_after_export=True)
    (stick / "station-clinic" / "prescription.toml").write_text(dumps(VALID) + "\n# swapped\n")
    before = rx.active_path(unit_data).read_bytes()
    calls = Calls()
    code, lines = run(stick, unit_data, calls)
    assert code == 1 and calls.exported == calls.wiped == 0
    assert rx.active_path(unit_data).read_bytes() == before
    text = " ".join(lines)
    assert "not the one the clinic signed" in text and "current prescription stay" in text
    assert not unit.nonce_used(unit_data, json.loads(
        (stick / "station-clinic" / "request.json").read_text())["nonce"])


# ---------------------------------------------------------------- E: half-done wipe


def test_e_an_interrupted_wipe_is_finished_by_the_next_command(unit_data: Path, clock,
                                                               monkeypatch, tmp_path: Path):
    rec = SessionRecorder(unit_data, default_plan(), wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock)
    rec.stop()
    real = wipe_mod.shred
    done: list[Path] = []

    def shred_then_die(path: Path) -> None:  # the power goes after the database is zeroed
        real(path) if not done else None
        done.append(path)
        raise KeyboardInterrupt

    monkeypatch.setattr(wipe_mod, "shred", shred_then_die)
    with pytest.raises(KeyboardInterrupt):
        wipe(unit_data)
    monkeypatch.setattr(wipe_mod, "shred", real)
    assert rx.active_path(unit_data).exists()  # half-wiped: the alias is still there
    f = tmp_path / "p.toml"
    f.write_text(dumps(VALID))
    assert main(["--data-dir", str(unit_data), "prescription", "check", str(f)]) == 0
    assert not rx.active_path(unit_data).exists()
    assert not list(unit_data.glob("records.sqlite3.corrupt-*"))
    assert not (unit_data / wipe_mod.WIPE_MARKER).exists()
    assert rows(unit_data, "SELECT count(*) FROM sessions") == [(0,)]


# ---------------------------------------------------------------- F: hostile settings


@pytest.mark.parametrize("text", [
    "x = " + "[" * 1000 + "]" * 1000,
    "[display]\nwidth = " + "9" * 5000,
    "\ufeff[display]\nfps = 999\n",
])
def test_f_hostile_settings_give_defaults_and_a_problem(tmp_path: Path, text: str):
    f = tmp_path / "station.toml"
    f.write_text(text, encoding="utf-8")
    settings, problems = config.load_settings(f)
    assert settings.display == config.Settings().display and problems
    assert all(p.key for p in problems)


def test_f_bom_settings_are_read(tmp_path: Path):
    f = tmp_path / "station.toml"
    f.write_bytes("\ufeff[display]\nfps = 20\n".encode())
    settings, problems = config.load_settings(f)
    assert settings.display.fps == 20 and problems == []


def test_f_a_fifo_or_nul_path_does_not_hang_or_crash(tmp_path: Path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    result: list = []
    t = threading.Thread(target=lambda: result.append(config.load_settings(fifo)), daemon=True)
    t.start()
    t.join(10)
    assert result, "reading a FIFO as settings blocked"
    settings, problems = result[0]
    assert settings == config.Settings() and "not a regular file" in problems[0].found
    settings, problems = config.load_settings("a\0b.toml")
    assert settings == config.Settings() and problems


def test_f_an_uncreatable_data_dir_in_settings_falls_back(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("STATION_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    got = resolve_data_dir(None, str(blocker / "data"))
    assert got == tmp_path / "xdg" / "station" and got.is_dir()
    settings, problems = config.load_settings_text('[data]\ndir = "a\\u0000b"\n')
    assert settings.data_dir == "" and problems[0].key == "data.dir"


# ---------------------------------------------------------------- G: partial exports


def test_g_exports_are_built_in_the_data_dir_and_leftovers_removed(data_dir: Path, tmp_path: Path,
                                                                   monkeypatch):
    from station.clinic import export as export_mod

    seen: list[Path] = []
    real = export_mod._place

    def watch(built: Path, final: Path) -> None:
        seen.append(built)
        real(built, final)

    monkeypatch.setattr(export_mod, "_place", watch)
    out = tmp_path / "out"
    bundle = export_mod.export_bundle(data_dir, out)
    assert seen[0].parent == data_dir / "tmp" and bundle.parent == out
    assert [p.name for p in out.iterdir()] == [bundle.name]
    # what a kill -9 mid-copy leaves: a built folder in the data dir and a hidden copy outside
    left = data_dir / "tmp" / "export-x"
    left.mkdir()
    (left / "prescription.toml").write_text(dumps(VALID))
    partial = out / ".station-export-x.export-tmp"
    partial.mkdir()
    (partial / "reps.csv").write_text("id\n")
    (data_dir / "tmp" / "export-x.out").write_text(str(partial))
    f = tmp_path / "p.toml"
    f.write_text(dumps(VALID))
    assert main(["--data-dir", str(data_dir), "prescription", "check", str(f)]) == 0
    assert not partial.exists() and list((data_dir / "tmp").iterdir()) == []


def test_g_the_stick_flow_builds_its_export_in_the_data_dir(unit_data: Path, stick: Path):
    clinic.make_stick(stick, SECRET, UNIT)
    where: list[Path] = []

    def export(data_dir: Path, out: Path) -> Path:
        where.append(out)
        return Calls().export(data_dir, out)

    code = clinic.run_stick(stick, unit_data, export, Calls().wipe, lambda _: None)
    assert code == 0 and where[0].parent == unit_data / "tmp"
    assert list((unit_data / "tmp").iterdir()) == []


# ---------------------------------------------------------------- H: plain messages


def _fail_writes(monkeypatch, err: int) -> None:
    def failing(fd: int, data: bytes) -> None:
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(clinic, "_write_all", failing)


@pytest.mark.parametrize("err,expected", [(errno.ENOSPC, clinic.STICK_FULL),
                                          (errno.EROFS, clinic.STICK_READ_ONLY)])
def test_h_full_or_read_only_stick_says_so(unit_data: Path, stick: Path, monkeypatch, err: int,
                                           expected: str):
    clinic.make_stick(stick, SECRET, UNIT)
    _fail_writes(monkeypatch, err)
    code, lines = run(stick, unit_data, Calls())
    assert code == 1 and expected in lines


def test_h_export_folder_that_is_a_file_says_so(unit_data: Path, stick: Path):
    clinic.make_stick(stick, SECRET, UNIT)
    (stick / "station-clinic" / "export").write_text("not a folder")
    code, lines = run(stick, unit_data, Calls())
    assert code == 1 and clinic.STICK_BAD_FOLDER in lines


def test_h_stick_for_another_unit_names_both(unit_data: Path, stick: Path):
    clinic.make_stick(stick, SECRET, "ms-other02")
    code, lines = run(stick, unit_data, Calls())
    assert code == 2 and any("ms-other02" in ln and UNIT in ln for ln in lines)


def test_h_bom_prescription_is_accepted(tmp_path: Path):
    assert rx.validate_bytes(b"\xef\xbb\xbf" + dumps(VALID).encode()).ok


# ---------------------------------------------------------------- I: hostile signed requests


def _signed(stick: Path, payload: bytes) -> None:
    folder = stick / "station-clinic"
    folder.mkdir(exist_ok=True)
    (folder / "request.json").write_bytes(payload)
    (folder / "request.sig").write_text(clinic.sign(SECRET, payload))


@pytest.mark.parametrize("payload", [
    b"[" * 5000 + b"]" * 5000,
    json.dumps({"format": True, "unit": UNIT, "nonce": "ab" * 16, "created": "x",
                "actions": ["export"], "prescription_sha256": None}).encode(),
])
def test_i_deep_or_loosely_typed_requests_are_refused(unit_data: Path, stick: Path, payload: bytes):
    _signed(stick, payload)
    calls = Calls()
    code, lines = run(stick, unit_data, calls)
    assert code == 2 and calls.exported == 0 and "damaged" in lines[1]


# ---------------------------------------------------------------- accepted that should not be


def _problems(doc: dict) -> list[str]:
    return [p.key for p in rx.validate_bytes(dumps(doc).encode()).problems]


def test_equal_quiet_hours_are_refused():
    doc = dict(VALID, reminders={"times": ["09:00"], "quiet_start": "21:00", "quiet_end": "21:00"})
    assert _problems(doc) == ["reminders.quiet_end"]


def test_a_session_longer_than_the_hard_bound_is_refused():
    pats = [{"id": pid, "reps": 10, "move_s": 8, "hold_s": 10, "release_s": 8, "rest_s": 6}
            for pid in sorted(rx.library())]
    doc = dict(VALID, session={"target_minutes": 1, "sessions_per_day": 3}, pattern=pats)
    result = rx.validate_bytes(dumps(doc).encode())
    assert not result.ok and result.problems[0].key == "pattern"


def test_schema_must_be_the_integer_1():
    assert _problems(dict(VALID, schema=1.0)) == ["schema"]


def test_message_characters_the_font_cannot_draw_are_refused():
    assert _problems(dict(VALID, message="Smile \U0001F600")) == ["message"]
    assert _problems(dict(VALID, message="Lächeln – sanft, très doux…")) == []


def test_every_drawable_character_is_in_the_kiosk_font():
    pygame = pytest.importorskip("pygame")
    ttlib = pytest.importorskip("fontTools.ttLib")
    font_file = Path(pygame.__file__).parent / pygame.font.get_default_font()
    cmap = ttlib.TTFont(font_file).getBestCmap()
    missing = [f"U+{c:04X}" for lo, hi in rx.DRAWABLE_RANGES for c in range(lo, hi + 1)
               if c not in cmap and c != 0xA0 and c != 0xAD]
    assert missing == []


# ---------------------------------------------------------------- packaging and the CLI


def test_global_options_work_after_the_subcommand(tmp_path: Path):
    p = build_parser()
    a = p.parse_args(["export", "--data-dir", "X", "--out", "o"])
    b = p.parse_args(["--data-dir", "X", "export", "--out", "o"])
    assert a.data_dir == b.data_dir == "X"
    c = p.parse_args(["--config", "C", "clinic", "make-stick", "D", "-v"])
    assert c.config == "C" and c.verbose


def test_every_subcommand_help_has_a_description_and_documented_positionals():
    import argparse

    def walk(parser: argparse.ArgumentParser, name: str):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield from walk(sub, f"{name} {sub_name}")
        yield name, parser

    for name, parser in walk(build_parser(), "station"):
        assert parser.description, name
        for action in parser._actions:
            if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{name} {action.dest}"


def test_clinic_provision_gives_a_key_and_an_id(tmp_path: Path, data_dir: Path, capsys):
    key = _key(tmp_path)
    assert main(["clinic", "provision", "--secret-file", str(key), "--unit", "ms-lap01"]) == 0
    assert unit.get_unit_id(data_dir) == "ms-lap01" and unit.find_secret(data_dir) == SECRET
    assert main(["clinic", "provision", "--secret-file", str(key), "--unit", "ms-other"]) == 2
    assert main(["clinic", "provision", "--secret-file", str(tmp_path / "none")]) == 2


def test_packaging_one_opencv_and_an_spdx_licence():
    import tomllib

    meta = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    project = meta["project"]
    assert isinstance(project["license"], str)
    deps = " ".join(project["optional-dependencies"]["tracking"])
    assert "opencv-python-headless" not in deps


def test_export_does_not_flood_the_log_with_font_subsetting(data_dir: Path, tmp_path: Path,
                                                             caplog):
    from station.clinic.export import export_bundle

    with caplog.at_level("INFO"):
        export_bundle(data_dir, tmp_path / "out")
    assert not [r for r in caplog.records if r.name.startswith("fontTools")]


def test_test_script_installs_system_tools():
    root = Path(__file__).resolve().parents[2]
    assert "scripts/system-deps.sh" in (root / "scripts" / "test.sh").read_text()
    deps = (root / "scripts" / "system-deps.sh").read_text()
    for tool in ("shellcheck", "strace", "espeak-ng"):
        assert tool in deps


def test_store_open_is_unchanged_by_the_session_lock(data_dir: Path):
    Store.open(data_dir).close()
    assert database_path(data_dir).exists() and not session_in_progress(data_dir)


def test_session_started_takes_the_lock(data_dir: Path):
    rec = SessionRecorder(data_dir, default_plan(), affected_side=Side.LEFT)
    rec.on_outputs([SessionStarted(at=1.0, plan_source="default", planned_s=60.0)], 1.0)
    try:
        assert session_in_progress(data_dir)
    finally:
        rec.stop()
    assert not session_in_progress(data_dir)


def test_doctor_off_a_pi_calls_a_missing_camera_a_note():
    from station.appliance.doctor import Check

    line = Check("camera", "PROBLEM", "no camera found", "plug one in", essential=False).line()
    assert line.startswith("NOTE") and "not needed here" in line and "PROBLEM" not in line
    assert Check("camera", "PROBLEM", "no camera", "plug", essential=True).line().startswith("PROBLEM")
