"""Benchmark: export and wipe of one year at 6 sessions a day (target: under 10 s each).

``python -m bench.bench_records [--days 365] [--keep DIR]``. Generation (through the real
engine and recorder, with synchronous=OFF to save time on setup only) is not timed against the
target; export (CSV + JSON + PDF + manifest) and wipe (zero-overwrite + fresh schema) are.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from station.clinic.export import export_bundle
from station.devtools.recordgen import generate
from station.feedback import Side
from station.paths import database_path
from station.records.recorder import SessionRecorder
from station.records.wipe import wipe


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--keep", help="generate into this folder and keep it")
    args = ap.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-records-"))
    data = root / "data"
    t0 = time.perf_counter()
    s = generate(data, days=args.days, seed=1, sessions_per_day=(6, 6), miss_rate=0.0,
                 end=datetime(2025, 12, 31, 21, 0, tzinfo=UTC), synchronous="OFF")
    gen_s = time.perf_counter() - t0
    db = database_path(data)
    conn = sqlite3.connect(db)
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("sessions", "reps", "events", "rep_series")}
    conn.close()
    db_mb = _size(data) / 1e6
    t0 = time.perf_counter()
    rec = SessionRecorder(data, affected_side=Side.LEFT)  # a kiosk start on a year of records: open + quick_check
    open_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rec.home_info(0.0)
    home_s = time.perf_counter() - t0
    rec.stop()
    t0 = time.perf_counter()
    bundle = export_bundle(data, root / "out")
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    wipe(data)
    wipe_s = time.perf_counter() - t0
    print(f"{'what':34} {'value':>12}")
    print(f"{'days x sessions/day':34} {args.days:>8} x 6")
    trio = f"{counts['sessions']}/{counts['reps']}/{counts['events']}"
    print(f"{'sessions / reps / events':34} {trio:>12}")
    print(f"{'rep series rows':34} {counts['rep_series']:>12}")
    print(f"{'data dir size (MB)':34} {db_mb:>12.1f}")
    print(f"{'bundle size (MB)':34} {_size(bundle) / 1e6:>12.1f}")
    print(f"{'generate (s, setup)':34} {gen_s:>12.1f}")
    print(f"{'open store + quick_check (s)':34} {open_s:>12.2f}")
    print(f"{'home_info (s)':34} {home_s:>12.3f}")
    print(f"{'export (s, target < 10)':34} {export_s:>12.2f}")
    print(f"{'wipe (s, target < 10)':34} {wipe_s:>12.2f}")
    print(f"(generated {s.sessions} sessions, {s.reps_done} reps done)")


if __name__ == "__main__":
    main()
