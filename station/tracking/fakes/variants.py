"""The validation set: scripted reps with blinks, narrowings and head turns (test media).

Extends :mod:`station.tracking.fakes.scripted` (same session timeline, same smile amounts) with
eye events timed in seconds, each eye on its own, and head motion after calibration, rendered
as real 3-D turns by :mod:`station.tracking.fakes.render3d`. Every rep kind writes down the
verdict it must get, per flag (slow, small, quiet, released):

============== ======================================================= ======================
kind            what the face does (a good smile unless said)           slow small quiet rel.
============== ======================================================= ======================
good            follows the guide gently                                T    T     T     T
fast            the smile is there within the first tenth of move       F    T     T     T
big             twice a good smile (past the prescribed gentle range)   T    F     T     T
eye             the same-side eye narrows with the smile (synkinesis)   T    T     F     T
tight           keeps 60 % of the smile through release and rest        T    T     T     F
blink1..3       one, two, three ordinary two-eyed blinks in hold        T    T     T     T
blink_move      one blink in move                                       T    T     T     T
blink_release   one blink in release                                    T    T     T     T
blink_long      one long blink (0.45 s) in hold                         T    T     T     T
blink_lag       a blink whose affected lid closes 0.1 s later and       T    T     T     T
                reopens 0.2 s later than the other
narrow_short    the affected eye alone narrows by half its gap, 0.3 s   T    T     F     T
narrow_blink    the affected eye narrows by half for 1 s and the        T    T     F     T
                other eye blinks inside it
squeeze         both eyes squeezed nearly shut for 1.5 s (not a blink)  T    T     F     T
============== ======================================================= ======================

A blink is a trapezoid in time: closing over :data:`CLOSE_S`, closed at :data:`BLINK_DEPTH` of
the lid gap, reopening over :data:`OPEN_S`; its length is from the first to the last moment
the lid is off rest (0.25 s unless said). Narrowings and the squeeze stay at their depth for
the time they are named by (0.3 s, 1 s, 1.5 s), ramps added. A narrowing of half the gap (``eye_field`` 0.5)
closes about 44 % of the lid gap on these faces.

Head motions (whole session, after calibration; the expected verdicts do not change):
``still``; ``yaw_0.03`` .. ``yaw_0.1`` and ``pitch_0.03`` .. ``pitch_0.1`` (a turn or nod of
that many radians as the tracker measures it, reached over 1 s from the end of settle, after
calibration, and held to the end); ``sway`` (a slow turn of +-0.05 rad over 7 s with a nod of +-0.03 rad over
11 s, for the whole session).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from station.feedback import Side
from station.practice.events import State
from station.tracking.fakes.render3d import Head3D, Pose3
from station.tracking.fakes.scripted import (
    BIG_AMOUNT,
    EYE_NARROW_F,
    FAST_SHARE,
    GOOD_AMOUNT,
    TIGHT_LEFT,
    Phase,
    moments,
)

CLOSE_S = 0.07  # a blink's lid closes over this
OPEN_S = 0.10  # ... and reopens over this
BLINK_S = 0.25  # an ordinary blink, first to last moment off rest
LONG_BLINK_S = 0.45
BLINK_DEPTH = 1.0  # eye_field fraction of a blink: ~88 % of the lid gap in the image
LAG_CLOSE_S = 0.1  # the affected lid of a lagging blink closes this much later
LAG_OPEN_S = 0.2  # ... and reopens this much later
NARROW_F = 0.9  # a one-sided narrowing (eye_field fraction: ~79 % of the lid gap in the image)
SQUEEZE_F = 1.0
# Head motion begins at the end of the default settle (8 s): after calibration at every frame
# rate (10 + 24 still frames: 6.8 s at 5 fps), before the first rep (after a >= 2 s intro).
TURN_START_S = 8.0
TURN_RAMP_S = 1.0


@dataclass(frozen=True)
class EyeEvent:
    """One lid movement in a rep: at ``at`` (share of the phase) for ``dur_s`` seconds.

    ``affected`` and ``other`` are how far each eye closes (eye_field fraction); the
    affected lid may start ``lag_close_s`` later and end ``lag_open_s`` later.
    """

    state: State
    at: float
    dur_s: float
    affected: float
    other: float
    lag_close_s: float = 0.0
    lag_open_s: float = 0.0


def _held(dur_s: float) -> float:
    """The length of a lid movement that stays at its depth for ``dur_s`` (ramps added)."""
    return dur_s + CLOSE_S + OPEN_S


def _blink(state: State, at: float, dur_s: float = BLINK_S, **kw: float) -> EyeEvent:
    return EyeEvent(state, at, dur_s, BLINK_DEPTH, BLINK_DEPTH, **kw)


@dataclass(frozen=True)
class RepKind:
    """What one rep does and the verdict it must get."""

    smile: str  # good | fast | big | eye | tight (the smile's own script)
    expected: tuple[bool, bool, bool, bool]  # slow, small, quiet, released
    events: tuple[EyeEvent, ...] = field(default_factory=tuple)


_OK = (True, True, True, True)
_NOT_QUIET = (True, True, False, True)
H = State.HOLD
REP_KINDS: dict[str, RepKind] = {
    "good": RepKind("good", _OK),
    "fast": RepKind("fast", (False, True, True, True)),
    "big": RepKind("big", (True, False, True, True)),
    "eye": RepKind("eye", _NOT_QUIET),
    "tight": RepKind("tight", (True, True, True, False)),
    "blink1": RepKind("good", _OK, (_blink(H, 0.5),)),
    "blink2": RepKind("good", _OK, (_blink(H, 0.25), _blink(H, 0.7))),
    "blink3": RepKind("good", _OK, (_blink(H, 0.12), _blink(H, 0.45), _blink(H, 0.78))),
    "blink_move": RepKind("good", _OK, (_blink(State.MOVE, 0.5),)),
    "blink_release": RepKind("good", _OK, (_blink(State.RELEASE, 0.5),)),
    "blink_long": RepKind("good", _OK, (_blink(H, 0.4, LONG_BLINK_S),)),
    "blink_lag": RepKind("good", _OK, (_blink(H, 0.4, lag_close_s=LAG_CLOSE_S,
                                              lag_open_s=LAG_OPEN_S),)),
    "narrow_short": RepKind("good", _NOT_QUIET, (EyeEvent(H, 0.45, _held(0.3), NARROW_F, 0.0),)),
    "narrow_blink": RepKind("good", _NOT_QUIET, (EyeEvent(H, 0.3, _held(1.0), NARROW_F, 0.0),
                                                 EyeEvent(H, 0.3 + 0.35 / 3.0, BLINK_S, 0.0,
                                                          BLINK_DEPTH))),
    "squeeze": RepKind("good", _NOT_QUIET, (EyeEvent(H, 0.2, _held(1.5), SQUEEZE_F, SQUEEZE_F),)),
}
BLINK_KINDS = tuple(k for k in REP_KINDS if k.startswith("blink"))
NARROW_KINDS = ("narrow_short", "narrow_blink", "squeeze")
MOTIONS: tuple[str, ...] = ("still", "yaw_0.03", "yaw_0.05", "yaw_0.1", "pitch_0.03",
                            "pitch_0.05", "pitch_0.1", "sway")
MOTION_KINDS = ("good", "fast", "eye", "tight", "blink1")  # the reps of a moving session
FLAGS = ("slow", "small", "quiet", "released")


def closure(t: float, start: float, dur_s: float, depth: float) -> float:
    """A lid's closure (fraction) at ``t`` for a trapezoid from ``start`` lasting ``dur_s``."""
    if depth <= 0.0 or t < start or t > start + dur_s:
        return 0.0
    close = min(CLOSE_S, dur_s / 2)
    opening = min(OPEN_S, dur_s / 2)
    x = t - start
    if x < close:
        return depth * x / close
    if x > dur_s - opening:
        return depth * max(0.0, dur_s - x) / opening
    return depth


def eyes_at(kind: RepKind, phases_of_rep: dict[State, Phase], t: float) -> tuple[float, float]:
    """(affected, other) lid closure at ``t`` from the rep's eye events."""
    aff = oth = 0.0
    for ev in kind.events:
        ph = phases_of_rep.get(ev.state)
        if ph is None:
            continue
        start = ph.start + ev.at * (ph.end - ph.start)
        oth = max(oth, closure(t, start, ev.dur_s, ev.other))
        aff = max(aff, closure(t, start + ev.lag_close_s,
                               ev.dur_s - ev.lag_close_s + ev.lag_open_s, ev.affected))
    return aff, oth


def smile_at(kind: RepKind, state: State, f: float) -> tuple[float, float]:
    """(smile amount, same-side eye narrowing) at fraction ``f`` of a rep phase."""
    s = kind.smile
    if state is State.MOVE:
        a = min(1.0, f / FAST_SHARE) if s == "fast" else f
    elif state is State.HOLD:
        a = 1.0
    elif state is State.RELEASE:
        a = 1.0 - (1.0 - TIGHT_LEFT) * f if s == "tight" else 1.0 - f
    else:
        a = TIGHT_LEFT if s == "tight" else 0.0
    size = BIG_AMOUNT * GOOD_AMOUNT if s == "big" else GOOD_AMOUNT
    return a * size, (EYE_NARROW_F * a if s == "eye" else 0.0)


def head_pose(motion: str, t: float) -> Pose3:
    """The head's pose at ``t`` (seconds from the press) for a motion name of :data:`MOTIONS`."""
    if motion == "still" or t <= TURN_START_S:
        return Pose3()
    ramp = min(1.0, (t - TURN_START_S) / TURN_RAMP_S)
    if motion == "sway":
        x = t - TURN_START_S
        return Pose3(ramp * 0.05 * math.sin(2 * math.pi * x / 7.0),
                     ramp * 0.03 * math.sin(2 * math.pi * x / 11.0))
    axis, _, amount = motion.partition("_")
    a = ramp * float(amount)
    return Pose3(a, 0.0) if axis == "yaw" else Pose3(0.0, a)


def frames(head: Head3D, side: str, reps: Sequence[str], motion: str, phases: Sequence[Phase],
           fps: float, tail_s: float = 1.0) -> Iterator[tuple[float, np.ndarray]]:
    """(t, RGB frame) at ``fps`` (t = frame / fps) for the whole session and ``tail_s`` after."""
    by_rep: dict[int, dict[State, Phase]] = {}
    for ph in phases:
        if ph.rep is not None:
            by_rep.setdefault(ph.rep, {})[ph.state] = ph
    other = Side(side).other.value
    for t, ph, f in moments(phases, fps, tail_s):
        smile = narrow = aff = oth = 0.0
        if f is not None and ph.rep is not None:
            kind = REP_KINDS[reps[ph.rep]]
            smile, narrow = smile_at(kind, ph.state, f)
            aff, oth = eyes_at(kind, by_rep[ph.rep], t)
        eye = {side: max(narrow, aff), other: oth}
        yield t, head.frame(side, smile, eye["left"], eye["right"], head_pose(motion, t))
