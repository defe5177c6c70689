"""kill -9 a real process writing real sessions, many times: nothing committed is ever lost."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from station.paths import database_path
from station.records.store import Store

DRIVER = Path(__file__).with_name("powercut_driver.py")
MID_SESSION_KILLS = 30  # power cuts that must land in the middle of a session
MAX_KILLS = 60  # a kill can land between sessions; keep cutting until 30 landed mid-session


def _run_and_kill(data_dir: Path, seed: int, delay: float) -> list[str]:
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(data_dir), str(seed)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # wait until the store is open (a blocking read, no sleep)
    assert first.strip() == "READY", first
    time.sleep(delay)  # the random moment of the power cut, not a wait for something
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return [first, *rest.splitlines()]


def test_kill_minus_nine_never_loses_a_committed_rep(tmp_path):
    data_dir = tmp_path / "data"
    rng = random.Random(20240611)
    reported: set[str] = set()
    finished: set[str] = set()
    left_open: set[str] = set()
    kills = 0
    while len(left_open) < MID_SESSION_KILLS and kills < MAX_KILLS:
        i, kills = kills, kills + 1
        lines = _run_and_kill(data_dir, seed=i, delay=rng.uniform(0.005, 0.3))
        reported |= {ln[2:] for ln in lines if ln.startswith("R ")}
        finished |= {ln[2:] for ln in lines if ln.startswith("F ")}
        # a raw look before the next start recovers anything: the file is a sound database
        conn = sqlite3.connect(database_path(data_dir))
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        have = {r[0] for r in conn.execute("SELECT id FROM reps")}
        assert reported <= have, f"lost committed reps: {sorted(reported - have)[:5]}"
        now_open = {r[0] for r in conn.execute("SELECT id FROM sessions WHERE status='open'")}
        conn.close()
        assert len(now_open) <= 1  # the earlier cut sessions were closed by the next start
        left_open |= now_open
    store = Store.open(data_dir)  # the restart: recovers the session left open
    try:
        conn = store.conn
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        have = {r[0] for r in conn.execute("SELECT id FROM reps")}
        assert reported, "the driver never committed a rep"
        assert reported <= have, f"lost committed reps: {sorted(reported - have)[:5]}"
        status = dict(conn.execute("SELECT id, status FROM sessions").fetchall())
        assert "open" not in status.values()
        assert len(left_open) >= MID_SESSION_KILLS, f"only {len(left_open)} of {kills} cuts mid-session"
        assert all(status[sid] == "interrupted" for sid in left_open)
        assert all(status[sid] == "complete" for sid in finished)
        assert len(status) >= 30
    finally:
        store.close()
