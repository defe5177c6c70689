"""Check-in records: a check-in's numbers to rows, written in one transaction, and read back.

A check-in (:mod:`station.practice.checkin`, measured by :mod:`station.tracking.checkin`) is
stored as one ``checkins`` row (when, how it ended, the rest's side-to-side measures) and one
``checkin_movements`` row per movement (the medians of its accepted tries and their spread).
The columns come from the one record schema (:data:`station.records.schema.CHECKIN`,
:data:`~station.records.schema.CHECKIN_MOVEMENT`); a number outside its field's physical bounds
is stored as unknown, so the store, the export and the desk's import agree on every value.

:func:`save` writes every row of a check-in in one ``BEGIN IMMEDIATE`` transaction on the
store's connection (WAL, ``synchronous=FULL``): after a power cut the check-in is there whole
or not at all. It raises on a write error (a full disk); the caller keeps the rows and tries
again (:class:`PendingCheckin`). Numbers only: no frame, no image, no name.

:func:`is_due` says whether the prescription's interval has passed since the last completed
check-in (by calendar day, in the unit's local time).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from station.practice.plan import REGIONS
from station.records import schema
from station.records.store import CHECKIN_COLUMNS, CHECKIN_MOVEMENT_COLUMNS, _rollback

_CI = {f.name: f for f in schema.CHECKIN}
_MV = {f.name: f for f in schema.CHECKIN_MOVEMENT}
_REST_KEYS = {"eye_fissure": "eye_fissure_mm", "brow_height": "brow_height_mm",
              "mouth_corner_height": "mouth_corner_height_mm"}


def _bounded(f: schema.Field, v: Any) -> Any:
    """``v`` when it fits ``f`` (finite, in range), else None (unknown)."""
    if v is None:
        return None
    if f.kind == schema.REAL:
        x = float(v)
        return x if math.isfinite(x) and f.lo <= x <= f.hi else None  # type: ignore[operator]
    if f.kind == schema.INT:
        n = int(v)
        return n if f.lo <= n <= f.hi else None  # type: ignore[operator]
    if f.kind == schema.FLAG:
        return int(bool(v))
    return v


@dataclass
class PendingCheckin:
    """One check-in's rows, ready to write (kept in memory until :func:`save` succeeds)."""

    checkin: dict[str, Any]
    movements: list[dict[str, Any]] = field(default_factory=list)


def rows_from_result(result: Mapping[str, Any], *, checkin_id: str, started_utc: str,
                     ended_utc: str | None, status: str, repeats: Mapping[str, int] | None = None,
                     software_version: str | None = None,
                     model_sha256: str | None = None) -> PendingCheckin:
    """The rows of one check-in from :meth:`station.tracking.checkin.CheckinMeasures.result`."""
    repeats = repeats or {}
    row: dict[str, Any] = {"id": checkin_id, "started_utc": started_utc, "ended_utc": ended_utc,
                           "status": status, "affected_side": result.get("side"),
                           "software_version": software_version, "model_sha256": model_sha256}
    movements = list(result.get("movements") or [])
    row["movements_complete"] = sum(1 for m in movements if m.get("complete"))
    rest = result.get("rest") or {}
    for name, key in _REST_KEYS.items():
        pair = rest.get(key) or {}
        for part, src in (("affected", "affected"), ("other", "other"), ("diff", "difference")):
            row[f"rest_{name}_{part}_mm"] = pair.get(src)
    row["rest_frames"] = rest.get("frames")
    out = PendingCheckin({c: _bounded(_CI[c], row.get(c)) for c in CHECKIN_COLUMNS})
    for i, m in enumerate(movements):
        spread = m.get("spread") or {}
        co, co_spread = m.get("comovement_mm") or {}, spread.get("comovement_mm") or {}
        mv: dict[str, Any] = {
            "id": f"{checkin_id}-m{i}", "checkin_id": checkin_id, "movement": m["movement"],
            "target_region": m.get("target"), "complete": bool(m.get("complete")),
            "tries_accepted": int(m.get("accepted") or 0), "repeats": int(repeats.get(m["movement"], 0)),
            "affected_mm": m.get("affected_mm"), "other_mm": m.get("other_mm"), "ratio": m.get("ratio"),
            "eye_narrowing_pct": m.get("eye_narrowing_pct"),
            "affected_spread_mm": spread.get("affected_mm"), "other_spread_mm": spread.get("other_mm"),
            "ratio_spread": spread.get("ratio"), "eye_narrowing_spread_pct": spread.get("eye_narrowing_pct"),
        }
        for region in REGIONS:
            mv[f"co_{region}_mm"] = co.get(region)
            mv[f"co_{region}_spread_mm"] = co_spread.get(region)
        out.movements.append({c: _bounded(_MV[c], mv.get(c)) for c in CHECKIN_MOVEMENT_COLUMNS})
    return out


def save(conn: sqlite3.Connection, pending: PendingCheckin) -> None:
    """Write one check-in's rows in one transaction (all or nothing; raises on a write error).

    Saving the same check-in again replaces it (a retry after a failed COMMIT is harmless)."""
    ci = ", ".join(CHECKIN_COLUMNS)
    mv = ", ".join(CHECKIN_MOVEMENT_COLUMNS)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM checkin_movements WHERE checkin_id = ?", (pending.checkin["id"],))
        conn.execute("DELETE FROM checkins WHERE id = ?", (pending.checkin["id"],))
        conn.execute(f"INSERT INTO checkins ({ci}) VALUES ({', '.join('?' * len(CHECKIN_COLUMNS))})",
                     [pending.checkin.get(c) for c in CHECKIN_COLUMNS])
        conn.executemany(
            f"INSERT INTO checkin_movements ({mv}) VALUES ({', '.join('?' * len(CHECKIN_MOVEMENT_COLUMNS))})",
            [[m.get(c) for c in CHECKIN_MOVEMENT_COLUMNS] for m in pending.movements])
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def read_all(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(check-ins oldest first, their movements) as dicts (for the export and the report)."""
    old = conn.row_factory
    conn.row_factory = sqlite3.Row
    try:
        cis = [dict(r) for r in conn.execute("SELECT * FROM checkins ORDER BY started_utc")]
        mvs = [dict(r) for r in conn.execute(
            "SELECT m.* FROM checkin_movements m JOIN checkins c ON c.id = m.checkin_id "
            "ORDER BY c.started_utc, m.id")]
    finally:
        conn.row_factory = old
    return cis, mvs


def last_done_utc(conn: sqlite3.Connection) -> str | None:
    """When the last check-in that measured something started (None: never)."""
    row = conn.execute("SELECT max(started_utc) FROM checkins WHERE status = 'complete'").fetchone()
    return row[0] if row else None


def is_due(every_days: int | None, last_done: date | None, today: date) -> bool:
    """True when a check-in is prescribed and ``every_days`` calendar days have passed since
    the last one (or there was none)."""
    if not every_days:
        return False
    return last_done is None or (today - last_done).days >= every_days


def local_day(utc_text: str | None) -> date | None:
    """The unit's local calendar day of a stored UTC time (None stays None)."""
    if not utc_text:
        return None
    return datetime.fromisoformat(utc_text.replace("Z", "+00:00")).astimezone().date()


def movements_of(movements: Sequence[Mapping[str, Any]], checkin_id: str) -> list[Mapping[str, Any]]:
    """The movement rows of one check-in."""
    return [m for m in movements if m.get("checkin_id") == checkin_id]
