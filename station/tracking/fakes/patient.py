"""A simulated patient for the laptop demo: a real face photo, gently moved on cue.

The pinned real face videos hardly ever show a resting face (people talk, laugh, cry in
them), so the station's calibration rightly waits long or never finds a neutral baseline and
the demo would show few meters. The simulated patient is a real neutral face photo (fetched by pinned hash) that
the demo animates with smooth one-sided warps following the session: the affected side's eye
closes gently during eye closures, its mouth corner lifts during smiles, and in one smile the
eye narrows a little too (synkinesis), so every meter state shows up. The real FaceLandmarker
still does all the measuring. The same warps are the tests' one-sided ground truth.

Method (as in the media manifest): a smooth displacement field ``D`` on one side of the face,
defined in the face's own axes (x along the iris line towards the subject's left, y towards
the mouth) so a tilted head is handled; the warped image is ``cv2.remap`` with the inverse
map found by fixed-point iteration ``q = p - D(q)``. Ground truth is ``L0 + D(L0)``. The
subject's RIGHT side uses the mirrored field.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from station.tracking import landmarks as lm
from station.tracking.camera import CameraError, Frame

Clock = Callable[[], float]

@dataclass(frozen=True)
class FaceAxes:
    """Unit vectors of a face in image pixels: ux towards the subject's left, uy down the face."""

    ux: np.ndarray
    uy: np.ndarray

    @classmethod
    def of(cls, L0: np.ndarray) -> FaceAxes:
        r, left = L0[lm.IRIS_CENTER["right"], :2], L0[lm.IRIS_CENTER["left"], :2]
        ux = (left - r) / np.linalg.norm(left - r)
        uy = np.array([-ux[1], ux[0]])
        mouth = (L0[lm.UPPER_LIP_MID, :2] + L0[lm.LOWER_LIP_MID, :2]) / 2
        if uy @ (mouth - (r + left) / 2) < 0:
            uy = -uy
        return cls(ux, uy)


#: a displacement field: (x, y) pixel arrays -> (dx, dy) arrays
Field = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def mouth_field(L0: np.ndarray, side: str, n_px: float) -> Field:
    """Gaussian bump at the mouth corner moving it up by n_px and out by n_px / 2."""
    ax = FaceAxes.of(L0)
    sign = 1.0 if side == "left" else -1.0
    c = L0[lm.MOUTH_CORNER[side], :2].astype(np.float64)
    width = float(np.linalg.norm(L0[61, :2] - L0[291, :2]))
    sigma = 0.3 * width
    vec = n_px * (0.5 * sign * ax.ux - ax.uy)

    def field(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = np.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2) / (2 * sigma**2))
        return g * vec[0], g * vec[1]

    return field


def eye_field(L0: np.ndarray, side: str, f: float) -> Field:
    """Windowed vertical squash of one eye towards its centre line by a fraction f."""
    ax = FaceAxes.of(L0)
    pts = L0[list(lm.EYE_CONTOUR[side]), :2].astype(np.float64)
    c = pts.mean(axis=0)
    outer, inner = lm.EYE_CORNERS[side]
    w = float(np.linalg.norm(L0[outer, :2] - L0[inner, :2]))
    su, sv = 0.45 * w, 0.3 * w

    def field(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = x - c[0], y - c[1]
        u = dx * ax.ux[0] + dy * ax.ux[1]
        v = dx * ax.uy[0] + dy * ax.uy[1]
        win = np.exp(-(u**2) / (2 * su**2) - v**2 / (2 * sv**2))
        amount = -f * v * win  # along uy: towards the eye's centre line
        return amount * ax.uy[0], amount * ax.uy[1]

    return field


def combine(*fields: Field) -> Field:
    """Sum of displacement fields."""

    def field(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = np.zeros_like(x), np.zeros_like(y)
        for fld in fields:
            a, b = fld(x, y)
            dx, dy = dx + a, dy + b
        return dx, dy

    return field


def warp(img: np.ndarray, field: Field, iters: int = 10) -> np.ndarray:
    """Warp ``img`` so that a point p moves to p + D(p) (inverse map by fixed-point iteration)."""
    h, w = img.shape[:2]
    qx, qy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    px, py = qx.copy(), qy.copy()
    for _ in range(iters):
        dx, dy = field(px, py)
        px, py = qx - dx.astype(np.float32), qy - dy.astype(np.float32)
    return cv2.remap(img, px, py, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)



LEVELS = 9  # precomputed amounts per movement: 0, 1/8 .. 1
EYE_CLOSE_F = 0.55
SMILE_SHARE_OF_IOD = 0.08
SYNKINESIS_EYE_F = 0.5  # the eye narrows this much during the second rep of a smile


class SimulatedPatient:
    """A frame source: the real face, moving as ``phase()`` says (a camera stand-in).

    ``phase()`` returns (state, pattern target region or None, rep, fraction of the phase).
    """

    kind = "simulated patient"

    def __init__(self, image_rgb: np.ndarray, landmarks: np.ndarray, side: str,
                 phase: Callable[[], tuple[str, str | None, int | None, float]],
                 fps: float = 24.0, clock: Clock = time.monotonic) -> None:
        self._phase = phase
        self._fps = fps
        self._clock = clock
        self._next = clock()
        self._index = 0
        L0 = np.asarray(landmarks, dtype=np.float64)
        iod = float(np.linalg.norm(L0[473, :2] - L0[468, :2]))
        self._image = self.image = np.ascontiguousarray(image_rgb)
        mouth = SMILE_SHARE_OF_IOD * iod
        self._fields: dict[str, Callable[[float], Field]] = {
            "eye": lambda a: eye_field(L0, side, a * EYE_CLOSE_F),
            "smile": lambda a: mouth_field(L0, side, a * mouth),
            "smile_syn": lambda a: combine(mouth_field(L0, side, a * mouth),
                                           eye_field(L0, side, a * SYNKINESIS_EYE_F)),
        }
        self._cache: dict[tuple[str, int], np.ndarray] = {}
        self.side, self.landmarks = side, L0
        # the weekly check-in's movements (station.tracking.fakes.checkin_video.follow_checkins
        # sets how to make them; made on first use)
        self.checkin_face: Callable[[], Any] | None = None
        self._checkin: Any = None

    def _face(self, kind: str, level: int) -> np.ndarray:
        """The face at ``level`` of a movement (warped once, on first use: ~0.1 s each)."""
        if level == 0:
            return self._image
        key = (kind, level)
        if key not in self._cache:
            self._cache[key] = warp(self._image, self._fields[kind](level / (LEVELS - 1)))
        return self._cache[key]

    def _amount(self, state: str, fraction: float) -> float:
        if state == "move":
            return fraction
        if state == "hold":
            return 1.0
        if state == "release":
            return 1.0 - fraction
        return 0.0

    def read(self) -> Frame | None:
        """The face as it looks now, paced at ``fps``."""
        now = self._clock()
        if now < self._next:
            return None
        self._next = max(self._next + 1.0 / self._fps, now)
        state, target, rep, fraction = self._phase()
        amount = self._amount(state, fraction)
        level = int(round(amount * (LEVELS - 1)))
        self._index += 1
        if target is not None and target.startswith("checkin:") and self.checkin_face is not None:
            if self._checkin is None:
                self._checkin = self.checkin_face()
            return Frame(rgb=self._checkin.frame(target.split(":", 1)[1], amount), t=now, index=self._index)
        if target == "eye":
            kind = "eye"
        elif target in ("mouth_corner", "lips"):
            kind = "smile_syn" if rep == 1 else "smile"
        else:
            kind, level = "eye", 0
        return Frame(rgb=self._face(kind, level), t=now, index=self._index)

    def close(self) -> None:
        """Nothing to release."""


def load_patient(model_path: Path, side: str,
                 phase: Callable[[], tuple[str, str | None, int | None, float]],
                 clock: Clock = time.monotonic, face: Path | None = None) -> SimulatedPatient:
    """The demo's simulated patient: the face photo (``face``, else fetched now), its landmarks
    found once, then warped on cue."""
    rgb, landmarks = demo_face(model_path, face)
    return SimulatedPatient(rgb, landmarks, side, phase, clock=clock)


def demo_face(model_path: Path, path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The demo's real neutral face photo (RGB; ``path``, else fetched now: call that before
    the network guard) and its landmarks (pixels)."""
    from station.tracking.fakes.samples import DEMO_FACE, SampleError, sample_path
    from station.tracking.tracker import Landmarker

    if path is None:
        try:
            path = sample_path(DEMO_FACE)
        except SampleError as exc:
            raise CameraError("No camera, and the sample face could not be fetched.") from exc
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise CameraError("The sample face could not be read.")
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    with Landmarker(model_path) as lmk:
        sample = None
        for i in range(12):  # VIDEO mode settles over ~10 frames
            sample = lmk.detect(rgb, i * 0.1)
    if sample is None or sample.landmarks is None:
        raise CameraError("No face found in the sample face photo.")
    return rgb, np.asarray(sample.landmarks, dtype=np.float64)
