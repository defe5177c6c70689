"""Where the demo's frames come from: a webcam if there is one, else the simulated patient, or
the sample face video. Used by ``station demo`` and the benches only; a unit's kiosk opens its
own camera (``station.tracking.camera.open_source``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from station.config import Settings
from station.practice.events import View
from station.tracking.camera import CameraError, FrameSource, open_source

log = logging.getLogger(__name__)


class PhaseProbe:
    """What the session is doing now, for the demo's simulated patient (set once built)."""

    def __init__(self) -> None:
        self.view: Callable[[], View] | None = None

    def __call__(self) -> tuple[str, str | None, int | None, float]:
        if self.view is None:
            return ("home", None, None, 0.0)
        v = self.view()
        return (v.state.value, v.pattern.target if v.pattern else None, v.rep, v.phase_fraction)


def source_factory(settings: Settings, video: str | None = None, index: int | None = None,
                   demo_fallback: bool = False, model_path: Path | None = None,
                   probe: PhaseProbe | None = None) -> Callable[[], FrameSource]:
    """A function that opens the frame source (called on the tracker thread, and on retries).

    ``video="sample"`` plays the real face video fetched by pinned hash, ``"simulated"`` the
    simulated patient. With
    ``demo_fallback`` (the laptop demo) a missing webcam falls back to the simulated patient
    (a real face photo, gently moved in step with the session; see ``patient``).
    """

    def open_it() -> FrameSource:
        if video == "sample":
            from station.tracking.fakes.samples import DEMO_VIDEO, SampleError, sample_path

            try:
                path = sample_path(DEMO_VIDEO)
            except SampleError as exc:
                raise CameraError("The sample video could not be fetched.") from exc
            return open_source(settings.camera, video=str(path), loop=True)
        if video != "simulated":
            if video or index is not None:
                return open_source(settings.camera, video=video, index=index)
            try:
                return open_source(settings.camera)
            except CameraError:
                if not demo_fallback or model_path is None:
                    raise
        if model_path is None:
            raise CameraError("The simulated patient needs the face model.")
        from station.tracking.fakes.patient import load_patient

        log.info("no webcam: the demo plays a simulated patient (a real face photo, moved on cue)")
        return load_patient(model_path, settings.patient.affected_side, probe or PhaseProbe())

    return open_it
