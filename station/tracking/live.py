"""Live tracking for the kiosk: tracker thread + metrics + scoring, as one kiosk service.

The kiosk loop calls :meth:`LiveTracking.follow` with what the session engine did (the edges:
a session or a rep starting and ending, settle ending) and then :meth:`LiveTracking.poll` with
the engine's :class:`~station.practice.events.View` of the moment, every frame. This module is
the glue between the adapters (camera, tracker) and the pure core (metrics, scoring): it feeds
each new face sample to the metrics once, in the phase the view shows, says when calibration
is done and when the face comes and goes, scores each rep's move, hold and release on the
affected side (and its rest, where release is judged), and answers ``follow`` with what it
measured at those edges (:class:`~station.feedback.Measured`: the rep's numbers at its
``RepDone``, the baseline at ``SettleEnded``, the sentence at ``PatternDone``), which the loop
passes to the record store beside the outputs.
It never stops the session: no camera, no model or no face only pause scoring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from station.config import Settings
from station.feedback import (
    SIDES,
    Calibration,
    LiveFeedback,
    Measured,
    Observation,
    PatternResult,
    RepStats,
    Side,
    TrackingStatus,
)
from station.practice import words
from station.practice.events import (
    REP_PHASES,
    Output,
    PatternDone,
    PhaseStarted,
    RepDone,
    RepInterrupted,
    SessionFinished,
    SessionStarted,
    SettleEnded,
    State,
    View,
)
from station.practice.plan import REGIONS, Plan
from station.tracking.blinks import BlinkStream
from station.tracking.camera import FrameSource
from station.tracking.metrics import MetricFrame, Metrics
from station.tracking.quality import QualitySpec
from station.tracking.scoring import RepScorer, live_feedback, pattern_result
from station.tracking.tracker import NO_CAMERA, NO_MODEL, OK, TrackerThread

log = logging.getLogger(__name__)

SCORED_PHASES = frozenset(REP_PHASES)  # release is judged at the end of rest
# The face is asked to rest: the pose drift learns from these frames (metrics.update(rest=)).
REST_PHASES = frozenset({State.SETTLE, State.INTRO, State.REST, State.BREAK})
# The release break says so when the face did not let go in any of the pattern's last reps.
RELEASE_NOTE_REPS = 2
_TRACKER_TROUBLE = frozenset({NO_CAMERA, NO_MODEL})


class LiveTracking:
    """The kiosk's tracking service (``station.kiosk.services.TrackingService``).

    It follows the session only through the engine's outputs (:meth:`follow`) and its view
    (:meth:`poll`), never through the engine itself, and says what it saw as
    :class:`~station.feedback.Observation` values,
    which the kiosk turns into engine events. ``tracker`` is anything with ``start()``,
    ``latest()`` (a ``TrackerState``), ``set_idle()`` and ``stop()``; tests pass a
    :class:`~station.tracking.tracker.TrackerThread` driven by ``step()``.
    """

    needs_calibration = True

    def __init__(self, tracker: TrackerThread, plan: Plan, affected_side: Side, metrics: Metrics) -> None:
        self.tracker = tracker
        self.plan = plan
        self.side = affected_side
        self.metrics = metrics
        self._seq = -1
        self._frame: MetricFrame | None = None
        self._face_visible: bool | None = None
        self._calibration_sent = False
        self._scorer: RepScorer | None = None
        self._reps: dict[int, list[RepStats]] = {}
        self.rep_stats: list[RepStats] = []
        self._blink = BlinkStream(affected_side.row)

    # -- service protocol ------------------------------------------------------------------

    @property
    def camera_kind(self) -> str:
        """What frames come from: Pi camera, webcam, video file, simulated patient, or none."""
        return self.tracker.source_kind

    def start(self) -> None:
        """Start the camera and the model on their own threads (idle until a session starts)."""
        self.tracker.set_idle(True)
        self.tracker.start()

    def stop(self) -> None:
        """Stop the threads and release camera and model."""
        self.tracker.stop()

    def set_plan(self, plan: Plan, affected_side: Side) -> None:
        """Measure ``plan`` on ``affected_side`` from the next session."""
        self.plan, self.side = plan, affected_side
        self._blink = BlinkStream(affected_side.row)

    def poll(self, now: float, view: View) -> tuple[LiveFeedback, list[Observation]]:
        """Consume the newest face sample (once), in the phase ``view`` shows, and say what the
        meters show and what was seen."""
        phase = view.state
        state = self.tracker.latest()
        seen: list[Observation] = []
        if state.status is not OK or state.sample is None:
            status = state.status if state.status is not OK else TrackingStatus.NO_CAMERA
            if self._face_visible:
                self._face_visible = False
                seen.append(Observation.FACE_LOST)
            if state.status in _TRACKER_TROUBLE and phase is State.SETTLE:
                seen.append(Observation.CALIBRATION_UNAVAILABLE)  # guide by time, don't wait
            self._frame = None
            # The kiosk shows its own calm notice for a missing camera or model; the
            # tracker's technical wording (commands to run) stays in the log.
            message = "" if state.status in _TRACKER_TROUBLE else state.message
            return LiveFeedback(status=status, message=message), seen
        if state.seq != self._seq:
            self._seq = state.seq
            frame = self.metrics.update(state.sample, rest=phase in REST_PHASES)
            self._frame = frame
            if frame.face != self._face_visible:
                self._face_visible = frame.face
                seen.append(Observation.FACE_FOUND if frame.face else Observation.FACE_LOST)
            if self._scorer is not None and phase in SCORED_PHASES:
                self._scorer.add(frame, phase)  # not while paused: the patient may move freely
            if self.metrics.calibrated and not self._calibration_sent and phase is State.SETTLE:
                self._calibration_sent = True
                seen.append(Observation.CALIBRATED)
        return self._feedback(view), seen

    def follow(self, outputs: list[Output]) -> Measured:
        """Follow the session's edges and say what was measured at them: a rep's numbers at
        its ``RepDone``, the baseline at a calibrated ``SettleEnded``, the sentence at
        ``PatternDone``."""
        reps: list[RepStats] = []
        calibration: Calibration | None = None
        results: list[PatternResult] = []
        for o in outputs:
            match o:
                case SessionStarted():
                    self.tracker.set_idle(False)
                    self._reps.clear()
                    self.rep_stats.clear()
                case PhaseStarted():
                    self._phase_started(o)
                case SettleEnded(calibrated=True):
                    calibration = self._calibration()
                case RepDone():
                    stats = self._finish_rep()
                    if stats is not None:
                        reps.append(stats)
                        if stats.released is False:
                            self.metrics.drift.discard()  # a rest that did not let go is not learned
                case RepInterrupted():
                    self._scorer = None
                case SessionFinished():
                    self.tracker.set_idle(True)  # home or summary: nothing to measure until the next start
                case PatternDone(pattern_index=i):
                    p = self.plan.items[i].pattern
                    results.append(pattern_result(i, p, reps=self._reps.get(i, [])))
        return Measured(tuple(reps), calibration, tuple(results))

    # -- internals -------------------------------------------------------------------------

    def _phase_started(self, o: PhaseStarted) -> None:
        if o.phase is State.SETTLE:
            self.metrics.start_calibration()
            self._calibration_sent = False
        elif o.phase is State.MOVE and o.pattern_index is not None and o.rep is not None:
            self.metrics.drift.commit()  # the rests so far (never a rep's own) teach the drift
            item = self.plan.items[o.pattern_index]
            p = item.pattern
            self._scorer = RepScorer(p.id, o.pattern_index, o.rep, p.target, p.quiet, self.side,
                                     self.metrics.baseline, spec=QualitySpec.of(p, item.pacing.move_s))
        # The pace is timed from the first move frame, not from ``o.at``: samples carry the
        # tracker's clock, which is not the engine's in a sped-up demo.

    def _calibration(self) -> Calibration | None:
        baseline = self.metrics.baseline
        if baseline is None:
            return None
        thr = baseline.thresholds
        floors = {f"{side}.{region}": float(thr[i, j])
                  for i, side in enumerate(SIDES) for j, region in enumerate(REGIONS)}
        return Calibration(float(baseline.mm_per_px), floors, int(baseline.frames))

    def _finish_rep(self) -> RepStats | None:
        if self._scorer is None:
            return None
        stats = self._scorer.result()
        self._scorer = None
        self._reps.setdefault(stats.pattern_index, []).append(stats)
        self.rep_stats.append(stats)
        return stats

    def _feedback(self, view: View) -> LiveFeedback:
        frame = self._frame
        if frame is None:
            return LiveFeedback(status=TrackingStatus.NO_FACE, message="")
        settling = view.state is State.SETTLE
        if settling or not self.metrics.calibrated:
            if settling and self.metrics.calibrated:
                return LiveFeedback(status=TrackingStatus.TRACKING, message=words.RESTING_FACE_TAKEN)
            msg = self.metrics.calibrator.message or frame.message
            status = TrackingStatus.NO_FACE if frame.status is TrackingStatus.NO_FACE else TrackingStatus.CALIBRATING
            return LiveFeedback(status=status, message=msg)
        index = view.pattern_index
        if index is None or view.state in (State.HOME, State.SUMMARY):
            return LiveFeedback(status=frame.status, message=frame.message)
        pattern = self.plan.items[index].pattern
        if view.state is State.BREAK:
            return LiveFeedback(status=frame.status, message=frame.message,
                                release_note=self._release_note(index))
        move = None
        if view.state is State.MOVE and view.phase_duration_s > 0:
            move = view.phase_fraction
        return live_feedback(frame, pattern.target, pattern.quiet, self.side, self.metrics.baseline,
                             spec=QualitySpec.of(pattern), move_fraction=move, blink=self._blink)

    def _release_note(self, pattern_index: int) -> str:
        """In a release break: a calm note when the face did not let go in the last reps."""
        last = self._reps.get(pattern_index, [])[-RELEASE_NOTE_REPS:]
        if any(r.released is False for r in last):
            return words.release_note(self.plan.items[pattern_index].pattern)
        return ""


def make_live_tracking(settings: Settings, plan: Plan, model_path: Path,
                       source: Callable[[], FrameSource]) -> LiveTracking:
    """The live tracking service: ``source`` opens the frames (on the tracker thread, and on
    retries), e.g. ``lambda: open_source(settings.camera)`` on a unit."""
    tracker = TrackerThread(model_path, source, blendshapes=settings.tracking.blendshapes)
    return LiveTracking(tracker, plan, settings.patient.affected_side, Metrics.from_settings(settings.tracking))
