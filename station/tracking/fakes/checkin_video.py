"""Scripted check-ins: a real face doing the five standard movements with a known weaker side.

Test media for :mod:`station.tracking.checkin`. A real neutral face photo follows the
check-in's own timeline (:func:`timeline`: the engine's schedule, every try judged good, the
baseline taken within settle) and makes each movement with smooth one-sided warps (Gaussian
bumps at the landmarks, as in :mod:`station.tracking.fakes.patient`):

* the *other* side makes the full movement (:data:`FULL`, shares of the inter-iris distance, or
  the eye's closing fraction); the *affected* side makes ``ratio`` times as much;
* during the open smile and the lip pucker the affected eye narrows by a known share of its
  resting fissure (``smile_narrowing``, ``pucker_narrowing``), exact on the ground-truth
  landmarks (:meth:`CheckinFace.eye_fraction`);
* ``blink``: a normal two-eyed blink in the hold of every smile's second try (it must not
  count as eye narrowing).

The warps are set in pixels; the landmarker follows them only partly and unequally on the two
sides, differently on every face. :func:`calibrate` sets the affected side's amount and the
eye's narrowing so that the landmarker, on the held still face, sees the script (its docstring
has the figures); the check-in is then tested for what it adds.

Faces (:data:`FACES`) come from the pinned media of :mod:`station.tracking.fakes.samples`.
Nothing here is a camera frame of a patient.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from station.practice.checkin import (
    MOVEMENTS,
    CheckinEngine,
    CheckinTiming,
    Event,
    Phase,
    PhaseStarted,
    TryEnded,
)
from station.tracking import landmarks as lm
from station.tracking.fakes.patient import (
    FaceAxes,
    Field,
    SimulatedPatient,
    combine,
    eye_field,
    mouth_field,
    warp,
)

if TYPE_CHECKING:
    from station.tracking.face import FaceSample
    from station.tracking.metrics import Baseline

# The other side's full movement: shares of the inter-iris distance (IOD, ~63 mm), or for the
# eye closure the closing fraction of eye_field.
FULL: dict[str, float] = {
    "brow_lift": 0.07,
    "eye_closure": 0.6,
    "open_smile": 0.10,
    "snarl": 0.08,
    "lip_pucker": 0.08,
}
JAW_DROP = 0.02  # the open smile's lower lip drops this share of the IOD (midline, both sides)
LEVELS = 8  # movement amounts are warped at 1/8 steps (cached)
BLINK_F = 0.8
BLINK_S = 0.25
SETTLE_CALIBRATED_S = 3.5  # a still face is calibrated by then at 10 fps and more

# name -> (sample, how to get the image). Near-frontal (the landmarker's yaw / pitch): "video"
# (0.00 / 0.02), "clip" (-0.05 / -0.15; a still, neutral stretch of a stock clip), "posed"
# (0.00 / 0.05; smiles a little at rest). Turned in their photos: "studio" (-0.17 rad yaw) and
# "portrait" (0.20 rad).
FACES: dict[str, tuple[str, str]] = {
    "clip": ("video/WolfgangLanger_Pexels.mp4", "frame 287"),
    "posed": ("images/0-f15-hao-ph.jpg", "image"),
    "portrait": ("images/biden.jpg", "crop 265 78 640 640"),  # = the media's synthetic neutral face
    "studio": ("images/15-f13-anc-ph.jpg", "image"),
    "video": ("video/single_face.mp4", "first frame"),
}


@dataclass(frozen=True)
class CheckinScript:
    """What the scripted patient does: the affected side's share and the eye's narrowing."""

    side: str = "left"
    ratio: float = 0.6
    smile_narrowing: float = 0.0  # share of the resting fissure, 0.2 = 20 %
    pucker_narrowing: float = 0.0
    blink: bool = False


def _bump(center: np.ndarray, sx: float, sy: float, ax: FaceAxes, vec: np.ndarray) -> Field:
    """Anisotropic Gaussian bump (face axes) moving points near ``center`` by ``vec`` px."""

    def field(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = x - center[0], y - center[1]
        u = dx * ax.ux[0] + dy * ax.ux[1]
        v = dx * ax.uy[0] + dy * ax.uy[1]
        g = np.exp(-(u**2) / (2 * sx**2) - v**2 / (2 * sy**2))
        return g * vec[0], g * vec[1]

    return field


def brow_field(L0: np.ndarray, side: str, n_px: float) -> Field:
    """The brow rises by n_px (a wide, flat bump over the brow: the upper lid follows a little)."""
    ax = FaceAxes.of(L0)
    pts = L0[list(lm.BROW[side]), :2].astype(np.float64)
    width = float(np.linalg.norm(pts[0] - pts[-1]))
    return _bump(pts.mean(axis=0), 0.3 * width, 0.2 * width, ax, -n_px * ax.uy)


def snarl_field(L0: np.ndarray, side: str, n_px: float) -> Field:
    """The nasal ala and the upper lip beside it rise by n_px (the landmarker follows the lip,
    hardly a cheek or ala moved alone)."""
    ax = FaceAxes.of(L0)
    c = (L0[lm.NOSE_CHEEK[side][0], :2] + L0[lm.MOUTH_CORNER[side], :2]) / 2.0
    iod = float(np.linalg.norm(L0[473, :2] - L0[468, :2]))
    return _bump(c.astype(np.float64), 0.15 * iod, 0.15 * iod, ax, -n_px * ax.uy)


def pucker_field(L0: np.ndarray, side: str, n_px: float) -> Field:
    """The mouth corner moves towards the midline by n_px."""
    ax = FaceAxes.of(L0)
    sign = 1.0 if side == "left" else -1.0
    c = L0[lm.MOUTH_CORNER[side], :2].astype(np.float64)
    width = float(np.linalg.norm(L0[61, :2] - L0[291, :2]))
    return _bump(c, 0.2 * width, 0.2 * width, ax, -sign * n_px * ax.ux)


def jaw_field(L0: np.ndarray, n_px: float) -> Field:
    """The lower lip's middle drops by n_px (an open mouth), away from the corners."""
    ax = FaceAxes.of(L0)
    c = L0[lm.LOWER_LIP_MID, :2].astype(np.float64)
    width = float(np.linalg.norm(L0[61, :2] - L0[291, :2]))
    return _bump(c, 0.15 * width, 0.3 * width, ax, n_px * ax.uy)


def _fissure(points: np.ndarray, side: str, ax: FaceAxes) -> float:
    up = points[list(lm.EYE_UPPER_LID[side]), :2].mean(axis=0)
    lo = points[list(lm.EYE_LOWER_LID[side]), :2].mean(axis=0)
    return float((lo - up) @ ax.uy)


class CheckinFace:
    """One real face making the check-in's movements (warps cached by quantized amount)."""

    def __init__(self, image_rgb: np.ndarray, landmarks: np.ndarray, script: CheckinScript) -> None:
        self.image = np.ascontiguousarray(image_rgb)
        self.L0 = np.asarray(landmarks, dtype=np.float64)
        self.script = script
        self.side = script.side
        self.other = "right" if self.side == "left" else "left"
        self.iod = float(np.linalg.norm(self.L0[473, :2] - self.L0[468, :2]))
        self.axes = FaceAxes.of(self.L0)
        self._cache: dict[tuple[str, int, int], np.ndarray] = {}
        # per movement: the affected side's amount (share of the other side's) and the affected
        # eye's narrowing fraction; geometric by default, see :func:`calibrate`
        self.affected: dict[str, float] = {m: script.ratio for m in FULL}
        self.eye_f: dict[str, float] = {"open_smile": self.eye_fraction(script.smile_narrowing),
                                        "lip_pucker": self.eye_fraction(script.pucker_narrowing)}

    def eye_fraction(self, narrowing: float) -> float:
        """The eye_field fraction that narrows the affected fissure by ``narrowing`` (ground truth)."""
        if narrowing <= 0:
            return 0.0
        f0 = _fissure(self.L0, self.side, self.axes)
        fld = eye_field(self.L0, self.side, 1.0)
        dx, dy = fld(self.L0[:, 0], self.L0[:, 1])
        moved = self.L0[:, :2] + np.stack([dx, dy], axis=1)
        per_unit = 1.0 - _fissure(moved, self.side, self.axes) / f0
        return narrowing / per_unit

    def _fields(self, movement: str, a: float) -> list[Field]:
        """The displacement field of ``movement`` at amount ``a`` (0..1 of the full movement)."""
        full = FULL[movement]
        amounts = {self.other: a * full, self.side: a * full * self.affected[movement]}
        fields = []
        for side, amount in amounts.items():
            px = amount * self.iod
            if movement == "brow_lift":
                fields.append(brow_field(self.L0, side, px))
            elif movement == "eye_closure":
                fields.append(eye_field(self.L0, side, amount))
            elif movement == "open_smile":
                fields.append(mouth_field(self.L0, side, px))
            elif movement == "snarl":
                fields.append(snarl_field(self.L0, side, px))
            elif movement == "lip_pucker":
                fields.append(pucker_field(self.L0, side, px))
        if movement == "open_smile":
            fields.append(jaw_field(self.L0, a * JAW_DROP * self.iod))
        if self.eye_f.get(movement, 0.0) > 0:
            fields.append(eye_field(self.L0, self.side, a * self.eye_f[movement]))
        return fields

    def held(self, movement: str) -> np.ndarray:
        """The face at the full hold of ``movement`` (not cached: for calibration)."""
        return warp(self.image, combine(*self._fields(movement, 1.0)))

    def geometric_narrowing(self, movement: str) -> float:
        """The affected fissure's drop at the hold, share of rest, on the warped landmarks."""
        f0 = _fissure(self.L0, self.side, self.axes)
        fld = combine(*self._fields(movement, 1.0))
        dx, dy = fld(self.L0[:, 0], self.L0[:, 1])
        moved = self.L0[:, :2] + np.stack([dx, dy], axis=1)
        return 1.0 - _fissure(moved, self.side, self.axes) / f0

    def frame(self, movement: str | None, amount: float, blink: float = 0.0) -> np.ndarray:
        """The face at ``amount`` (0..1) of ``movement``, with a blink of both eyes (0..1)."""
        level = int(round(min(max(amount, 0.0), 1.0) * LEVELS)) if movement else 0
        b = int(round(blink * 4))
        key = (movement or "", level, b)
        if level == 0 and b == 0:
            return self.image
        if key not in self._cache:
            fields = self._fields(movement, level / LEVELS) if movement and level else []
            if b:
                fields += [eye_field(self.L0, "left", b / 4 * BLINK_F),
                           eye_field(self.L0, "right", b / 4 * BLINK_F)]
            self._cache[key] = warp(self.image, combine(*fields))
        return self._cache[key]


@dataclass(frozen=True)
class Step:
    """One step of the check-in timeline (seconds from the start press)."""

    phase: Phase
    movement_index: int | None
    try_index: int | None
    start: float
    end: float


def timeline(timing: CheckinTiming, calibrated_at: float = SETTLE_CALIBRATED_S) -> list[Step]:
    """The check-in's steps from the engine itself (every try judged good at once)."""
    eng = CheckinEngine(timing)
    outs = eng.handle(Event.SHORT_PRESS, 0.0)
    starts = [o for o in outs if isinstance(o, PhaseStarted)]
    calibrated = False
    while eng.phase not in (Phase.SUMMARY, Phase.HOME):
        nxt = eng.next_deadline()
        assert nxt is not None
        if not calibrated and nxt > calibrated_at:
            calibrated = True
            outs = eng.handle(Event.CALIBRATED, calibrated_at)
        else:
            outs = eng.tick(nxt)
        for o in outs:
            if isinstance(o, PhaseStarted):
                starts.append(o)
            if isinstance(o, TryEnded):
                starts += [x for x in eng.handle(Event.TRY_OK, o.at) if isinstance(x, PhaseStarted)]
    return [Step(a.phase, a.movement_index, a.try_index, a.at, b.at)
            for a, b in zip(starts, starts[1:], strict=False)]


def _amount(phase: Phase, f: float) -> float:
    return {Phase.MOVE: f, Phase.HOLD: 1.0, Phase.RELEASE: 1.0 - f}.get(phase, 0.0)


def frames(face: CheckinFace, steps: list[Step], fps: float,
           tail_s: float = 0.5) -> Iterator[tuple[float, np.ndarray]]:
    """(t, RGB frame) for the whole check-in at ``fps``."""
    end = steps[-1].end + tail_s
    k, i = 0, 0
    while (t := i / fps) <= end:
        while k < len(steps) - 1 and t >= steps[k].end:
            k += 1
        st = steps[k]
        movement, amount, blink = None, 0.0, 0.0
        if st.movement_index is not None and st.phase in (Phase.MOVE, Phase.HOLD, Phase.RELEASE):
            movement = MOVEMENTS[st.movement_index].id
            amount = _amount(st.phase, (t - st.start) / max(st.end - st.start, 1e-9))
            if (face.script.blink and movement == "open_smile" and st.try_index == 1
                    and st.phase is Phase.HOLD):
                x = (t - (st.start + 0.5 * (st.end - st.start))) / BLINK_S
                blink = float(np.sin(np.pi * x)) if 0.0 <= x <= 1.0 else 0.0
        yield t, face.frame(movement, amount, blink)
        i += 1


def write_video(path: Path, face: CheckinFace, timing: CheckinTiming, fps: float = 10.0) -> list[Step]:
    """Write the scripted check-in as a near-lossless MJPG video; returns its timeline."""
    import cv2

    steps = timeline(timing)
    h, w = face.image.shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    if not out.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    out.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
    try:
        for _t, rgb in frames(face, steps, fps):
            out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    finally:
        out.release()
    return steps


def face_image(name: str) -> np.ndarray:
    """The RGB image of face ``name`` (:data:`FACES`), from the pinned media."""
    import cv2

    from station.tracking.fakes.samples import sample_path

    sample, how = FACES[name]
    path = sample_path(sample)
    bgr: np.ndarray | None
    if how == "first frame" or how.startswith("frame "):
        cap = cv2.VideoCapture(str(path))
        if how != "first frame":
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(how.split()[1]))
        ok, bgr = cap.read()
        cap.release()
        if not ok or bgr is None:
            raise RuntimeError(f"cannot read {how} of {sample}")
    else:
        bgr = cv2.imread(str(path))
        if bgr is None:
            raise RuntimeError(f"cannot read {sample}")
        if how.startswith("crop"):
            x, y, w, h = (int(v) for v in how.split()[1:])
            bgr = bgr[y:y + h, x:x + w]
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def face_landmarks(rgb: np.ndarray, model_path: Path) -> np.ndarray:
    """The face's landmarks (pixels), found once after the tracker settles."""
    from station.tracking.tracker import Landmarker

    with Landmarker(model_path) as lmk:
        sample = None
        for i in range(12):
            sample = lmk.detect(rgb, i * 0.1)
    if sample is None or sample.landmarks is None:
        raise RuntimeError("no face found in the scripted face")
    return np.asarray(sample.landmarks, dtype=np.float64)


def load_face(name: str, model_path: Path, script: CheckinScript) -> CheckinFace:
    """A scripted check-in face: the image, its landmarks and the script."""
    rgb = face_image(name)
    return CheckinFace(rgb, face_landmarks(rgb, model_path), script)


def follow_checkins(patient: SimulatedPatient) -> SimulatedPatient:
    """Teach the demo's simulated patient the weekly check-in's movements: the other side full,
    the affected side at 0.6 of it, the eye narrowing 20 % in the smile (as the tests script)."""
    patient.checkin_face = lambda: CheckinFace(patient.image, patient.landmarks,
                                               CheckinScript(patient.side, ratio=0.6, smile_narrowing=0.2))
    return patient


# ---- what the landmarker sees of a warp ----------------------------------------------------


class StillProbe:
    """Still images through the FaceLandmarker (VIDEO mode, after a neutral baseline): the
    readings the landmarker gives a warped face held still. Use as a context manager."""

    def __init__(self, face: CheckinFace, model_path: Path) -> None:
        from station.tracking.tracker import Landmarker

        self.face = face
        self._lmk = Landmarker(model_path)
        self._t = 0.0
        self.baseline: Baseline | None = None

    def __enter__(self) -> StillProbe:
        from station.tracking.metrics import make_baseline

        self._lmk.__enter__()
        neutral = self._feed(self.face.image, 16)[6:]
        points = [s.landmarks for s in neutral if s.landmarks is not None]
        self.baseline = make_baseline(points, [s.pose for s in neutral if s.landmarks is not None])
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._lmk.__exit__(exc_type, exc, tb)

    def _feed(self, rgb: np.ndarray, n: int) -> list[FaceSample]:
        out = []
        for _ in range(n):
            self._t += 0.1
            out.append(self._lmk.detect(rgb, self._t))
        return out

    def readings(self, rgb: np.ndarray) -> np.ndarray:
        """(2, 6) median readings (mm) of ``rgb`` held still for a moment."""
        from station.tracking.metrics import measure

        held = [s.landmarks for s in self._feed(rgb, 8)[4:] if s.landmarks is not None]
        self._feed(self.face.image, 4)
        assert self.baseline is not None
        median: np.ndarray = np.median([measure(p, self.baseline)[0] for p in held], axis=0)
        return median


@dataclass(frozen=True)
class Reference:
    """What a calibrated scripted check-in should measure, per movement."""

    ratio: float | None  # the landmarker's ratio on the held still face
    narrowing_pct: float | None  # its affected-eye narrowing, % of the resting fissure
    geometric_ratio: float  # the warp's own amounts (affected / other)
    geometric_narrowing_pct: float


def calibrate(face: CheckinFace, model_path: Path, rounds: int = 6) -> dict[str, Reference]:
    """Set the affected side's warp so that the landmarker, on the held still face, sees the
    script's ratio and eye narrowing; returns what it sees of every held movement.

    Why: the landmarker follows a warp only partly, unequally on the two sides and differently
    on every face (measured at a scripted 0.6 on six faces: the station's own measure of the
    warp's ground-truth landmarks gives 0.58-0.62 for brow, smile and pucker, the landmarker
    on the held face 0.15-0.91 for the brow, 0.51-0.85 for the smile, 0.40-1.06 for the
    pucker, frontal faces as far off as turned ones; it sees about half of a squashed eye's
    narrowing). A geometric amount would test the landmarker's response to warps, not the
    check-in; set in what the landmarker sees, the matrix tests what the check-in adds (video,
    registration, timing, hold medians, any frame rate). The geometric amounts are reported
    beside. A movement the landmarker does not follow (the snarl: a warp that lifts the nose
    wing and cheek by 1-5 mm reads 0.0-0.5 mm) has no ratio to set.
    """
    from station.practice.checkin import MOVEMENT_BY_ID
    from station.practice.plan import REGIONS
    from station.tracking.metrics import side_index

    a_i, o_i = side_index(face.side), side_index(face.other)
    s = face.script
    refs: dict[str, Reference] = {}
    with StillProbe(face, model_path) as probe:
        assert probe.baseline is not None
        fiss = probe.baseline.fissure_mm()
        for mid in FULL:
            mv = MOVEMENT_BY_ID[mid]
            col = REGIONS.index(mv.target)
            target_n = {"open_smile": s.smile_narrowing, "lip_pucker": s.pucker_narrowing}.get(mid)
            rd = probe.readings(face.held(mid))

            def ratio(rd: np.ndarray, sign: float = mv.sign, col: int = col) -> float | None:
                other = sign * rd[o_i, col]
                return float(sign * rd[a_i, col] / other) if other > 0.5 else None

            for _pass in range(3):  # the eye's warp moves the ratio a little, and back
                rd = _set_ratio(probe, face, mid, ratio, s.ratio, rd, rounds)
                if target_n:
                    rd = _set_narrowing(probe, face, mid, target_n, fiss[a_i], a_i, rd, rounds)
                r = ratio(rd)
                if r is None or abs(r - s.ratio) < 0.03:
                    break
            refs[mid] = Reference(
                ratio=ratio(rd),
                narrowing_pct=float(-100 * rd[a_i, 0] / fiss[a_i]) if target_n is not None else None,
                geometric_ratio=face.affected[mid],
                geometric_narrowing_pct=100 * face.geometric_narrowing(mid))
    face._cache.clear()
    return refs


def _set_ratio(probe: StillProbe, face: CheckinFace, mid: str, ratio: Any, target: float,
               rd: np.ndarray, rounds: int) -> np.ndarray:
    """Secant steps on the affected side's amount until the landmarker reads ``target``."""
    seen: list[tuple[float, float]] = []  # (affected amount, ratio the landmarker read)
    for _ in range(rounds + 2):  # the response is monotonic, with an offset (the sides couple)
        r = ratio(rd)
        if r is None or abs(r - target) < 0.015:
            break
        seen.append((face.affected[mid], r))
        (a0, r0), (a1, r1) = (seen[-2], seen[-1]) if len(seen) > 1 else ((0.0, 0.0), seen[-1])
        slope = (r1 - r0) / (a1 - a0) if abs(a1 - a0) > 1e-6 and r1 != r0 else r1 / max(a1, 1e-3)
        nxt = float(np.clip(a1 + (target - r1) / max(slope, 0.05), 0.0, 2.5))
        if nxt == a1:
            break  # at a bound: the landmarker cannot be made to read the target here
        face.affected[mid] = nxt
        rd = probe.readings(face.held(mid))
    return rd


def _set_narrowing(probe: StillProbe, face: CheckinFace, mid: str, target: float, fissure: float,
                   a_i: int, rd: np.ndarray, rounds: int) -> np.ndarray:
    """Regula falsi on the affected eye's warp until the landmarker reads ``target`` narrowing."""
    lo, n_lo, hi, n_hi = 0.0, 0.0, 1.2, 1.0  # (fraction, narrowing) bracket
    for _ in range(rounds):
        n, f = -rd[a_i, 0] / fissure, face.eye_f[mid]
        if abs(n - target) < 0.01:
            break
        if n > target:
            hi, n_hi = f, n
        else:
            lo, n_lo = f, n
        face.eye_f[mid] = float(lo + (target - n_lo) * (hi - lo) / max(n_hi - n_lo, 1e-6))
        rd = probe.readings(face.held(mid))
    return rd
