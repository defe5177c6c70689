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

import pytest

from station.paths import database_path
from station.records.store import Store

pytestmark = pytest.mark.slow  # the fast lane (-m "not slow") leaves this module out

DRIVER = Path(__file__).resolve().parents[1] / "powercut_driver.py"
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


WIPE_KILLS = 10  # kill -9 of a real `station wipe` at random moments, on a seeded month


def test_kill_minus_nine_during_wipe_leaves_a_unit_wiped_or_untouched(tmp_path):
    """A wipe is recorded before it starts; the next command of any kind finishes it."""
    import shutil

    from rx_helpers import VALID, dumps

    from station.clinic import prescription as rx
    from station.devtools.recordgen import generate

    seed = tmp_path / "seed"
    generate(seed, days=30, seed=5, synchronous="OFF")
    assert rx.apply_bytes(seed, dumps(VALID).encode()).ok
    with sqlite3.connect(database_path(seed)) as db:
        total = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    check = tmp_path / "p.toml"
    check.write_text(dumps(VALID))
    rng = random.Random(20260504)
    outcomes = {"wiped": 0, "untouched": 0, "cut mid-wipe": 0}
    for i in range(WIPE_KILLS):
        d = tmp_path / f"d{i}"
        shutil.copytree(seed, d)
        proc = subprocess.Popen([sys.executable, "-m", "station", "--data-dir", str(d), "wipe",
                                 "--yes"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        marker, limit = d / ".wipe-pending", time.monotonic() + 30
        while not marker.exists() and proc.poll() is None and time.monotonic() < limit:
            time.sleep(0.001)  # bounded polling until the wipe has started
        time.sleep(rng.uniform(0.0, 0.03))  # the random moment of the power cut within it
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        outcomes["cut mid-wipe"] += (d / ".wipe-pending").exists()
        # the next start of any command finishes what the cut left
        r = subprocess.run([sys.executable, "-m", "station", "--data-dir", str(d), "prescription",
                            "check", str(check)], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr[-500:]
        with sqlite3.connect(database_path(d)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            n = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
        has_rx = rx.active_path(d).exists()
        assert (n, has_rx) in ((0, False), (total, True)), (i, n, has_rx)  # never half-wiped
        outcomes["wiped" if n == 0 else "untouched"] += 1
        assert not list(d.glob("records.sqlite3.corrupt-*")) and not (d / ".wipe-pending").exists()
        assert not (d / "tmp").exists() or list((d / "tmp").iterdir()) == []
    print(f"wipe kills: {WIPE_KILLS}, outcomes {outcomes}")
    assert outcomes["wiped"] >= 1
