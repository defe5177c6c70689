"""A whole guided session on a video (``station replay``; the command is in devtools.commands).

An offline session through the same engine, metrics and scoring the kiosk uses (the session
engine, :class:`station.tracking.live.LiveTracking`, the FaceLandmarker in VIDEO mode), so that
practice quality can be checked against known movements:

* the session starts at the video's first frame, as if the button were pressed then; there
  are no pauses and no presses after that;
* the session clock is the video's own timestamps (seconds); every frame is processed, none is
  dropped (the tracker is stepped once per frame instead of running on its own thread);
* it ends at the summary or at the end of the video.

No frame is written anywhere: the result is numbers only (the JSON contract of the practice
quality issue): phases with start and end, each rep's flags and numbers, the sentences.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from station.config import Settings
from station.feedback import LiveFeedback, RepStats, Side
from station.practice.events import (
    Event,
    Output,
    PhaseStarted,
    SessionFinished,
    State,
    Timing,
)
from station.practice.plan import Plan
from station.practice.session import Engine
from station.tracking.face import FaceSample
from station.tracking.live import LiveTracking
from station.tracking.metrics import Metrics
from station.tracking.scoring import rep_was_scored
from station.tracking.tracker import OK, STARTING, TrackerState


class _SteppedTracker:
    """Stands in for the tracker thread: publishes exactly the sample it is given."""

    def __init__(self) -> None:
        self.state = TrackerState(status=STARTING)

    def start(self) -> None:
        """Nothing to start: frames are pushed by :func:`replay_samples`."""

    def stop(self) -> None:
        """Nothing to stop."""

    def set_idle(self, idle: bool) -> None:
        """Every frame is processed, idle or not."""

    def latest(self) -> TrackerState:
        return self.state

    def push(self, sample: FaceSample, t: float) -> None:
        self.state = TrackerState(status=OK, message="", sample=sample, seq=self.state.seq + 1,
                                  captured_at=t, available_at=t)


@dataclass
class _Phase:
    phase: str
    pattern: str | None
    rep: int | None
    pattern_index: int | None
    start_s: float
    end_s: float | None = None


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None else round(float(v), nd)


def rep_json(stats: RepStats) -> dict[str, Any]:
    """One rep as in the replay contract (extra keys welcome)."""
    return {
        "pattern": stats.pattern_id, "pattern_index": stats.pattern_index, "rep": stats.rep,
        "scored": rep_was_scored(stats),
        "slow": stats.slow, "small": stats.small, "quiet": stats.quiet, "released": stats.released,
        "target_peak_mm": _r(stats.target_peak_mm), "t80_share": _r(stats.t80_share),
        "quiet_excess_mm": _r(stats.quiet_excess_mm), "residual_mm": _r(stats.residual_mm),
        "gentle_max_mm": _r(stats.gentle_max_mm), "blinks": stats.blinks,
        "quiet_mm": {k: _r(v) for k, v in stats.quiet_mm.items()},
        "frames": stats.frames, "frames_gated": stats.frames_gated,
    }


def _note_meter(meters: dict[tuple[int, int], dict[str, Any]], phase: _Phase | None,
                fb: LiveFeedback) -> None:
    """Keep, per rep, the target meter's highest level and how often each hint showed."""
    if phase is None or phase.rep is None or phase.pattern_index is None:
        return
    target = next((m for m in fb.meters if m.role == "target"), None)
    if target is None:
        return
    m = meters.setdefault((phase.pattern_index, phase.rep),
                          {"max_level": 0.0, "gentle_to": target.gentle_to, "hints": {}})
    m["max_level"] = round(max(m["max_level"], target.level), 3)
    if target.hint:
        m["hints"][target.hint] = m["hints"].get(target.hint, 0) + 1
    warned = [q.region for q in fb.meters if q.role == "quiet" and q.warning]
    for region in warned:
        m.setdefault("quiet_warnings", {})[region] = m.get("quiet_warnings", {}).get(region, 0) + 1


def replay_samples(samples: Iterable[tuple[float, FaceSample]], plan: Plan, side: Side | str,
                   settings: Settings | None = None) -> dict[str, Any]:
    """Run one session over timestamped face samples; the JSON-able result (no I/O).

    ``samples`` yields (seconds, sample) with strictly increasing times; the first one is the
    button press. ``side`` (the affected one) is parsed here, as a test case or ``--side`` gives it.
    """
    settings = settings or Settings()
    tracker = _SteppedTracker()
    live = LiveTracking(tracker, plan, Side(side), Metrics.from_settings(settings.tracking))  # type: ignore[arg-type]
    s = settings.session
    engine = Engine(plan, Timing(settle_s=s.settle_s, settle_max_s=s.settle_max_s, intro_s=s.intro_s,
                                 break_s=s.break_s, pause_timeout_s=s.pause_timeout_s,
                                 needs_calibration=True))
    phases: list[_Phase] = []
    sentences: list[str] = []
    meters: dict[tuple[int, int], dict[str, Any]] = {}  # what the target meter did per rep
    finished = False
    frames = 0
    t = 0.0

    def follow(outs: list[Output]) -> None:
        nonlocal finished
        measured = live.follow(outs)
        sentences.extend(r.sentence for r in measured.results if r.sentence)
        for o in outs:
            match o:
                case PhaseStarted():
                    if phases and phases[-1].end_s is None:
                        phases[-1].end_s = o.at
                    if o.phase is State.SUMMARY:
                        continue
                    pid = plan.items[o.pattern_index].pattern.id if o.pattern_index is not None else None
                    phases.append(_Phase(o.phase.value, pid, o.rep, o.pattern_index, o.at))
                case SessionFinished():
                    finished = True
                    if phases and phases[-1].end_s is None:
                        phases[-1].end_s = o.at

    live.start()
    for t, sample in samples:
        if frames == 0:
            follow(engine.handle(Event.SHORT_PRESS, t))
        else:
            follow(engine.tick(t))
        frames += 1
        if finished:
            break
        tracker.push(sample, t)
        fb, seen = live.poll(t, engine.view(t))
        _note_meter(meters, phases[-1] if phases else None, fb)
        for obs in seen:  # the kiosk's mapping: each observation is the engine event of that name
            follow(engine.handle(Event(obs.value), t))
    live.stop()
    if phases and phases[-1].end_s is None:
        phases[-1].end_s = t
    completed = engine.counters.status is not None and engine.counters.status.value == "complete"
    return {
        "side": side,
        "completed": bool(completed),
        "frames": frames,
        "phases": [{"phase": p.phase, "pattern": p.pattern, "rep": p.rep,
                    "start_s": round(p.start_s, 3), "end_s": round(float(p.end_s or p.start_s), 3)}
                   for p in phases],
        "reps": [{**rep_json(r), "meter": meters.get((r.pattern_index, r.rep))}
                 for r in live.rep_stats],
        "sentences": sentences,
    }


def video_samples(video: Path, model: Path) -> Iterator[tuple[float, FaceSample]]:
    """Every frame of ``video`` through the FaceLandmarker, with the video's own timestamps."""
    import cv2

    from station.errors import UsageError
    from station.tracking.tracker import Landmarker

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise UsageError(f"cannot read the video {video}: not a video file OpenCV can open")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not (0.0 < fps < 1000.0):
        fps = 30.0
    try:
        with Landmarker(model) as lm:
            i, last = 0, -1.0
            while True:
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                ms = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
                t = ms / 1000.0 if ms > 0 or i == 0 else i / fps
                if t <= last:  # timestamps must grow (VIDEO mode and the engine need it)
                    t = max(i / fps, last + 1e-3)
                last = t
                rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                yield t, lm.detect(rgb, t)
                i += 1
    finally:
        cap.release()
