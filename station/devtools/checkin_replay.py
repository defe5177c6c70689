"""The weekly check-in on a video (``station checkin replay``; the command is in devtools.commands).

The same engine (:mod:`station.practice.checkin`), metrics and measures
(:mod:`station.tracking.checkin`) the kiosk will use, offline, like ``station replay``:

* the check-in starts at the video's first frame, as if the button were pressed then;
* the clock is the video's own timestamps; every frame goes through the FaceLandmarker in
  VIDEO mode (:func:`station.devtools.replay.video_samples`), none is dropped;
* each try is judged the moment it ends (the engine is stepped to every deadline between two
  frames, so its timeline does not drift by a frame per try);
* it ends at the summary or at the end of the video.

No frame is written anywhere: the result is numbers only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from station.config import Settings
from station.feedback import Side
from station.practice.checkin import (
    CheckinEngine,
    CheckinFinished,
    CheckinTiming,
    Event,
    Output,
    Phase,
    PhaseStarted,
    TryRejected,
)
from station.tracking.checkin import CheckinMeasures
from station.tracking.face import FaceSample
from station.tracking.metrics import Metrics

if TYPE_CHECKING:
    from station.tracking.fakes.checkin_video import CheckinFace


def replay_checkin(samples: Iterable[tuple[float, FaceSample]], side: Side | str,
                   settings: Settings | None = None,
                   timing: CheckinTiming | None = None) -> dict[str, Any]:
    """Run one check-in over timestamped face samples; the JSON-able result (no I/O)."""
    settings = settings or Settings()
    timing = timing or CheckinTiming()
    engine = CheckinEngine(timing)
    measures = CheckinMeasures(Side(side), Metrics.from_settings(settings.tracking), timing)
    phases: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    status: str | None = None
    frames = 0

    def follow(outs: list[Output], now: float) -> None:
        nonlocal status
        for o in outs:
            if isinstance(o, PhaseStarted):
                if phases and phases[-1]["end_s"] is None:
                    phases[-1]["end_s"] = round(o.at, 3)
                if o.phase is not Phase.SUMMARY:
                    mv = engine.movements[o.movement_index].id if o.movement_index is not None else None
                    phases.append({"phase": o.phase.value, "movement": mv, "try": o.try_index,
                                   "attempt": o.attempt, "start_s": round(o.at, 3), "end_s": None})
            elif isinstance(o, TryRejected):
                rejected.append({"movement": engine.movements[o.movement_index].id, "try": o.try_index,
                                 "attempt": o.attempt, "reason": o.reason, "repeat": o.repeat})
            elif isinstance(o, CheckinFinished):
                status = o.status.value
                if phases and phases[-1]["end_s"] is None:
                    phases[-1]["end_s"] = round(o.at, 3)
        for event, reason in measures.follow(outs):
            follow(engine.handle(event, now, reason), now)

    t = 0.0
    for t, sample in samples:
        if frames == 0:
            follow(engine.handle(Event.SHORT_PRESS, t), t)
        else:
            while status is None and (d := engine.next_deadline()) is not None and d <= t:
                follow(engine.tick(d), d)
            follow(engine.tick(t), t)
        if status is not None:
            break
        frames += 1
        for event in measures.frame(sample):
            follow(engine.handle(event, t), t)
    if phases and phases[-1]["end_s"] is None:
        phases[-1]["end_s"] = round(t, 3)
    return {"side": side, "status": status or "unfinished", "completed": status == "complete",
            "frames": frames, "phases": phases, "rejected": rejected, **measures.result()}


def scripted_checkin(face: CheckinFace, fps: float, model: Path,
                     timing: CheckinTiming | None = None) -> dict[str, Any]:
    """A scripted check-in face (:mod:`station.tracking.fakes.checkin_video`) through the real
    FaceLandmarker in VIDEO mode and :func:`replay_checkin`, frame by frame (no video file)."""
    from station.tracking.fakes.checkin_video import frames, timeline
    from station.tracking.tracker import Landmarker

    timing = timing or CheckinTiming()
    with Landmarker(model) as lmk:
        samples = ((t, lmk.detect(rgb, t)) for t, rgb in frames(face, timeline(timing), fps))
        return replay_checkin(samples, face.side, timing=timing)
