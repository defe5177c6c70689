"""A patient's records across loans, as the page, the JSON API and the charts see them.

Everything is read for one alias in two queries (sessions, reps), turned into dict rows with
the column names of the unit's export, and handed to :func:`station.report.report_data`, the
same aggregation the PDF report uses; prescription changes come from the desk's own history.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from station.clinic import prescription as rx
from station.clinic import report
from station.desk import db

QUALITIES = report.QUALITIES
SESSION_FIELDS = ("uid", "unit_id", "started_utc", "status", "duration_s", "planned_s", "plan_source",
                  "affected_side", "reps_done", "breaks_scheduled", "breaks_requested", "pauses")
REP_FIELDS = ("uid", "pattern_id", "rep", "status", "ended_utc", "duration_s", "target_region",
              "target_mm", "coactivation", "eye_ratio", "quiet_moved", "quiet_max_mm", "quiet_region",
              "face_share", *QUALITIES, "t80_share", "target_peak_mm", "quiet_excess_mm", "residual_mm")


PAGE_REP_FIELDS = ("status", "pattern_id", "ended_utc", "target_region", "target_mm", "coactivation",
                   "eye_ratio", "quiet_region", "face_share", *QUALITIES)


def rows(s: Session, alias: str, full: bool = True) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(sessions, reps) of ``alias``, oldest first; each rep carries its session's uid.

    ``full=False`` reads only what the page's charts and tables need (a year is ~17,000 reps).
    """
    S, R = db.PracticeSession, db.Rep
    rep_cols = [S.uid.label("session_uid"), *(getattr(R, f) for f in REP_FIELDS)] if full else \
        [getattr(R, f) for f in PAGE_REP_FIELDS]
    conn = s.connection()  # Core rows: the ORM's per-row bookkeeping is not needed here
    sessions = [dict(r) for r in conn.execute(
        select(*(getattr(S, f) for f in SESSION_FIELDS)).where(S.alias == alias)
        .order_by(S.started_utc)).mappings()]
    reps = [dict(r) for r in conn.execute(
        select(*rep_cols)
        .join(S, R.session_id == S.id).where(S.alias == alias).order_by(R.ended_utc)).mappings()]
    return sessions, reps


def prescriptions(s: Session, alias: str) -> list[db.Prescription]:
    """The alias's prescription history, oldest first."""
    return list(s.scalars(select(db.Prescription).where(db.Prescription.alias == alias)
                          .order_by(db.Prescription.created_at, db.Prescription.id)))


def build(s: Session, alias: str, full: bool = True) -> tuple[report.ReportData, list[dict[str, Any]],
                                                              list[dict[str, Any]]]:
    """(chart data, sessions, reps) for one alias (``full``: every rep column, for the API)."""
    sessions, reps = rows(s, alias, full)
    history = prescriptions(s, alias)
    text = history[-1].toml if history else s.scalar(  # else: what the unit itself carried
        select(db.Bundle.prescription_toml).where(db.Bundle.alias == alias, db.Bundle.prescription_toml.is_not(None))
        .order_by(db.Bundle.exported_utc.desc()).limit(1))
    latest = rx.validate_bytes(text.encode()).prescription if text else None
    side = next((x["affected_side"] for x in reversed(sessions) if x["affected_side"]), "")
    changes = [p.created_at.date() for p in history[1:]]
    data = report.report_data(
        "", sessions, reps, None, db.utcnow().isoformat(), alias=alias,
        affected_side=side or (latest.affected_side or "" if latest else ""),
        prescription=latest.summary() if latest else "",
        prescribed_per_day=latest.sessions_per_day if latest else None, changes=changes)
    return data, sessions, reps


def _median(vals: list[float]) -> float | None:
    return round(statistics.median(vals), 4) if vals else None


def weekly(data: report.ReportData, sessions: list[dict[str, Any]],
           reps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per week with practice: sessions, reps, medians and quality shares."""
    by_week: dict[date, dict[str, Any]] = defaultdict(lambda: {
        "sessions": 0, "reps": 0, "coactivation": [], "eye_ratio": [], "face_share": [],
        **{q: [0, 0] for q in QUALITIES}})

    def week(text: str) -> date:
        d = report.local_date(text).date()
        return d - timedelta(days=d.weekday())

    for x in sessions:
        by_week[week(x["started_utc"])]["sessions"] += 1
    for r in reps:
        if r["status"] != "done":
            continue
        w = by_week[week(r["ended_utc"])]
        w["reps"] += 1
        for key in ("coactivation", "face_share"):
            if r[key] is not None:
                w[key].append(r[key])
        if r["eye_ratio"] is not None and r["target_region"] != "eye":
            w["eye_ratio"].append(r["eye_ratio"])
        for q in QUALITIES:
            if r[q] is not None:
                w[q][1] += 1
                w[q][0] += int(bool(r[q]))
    out = []
    for start in sorted(by_week):
        w = by_week[start]
        out.append({
            "week": start.isoformat(), "sessions": w["sessions"],
            "sessions_per_day": round(w["sessions"] / 7, 2), "reps": w["reps"],
            "coactivation_median": _median(w["coactivation"]), "eye_ratio_median": _median(w["eye_ratio"]),
            "tracked_median": _median(w["face_share"]),
            **{f"{q}_share": (round(w[q][0] / w[q][1], 3) if w[q][1] else None) for q in QUALITIES},
        })
    return out


def first_last(weeks: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    """(measure, first week, last week) rows for the comparison table."""
    if not weeks:
        return []
    a, b = weeks[0], weeks[-1]
    names = [("week starting", "week"), ("sessions a day", "sessions_per_day"), ("movements", "reps"),
             ("coactivation (lower is better)", "coactivation_median"),
             ("eye ratio (closer to 1 is better)", "eye_ratio_median"),
             ("face tracked (share of frames)", "tracked_median"),
             *((f"{q} (share of movements)", f"{q}_share") for q in QUALITIES)]
    return [(label, a[key], b[key]) for label, key in names]


def api(s: Session, alias: str) -> dict[str, Any]:
    """The JSON of ``GET /api/patients/{alias}``."""
    data, sessions, reps = build(s, alias)
    return {
        "alias": alias, "affected_side": data.affected_side or None,
        "prescription": data.prescription or None, "prescribed_per_day": data.prescribed_per_day,
        "sessions": sessions,
        "reps": [{**r, **{q: (None if r[q] is None else bool(r[q])) for q in (*QUALITIES, "quiet_moved")}}
                 for r in reps],
        "weeks": weekly(data, sessions, reps),
        "qualities_per_pattern": {
            p: {q: ({"share": round(y / n, 3), "judged": n} if n else None) for q, (y, n) in qs.items()}
            for p, qs in data.qualities.items()},
        "quiet_region_moved": data.quiet_moved,
    }
