"""The weekly check-in: its protocol as data and its engine (states x events, no I/O, no clock).

Theory of operation
-------------------
Practice asks for small, slow, quiet movements; the check-in asks, once a week, for the five
standard movements of the clinical scales (brow lift, gentle eye closure, open-mouth smile,
snarl, lip pucker) done *fully*, three times each, so the station can measure what the scales
look at in millimetres, the same way every week. It never computes a grade.

A check-in walks a *schedule* of timed steps, like a practice session
(:mod:`station.practice.session`): settle (the tracker takes the neutral baseline), a 5 s
neutral rest (the rest measures), then per movement an intro and three *tries*, each move /
hold / release / rest followed by **judge**: the engine stops there until the caller, who saw
the frames, says whether the try was good (:data:`Event.TRY_OK`) or not (:data:`Event.TRY_BAD`
with the reason: face turned, face or eyes not found, too few scored frames; see
:func:`station.tracking.checkin.gate_try`). A bad try is never stored: the engine asks for a
repeat (a short notice, then the same try again), at most :attr:`CheckinTiming.max_repeats`
times per movement; past that it moves on and the movement is recorded as incomplete. A judge
step that gets no verdict in time counts as bad ("not judged").

Time only moves when the caller says so: every event comes with ``now`` (seconds, any
monotonic clock). A step that ends at ``t`` starts the next one *at* ``t``.

The button: a short press starts at home, continues from an intro, pauses and resumes; a long
press takes a release break (again to end it). A try interrupted by a pause or a break is
started again from its move afterwards (not counted as a repeat): its frames would not be one
movement. The whole behaviour is the table :data:`TRANSITIONS`.

>>> eng = CheckinEngine(CheckinTiming(settle_s=2))
>>> [type(o).__name__ for o in eng.handle(Event.SHORT_PRESS, now=0.0)]
['CheckinStarted', 'PhaseStarted']
>>> _ = eng.handle(Event.CALIBRATED, now=1.0); eng.tick(2.0)[-1].phase
<Phase.NEUTRAL: 'neutral'>
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from station.practice.checkin_events import (  # noqa: F401 - re-exported: the check-in's vocabulary
    MOVEMENT_BY_ID,
    MOVEMENTS,
    QUICK_TIMING,
    TRY_PHASES,
    BreakEnded,
    BreakStarted,
    CheckinFinished,
    CheckinStarted,
    CheckinTiming,
    Event,
    FaceChanged,
    Ignored,
    InvalidTime,
    Movement,
    MovementDone,
    Output,
    Paused,
    Phase,
    PhaseStarted,
    Resumed,
    SettleEnded,
    Status,
    SummaryDismissed,
    TryAccepted,
    TryEnded,
    TryInterrupted,
    TryRejected,
)

#: the check-in's vocabulary (re-exported from checkin_events) and its engine
__all__ = [
    "MOVEMENT_BY_ID", "MOVEMENTS", "QUICK_TIMING", "TRY_PHASES", "BreakEnded", "BreakStarted",
    "CheckinFinished", "CheckinStarted", "CheckinTiming", "Event", "FaceChanged", "Ignored", "InvalidTime",
    "Movement", "MovementDone", "Output", "Paused", "Phase", "PhaseStarted", "Resumed", "SettleEnded",
    "Status", "SummaryDismissed", "TryAccepted", "TryEnded", "TryInterrupted", "TryRejected", "Step",
    "build_schedule", "MovementProgress", "CheckinView", "CheckinEngine", "TRANSITIONS",
]

# ---- the schedule ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One timed step of the check-in."""

    phase: Phase
    movement_index: int | None
    try_index: int | None
    attempt: int | None
    duration_s: float


def _try_steps(timing: CheckinTiming, mi: int, ti: int, attempt: int) -> list[Step]:
    steps = [Step(p, mi, ti, attempt, timing.of(p)) for p in TRY_PHASES]
    steps.append(Step(Phase.JUDGE, mi, ti, attempt, timing.judge_s))
    return steps


def build_schedule(timing: CheckinTiming,
                   movements: tuple[Movement, ...] = MOVEMENTS) -> list[Step]:
    """The check-in's steps when no try needs a repeat."""
    steps = [Step(Phase.SETTLE, None, None, None, timing.settle_s),
             Step(Phase.NEUTRAL, None, None, None, timing.neutral_s)]
    for mi in range(len(movements)):
        steps.append(Step(Phase.INTRO, mi, None, None, timing.intro_s))
        for ti in range(timing.tries):
            steps += _try_steps(timing, mi, ti, 0)
    return steps


@dataclass
class MovementProgress:
    """What has happened to one movement so far."""

    accepted: list[int] = field(default_factory=list)  # try indices accepted
    repeats: int = 0
    complete: bool | None = None  # None until done
    reasons: list[str] = field(default_factory=list)  # why tries were rejected


@dataclass(frozen=True)
class CheckinView:
    """A snapshot for the screen (does not change the engine)."""

    phase: Phase
    shown: Phase  # the phase under a pause
    movement: Movement | None
    movement_index: int | None
    movement_count: int
    try_index: int | None
    tries: int
    attempt: int | None
    elapsed_s: float
    duration_s: float
    waiting_for_calibration: bool
    face_visible: bool


class CheckinEngine:
    """One check-in. Feed it events with ``handle(event, now, reason="")``."""

    def __init__(self, timing: CheckinTiming | None = None,
                 movements: tuple[Movement, ...] = MOVEMENTS) -> None:
        self.timing = timing or CheckinTiming()
        self.movements = movements
        self.schedule: list[Step] = build_schedule(self.timing, movements)
        self.planned_s = sum(s.duration_s for s in self.schedule)
        self.phase = Phase.HOME
        self.status: Status | None = None
        self.face_visible = True
        self.progress = [MovementProgress() for _ in movements]
        self.calibrated = False
        self._no_calibration = False
        self._pos = 0
        self._started_at = 0.0
        self._duration = 0.0
        self._extended = False
        self._last_now: float | None = None
        self._resume_pos = 0
        self._paused_from: Phase | None = None
        self._paused_at = 0.0
        self._remaining = 0.0
        self._in_break = False

    # -- public ----------------------------------------------------------------------------

    def handle(self, event: Event, now: float, reason: str = "") -> list[Output]:
        """Apply ``event`` at ``now``; ``reason`` says why a try was bad (TRY_BAD)."""
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
        if event is not Event.TICK:
            self._run_clock(now, out)
        handler = TRANSITIONS[self.phase].get(event)
        if handler is None:
            if event not in (Event.TICK, Event.CALIBRATION_UNAVAILABLE):
                out.append(Ignored(now, self.phase, event))
            return out
        handler(self, now, out, reason)
        return out

    def tick(self, now: float) -> list[Output]:
        """Shorthand for ``handle(Event.TICK, now)``."""
        return self.handle(Event.TICK, now)

    def next_deadline(self) -> float | None:
        """When the next timed change happens if nothing else does (for fake clocks)."""
        if self.phase is Phase.HOME:
            return None
        if self.phase is Phase.PAUSED:
            return self._paused_at + self.timing.pause_timeout_s
        return self._started_at + self._duration

    @property
    def calibrating(self) -> bool:
        """True while the tracker should be taking the neutral baseline."""
        return self.phase is Phase.SETTLE and not self.calibrated

    @property
    def step(self) -> Step | None:
        """The schedule step under way (None at home, in the summary, in a break)."""
        if self.phase in (Phase.HOME, Phase.SUMMARY) or self._in_break:
            return None
        shown = self._paused_from if self.phase is Phase.PAUSED else self.phase
        if shown is Phase.BREAK:
            return None
        return self.schedule[self._pos] if self._pos < len(self.schedule) else None

    def view(self, now: float) -> CheckinView:
        """What the screen shows at ``now``."""
        step = self.step
        shown = self._paused_from if self.phase is Phase.PAUSED and self._paused_from else self.phase
        mi = step.movement_index if step else None
        if self.phase is Phase.PAUSED:
            elapsed = self._duration - self._remaining
        elif self.phase is Phase.HOME:
            elapsed = 0.0
        else:
            elapsed = max(0.0, min(now - self._started_at, self._duration))
        return CheckinView(
            phase=self.phase, shown=shown, movement=self.movements[mi] if mi is not None else None,
            movement_index=mi, movement_count=len(self.movements),
            try_index=step.try_index if step else None, tries=self.timing.tries,
            attempt=step.attempt if step else None, elapsed_s=elapsed,
            duration_s=self._duration if self.phase is not Phase.HOME else 0.0,
            waiting_for_calibration=shown is Phase.SETTLE and self._extended,
            face_visible=self.face_visible)

    # -- internals -------------------------------------------------------------------------

    def _enter(self, pos: int, at: float, out: list[Output]) -> None:
        self._in_break = False
        if pos >= len(self.schedule):
            self._finish(Status.COMPLETE, at, out)
            return
        step = self.schedule[pos]
        self._pos, self.phase = pos, step.phase
        self._started_at, self._duration, self._extended = at, step.duration_s, False
        out.append(PhaseStarted(at, step.phase, step.movement_index, step.try_index, step.attempt,
                                step.duration_s))

    def _finish(self, status: Status, at: float, out: list[Output]) -> None:
        self.status = status
        out.append(CheckinFinished(at, status))
        self._paused_from = None
        self._in_break = False
        if status is Status.ABANDONED:
            self.phase, self._duration = Phase.HOME, 0.0
            return
        self.phase = Phase.SUMMARY
        self._started_at, self._duration = at, self.timing.summary_s
        out.append(PhaseStarted(at, Phase.SUMMARY, None, None, None, self.timing.summary_s))

    def _step_done(self, at: float, out: list[Output]) -> None:
        """The current timed phase ran out at ``at``."""
        ph = self.phase
        if ph is Phase.SUMMARY:
            self.phase = Phase.HOME
            out.append(SummaryDismissed(at))
            return
        if ph is Phase.BREAK:
            out.append(BreakEnded(at, False))
            self._enter(self._resume_pos, at, out)
            return
        if ph is Phase.SETTLE and not self.calibrated:
            if not self._extended and not self._no_calibration:
                self._extended = True
                self._duration = self.timing.settle_max_s
                return
            out.append(SettleEnded(at, False))
            self._finish(Status.NO_BASELINE, at, out)
            return
        if ph is Phase.SETTLE:
            out.append(SettleEnded(at, True))
        step = self.schedule[self._pos]
        if ph is Phase.REST:
            assert step.movement_index is not None and step.try_index is not None
            out.append(TryEnded(at, step.movement_index, step.try_index, step.attempt or 0))
        if ph is Phase.JUDGE:  # no verdict in time
            self._reject(at, out, "not judged")
            return
        self._enter(self._pos + 1, at, out)

    def _run_clock(self, now: float, out: list[Output]) -> None:
        if self.phase is Phase.PAUSED:
            if now - self._paused_at >= self.timing.pause_timeout_s:
                self._finish(Status.ABANDONED, self._paused_at + self.timing.pause_timeout_s, out)
            return
        while self.phase is not Phase.HOME:
            deadline = self._started_at + self._duration
            if now < deadline:
                return
            self._step_done(deadline, out)

    def _movement_end(self, mi: int) -> int:
        """Schedule position just after movement ``mi``'s last step."""
        pos = self._pos
        while pos < len(self.schedule) and self.schedule[pos].movement_index == mi:
            pos += 1
        return pos

    def _accept(self, at: float, out: list[Output]) -> None:
        step = self.schedule[self._pos]
        mi, ti = step.movement_index, step.try_index
        assert mi is not None and ti is not None
        prog = self.progress[mi]
        prog.accepted.append(ti)
        out.append(TryAccepted(at, mi, ti, step.attempt or 0))
        if self._movement_end(mi) == self._pos + 1:  # the movement's last step
            prog.complete = len(prog.accepted) == self.timing.tries
            out.append(MovementDone(at, mi, prog.complete, len(prog.accepted)))
        self._enter(self._pos + 1, at, out)

    def _reject(self, at: float, out: list[Output], reason: str) -> None:
        step = self.schedule[self._pos]
        mi, ti, attempt = step.movement_index, step.try_index, step.attempt or 0
        assert mi is not None and ti is not None
        prog = self.progress[mi]
        prog.reasons.append(reason or "unknown")
        if prog.repeats < self.timing.max_repeats:
            prog.repeats += 1
            out.append(TryRejected(at, mi, ti, attempt, reason or "unknown", True))
            again = [Step(Phase.REPEAT, mi, ti, attempt + 1, self.timing.repeat_s)]
            again += _try_steps(self.timing, mi, ti, attempt + 1)
            self.schedule[self._pos + 1:self._pos + 1] = again
            self.planned_s += sum(s.duration_s for s in again)
            self._enter(self._pos + 1, at, out)
            return
        out.append(TryRejected(at, mi, ti, attempt, reason or "unknown", False))
        prog.complete = False
        out.append(MovementDone(at, mi, False, len(prog.accepted)))
        self._enter(self._movement_end(mi), at, out)

    def _interrupt(self, now: float, out: list[Output]) -> int:
        """Where to go back to after a pause or break that starts at ``now``."""
        step = self.schedule[self._pos]
        if step.phase in TRY_PHASES or step.phase is Phase.JUDGE:
            assert step.movement_index is not None and step.try_index is not None
            out.append(TryInterrupted(now, step.movement_index, step.try_index))
            back = self._pos
            while self.schedule[back].phase is not Phase.MOVE:
                back -= 1
            return back
        return self._pos

    # -- handlers --------------------------------------------------------------------------

    def _on_tick(self, now: float, out: list[Output], reason: str) -> None:
        self._run_clock(now, out)

    def _on_start(self, now: float, out: list[Output], reason: str) -> None:
        self.schedule = build_schedule(self.timing, self.movements)
        self.planned_s = sum(s.duration_s for s in self.schedule)
        self.progress = [MovementProgress() for _ in self.movements]
        self.status, self.calibrated, self._no_calibration = None, False, False
        out.append(CheckinStarted(now, self.planned_s))
        self._enter(0, now, out)

    def _on_calibrated(self, now: float, out: list[Output], reason: str) -> None:
        self.calibrated = True
        if self._extended:  # past settle_s already: go on now
            out.append(SettleEnded(now, True))
            self._enter(self._pos + 1, now, out)

    def _on_no_calibration(self, now: float, out: list[Output], reason: str) -> None:
        self._no_calibration = True
        if self._extended:
            out.append(SettleEnded(now, False))
            self._finish(Status.NO_BASELINE, now, out)

    def _on_continue(self, now: float, out: list[Output], reason: str) -> None:
        self._enter(self._pos + 1, now, out)

    def _on_try_ok(self, now: float, out: list[Output], reason: str) -> None:
        self._accept(now, out)

    def _on_try_bad(self, now: float, out: list[Output], reason: str) -> None:
        self._reject(now, out, reason)

    def _on_pause(self, now: float, out: list[Output], reason: str) -> None:
        self._paused_from = self.phase
        self._paused_at = now
        self._remaining = self._started_at + self._duration - now
        if self.phase is not Phase.BREAK and self.phase is not Phase.SETTLE:
            self._resume_pos = self._interrupt(now, out)
        self.phase = Phase.PAUSED
        out.append(Paused(now, self._paused_from))

    def _on_resume(self, now: float, out: list[Output], reason: str) -> None:
        assert self._paused_from is not None
        was, self._paused_from = self._paused_from, None
        out.append(Resumed(now, was))
        if was in (Phase.BREAK, Phase.SETTLE):  # continue with the time that was left
            self.phase = was
            self._started_at = now - (self._duration - self._remaining)
            return
        self._enter(self._resume_pos, now, out)

    def _on_break(self, now: float, out: list[Output], reason: str) -> None:
        if self.phase is not Phase.SETTLE:
            self._resume_pos = self._interrupt(now, out)
        else:
            self._resume_pos = self._pos
            self.calibrated = False  # a break changes the face: take the baseline again
        self.phase, self._in_break = Phase.BREAK, True
        self._started_at, self._duration = now, self.timing.break_s
        out.append(PhaseStarted(now, Phase.BREAK, None, None, None, self.timing.break_s))
        out.append(BreakStarted(now))

    def _on_end_break(self, now: float, out: list[Output], reason: str) -> None:
        out.append(BreakEnded(now, True))
        self._enter(self._resume_pos, now, out)

    def _on_dismiss(self, now: float, out: list[Output], reason: str) -> None:
        self.phase = Phase.HOME
        out.append(SummaryDismissed(now))


Handler = Callable[[CheckinEngine, float, list[Output], str], None]

_ACTIVE: dict[Event, Handler] = {
    Event.TICK: CheckinEngine._on_tick,
    Event.SHORT_PRESS: CheckinEngine._on_pause,
    Event.LONG_PRESS: CheckinEngine._on_break,
}

#: phase x event -> handler. Anything not listed is ignored (and reported as :class:`Ignored`).
TRANSITIONS: dict[Phase, dict[Event, Handler]] = {
    Phase.HOME: {Event.SHORT_PRESS: CheckinEngine._on_start},
    Phase.SETTLE: {**_ACTIVE, Event.CALIBRATED: CheckinEngine._on_calibrated,
                   Event.CALIBRATION_UNAVAILABLE: CheckinEngine._on_no_calibration},
    Phase.NEUTRAL: _ACTIVE,
    Phase.INTRO: {**_ACTIVE, Event.SHORT_PRESS: CheckinEngine._on_continue},
    Phase.MOVE: _ACTIVE,
    Phase.HOLD: _ACTIVE,
    Phase.RELEASE: _ACTIVE,
    Phase.REST: _ACTIVE,
    Phase.JUDGE: {**_ACTIVE, Event.TRY_OK: CheckinEngine._on_try_ok,
                  Event.TRY_BAD: CheckinEngine._on_try_bad},
    Phase.REPEAT: _ACTIVE,
    Phase.BREAK: {Event.TICK: CheckinEngine._on_tick, Event.SHORT_PRESS: CheckinEngine._on_pause,
                  Event.LONG_PRESS: CheckinEngine._on_end_break},
    Phase.PAUSED: {Event.TICK: CheckinEngine._on_tick, Event.SHORT_PRESS: CheckinEngine._on_resume},
    Phase.SUMMARY: {Event.TICK: CheckinEngine._on_tick, Event.SHORT_PRESS: CheckinEngine._on_dismiss},
}
