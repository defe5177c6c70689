"""Live tracking for the kiosk: tracker thread + metrics + scoring, as one kiosk service.

The kiosk loop calls :meth:`LiveTracking.poll` every frame and :meth:`on_outputs` with what
the session engine did. This module is the glue between the adapters (camera, tracker) and
the pure core (metrics, scoring): it feeds each new face sample to the metrics once, tells
the engine when calibration is done and when the face comes and goes, scores each rep's
move, hold and release on the affected side, and hands per-rep numbers to the record store.
It never stops the session: no camera, no model or no face only pause scoring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from station.config import Settings
from station.feedback import LiveFeedback, PatternResult, RepStats
from station.practice.events import (
    Event,
    Output,
    PatternDone,
    PhaseStarted,
    RepDone,
    RepInterrupted,
    SessionFinished,
    SessionStarted,
    State,
    View,
)
from station.practice.plan import Plan
from station.tracking.camera import CameraError, FrameSource, open_source
from station.tracking.metrics import Baseline, Frame, Metrics
from station.tracking.scoring import RepScorer, live_feedback, pattern_result
from station.tracking.tracker import NO_CAMERA, NO_MODEL, OK, TrackerThread

log = logging.getLogger(__name__)

SCORED_PHASES = frozenset({State.MOVE, State.HOLD, State.RELEASE})
_STATUS_OF_TRACKER = {NO_CAMERA: "no_camera", NO_MODEL: "no_model"}


class LiveTracking:
    """The kiosk's tracking service (see ``station.kiosk.app.TrackingService``).

    ``tracker`` is anything with ``start()``, ``latest()`` (a ``TrackerState``) and
    ``stop()``; tests pass a :class:`~station.tracking.tracker.TrackerThread` driven by ``step()``.
    """

    needs_calibration = True

    def __init__(self, tracker: TrackerThread, plan: Plan, affected_side: str, metrics: Metrics,
                 on_rep: Callable[[RepStats], None] | None = None,
                 on_calibration: Callable[[Baseline], None] | None = None) -> None:
        self.tracker = tracker
        self.plan = plan
        self.side = affected_side
        self.metrics = metrics
        self.on_rep = on_rep
        self.on_calibration = on_calibration
        self._seq = -1
        self._frame: Frame | None = None
        self._face_visible: bool | None = None
        self._calibration_sent = False
        self._phase = State.HOME
        self._pattern_index: int | None = None
        self._scorer: RepScorer | None = None
        self._reps: dict[int, list[RepStats]] = {}
        self._results: list[PatternResult] = []
        self.rep_stats: list[RepStats] = []
        self.probe: PhaseProbe | None = None

    # -- service protocol ------------------------------------------------------------------

    def start(self) -> None:
        """Start the camera and the model on their own threads (idle until a session starts)."""
        self._set_idle(True)
        self.tracker.start()

    def _set_idle(self, idle: bool) -> None:
        set_idle = getattr(self.tracker, "set_idle", None)
        if set_idle is not None:
            set_idle(idle)

    def stop(self) -> None:
        """Stop the threads and release camera and model."""
        self.tracker.stop()

    def poll(self, now: float, view: View) -> tuple[LiveFeedback, list[Event]]:
        """Consume the newest face sample (once) and say what the meters show."""
        state = self.tracker.latest()
        events: list[Event] = []
        if state.status != OK or state.sample is None:
            status = _STATUS_OF_TRACKER.get(state.status, "no_camera" if state.status != "starting" else "off")
            if self._face_visible:
                self._face_visible = False
                events.append(Event.FACE_LOST)
            if state.status in _STATUS_OF_TRACKER and view.state is State.SETTLE:
                events.append(Event.CALIBRATION_UNAVAILABLE)  # guide by time, don't wait
            self._frame = None
            # The kiosk shows its own calm notice for a missing camera or model; the
            # tracker's technical wording (commands to run) stays in the log.
            message = "" if state.status in _STATUS_OF_TRACKER else state.message
            return LiveFeedback(status=status, message=message), events
        if state.seq != self._seq:
            self._seq = state.seq
            frame = self.metrics.update(state.sample)
            self._frame = frame
            if frame.face != self._face_visible:
                self._face_visible = frame.face
                events.append(Event.FACE_FOUND if frame.face else Event.FACE_LOST)
            if self._scorer is not None and view.state in SCORED_PHASES:
                self._scorer.add(frame)  # not while paused: the patient may move freely then
            if self.metrics.calibrated and not self._calibration_sent and view.state is State.SETTLE:
                self._calibration_sent = True
                events.append(Event.CALIBRATED)
                if self.on_calibration is not None and self.metrics.baseline is not None:
                    self.on_calibration(self.metrics.baseline)
        return self._feedback(view), events

    def on_outputs(self, outputs: list[Output]) -> None:
        """Follow the session: calibrate in settle, score each rep, sum up each pattern."""
        for o in outputs:
            if isinstance(o, SessionStarted):
                self._set_idle(False)
                self._reps.clear()
                self._results.clear()
                self.rep_stats.clear()
            elif isinstance(o, PhaseStarted):
                self._phase = o.phase
                self._pattern_index = o.pattern_index
                if o.phase is State.SETTLE:
                    self.metrics.start_calibration()
                    self._calibration_sent = False
                elif o.phase is State.MOVE and o.pattern_index is not None and o.rep is not None:
                    p = self.plan.items[o.pattern_index].pattern
                    self._scorer = RepScorer(p.id, o.pattern_index, o.rep, p.target, p.quiet, self.side,
                                             self.metrics.baseline)
                elif o.phase not in SCORED_PHASES:
                    pass  # the scorer is closed by RepDone / RepInterrupted
            elif isinstance(o, RepDone):
                self._finish_rep()
            elif isinstance(o, RepInterrupted):
                self._scorer = None
            elif isinstance(o, SessionFinished):
                self._set_idle(True)  # home or summary: nothing to measure until the next start
            elif isinstance(o, PatternDone):
                p = self.plan.items[o.pattern_index].pattern
                self._results.append(pattern_result(o.pattern_index, p.id, p.quiet,
                                                    self._reps.get(o.pattern_index, [])))

    def pattern_results(self) -> list[PatternResult]:
        """One sentence per pattern played in this session."""
        return list(self._results)

    # -- internals -------------------------------------------------------------------------

    def _finish_rep(self) -> None:
        if self._scorer is None:
            return
        stats = self._scorer.result()
        self._scorer = None
        self._reps.setdefault(stats.pattern_index, []).append(stats)
        self.rep_stats.append(stats)
        if self.on_rep is not None:
            self.on_rep(stats)

    def _feedback(self, view: View) -> LiveFeedback:
        frame = self._frame
        if frame is None:
            return LiveFeedback(status="no_face", message="")
        if view.state is State.SETTLE or not self.metrics.calibrated:
            if view.state is State.SETTLE and self.metrics.calibrated:
                return LiveFeedback(status="tracking", message="Thank you. That's your resting face.")
            msg = self.metrics.calibrator.message or frame.message
            return LiveFeedback(status="no_face" if frame.status == "no_face" else "calibrating", message=msg)
        pattern = view.pattern
        if pattern is None:
            return LiveFeedback(status=frame.status, message=frame.message)
        return live_feedback(frame, pattern.target, pattern.quiet, self.side, self.metrics.baseline)


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
    (a real face photo, gently moved in step with the session; see station.simulate).
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


def make_live_tracking(settings: Settings, plan: Plan, model_path: Path, *, video: str | None = None,
                       index: int | None = None, demo_fallback: bool = False,
                       on_rep: Callable[[RepStats], None] | None = None,
                       on_calibration: Callable[[Baseline], None] | None = None) -> LiveTracking:
    """Build the live tracking service for ``station run`` / ``station demo``.

    The returned service's ``probe`` must be pointed at the engine's view (the kiosk does)
    for the demo's simulated patient to move in step with the session.
    """
    probe = PhaseProbe()
    tracker = TrackerThread(model_path, source_factory(settings, video, index, demo_fallback,
                                                       model_path, probe),
                            blendshapes=settings.tracking.blendshapes)
    live = LiveTracking(tracker, plan, settings.patient.affected_side, Metrics.from_settings(settings.tracking),
                        on_rep=on_rep, on_calibration=on_calibration)
    live.probe = probe
    return live
