"""Progress sentences and counts: pure functions over rows, honest with little data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from station.practice.plan import library
from station.records.progress import count_sessions, home_info_from_rows, trend_sentence
from station.records.store import utc_iso

SMILE = library()["small_smile"]
EYE = library()["eye_closure"]
NOW = datetime(2025, 6, 10, 18, 0, tzinfo=UTC)


def test_trend_sentences_cover_every_case():
    assert trend_sentence(SMILE, [0.4] * 8, [0.25] * 8) == (
        "Your eye and brow have stayed quieter during smiles this week than last.")
    assert trend_sentence(SMILE, [0.25] * 8, [0.4] * 8) == (
        "Your eye and brow moved a little more during smiles this week. Go slower and smaller.")
    assert trend_sentence(SMILE, [0.30] * 8, [0.29] * 8) == (
        "Your eye and brow have stayed about as quiet during smiles as last week. Keep going.")
    assert trend_sentence(EYE, [0.4] * 8, [0.1] * 3) == (
        "Keep going with eye closures: small, slow and quiet is the aim.")
    assert trend_sentence(EYE, [], []) == (
        "Try a few slow eye closures today: small, slow and quiet is the aim.")
    assert trend_sentence(SMILE, [0.4] * 2, [0.2] * 7, (5, 7)) == (
        "Your eye and brow stayed quiet in 5 of 7 smiles this week.")
    assert trend_sentence(library()["ee"], [0.4] * 8, [0.2] * 8).startswith("Your eye has stayed")


def test_counts_use_local_days_and_the_last_seven_days():
    tz = timezone(timedelta(hours=2))
    starts = [utc_iso(NOW - timedelta(hours=h)) for h in (1, 3, 17, 30, 24 * 6 + 1, 24 * 8)]
    # local time 20:00; 17 h ago is 03:00 local the same day
    assert count_sessions(starts, NOW, tz) == (3, 5)
    assert count_sessions([], NOW, tz) == (0, 0)


def test_home_info_from_rows_compares_this_week_with_last():
    reps = []
    for d in range(14):
        when = utc_iso(NOW - timedelta(days=d, hours=1))
        co = 0.2 if d < 7 else 0.4
        for _ in range(2):
            reps.append({"pattern_id": "small_smile", "status": "done", "coactivation": co,
                         "ended_utc": when, "quiet_moved": 0})
    reps.append({"pattern_id": "small_smile", "status": "interrupted", "coactivation": 0.9,
                 "ended_utc": utc_iso(NOW), "quiet_moved": 1})
    info = home_info_from_rows([utc_iso(NOW)], reps, [SMILE, EYE, SMILE], NOW, UTC)
    assert info.sessions_today == 1
    assert info.trend_sentences == (
        "Your eye and brow have stayed quieter during smiles this week than last.",
        "Try a few slow eye closures today: small, slow and quiet is the aim.")
