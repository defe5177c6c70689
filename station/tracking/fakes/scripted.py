"""Scripted sessions: a real face that does, rep by rep, exactly what a script says (test media).

Practice quality is checked against known movements. A script is one word per rep of the
session's single pattern (a small smile):

* ``good``: the mouth corner follows the guide (rises through move, holds, lets go through
  release, rests), gently (:data:`GOOD_AMOUNT` of the simulated patient's smile);
* ``fast``: the same smile arrives within the first tenth of move (not slow);
* ``big``: follows the guide, but :data:`BIG_AMOUNT` times as far (past the gentle range);
* ``eye``: a good smile while the same-side eye narrows with it (ocular synkinesis; not quiet);
* ``tight``: a good smile that lets go only part of the way (not released);
* ``blinks``: a good smile with normal two-eyed blinks in move, hold and rest (all four hold);
* ``fastbig``: fast and big at once (for demonstrations of the live meter).

The face follows the session's own timeline (:func:`timeline`: the engine's schedule, with the
calibration a still face gives within settle), so a replay of the written video lines up with
the script. Frames are the warps of :mod:`station.tracking.fakes.patient` on a real neutral
photo; the affected side uses them, the other side never moves (blinks close both eyes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from station.practice.events import Event, PhaseStarted, State, Timing
from station.practice.plan import Plan, make_plan
from station.practice.session import Engine
from station.tracking.fakes.patient import combine, eye_field, mouth_field, warp

KINDS: tuple[str, ...] = ("good", "fast", "big", "eye", "tight", "blinks", "fastbig")
GOOD_AMOUNT = 0.6  # share of the simulated patient's smile (about 2.7-3.2 mm of excursion)
BIG_AMOUNT = 2.0  # times a good smile (about 5.1-5.5 mm): past a 4 mm prescribed gentle range
# The scripted prescription's gentle range. Smiles much bigger than 5 mm make the detector move
# the brow landmarks too (0.83 mm at 5.6 mm on this face), so "big" stays moderate and the
# therapist's override is what makes it too big: that exercises the override end to end.
GENTLE_MAX_MM = 4.0
FAST_SHARE = 0.1  # a fast smile is there after this share of move
EYE_NARROW_F = 0.5  # the same-side eye narrows by this fraction at the smile's peak
TIGHT_LEFT = 0.6  # a tight face keeps this share of its smile through release and rest
BLINK_F = 0.8  # how far a blink closes both eyes
BLINK_S = 0.25  # a normal blink (0.1-0.4 s)
BLINK_AT = {State.MOVE: 0.45, State.HOLD: 0.5, State.REST: 0.3}  # phase fractions
LEVELS = 16  # the smile is warped at 1/16 steps of its amount (cached)
SETTLE_CALIBRATED_S = 3.0  # a still face is calibrated well within settle (8 s)


@dataclass(frozen=True)
class Phase:
    """One step of the session timeline (seconds from the start press)."""

    state: State
    pattern_index: int | None
    rep: int | None
    start: float
    end: float


def scripted_plan(script: Sequence[str], gentle_max_mm: float | None = None) -> Plan:
    """A small-smile plan with one rep per script word (and a prescribed gentle range)."""
    extra = {} if gentle_max_mm is None else {"gentle_max_mm": gentle_max_mm}
    return make_plan([("small_smile", len(script), extra)], source="scripted")


def timeline(plan: Plan, timing: Timing | None = None,
             calibrated_at: float = SETTLE_CALIBRATED_S) -> list[Phase]:
    """The session's phases, from the engine itself (press at 0, calibration at ``calibrated_at``)."""
    timing = timing or Timing(needs_calibration=True)
    eng = Engine(plan, timing)
    starts = [o for o in eng.handle(Event.SHORT_PRESS, 0.0) if isinstance(o, PhaseStarted)]
    t = 0.0
    calibrated = False
    while eng.state not in (State.SUMMARY, State.HOME):
        nxt = eng.next_deadline()
        assert nxt is not None
        if not calibrated and nxt > calibrated_at:
            calibrated = True
            t = calibrated_at
            starts += [o for o in eng.handle(Event.CALIBRATED, t) if isinstance(o, PhaseStarted)]
            continue
        t = nxt
        starts += [o for o in eng.tick(t) if isinstance(o, PhaseStarted)]
    phases = []
    for a, b in zip(starts, starts[1:], strict=False):
        phases.append(Phase(a.phase, a.pattern_index, a.rep, a.at, b.at))
    return phases


def _amounts(kind: str, state: State, f: float) -> tuple[float, float]:
    """(smile amount, same-side eye narrowing) at fraction ``f`` of a rep phase."""
    if state is State.MOVE:
        a = min(1.0, f / FAST_SHARE) if kind in ("fast", "fastbig") else f
    elif state is State.HOLD:
        a = 1.0
    elif state is State.RELEASE:
        a = 1.0 - (1.0 - TIGHT_LEFT) * f if kind == "tight" else 1.0 - f
    else:
        a = TIGHT_LEFT if kind == "tight" else 0.0
    size = BIG_AMOUNT * GOOD_AMOUNT if kind in ("big", "fastbig") else GOOD_AMOUNT
    return a * size, (EYE_NARROW_F * a if kind == "eye" else 0.0)


def _blink(kind: str, state: State, t: float, ph: Phase) -> float:
    if kind != "blinks" or state not in BLINK_AT:
        return 0.0
    start = ph.start + BLINK_AT[state] * (ph.end - ph.start)
    x = (t - start) / BLINK_S
    return BLINK_F * float(np.sin(np.pi * x)) if 0.0 <= x <= 1.0 else 0.0


class ScriptedFace:
    """Frames of one real face following a script (warps cached by quantized amounts)."""

    def __init__(self, image_rgb: np.ndarray, landmarks: np.ndarray, side: str) -> None:
        self.image = np.ascontiguousarray(image_rgb)
        self.L0 = np.asarray(landmarks, dtype=np.float64)
        self.side = side
        self.other = "right" if side == "left" else "left"
        iod = float(np.linalg.norm(self.L0[473, :2] - self.L0[468, :2]))
        self.smile_px = 0.08 * iod  # the simulated patient's full smile (SMILE_SHARE_OF_IOD)
        self._cache: dict[tuple[int, int, int], np.ndarray] = {}

    def frame(self, smile: float, eye: float, blink: float) -> np.ndarray:
        """The face with the smile (amount), same-side eye narrowing and blink (fractions)."""
        key = (round(smile * LEVELS), round(eye * LEVELS), round(blink * 4))
        if key == (0, 0, 0):
            return self.image
        if key not in self._cache:
            s, e, b = key[0] / LEVELS, key[1] / LEVELS, key[2] / 4
            fields = []
            if s:
                fields.append(mouth_field(self.L0, self.side, s * self.smile_px))
            if e or b:
                fields.append(eye_field(self.L0, self.side, max(e, b)))
            if b:
                fields.append(eye_field(self.L0, self.other, b))
            self._cache[key] = warp(self.image, combine(*fields))
        return self._cache[key]


def moments(phases: Sequence[Phase], fps: float, tail_s: float = 1.0
            ) -> Iterator[tuple[float, Phase, float | None]]:
    """(t, phase, f) for every frame at ``fps`` (t = frame / fps) of the session and ``tail_s``
    after: the phase in force and, inside a rep's phase, how far through it ``f`` is (else
    None). The one frame clock of the scripted and the validation sessions."""
    end = phases[-1].end + tail_s
    i = k = 0
    while (t := i / fps) <= end:
        while k < len(phases) - 1 and t >= phases[k].end:
            k += 1
        ph = phases[k]
        inside = ph.rep is not None and ph.start <= t < ph.end
        yield t, ph, (t - ph.start) / max(ph.end - ph.start, 1e-9) if inside else None
        i += 1


def frames(face: ScriptedFace, script: Sequence[str], phases: Sequence[Phase], fps: float,
           tail_s: float = 1.0) -> Iterator[tuple[float, np.ndarray]]:
    """(t, RGB frame) for the whole session at ``fps``, plus ``tail_s`` after the last phase."""
    for t, ph, f in moments(phases, fps, tail_s):
        smile = eye = blink = 0.0
        if f is not None and ph.rep is not None:
            kind = script[ph.rep]
            smile, eye = _amounts(kind, ph.state, f)
            blink = _blink(kind, ph.state, t, ph)
        yield t, face.frame(smile, eye, blink)


def write_video(path: Path, face: ScriptedFace, script: Sequence[str], fps: float = 12.0,
                on_frame: Callable[[int], None] | None = None) -> list[Phase]:
    """Write the scripted session as a near-lossless MJPG video; returns the timeline used."""
    import cv2

    phases = timeline(scripted_plan(script))
    h, w = face.image.shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    if not out.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    out.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
    try:
        for n, (_t, rgb) in enumerate(frames(face, script, phases, fps)):
            out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            if on_frame is not None:
                on_frame(n)
    finally:
        out.release()
    return phases


def load_face(model_path: Path, side: str) -> ScriptedFace:
    """The demo's real neutral face photo, with its landmarks found once."""
    from station.tracking.fakes.patient import demo_face

    rgb, landmarks = demo_face(model_path)
    return ScriptedFace(rgb, landmarks, side)
