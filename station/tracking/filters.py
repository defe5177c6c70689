"""Per-frame filters of the tracked stream: when a face counts as found, and a smoother whose
response does not depend on the frame rate (pure Python and numpy, no clock of its own).

>>> gate = FaceGate(3)
>>> [gate.update(f) for f in (True, True, True, False, True)]
[False, False, True, False, False]
>>> import numpy as np
>>> sm = Smoother(tau_s=0.1)
>>> float(sm.update(np.zeros((2, 6)), 0.0)[0, 0]), round(float(sm.update(np.ones((2, 6)), 0.1)[0, 0]), 3)
(0.0, 0.632)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["FOUND_FRAMES", "SMOOTH_TAU_S", "FaceGate", "Smoother"]

# A face must be seen in this many consecutive frames before it counts as found.
FOUND_FRAMES = 3
# One-pole smoothing time constant (time based): 63 % of a step within ~60 ms, so meters react
# well within 150 ms at 15-30 fps yet single-frame jitter is damped.
SMOOTH_TAU_S = 0.06


class FaceGate:
    """A face counts as found only after ``frames`` consecutive detections.

    A one-frame false positive therefore never starts or counts anything; a lost face is lost
    at once.
    """

    def __init__(self, frames: int = FOUND_FRAMES) -> None:
        self.frames = frames
        self.run = 0

    def update(self, face: bool) -> bool:
        """Feed one frame's detection; True while the face counts as found."""
        self.run = self.run + 1 if face else 0
        return self.run >= self.frames


class Smoother:
    """Time-based one-pole low-pass filter on (2, 6) readings.

    ``y += (1 - exp(-dt / tau)) * (x - y)``: independent of the frame rate, 63 % of a step
    after ``tau`` seconds. A gap longer than ``reset_s`` restarts it from the new value.
    """

    def __init__(self, tau_s: float = SMOOTH_TAU_S, reset_s: float = 0.5) -> None:
        self.tau_s = tau_s
        self.reset_s = reset_s
        self.value: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self.value, self._t = None, None

    def update(self, x: np.ndarray, t: float) -> np.ndarray:
        """Feed a reading at time ``t`` (seconds); returns the smoothed reading."""
        x = np.asarray(x, dtype=np.float64)
        if self.value is None or self._t is None or t - self._t > self.reset_s:
            self.value, self._t = x.copy(), t
            return self.value
        dt = t - self._t
        if dt <= 0:
            return self.value
        a = 1.0 - math.exp(-dt / self.tau_s) if self.tau_s > 0 else 1.0
        self.value = self.value + a * (x - self.value)
        self._t = t
        return self.value
