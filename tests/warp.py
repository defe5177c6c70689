"""One-sided movement ground truth, made by warping a real neutral face (test helper).

The warps themselves live in station.tracking.fakes.patient (the demo's simulated patient uses them too).

Method (as in the media manifest): a smooth displacement field ``D`` on one side of the face,
defined in the face's own axes (x along the iris line towards the subject's left, y towards
the mouth) so a tilted head is handled; the warped image is ``cv2.remap`` with the inverse
map found by fixed-point iteration ``q = p - D(q)``. Ground truth is ``L0 + D(L0)``.

The subject's RIGHT side uses the mirrored field (outward flips sign, landmark 61 instead of
291), so the same commanded movement is tested on both sides of the same real face.
"""

from __future__ import annotations

import numpy as np

from station.tracking.fakes.patient import FaceAxes, combine, eye_field, mouth_field, warp

__all__ = ["FaceAxes", "combine", "eye_field", "mouth_field", "moved", "ramp", "warp"]


def moved(L0: np.ndarray, field) -> np.ndarray:  # noqa: ANN001
    """Ground-truth landmark positions after the warp: L0 + D(L0) (x, y only)."""
    x, y = L0[:, 0].astype(np.float64), L0[:, 1].astype(np.float64)
    dx, dy = field(x, y)
    return np.stack([x + dx, y + dy], axis=1)


def ramp(up: int, hold: int = 0) -> np.ndarray:
    """0 -> 1 over ``up`` frames, ``hold`` frames at 1, back to 0 over ``up`` frames."""
    rise = np.arange(up) / up
    return np.concatenate([rise, np.ones(hold + 1), rise[::-1]])
