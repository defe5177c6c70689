"""Shared helpers of the record-store tests: a fake wall clock, a scripted session, a flaky connection."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from station.feedback import Measured, RepStats
from station.paths import database_path
from station.practice.events import Event, RepDone, State, Timing
from station.practice.session import Engine

FULL = sqlite3.OperationalError("database or disk is full")


class Wall:
    """A fake wall clock tied to the fake monotonic clock."""

    def __init__(self, clock, start=datetime(2025, 5, 5, 9, 0, tzinfo=UTC)):
        self.clock, self.start, self.mono0 = clock, start, clock()

    def __call__(self):
        return self.start + timedelta(seconds=self.clock() - self.mono0)


def stats_for(plan, pi, rep, co=0.2, quiet_mm=0.2):
    p = plan.items[pi].pattern
    return RepStats(p.id, pi, rep, p.target, 2.0, 2.6, 76.9, dict.fromkeys(p.quiet, quiet_mm),
                    dict.fromkeys(p.quiet, 0.35), co, 0.98, 110, 2, 0.82,
                    tuple((k / 10, {"left": {"eye": -0.1 * k}, "right": {}}) for k in range(30)))


def run_session(rec, clock, plan=None, long_press_at=None, stop_after=None):
    """Drive one whole session (engine + fake clock) into ``rec``; returns engine outputs."""
    plan = plan or rec.plan
    eng = Engine(plan, Timing(settle_s=2, intro_s=1, break_s=3))
    every = list(eng.handle(Event.SHORT_PRESS, clock()))
    rec.on_outputs(every, clock())
    n = 0
    while eng.state not in (State.HOME, State.SUMMARY):
        clock.t = eng.next_deadline()
        n += 1
        if stop_after is not None and n >= stop_after:
            return every
        ev = Event.LONG_PRESS if long_press_at == n else Event.TICK
        outs = eng.handle(ev, clock())
        measured = Measured(tuple(stats_for(plan, o.pattern_index, o.rep) for o in outs if isinstance(o, RepDone)))
        rec.on_outputs(outs, clock(), measured)
        every += outs
    return every


def rows(data_dir, sql):
    conn = sqlite3.connect(database_path(data_dir))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


class FlakyConnection:
    """Wraps a real connection; raises SQLite's disk-full error while ``full`` is set."""

    def __init__(self, conn):
        self.conn, self.full, self.failures = conn, False, 0

    def execute(self, sql, params=()):
        if self.full and not sql.startswith("ROLLBACK"):
            self.failures += 1
            raise FULL
        return self.conn.execute(sql, params)
