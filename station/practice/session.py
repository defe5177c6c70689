"""The guided-session engine: a state machine with no I/O and no clock of its own.

Theory of operation
-------------------
A session walks a *schedule*: a flat list of timed steps built from the plan when the session
starts (settle, then per pattern an intro, per rep move / hold / release / rest, and a release
break at the end of each pattern), followed by the summary. Time only moves when the caller
says so: every event comes with ``now`` (seconds on any monotonic clock). A step that ends at
``t`` starts the next one *at* ``t``, not at the moment the caller happened to notice, so phase
durations match the plan exactly however coarse the ticks are.

Two kinds of input drive it:

* the button: a short press starts at home, pauses and resumes, continues from an intro as
  soon as the patient is ready, dismisses the summary; a long press takes a release break
  now, or ends a break early;
* the world: ticks, calibration finished (or unavailable: no camera or model, so settle
  ends on time), face lost / found.

Each call returns the *outputs* it caused (phase started, rep done, break started, paused,
session finished, ...). Records, sound and the screen follow those; the engine never calls them.
An event that does not fit the current state is not an error in the kiosk: it produces an
:class:`Ignored` output, which the caller logs.

An intro lasts as long as its words need (:func:`intro_duration`): a slow reading pace for
older adults, time to place a hand when there is a touch hint, within a maximum.

The whole behaviour is the table :data:`TRANSITIONS` (state x event -> handler). Pausing keeps
the remaining time of the interrupted step; resuming continues it. A rep is done (``RepDone``)
at the end of its rest, so that what follows it (the record, the rep's numbers) can judge
whether the face let go. A requested break in the middle of a rep's move, hold or release
abandons that rep (it is repeated after the break); a requested break during rest ends the
rep there (done) and replaces the end-of-pattern break when it is the pattern's last rest.

>>> from station.practice.plan import default_plan
>>> eng = Engine(default_plan(), Timing(settle_s=8))
>>> [type(o).__name__ for o in eng.handle(Event.SHORT_PRESS, now=100.0)]
['SessionStarted', 'PhaseStarted']
>>> eng.state
<State.SETTLE: 'settle'>
>>> eng.handle(Event.TICK, now=108.0)[-1].phase
<State.INTRO: 'intro'>
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from station.practice import words
from station.practice.events import (
    REP_PHASES,
    BreakEnded,
    BreakStarted,
    Counters,
    Event,
    FaceChanged,
    Ignored,
    InvalidTime,
    Output,
    PatternDone,
    Paused,
    PhaseStarted,
    RepDone,
    RepInterrupted,
    Resumed,
    SessionFinished,
    SessionStarted,
    SessionStatus,
    SettleEnded,
    State,
    SummaryDismissed,
    Timing,
    View,
)
from station.practice.plan import Pattern, Plan

# ---- the schedule ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One timed step of the schedule."""

    state: State
    pattern_index: int | None
    rep: int | None
    duration_s: float

    def in_pattern(self) -> int:
        """The pattern index of a step that belongs to a pattern (an intro, a rep, its break)."""
        if self.pattern_index is None:
            raise ValueError(f"a {self.state.value} step belongs to no pattern")
        return self.pattern_index

    def in_rep(self) -> tuple[int, int]:
        """(pattern index, rep) of a step that belongs to a rep (move, hold, release, rest)."""
        if self.rep is None:
            raise ValueError(f"a {self.state.value} step belongs to no rep")
        return self.in_pattern(), self.rep


def intro_duration(pattern: Pattern, timing: Timing) -> float:
    """Seconds for a pattern's intro: its words at ``intro_wpm``, plus time to place a hand.

    A fixed ``timing.intro_s`` (> 0) wins. The words counted are the ones the intro shows and
    speaks (:func:`station.practice.words.intro_text`).

    >>> from station.practice.plan import library
    >>> intro_duration(library()["small_smile"], Timing())
    18.0
    """
    if timing.intro_s > 0:
        return timing.intro_s
    n = len(words.intro_text(pattern).split())
    seconds = timing.intro_look_s + 60.0 * n / timing.intro_wpm
    if pattern.touch_hint.strip():
        seconds += timing.intro_touch_s
    # whole half seconds: exact in binary, so phase boundaries stay exact however long a session
    return round(min(timing.intro_max_s, max(timing.intro_min_s, seconds)) * 2) / 2


def build_schedule(plan: Plan, timing: Timing) -> tuple[Step, ...]:
    """Flatten a plan into the timed steps a session walks through."""
    steps = [Step(State.SETTLE, None, None, timing.settle_s)]
    for pi, item in enumerate(plan.items):
        steps.append(Step(State.INTRO, pi, None, intro_duration(item.pattern, timing)))
        for rep in range(item.reps):
            for st in REP_PHASES:
                steps.append(Step(st, pi, rep, item.pacing.of(st.value)))
        steps.append(Step(State.BREAK, pi, None, timing.break_s))
    return tuple(steps)


@dataclass
class _Cursor:
    pos: int = 0  # index into the schedule
    started_at: float = 0.0  # when the current step (or off-schedule break) began
    duration_s: float = 0.0
    extended: bool = False  # settle running past settle_s, waiting for calibration


class Engine:
    """One station's session engine. Feed it events with ``handle(event, now)``."""

    def __init__(self, plan: Plan, timing: Timing | None = None) -> None:
        self.plan = plan
        self.timing = timing or Timing()
        self.schedule: tuple[Step, ...] = build_schedule(plan, self.timing)
        self.planned_s: float = sum(s.duration_s for s in self.schedule)
        self.state: State = State.HOME
        self.face_visible: bool = True
        self.counters = Counters()
        self._cur = _Cursor()
        self._last_now: float | None = None
        self._calibrated_at: float | None = None
        self._no_calibration = False
        # requested break
        self._break_requested = False
        self._return_pos = 0
        # pause
        self._resume_state: State | None = None
        self._paused_at = 0.0
        self._remaining_s = 0.0

    # -- public ----------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Output]:
        """Apply ``event`` at time ``now``; return the outputs it caused, in order."""
        if self._last_now is not None and now < self._last_now:
            raise InvalidTime(f"time went backwards: {now} < {self._last_now}")
        self._last_now = now
        out: list[Output] = []
        if event in (Event.FACE_LOST, Event.FACE_FOUND):
            visible = event is Event.FACE_FOUND
            if visible != self.face_visible:
                self.face_visible = visible
                out.append(FaceChanged(now, visible))
            return out
        # Time first: a press at ``now`` lands in whatever step ``now`` falls into.
        if event is not Event.TICK:
            self._run_clock(now, out)
        handler = TRANSITIONS[self.state].get(event)
        if handler is None:
            if event not in (Event.TICK, Event.CALIBRATION_UNAVAILABLE):
                out.append(Ignored(now, self.state, event))
            return out
        handler(self, now, out)
        return out

    def tick(self, now: float) -> list[Output]:
        """Shorthand for ``handle(Event.TICK, now)``."""
        return self.handle(Event.TICK, now)

    def next_deadline(self) -> float | None:
        """When the next timed change happens if nothing else does (for fake clocks)."""
        if self.state is State.PAUSED:
            return self._paused_at + self.timing.pause_timeout_s
        if self.state is State.HOME:
            return None
        return self._cur.started_at + self._cur.duration_s

    def view(self, now: float) -> View:
        """A snapshot for the screen at ``now`` (does not change the engine)."""
        st = self.state
        step = self._step()
        shown = self._resume_state if st is State.PAUSED else st
        in_break_off_schedule = shown is State.BREAK and self._break_requested
        pattern_index = step.pattern_index if step and shown not in (State.HOME, State.SUMMARY) else None
        if in_break_off_schedule and pattern_index is None:
            pattern_index = None
        item = self.plan.items[pattern_index] if pattern_index is not None else None
        if st is State.PAUSED:
            elapsed = self._cur.duration_s - self._remaining_s
        elif st in (State.HOME,):
            elapsed = 0.0
        else:
            elapsed = max(0.0, now - self._cur.started_at)
        duration = self._cur.duration_s if st is not State.HOME else 0.0
        return View(
            state=st,
            resume_state=self._resume_state if st is State.PAUSED else None,
            pattern=item.pattern if item else None,
            pattern_index=pattern_index,
            pattern_count=len(self.plan.items),
            rep=step.rep if step and shown in REP_PHASES else None,
            reps=item.reps if item else None,
            phase_elapsed_s=min(elapsed, duration) if duration else elapsed,
            phase_duration_s=duration,
            session_fraction=self._fraction(elapsed),
            break_requested=in_break_off_schedule,
            waiting_for_calibration=shown is State.SETTLE and self._cur.extended,
            face_visible=self.face_visible,
            counters=self.counters,
        )

    @property
    def calibrating(self) -> bool:
        """True while the tracker should be taking the neutral baseline."""
        return self.state is State.SETTLE and self._calibrated_at is None

    # -- internals -------------------------------------------------------------------------

    def _step(self) -> Step | None:
        if self.state in (State.HOME, State.SUMMARY):
            return None
        pos = self._cur.pos
        return self.schedule[pos] if 0 <= pos < len(self.schedule) else None

    def _fraction(self, elapsed: float) -> float:
        if self.state is State.HOME:
            return 0.0
        if self.state is State.SUMMARY:
            return 1.0
        done = sum(s.duration_s for s in self.schedule[: self._cur.pos])
        if not self._break_requested:
            done += min(elapsed, self._cur.duration_s)
        return min(1.0, done / self.planned_s) if self.planned_s else 1.0

    def _enter(self, pos: int, at: float, out: list[Output]) -> None:
        """Start schedule step ``pos`` at ``at`` (or the summary past the end)."""
        self._break_requested = False
        if pos >= len(self.schedule):
            self._finish(SessionStatus.COMPLETE, at, out)
            return
        step = self.schedule[pos]
        self.state = step.state
        self._cur = _Cursor(pos=pos, started_at=at, duration_s=step.duration_s)
        if step.state is State.SETTLE:
            self._calibrated_at = None
            self._no_calibration = False
        out.append(PhaseStarted(at, step.state, step.pattern_index, step.rep, step.duration_s))
        if step.state is State.BREAK:
            out.append(BreakStarted(at, False, step.pattern_index))

    def _finish(self, status: SessionStatus, at: float, out: list[Output]) -> None:
        self.counters.finished_at = at
        self.counters.status = status
        out.append(SessionFinished(at, status))
        if status is SessionStatus.COMPLETE:
            self.state = State.SUMMARY
            self._cur = _Cursor(pos=len(self.schedule), started_at=at, duration_s=self.timing.summary_s)
            out.append(PhaseStarted(at, State.SUMMARY, None, None, self.timing.summary_s))
        else:
            self.state = State.HOME
            self._cur = _Cursor()
        self._resume_state = None

    def _step_done(self, at: float, out: list[Output]) -> None:
        """The current timed state ran out at ``at``: move on."""
        st = self.state
        if st is State.SUMMARY:
            self.state = State.HOME
            self._cur = _Cursor()
            out.append(SummaryDismissed(at))
            return
        waiting = not self._no_calibration and self._calibrated_at is None
        if st is State.SETTLE and self.timing.needs_calibration and waiting:
            if not self._cur.extended:
                self._cur.extended = True
                self._cur.duration_s = self.timing.settle_max_s
                return
            out.append(SettleEnded(at, False))
            self._enter(self._cur.pos + 1, at, out)
            return
        if st is State.SETTLE:
            out.append(SettleEnded(at, self._calibrated_at is not None or not self.timing.needs_calibration))
        step = self.schedule[self._cur.pos]
        if st is State.REST:  # a rep is move, hold, release and rest: released is judged at its end
            self.counters.reps_done += 1
            out.append(RepDone(at, *step.in_rep()))
        if st is State.BREAK:
            out.append(BreakEnded(at, False))
            if self._break_requested:
                self._enter(self._return_pos, at, out)
                return
            out.append(PatternDone(at, step.in_pattern()))
        self._enter(self._cur.pos + 1, at, out)

    def _run_clock(self, now: float, out: list[Output]) -> None:
        """Advance through every step whose deadline is at or before ``now``."""
        if self.state is State.PAUSED:
            deadline = self._paused_at + self.timing.pause_timeout_s  # as next_deadline() says it
            if now >= deadline:
                self.counters.paused_s += now - self._paused_at
                self._finish(SessionStatus.ABANDONED, deadline, out)
            return
        while self.state is not State.HOME:
            deadline = self._cur.started_at + self._cur.duration_s
            if now < deadline:
                return
            self._step_done(deadline, out)

    # -- handlers (the right-hand side of the table) ---------------------------------------

    def _on_tick(self, now: float, out: list[Output]) -> None:
        self._run_clock(now, out)

    def _on_start(self, now: float, out: list[Output]) -> None:
        self.counters = Counters(started_at=now)
        out.append(SessionStarted(now, self.plan.source, self.planned_s))
        self._enter(0, now, out)

    def _on_pause(self, now: float, out: list[Output]) -> None:
        self._resume_state = self.state
        self._paused_at = now
        self._remaining_s = self._cur.started_at + self._cur.duration_s - now
        self.state = State.PAUSED
        self.counters.pauses += 1
        out.append(Paused(now, self._resume_state))

    def _on_resume(self, now: float, out: list[Output]) -> None:
        assert self._resume_state is not None
        paused_s = now - self._paused_at
        self.counters.paused_s += paused_s
        self.state = self._resume_state
        self._resume_state = None
        # Shift the step so that its remaining time is what it was when paused.
        self._cur.started_at += paused_s
        out.append(Resumed(now, self.state, self._remaining_s, paused_s))

    def _on_break_now(self, now: float, out: list[Output]) -> None:
        step = self.schedule[self._cur.pos]
        st = self.state
        if st in (State.MOVE, State.HOLD, State.RELEASE):
            self.counters.reps_interrupted += 1
            out.append(RepInterrupted(now, *step.in_rep()))
            back = REP_PHASES.index(st)
            ret = self._cur.pos - back
        elif st is State.REST:  # the rep is done, only its rest is cut short
            self.counters.reps_done += 1
            out.append(RepDone(now, *step.in_rep()))
            ret = self._cur.pos + 1
            if ret < len(self.schedule) and self.schedule[ret].state is State.BREAK:
                out.append(PatternDone(now, step.in_pattern()))
                ret += 1  # this break replaces the pattern's own
        else:  # SETTLE, INTRO: start them again afterwards
            ret = self._cur.pos
        self._return_pos = ret
        self._break_requested = True
        self.counters.breaks_requested += 1
        self.state = State.BREAK
        self._cur = _Cursor(pos=self._cur.pos, started_at=now, duration_s=self.timing.break_s)
        out.append(PhaseStarted(now, State.BREAK, step.pattern_index, None, self.timing.break_s, True))
        out.append(BreakStarted(now, True, step.pattern_index))

    def _on_end_break(self, now: float, out: list[Output]) -> None:
        self.counters.breaks_ended_early += 1
        out.append(BreakEnded(now, True))
        if self._break_requested:
            self._enter(self._return_pos, now, out)
        else:
            step = self.schedule[self._cur.pos]
            out.append(PatternDone(now, step.in_pattern()))
            self._enter(self._cur.pos + 1, now, out)

    def _on_break_from_pause(self, now: float, out: list[Output]) -> None:
        self._on_resume(now, out)
        if self.state is State.BREAK:
            self._on_end_break(now, out)
        else:
            self._on_break_now(now, out)

    def _on_calibrated(self, now: float, out: list[Output]) -> None:
        self._calibrated_at = now
        self.counters.calibrated = True
        if self._cur.extended:  # settle time is over already: go on now
            out.append(SettleEnded(now, True))
            self._enter(self._cur.pos + 1, now, out)

    def _on_no_calibration(self, now: float, out: list[Output]) -> None:
        self._no_calibration = True
        if self._cur.extended:  # settle time is over already: go on by time alone
            out.append(SettleEnded(now, False))
            self._enter(self._cur.pos + 1, now, out)

    def _on_continue(self, now: float, out: list[Output]) -> None:
        """The patient is ready before the intro's time is up: start the first movement now."""
        self._enter(self._cur.pos + 1, now, out)

    def _on_dismiss(self, now: float, out: list[Output]) -> None:
        self.state = State.HOME
        self._cur = _Cursor()
        out.append(SummaryDismissed(now))


Handler = Callable[[Engine, float, list[Output]], None]

_active_row: dict[Event, Handler] = {
    Event.SHORT_PRESS: Engine._on_pause,
    Event.LONG_PRESS: Engine._on_break_now,
    Event.TICK: Engine._on_tick,
}

#: state x event -> handler. Anything not listed is ignored (and reported as :class:`Ignored`).
TRANSITIONS: dict[State, dict[Event, Handler]] = {
    State.HOME: {Event.SHORT_PRESS: Engine._on_start},
    State.SETTLE: {
        **_active_row,
        Event.CALIBRATED: Engine._on_calibrated,
        Event.CALIBRATION_UNAVAILABLE: Engine._on_no_calibration,
    },
    State.INTRO: {**_active_row, Event.SHORT_PRESS: Engine._on_continue},
    State.MOVE: _active_row,
    State.HOLD: _active_row,
    State.RELEASE: _active_row,
    State.REST: _active_row,
    State.BREAK: {**_active_row, Event.LONG_PRESS: Engine._on_end_break},
    State.PAUSED: {
        Event.SHORT_PRESS: Engine._on_resume,
        Event.LONG_PRESS: Engine._on_break_from_pause,
        Event.TICK: Engine._on_tick,
    },
    State.SUMMARY: {Event.SHORT_PRESS: Engine._on_dismiss, Event.TICK: Engine._on_tick},
}
