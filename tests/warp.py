"""One-sided movement ground truth, made by warping a real neutral face (test helper).

Method (as in the media manifest): a smooth displacement field ``D`` on one side of the face,
defined in the face's own axes (x along the iris line towards the subject's left, y towards
the mouth) so a tilted head is handled; the warped image is ``cv2.remap`` with the inverse
map found by fixed-point iteration ``q = p - D(q)``. Ground truth is ``L0 + D(L0)``.

The subject's RIGHT side uses the mirrored field (outward flips sign, landmark 61 instead of
291), so the same commanded movement is tested on both sides of the same real face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from station import landmarks as lm


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


Field = "callable (x, y) arrays -> (dx, dy) arrays"


def mouth_field(L0: np.ndarray, side: str, n_px: float):  # noqa: ANN201
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


def eye_field(L0: np.ndarray, side: str, f: float):  # noqa: ANN201
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


def combine(*fields):  # noqa: ANN201
    """Sum of displacement fields."""

    def field(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = np.zeros_like(x), np.zeros_like(y)
        for fld in fields:
            a, b = fld(x, y)
            dx, dy = dx + a, dy + b
        return dx, dy

    return field


def warp(img: np.ndarray, field, iters: int = 10) -> np.ndarray:  # noqa: ANN001
    """Warp ``img`` so that a point p moves to p + D(p) (inverse map by fixed-point iteration)."""
    h, w = img.shape[:2]
    qx, qy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    px, py = qx.copy(), qy.copy()
    for _ in range(iters):
        dx, dy = field(px, py)
        px, py = qx - dx.astype(np.float32), qy - dy.astype(np.float32)
    return cv2.remap(img, px, py, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def moved(L0: np.ndarray, field) -> np.ndarray:  # noqa: ANN001
    """Ground-truth landmark positions after the warp: L0 + D(L0) (x, y only)."""
    x, y = L0[:, 0].astype(np.float64), L0[:, 1].astype(np.float64)
    dx, dy = field(x, y)
    return np.stack([x + dx, y + dy], axis=1)


def ramp(up: int, hold: int = 0) -> np.ndarray:
    """0 -> 1 over ``up`` frames, ``hold`` frames at 1, back to 0 over ``up`` frames."""
    rise = np.arange(up) / up
    return np.concatenate([rise, np.ones(hold + 1), rise[::-1]])
