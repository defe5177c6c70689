"""Progress for the patient: sessions counted and one honest sentence per pattern.

Slow change is the main reason people give up, so the home screen says plainly what the
records show: how many sessions today and in the last 7 days, and per prescribed pattern
whether the quiet regions stayed quieter this week than the week before (median coactivation,
quiet / (quiet + target)). With too little data it says so kindly instead of inventing a trend.
Pure functions over rows; the record store supplies the rows.

>>> from datetime import datetime, UTC
>>> from station.practice.plan import library
>>> trend_sentence(library()["small_smile"], [0.4] * 8, [0.2] * 8)
'Your eye and brow have stayed quieter during smiles this week than last.'
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from station.feedback import HomeInfo, PatternResult, RepStats
from station.practice import words
from station.practice.plan import Pattern, Plan
from station.practice.words import REGION_NOUN

MIN_REPS = 6  # scored reps a week needs before we speak of a trend
BETTER_ABS = 0.03  # a change in median coactivation smaller than this is "about the same"
BETTER_REL = 0.10


def pattern_words(pattern: Pattern) -> tuple[str, str]:
    """Singular and plural plain words for a pattern (one table: the words module)."""
    return words.pattern_nouns(pattern)


def quiet_words(pattern: Pattern) -> tuple[str, bool]:
    """The quiet regions in words ("eye and brow") and whether the phrase is plural."""
    words = [REGION_NOUN.get(r, r.replace("_", " ")) for r in pattern.quiet]
    if not words:
        return "face", False
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    plural = len(words) > 1 or words[0] == "lips"
    return text, plural


def trend_sentence(
    pattern: Pattern,
    last_week: Sequence[float],
    this_week: Sequence[float],
    quiet_count: tuple[int, int] | None = None,
) -> str:
    """One plain sentence comparing this week's coactivation values with last week's."""
    _one, many = pattern_words(pattern)
    quiet, plural = quiet_words(pattern)
    has = "have" if plural else "has"
    if len(this_week) < MIN_REPS:
        if not this_week:
            return words.TREND_TRY.format(many=many)
        return words.TREND_KEEP_GOING.format(many=many)
    if len(last_week) < MIN_REPS:
        if quiet_count is not None and quiet_count[1]:
            q, n = quiet_count
            return words.TREND_QUIET_IN.format(quiet=quiet, q=q, n=n, many=many)
        return words.TREND_KEEP_GOING.format(many=many)
    before = statistics.median(last_week)
    now = statistics.median(this_week)
    margin = max(BETTER_ABS, BETTER_REL * before)
    if before - now >= margin:
        return words.TREND_QUIETER.format(quiet=quiet, has=has, many=many)
    if now - before >= margin:
        return words.TREND_MORE.format(quiet=quiet, many=many)
    return words.TREND_SAME.format(quiet=quiet, has=has, many=many)


def _get(row: Mapping[str, Any] | Any, key: str) -> Any:
    try:
        return row[key]
    except (KeyError, IndexError):
        return None


def local_date(utc_text: str, tz: tzinfo | None = None) -> datetime:
    """A stored UTC ISO time in the unit's local time zone."""
    dt = datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
    return dt.astimezone(tz)


def count_sessions(
    session_starts: Iterable[str], wall: datetime, tz: tzinfo | None = None
) -> tuple[int, int]:
    """Sessions started today and in the last 7 days (today included), in local days."""
    today = wall.astimezone(tz).date()
    week_start = today - timedelta(days=6)
    n_today = n_week = 0
    for text in session_starts:
        day = local_date(text, tz).date()
        if day == today:
            n_today += 1
        if week_start <= day <= today:
            n_week += 1
    return n_today, n_week


def home_info_from_rows(
    session_starts: Sequence[str],
    reps: Sequence[Mapping[str, Any] | Any],
    patterns: Sequence[Pattern],
    wall: datetime,
    tz: tzinfo | None = None,
) -> HomeInfo:
    """HomeInfo from session start times (with a rep done) and rep rows of the last 2 weeks."""
    from station.records.store import utc_iso

    n_today, n_week = count_sessions(session_starts, wall, tz)
    week_ago = utc_iso(wall - timedelta(days=7))
    two_weeks_ago = utc_iso(wall - timedelta(days=14))
    sentences = []
    seen: set[str] = set()
    for pattern in patterns:
        if pattern.id in seen:
            continue
        seen.add(pattern.id)
        this_week: list[float] = []
        last_week: list[float] = []
        quiet = scored = 0
        for r in reps:
            if _get(r, "pattern_id") != pattern.id or _get(r, "status") != "done":
                continue
            co = _get(r, "coactivation")
            when = _get(r, "ended_utc") or ""
            if co is None:
                continue
            if when >= week_ago:
                this_week.append(float(co))
                scored += 1
                quiet += 0 if _get(r, "quiet_moved") else 1
            elif when >= two_weeks_ago:
                last_week.append(float(co))
        sentences.append(trend_sentence(pattern, last_week, this_week, (quiet, scored)))
    return HomeInfo(sessions_today=n_today, sessions_week=n_week,
                    trend_sentences=tuple(_said_once(sentences)))


AIM = ": small, slow and quiet is the aim."


def _said_once(sentences: list[str]) -> list[str]:
    """The aim is said once, on the last sentence that carries it, not on every line."""
    with_aim = [i for i, t in enumerate(sentences) if t.endswith(AIM)]
    return [t[: -len(AIM)] + "." if i in with_aim[:-1] else t for i, t in enumerate(sentences)]


def pattern_results(
    plan: Plan | None, stats: Sequence[RepStats], reps_done: Mapping[int, int]
) -> list[PatternResult]:
    """After a session: one sentence per pattern played (:func:`words.pattern_result`)."""
    if plan is None:
        return []
    results = []
    for index, item in enumerate(plan.items):
        mine = [s for s in stats if s.pattern_index == index]
        done = reps_done.get(index, 0)
        if mine or done:
            results.append(words.pattern_result(index, item.pattern, mine, done))
    return results
