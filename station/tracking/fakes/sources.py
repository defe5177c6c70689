"""Where the demo's frames come from: a webcam if there is one, else the simulated patient, or
the sample face video. Used by ``station demo`` and the benches only; a unit's kiosk opens its
own camera (``station.tracking.camera.open_source``).

Sample media are never fetched from the tracker's side (it carries the network guard): the
frame source asks a :class:`~station.tracking.fakes.fetch.MediaFetcher` (started before the
guard) and, while the sample is not here, reports no camera; :class:`DemoTracking` puts the
fetcher's plain sentence on the screen and lets it try again only while a session runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from station.config import Settings
from station.feedback import LiveFeedback, Measured, Observation, TrackingStatus
from station.practice.events import Output, SessionFinished, SessionStarted, View
from station.tracking.camera import CameraError, FrameSource, open_source
from station.tracking.fakes.fetch import MediaFetcher
from station.tracking.fakes.samples import DEMO_FACE, DEMO_VIDEO, SampleError, sample_path

if TYPE_CHECKING:
    from station.tracking.live import LiveTracking

log = logging.getLogger(__name__)


class PhaseProbe:
    """What the session is doing now, for the demo's simulated patient: the engine's latest
    :class:`View`, as the tracking was given it (:class:`DemoTracking` keeps it here every
    poll; the simulated patient reads it on the tracker's thread).

    While a weekly check-in runs, its view is kept in ``checkin`` (by
    :meth:`DemoTracking.follow_checkin`) and the patient follows it: the target is then
    ``"checkin:<movement id>"`` (the simulated patient makes that standard movement, both
    sides, the affected one weaker)."""

    def __init__(self) -> None:
        self.view: View | None = None
        self.checkin: Any = None

    def __call__(self) -> tuple[str, str | None, int | None, float]:
        ck = self.checkin
        if ck is not None:
            fraction = ck.elapsed_s / ck.duration_s if ck.duration_s > 0 else 0.0
            target = f"checkin:{ck.movement.id}" if ck.movement is not None else None
            return (ck.shown.value, target, ck.try_index, min(max(fraction, 0.0), 1.0))
        v = self.view
        if v is None:
            return ("home", None, None, 0.0)
        return (v.state.value, v.pattern.target if v.pattern else None, v.rep, v.phase_fraction)


def _sample(name: str, fetcher: MediaFetcher | None) -> Path:
    """The local sample, or CameraError while it is being fetched (never fetches here)."""
    if fetcher is None:
        try:
            return sample_path(name)
        except SampleError as exc:
            raise CameraError(f"{name} could not be fetched") from exc
    path = fetcher.path(name)
    if path is None:
        raise CameraError(f"{name} is not here yet ({'failed' if fetcher.failed(name) else 'fetching'})")
    return path


def source_factory(settings: Settings, video: str | None = None, index: int | None = None,
                   demo_fallback: bool = False, model_path: Path | None = None,
                   probe: PhaseProbe | None = None,
                   fetcher: MediaFetcher | None = None) -> Callable[[], FrameSource]:
    """A function that opens the frame source (called on the tracker thread, and on retries).

    ``video="sample"`` plays the real face video fetched by pinned hash, ``"simulated"`` the
    simulated patient. With ``demo_fallback`` (the laptop demo) a missing webcam falls back to
    the simulated patient (a real face photo, gently moved in step with the session; see
    ``patient``). Media come through ``fetcher`` when given (the demo: the tracker's thread
    carries the network guard), else are fetched in place (call it before the guard).
    """

    def open_it() -> FrameSource:
        if video == "sample":
            path = _sample(DEMO_VIDEO, fetcher)
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
        from station.tracking.fakes.checkin_video import follow_checkins
        from station.tracking.fakes.patient import load_patient

        face = _sample(DEMO_FACE, fetcher)
        log.info("no webcam: the demo plays a simulated patient (a real face photo, moved on cue)")
        return follow_checkins(load_patient(model_path, settings.patient.affected_side,
                                            probe or PhaseProbe(), face=face))

    return open_it


def wanted_sample(video: str | None, index: int | None) -> str | None:
    """The sample a demo with these options may need (None: a file or a camera index)."""
    if video == "sample":
        return DEMO_VIDEO
    if video == "simulated" or (video is None and index is None):
        return DEMO_FACE
    return None


class DemoTracking:
    """The demo's tracking service: the live one, the probe its simulated patient follows,
    and the media fetch it may wait for.

    Every poll hands the engine's view to ``probe``. While the sample is being fetched (or
    after a failed try) the feedback carries the fetcher's plain sentence instead of the bare
    "camera not available"; retries are allowed only between ``SessionStarted`` and
    ``SessionFinished``. Everything else is the inner service's (``tracker``, ``metrics`` ...
    are reached through it).
    """

    def __init__(self, inner: LiveTracking, probe: PhaseProbe, fetcher: MediaFetcher | None = None,
                 sample: str | None = None, *, eager: bool = False) -> None:
        self.inner = inner
        self.probe = probe
        self.fetcher = fetcher
        self.sample = sample
        self._eager = eager  # the sample is needed for sure: ask for it at start

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def preparing(self) -> bool:
        """The sample is being fetched right now (the demo's autoplay waits for it)."""
        return self.fetcher is not None and self.sample is not None and self.fetcher.busy(self.sample)

    def start(self) -> None:
        """Start the fetch (when surely needed) and the live tracking."""
        if self._eager and self.fetcher is not None and self.sample is not None:
            self.fetcher.path(self.sample)
        self.inner.start()

    def stop(self) -> None:
        """Stop the live tracking and let the fetch helper go."""
        try:
            self.inner.stop()
        finally:
            if self.fetcher is not None:
                self.fetcher.close()

    def poll(self, now: float, view: View) -> tuple[LiveFeedback, list[Observation]]:
        """The inner feedback; while the sample is missing, with the fetcher's sentence."""
        self.probe.view = view
        fb, seen = self.inner.poll(now, view)
        f, sample = self.fetcher, self.sample
        if f is not None and sample is not None and fb.status in (
                TrackingStatus.NO_CAMERA, TrackingStatus.STARTING) and (f.busy(sample) or f.failed(sample)):
            fb = replace(fb, status=TrackingStatus.NO_CAMERA, message=f.words(sample))
        return fb, seen

    def follow_checkin(self, view: Any) -> None:
        """A weekly check-in's view this frame (None when it ends): the patient follows it."""
        self.probe.checkin = view

    def follow(self, outputs: list[Output]) -> Measured:
        """Follow the session: retries are allowed only while it runs."""
        if self.fetcher is not None:
            for o in outputs:
                match o:
                    case SessionStarted():
                        self.fetcher.active = True
                    case SessionFinished():
                        self.fetcher.active = False
        return self.inner.follow(outputs)
