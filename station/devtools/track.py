"""``station track VIDEO --json OUT [--side left|right]``: per-frame readings of a video file.

Decodes with OpenCV (imported here only), runs the FaceLandmarker in VIDEO mode on every frame
with ``ts = frame * 1000 / fps``, and writes the JSON contract of the design notes.

Two passes: the first collects face samples; the baseline is then taken, as in a session, from
the first still stretch of ``calibration_frames`` frames with a settled face; the second pass
computes readings for *every* frame with a face against that baseline, including frames before
the baseline was found (they are marked ``"scored": false``). ``"face"`` is true only for frames
in a run of at least 3 consecutive detections (the gate a session uses), so a one-frame false
positive counts as no face; ``"detected"`` gives the raw detector answer. Without a baseline
(no still stretch) every ``"readings"`` is null and ``"baseline"`` is null.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from station.tracking.face import FaceSample
from station.tracking.filters import FOUND_FRAMES
from station.tracking.metrics import MAX_TURN_RAD, Metrics, measure, to_dict

log = logging.getLogger(__name__)


def read_samples(video: Path, model: Path) -> tuple[list[FaceSample], float]:
    import cv2

    from station.tracking.tracker import Landmarker

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        from station.errors import UsageError

        raise UsageError(f"cannot read the video {video}: not a video file OpenCV can open")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not (0.0 < fps < 1000.0):
        fps = 30.0
    samples: list[FaceSample] = []
    try:
        with Landmarker(model) as lm:
            i = 0
            while True:
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                samples.append(lm.detect(rgb, i / fps))
                i += 1
    finally:
        cap.release()
    if not samples:
        from station.errors import UsageError

        raise UsageError(f"the video {video} has no frames OpenCV can decode")
    return samples, fps


def found_mask(samples: list[FaceSample], frames: int = FOUND_FRAMES) -> list[bool]:
    """Per frame: part of a run of at least ``frames`` consecutive detections."""
    out = [False] * len(samples)
    i = 0
    while i < len(samples):
        if not samples[i].face:
            i += 1
            continue
        j = i
        while j < len(samples) and samples[j].face:
            j += 1
        if j - i >= frames:
            out[i:j] = [True] * (j - i)
        i = j
    return out


def track_samples(samples: list[FaceSample], fps: float, calibration_frames: int = 24,
                  max_turn_rad: float = MAX_TURN_RAD) -> dict:
    """The JSON-able result for a list of samples (both passes; no I/O)."""
    metrics = Metrics(calibration_frames=calibration_frames, max_turn_rad=max_turn_rad)
    frames_live = [metrics.update(s) for s in samples]
    base = metrics.baseline
    found = found_mask(samples)
    frames = []
    for i, (s, live, face) in enumerate(zip(samples, frames_live, found, strict=True)):
        pose = s.pose
        entry: dict = {
            "i": i,
            "t_ms": round(i * 1000.0 / fps, 3),
            "face": bool(face),
            "detected": bool(s.face),
            "scored": bool(live.scored and face),
            "pose": None if pose is None else {"yaw": round(pose.yaw, 5),
                                               "pitch": round(pose.pitch, 5),
                                               "roll": round(pose.roll, 5)},
            "readings": None,
        }
        if face and base is not None and s.landmarks is not None:
            vals, _, _ = measure(s.landmarks, base)
            if np.all(np.isfinite(vals)):
                entry["readings"] = {side: {k: round(v, 4) for k, v in regions.items()}
                                     for side, regions in to_dict(vals).items()}
        frames.append(entry)
    return {
        "frames": frames,
        "baseline": None if base is None else {
            "frame": next(i for i, f in enumerate(frames_live) if f.t >= base.t),
            "frames": base.frames,
            "mm_per_px": round(base.mm_per_px, 5),
            "thresholds_mm": {side: {k: round(v, 3) for k, v in regions.items()}
                              for side, regions in to_dict(base.thresholds).items()},
        },
        "face_share": round(sum(found) / len(found), 4) if found else 0.0,
    }
