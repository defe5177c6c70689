"""The record store on real SQLite files: rows, recovery, migrations, full disk, progress."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

import pytest
from recording import FlakyConnection, Wall, rows, run_session

from station.feedback import HomeInfo, Side
from station.paths import database_path
from station.practice import words  # noqa: E402
from station.practice.events import SessionFinished
from station.practice.plan import default_plan
from station.records.recorder import SessionRecorder
from station.records.series import pack_series, unpack_series
from station.records.store import MIGRATIONS, SCHEMA_VERSION, Store, connect, migrate


def test_pragmas_and_schema(data_dir):
    store = Store.open(data_dir)
    c = store.conn
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert c.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "patterns", "reps", "events", "calibrations", "rep_series"} <= tables
    store.close()


def test_a_whole_session_lands_as_rows(data_dir, clock):
    plan = default_plan()
    rec = SessionRecorder(data_dir, plan, wall=Wall(clock), model_sha256="abc", affected_side=Side.LEFT)
    outs = run_session(rec, clock)
    assert any(isinstance(o, SessionFinished) for o in outs)
    rec.stop()
    (sid, status, src, model, started, ended), = rows(
        data_dir,
        "SELECT id, status, plan_source, model_sha256, started_utc, ended_utc FROM sessions")
    assert (status, src, model) == ("complete", "default", "abc")
    assert started.startswith("2025-05-05T09:00:00") and ended > started
    reps = rows(data_dir, "SELECT pattern_id, rep, status, coactivation, eye_ratio, quiet_moved,"
                          " frames, target_mm FROM reps ORDER BY ended_mono")
    assert len(reps) == 6
    assert [r[0] for r in reps] == ["eye_closure"] * 3 + ["small_smile"] * 3
    assert all(r[2] == "done" and r[3] == 0.2 and r[4] == 0.82 and r[5] == 0 and r[6] == 110
               for r in reps)
    series = rows(data_dir, "SELECT data FROM rep_series")
    assert len(series) == 6
    back = unpack_series(series[0][0])
    assert len(back) == 30 and back[3][1]["left"]["eye"] == pytest.approx(-0.3)
    kinds = {k for (k,) in rows(data_dir, "SELECT kind FROM events")}
    assert {"session_started", "phase_started", "break_started", "break_ended",
            "session_finished", "settle_ended", "pattern_done"} <= kinds
    assert rows(data_dir, "SELECT count(*) FROM patterns") == [(2,)]


def test_requested_break_interrupts_a_rep_and_is_flagged(data_dir, clock):
    plan = default_plan()
    rec = SessionRecorder(data_dir, plan, wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock, long_press_at=3)  # at the end of move: inside the hold
    rec.stop()
    st = rows(data_dir, "SELECT status, count(*) FROM reps GROUP BY status")
    assert dict(st) == {"done": 6, "interrupted": 1}
    br = rows(data_dir, "SELECT requested, count(*) FROM events WHERE kind='break_started'"
                        " GROUP BY requested")
    assert dict(br) == {0: 2, 1: 1}
    assert rows(data_dir, "SELECT count(*) FROM events WHERE kind='rep_interrupted'") == [(1,)]
    # the repeated rep got its stats, the interrupted attempt none
    assert rows(data_dir, "SELECT count(*) FROM reps WHERE status='interrupted'"
                          " AND coactivation IS NULL") == [(1,)]


def test_open_session_is_marked_interrupted_on_next_open(data_dir, clock):
    plan = default_plan()
    rec = SessionRecorder(data_dir, plan, wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock, stop_after=12)
    done = rows(data_dir, "SELECT count(*) FROM reps")[0][0]
    assert done >= 1
    rec.store.conn.close()  # the power goes: no stop()
    assert rows(data_dir, "SELECT status FROM sessions") == [("open",)]
    rec2 = SessionRecorder(data_dir, plan, wall=Wall(clock), affected_side=Side.LEFT)
    (status, ended_mono), = rows(data_dir, "SELECT status, ended_mono FROM sessions")
    assert status == "interrupted" and ended_mono is not None
    assert rows(data_dir, "SELECT count(*) FROM reps")[0][0] == done
    rec2.stop()


def test_stop_mid_session_marks_interrupted(data_dir, clock):
    rec = SessionRecorder(data_dir, default_plan(), wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock, stop_after=6)
    rec.stop()
    assert rows(data_dir, "SELECT status FROM sessions") == [("interrupted",)]


def test_migrates_from_every_older_version(tmp_path):
    for start in range(SCHEMA_VERSION):
        d = tmp_path / f"v{start}"
        d.mkdir()
        conn = connect(database_path(d))
        migrate(conn, target=start)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == start
        if start >= 1:
            conn.execute("INSERT INTO sessions (id, started_utc, started_mono, status)"
                         " VALUES ('old', '2025-01-01T10:00:00.000Z', 5.0, 'complete')")
        conn.close()
        store = Store.open(d)
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        cols = {r[1] for r in store.conn.execute("PRAGMA table_info(reps)")}
        assert {"eye_ratio", "quiet_moved", "quiet_max_mm"} <= cols
        if start >= 1:
            assert store.sessions()[0]["id"] == "old"
        store.close()
    assert len(MIGRATIONS) == SCHEMA_VERSION


def test_an_empty_file_is_a_v0_database(data_dir):
    database_path(data_dir).write_bytes(b"")
    store = Store.open(data_dir)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.notices == []
    store.close()


@pytest.mark.parametrize("garbage", [b"this is not a database at all" * 100,
                                     b"SQLite format 3\x00" + b"\xff" * 5000])
def test_a_corrupt_file_is_kept_aside_and_a_fresh_store_starts(data_dir, clock, garbage):
    database_path(data_dir).write_bytes(garbage)
    rec = SessionRecorder(data_dir, default_plan(), wall=Wall(clock), affected_side=Side.LEFT)
    notes = rec.notices()
    assert [n.text for n in notes] == [words.RECORDS_CORRUPT]
    kept = list(data_dir.glob("records.sqlite3.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == garbage
    run_session(rec, clock)
    rec.stop()
    assert rows(data_dir, "SELECT status FROM sessions") == [("complete",)]




def test_full_disk_keeps_the_session_going_and_lands_rows_later(data_dir, clock):
    plan = default_plan()
    wrappers = []

    def wrap(conn):
        wrappers.append(FlakyConnection(conn))
        return wrappers[-1]

    rec = SessionRecorder(data_dir, plan, wall=Wall(clock), connection_factory=wrap, affected_side=Side.LEFT)
    run_session(rec, clock)  # one good session first
    before = rows(data_dir, "SELECT id FROM reps")
    assert len(before) == 6
    flaky = wrappers[0]
    flaky.full = True
    outs = run_session(rec, clock)  # the whole second session on a full disk
    assert any(isinstance(o, SessionFinished) for o in outs)  # the session went on
    assert flaky.failures > 10 and rec.storage_full and rec.pending_rows > 20
    notes = rec.notices()
    assert [n.text for n in notes] == [words.STORAGE_FULL]  # once, however often it failed
    assert rec.notices() == []
    assert rows(data_dir, "SELECT id FROM reps") == before  # nothing committed was lost
    assert rec.home_info(clock()).sessions_today == 1
    flaky.full = False  # space again
    run_session(rec, clock)
    assert rec.pending_rows == 0 and not rec.storage_full
    assert [n.key for n in rec.notices()] == ["storage"]
    rec.stop()
    assert rows(data_dir, "SELECT count(*) FROM reps") == [(18,)]
    assert rows(data_dir, "SELECT status, count(*) FROM sessions GROUP BY 1") == [("complete", 3)]
    assert rows(data_dir, "PRAGMA integrity_check") == [("ok",)]


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if r.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=20)


def test_real_full_disk_on_a_small_tmpfs(small_tmpfs, clock):
    data_dir = small_tmpfs / "data"
    rec = SessionRecorder(data_dir, default_plan(), wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock)
    committed = rows(data_dir, "SELECT id FROM reps")
    filler = small_tmpfs / "filler"
    with open(filler, "wb") as fh:  # take every byte that is left
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    outs = []
    for _ in range(3):
        outs += run_session(rec, clock)
    assert sum(isinstance(o, SessionFinished) for o in outs) == 3
    assert rec.storage_full and rec.pending_rows > 0
    assert [n.text for n in rec.notices()] == [words.STORAGE_FULL]
    assert set(committed) <= set(rows(data_dir, "SELECT id FROM reps"))
    os.unlink(filler)
    run_session(rec, clock)
    assert rec.pending_rows == 0
    rec.stop()
    assert rows(data_dir, "SELECT count(*) FROM reps") == [(30,)]
    assert rows(data_dir, "PRAGMA integrity_check") == [("ok",)]


def test_home_info_counts_and_trends(data_dir, clock):
    plan = default_plan()
    wall = Wall(clock, start=datetime(2025, 5, 5, 9, 0, tzinfo=UTC))
    rec = SessionRecorder(data_dir, plan, wall=wall, affected_side=Side.LEFT)
    assert rec.home_info(clock()) == HomeInfo(
        0, 0, ("Try a few slow eye closures today.",
               "Try a few slow smiles today: small, slow and quiet is the aim."))
    run_session(rec, clock)
    clock.advance(3600)
    run_session(rec, clock)
    info = rec.home_info(clock())
    assert (info.sessions_today, info.sessions_week) == (2, 2)
    assert info.trend_sentences[1] == "Your eye and brow stayed quiet in 6 of 6 smiles this week."
    results = rec.pattern_results()
    assert [r.sentence for r in results] == [
        "Your mouth stayed soft in 3 of 3 eye closures.",
        "Your eye and brow stayed soft in 3 of 3 smiles."]
    rec.stop()


def test_series_round_trip_keeps_missing_values_missing():
    series = [(0.0, {"left": {"eye": 1.5, "brow": -0.25}, "right": {"lips": 2.0}}),
              (0.1, {"left": {}, "right": {}})]
    back = unpack_series(pack_series(series))
    assert back[0][1]["left"] == {"eye": 1.5, "brow": -0.25}
    assert back[0][1]["right"] == {"lips": 2.0}
    assert back[1] == (pytest.approx(0.1), {"left": {}, "right": {}})


def test_a_row_sqlite_refuses_does_not_block_the_rest(data_dir, clock, monkeypatch):
    import uuid

    rec = SessionRecorder(data_dir, default_plan(), wall=Wall(clock), affected_side=Side.LEFT)
    fixed = uuid.UUID("12345678123456781234567812345678")
    monkeypatch.setattr("station.records.recorder.uuid.uuid4", lambda: fixed)
    run_session(rec, clock)
    run_session(rec, clock)  # same session id again: its session and pattern rows are refused
    monkeypatch.undo()
    run_session(rec, clock)
    rec.stop()
    assert rec.pending_rows == 0
    assert rows(data_dir, "SELECT count(*) FROM sessions") == [(2,)]
    # the clashing session's rep ids clash too (they are refused); the next session lands whole
    assert rows(data_dir, "SELECT count(*) FROM reps")[0][0] == 12
