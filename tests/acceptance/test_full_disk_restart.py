"""A real full disk, a restart on it, and room again (issue 10, C), on a small tmpfs.

The kiosk as ``station run`` builds it (``build_station``: prescription, SQLite store, chores;
a fake clock and the autoplay button) keeps its data dir on a tmpfs of a few MiB. The disk
fills in the middle of a session; the power goes while the session runs; the kiosk restarts
on the full disk (the store cannot even close the cut session), shows the storage-full notice,
guides a whole session with its rows in memory, and when room returns they land. No session
is lost: the one before, the cut one (interrupted, with every rep committed before the disk
filled) and the one practised on the full disk (complete, every rep).

Mounting needs root (CAP_SYS_ADMIN); the suite runs as root in CI. Elsewhere the test skips,
saying why.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from lifecycle_helpers import ALIAS_A, SHORT, practise, prescription_file, start_kiosk

from station.clinic import prescription as rx
from station.feedback import Side
from station.kiosk.app import Station
from station.kiosk.autoplay import Autoplay
from station.paths import database_path
from station.practice import words
from station.practice.events import State
from station.records.recorder import SessionRecorder

FRAME = 0.1
PLANNED_REPS = sum(p["reps"] for p in SHORT)
DISK = "4m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of a few MiB, mounted for this test only."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full-disk test needs root and mount(8) to mount a small tmpfs")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0700", "tmpfs",
                        str(mnt)], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def _fill(disk: Path) -> Path:
    """Write a filler file until the disk has not one free page left."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    fh.write(b"\xff" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    assert os.statvfs(disk).f_bavail == 0
    return filler


def _committed(data_dir: Path) -> tuple[dict[str, str], set[str]]:
    """(session id -> status, rep ids) on disk now, read by a second connection."""
    with closing(sqlite3.connect(f"file:{database_path(data_dir)}?mode=ro", uri=True)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return (dict(db.execute("SELECT id, status FROM sessions").fetchall()),
                {r[0] for r in db.execute("SELECT id FROM reps")})


def _until(station: Station, clock, done, limit: int = 5000) -> None:  # noqa: ANN001
    for _ in range(limit):
        station.step(clock.advance(FRAME))
        if done():
            return
    pytest.fail("the kiosk never got there")


def test_full_disk_mid_session_then_a_restart_on_it_loses_no_session(
        small_disk: Path, clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    data_dir = small_disk / "data"
    data_dir.mkdir()
    monkeypatch.setenv("STATION_DATA", str(data_dir))
    assert rx.apply_bytes(data_dir, prescription_file(tmp_path, "a", ALIAS_A, "left").read_bytes()).ok
    kiosk = start_kiosk(data_dir, clock)
    first = practise(kiosk, clock)

    # the second session: the disk fills in the middle of it
    auto = Autoplay(kiosk.engine, kiosk.settings.button.hold_time)
    kiosk.buttons.insert(0, auto)
    _until(kiosk, clock, lambda: kiosk.engine.state is State.HOLD
           and kiosk.engine.view(clock()).pattern_index == 1)
    cut = kiosk.services.recorder.session_id
    rec = kiosk.services.recorder
    assert isinstance(rec, SessionRecorder) and cut is not None
    filler = _fill(small_disk)
    _, reps_before_full = _committed(data_dir)
    _until(kiosk, clock, lambda: rec.storage_full)
    assert kiosk.engine.state not in (State.HOME, State.SUMMARY)  # still guiding
    _until(kiosk, clock, lambda: words.STORAGE_FULL in [n.text for n in kiosk.notices.values()],
           limit=20)
    assert rec.pending_rows > 0
    # the power goes mid-session: rows in memory are gone with it, committed ones stay
    kiosk.buttons.remove(auto)
    statuses, reps = _committed(data_dir)
    assert statuses == {first: "complete", cut: "open"} and reps == reps_before_full

    # the restart, on the full disk: the store cannot close the cut session, the notice shows
    restarted = start_kiosk(data_dir, clock)
    rec2 = restarted.services.recorder
    assert isinstance(rec2, SessionRecorder)
    assert rec2.store is None and rec2.storage_full
    restarted.step(clock.advance(1.0))
    assert words.STORAGE_FULL in [n.text for n in restarted.notices.values()]
    # a whole session on the full disk: guided to the end, its rows held in memory
    third = practise(restarted, clock)
    assert rec2.pending_rows > 0 and rec2.store is None
    assert _committed(data_dir)[0] == {first: "complete", cut: "open"}

    # room again: the held rows land, the cut session is closed honestly
    filler.unlink()
    _until(restarted, clock, lambda: rec2.pending_rows == 0, limit=100)  # at home, no press
    statuses, reps = _committed(data_dir)
    assert statuses == {first: "complete", cut: "interrupted", third: "complete"}
    assert reps_before_full <= reps
    done = {r.rsplit("-", 1)[0] for r in reps if r.startswith(third)}  # (pattern, rep) landed
    assert len(done) == PLANNED_REPS
    assert words.STORAGE_OK in [n.text for n in restarted.notices.values()]
    assert not any(key.startswith("failed:") for key in restarted.notices)
    restarted.stop()
    rec.store.close() if rec.store is not None else None  # the first kiosk's dead connection


def test_rows_held_by_a_full_disk_land_at_home_without_another_session(data_dir: Path, clock):
    """Regression: waiting rows were retried only at the next engine output, so a kiosk left
    at home after a full-disk session kept them in memory (and lost them at the next cut)."""
    from recording import FlakyConnection, Wall

    from station.clinic.prescription import load_active
    from station.config import Settings
    from station.kiosk.housekeeping import FLUSH_RETRY_S, Housekeeping
    from station.kiosk.services import Services
    from station.practice.plan import default_plan

    plan, wrappers = default_plan(), []
    rec = SessionRecorder(data_dir, plan, wall=Wall(clock),
                          connection_factory=lambda c: wrappers.append(FlakyConnection(c))
                          or wrappers[-1], affected_side=Side.LEFT)
    station = Station(Settings(), plan, Services(recorder=rec, chores=Housekeeping(
        data_dir, load_active(data_dir), rec)), clock=clock)
    wrappers[0].full = True
    sid = practise(station, clock)
    assert station.engine.state is State.HOME and rec.pending_rows > 0
    wrappers[0].full = False  # room again; nobody presses anything
    for _ in range(round(FLUSH_RETRY_S / FRAME) + 20):
        station.step(clock.advance(FRAME))
    assert rec.pending_rows == 0
    assert rec.store is not None and [r["id"] for r in rec.store.sessions()] == [sid]
    rec.stop()
