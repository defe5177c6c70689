"""The session recorder: the session engine's outputs become rows, kept safe through full disks.

Theory of operation
-------------------
:class:`SessionRecorder` follows the same output stream as the kiosk (``on_outputs``) and
commits one transaction per call, so a rep is committed the moment it ends. What the tracking
measured at those outputs comes in the same call (a :class:`~station.feedback.Measured`: a
rep's numbers for its ``RepDone``, the baseline for ``SettleEnded``): there is no second path
to reconcile. Rows are never lost on a write error: every write is first queued in
memory, and the queue is only cleared once its transaction committed. A full disk leaves the
queue in memory, raises a one-time plain notice and is retried at the next output.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from station import __version__
from station.feedback import NOTHING_MEASURED, Calibration, HomeInfo, Measured, Notice, PatternResult, RepStats, Side
from station.practice import words
from station.practice.events import (
    BreakEnded,
    BreakStarted,
    FaceChanged,
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
)
from station.practice.plan import Plan
from station.records.series import SERIES_COLUMNS, pack_series
from station.records.sessionlock import SessionLock
from station.records.store import (
    REP_COLUMNS,
    STATS_COLUMNS,
    Store,
    StoreError,
    inode_of,
    is_disk_full,
    now_utc,
    plan_json,
    utc_iso,
)
from station.records.wipe import wipe

log = logging.getLogger(__name__)

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
    stats: list[RepStats] = dataclasses.field(default_factory=list)
    reps_done: dict[int, int] = dataclasses.field(default_factory=dict)
    start_ops: list[tuple[str, tuple[Any, ...]]] = dataclasses.field(default_factory=list)

    def utc(self, mono: float) -> str:
        return utc_iso(self.started_utc + timedelta(seconds=mono - self.started_mono))


Op = tuple[str, tuple[Any, ...]]
#: errors that say a row itself is wrong (it will never land), unlike a full or busy disk
BAD_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)


class SessionRecorder:
    """Turns engine outputs (and what the tracking measured at them) into committed rows.

    The kiosk's recorder service (``station.kiosk.services.RecorderService``). Never raises on
    storage trouble: rows wait in memory until they can land.
    """

    def __init__(
        self,
        data_dir: Path,
        plan: Plan | None = None,
        *,
        affected_side: Side,
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
        self._inode: int | None = None
        self._session_lock = SessionLock(self.data_dir)
        self._release_after_flush = False
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
        self._inode = inode_of(self.store.path)
        return True

    def _reopen_if_replaced(self) -> None:
        """A wipe by another process put a new file in place: reopen it (never keep writing
        into the old, deleted one), and re-queue the running session's first rows there."""
        if self.store is None or self._inode is None or inode_of(self.store.path) == self._inode:
            return
        log.warning("the record store was replaced under the kiosk; opening the new one")
        self.store.close()
        self.store, self._conn, self._inode = None, None, None
        if self._live is not None:
            self._pending[:0] = [op for op in self._live.start_ops if op not in self._pending]
        self._open_store()

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
            self._reopen_if_replaced()
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
            self._maybe_release()
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

    def _queue(self, sql: str, params: Iterable[Any]) -> Op:
        op = (sql, tuple(params))
        self._pending.append(op)
        return op

    # -- engine outputs --------------------------------------------------------------------

    def on_outputs(self, outputs: Sequence[Output], now: float, measured: Measured = NOTHING_MEASURED) -> None:
        """Record what the engine just did and what the tracking measured at it (a rep's
        numbers, the baseline), then commit (or keep waiting rows in memory)."""
        with self._lock:
            for out in outputs:
                try:
                    self._record(out, measured)
                except Exception:  # noqa: BLE001 - a record bug must not stop the session
                    log.exception("could not record %r", out)
        if self._live is not None and not self._session_lock.held:
            self._session_lock.hold(quiet=True)  # taken late rather than never
        if self._pending:
            self.flush()
        self._maybe_release()

    def _maybe_release(self) -> None:
        """Let clinic work run once the ended session's last rows are on disk."""
        if self._release_after_flush and self._live is None and not self._pending:
            self._release_after_flush = False
            self._session_lock.release()

    def _event(self, s: _LiveSession, at: float, kind: str, **cols: Any) -> None:
        self._queue(
            "INSERT INTO events (session_id, at_mono, at_utc, kind, phase, pattern_index, rep,"
            " requested, value, note) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (s.id, at, s.utc(at), kind, cols.get("phase"), cols.get("pattern_index"),
             cols.get("rep"), cols.get("requested"), cols.get("value"), cols.get("note")),
        )

    def _record(self, out: Output, measured: Measured) -> None:
        if isinstance(out, SessionStarted):
            self._start_session(out)
            return
        s = self._live
        if s is None:
            return
        match out:
            case PhaseStarted():
                if out.phase is State.MOVE and out.pattern_index is not None and out.rep is not None:
                    s.open_rep = _OpenRep(out.pattern_index, out.rep, out.at)
                self._event(s, out.at, "phase_started", phase=out.phase.value,
                            pattern_index=out.pattern_index, rep=out.rep,
                            requested=int(out.requested), value=out.duration_s)
            case RepDone():
                self._end_rep(s, out, measured.rep(out.pattern_index, out.rep))
            case RepInterrupted():
                self._end_rep(s, out, None)
            case SettleEnded():
                self._event(s, out.at, "settle_ended", value=float(out.calibrated))
                if measured.calibration is not None:
                    self._queue_calibration(s, out.at, measured.calibration)
            case BreakStarted():
                self._event(s, out.at, "break_started", pattern_index=out.pattern_index,
                            requested=int(out.requested))
            case BreakEnded():
                self._event(s, out.at, "break_ended", note="early" if out.early else None,
                            value=float(out.early))
            case PatternDone():
                self._event(s, out.at, "pattern_done", pattern_index=out.pattern_index)
            case Paused():
                self._event(s, out.at, "paused", phase=out.phase.value)
            case Resumed():
                self._event(s, out.at, "resumed", phase=out.phase.value, value=out.paused_s)
            case FaceChanged():
                self._event(s, out.at, "face_found" if out.visible else "face_lost")
            case SessionFinished():
                self._event(s, out.at, "session_finished", note=out.status.value)
                self._queue("UPDATE sessions SET status=?, ended_utc=?, ended_mono=? WHERE id=?",
                            (out.status.value, s.utc(out.at), out.at, s.id))
                self._last, self._live = s, None
                self._release_after_flush = True
            case _:
                pass  # an ignored event, the summary dismissed: nothing to keep

    def _start_session(self, out: SessionStarted) -> None:
        if self._live is not None:  # should not happen: close the old one honestly
            old = self._live
            self._queue("UPDATE sessions SET status='interrupted', ended_utc=?, ended_mono=? "
                        "WHERE id=?", (old.utc(out.at), out.at, old.id))
        s = _LiveSession(uuid.uuid4().hex, out.at, self._wall(), self.plan)
        self._live = s
        self._session_lock.hold()
        s.start_ops.append(self._queue(
            "INSERT OR IGNORE INTO sessions (id, started_utc, started_mono, status, plan_source, plan_json,"
            " affected_side, software_version, model_sha256, planned_s)"
            " VALUES (?,?,?,'open',?,?,?,?,?,?)",
            (s.id, utc_iso(s.started_utc), out.at, out.plan_source, plan_json(self.plan),
             self.affected_side, __version__, self.model_sha256, out.planned_s),
        ))
        if self.plan is not None:
            for i, item in enumerate(self.plan.items):
                s.start_ops.append(self._queue(
                    "INSERT OR IGNORE INTO patterns VALUES (?,?,?,?,?,?)",
                    (s.id, i, item.pattern.id, item.pattern.target, ",".join(item.pattern.quiet),
                     item.reps),
                ))
        self._event(s, out.at, "session_started", note=out.plan_source, value=out.planned_s)

    def _pattern_id(self, s: _LiveSession, index: int) -> str | None:
        if s.plan is not None and 0 <= index < len(s.plan.items):
            return s.plan.items[index].pattern.id
        return None

    def _end_rep(self, s: _LiveSession, out: RepDone | RepInterrupted, stats: RepStats | None) -> None:
        key = (out.pattern_index, out.rep)
        attempt = s.attempts.get(key, 0)
        s.attempts[key] = attempt + 1
        rep_id = f"{s.id}-{out.pattern_index}-{out.rep}-{attempt}"
        s.rep_ids[key] = rep_id
        status = "done" if isinstance(out, RepDone) else "interrupted"
        started = s.open_rep.started_mono if s.open_rep and (
            s.open_rep.pattern_index, s.open_rep.rep) == key else None
        s.open_rep = None
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

    def _queue_calibration(self, s: _LiveSession, at: float, cal: Calibration) -> None:
        """Keep the session's neutral-baseline summary (scale and noise floors, numbers only)."""
        floors = {str(k): float(v) for k, v in cal.floors_mm.items()}
        self._queue(
            "INSERT INTO calibrations (session_id, at_mono, at_utc, mm_per_px, frames,"
            " floors_mm) VALUES (?,?,?,?,?,?)",
            (s.id, at, s.utc(at), cal.mm_per_px, int(cal.frames), json.dumps(floors, sort_keys=True)),
        )

    def set_plan(self, plan: Plan, affected_side: Side) -> None:
        """Record the next sessions under ``plan`` and the new patient's side."""
        with self._lock:
            self.plan, self.affected_side = plan, affected_side

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
            self._session_lock.release()

    def wipe(self) -> None:
        """Wipe every patient record (see :func:`wipe`) and carry on with a fresh store."""
        with self._lock:
            if self.store is not None:
                self.store.close()
            self.store, self._conn = None, None
            self._pending, self._pending_reps = [], []
            self._live = self._last = None
            self._session_lock.release()
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
        **{k: None if v is None else int(v) for k, v in stats.flags.items()},
        "t80_share": stats.t80_share,
        "target_peak_mm": stats.target_peak_mm,
        "quiet_excess_mm": stats.quiet_excess_mm,
        "residual_mm": stats.residual_mm,
        "gentle_max_mm": stats.gentle_max_mm,
    }
