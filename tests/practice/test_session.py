"""The session engine with a fake clock: exact phase timing, pauses, breaks, abuse."""

from __future__ import annotations

import random

import pytest

from station.practice.events import (
    BreakEnded,
    BreakStarted,
    Event,
    Ignored,
    InvalidTime,
    Paused,
    PhaseStarted,
    RepDone,
    RepInterrupted,
    Resumed,
    SessionFinished,
    SessionStatus,
    SettleEnded,
    State,
    Timing,
)
from station.practice.plan import default_plan, library, make_plan
from station.practice.session import TRANSITIONS, Engine


def run_until(eng: Engine, state: State, t: float, step: float = 0.25, limit: float = 10_000) -> tuple[float, list]:
    outs = []
    while eng.state is not state:
        t += step
        outs += eng.tick(t)
        assert t < limit, f"never reached {state}"
    return t, outs


def phase_durations(outs: list) -> list[tuple[str, float]]:
    """Duration of each started phase, measured between PhaseStarted outputs minus pauses."""
    starts = [o for o in outs if isinstance(o, PhaseStarted)]
    result = []
    for a, b in zip(starts, starts[1:], strict=False):
        paused = sum(o.paused_s for o in outs if isinstance(o, Resumed) and a.at <= o.at <= b.at)
        result.append((a.phase.value, b.at - a.at - paused))
    return result


def test_full_default_session_timing_matches_plan_exactly():
    eng = Engine(default_plan(), Timing())
    outs = eng.handle(Event.SHORT_PRESS, 0.0)
    t, more = run_until(eng, State.SUMMARY, 0.0, step=0.125)
    outs += more
    planned = [(s.state.value, s.duration_s) for s in eng.schedule]
    assert phase_durations(outs)[: len(planned)] == planned
    assert sum(isinstance(o, RepDone) for o in outs) == 6
    assert outs[-2] == SessionFinished(eng.planned_s, SessionStatus.COMPLETE)
    assert 100 <= eng.planned_s <= 180  # about two and a half minutes with intros one can follow


def test_pause_mid_hold_keeps_remaining_time():
    eng = Engine(default_plan(), Timing())
    eng.handle(Event.SHORT_PRESS, 0.0)
    t, outs = run_until(eng, State.HOLD, 0.0, step=0.5)
    t += 1.0
    eng.tick(t)
    outs += eng.handle(Event.SHORT_PRESS, t)
    assert eng.state is State.PAUSED and isinstance(outs[-1], Paused)
    t += 300.0
    outs += eng.tick(t)
    assert eng.state is State.PAUSED
    outs += eng.handle(Event.SHORT_PRESS, t)
    assert eng.state is State.HOLD and isinstance(outs[-1], Resumed)
    t2, more = run_until(eng, State.RELEASE, t, step=0.5)
    hold = [d for d in phase_durations(outs + more) if d[0] == "hold"][0]
    assert hold[1] == pytest.approx(3.0, abs=1e-9)


def test_requested_break_repeats_interrupted_rep():
    eng = Engine(default_plan(), Timing(break_s=20))
    eng.handle(Event.SHORT_PRESS, 0.0)
    t, _ = run_until(eng, State.MOVE, 0.0)
    outs = eng.handle(Event.LONG_PRESS, t + 1)
    assert [type(o) for o in outs] == [RepInterrupted, PhaseStarted, BreakStarted]
    assert outs[2].requested
    more = eng.tick(t + 21)
    assert isinstance(more[0], BreakEnded) and not more[0].early
    assert eng.state is State.MOVE and eng.view(t + 21).rep == 0


def test_long_press_in_break_ends_it_early():
    eng = Engine(default_plan(), Timing())
    eng.handle(Event.SHORT_PRESS, 0.0)
    t, _ = run_until(eng, State.BREAK, 0.0)
    outs = eng.handle(Event.LONG_PRESS, t + 2)
    assert BreakEnded(t + 2, True) in outs
    assert eng.state is State.INTRO and eng.view(t + 2).pattern_index == 1


def test_pause_timeout_abandons_session():
    eng = Engine(default_plan(), Timing(pause_timeout_s=600))
    eng.handle(Event.SHORT_PRESS, 0.0)
    eng.handle(Event.SHORT_PRESS, 5.0)
    outs = eng.tick(700.0)
    assert SessionFinished(605.0, SessionStatus.ABANDONED) in outs
    assert eng.state is State.HOME


def test_a_tick_at_the_pause_deadline_abandons_the_session():
    # next_deadline() says paused_at + timeout; a fake clock ticks exactly then. For this start,
    # (t + 300) - t < 300 in floating point: the engine once ignored that tick for ever (the
    # record generator hung after 548 sessions of generate(days=200, seed=7)).
    t0 = 1048406.6929984317 - 5.0
    eng = Engine(default_plan(), Timing(pause_timeout_s=300.0))
    eng.handle(Event.SHORT_PRESS, t0)
    eng.handle(Event.SHORT_PRESS, t0 + 5.0)
    assert eng.state is State.PAUSED
    deadline = eng.next_deadline()
    assert deadline - (t0 + 5.0) < 300.0  # the float trap this test is about
    outs = eng.tick(deadline)
    assert any(isinstance(o, SessionFinished) for o in outs) and eng.state is State.HOME


def test_settle_waits_for_calibration_then_gives_up():
    eng = Engine(default_plan(), Timing(settle_s=8, settle_max_s=30, needs_calibration=True))
    eng.handle(Event.SHORT_PRESS, 0.0)
    eng.tick(10.0)
    assert eng.state is State.SETTLE and eng.view(10.0).waiting_for_calibration
    outs = eng.handle(Event.CALIBRATED, 12.0)
    assert eng.state is State.INTRO and outs[-1].at == 12.0
    eng2 = Engine(default_plan(), Timing(settle_s=8, settle_max_s=30, needs_calibration=True))
    eng2.handle(Event.SHORT_PRESS, 0.0)
    eng2.tick(31.0)
    assert eng2.state is State.INTRO


def test_every_state_event_pair_is_safe():
    for state in State:
        for event in Event:
            eng = Engine(default_plan(), Timing())
            eng.handle(Event.SHORT_PRESS, 0.0)
            t, _ = (0.0, []) if state in (State.SETTLE,) else (0.0, [])
            # drive to the state
            if state is State.HOME:
                eng = Engine(default_plan(), Timing())
            elif state is State.PAUSED:
                eng.handle(Event.SHORT_PRESS, 1.0)
            elif state is not State.SETTLE:
                t, _ = run_until(eng, state, 0.0)
            outs = eng.handle(event, t + 2.0)
            assert eng.state in State
            handled = event in TRANSITIONS[state]
            quiet = (Event.TICK, Event.FACE_LOST, Event.FACE_FOUND, Event.CALIBRATION_UNAVAILABLE)
            if not handled and event not in quiet:
                assert any(isinstance(o, Ignored) for o in outs)


def test_random_abuse_never_breaks_invariants():
    rng = random.Random(7)
    plan = make_plan([("pucker", 2, {}), ("brow_lift", 1, {"hold_s": 5.0})], source="test")
    assert plan.items[1].pacing.hold_s == 5.0 and library()["pucker"].target == "lips"
    eng = Engine(plan, Timing())
    t = 0.0
    for _ in range(20_000):
        t += rng.choice([0.0, 0.05, 0.5, 3.0])
        ev = rng.choice(list(Event))
        eng.handle(ev, t)
        v = eng.view(t)
        assert 0.0 <= v.session_fraction <= 1.0
        assert v.phase_elapsed_s >= 0.0
        if eng.state is State.PAUSED:
            assert v.resume_state in (State.SETTLE, State.INTRO, State.MOVE, State.HOLD,
                                      State.RELEASE, State.REST, State.BREAK)


def test_time_going_backwards_is_a_caller_bug():
    eng = Engine(default_plan(), Timing())
    eng.tick(10.0)
    with pytest.raises(InvalidTime):
        eng.tick(9.0)


def test_settle_does_not_wait_when_tracking_is_unavailable():
    eng = Engine(default_plan(), Timing(settle_s=8, settle_max_s=30, needs_calibration=True))
    eng.handle(Event.SHORT_PRESS, 0.0)
    eng.handle(Event.CALIBRATION_UNAVAILABLE, 1.0)  # no camera: settle ends on time
    outs = eng.tick(8.0)
    assert eng.state is State.INTRO and SettleEnded(8.0, False) in outs
    eng2 = Engine(default_plan(), Timing(settle_s=8, settle_max_s=30, needs_calibration=True))
    eng2.handle(Event.SHORT_PRESS, 0.0)
    eng2.tick(9.0)  # already waiting past settle_s
    outs = eng2.handle(Event.CALIBRATION_UNAVAILABLE, 9.5)
    assert eng2.state is State.INTRO and SettleEnded(9.5, False) in outs


# ---- intros last as long as their words need ----------------------------------------------


def test_intro_length_comes_from_its_words_and_the_touch_hint():
    from dataclasses import replace

    from station.practice import words
    from station.practice.session import intro_duration

    t = Timing()
    p = library()["small_smile"]
    n = len(words.intro_text(p).split())
    expected = t.intro_look_s + 60 * n / t.intro_wpm + t.intro_touch_s
    assert intro_duration(p, t) == pytest.approx(expected, abs=0.25)
    # a longer text takes longer; without a touch hint there is no time to place a hand
    longer = replace(p, intro=p.intro + " Breathe out slowly and let your shoulders drop as well.")
    assert intro_duration(longer, t) > intro_duration(p, t) + 5
    no_touch = intro_duration(replace(p, touch_hint=""), t)
    words_in_hint = len(p.touch_hint.split())
    assert no_touch == pytest.approx(intro_duration(p, t) - t.intro_touch_s - 60 * words_in_hint / t.intro_wpm,
                                     abs=0.5)
    # within a sensible maximum; a fixed intro_s still wins
    huge = replace(p, intro=" ".join(["word"] * 200))
    assert intro_duration(huge, t) == t.intro_max_s
    assert intro_duration(p, Timing(intro_s=3.0)) == 3.0
    # every shipped pattern: long enough to read slowly and place a hand, never too long
    for pattern in library().values():
        assert 12.0 <= intro_duration(pattern, t) <= t.intro_max_s


def test_the_schedule_uses_each_intro_length():
    from station.practice.session import build_schedule, intro_duration

    plan = make_plan([("small_smile", 1, {}), ("brow_lift", 1, {})], source="test")
    intros = [s for s in build_schedule(plan, Timing()) if s.state is State.INTRO]
    assert [s.duration_s for s in intros] == [intro_duration(it.pattern, Timing()) for it in plan.items]
    assert intros[0].duration_s != intros[1].duration_s


def test_a_short_press_in_the_intro_continues_early():
    eng = Engine(default_plan(), Timing(settle_s=8))
    eng.handle(Event.SHORT_PRESS, 0.0)
    eng.tick(8.0)
    assert eng.state is State.INTRO
    outs = eng.handle(Event.SHORT_PRESS, 11.0)
    assert eng.state is State.MOVE
    assert [type(o).__name__ for o in outs] == ["PhaseStarted"] and outs[0].at == 11.0
    assert eng.view(11.0).rep == 0 and eng.counters.pauses == 0
    eng.tick(14.9)  # the move then lasts its full time
    assert eng.state is State.MOVE
    eng.tick(15.0)
    assert eng.state is State.HOLD
