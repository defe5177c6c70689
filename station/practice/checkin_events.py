"""What the check-in engine speaks: the protocol as data, its phases, events and outputs.

The vocabulary of :mod:`station.practice.checkin` (as :mod:`station.practice.events` is the
session's): the five standard movements, the phases and events of the table, the pacing, and
the outputs that the kiosk, the measures (:mod:`station.tracking.checkin`) and the records
follow. Pure data, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# ---- the protocol as data ----------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """One standard movement: its moving region and the direction it moves in.

    ``sign`` turns the region's signed reading (mm from neutral, see
    :mod:`station.tracking.metrics`) into excursion: eye closure makes the fissure reading
    negative (sign -1), a pucker narrows the lips (sign -1); the others rise (sign +1).
    """

    id: str
    target: str
    sign: float


MOVEMENTS: tuple[Movement, ...] = (
    Movement("brow_lift", "brow", 1.0),
    Movement("eye_closure", "eye", -1.0),
    Movement("open_smile", "mouth_corner", 1.0),
    Movement("snarl", "nose_cheek", 1.0),
    Movement("lip_pucker", "lips", -1.0),
)
MOVEMENT_BY_ID: dict[str, Movement] = {m.id: m for m in MOVEMENTS}


class Phase(enum.Enum):
    """Where the check-in is. HOME and SUMMARY wait for a press; the rest are timed."""

    HOME = "home"
    SETTLE = "settle"  # the tracker takes the neutral baseline
    NEUTRAL = "neutral"  # the 5 s neutral rest (rest measures)
    INTRO = "intro"
    MOVE = "move"
    HOLD = "hold"
    RELEASE = "release"
    REST = "rest"
    JUDGE = "judge"  # waiting for the caller's verdict on the try (instant when tracked)
    REPEAT = "repeat"  # "let's do that one again", before a repeated try
    BREAK = "break"
    PAUSED = "paused"
    SUMMARY = "summary"


TRY_PHASES: tuple[Phase, ...] = (Phase.MOVE, Phase.HOLD, Phase.RELEASE, Phase.REST)


class Event(enum.Enum):
    """What can happen to a check-in."""

    SHORT_PRESS = "short_press"
    LONG_PRESS = "long_press"
    TICK = "tick"
    CALIBRATED = "calibrated"
    CALIBRATION_UNAVAILABLE = "calibration_unavailable"
    TRY_OK = "try_ok"
    TRY_BAD = "try_bad"
    FACE_LOST = "face_lost"
    FACE_FOUND = "face_found"


class Status(enum.Enum):
    """How a check-in ended."""

    COMPLETE = "complete"  # every movement was asked for (some may be incomplete)
    NO_BASELINE = "no_baseline"  # no neutral face (no camera, no face): nothing measured
    ABANDONED = "abandoned"  # paused too long


@dataclass(frozen=True)
class CheckinTiming:
    """Check-in pacing (seconds) and its repeat rules."""

    settle_s: float = 6.0  # at least this (its spoken words need 5.3 s), then on once calibrated
    settle_max_s: float = 20.0  # no baseline by then: the check-in ends (nothing to measure)
    neutral_s: float = 5.0
    intro_s: float = 12.0  # a short press continues earlier; the spoken intro needs up to 11.4 s
    move_s: float = 2.0
    hold_s: float = 3.0
    release_s: float = 2.0
    rest_s: float = 3.0
    judge_s: float = 2.0  # a verdict that does not come in this time counts as bad
    repeat_s: float = 7.0  # time to face the screen again; its words need up to 6.6 s
    break_s: float = 20.0
    pause_timeout_s: float = 300.0
    summary_s: float = 60.0
    tries: int = 3
    max_repeats: int = 2  # per movement

    def of(self, phase: Phase) -> float:
        """Duration of a timed phase."""
        return float(getattr(self, f"{phase.value}_s"))


#: A short pacing for checks and the scripted validation videos (``--quick``): same steps.
QUICK_TIMING = CheckinTiming(intro_s=2.0, move_s=1.0, hold_s=2.0, release_s=1.0, rest_s=1.0)


class InvalidTime(ValueError):
    """Time went backwards (a bug in the caller's clock)."""


# ---- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """Something the check-in did at ``at`` (seconds)."""

    at: float


@dataclass(frozen=True)
class CheckinStarted(Output):
    planned_s: float


@dataclass(frozen=True)
class PhaseStarted(Output):
    phase: Phase
    movement_index: int | None
    try_index: int | None
    attempt: int | None  # 0 for the first try, 1.. for repeats of it
    duration_s: float


@dataclass(frozen=True)
class SettleEnded(Output):
    calibrated: bool


@dataclass(frozen=True)
class TryEnded(Output):
    """A try's rest is over: the caller judges its frames and answers TRY_OK / TRY_BAD."""

    movement_index: int
    try_index: int
    attempt: int


@dataclass(frozen=True)
class TryAccepted(Output):
    movement_index: int
    try_index: int
    attempt: int


@dataclass(frozen=True)
class TryRejected(Output):
    movement_index: int
    try_index: int
    attempt: int
    reason: str
    repeat: bool  # False: no repeats left, the movement is incomplete


@dataclass(frozen=True)
class TryInterrupted(Output):
    """A pause or break cut a try short: it starts again from its move afterwards."""

    movement_index: int
    try_index: int


@dataclass(frozen=True)
class MovementDone(Output):
    movement_index: int
    complete: bool
    accepted: int


@dataclass(frozen=True)
class Paused(Output):
    phase: Phase


@dataclass(frozen=True)
class Resumed(Output):
    phase: Phase


@dataclass(frozen=True)
class BreakStarted(Output):
    pass


@dataclass(frozen=True)
class BreakEnded(Output):
    early: bool


@dataclass(frozen=True)
class FaceChanged(Output):
    visible: bool


@dataclass(frozen=True)
class CheckinFinished(Output):
    status: Status


@dataclass(frozen=True)
class SummaryDismissed(Output):
    pass


@dataclass(frozen=True)
class Ignored(Output):
    phase: Phase
    event: Event
