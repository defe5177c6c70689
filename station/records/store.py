"""The record store: what the patient practised, kept safe through power cuts and full disks.

Theory of operation
-------------------
One SQLite file in the data directory (:func:`station.paths.database_path`), opened in WAL mode
with ``synchronous=FULL``: a transaction that returned from COMMIT survives a power cut. The
:class:`SessionRecorder` turns the session engine's outputs into rows and commits them in one
transaction per ``on_outputs`` call (outputs only happen at phase changes, so a rep is committed
the moment it ends and events at most one phase late).

Rows are never lost on a write error: every write is first queued in memory, and the queue is
only cleared once its transaction committed. A full disk ("database or disk is full",
``ENOSPC``) leaves the queue in memory, raises a one-time plain notice for the screen and is
retried at the next output; the session itself never notices.

Opening the store marks any session still ``open`` (left by a crash or power cut) as
``interrupted``; everything committed stays. A file that is not a readable SQLite database is
moved aside (kept for the clinic) and a fresh store starts, with a plain notice.

Unit information (unit id and the like) is *not* kept in the database: it lives in
``unit.json`` next to it, so a wipe can destroy the database files wholesale. Records hold
numbers only: no camera frame, no image, ever.
"""

from __future__ import annotations

import array
import dataclasses
import errno
import json
import logging
import math
import os
import shutil
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from station import __version__
from station.feedback import SIDES, HomeInfo, Notice, PatternResult, RepStats
from station.files import atomic_write, fsync_dir, shred
from station.paths import database_path
from station.practice import words
from station.practice.events import (
    BreakEnded,
    BreakStarted,
    FaceChanged,
    Ignored,
    Output,
    PatternDone,
    Paused,
    PhaseStarted,
    RepDone,
    RepInterrupted,
    Resumed,
    SessionFinished,
    SessionStarted,
    SettleEnded,
    State,
    SummaryDismissed,
)
from station.practice.plan import REGIONS, Plan

log = logging.getLogger(__name__)

UNIT_FILE = "unit.json"
EXPORTS_DIR = "exports"

# Column order of a packed rep series: t, then each side's region readings (mm), float32.
SERIES_COLUMNS: tuple[str, ...] = ("t",) + tuple(f"{s}.{r}" for s in SIDES for r in REGIONS)

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
)
SCHEMA_VERSION = len(MIGRATIONS)

REP_COLUMNS: tuple[str, ...] = (
    "id", "session_id", "pattern_index", "pattern_id", "rep", "status", "started_mono",
    "ended_mono", "ended_utc", "target_region", "target_mm", "target_other_side_mm",
    "target_pct_of_other", "quiet_mm", "quiet_floor_mm", "coactivation", "face_share", "frames",
    "frames_gated", "eye_ratio", "quiet_moved", "quiet_max_mm",
)
STATS_COLUMNS: tuple[str, ...] = REP_COLUMNS[9:]


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


def pack_series(series: Sequence[tuple[float, dict[str, dict[str, float]]]]) -> bytes:
    """Pack a rep's ~10 Hz readings as float32 rows (:data:`SERIES_COLUMNS`); NaN = missing."""
    out = array.array("f")
    for t, readings in series:
        out.append(float(t))
        for side in SIDES:
            per = (readings or {}).get(side) or {}
            for region in REGIONS:
                v = per.get(region)
                out.append(float(v) if v is not None else math.nan)
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def unpack_series(data: bytes) -> list[tuple[float, dict[str, dict[str, float]]]]:
    """Inverse of :func:`pack_series` (missing readings are left out)."""
    arr = array.array("f")
    arr.frombytes(data)
    if sys.byteorder != "little":
        arr.byteswap()
    width = len(SERIES_COLUMNS)
    rows = []
    for i in range(0, len(arr) - width + 1, width):
        row = arr[i : i + width]
        readings: dict[str, dict[str, float]] = {}
        k = 1
        for side in SIDES:
            per = {}
            for region in REGIONS:
                if not math.isnan(row[k]):
                    per[region] = row[k]
                k += 1
            readings[side] = per
        rows.append((row[0], readings))
    return rows


def _plan_json(plan: Plan | None) -> str | None:
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


# ---- unit info (outside the database) ----------------------------------------------------


def unit_info(data_dir: Path) -> dict[str, Any]:
    """The unit's own settings kept across wipes (``unit.json``); creates a unit id if none."""
    path = Path(data_dir) / UNIT_FILE
    info: dict[str, Any] = {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            info = loaded
    except (OSError, ValueError):
        info = {}
    from station.clinic.unit import get_unit_id

    provisioned = get_unit_id(Path(data_dir))  # the id provisioning gave the unit wins
    if provisioned:
        info["unit_id"] = provisioned
    elif not isinstance(info.get("unit_id"), str) or not info["unit_id"]:
        info["unit_id"] = "unit-" + uuid.uuid4().hex[:10]
        try:
            atomic_write(path, json.dumps(info, indent=2, sort_keys=True).encode())
        except OSError as exc:  # a full disk must not stop anything
            log.warning("could not save %s: %s", path.name, exc)
    return info


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
    found = conn.execute("PRAGMA user_version").fetchone()[0]
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
            conn.execute("ROLLBACK")
            raise
    return found


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
            self.conn.execute("ROLLBACK")
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


# ---- the recorder ------------------------------------------------------------------------


@dataclasses.dataclass
class _OpenRep:
    pattern_index: int
    rep: int
    started_mono: float | None = None


@dataclasses.dataclass
class _LiveSession:
    id: str
    started_mono: float
    started_utc: datetime
    plan: Plan | None
    open_rep: _OpenRep | None = None
    attempts: dict[tuple[int, int], int] = dataclasses.field(default_factory=dict)
    rep_ids: dict[tuple[int, int], str] = dataclasses.field(default_factory=dict)  # last attempt
    stats_waiting: dict[tuple[int, int], RepStats] = dataclasses.field(default_factory=dict)
    stats: list[RepStats] = dataclasses.field(default_factory=list)
    reps_done: dict[int, int] = dataclasses.field(default_factory=dict)

    def utc(self, mono: float) -> str:
        return utc_iso(self.started_utc + timedelta(seconds=mono - self.started_mono))


Op = tuple[str, tuple[Any, ...]]
#: errors that say a row itself is wrong (it will never land), unlike a full or busy disk
BAD_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)


class SessionRecorder:
    """Turns engine outputs and per-rep metrics into committed rows.

    The kiosk's recorder service: ``on_outputs(outputs, now)``, ``add_rep_stats(stats)``,
    ``add_calibration(...)``, ``home_info(now)``, ``pattern_results()``, ``notices()``,
    ``stop()``. Never raises on storage trouble: rows wait in memory until they can land.
    """

    def __init__(
        self,
        data_dir: Path,
        plan: Plan | None = None,
        *,
        affected_side: str = "left",
        model_sha256: str = "",
        wall: Callable[[], datetime] = now_utc,
        synchronous: str = "FULL",
        on_committed: Callable[[list[str]], None] | None = None,
        connection_factory: Callable[[sqlite3.Connection], Any] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.plan = plan
        self.affected_side = affected_side
        self.model_sha256 = model_sha256
        self._wall = wall
        self._synchronous = synchronous
        self._on_committed = on_committed
        self._wrap = connection_factory
        self._lock = threading.RLock()
        self._pending: list[Op] = []
        self._pending_reps: list[str] = []
        self._notices: list[Notice] = []
        self._warned_full = False
        self._full = False
        self._live: _LiveSession | None = None
        self._last: _LiveSession | None = None
        self.store: Store | None = None
        self._conn: Any = None
        self._open_store()

    # -- storage plumbing ------------------------------------------------------------------

    def _open_store(self) -> bool:
        try:
            self.store = Store.open(self.data_dir, synchronous=self._synchronous)
        except (sqlite3.Error, OSError, StoreError) as exc:
            self._storage_trouble(exc)
            self.store = None
            self._conn = None
            return False
        self._notices.extend(self.store.notices)
        self._conn = self._wrap(self.store.conn) if self._wrap else self.store.conn
        return True

    def _storage_trouble(self, exc: BaseException) -> None:
        if is_disk_full(exc):
            self._full = True
            if not self._warned_full:
                self._warned_full = True
                self._notices.append(Notice(words.STORAGE_FULL, "attention", key="storage"))
            log.error("storage full: %d row(s) wait in memory (%s)", len(self._pending), exc)
        else:
            log.error("record store write failed, will retry: %s", exc)

    def flush(self) -> bool:
        """Try to commit every waiting row in one transaction; True when nothing waits."""
        with self._lock:
            if not self._pending:
                return True
            if self._conn is None and not self._open_store():
                return False
            conn = self._conn
            try:
                self._commit(conn, self._pending)
            except BAD_ROW_ERRORS as exc:
                # a row that can never land (a bug, not the disk) must not block the rest
                log.error("a record row was refused (%s); saving the others one by one", exc)
                if not self._commit_one_by_one(conn):
                    return False
            except (sqlite3.Error, OSError) as exc:
                self._storage_trouble(exc)
                return False
            committed = self._pending_reps
            self._pending = []
            self._pending_reps = []
            if self._full:
                self._full = False
                self._notices.append(Notice(words.STORAGE_OK, "info", key="storage"))
                log.info("storage has room again; waiting rows saved")
        if committed and self._on_committed:
            self._on_committed(committed)
        return True

    @staticmethod
    def _commit(conn: Any, ops: Sequence[Op]) -> None:
        """All of ``ops`` in one transaction, or none of them."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            for sql, params in ops:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except (sqlite3.Error, OSError):
                pass
            raise

    def _commit_one_by_one(self, conn: Any) -> bool:
        """Commit waiting rows singly, dropping (and logging) those SQLite refuses outright."""
        while self._pending:
            op = self._pending[0]
            try:
                self._commit(conn, [op])
            except BAD_ROW_ERRORS:
                log.exception("dropped a record row SQLite refused: %s", op[0][:60])
            except (sqlite3.Error, OSError) as exc:
                self._storage_trouble(exc)
                return False
            self._pending.pop(0)
        return True

    @property
    def pending_rows(self) -> int:
        """Rows waiting in memory (non-zero only while storage is failing)."""
        return len(self._pending)

    @property
    def storage_full(self) -> bool:
        """True while the last write failed for lack of space."""
        return self._full

    def notices(self) -> list[Notice]:
        """New notices for the screen since the last call (each is given once)."""
        with self._lock:
            out, self._notices = self._notices, []
        return out

    def _queue(self, sql: str, params: Iterable[Any]) -> None:
        self._pending.append((sql, tuple(params)))

    # -- engine outputs --------------------------------------------------------------------

    def on_outputs(self, outputs: Sequence[Output], now: float) -> None:
        """Record what the engine just did, then commit (or keep waiting rows in memory)."""
        with self._lock:
            for out in outputs:
                try:
                    self._record(out)
                except Exception:  # noqa: BLE001 - a record bug must not stop the session
                    log.exception("could not record %r", out)
        if self._pending:
            self.flush()

    def _event(self, s: _LiveSession, at: float, kind: str, **cols: Any) -> None:
        self._queue(
            "INSERT INTO events (session_id, at_mono, at_utc, kind, phase, pattern_index, rep,"
            " requested, value, note) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (s.id, at, s.utc(at), kind, cols.get("phase"), cols.get("pattern_index"),
             cols.get("rep"), cols.get("requested"), cols.get("value"), cols.get("note")),
        )

    def _record(self, out: Output) -> None:
        if isinstance(out, SessionStarted):
            self._start_session(out)
            return
        s = self._live
        if s is None or isinstance(out, Ignored):
            return
        if isinstance(out, PhaseStarted):
            if out.phase is State.MOVE and out.pattern_index is not None and out.rep is not None:
                s.open_rep = _OpenRep(out.pattern_index, out.rep, out.at)
            self._event(s, out.at, "phase_started", phase=out.phase.value,
                        pattern_index=out.pattern_index, rep=out.rep,
                        requested=int(out.requested), value=out.duration_s)
        elif isinstance(out, RepDone | RepInterrupted):
            self._end_rep(s, out)
        elif isinstance(out, SettleEnded):
            self._event(s, out.at, "settle_ended", value=float(out.calibrated))
        elif isinstance(out, BreakStarted):
            self._event(s, out.at, "break_started", pattern_index=out.pattern_index,
                        requested=int(out.requested))
        elif isinstance(out, BreakEnded):
            self._event(s, out.at, "break_ended", note="early" if out.early else None,
                        value=float(out.early))
        elif isinstance(out, PatternDone):
            self._event(s, out.at, "pattern_done", pattern_index=out.pattern_index)
        elif isinstance(out, Paused):
            self._event(s, out.at, "paused", phase=out.phase.value)
        elif isinstance(out, Resumed):
            self._event(s, out.at, "resumed", phase=out.phase.value, value=out.paused_s)
        elif isinstance(out, FaceChanged):
            self._event(s, out.at, "face_found" if out.visible else "face_lost")
        elif isinstance(out, SessionFinished):
            self._event(s, out.at, "session_finished", note=out.status.value)
            self._queue("UPDATE sessions SET status=?, ended_utc=?, ended_mono=? WHERE id=?",
                        (out.status.value, s.utc(out.at), out.at, s.id))
            self._last, self._live = s, None
        elif isinstance(out, SummaryDismissed):
            pass  # after the session: nothing to keep

    def _start_session(self, out: SessionStarted) -> None:
        if self._live is not None:  # should not happen: close the old one honestly
            old = self._live
            self._queue("UPDATE sessions SET status='interrupted', ended_utc=?, ended_mono=? "
                        "WHERE id=?", (old.utc(out.at), out.at, old.id))
        s = _LiveSession(uuid.uuid4().hex, out.at, self._wall(), self.plan)
        self._live = s
        self._queue(
            "INSERT INTO sessions (id, started_utc, started_mono, status, plan_source, plan_json,"
            " affected_side, software_version, model_sha256, planned_s)"
            " VALUES (?,?,?,'open',?,?,?,?,?,?)",
            (s.id, utc_iso(s.started_utc), out.at, out.plan_source, _plan_json(self.plan),
             self.affected_side, __version__, self.model_sha256, out.planned_s),
        )
        if self.plan is not None:
            for i, item in enumerate(self.plan.items):
                self._queue(
                    "INSERT INTO patterns VALUES (?,?,?,?,?,?)",
                    (s.id, i, item.pattern.id, item.pattern.target, ",".join(item.pattern.quiet),
                     item.reps),
                )
        self._event(s, out.at, "session_started", note=out.plan_source, value=out.planned_s)

    def _pattern_id(self, s: _LiveSession, index: int) -> str | None:
        if s.plan is not None and 0 <= index < len(s.plan.items):
            return s.plan.items[index].pattern.id
        return None

    def _end_rep(self, s: _LiveSession, out: RepDone | RepInterrupted) -> None:
        key = (out.pattern_index, out.rep)
        attempt = s.attempts.get(key, 0)
        s.attempts[key] = attempt + 1
        rep_id = f"{s.id}-{out.pattern_index}-{out.rep}-{attempt}"
        s.rep_ids[key] = rep_id
        status = "done" if isinstance(out, RepDone) else "interrupted"
        started = s.open_rep.started_mono if s.open_rep and (
            s.open_rep.pattern_index, s.open_rep.rep) == key else None
        s.open_rep = None
        stats = s.stats_waiting.pop(key, None) if status == "done" else None
        values = dict.fromkeys(STATS_COLUMNS)
        if stats is not None:
            values.update(_stats_values(stats))
            s.stats.append(stats)
        row = {
            "id": rep_id, "session_id": s.id, "pattern_index": out.pattern_index,
            "pattern_id": self._pattern_id(s, out.pattern_index), "rep": out.rep,
            "status": status, "started_mono": started, "ended_mono": out.at,
            "ended_utc": s.utc(out.at), **values,
        }
        self._queue(f"INSERT INTO reps ({','.join(REP_COLUMNS)}) VALUES "
                    f"({','.join('?' * len(REP_COLUMNS))})", [row[c] for c in REP_COLUMNS])
        if stats is not None and stats.series:
            self._queue_series(rep_id, stats)
        if status == "done":
            s.reps_done[out.pattern_index] = s.reps_done.get(out.pattern_index, 0) + 1
        else:
            self._event(s, out.at, "rep_interrupted", pattern_index=out.pattern_index, rep=out.rep)
        self._pending_reps.append(rep_id)

    def _queue_series(self, rep_id: str, stats: RepStats) -> None:
        data = pack_series(stats.series)
        self._queue("INSERT OR REPLACE INTO rep_series VALUES (?,?,?,?)",
                    (rep_id, ",".join(SERIES_COLUMNS), len(stats.series), data))

    # -- metrics ---------------------------------------------------------------------------

    def add_rep_stats(self, stats: RepStats) -> None:
        """Attach one rep's numbers: before its RepDone they wait, after it they update the row."""
        with self._lock:
            s = self._live or self._last
            if s is None:
                log.warning("rep stats with no session: dropped")
                return
            key = (stats.pattern_index, stats.rep)
            rep_id = s.rep_ids.get(key)
            if rep_id is None:
                s.stats_waiting[key] = stats
                return
            if s.open_rep and (s.open_rep.pattern_index, s.open_rep.rep) == key:
                s.stats_waiting[key] = stats  # a repeat of an interrupted rep is running
                return
            vals = _stats_values(stats)
            self._queue(
                f"UPDATE reps SET {','.join(f'{c}=?' for c in STATS_COLUMNS)} WHERE id=?",
                [vals[c] for c in STATS_COLUMNS] + [rep_id],
            )
            if stats.series:
                self._queue_series(rep_id, stats)
            s.stats.append(stats)
        self.flush()

    def add_calibration(
        self, now: float, mm_per_px: float | None, floors_mm: dict[str, float], frames: int = 0
    ) -> None:
        """Keep the session's neutral-baseline summary (scale and noise floors, numbers only)."""
        with self._lock:
            s = self._live
            if s is None:
                return
            floors = {str(k): float(v) for k, v in floors_mm.items()}
            self._queue(
                "INSERT INTO calibrations (session_id, at_mono, at_utc, mm_per_px, frames,"
                " floors_mm) VALUES (?,?,?,?,?,?)",
                (s.id, now, s.utc(now), mm_per_px, int(frames), json.dumps(floors, sort_keys=True)),
            )
        self.flush()

    def note(self, now: float, kind: str, text: str = "", value: float | None = None) -> None:
        """A free event for the current session (e.g. camera lost), numbers and short text."""
        with self._lock:
            if self._live is not None:
                self._event(self._live, now, kind, note=text[:200] or None, value=value)
        self.flush()

    # -- reading back ----------------------------------------------------------------------

    def home_info(self, now: float) -> HomeInfo:
        """Sessions today / in the last 7 days and one trend sentence per prescribed pattern."""
        from station.records.progress import home_info_from_rows

        wall = self._wall()
        if self.store is None:
            return HomeInfo()
        try:
            with self._lock:
                since = utc_iso(wall - timedelta(days=15))
                starts = self.store.sessions_with_reps_since(since)
                reps = self.store.reps(since)
        except sqlite3.Error as exc:
            log.error("could not read progress: %s", exc)
            return HomeInfo()
        items = self.plan.items if self.plan else ()
        return home_info_from_rows(starts, reps, [it.pattern for it in items], wall)

    def pattern_results(self) -> list[PatternResult]:
        """One plain sentence per pattern of the current (or last) session."""
        from station.records.progress import pattern_results

        s = self._live or self._last
        if s is None:
            return []
        return pattern_results(s.plan, s.stats, s.reps_done)

    @property
    def session_id(self) -> str | None:
        """The id of the session being recorded, if any."""
        return self._live.id if self._live else None

    def stop(self) -> None:
        """Shut down: a session still open is closed as interrupted; waiting rows get a last try."""
        with self._lock:
            s = self._live
            if s is not None:
                t = s.started_mono
                self._queue("UPDATE sessions SET status='interrupted', ended_utc=?, ended_mono="
                            "coalesce((SELECT max(at_mono) FROM events WHERE session_id=?), ?) "
                            "WHERE id=?", (utc_iso(self._wall()), s.id, t, s.id))
                self._last, self._live = s, None
            self.flush()
            if self.store is not None:
                self.store.close()
            self.store = None
            self._conn = None

    def wipe(self) -> None:
        """Wipe every patient record (see :func:`wipe`) and carry on with a fresh store."""
        with self._lock:
            if self.store is not None:
                self.store.close()
            self.store, self._conn = None, None
            self._pending, self._pending_reps = [], []
            self._live = self._last = None
            wipe(self.data_dir)
            self._open_store()


def _stats_values(stats: RepStats) -> dict[str, Any]:
    quiet = {k: float(v) for k, v in stats.quiet_mm.items()}
    return {
        "target_region": stats.target_region,
        "target_mm": stats.target_mm,
        "target_other_side_mm": stats.target_other_side_mm,
        "target_pct_of_other": stats.target_pct_of_other,
        "quiet_mm": json.dumps(quiet, sort_keys=True),
        "quiet_floor_mm": json.dumps({k: float(v) for k, v in stats.quiet_floor_mm.items()},
                                     sort_keys=True),
        "coactivation": stats.coactivation,
        "face_share": stats.face_share,
        "frames": stats.frames,
        "frames_gated": stats.frames_gated,
        "eye_ratio": stats.eye_ratio,
        "quiet_moved": int(stats.quiet_moved),
        "quiet_max_mm": max(quiet.values()) if quiet else None,
    }


# ---- wipe --------------------------------------------------------------------------------

#: Files and folders in the data dir that hold patient data (globs). Everything else (unit.json,
#: models/, settings, the clinic secret) is unit property and stays.
PATIENT_GLOBS: tuple[str, ...] = (
    "records.sqlite3",
    "records.sqlite3-*",
    "records.sqlite3.*",
    ".records*",
    EXPORTS_DIR,
    "*.export-tmp*",
    "prescription.toml",  # holds the patient's alias and the therapist's message
    ".prescription.toml.tmp*",  # a copy a power cut left half-way through a prescribe
)


def wipe(data_dir: Path) -> None:
    """Remove every patient record from ``data_dir`` and start an empty store.

    Database, WAL and SHM files (and any moved-aside corrupt copies and exports) are
    overwritten with zeros, synced and deleted; unit settings stay. Stop the kiosk's recorder
    first (or use :meth:`SessionRecorder.wipe`).
    """
    data_dir = Path(data_dir)
    seen: set[Path] = set()
    for pattern in PATIENT_GLOBS:
        for path in sorted(data_dir.glob(pattern)):
            if path in seen:
                continue
            seen.add(path)
            if path.is_dir() and not path.is_symlink():
                for sub in sorted(path.rglob("*")):
                    if sub.is_file() and not sub.is_symlink():
                        shred(sub)
                shutil.rmtree(path, ignore_errors=True)
            elif path.is_file():
                shred(path)
            else:
                path.unlink(missing_ok=True)
    fsync_dir(data_dir)
    store = Store.open(data_dir)
    store.close()
    log.info("wiped every patient record in the data directory")
