"""What the tracker hands to the core: one face sample per processed frame.

This is the seam between the tracker adapter (mediapipe) and the pure core (metrics,
session). Landmarks are in *pixels of the raw, unmirrored frame* (x right, y down, z in the
same pixel scale as x), so MediaPipe's LEFT/RIGHT keep meaning the subject's own left/right.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Pose:
    """Head rotation in radians (from the facial transformation matrix)."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    def distance(self, other: Pose) -> float:
        """Largest single-axis difference, in radians (used to gate turned frames)."""
        return max(abs(self.yaw - other.yaw), abs(self.pitch - other.pitch), abs(self.roll - other.roll))


@dataclass(frozen=True)
class FaceSample:
    """One processed frame: a face (478 landmarks) or none.

    ``t`` is the capture time in seconds on the monotonic clock of the frame source, so a
    sample can be matched to the session engine's time and to latency measurements.
    """

    t: float
    landmarks: np.ndarray | None  # (478, 3) float32 pixels, or None when no face
    pose: Pose | None = None
    image_size: tuple[int, int] = (0, 0)  # (width, height)
    blendshapes: dict[str, float] = field(default_factory=dict)
    frame_index: int = 0

    @property
    def face(self) -> bool:
        return self.landmarks is not None


def pose_from_matrix(m: np.ndarray) -> Pose:
    """Yaw, pitch, roll (radians) from MediaPipe's 4x4 facial transformation matrix."""
    r = np.asarray(m, dtype=np.float64)[:3, :3]
    # Remove scale, then decompose R = Rz(roll) Ry(yaw) Rx(pitch).
    r = r / np.cbrt(max(abs(np.linalg.det(r)), 1e-12))
    yaw = float(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = float(np.arctan2(r[2, 1], r[2, 2]))
    roll = float(np.arctan2(r[1, 0], r[0, 0]))
    return Pose(yaw=yaw, pitch=pitch, roll=roll)
