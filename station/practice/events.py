"""What the session engine speaks: its states, the events it takes and the outputs it returns.

These are the vocabulary shared by everything that follows a session (the kiosk loop, the
tracking, the record store, the voice). The outputs are the session's edges: the kiosk hands
them to the tracking, which answers with what it measured at them (a
:class:`~station.feedback.Measured`: a rep's numbers at ``RepDone``, the baseline at
``SettleEnded``, the sentence at ``PatternDone``), and passes both to the record store.
Between edges, every consumer reads the engine's :class:`View` of the moment rather than
rebuilding the session's state from the outputs. Phases and statuses are enums end to end;
their ``.value`` strings appear only where they are stored or written as JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from station.config import SessionSettings
from station.practice.plan import Pattern


class State(enum.Enum):
    """Where the session is. Timed states have a deadline; HOME and SUMMARY wait for a press."""

    HOME = "home"
    SETTLE = "settle"
    INTRO = "intro"
    MOVE = "move"
    HOLD = "hold"
    RELEASE = "release"
    REST = "rest"
    BREAK = "break"
    PAUSED = "paused"
    SUMMARY = "summary"


ACTIVE: frozenset[State] = frozenset(
    {State.SETTLE, State.INTRO, State.MOVE, State.HOLD, State.RELEASE, State.REST, State.BREAK}
)
REP_PHASES: tuple[State, ...] = (State.MOVE, State.HOLD, State.RELEASE, State.REST)


class SessionStatus(enum.Enum):
    """How a session ended (stored as its value)."""

    COMPLETE = "complete"
    ABANDONED = "abandoned"
    INTERRUPTED = "interrupted"  # the kiosk stopped (power cut, Esc) mid-session


class Event(enum.Enum):
    """What can happen to a session."""

    SHORT_PRESS = "short_press"
    LONG_PRESS = "long_press"
    TICK = "tick"
    CALIBRATED = "calibrated"
    CALIBRATION_UNAVAILABLE = "calibration_unavailable"  # no camera / no model: don't wait
    FACE_LOST = "face_lost"
    FACE_FOUND = "face_found"


_PACING = SessionSettings()  # the one set of defaults lives in station.config


@dataclass(frozen=True)
class Timing:
    """Session pacing outside the patterns (seconds); defaults from ``station.config``."""

    settle_s: float = _PACING.settle_s
    settle_max_s: float = _PACING.settle_max_s  # waiting for calibration never takes longer
    intro_s: float = _PACING.intro_s  # 0: each intro as long as its words need (intro_duration)
    intro_wpm: float = _PACING.intro_wpm  # a slow reading pace for older, tired eyes
    intro_touch_s: float = _PACING.intro_touch_s  # time to place a hand, with a touch hint
    intro_look_s: float = _PACING.intro_look_s  # to look up and find the text
    intro_min_s: float = _PACING.intro_min_s
    intro_max_s: float = _PACING.intro_max_s  # a short press continues earlier
    break_s: float = _PACING.break_s
    pause_timeout_s: float = _PACING.pause_timeout_s  # a pause this long abandons the session
    summary_s: float = 120.0  # the summary goes home by itself after this
    needs_calibration: bool = False  # wait in settle for a CALIBRATED event

    @classmethod
    def from_settings(cls, s: SessionSettings, needs_calibration: bool = False) -> Timing:
        """The unit's configured pacing."""
        return cls(settle_s=s.settle_s, settle_max_s=s.settle_max_s, intro_s=s.intro_s,
                   intro_wpm=s.intro_wpm, intro_touch_s=s.intro_touch_s,
                   intro_look_s=s.intro_look_s, intro_min_s=s.intro_min_s,
                   intro_max_s=s.intro_max_s, break_s=s.break_s,
                   pause_timeout_s=s.pause_timeout_s, needs_calibration=needs_calibration)


# ---- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """Something that happened, at engine time ``at``."""

    at: float


@dataclass(frozen=True)
class SessionStarted(Output):
    plan_source: str
    planned_s: float


@dataclass(frozen=True)
class PhaseStarted(Output):
    """A step began. Rep and pattern are 0-based."""

    phase: State
    pattern_index: int | None
    rep: int | None
    duration_s: float
    requested: bool = False  # for a break: did the patient ask for it


@dataclass(frozen=True)
class SettleEnded(Output):
    """Settle is over (the tracking answers with the baseline it measured, if any)."""

    calibrated: bool


@dataclass(frozen=True)
class RepDone(Output):
    """A rep ended (the tracking answers with its numbers, if it measured them)."""

    pattern_index: int
    rep: int


@dataclass(frozen=True)
class RepInterrupted(Output):
    """A rep was cut short by a requested break; it will be repeated."""

    pattern_index: int
    rep: int


@dataclass(frozen=True)
class PatternDone(Output):
    """A pattern's reps are over (the tracking answers with its sentence, if it measured it)."""

    pattern_index: int


@dataclass(frozen=True)
class BreakStarted(Output):
    requested: bool
    pattern_index: int | None


@dataclass(frozen=True)
class BreakEnded(Output):
    early: bool  # ended by a long press


@dataclass(frozen=True)
class Paused(Output):
    phase: State


@dataclass(frozen=True)
class Resumed(Output):
    phase: State
    remaining_s: float
    paused_s: float


@dataclass(frozen=True)
class SessionFinished(Output):
    status: SessionStatus


@dataclass(frozen=True)
class SummaryDismissed(Output):
    pass


@dataclass(frozen=True)
class FaceChanged(Output):
    visible: bool


@dataclass(frozen=True)
class Ignored(Output):
    """An event that does not fit the state; harmless, for the log."""

    state: State
    event: Event


@dataclass
class Counters:
    """What the summary tells: counted as the session runs."""

    reps_done: int = 0
    reps_interrupted: int = 0
    breaks_requested: int = 0
    breaks_ended_early: int = 0
    pauses: int = 0
    paused_s: float = 0.0
    calibrated: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    status: SessionStatus | None = None


@dataclass(frozen=True)
class View:
    """Everything a screen needs to draw the current moment (pure data)."""

    state: State
    resume_state: State | None  # when paused: the state to return to
    pattern: Pattern | None
    pattern_index: int | None
    pattern_count: int
    rep: int | None
    reps: int | None
    phase_elapsed_s: float
    phase_duration_s: float
    session_fraction: float
    break_requested: bool
    waiting_for_calibration: bool
    face_visible: bool
    counters: Counters

    @property
    def phase_remaining_s(self) -> float:
        return max(0.0, self.phase_duration_s - self.phase_elapsed_s)

    @property
    def phase_fraction(self) -> float:
        if self.phase_duration_s <= 0:
            return 1.0
        return min(1.0, max(0.0, self.phase_elapsed_s / self.phase_duration_s))


class InvalidTime(ValueError):
    """``now`` went backwards: a caller bug (the kiosk uses a monotonic clock)."""
