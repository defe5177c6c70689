"""Live tracking for the kiosk: tracker thread + metrics + scoring, as one kiosk service.

The kiosk loop calls :meth:`LiveTracking.poll` every frame and :meth:`LiveTracking.follow` with
what the session engine did. This module is the glue between the adapters (camera, tracker)
and the pure core (metrics, scoring): it feeds each new face sample to the metrics once, says
when calibration is done and when the face comes and goes, scores each rep's move, hold and
release on the affected side (and its rest, where release is judged), and writes the rep's
numbers onto the rep's own ``RepDone`` output, which the record store then keeps: one stream,
no second path.
It never stops the session: no camera, no model or no face only pause scoring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from station.config import Settings
from station.feedback import SIDES, Calibration, LiveFeedback, Observation, RepStats, Side, TrackingStatus
from station.practice import words
from station.practice.events import (
    REP_PHASES,
    Output,
    PatternDone,
    Paused,
    PhaseStarted,
    RepDone,
    RepInterrupted,
    Resumed,
    SessionFinished,
    SessionStarted,
    SettleEnded,
    State,
    SummaryDismissed,
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

    It follows the session only through the engine's outputs (:meth:`follow`), never through
    the engine itself, and says what it saw as :class:`~station.feedback.Observation` values,
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
        self._state = State.HOME
        self._pattern_index: int | None = None
        self._scorer: RepScorer | None = None
        self._reps: dict[int, list[RepStats]] = {}
        self.rep_stats: list[RepStats] = []
        self._blink = BlinkStream(affected_side.row)
        self._phase_at, self._phase_s = 0.0, 0.0  # when the current phase started, its length

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

    def poll(self, now: float) -> tuple[LiveFeedback, list[Observation]]:
        """Consume the newest face sample (once) and say what the meters show and what was seen."""
        state = self.tracker.latest()
        seen: list[Observation] = []
        if state.status is not OK or state.sample is None:
            status = state.status if state.status is not OK else TrackingStatus.NO_CAMERA
            if self._face_visible:
                self._face_visible = False
                seen.append(Observation.FACE_LOST)
            if state.status in _TRACKER_TROUBLE and self._state is State.SETTLE:
                seen.append(Observation.CALIBRATION_UNAVAILABLE)  # guide by time, don't wait
            self._frame = None
            # The kiosk shows its own calm notice for a missing camera or model; the
            # tracker's technical wording (commands to run) stays in the log.
            message = "" if state.status in _TRACKER_TROUBLE else state.message
            return LiveFeedback(status=status, message=message), seen
        if state.seq != self._seq:
            self._seq = state.seq
            frame = self.metrics.update(state.sample, rest=self._state in REST_PHASES)
            self._frame = frame
            if frame.face != self._face_visible:
                self._face_visible = frame.face
                seen.append(Observation.FACE_FOUND if frame.face else Observation.FACE_LOST)
            if self._scorer is not None and self._state in SCORED_PHASES:
                self._scorer.add(frame, self._state)  # not while paused: the patient may move freely
            if self.metrics.calibrated and not self._calibration_sent and self._state is State.SETTLE:
                self._calibration_sent = True
                seen.append(Observation.CALIBRATED)
        return self._feedback(now), seen

    def follow(self, outputs: list[Output]) -> list[Output]:
        """Follow the session and fill in what was measured: a rep's numbers on its
        ``RepDone``, the baseline on ``SettleEnded``, the sentence on ``PatternDone``."""
        followed: list[Output] = []
        for o in outputs:
            if isinstance(o, SessionStarted):
                self.tracker.set_idle(False)
                self._reps.clear()
                self.rep_stats.clear()
            elif isinstance(o, PhaseStarted | Resumed):
                self._state = o.phase
                if isinstance(o, Resumed):
                    self._phase_at = o.at - max(0.0, self._phase_s - o.remaining_s)
                if isinstance(o, PhaseStarted):
                    self._phase_at, self._phase_s = o.at, o.duration_s
                    self._pattern_index = o.pattern_index
                    self._phase_started(o)
            elif isinstance(o, Paused):
                self._state = State.PAUSED
            elif isinstance(o, SettleEnded) and o.calibrated:
                o = replace(o, calibration=self._calibration())
            elif isinstance(o, RepDone):
                o = replace(o, stats=self._finish_rep())
                if o.stats is not None and o.stats.released is False:
                    self.metrics.drift.discard()  # a rest that did not let go is not learned
            elif isinstance(o, RepInterrupted):
                self._scorer = None
            elif isinstance(o, SessionFinished):
                self._state = State.SUMMARY
                self.tracker.set_idle(True)  # home or summary: nothing to measure until the next start
            elif isinstance(o, SummaryDismissed):
                self._state = State.HOME
            elif isinstance(o, PatternDone):
                p = self.plan.items[o.pattern_index].pattern
                o = replace(o, result=pattern_result(o.pattern_index, p,
                                                     reps=self._reps.get(o.pattern_index, [])))
            followed.append(o)
        return followed

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

    def _feedback(self, now: float) -> LiveFeedback:
        frame = self._frame
        if frame is None:
            return LiveFeedback(status=TrackingStatus.NO_FACE, message="")
        settling = self._state is State.SETTLE
        if settling or not self.metrics.calibrated:
            if settling and self.metrics.calibrated:
                return LiveFeedback(status=TrackingStatus.TRACKING, message=words.RESTING_FACE_TAKEN)
            msg = self.metrics.calibrator.message or frame.message
            status = TrackingStatus.NO_FACE if frame.status is TrackingStatus.NO_FACE else TrackingStatus.CALIBRATING
            return LiveFeedback(status=status, message=msg)
        if self._pattern_index is None or self._state in (State.HOME, State.SUMMARY):
            return LiveFeedback(status=frame.status, message=frame.message)
        pattern = self.plan.items[self._pattern_index].pattern
        if self._state is State.BREAK:
            return LiveFeedback(status=frame.status, message=frame.message,
                                release_note=self._release_note(self._pattern_index))
        move = None
        if self._state is State.MOVE and self._phase_s > 0:
            move = min(1.0, max(0.0, (now - self._phase_at) / self._phase_s))
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
