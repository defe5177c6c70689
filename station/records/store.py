"""The record store: what the patient practised, kept safe through power cuts and full disks.

Theory of operation
-------------------
One SQLite file in the data directory (:func:`station.paths.database_path`), opened in WAL mode
with ``synchronous=FULL``: a transaction that returned from COMMIT survives a power cut. The
:class:`SessionRecorder` turns the session engine's outputs into rows and commits them in one
transaction per ``on_outputs`` call (outputs only happen at phase changes, so a rep is committed
the moment it ends and events at most one phase late).

Rows are never lost on a write error: the recorder (:mod:`station.records.recorder`) queues
every write in memory and clears its queue only once the transaction committed. A full disk ("database or disk is full",
``ENOSPC``) leaves the queue in memory, raises a one-time plain notice for the screen and is
retried at the next output; the session itself never notices.

Opening the store marks any session still ``open`` (left by a crash or power cut) as
``interrupted``; everything committed stays. A file that is not a readable SQLite database is
moved aside (kept for the clinic) and a fresh store starts, with a plain notice.

Unit information (the unit id and the like) is *not* kept in the database: it belongs to
``station.clinic.unit``, so a wipe can destroy the database files wholesale. Records hold
numbers only: no camera frame, no image, ever.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from station.feedback import Notice
from station.files import fsync_dir
from station.paths import database_path
from station.practice import words
from station.practice.plan import Plan
from station.records import schema

log = logging.getLogger(__name__)

EXPORTS_DIR = "exports"


# ---- schema ------------------------------------------------------------------------------

#: Forward migrations: MIGRATIONS[i] takes a database from user_version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        started_utc TEXT NOT NULL,
        started_mono REAL NOT NULL,
        ended_utc TEXT,
        ended_mono REAL,
        status TEXT NOT NULL DEFAULT 'open'
            CHECK (status IN ('open', 'complete', 'interrupted', 'abandoned')),
        plan_source TEXT,
        plan_json TEXT,
        affected_side TEXT,
        software_version TEXT,
        model_sha256 TEXT,
        planned_s REAL
    );
    CREATE TABLE patterns (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        pattern_index INTEGER NOT NULL,
        pattern_id TEXT NOT NULL,
        target TEXT NOT NULL,
        quiet TEXT NOT NULL,
        reps_planned INTEGER NOT NULL,
        PRIMARY KEY (session_id, pattern_index)
    );
    CREATE TABLE reps (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        pattern_index INTEGER NOT NULL,
        pattern_id TEXT,
        rep INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('done', 'interrupted')),
        started_mono REAL,
        ended_mono REAL NOT NULL,
        ended_utc TEXT NOT NULL,
        target_region TEXT,
        target_mm REAL,
        target_other_side_mm REAL,
        target_pct_of_other REAL,
        quiet_mm TEXT,
        quiet_floor_mm TEXT,
        coactivation REAL,
        face_share REAL,
        frames INTEGER,
        frames_gated INTEGER
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        at_mono REAL NOT NULL,
        at_utc TEXT NOT NULL,
        kind TEXT NOT NULL,
        phase TEXT,
        pattern_index INTEGER,
        rep INTEGER,
        requested INTEGER,
        value REAL,
        note TEXT
    );
    CREATE TABLE calibrations (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        at_mono REAL NOT NULL,
        at_utc TEXT NOT NULL,
        mm_per_px REAL,
        frames INTEGER,
        floors_mm TEXT
    );
    CREATE TABLE rep_series (
        rep_id TEXT PRIMARY KEY REFERENCES reps(id) ON DELETE CASCADE,
        columns TEXT NOT NULL,
        n INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    """,
    # 1 -> 2: per-rep eye ratio (Auto-eFACE ocular synkinesis), quick flags, indexes
    """
    ALTER TABLE reps ADD COLUMN eye_ratio REAL;
    ALTER TABLE reps ADD COLUMN quiet_moved INTEGER;
    ALTER TABLE reps ADD COLUMN quiet_max_mm REAL;
    CREATE INDEX reps_session ON reps(session_id);
    CREATE INDEX events_session ON events(session_id);
    CREATE INDEX sessions_started ON sessions(started_utc);
    """,
    # 2 -> 3: practice quality per rep (station.tracking.quality): the four flags (1/0, NULL when
    # not judgeable) and the numbers behind them
    """
    ALTER TABLE reps ADD COLUMN slow INTEGER;
    ALTER TABLE reps ADD COLUMN small INTEGER;
    ALTER TABLE reps ADD COLUMN quiet INTEGER;
    ALTER TABLE reps ADD COLUMN released INTEGER;
    ALTER TABLE reps ADD COLUMN t80_share REAL;
    ALTER TABLE reps ADD COLUMN target_peak_mm REAL;
    ALTER TABLE reps ADD COLUMN quiet_excess_mm REAL;
    ALTER TABLE reps ADD COLUMN residual_mm REAL;
    ALTER TABLE reps ADD COLUMN gentle_max_mm REAL;
    """,
    # 3 -> 4: the weekly check-in (station.records.checkins): one row per check-in with the
    # rest's side-to-side measures, one per movement with its medians and the tries' spread
    """
    CREATE TABLE checkins (
        id TEXT PRIMARY KEY,
        started_utc TEXT NOT NULL,
        ended_utc TEXT,
        status TEXT NOT NULL CHECK (status IN ('complete', 'no_baseline', 'abandoned')),
        affected_side TEXT,
        movements_complete INTEGER NOT NULL DEFAULT 0,
        rest_eye_fissure_affected_mm REAL, rest_eye_fissure_other_mm REAL,
        rest_eye_fissure_diff_mm REAL,
        rest_brow_height_affected_mm REAL, rest_brow_height_other_mm REAL,
        rest_brow_height_diff_mm REAL,
        rest_mouth_corner_height_affected_mm REAL, rest_mouth_corner_height_other_mm REAL,
        rest_mouth_corner_height_diff_mm REAL,
        rest_frames INTEGER,
        software_version TEXT,
        model_sha256 TEXT
    );
    CREATE TABLE checkin_movements (
        id TEXT PRIMARY KEY,
        checkin_id TEXT NOT NULL REFERENCES checkins(id) ON DELETE CASCADE,
        movement TEXT NOT NULL,
        target_region TEXT,
        complete INTEGER,
        tries_accepted INTEGER NOT NULL DEFAULT 0,
        repeats INTEGER NOT NULL DEFAULT 0,
        affected_mm REAL, other_mm REAL, ratio REAL, eye_narrowing_pct REAL,
        affected_spread_mm REAL, other_spread_mm REAL, ratio_spread REAL,
        eye_narrowing_spread_pct REAL,
        co_eye_mm REAL, co_brow_mm REAL, co_mouth_corner_mm REAL, co_lips_mm REAL,
        co_nose_cheek_mm REAL, co_chin_mm REAL,
        co_eye_spread_mm REAL, co_brow_spread_mm REAL, co_mouth_corner_spread_mm REAL,
        co_lips_spread_mm REAL, co_nose_cheek_spread_mm REAL, co_chin_spread_mm REAL
    );
    CREATE INDEX checkin_movements_checkin ON checkin_movements(checkin_id);
    CREATE INDEX checkins_started ON checkins(started_utc);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

QUALITY_FLAGS: tuple[str, ...] = schema.QUALITY_FLAGS
#: the reps table's columns and the ones the tracking fills in, from the one record schema
#: (tests/records check the migrated tables against it)
REP_COLUMNS: tuple[str, ...] = schema.columns(schema.REP, schema.STORE)
STATS_COLUMNS: tuple[str, ...] = schema.columns(schema.REP, schema.STORE, stats=True)
SESSION_COLUMNS: tuple[str, ...] = schema.columns(schema.SESSION, schema.STORE)
CHECKIN_COLUMNS: tuple[str, ...] = schema.columns(schema.CHECKIN, schema.STORE)
CHECKIN_MOVEMENT_COLUMNS: tuple[str, ...] = schema.columns(schema.CHECKIN_MOVEMENT, schema.STORE)


def is_disk_full(exc: BaseException) -> bool:
    """True for SQLite's "database or disk is full" and for ENOSPC / EDQUOT."""
    if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        text = str(exc).lower()
        return "full" in text or "sqlite_full" in text
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    return False


def utc_iso(dt: datetime) -> str:
    """An aware datetime as UTC ISO 8601 with milliseconds and a Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_utc(text: str) -> datetime:
    """Inverse of :func:`utc_iso`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def now_utc() -> datetime:
    """The wall clock (replaced by a fake in tests and the generator)."""
    return datetime.now(UTC)


def plan_json(plan: Plan | None) -> str | None:
    if plan is None:
        return None
    return json.dumps(
        {
            "source": plan.source,
            "items": [
                {
                    "pattern": it.pattern.id,
                    "name": it.pattern.name,
                    "target": it.pattern.target,
                    "quiet": list(it.pattern.quiet),
                    "reps": it.reps,
                    "pacing": dataclasses.asdict(it.pacing),
                }
                for it in plan.items
            ],
        },
        sort_keys=True,
    )


# ---- the store ---------------------------------------------------------------------------


class StoreError(Exception):
    """The record store could not be opened at all."""


def connect(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open a connection with the station's pragmas (autocommit mode; we BEGIN ourselves)."""
    conn = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply forward migrations up to ``target``; returns the version found before."""
    found: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise StoreError(f"records file is from a newer station (schema {found})")
    for version in range(found, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
    return found


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open; a failed COMMIT may have ended it already."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        log.warning("rollback failed: %s", exc)


class Store:
    """The open record store: one connection, schema migrated, crashed sessions closed."""

    def __init__(self, conn: sqlite3.Connection, path: Path, notices: list[Notice]) -> None:
        self.conn = conn
        self.path = path
        self.notices = notices

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        recover: bool = True,
        synchronous: str = "FULL",
    ) -> Store:
        """Open (creating or migrating) the store in ``data_dir``.

        ``recover`` marks sessions left open as interrupted (the kiosk at start); an export
        taken while the kiosk runs passes False. A file that is not a readable database is
        moved aside and replaced by a fresh one (with a notice), never a crash.
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = database_path(data_dir)
        notices: list[Notice] = []
        try:
            conn = cls._open_checked(path, synchronous)
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc):
                raise
            log.error("records file %s unreadable (%s): moving it aside", path.name, exc)
            kept = _move_aside(path)
            notices.append(Notice(words.RECORDS_CORRUPT, "attention", key="records-corrupt"))
            log.error("kept the unreadable records file as %s", kept.name if kept else "?")
            conn = cls._open_checked(path, synchronous)
        store = cls(conn, path, notices)
        if recover:
            store.close_open_sessions()
        return store

    @staticmethod
    def _open_checked(path: Path, synchronous: str) -> sqlite3.Connection:
        conn = connect(path, synchronous)
        try:
            row = conn.execute("PRAGMA quick_check").fetchone()
            if not row or row[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check says {row[0] if row else 'nothing'}")
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def close_open_sessions(self) -> int:
        """Mark sessions left open by a crash or power cut as interrupted; returns how many."""
        rows = self.conn.execute("SELECT id, started_utc, started_mono FROM sessions "
                                 "WHERE status = 'open'").fetchall()
        if not rows:
            return 0
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for sid, started_utc, started_mono in rows:
                last = self.conn.execute(
                    "SELECT max(m) FROM (SELECT max(at_mono) AS m FROM events WHERE session_id=?"
                    " UNION ALL SELECT max(ended_mono) FROM reps WHERE session_id=?)",
                    (sid, sid),
                ).fetchone()[0]
                end_mono = last if last is not None else started_mono
                elapsed = timedelta(seconds=end_mono - started_mono)
                end_utc = utc_iso(parse_utc(started_utc) + elapsed)
                self.conn.execute(
                    "UPDATE sessions SET status='interrupted', ended_utc=?, ended_mono=? "
                    "WHERE id=?",
                    (end_utc, end_mono, sid),
                )
            self.conn.execute("COMMIT")
        except BaseException:
            _rollback(self.conn)  # never hide the real error (a full disk) behind ROLLBACK's
            raise
        log.warning("marked %d session(s) left open as interrupted", len(rows))
        return len(rows)

    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL back into the file)."""
        try:
            self.conn.close()
        except sqlite3.Error:
            pass

    # -- reading back ----------------------------------------------------------------------

    def sessions(self, since_utc: str | None = None) -> list[sqlite3.Row]:
        """Session rows (oldest first), optionally only those started at or after a time."""
        self.conn.row_factory = sqlite3.Row
        if since_utc:
            return self.conn.execute(
                "SELECT * FROM sessions WHERE started_utc >= ? ORDER BY started_utc", (since_utc,)
            ).fetchall()
        return self.conn.execute("SELECT * FROM sessions ORDER BY started_utc").fetchall()

    def reps(self, since_utc: str | None = None) -> list[sqlite3.Row]:
        """Rep rows (oldest first) with their session's start time."""
        self.conn.row_factory = sqlite3.Row
        where = "WHERE r.ended_utc >= ?" if since_utc else ""
        args = (since_utc,) if since_utc else ()
        return self.conn.execute(
            f"SELECT r.* FROM reps r {where} ORDER BY r.ended_utc", args
        ).fetchall()

    def sessions_with_reps_since(self, since_utc: str) -> list[str]:
        """Start times of sessions since ``since_utc`` in which at least one rep was done."""
        rows = self.conn.execute(
            "SELECT s.started_utc FROM sessions s WHERE s.started_utc >= ? AND EXISTS "
            "(SELECT 1 FROM reps r WHERE r.session_id = s.id AND r.status = 'done')",
            (since_utc,),
        ).fetchall()
        return [r[0] for r in rows]


def inode_of(path: Path) -> int | None:
    """The file's inode (None when it is gone): tells a replaced store from the open one."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _move_aside(path: Path) -> Path | None:
    """Rename a broken database (and its WAL/SHM) to ``records.sqlite3.corrupt-<time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while kept.exists():
        kept = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    moved = None
    for suffix in ("", "-wal", "-shm", "-journal"):
        src = Path(str(path) + suffix)
        if src.exists():
            dst = Path(str(kept) + suffix)
            os.replace(src, dst)
            if not suffix:
                moved = dst
    fsync_dir(path.parent)
    return moved
