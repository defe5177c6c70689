"""MediaPipe FaceLandmarker adapter: raw RGB frames in, :class:`FaceSample` out.

Inference always runs on the raw, unmirrored frame so MediaPipe's LEFT/RIGHT stay the
subject's own. ``mp.Image`` takes a raw pointer with no stride, so every frame is made
C-contiguous first (a padded or sliced view would give silently wrong pixels). Works with both
mediapipe lines (0.10.18 on a Pi 4, 1.x elsewhere): only the Tasks API is used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType

import numpy as np

from station.face import FaceSample, pose_from_matrix
from station.model import verify

log = logging.getLogger(__name__)


class Landmarker:
    """A FaceLandmarker in VIDEO mode for one face (synchronous; see TrackerThread for live use).

    >>> with Landmarker(model) as lm:                      # doctest: +SKIP
    ...     sample = lm.detect(rgb_frame, t=0.0)
    """

    def __init__(self, model_path: Path, blendshapes: bool = False) -> None:
        verify(Path(model_path))  # never load a model that is not the pinned one
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=1,
            output_face_blendshapes=blendshapes,
            output_facial_transformation_matrixes=True,
        )
        self._lm = vision.FaceLandmarker.create_from_options(options)
        self._last_ms = -1
        self._frames = 0

    def detect(self, rgb: np.ndarray, t: float) -> FaceSample:
        """Run the model on one RGB frame captured at monotonic time ``t`` (seconds)."""
        import mediapipe as mp

        frame = np.ascontiguousarray(rgb, dtype=np.uint8)
        h, w = frame.shape[:2]
        # VIDEO mode needs strictly increasing integer milliseconds.
        ts = max(int(round(t * 1000.0)), self._last_ms + 1)
        self._last_ms = ts
        result = self._lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame), ts)
        index = self._frames
        self._frames += 1
        if not result.face_landmarks:
            return FaceSample(t=t, landmarks=None, image_size=(w, h), frame_index=index)
        pts = result.face_landmarks[0]
        lms = np.array([(p.x * w, p.y * h, p.z * w) for p in pts], dtype=np.float32)
        pose = None
        if result.facial_transformation_matrixes:
            pose = pose_from_matrix(np.asarray(result.facial_transformation_matrixes[0]))
        blend: dict[str, float] = {}
        if result.face_blendshapes:
            blend = {c.category_name: float(c.score) for c in result.face_blendshapes[0]}
        return FaceSample(t=t, landmarks=lms, pose=pose, image_size=(w, h), blendshapes=blend,
                          frame_index=index)

    def close(self) -> None:
        """Release the model (avoids a harmless traceback at exit)."""
        if self._lm is not None:
            self._lm.close()
            self._lm = None

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
