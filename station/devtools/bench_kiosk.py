"""The kiosk part of ``station bench``: the real Station loop with live tracking on the SDL dummy
display (frame rate, step time, capture-to-meter latency)."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from station.feedback import TrackingStatus


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` (nearest rank; they need not be sorted)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class _StartPress:
    """The presses a ready patient makes first: start at home, continue from the first intro."""

    def __init__(self, station: Any, hold_time: float) -> None:
        from station.kiosk.button import ScriptedButton

        self.station = station
        self.inner = ScriptedButton(hold_time, clock=lambda: 0.0)
        self.pressed: set[Any] = set()

    def poll(self, now: float) -> list[Any]:
        """Press once at home and once in the intro, then report the press's edges when due."""
        from station.practice.events import State

        state = self.station.engine.state
        if state in (State.HOME, State.INTRO) and state not in self.pressed and not self.inner.busy:
            self.inner.press_for(now, 0.2)
            self.pressed.add(state)
        return self.inner.poll(now)

    def held_for(self, now: float) -> float:
        """How long the simulated press has been held."""
        return self.inner.held_for(now)

    def close(self) -> None:
        """Nothing to close."""


@dataclass
class _StepLog:
    """What the bench wrappers saw in each kiosk step (bench-only; the kiosk is not changed)."""

    start: list[float] = field(default_factory=list)  # perf_counter at step start
    step_s: list[float] = field(default_factory=list)
    meters: list[bool] = field(default_factory=list)  # a meter was on the screen drawn
    tracking: list[bool] = field(default_factory=list)  # the tracker was delivering samples
    to_meter_s: list[float] = field(default_factory=list)  # capture -> meter drawn
    to_screen_s: list[float] = field(default_factory=list)  # capture -> any screen drawn
    sample_s: list[float] = field(default_factory=list)  # capture -> sample published
    seqs: list[tuple[float, int]] = field(default_factory=list)  # (perf_counter, tracker seq)
    calibrated_at: float | None = None  # perf_counter when the metrics first had a baseline


def kiosk_run(model: Path, settings: Any, paced_s: float,
              unpaced_s: float) -> dict[str, Any]:
    """Run the real kiosk: ``Station.run`` paced at the display rate for ``paced_s`` seconds,
    then unpaced for ``unpaced_s``, with live tracking on ``video`` (the real LiveTracking,
    TrackerThread capture + inference threads, paced video source), one start press, real
    drawing at 800x480 on the SDL dummy display, records in a throw-away data dir.

    The loop first runs untimed until the first face sample (the model's process starting).
    Two bench-only wrappers measure: one around ``Station.step`` (its duration, and the moment
    it finished drawing), one around the tracker's ``latest()`` as the tracking service's poll
    calls it (which sample that step consumed, and its capture time).
    """
    import pygame

    from station.kiosk.wiring import SourceChoice, build_station
    from station.paths import model_path
    from station.practice.events import REP_PHASES

    saved = {k: os.environ.get(k) for k in ("SDL_VIDEODRIVER", "SDL_AUDIODRIVER")}
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ["SDL_AUDIODRIVER"] = "dummy"
    log_ = _StepLog()
    rep_states = frozenset(REP_PHASES)
    try:
        with tempfile.TemporaryDirectory(prefix="station-bench-") as tmp:
            data = Path(tmp)
            model_path(data).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(model, model_path(data))
            size = (800, 480)
            settings = replace(settings, display=replace(settings.display, width=size[0],
                                                         height=size[1], fullscreen=False),
                               tracking=replace(settings.tracking, enabled=True),
                               audio=replace(settings.audio, voice=False))  # the bench times tracking
            pygame.init()
            surface = pygame.display.set_mode(size)
            driver = pygame.display.get_driver()
            # The simulated patient (a real face photo moved on cue): real inference, and a
            # resting face to calibrate on, so the meters really show (no pinned video rests).
            source = SourceChoice(demo=True, video="simulated")
            station = build_station(source, settings, data, clock=time.monotonic, surface=surface)
            station.buttons.insert(0, _StartPress(station, settings.button.hold_time))
            live: Any = station.services.tracking  # the live (or demo) tracking built above
            tracker = live.tracker
            seen: list[Any] = []
            latest = tracker.latest

            def watched_latest() -> Any:
                state = latest()
                seen.append(state)
                return state

            tracker.latest = watched_latest
            step = station.step
            last_seq = [-1]

            def timed_step(now: float) -> Any:
                seen.clear()
                t0 = time.perf_counter()
                outs = step(now)
                drawn = time.monotonic()  # the clock frames are stamped on
                log_.start.append(t0)
                log_.step_s.append(time.perf_counter() - t0)
                meters = (station.mode == "session" and station.engine.state in rep_states
                          and bool(station.feedback.meters))
                log_.meters.append(meters)
                state = seen[-1] if seen else None
                ok = state is not None and state.sample is not None and state.status is TrackingStatus.TRACKING
                log_.tracking.append(ok)
                if log_.calibrated_at is None and getattr(live.metrics, "calibrated",
                                                          False):
                    log_.calibrated_at = t0
                if ok and state is not None and state.seq != last_seq[0]:
                    last_seq[0] = state.seq
                    log_.seqs.append((t0, state.seq))
                    log_.to_screen_s.append(drawn - state.captured_at)
                    log_.sample_s.append(state.available_at - state.captured_at)
                    if meters:
                        log_.to_meter_s.append(drawn - state.captured_at)
                return outs

            station.step = timed_step  # type: ignore[method-assign]  # the bench times each step

            def until(seconds: float) -> Callable[[], None]:
                end = time.perf_counter() + seconds

                def check() -> None:
                    if time.perf_counter() >= end:
                        station.running = False

                return check

            station.stop = lambda: None  # type: ignore[method-assign]  # keep the services running into the unpaced loop
            # The face model's process starts first (seconds, once per boot): not timed.
            ready_by = time.perf_counter() + 120.0

            def until_ready() -> None:
                if latest().sample is not None or time.perf_counter() >= ready_by:
                    station.running = False

            station.run(paced=True, on_frame=until_ready)
            log_ = _StepLog()
            station.running = True
            station.run(paced=True, on_frame=until(paced_s))
            paced_n = len(log_.start)
            paced_wall = time.perf_counter() - log_.start[0]
            del station.stop
            station.running = True
            station.run(paced=False, on_frame=until(unpaced_s))
            unpaced_wall = time.perf_counter() - log_.start[paced_n]
            phase = station.engine.state.value
    finally:
        pygame.display.quit()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"log": log_, "paced_n": paced_n, "paced_wall": paced_wall,
            "unpaced_wall": unpaced_wall, "driver": driver, "fps_setting": settings.display.fps,
            "phase": phase}


def kiosk_figures(run: dict[str, Any]) -> dict[str, float]:
    """Frame rates, step times and latencies out of :func:`kiosk_run`'s log."""
    lg: _StepLog = run["log"]
    n = run["paced_n"]
    out: dict[str, float] = {"paced_fps": n / run["paced_wall"]}
    if lg.calibrated_at is not None:
        out["calibrated_after_s"] = lg.calibrated_at - lg.start[0]
    # while tracking: from the first step that had a sample to the end of the paced loop
    first = next((i for i in range(n) if lg.tracking[i]), None)
    if first is not None and n - first > 1:
        out["tracking_fps"] = (n - 1 - first) / (lg.start[n - 1] - lg.start[first])
    gaps = [lg.start[i + 1] - lg.start[i] for i in range(n - 1) if lg.meters[i]]
    out["meter_frames"] = float(sum(lg.meters[:n]))
    out["meter_share"] = out["meter_frames"] / n
    if gaps:
        out["meter_fps"] = len(gaps) / sum(gaps)
    paced_ms = [1000 * s for s in lg.step_s[:n]]
    out["paced_step_median_ms"] = statistics.median(paced_ms)
    out["paced_step_p95_ms"] = pct(paced_ms, 0.95)
    unpaced_ms = [1000 * s for s in lg.step_s[n:]]
    if unpaced_ms:
        out["unpaced_step_median_ms"] = statistics.median(unpaced_ms)
        out["unpaced_step_p95_ms"] = pct(unpaced_ms, 0.95)
        out["unpaced_fps"] = len(unpaced_ms) / run["unpaced_wall"]
        t_split = lg.start[n]
        seq = [s for t, s in lg.seqs if t >= t_split]
        out["unpaced_tracker_fps"] = (seq[-1] - seq[0]) / run["unpaced_wall"] if seq else 0.0
    for key, values in (("meter", lg.to_meter_s), ("screen", lg.to_screen_s),
                        ("sample", lg.sample_s)):
        if values:
            ms = [1000 * v for v in values]
            out[f"{key}_median_ms"] = statistics.median(ms)
            out[f"{key}_p95_ms"] = pct(ms, 0.95)
            out[f"{key}_n"] = float(len(ms))
    return out
