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
from station.records import Store

DRIVER = Path(__file__).with_name("powercut_driver.py")
KILLS = 32


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
    started: list[str] = []
    finished: set[str] = set()
    for i in range(KILLS):
        lines = _run_and_kill(data_dir, seed=i, delay=rng.uniform(0.005, 0.3))
        reported |= {ln[2:] for ln in lines if ln.startswith("R ")}
        started += [ln[2:] for ln in lines if ln.startswith("S ")]
        finished |= {ln[2:] for ln in lines if ln.startswith("F ")}
        # a raw look before any recovery: the file is a sound database
        conn = sqlite3.connect(database_path(data_dir))
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    store = Store.open(data_dir)  # the restart: recovers sessions left open
    try:
        conn = store.conn
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        have = {r[0] for r in conn.execute("SELECT id FROM reps")}
        assert reported, "the driver never committed a rep"
        assert reported <= have, f"lost committed reps: {sorted(reported - have)[:5]}"
        status = dict(conn.execute("SELECT id, status FROM sessions").fetchall())
        assert "open" not in status.values()
        cut = [s for s in started if s not in finished]
        assert len(cut) >= KILLS - 2  # nearly every kill landed mid-session
        for sid in cut:
            assert status[sid] == "interrupted", (sid, status[sid])
        assert all(status[s] == "complete" for s in finished)
        assert len(status) >= 30
    finally:
        store.close()
