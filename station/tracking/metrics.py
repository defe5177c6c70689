"""Per-side region readings in millimetres, relative to this session's neutral face (pure numpy).

How a reading is made (see the project's design notes for why):

1. **Calibration** (:class:`Calibrator`): the first still stretch of ``calibration_frames``
   (24) frames with a face, after the landmarks have settled (:data:`SETTLE_FRAMES` frames
   after the face was found), gives the :class:`Baseline`. The neutral landmarks are averaged,
   rotated so the line through the iris centres (468 right, 473 left) is horizontal, the origin
   put in its middle (the perpendicular through it is the facial midline), and scaled to mm by
   the iris diameter (11.7 mm) measured at calibration *only* (the iris is covered as the eye
   closes, so it is never used again).
2. **Registration in 3-D**: every later frame is mapped onto the neutral face by a 3-D
   similarity fit (Umeyama: rotation, translation, scale) over the stable points
   (:data:`station.tracking.landmarks.STABLE` nasal midline and forehead, plus
   ``STABLE_LATERAL``), using the landmarker's x, y and z (z in pixels on x's scale), then
   measured in the neutral face frame: x towards the subject's left, y downwards, millimetres.
   *Why 3-D.* The stable points sit about 35 mm in front of the mouth corners, so a 2-D fit
   leaves a turn or nod as false movement: on real landmarks of a face turned 0.03 / 0.06 /
   0.1 rad (rotated about a head centre 100 mm behind the eyes), the 2-D fit read up to 0.86 /
   1.73 / 2.91 mm, the 3-D fit 0.00 mm (both the fit and the landmarker's projection are weak
   perspective). On the real face model re-tracking rendered 3-D turns (a mesh warp of three
   real faces, 0.03-0.1 rad, 33 renders) the largest reading fell from a median of 3.5x its
   region's floor (2-D) to 1.6x (3-D). *Why not the facial transformation matrix:* it is fitted
   to the whole canonical mesh, mouth included: a one-sided smile moved it by up to 0.019 rad,
   as much as our stable-point fit (0.023 rad). Cost: ``measure`` 0.41 ms a frame against
   0.32 ms for the 2-D fit. *Pose drift:* what a turn still adds (the landmarker does not keep a
   turned face rigid) is learned at rest and taken away (:mod:`station.tracking.posedrift`);
   past the poses learned, each reading is made smaller by what the turn could add there.
   *Turn gate.* :attr:`Registered.turn` is the head's yaw, pitch and roll since calibration.
   A frame turned or nodded more than :data:`MAX_TURN_RAD` (0.15 rad, 8.6 degrees) from the
   calibrated pose (by the fit, or by the landmarker's own pose) is not scored: its status is
   ``turned`` and the patient reads and hears "Turn back towards the screen." Why 0.15: the
   fit reads a turn 1.15-1.2 times the landmarker's own pose, so a turn the landmarker calls
   0.1 rad passes with margin; past it the drift grows beyond what a line learned at rest
   holds (up to 4 floors at 0.13 rad before correction). Roll is taken out exactly and is
   gated only past :data:`FRONTAL_RAD`.
3. **Readings**: per side and region a signed value in mm from neutral, in the region's own
   direction (see :mod:`station.tracking.landmarks`). The mouth corner is its displacement in the
   registered frame (never relative to lip points that move with the same smile).

The quiet threshold of a region is ``max(NOISE_K * noise, FLOORS_MM[region])`` where noise is
the standard deviation of that reading over the calibration frames. A perfectly still video
gives noise of ~0.01 mm, far below what a living face does at rest, so each region has a floor
(:data:`FLOORS_MM`).

Readings are handled internally as a (2, 6) array: rows :data:`SIDES` (left, right), columns
:data:`station.practice.plan.REGIONS`; :func:`to_dict` gives the ``{"left": {"eye": ..}, ..}`` form.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from station.config import TrackingSettings
from station.feedback import SIDES, Readings, TrackingStatus
from station.practice import words
from station.practice.plan import REGIONS
from station.tracking import landmarks as lm
from station.tracking.face import FaceSample, Pose
from station.tracking.filters import SMOOTH_TAU_S, FaceGate, Smoother
from station.tracking.posedrift import PoseDrift, shrink

# Landmarks settle over ~10 frames after a face is (re)acquired in VIDEO mode.
SETTLE_FRAMES = 10
# Quiet threshold = max(NOISE_K x calibration noise, floor).
NOISE_K = 3.0
# Floors in mm. Settled still-face spread is ~0.1 mm (image repeated); a living face at rest
# drifts a few tenths of a millimetre (breathing, micro-blinks), and the smallest clinically
# meaningful change is ~0.8 mm of fissure narrowing (one Sunnybrook synkinesis point). The
# floors sit between: above resting drift, below a meaningful movement. The eye is the most
# sensitive measure (fissure ~8-10 mm) so its floor is lowest; brow and chin points are the
# noisiest landmarks, so theirs are higher.
FLOORS_MM: dict[str, float] = {"eye": 0.6, "brow": 0.8, "mouth_corner": 0.7, "lips": 0.7,
                                "nose_cheek": 0.6, "chin": 0.8}
# Stillness during calibration, as shares of the inter-iris distance (~63 mm): the 90th
# percentile landmark deviation from the window mean after removing head motion (~1.3 mm:
# no expression change), the head's own drift (~6 mm), and the pose range in radians.
STILL_SHARE = 0.02
STILL_HEAD_SHARE = 0.1
STILL_POSE_RAD = 0.05
# A neutral baseline whose readings wander more than this (robust spread, mm, any region)
# was not a resting face (talking, an expression coming and going): calibration tries
# again. A still image gives ~0.01-0.06 mm; a blink alone does not count (robust spread).
MAX_CALIBRATION_NOISE_MM = 0.5
# Calibrate only on a roughly frontal face; an in-plane tilt further than this is not scored.
FRONTAL_RAD = 0.35
MAX_TURN_RAD = 0.15  # turned or nodded further from calibration: not scored (see above)
MAX_FIT_RMS_MM = 2.5  # stable points fitting worse (RMS mm): a hand over the nose, a jump
# A frame whose scale differs this much from neutral (ratio) is not scored (landmark jump).
MAX_SCALE_CHANGE = 0.25

MSG_NO_FACE, MSG_STILL, MSG_FRONT = words.NO_FACE_SEEN, words.KEEP_STILL, words.LOOK_STRAIGHT
MSG_SETTLING = words.SETTLE_TEXT

_SIGN = np.array([1.0, -1.0])  # outward x direction per side row (left, right)
_SIDE_IDX = {s: i for i, s in enumerate(SIDES)}
_REGION_IDX = {r: i for i, r in enumerate(REGIONS)}


def _side_idx(points: Mapping[str, tuple[int, ...]]) -> np.ndarray:
    return np.array([points[s] for s in SIDES])


_EYE_UP = _side_idx(lm.EYE_UPPER_LID)
_EYE_LO = _side_idx(lm.EYE_LOWER_LID)
_BROW = _side_idx(lm.BROW)
_NC = _side_idx(lm.NOSE_CHEEK)
_CORNER = np.array([lm.MOUTH_CORNER[s] for s in SIDES])
_CHIN_LIP = np.array([lm.CHIN_LIP[s] for s in SIDES])
_CHIN_PT = np.array([lm.CHIN_POINT[s] for s in SIDES])
_STABLE = np.array(lm.STABLE + lm.STABLE_LATERAL)
_IRIS_H = np.array([lm.IRIS_HORIZONTAL[s] for s in SIDES])


def side_index(side: str) -> int:
    """Row of ``side`` ("left"/"right", the subject's own) in a readings array."""
    return _SIDE_IDX[side]


def region_index(region: str) -> int:
    """Column of ``region`` in a readings array."""
    return _REGION_IDX[region]


def to_dict(values: np.ndarray) -> Readings:
    """(2, 6) array -> ``{"left": {"eye": mm, ...}, "right": {...}}`` (plain floats)."""
    return {s: {r: float(values[i, j]) for j, r in enumerate(REGIONS)} for i, s in enumerate(SIDES)}


def _det3(m: np.ndarray) -> float:
    (a, b, c), (d, e, f), (g, h, i) = m.tolist()  # np.linalg.det costs more than the fit
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (Umeyama) in 2-D or 3-D: scale s, rotation R, shift t with
    dst ~ s R src + t (R a proper rotation)."""
    n = len(src)
    ms, md = src.sum(axis=0) / n, dst.sum(axis=0) / n
    a, b = src - ms, dst - md
    cov = b.T @ a / n
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(src.shape[1])
    det = _det3(u @ vt) if src.shape[1] == 3 else float(np.linalg.det(u @ vt))
    if det < 0:
        sign[-1] = -1.0
    rot = (u * sign) @ vt
    var = float((a * a).sum()) / n
    s = float((d * sign).sum() / var) if var > 0 else 1.0
    return s, rot, md - s * rot @ ms


def rotation_angles(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in radians of a 3x3 rotation in the face frame (x across the face,
    y down, z depth): yaw turns about y, pitch (a nod) about x, roll in the image plane."""
    r = np.asarray(rot, dtype=np.float64).tolist()
    yaw = math.asin(min(1.0, max(-1.0, -r[2][0])))
    return yaw, math.atan2(r[2][1], r[2][2]), math.atan2(r[1][0], r[0][0])


def _xyz(points_px: np.ndarray) -> np.ndarray:
    """(N, 3) float64 pixels; a missing or non-finite depth column counts as 0 (a flat face)."""
    p = np.asarray(points_px)
    if p.shape[1] >= 3:
        return np.array(p[:, :3], dtype=np.float64)
    return np.c_[p[:, :2].astype(np.float64), np.zeros(len(p))]


def face_frame(points_px: np.ndarray, mm_per_px: float) -> np.ndarray:
    """Landmarks (N, 2 or 3) in pixels -> face frame in mm (N, 3): iris line horizontal, origin
    between the irises, y towards the mouth, z the landmarker's depth (same scale as x)."""
    return _face_frame(points_px, mm_per_px)[0]


def _face_frame(points_px: np.ndarray, mm_per_px: float) -> tuple[np.ndarray, np.ndarray]:
    p = _xyz(points_px)
    r, left = p[lm.IRIS_CENTER["right"], :2], p[lm.IRIS_CENTER["left"], :2]
    origin = (r + left) / 2.0
    ux = (left - r) / max(float(np.linalg.norm(left - r)), 1e-9)
    uy = np.array([-ux[1], ux[0]])
    mouth = (p[lm.UPPER_LIP_MID, :2] + p[lm.LOWER_LIP_MID, :2]) / 2.0
    if float(uy @ (mouth - origin)) < 0:  # y points from the eyes towards the mouth
        uy = -uy
    xy = (p[:, :2] - origin) @ np.stack([ux, uy], axis=1)
    z = p[:, 2] - (p[lm.IRIS_CENTER["right"], 2] + p[lm.IRIS_CENTER["left"], 2]) / 2.0
    # A left-handed (mirrored) in-plane frame flips depth so the 3-D frame stays a rotation.
    hand = float(np.sign(ux[0] * uy[1] - ux[1] * uy[0]) or 1.0)
    rot = np.array([[ux[0], ux[1], 0.0], [uy[0], uy[1], 0.0], [0.0, 0.0, hand]])
    return np.c_[xy, z * hand] * mm_per_px, rot


def absolute_values(p: np.ndarray) -> np.ndarray:
    """Geometric values (2, 6) in mm of face-frame points ``p``; mouth_corner column is 0.

    eye: lower-lid minus upper-lid height; brow: height above the iris line; lips: corner
    distance from the midline; nose_cheek: height (up positive); chin: lower lip to chin.
    """
    y = p[:, 1]
    out = np.empty((2, 6))
    out[:, 0] = y[_EYE_LO].mean(axis=1) - y[_EYE_UP].mean(axis=1)
    out[:, 1] = -y[_BROW].mean(axis=1)
    out[:, 2] = 0.0
    out[:, 3] = _SIGN * p[_CORNER, 0]
    out[:, 4] = -y[_NC].mean(axis=1)
    out[:, 5] = np.linalg.norm(p[_CHIN_PT] - p[_CHIN_LIP], axis=1)
    return out


def corner_move(p: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Each mouth corner's move from neutral (2 sides, (out, up)) in mm."""
    d = p[_CORNER] - neutral[_CORNER]
    return np.stack([_SIGN * d[:, 0], -d[:, 1]], axis=1)


def signed_length(move: np.ndarray) -> np.ndarray:
    """Signed corner displacement (2,) in mm: length of the move, positive when up and out."""
    mag = np.hypot(move[:, 0], move[:, 1])
    return np.where(move[:, 0] + move[:, 1] >= 0.0, mag, -mag)


def iris_diameter_px(points_px: np.ndarray) -> float:
    """Mean horizontal iris diameter of both eyes, in pixels."""
    d = points_px[_IRIS_H[:, 0]] - points_px[_IRIS_H[:, 1]]
    return float(np.linalg.norm(d, axis=1).mean())


@dataclass(frozen=True)
class Baseline:
    """This session's neutral face: geometry, scale, pose and per-region noise."""

    neutral_mm: np.ndarray  # (478, 3) neutral landmarks in the face frame (mm)
    mm_per_px: float  # from the iris diameter at calibration
    pose: Pose
    values: np.ndarray  # (2, 6) neutral absolute values (mm)
    noise: np.ndarray  # (2, 6) std of readings over the calibration frames (mm)
    frames: int = 0  # how many frames it was taken from
    t: float = 0.0  # time of the last calibration frame
    k: float = NOISE_K
    floors: dict[str, float] = field(default_factory=lambda: dict(FLOORS_MM))
    # pixel axes -> face-frame axes at calibration (the in-plane tilt of the neutral face)
    axes: np.ndarray = field(default_factory=lambda: np.eye(3))

    @property
    def thresholds(self) -> np.ndarray:
        """(2, 6) quiet thresholds: max(k x noise, floor)."""
        floor = np.array([self.floors[r] for r in REGIONS])
        return np.maximum(self.k * self.noise, floor[None, :])

    def threshold(self, side: str, region: str) -> float:
        """Quiet threshold (mm) of one region on one side."""
        return float(self.thresholds[_SIDE_IDX[side], _REGION_IDX[region]])

    def fissure_mm(self) -> np.ndarray:
        """Neutral palpebral fissure height per side (left, right), mm."""
        return self.values[:, 0].copy()


@dataclass(frozen=True)
class Registered:
    """One frame registered onto the neutral face (see :func:`register`)."""

    points: np.ndarray  # (N, 3) mm in the neutral face frame
    rms: float  # fit residual over the stable points, mm
    scale: float  # this frame's scale over neutral's
    turn: tuple[float, float, float]  # (yaw, pitch, roll) from the neutral pose, radians


def register(points_px: np.ndarray, baseline: Baseline) -> Registered:
    """Map a frame's landmarks (N, 2+) onto the neutral face frame by a 3-D similarity fit on
    the stable points (see the module docstring), so turns and nods are taken out."""
    p = _xyz(points_px)
    if not np.all(np.isfinite(p[:, 2])):
        p[:, 2] = 0.0
    src, dst = p[_STABLE], baseline.neutral_mm[_STABLE]
    s, rot, t = similarity_fit(src, dst)
    out = s * (p @ rot.T) + t
    rms = float(np.sqrt(((out[_STABLE] - dst) ** 2).sum(axis=1).mean()))
    # rot maps this frame onto neutral; the head's turn since calibration, in the face's own
    # axes, is axes @ rot^T (the identity for the calibration frames themselves).
    return Registered(out, rms, s / baseline.mm_per_px, rotation_angles(baseline.axes @ rot.T))


def readings_of(reg: Registered, baseline: Baseline) -> np.ndarray:
    """Readings (2, 6) in signed mm from neutral of a registered frame."""
    vals = absolute_values(reg.points) - baseline.values
    vals[:, 2] = signed_length(corner_move(reg.points, baseline.neutral_mm))
    return vals


def measure(points_px: np.ndarray, baseline: Baseline) -> tuple[np.ndarray, float, float]:
    """Readings (2, 6) in signed mm from neutral, plus fit RMS (mm) and scale ratio."""
    reg = register(points_px, baseline)
    return readings_of(reg, baseline), reg.rms, reg.scale


def make_baseline(frames_px: list[np.ndarray], poses: list[Pose | None], t: float = 0.0,
                  k: float = NOISE_K, floors: dict[str, float] | None = None) -> Baseline:
    """Baseline from calibration frames (each (478, 2+) pixels) of a still, neutral face."""
    stack = np.stack([_xyz(f) for f in frames_px])
    stack[:, :, 2] = np.where(np.isfinite(stack[:, :, 2]), stack[:, :, 2], 0.0)
    # Median, not mean: a blink in a few of the frames must not shift the neutral face.
    mean_px = np.median(stack, axis=0)
    mm_per_px = lm.IRIS_DIAMETER_MM / float(np.median([iris_diameter_px(f) for f in stack]))
    neutral, axes = _face_frame(mean_px, mm_per_px)
    known = [p for p in poses if p is not None]
    pose = Pose(
        yaw=float(np.median([p.yaw for p in known])) if known else 0.0,
        pitch=float(np.median([p.pitch for p in known])) if known else 0.0,
        roll=float(np.median([p.roll for p in known])) if known else 0.0,
    )
    values = absolute_values(neutral)
    base = Baseline(neutral_mm=neutral, mm_per_px=mm_per_px, pose=pose, values=values,
                    noise=np.zeros((2, 6)), frames=len(frames_px), t=t, k=k,
                    floors=dict(floors or FLOORS_MM), axes=axes)
    readings = np.stack([measure(f, base)[0] for f in stack])
    # Robust spread (1.4826 x median absolute deviation = std for Gaussian noise), so one
    # blink does not make the eye's noise floor, and so its quiet threshold, huge.
    noise = 1.4826 * np.median(np.abs(readings - np.median(readings, axis=0)), axis=0)
    return Baseline(neutral_mm=neutral, mm_per_px=mm_per_px, pose=pose, values=values,
                    noise=noise, frames=len(frames_px), t=t, k=k,
                    floors=dict(floors or FLOORS_MM), axes=axes)


class Calibrator:
    """Finds the first still stretch of frames with a settled face and makes the Baseline.

    Feed every sample; :attr:`message` says in one plain sentence what the patient can do
    while no baseline exists yet. Keeps trying for as long as it is fed.
    """

    def __init__(self, frames: int = 24, settle_frames: int = SETTLE_FRAMES,
                 k: float = NOISE_K, floors: dict[str, float] | None = None) -> None:
        self.frames = max(2, int(frames))
        self.settle_frames = settle_frames
        self.k = k
        self.floors = dict(floors or FLOORS_MM)
        self.baseline: Baseline | None = None
        self.message = MSG_SETTLING
        self.reason = "settling"  # settling | no_face | not_still | turned | done
        self._run = 0
        self._window: deque[tuple[np.ndarray, Pose | None]] = deque(maxlen=self.frames)

    def reset(self) -> None:
        """Forget any baseline and start again."""
        self.baseline = None
        self._run = 0
        self._window.clear()
        self.message, self.reason = MSG_SETTLING, "settling"

    def feed(self, sample: FaceSample) -> Baseline | None:
        """Take one sample; returns the Baseline once (and keeps returning it) when found."""
        if self.baseline is not None:
            return self.baseline
        if not sample.face:
            self._run = 0
            self._window.clear()
            self.message, self.reason = MSG_NO_FACE, "no_face"
            return None
        self._run += 1
        if self._run <= self.settle_frames:
            self.message, self.reason = MSG_SETTLING, "settling"
            return None
        pose = sample.pose
        if pose is not None and max(abs(pose.yaw), abs(pose.pitch)) > FRONTAL_RAD:
            self._window.clear()
            self.message, self.reason = MSG_FRONT, "turned"
            return None
        self._window.append((_xyz(sample.landmarks), pose))  # type: ignore[arg-type]  # sample.face holds
        if len(self._window) < self.frames:
            if self.reason not in ("not_still",):
                self.message, self.reason = MSG_SETTLING, "settling"
            return None
        if not self._still():
            self.message, self.reason = MSG_STILL, "not_still"
            return None
        base = make_baseline([w[0] for w in self._window], [w[1] for w in self._window],
                             t=sample.t, k=self.k, floors=self.floors)
        if float(base.noise.max()) > MAX_CALIBRATION_NOISE_MM:
            self._window.popleft()  # slide on: the next still stretch may be calmer
            self.message, self.reason = MSG_STILL, "not_still"
            return None
        self.baseline = base
        self.message, self.reason = "", "done"
        return self.baseline

    def _still(self) -> bool:
        stack = np.stack([w[0][:, :2] for w in self._window])
        mean = stack.mean(axis=0)
        eyes = mean[lm.IRIS_CENTER["left"]] - mean[lm.IRIS_CENTER["right"]]
        iod = max(float(np.linalg.norm(eyes)), 1.0)
        # Head: the stable points' centre may drift a little (registration handles that).
        centre = stack[:, _STABLE].mean(axis=1)
        drift = float(np.linalg.norm(centre - centre.mean(axis=0), axis=1).max())
        if drift > STILL_HEAD_SHARE * iod:
            return False
        # Face: after removing head motion, landmarks must hold still (no expression change).
        aligned = []
        for f in stack:
            sc, rot, t = similarity_fit(f[_STABLE], mean[_STABLE])
            aligned.append(sc * f @ rot.T + t)
        al = np.stack(aligned)
        dev = np.linalg.norm(al - al.mean(axis=0), axis=2)
        if float(np.percentile(dev.max(axis=0), 90)) > STILL_SHARE * iod:
            return False
        poses = [w[1] for w in self._window if w[1] is not None]
        if poses:
            for axis in ("yaw", "pitch", "roll"):
                v = [getattr(p, axis) for p in poses]
                if max(v) - min(v) > STILL_POSE_RAD:
                    return False
        return True


@dataclass(frozen=True)
class MetricFrame:
    """What the metrics made of one face sample.

    ``status``: ``no_face`` | ``calibrating`` | ``turned`` | ``tracking``. ``scored`` is True
    when the frame may count in a rep (face found, baseline known, pose within the gate,
    landmarks consistent). ``reason`` says why a frame was not scored (for logs and tests).
    """

    t: float
    face: bool
    scored: bool
    status: TrackingStatus
    message: str = ""
    reason: str = ""
    readings: np.ndarray | None = None  # (2, 6) raw mm, when a baseline and a face exist
    smoothed: np.ndarray | None = None  # (2, 6) smoothed mm
    pose: Pose | None = None
    turn_rad: float | None = None  # turn or nod from the calibrated pose (radians)

    def reading(self, side: str, region: str, smoothed: bool = True) -> float | None:
        """One value (mm) or None when there is none."""
        arr = self.smoothed if smoothed else self.readings
        if arr is None:
            return None
        return float(arr[_SIDE_IDX[side], _REGION_IDX[region]])


MSG_FACE_LOST = words.FACE_NOT_IN_VIEW
MSG_TURNED = words.TURN_BACK


class Metrics:
    """Face samples in, :class:`MetricFrame` out: gating, calibration, readings, smoothing.

    One object per session. Call :meth:`start_calibration` when the session engine is
    calibrating (settle phase); :meth:`update` for every sample. Never raises on odd input:
    a missing face or a landmark jump only pauses scoring.
    """

    def __init__(self, calibration_frames: int = 24, max_turn_rad: float = MAX_TURN_RAD,
                 settle_frames: int = SETTLE_FRAMES, tau_s: float = SMOOTH_TAU_S,
                 k: float = NOISE_K, floors: dict[str, float] | None = None) -> None:
        self.max_turn_rad = max_turn_rad
        self.calibrator = Calibrator(calibration_frames, settle_frames, k, floors)
        self.gate = FaceGate()
        self.smoother = Smoother(tau_s)
        self.settle_frames = settle_frames
        self.drift = PoseDrift()  # learned at rest (update(rest=True)), from each commit()

    @classmethod
    def from_settings(cls, tracking: TrackingSettings) -> Metrics:
        """Build from the unit's tracking settings."""
        return cls(calibration_frames=tracking.calibration_frames, max_turn_rad=tracking.max_turn_rad)

    @property
    def baseline(self) -> Baseline | None:
        return self.calibrator.baseline

    @property
    def calibrated(self) -> bool:
        return self.calibrator.baseline is not None

    def start_calibration(self) -> None:
        """Drop the baseline and take a new one from the next still frames."""
        self.calibrator.reset()
        self.smoother.reset()
        self.drift.reset()

    def update(self, sample: FaceSample, rest: bool = False) -> MetricFrame:
        """Process one sample (never raises for a missing face or odd landmarks); ``rest``: the
        session asks for a face at rest now, so the pose drift may learn from this frame."""
        found = self.gate.update(sample.face)
        if not found:
            self.smoother.reset()
            if self.baseline is None:
                self.calibrator.feed(sample)
            status = TrackingStatus.CALIBRATING if (self.baseline is None and sample.face) else TrackingStatus.NO_FACE
            msg = MSG_NO_FACE if self.baseline is None else MSG_FACE_LOST
            return MetricFrame(t=sample.t, face=False, scored=False, status=status, message=msg,
                         reason="no_face", pose=sample.pose)
        if self.baseline is None:
            self.calibrator.feed(sample)
            if self.baseline is None:
                return MetricFrame(t=sample.t, face=True, scored=False, status=TrackingStatus.CALIBRATING,
                             message=self.calibrator.message, reason="calibrating",
                             pose=sample.pose)
        base = self.baseline
        assert base is not None and sample.landmarks is not None
        try:
            reg = register(sample.landmarks, base)
            vals, rms, scale = readings_of(reg, base), reg.rms, reg.scale
        except (np.linalg.LinAlgError, ValueError, IndexError):
            return MetricFrame(t=sample.t, face=True, scored=False, status=TrackingStatus.TRACKING,
                         message=MSG_FACE_LOST, reason="landmarks", pose=sample.pose)
        if not np.all(np.isfinite(vals)):
            return MetricFrame(t=sample.t, face=True, scored=False, status=TrackingStatus.TRACKING,
                         message=MSG_FACE_LOST, reason="landmarks", pose=sample.pose)
        # Gated by the change from the calibrated pose, out of the image plane (turn or nod),
        # as the registration measured it and as the landmarker's own pose says; an in-plane
        # tilt is taken out exactly and is gated only when far (FRONTAL_RAD).
        yaw, pitch, roll = reg.turn
        move = corner_move(reg.points, base.neutral_mm)  # the drift is taken off this vector
        raw, (dv, dm) = vals, self.drift.correction((yaw, pitch))
        vals = vals - dv
        vals[:, 2] = signed_length(move - dm)
        vals = shrink(vals, self.drift.slack((yaw, pitch), rest))  # past the poses learned at rest
        turn = max(abs(yaw), abs(pitch))
        if sample.pose is not None:
            turn = max(turn, abs(sample.pose.yaw - base.pose.yaw),
                       abs(sample.pose.pitch - base.pose.pitch))
        turned = turn > self.max_turn_rad or abs(roll) > FRONTAL_RAD
        jumped = rms > MAX_FIT_RMS_MM or abs(scale - 1.0) > MAX_SCALE_CHANGE
        # After a face is (re)found, landmarks settle over ~10 frames: not scored meanwhile.
        settling = self.gate.run <= self.settle_frames
        smoothed = self.smoother.update(vals, sample.t) if not (turned or jumped) else None
        if rest and smoothed is not None and not settling:
            self.drift.observe((yaw, pitch), raw, move, base.thresholds)
        if turned:
            return MetricFrame(t=sample.t, face=True, scored=False, status=TrackingStatus.TURNED,
                               message=MSG_TURNED, reason="turned", readings=vals,
                               pose=sample.pose, turn_rad=turn)
        if jumped:
            return MetricFrame(t=sample.t, face=True, scored=False, status=TrackingStatus.TRACKING,
                         message=MSG_FACE_LOST, reason="landmarks", readings=vals,
                         pose=sample.pose, turn_rad=turn)
        return MetricFrame(t=sample.t, face=True, scored=not settling, status=TrackingStatus.TRACKING,
                     reason="settling" if settling else "", readings=vals,
                     smoothed=None if smoothed is None else smoothed.copy(), pose=sample.pose,
                     turn_rad=turn)

