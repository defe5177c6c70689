"""A patient's records across loans, as the page, the JSON API and the charts see them.

Everything is read for one alias in two queries (sessions, reps), turned into dict rows with
the column names of the unit's export, and handed to :func:`station.clinic.report.report_data`,
the same aggregation (and the same figures, :mod:`station.clinic.figures`) the PDF report uses,
over the days of the alias's loans; prescription changes come from the desk's own history.
"""

from __future__ import annotations

import statistics
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from station.clinic import checkin_figures, figures, report
from station.clinic import prescription as rx
from station.desk import db, importer
from station.records.progress import local_date

QUALITIES = figures.QUALITIES
SESSION_FIELDS = ("uid", "unit_id", "started_utc", "status", "duration_s", "planned_s", "plan_source",
                  "affected_side", "reps_done", "breaks_scheduled", "breaks_requested", "pauses")
REP_FIELDS = ("uid", "pattern_id", "rep", "status", "ended_utc", "duration_s", "target_region",
              "target_mm", "coactivation", "eye_ratio", "quiet_moved", "quiet_max_mm", "quiet_region",
              "face_share", *QUALITIES, "t80_share", "target_peak_mm", "quiet_excess_mm", "residual_mm")


PAGE_REP_FIELDS = ("status", "pattern_id", "ended_utc", "target_region", "target_mm", "coactivation",
                   "eye_ratio", "quiet_region", "face_share", *QUALITIES)
SESSION_KEY = "session_uid"  # a rep's session, for "sessions the camera followed"


def rows(s: Session, alias: str, full: bool = True) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(sessions, reps) of ``alias``, oldest first; each rep carries its session's uid.

    ``full=False`` (the page): what only needs counting is counted by the database, per ten
    minutes of the clock (sessions by status and by whether the camera followed them, and
    movements it did not follow); only the followed movements' numbers are read, as plain
    tuples. A hostile year of rows then costs seconds, not minutes.
    """
    S, R = db.PracticeSession, db.Rep
    conn = s.connection()  # Core rows: the ORM's per-row bookkeeping is not needed here
    if full:
        rep_cols = [S.uid.label(SESSION_KEY), *(getattr(R, f) for f in REP_FIELDS)]
        sessions = [dict(r) for r in conn.execute(
            select(*(getattr(S, f) for f in SESSION_FIELDS)).where(S.alias == alias)
            .order_by(S.started_utc)).mappings()]
        reps: list[dict[str, Any]] = [dict(r) for r in conn.execute(
            select(*rep_cols)
            .join(S, R.session_id == S.id).where(S.alias == alias).order_by(R.ended_utc)).mappings()]
        return sessions, reps
    bucket = func.substr(S.started_utc, 1, 15)
    followed = select(R.id).where(R.session_id == S.id, R.status == "done", R.face_share.is_not(None)).exists()
    sessions = [{"started_utc": f"{b}0:00Z", "status": st, "followed": bool(fol), "n": n,
                 "breaks_scheduled": bs or 0, "breaks_requested": br or 0, "affected_side": side, "unit_id": uid}
                for b, st, fol, n, bs, br, side, uid in conn.execute(
                    select(bucket, S.status, followed, func.count(), func.sum(S.breaks_scheduled),
                           func.sum(S.breaks_requested), func.max(S.affected_side), func.max(S.unit_id))
                    .where(S.alias == alias).group_by(bucket, S.status, followed).order_by(bucket))]
    rbucket = func.substr(R.ended_utc, 1, 15)
    reps = [
        {"status": "done", "ended_utc": f"{b}0:00Z", "n": n} for b, n in conn.execute(
            select(rbucket, func.count()).join(S, R.session_id == S.id)
            .where(S.alias == alias, R.status == "done", R.face_share.is_(None)).group_by(rbucket))]
    cols = (SESSION_KEY, *PAGE_REP_FIELDS)
    reps += [dict(zip(cols, r, strict=True)) for r in conn.execute(
        select(S.uid, *(getattr(R, f) for f in PAGE_REP_FIELDS)).join(S, R.session_id == S.id)
        .where(S.alias == alias, R.status == "done", R.face_share.is_not(None)).order_by(R.ended_utc))]
    return sessions, reps


def checkin_rows(s: Session, alias: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(check-ins, their movements) of ``alias``, oldest first, with the unit's column names
    (``id`` is the check-in's own id; each movement names it in ``checkin_id``)."""
    C, M = db.Checkin, db.CheckinMovement
    conn = s.connection()
    ccols = [C.uid.label("id"), C.unit_id, *(getattr(C, f.name) for f in importer.CHECKIN_DESK if f.name != "id")]
    checkins = [dict(r) for r in conn.execute(
        select(*ccols).where(C.alias == alias).order_by(C.started_utc)).mappings()]
    mcols = [M.uid.label("id"), C.uid.label("checkin_id"),
             *(getattr(M, f.name) for f in importer.MOVEMENT_DESK if f.name != "id")]
    movements = [dict(r) for r in conn.execute(
        select(*mcols).join(C, M.checkin_id == C.id).where(C.alias == alias).order_by(C.started_utc, M.id))
        .mappings()]
    return checkins, movements


def prescriptions(s: Session, alias: str) -> list[db.Prescription]:
    """The alias's prescription history, oldest first."""
    return list(s.scalars(select(db.Prescription).where(db.Prescription.alias == alias)
                          .order_by(db.Prescription.created_at, db.Prescription.id)))


def loan_period(s: Session, alias: str, sessions: list[dict[str, Any]]) -> tuple[tuple[date, date] | None, str]:
    """(first day, last day) of the alias's loans (an open one ends today), widened to every
    session; and the words for those days. None when the alias was never lent a unit."""
    spans = list(s.execute(select(db.Loan.lent_at, db.Loan.returned_at).where(db.Loan.alias == alias)))
    if not spans:
        return None, "days with records"
    first = min(a.date() for a, _b in spans)
    last = max((b or db.utcnow()).date() for _a, b in spans)
    if sessions:
        days = [local_date(x["started_utc"]).date() for x in (sessions[0], sessions[-1])]
        first, last = min(first, days[0]), max(last, days[1])
    return (first, last), ("days of the loan" if len(spans) == 1 else "days from the first loan to the last return")


def build(s: Session, alias: str, full: bool = True) -> tuple[figures.ReportData, list[dict[str, Any]],
                                                              list[dict[str, Any]]]:
    """(chart data with its figures, sessions, reps) for one alias (``full``: every rep column,
    for the API). The figures come from :func:`station.clinic.figures.compute`, as the PDF's."""
    sessions, reps = rows(s, alias, full)
    history = prescriptions(s, alias)
    text = history[-1].toml if history else s.scalar(  # else: what the unit itself carried
        select(db.Bundle.prescription_toml).where(db.Bundle.alias == alias, db.Bundle.prescription_toml.is_not(None))
        .order_by(db.Bundle.exported_utc.desc()).limit(1))
    latest = rx.validate_bytes(text.encode()).prescription if text else None
    side = next((x["affected_side"] for x in reversed(sessions) if x["affected_side"]), "")
    changes = [p.created_at.date() for p in history[1:]]
    period, words = loan_period(s, alias, sessions)
    data = report.report_data(
        "", sessions, reps, None, db.utcnow().isoformat(), alias=alias,
        affected_side=side or (latest.affected_side or "" if latest else ""),
        prescription=latest.summary() if latest else "",
        prescribed_per_day=latest.sessions_per_day if latest else None, changes=changes,
        period=period, period_words=words, session_key=SESSION_KEY)
    data.checkins = checkin_figures.compute(*checkin_rows(s, alias))
    return data, sessions, reps


def weeks_json(data: figures.ReportData) -> list[dict[str, Any]]:
    """The figures' weeks for the API (what each counts is in its key)."""
    out = []
    for w in data.figures.weeks:
        med = {k: (round(statistics.median(v), 4) if v else None)
               for k, v in (("coactivation_median", w.coactivation), ("eye_ratio_median", w.eye_ratio),
                            ("tracked_median", w.face_share))}
        out.append({"week": w.start.isoformat(), "days_in_period": w.days, "sessions": w.sessions,
                    "sessions_followed": w.sessions_followed, "sessions_per_day": w.per_day(),
                    "reps": w.movements, "reps_followed": w.movements_followed, **med,
                    **{f"{q}_share": (round(y / n, 3) if n else None) for q, (y, n) in w.qualities.items()}})
    return out


def api(s: Session, alias: str) -> dict[str, Any]:
    """The JSON of ``GET /api/patients/{alias}``."""
    data, sessions, reps = build(s, alias)
    return {
        "alias": alias, "affected_side": data.affected_side or None,
        "prescription": data.prescription or None, "prescribed_per_day": data.prescribed_per_day,
        "sessions": sessions,
        "reps": [{**r, **{q: (None if r[q] is None else bool(r[q])) for q in (*QUALITIES, "quiet_moved")}}
                 for r in reps],
        "period": {"first": data.figures.first.isoformat() if data.figures.first else None,
                   "last": data.figures.last.isoformat() if data.figures.last else None,
                   "counts": data.figures.period_words},
        "weeks": weeks_json(data),
        "qualities_per_pattern": {
            p: {q: ({"share": round(y / n, 3), "judged": n} if n else None) for q, (y, n) in qs.items()}
            for p, qs in data.qualities.items()},
        "quiet_region_moved": data.quiet_moved,
    }
