"""The figures a therapist reads, each saying what it counts: one place for the PDF and the desk.

Two things made the old figures mislead: sessions the camera did not follow (no camera, the
tracker off) were mixed with followed ones, so "face tracked 1.0" could describe one session of
three; and "sessions a day" was averaged over calendar weeks that began before the loan. So:

* a movement is *followed* when the tracker ran during it (its ``face_share`` is a number:
  0.0 is a followed movement in which the face was never found); a session is followed when
  at least one of its movements was. Measures of the face (coactivation, eye ratio, tracking,
  the four qualities) count followed movements only, and say so;
* "a day" means a day of the *period*: the days of the loan (the desk knows them) or, on a
  unit, the days from its first session to the export. A week's rate divides by that week's
  days inside the period, never by 7 when the loan began on a Thursday.

:func:`compute` is the only code that turns rows into these figures; :mod:`.report` calls it
for the PDF and :mod:`station.desk.patients` for the page (both through
:func:`station.clinic.report.report_data`), so the two cannot disagree.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any

from station.records import schema
from station.records.progress import local_date

QUALITIES = ("slow", "small", "quiet", "released")


@dataclass
class Week:
    """One calendar week (Monday first), counted inside the period only."""

    start: date
    days: int = 0  # days of the period in this week
    sessions: int = 0
    sessions_followed: int = 0
    movements: int = 0
    movements_followed: int = 0
    coactivation: list[float] = field(default_factory=list)
    eye_ratio: list[float] = field(default_factory=list)
    face_share: list[float] = field(default_factory=list)
    qualities: dict[str, list[int]] = field(default_factory=lambda: {q: [0, 0] for q in QUALITIES})

    def per_day(self) -> float | None:
        """Sessions a day over this week's days of the period."""
        return round(self.sessions / self.days, 2) if self.days else None


@dataclass
class Figures:
    """Whole-period figures, and per week, for the headline, the tables and the API."""

    first: date | None = None  # the period
    last: date | None = None
    period_words: str = "days of the loan"
    sessions: int = 0
    sessions_followed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    days_practised: int = 0
    movements: int = 0
    movements_followed: int = 0
    face_share: list[float] = field(default_factory=list)
    weeks: list[Week] = field(default_factory=list)

    def over(self, n: int | None = None) -> str:
        """"the 12 days of the loan", "the 1 day with records"."""
        n = self.days if n is None else n
        return f"{n} {self.period_words.replace('days', 'day', 1) if n == 1 else self.period_words}"

    @property
    def days(self) -> int:
        """Days in the period (both ends counted)."""
        return (self.last - self.first).days + 1 if self.first and self.last else 0

    def headline(self, prescribed_per_day: int | None = None) -> list[tuple[str, str]]:
        """(what, figure) rows: every figure names what it counts."""
        if not self.sessions or not self.first or not self.last:
            return [("Sessions", "none recorded")]
        st = self.by_status
        status = ", ".join(f"{st[k]} {w}" for k, w in (("complete", "complete"), ("interrupted", "interrupted"),
                                                         ("abandoned", "left early")) if st.get(k))
        rate = f"{self.sessions / self.days:.1f}" if self.days else "?"
        rows = [
            ("Period", f"{self.first:%d %b %Y} to {self.last:%d %b %Y}: {self.over()}"),
            ("Sessions", f"{self.sessions}" + (f" ({status})" if status else "")),
            ("Sessions a day", f"{rate}: {self.sessions} sessions over the {self.over()}"
             + (f" (prescribed: {prescribed_per_day})" if prescribed_per_day else "")),
            ("Days with practice", f"{self.days_practised} of the {self.over()}"),
            ("Sessions the camera followed", f"{self.sessions_followed} of {self.sessions}"
             + ("; the measures below count these only" if self.sessions_followed < self.sessions else "")),
            ("Movements", f"{self.movements} done, {self.movements_followed} of them in followed sessions"),
        ]
        if self.face_share:
            n = len(self.face_share)
            rows.append(("Face tracked", f"median {100 * statistics.median(self.face_share):.0f}% of frames, "
                                         f"over the {n} followed movement{'s' if n != 1 else ''}"))
        else:
            rows.append(("Face tracked", "no followed movement"))
        return rows

    def first_last(self) -> list[tuple[str, Any, Any]]:
        """(measure, first week, last week) rows; each label says what it counts."""
        if not self.weeks:
            return []
        a, b = self.weeks[0], self.weeks[-1]

        def med(vals: list[float], scale: float = 1.0) -> str | None:
            return (f"{statistics.median(vals) * scale:.0f}" if scale != 1.0 else
                    f"{statistics.median(vals):.2f}") if vals else None

        def share(w: Week, q: str) -> str | None:
            yes, n = w.qualities[q]
            return f"{100 * yes / n:.0f}% of {n}" if n else None

        rows: list[tuple[str, Callable[[Week], Any]]] = [
            ("week starting", lambda w: f"{w.start:%d %b %Y}"),
            (f"{self.period_words} in the week", lambda w: w.days),
            (f"sessions a day (over those {self.period_words})",
             lambda w: None if w.per_day() is None else f"{w.per_day():.1f}"),
            ("sessions (followed by the camera)", lambda w: f"{w.sessions} ({w.sessions_followed})"),
            ("movements (in followed sessions)", lambda w: f"{w.movements} ({w.movements_followed})"),
            ("coactivation, median of followed movements (lower is better)", lambda w: med(w.coactivation)),
            ("eye ratio in mouth movements, median (closer to 1 is better)", lambda w: med(w.eye_ratio)),
            ("face tracked, median % of frames in followed movements", lambda w: med(w.face_share, 100)),
            *((f"{q}: share of judged followed movements", lambda w, q=q: share(w, q)) for q in QUALITIES),
        ]
        return [(label, fn(a), fn(b)) for label, fn in rows]


def compute(sessions: Sequence[Mapping[str, Any]], reps: Sequence[Mapping[str, Any]],
            day_of: Callable[[str], date], period: tuple[date, date] | None = None,
            period_words: str | None = None, session_key: str = "id") -> Figures:
    """The figures of ``sessions`` and ``reps`` (dict rows, the store's column names).

    A row may stand for ``n`` rows counted in a database: a session row then says whether
    they were ``followed``, a rep row carries no numbers (movements the camera did not follow).
    ``day_of`` turns a stored UTC time into the local day. ``period``: the days of the loan;
    None takes the first to the last session's day. Reps carry their session's id under
    ``session_key`` (``session_id`` on a unit, ``session_uid`` on the desk); without it a
    session counts as followed when any rep of its day was (older rows).
    """
    days = [day_of(s["started_utc"]) for s in sessions]
    first, last = period if period else ((min(days), max(days)) if days else (None, None))
    fig = Figures(first, last, period_words or ("days of the loan" if period else "days with records"))
    if first is None or last is None:
        return fig
    weeks: dict[date, Week] = {}
    d = first
    while d <= last:  # every week of the period, with its days inside it
        start = d - timedelta(days=d.weekday())
        weeks.setdefault(start, Week(start)).days += 1
        d += timedelta(days=1)

    def week(day: date) -> Week:
        start = day - timedelta(days=day.weekday())
        if start not in weeks:  # a record outside the period (a clock set wrong): its own week
            weeks[start] = Week(start)
        return weeks[start]

    followed: set[Any] = set()
    for r in reps:
        if r["status"] != "done":
            continue
        w = week(day_of(r["ended_utc"]))
        n = r.get("n", 1)  # counted in the database: n movements the camera did not follow
        fig.movements += n
        w.movements += n
        face = _num(r.get("face_share")) if n == 1 else None
        if face is None:
            continue
        followed.add(r.get(session_key))
        fig.movements_followed += 1
        w.movements_followed += 1
        fig.face_share.append(face)
        w.face_share.append(face)
        if (v := _num(r.get("coactivation"))) is not None:
            w.coactivation.append(v)
        if (v := _num(r.get("eye_ratio"))) is not None and (r.get("target_region") or "") != "eye":
            w.eye_ratio.append(v)
        for q in QUALITIES:
            if (flag := _flag(r.get(q))) is not None:
                w.qualities[q][1] += 1
                w.qualities[q][0] += int(flag)
    practised: set[date] = set()
    for s, day in zip(sessions, days, strict=True):
        n = s.get("n", 1)
        fig.sessions += n
        fig.by_status[s["status"]] = fig.by_status.get(s["status"], 0) + n
        practised.add(day)
        w = week(day)
        w.sessions += n
        if s["followed"] if "followed" in s else s.get(_own_key(session_key)) in followed:
            fig.sessions_followed += n
            w.sessions_followed += n
    fig.days_practised = len(practised)
    fig.weeks = [weeks[k] for k in sorted(weeks) if weeks[k].days or weeks[k].sessions]
    return fig


def _own_key(session_key: str) -> str:
    """The session row's own column that a rep's ``session_key`` refers to."""
    return {"session_uid": "uid", "session_id": "id"}.get(session_key, session_key)


# ---------------------------------------------------------------- the charts' per-day numbers

Daily = dict[str, list[tuple[date, float, int]]]


@dataclass
class ReportData:
    """Per-day numbers the charts draw (all derived from the records)."""

    unit_id: str
    first_day: date | None
    last_day: date | None
    generated: str
    alias: str = ""
    affected_side: str = ""
    prescription: str = ""
    sessions_by_status: dict[str, int] = field(default_factory=dict)
    reps_done: int = 0
    sessions_per_day: dict[date, int] = field(default_factory=dict)
    prescribed_per_day: int | None = None
    # pattern id -> [(day, median, n)]
    coactivation: Daily = field(default_factory=dict)
    target_mm: Daily = field(default_factory=dict)
    eye_ratio: Daily = field(default_factory=dict)
    face_share: list[tuple[date, float, int]] = field(default_factory=list)
    # week start (Monday) -> (scheduled breaks, requested breaks)
    breaks_per_week: dict[date, tuple[int, int]] = field(default_factory=dict)
    # days on which the prescribed plan changed (marked on every dated chart)
    changes: list[date] = field(default_factory=list)
    # region -> reps in which it was the quiet region that moved most
    quiet_moved: dict[str, int] = field(default_factory=dict)
    # pattern id -> quality -> (yes, judged); judged == 0 means "not measured"
    qualities: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    # drawing for a web page: over long periods only the weekly lines (no daily dots)
    web: bool = False
    # what the headline and tables count (tracked sessions, days of the loan): see compute()
    figures: Figures = field(default_factory=Figures)
    # the weekly check-ins (station.clinic.checkin_figures.CheckinData), when there are any
    checkins: Any = None


def _daily(values: Mapping[tuple[str, date], list[float]]) -> Daily:
    out: Daily = defaultdict(list)
    for (pid, day), vals in sorted(values.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        out[pid].append((day, statistics.median(vals), len(vals)))
    return dict(out)


def _num(v: Any) -> float | None:
    """The record schema's number reader, with a fast path for the desk's float rows."""
    if v.__class__ is float:  # the desk's rows: already a number (inf - inf and nan are not 0)
        return v if v - v == 0 else None
    return schema.as_float(v)


def _flag(v: Any) -> bool | None:
    """The record schema's yes/no reader, with a fast path for the desk's bool rows."""
    if v is None or v is True or v is False:
        return v
    return schema.as_flag(v)


quiet_region = schema.quiet_region  # one reading of "which quiet region moved" (records.schema)


def day_cache(tz: tzinfo | None = None) -> Callable[[str], date]:
    """The local day of a stored UTC time, parsed once per ten minutes of the clock (a year of
    rows has a few hundred thousand times but only some ten thousand distinct ten minutes)."""
    cache: dict[str, date] = {}

    def day_of(text: str) -> date:
        key = text[:15]  # 2026-05-04T10:2 (time zones differ from UTC by whole quarter hours)
        day = cache.get(key)
        if day is None:
            day = local_date(text, tz).date()
            if len(text) >= 16 and text[10] == "T":
                cache[key] = day
        return day

    return day_of


def report_data(
    unit_id: str,
    sessions: Sequence[Mapping[str, Any]],
    reps: Sequence[Mapping[str, Any]],
    break_events: Sequence[Mapping[str, Any]] | None,
    generated: str,
    tz: tzinfo | None = None,
    *,
    alias: str = "",
    affected_side: str = "",
    prescription: str = "",
    prescribed_per_day: int | None = None,
    changes: Sequence[date] | None = None,
    period: tuple[date, date] | None = None,
    period_words: str | None = None,
    session_key: str = "session_id",
) -> ReportData:
    """Aggregate rows (dict-like, column names as in the store) into per-day numbers.

    ``break_events``: the store's ``break_started`` events; None takes the per-session
    ``breaks_scheduled``/``breaks_requested`` counts instead (as the export CSV has them).
    ``changes``: days the prescription changed; None finds them in the sessions' plans.
    ``period``, ``period_words``, ``session_key``: see :func:`compute` (the figures).
    """
    data = ReportData(unit_id, None, None, generated, alias=alias, affected_side=affected_side,
                      prescription=prescription, prescribed_per_day=prescribed_per_day)
    day_of = day_cache(tz)
    days: list[date] = []
    weeks: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    found_changes: list[date] = []
    last_plan: Any = None
    for s in sessions:
        day = day_of(s["started_utc"])
        n = s.get("n", 1)  # a row may stand for n sessions (the desk counts in its database)
        days.append(day)
        data.sessions_by_status[s["status"]] = data.sessions_by_status.get(s["status"], 0) + n
        data.sessions_per_day[day] = data.sessions_per_day.get(day, 0) + n
        plan = s.get("plan_json") or s.get("plan_source")
        if plan and last_plan is not None and plan != last_plan and (
                not found_changes or found_changes[-1] != day):
            found_changes.append(day)
        last_plan = plan or last_plan
        if break_events is None:
            week = day - timedelta(days=day.weekday())
            weeks[week][0] += int(_num(s.get("breaks_scheduled")) or 0)
            weeks[week][1] += int(_num(s.get("breaks_requested")) or 0)
    data.changes = sorted(changes) if changes is not None else found_changes
    if days:
        data.first_day, data.last_day = min(days), max(days)
    co: dict[tuple[str, date], list[float]] = defaultdict(list)
    tgt: dict[tuple[str, date], list[float]] = defaultdict(list)
    eye: dict[tuple[str, date], list[float]] = defaultdict(list)
    face: dict[date, list[float]] = defaultdict(list)
    moved: dict[str, int] = defaultdict(int)
    quals: dict[str, dict[str, list[int]]] = defaultdict(lambda: {q: [0, 0] for q in QUALITIES})
    for r in reps:
        if r["status"] != "done":
            continue
        if "n" in r:  # n movements counted in the database, without their numbers
            data.reps_done += r["n"]
            continue
        data.reps_done += 1
        pid = r["pattern_id"] or "?"
        day = day_of(r["ended_utc"])
        if (v := _num(r.get("coactivation"))) is not None:
            co[(pid, day)].append(v)
        if (v := _num(r.get("target_mm"))) is not None:
            tgt[(pid, day)].append(v)
        if (v := _num(r.get("eye_ratio"))) is not None and (r.get("target_region") or "") != "eye":
            eye[(pid, day)].append(v)
        if (v := _num(r.get("face_share"))) is not None:
            face[day].append(v)
        if (region := quiet_region(r)) is not None:
            moved[region] += 1
        judged = quals[pid]  # every practised pattern gets a row, "not measured" if need be
        for q in QUALITIES:
            flag = _flag(r.get(q))
            if flag is not None:
                judged[q][1] += 1
                judged[q][0] += int(flag)
    data.coactivation, data.target_mm, data.eye_ratio = _daily(co), _daily(tgt), _daily(eye)
    data.face_share = _daily({("all", d): v for d, v in face.items()}).get("all", [])
    data.quiet_moved = dict(moved)
    data.qualities = {p: {q: (v[0], v[1]) for q, v in qs.items()} for p, qs in quals.items()}
    for e in break_events or ():
        day = day_of(e["at_utc"])
        week = day - timedelta(days=day.weekday())
        weeks[week][1 if e["requested"] else 0] += 1
    data.breaks_per_week = {w: (v[0], v[1]) for w, v in sorted(weeks.items())}
    data.figures = compute(sessions, reps, day_of, period, period_words, session_key)
    return data
