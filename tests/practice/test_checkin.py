"""The check-in engine, on a fake clock: schedule, quality-gate repeats, pauses, breaks, endings."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from station.practice import words
from station.practice.checkin import (
    MOVEMENTS,
    QUICK_TIMING,
    TRANSITIONS,
    CheckinEngine,
    CheckinFinished,
    CheckinTiming,
    Event,
    Ignored,
    InvalidTime,
    MovementDone,
    Output,
    Phase,
    PhaseStarted,
    SettleEnded,
    Status,
    TryAccepted,
    TryEnded,
    TryInterrupted,
    TryRejected,
)

T = CheckinTiming(settle_s=4, neutral_s=5, intro_s=8, move_s=2, hold_s=3, release_s=2, rest_s=3,
                  judge_s=2, repeat_s=4)
Verdict = Callable[[TryEnded], tuple[Event, str] | None]


def ok(_: TryEnded) -> tuple[Event, str]:
    return Event.TRY_OK, ""


def run(eng: CheckinEngine, verdict: Verdict = ok, calibrate_at: float | None = 1.0,
        until: float = 10_000.0) -> list[Output]:
    """Drive a check-in to its end on a fake clock, answering each TryEnded with ``verdict``."""
    outs = eng.handle(Event.SHORT_PRESS, 0.0)
    calibrated = calibrate_at is None
    while eng.phase not in (Phase.HOME, Phase.SUMMARY):
        nxt = eng.next_deadline()
        assert nxt is not None and nxt <= until
        if not calibrated and calibrate_at is not None and nxt > calibrate_at:
            calibrated = True
            new = eng.handle(Event.CALIBRATED, calibrate_at)
        else:
            new = eng.tick(nxt)
        outs += new
        for o in new:
            if isinstance(o, TryEnded):
                answer = verdict(o)
                if answer is not None:
                    outs += eng.handle(answer[0], o.at, answer[1])
    return outs


def of(outs: list[Output], kind: type) -> list:
    return [o for o in outs if isinstance(o, kind)]


def test_every_movement_three_full_tries_then_summary_exactly_on_time() -> None:
    eng = CheckinEngine(T)
    outs = run(eng)
    assert [m.id for m in MOVEMENTS] == ["brow_lift", "eye_closure", "open_smile", "snarl", "lip_pucker"]
    assert len(of(outs, TryAccepted)) == 15 and not of(outs, TryRejected)
    done = of(outs, MovementDone)
    assert [(d.movement_index, d.complete, d.accepted) for d in done] == [(i, True, 3) for i in range(5)]
    fin = of(outs, CheckinFinished)
    assert fin[0].status is Status.COMPLETE
    # settle 4 + neutral 5 + 5 x (intro 8 + 3 x (2 + 3 + 2 + 3)), judged at once
    assert fin[0].at == pytest.approx(4 + 5 + 5 * (8 + 30))
    phases = [(p.phase, p.movement_index, p.try_index) for p in of(outs, PhaseStarted)]
    assert phases[:8] == [(Phase.SETTLE, None, None), (Phase.NEUTRAL, None, None),
                          (Phase.INTRO, 0, None), (Phase.MOVE, 0, 0), (Phase.HOLD, 0, 0),
                          (Phase.RELEASE, 0, 0), (Phase.REST, 0, 0), (Phase.JUDGE, 0, 0)]
    assert phases[-1] == (Phase.SUMMARY, None, None)
    hold = next(p for p in of(outs, PhaseStarted) if p.phase is Phase.HOLD)
    assert hold.at == 4 + 5 + 8 + 2 and hold.duration_s == 3


def test_a_coarse_clock_keeps_phase_boundaries_exact() -> None:
    eng = CheckinEngine(T)
    outs = eng.handle(Event.SHORT_PRESS, 0.0) + eng.handle(Event.CALIBRATED, 0.5)
    outs += eng.tick(28.3)  # one late tick crosses settle, neutral, intro and a whole try
    starts = [(p.phase, p.at) for p in of(outs, PhaseStarted)]
    assert starts == [(Phase.SETTLE, 0.0), (Phase.NEUTRAL, 4.0), (Phase.INTRO, 9.0), (Phase.MOVE, 17.0),
                      (Phase.HOLD, 19.0), (Phase.RELEASE, 22.0), (Phase.REST, 24.0), (Phase.JUDGE, 27.0)]
    assert of(outs, TryEnded)[0].at == 27.0


def test_a_bad_try_is_repeated_and_never_counted() -> None:
    bad_once = {(0, 1)}

    def verdict(o: TryEnded) -> tuple[Event, str]:
        if (o.movement_index, o.try_index) in bad_once and o.attempt == 0:
            return Event.TRY_BAD, "turned"
        return Event.TRY_OK, ""

    eng = CheckinEngine(T)
    outs = run(eng, verdict)
    rej = of(outs, TryRejected)
    assert [(r.movement_index, r.try_index, r.attempt, r.reason, r.repeat) for r in rej] == [(0, 1, 0, "turned", True)]
    repeat = [p for p in of(outs, PhaseStarted) if p.phase is Phase.REPEAT]
    assert [(p.movement_index, p.try_index, p.attempt) for p in repeat] == [(0, 1, 1)]
    again = [p for p in of(outs, PhaseStarted) if p.phase is Phase.MOVE and p.attempt == 1]
    assert again[0].at == repeat[0].at + T.repeat_s
    acc = [(a.movement_index, a.try_index, a.attempt) for a in of(outs, TryAccepted) if a.movement_index == 0]
    assert acc == [(0, 0, 0), (0, 1, 1), (0, 2, 0)]
    assert eng.progress[0].complete is True and eng.progress[0].repeats == 1
    assert of(outs, CheckinFinished)[0].at == pytest.approx(4 + 5 + 5 * 38 + T.repeat_s + 10)
    assert words.checkin_repeat("turned") != words.checkin_repeat("no_face")


def test_after_two_repeats_the_movement_is_incomplete_and_the_next_one_starts() -> None:
    def verdict(o: TryEnded) -> tuple[Event, str]:
        return (Event.TRY_BAD, "eyes") if o.movement_index == 1 and o.try_index >= 1 else (Event.TRY_OK, "")

    eng = CheckinEngine(T)
    outs = run(eng, verdict)
    rej = [(r.try_index, r.attempt, r.repeat) for r in of(outs, TryRejected)]
    assert rej == [(1, 0, True), (1, 1, True), (1, 2, False)]
    done = {d.movement_index: (d.complete, d.accepted) for d in of(outs, MovementDone)}
    assert done[1] == (False, 1) and all(done[i] == (True, 3) for i in (0, 2, 3, 4))
    gave_up = of(outs, TryRejected)[-1].at
    nxt = [p for p in of(outs, PhaseStarted) if p.at == gave_up and p.phase is Phase.INTRO]
    assert nxt and nxt[0].movement_index == 2  # the third try of movement 1 is never asked for
    assert not [p for p in of(outs, PhaseStarted) if p.movement_index == 1 and p.try_index == 2]
    assert of(outs, CheckinFinished)[0].status is Status.COMPLETE


def test_a_verdict_that_never_comes_counts_as_bad() -> None:
    eng = CheckinEngine(T)
    outs = run(eng, lambda o: None)
    rej = of(outs, TryRejected)
    assert rej and all(r.reason == "not judged" for r in rej)
    assert rej[0].at == of(outs, TryEnded)[0].at + T.judge_s
    assert all(not d.complete and d.accepted == 0 for d in of(outs, MovementDone))
    assert len(rej) == 5 * 3  # per movement: the first try and its two repeats


def test_no_baseline_ends_the_checkin_with_nothing_measured() -> None:
    eng = CheckinEngine(T)
    outs = run(eng, calibrate_at=10_000.0)
    assert of(outs, SettleEnded)[0].calibrated is False
    assert of(outs, CheckinFinished)[0] == CheckinFinished(T.settle_max_s, Status.NO_BASELINE)
    assert not of(outs, TryEnded)
    eng = CheckinEngine(T)
    outs = eng.handle(Event.SHORT_PRESS, 0.0) + eng.handle(Event.CALIBRATION_UNAVAILABLE, 1.0)
    outs += eng.tick(T.settle_s)
    assert of(outs, CheckinFinished)[0].status is Status.NO_BASELINE and eng.phase is Phase.SUMMARY
    assert eng.handle(Event.SHORT_PRESS, 5.0) and eng.phase is Phase.HOME


def test_calibration_after_settle_time_goes_on_at_once() -> None:
    eng = CheckinEngine(T)
    eng.handle(Event.SHORT_PRESS, 0.0)
    assert eng.tick(5.0) == [] and eng.view(5.0).waiting_for_calibration
    outs = eng.handle(Event.CALIBRATED, 6.5)
    assert of(outs, SettleEnded)[0].calibrated and eng.phase is Phase.NEUTRAL
    assert of(outs, PhaseStarted)[0].at == 6.5


def test_a_pause_in_a_hold_starts_that_try_again_after_resume() -> None:
    eng = CheckinEngine(T)
    eng.handle(Event.SHORT_PRESS, 0.0)
    eng.handle(Event.CALIBRATED, 1.0)
    eng.tick(20.0)  # 9 + 8 intro -> move at 17, hold at 19
    assert eng.phase is Phase.HOLD
    outs = eng.handle(Event.SHORT_PRESS, 20.5)
    assert of(outs, TryInterrupted) == [TryInterrupted(20.5, 0, 0)] and eng.phase is Phase.PAUSED
    assert eng.view(30.0).shown is Phase.HOLD
    outs = eng.handle(Event.SHORT_PRESS, 60.0)
    start = of(outs, PhaseStarted)[0]
    assert (start.phase, start.movement_index, start.try_index, start.attempt, start.at) == (Phase.MOVE, 0, 0, 0, 60.0)
    assert eng.progress[0].repeats == 0


def test_a_pause_in_the_neutral_rest_takes_the_whole_rest_again() -> None:
    eng = CheckinEngine(T)
    eng.handle(Event.SHORT_PRESS, 0.0)
    eng.handle(Event.CALIBRATED, 1.0)
    eng.tick(6.0)
    eng.handle(Event.SHORT_PRESS, 7.0)
    outs = eng.handle(Event.SHORT_PRESS, 8.0)
    assert of(outs, PhaseStarted)[0].phase is Phase.NEUTRAL and eng.next_deadline() == 8.0 + T.neutral_s


def test_a_release_break_then_the_try_again() -> None:
    eng = CheckinEngine(T)
    eng.handle(Event.SHORT_PRESS, 0.0)
    eng.handle(Event.CALIBRATED, 1.0)
    eng.tick(18.0)
    outs = eng.handle(Event.LONG_PRESS, 18.0)
    assert eng.phase is Phase.BREAK and of(outs, TryInterrupted)
    assert eng.next_deadline() == 18.0 + T.break_s
    outs = eng.handle(Event.LONG_PRESS, 25.0)  # ends the break early
    assert of(outs, PhaseStarted)[0].phase is Phase.MOVE and eng.phase is Phase.MOVE
    eng2 = CheckinEngine(T)
    eng2.handle(Event.SHORT_PRESS, 0.0)
    eng2.handle(Event.CALIBRATED, 1.0)
    eng2.tick(18.0)
    eng2.handle(Event.LONG_PRESS, 18.0)
    outs = eng2.tick(18.0 + T.break_s)  # or by itself
    assert of(outs, PhaseStarted)[0].phase is Phase.MOVE


def test_intro_press_continues_pause_timeout_abandons_time_must_not_go_back() -> None:
    eng = CheckinEngine(T)
    eng.handle(Event.SHORT_PRESS, 0.0)
    eng.handle(Event.CALIBRATED, 1.0)
    eng.tick(10.0)
    assert eng.phase is Phase.INTRO
    assert of(eng.handle(Event.SHORT_PRESS, 11.0), PhaseStarted)[0].phase is Phase.MOVE
    eng.handle(Event.SHORT_PRESS, 12.0)
    outs = eng.tick(12.0 + T.pause_timeout_s)
    assert of(outs, CheckinFinished)[0].status is Status.ABANDONED and eng.phase is Phase.HOME
    with pytest.raises(InvalidTime):
        eng.tick(1.0)
    assert of(eng.handle(Event.TRY_OK, 400.0), Ignored)  # a verdict at home is ignored, not an error


def test_the_table_covers_every_phase_and_the_words_every_movement() -> None:
    assert set(TRANSITIONS) == set(Phase)
    for m in MOVEMENTS:
        text = words.checkin_intro(m.id)
        assert words.CHECKIN_FULL_NOTE in text and len(text.split()) < 30
    for reason in ("turned", "no_face", "eyes", "frames"):
        assert words.checkin_repeat(reason).startswith("Let's do that one again.")
    assert QUICK_TIMING.tries == 3 and QUICK_TIMING.neutral_s == 5.0


def test_face_changes_are_reported_once() -> None:
    eng = CheckinEngine(T)
    eng.handle(Event.SHORT_PRESS, 0.0)
    assert len(eng.handle(Event.FACE_LOST, 0.5)) == 1 and eng.handle(Event.FACE_LOST, 0.6) == []
    assert eng.handle(Event.FACE_FOUND, 0.7)[0].visible is True  # type: ignore[attr-defined]
