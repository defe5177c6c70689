"""``station bench``: the performance table the tracking issue asks for, measured for real.

(a) Tracker throughput: bare ``detect_for_video`` (timed inside the model's sandboxed process)
vs our whole Landmarker + TrackerThread path on the very same decoded frames (decoded up front,
so decoding costs neither side), over a few runs whose median ratio is the verdict; and the
process hop per frame (round trip minus the child's own time, the frame copied into shared
memory) at the video's size, 640x480 (the unit's capture size) and 1280x720.
(b) Capture-to-sample latency of the live two-thread tracker alone. (c) Metrics per frame:
``Metrics.update`` + ``live_feedback`` + ``RepScorer.add`` on real samples of the video.
(d) The kiosk: the real ``Station`` loop with live tracking, drawing at 800x480 on the SDL
dummy display: frame rate, step time, capture-to-meter latency.
(e) Peak memory of a whole demo session in a fresh process.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from station.devtools.bench_kiosk import kiosk_figures, kiosk_run, pct
from station.feedback import Side, TrackingStatus
from station.tracking.blinks import BlinkStream
from station.tracking.camera import MemorySource, OpenCVSource, decode_all, iter_frames
from station.tracking.face import FaceSample
from station.tracking.metrics import Metrics, make_baseline, side_index
from station.tracking.scoring import RepScorer, live_feedback
from station.tracking.tracker import Landmarker, TrackerThread

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Row:
    """One line of the table: what, the figure, the target it is held to, a note."""

    name: str
    value: str
    target: str = ""
    note: str = ""
    number: float | None = None  # the figure as a number (for tests and scripts)


@dataclass
class BenchContext:
    """What the measurements share."""

    video: Path
    model: Path
    frames: list[np.ndarray]
    fps: float
    quick: bool
    results: dict[str, float] = field(default_factory=dict)


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    Linux: VmHWM from /proc (ru_maxrss survives exec, so a fresh child would report its
    parent's peak); elsewhere ru_maxrss (KiB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def tracker_fps(frames: Sequence[np.ndarray], model: Path, fps: float) -> dict[str, float]:
    """Our path (TrackerThread looping step() + Landmarker + the model's process) on every frame.

    An unpaced in-memory source and no capture thread, so none is dropped; timed from the first
    frame's capture to the last sample's publication. Also what the model's process measured
    itself: mediapipe's ``detect_for_video`` alone (the bare figure) and the process hop.
    """
    opened: list[float] = []
    made: list[Landmarker] = []

    def landmarker(path: Path, blendshapes: bool = False) -> Landmarker:
        made.append(Landmarker(path, blendshapes=blendshapes))
        return made[-1]

    def open_frames() -> MemorySource:
        opened.append(time.perf_counter())  # opened right before frame 0 is read
        # Same timestamps as the bare loop (VIDEO mode's tracking depends on them).
        return MemorySource(frames, fps=fps, paced=False, clock=time.perf_counter)

    tr = TrackerThread(model, open_frames, clock=time.perf_counter, capture_thread=False,
                       landmarker_factory=landmarker)
    quiet = logging.getLogger("station.tracking.tracker")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the frames running out is expected here, not a fault
    tr.start()
    try:
        n = len(frames)
        if not tr.wait_for(lambda s: s.frames_processed >= n or s.status is TrackingStatus.NO_MODEL, 600):
            raise RuntimeError("the tracker did not finish the frames in time")
        state = tr.latest()
        if state.status is TrackingStatus.NO_MODEL:
            raise RuntimeError(state.message)
        elapsed = state.available_at - opened[0]
        timings = list(made[-1].timings)
        return {"fps": n / elapsed, "med_s": statistics.median(tr.process_s),
                "dropped": float(state.frames_dropped),
                "bare_med_s": statistics.median(t[2] for t in timings),
                "bare_fps": len(timings) / sum(t[2] for t in timings),
                "hop_s": statistics.median(t[0] - t[1] for t in timings)}
    finally:
        tr.stop()
        quiet.setLevel(level)


def live_latency(frames: Sequence[np.ndarray], model: Path, fps: float,
                 seconds: float) -> dict[str, float]:
    """Capture-to-sample latency through the live two-thread tracker at the camera's pace."""
    tr = TrackerThread(model, lambda: MemorySource(frames, fps=fps, clock=time.perf_counter,
                                                   loop=True),
                       clock=time.perf_counter, capture_thread=True)
    tr.start()
    try:
        tr.wait_for(lambda s: s.frames_processed >= 1 or s.status is TrackingStatus.NO_MODEL, 60)
        tr.latencies.clear()
        start = time.perf_counter()
        before = tr.latest()
        time.sleep(seconds)  # a benchmark: real time is the point
        after = tr.latest()
        lat = sorted(tr.latencies)
    finally:
        tr.stop()
    if not lat:
        raise RuntimeError(f"no samples in {seconds:.0f} s ({after.status}: {after.message})")
    elapsed = time.perf_counter() - start
    return {
        "median_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))],
        "samples": float(len(lat)),
        "fps": (after.frames_processed - before.frames_processed) / elapsed,
        "dropped": float(after.frames_dropped - before.frames_dropped),
    }


def child_live_rss(video: Path, model: Path, seconds: float) -> float:
    """Peak RSS (MB) of a fresh process (and its model process) tracking the video live."""
    cmd = [sys.executable, "-m", "station.devtools.bench", "--child-rss", str(video), str(model),
           str(seconds)]
    rss, code, tail = child_peak_rss(cmd, seconds + 120)
    if code != 0:
        raise RuntimeError(f"the tracking process ended with {code}: {tail[-300:]}")
    return rss


def _child_main(video: str, model: str, seconds: str) -> None:
    tr = TrackerThread(Path(model), lambda: OpenCVSource(video, loop=True), capture_thread=True)
    tr.start()
    time.sleep(float(seconds))
    state = tr.latest()
    tr.stop()
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "processed": state.frames_processed}))


# ---- tracker throughput, interleaved ---------------------------------------------------------


def throughput(frames: Sequence[np.ndarray], model: Path, fps: float,
               pairs: int) -> dict[str, float]:
    """Bare ``detect_for_video`` vs our whole path, in ``pairs`` runs on the same frames.

    The bare figure is timed inside the model's process around mediapipe's own call, on the
    very frames of the same run; each run gives the ratio of the two medians, and the verdict
    is the median of those ratios, so a burst of other work during one run cannot decide it.
    """
    runs = [tracker_fps(frames, model, fps) for _ in range(max(1, pairs))]
    ratios = [r["bare_med_s"] / r["med_s"] for r in runs]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    return {
        "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "bare_med_s": med("bare_med_s"), "ours_med_s": med("med_s"),
        "bare_fps": med("bare_fps"), "ours_fps": med("fps"), "hop_s": med("hop_s"),
        "whole_ratio": statistics.median(r["fps"] / r["bare_fps"] for r in runs),
        "pairs": float(len(runs)), "dropped": float(sum(r["dropped"] for r in runs)),
    }


def hop_cost(frames: Sequence[np.ndarray], model: Path, size: tuple[int, int],
             n: int) -> dict[str, float]:
    """The model's process hop at a capture ``size`` (w, h): the video's frames resized
    (nearest pixel), ``n`` round trips; medians in ms of the hop (the parent's round trip
    minus the child's own time for the frame), the copy into shared memory, the whole frame."""
    w, h = size
    src = [frames[i % len(frames)] for i in range(n)]
    rows = np.arange(h) * src[0].shape[0] // h
    cols = np.arange(w) * src[0].shape[1] // w
    with Landmarker(model) as lm:
        for i, f in enumerate(src[:5] + src):  # the first few frames warm the model up
            lm.detect(np.ascontiguousarray(f[rows][:, cols]), i / 30.0)
        timings, copies = list(lm.timings)[-n:], list(lm.copy_s)[-n:]
    return {"hop_ms": 1000 * statistics.median(t[0] - t[1] for t in timings),
            "copy_ms": 1000 * statistics.median(copies),
            "frame_ms": 1000 * statistics.median(t[0] for t in timings), "n": float(n)}


# ---- metrics per frame -----------------------------------------------------------------------


def face_samples(video: Path, model: Path, limit: int | None = None) -> list[FaceSample]:
    """Real face samples of ``video`` (streamed: no frame is kept), stamped on its timeline."""
    with Landmarker(model) as lm:
        return [lm.detect(f.rgb, f.t) for f in iter_frames(OpenCVSource(video, paced=False), limit)]


REP_FRAMES = 66  # a rep's move + hold + release at ~15 fps (a new RepScorer after this many)


def metrics_cost(samples: Sequence[FaceSample], fps: float, target: str,
                 quiet: Sequence[str], side: Side, min_frames: int) -> dict[str, float]:
    """Per-frame cost of what the kiosk does with each sample: ``Metrics.update`` (with the 3-D
    registration) + ``live_feedback`` (with the live blink stream) + ``RepScorer.add``, on real
    samples replayed (looped, re-stamped) until
    ``min_frames`` frames after calibration were timed.

    Calibration is the real one (the first still stretch of the video); a video with none gets
    a baseline from its first face frames so the measuring path is still timed.
    """
    if not samples:
        raise RuntimeError("no face samples to time the metrics on")
    m = Metrics()
    m.start_calibration()
    blink = BlinkStream(side_index(side))  # as the kiosk does: blinks on the raw eye readings
    scorer: RepScorer | None = None
    calibrating_ns: list[int] = []
    tracking_ns: list[int] = []
    fallback = False
    n = len(samples)
    k = 0
    while len(tracking_ns) < min_frames:
        if k == 2 * n and not m.calibrated:  # no still stretch: measure from the face frames
            faces = [s for s in samples if s.face][:24]
            if not faces:
                raise RuntimeError("no face in the samples: the metrics cannot be timed")
            m.calibrator.baseline = make_baseline([s.landmarks for s in faces if s.landmarks is not None],
                                                  [s.pose for s in faces])
            fallback = True
        sample = dataclasses.replace(samples[k % n], t=k / fps)
        calibrated = m.calibrated
        t0 = time.perf_counter_ns()
        frame = m.update(sample)
        live_feedback(frame, target, quiet, side, m.baseline, blink=blink)
        if scorer is not None:
            scorer.add(frame)
        dt = time.perf_counter_ns() - t0
        (tracking_ns if calibrated else calibrating_ns).append(dt)
        if m.calibrated and (scorer is None or scorer.frames >= REP_FRAMES):
            scorer = RepScorer("bench", 0, 0, target, quiet, side, m.baseline)
        k += 1
    ms = [x / 1e6 for x in tracking_ns]
    cal = [x / 1e6 for x in calibrating_ns] or [0.0]
    return {
        "median_ms": statistics.median(ms), "p95_ms": pct(ms, 0.95), "max_ms": max(ms),
        "frames": float(len(ms)), "calibration_frames": float(len(calibrating_ns)),
        "calibration_median_ms": statistics.median(cal), "calibration_p95_ms": pct(cal, 0.95),
        "fallback": float(fallback),
    }


# ---- the kiosk loop while tracking -------------------------------------------------------------


# ---- memory of a demo session ----------------------------------------------------------------


def _kb(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def _model_pids(pid: int) -> list[int]:
    """The face model's processes below ``pid`` (a child between fork and exec is not one)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"station.tracking.sandbox" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(int(child))
            out += _model_pids(int(child))
    return out


def _tree_kb(pid: int) -> tuple[int, int]:
    """(VmHWM of ``pid``, Pss of ``pid`` + its model processes now), kB; Pss splits the pages
    the processes share (the same libraries), so the sum is what they take together."""
    hwm = _kb(Path(f"/proc/{pid}/status"), "VmHWM:")
    total = 0
    for p in [pid, *_model_pids(pid)]:
        try:
            total += _kb(Path(f"/proc/{p}/smaps_rollup"), "Pss:")
        except OSError:
            total += _kb(Path(f"/proc/{p}/status"), "VmRSS:")
    return hwm, total


def child_peak_rss(cmd: Sequence[str], timeout: float,
                   env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """(peak memory MB, exit code, stderr tail) of a fresh child process running ``cmd``.

    Linux: polled from /proc until it exits, the larger of the child's own VmHWM and the peak
    of the summed Pss of the child and its face model processes (sampled every 50 ms;
    ``ru_maxrss`` of a child would include the memory of this process it was forked from).
    Elsewhere ``RUSAGE_CHILDREN``.
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=err, env=env)
        peak_kb = 0
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"the child did not finish in {timeout:.0f} s")
            try:
                peak_kb = max(peak_kb, *_tree_kb(proc.pid))
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
    if peak_kb:
        return peak_kb / 1024, proc.returncode, tail
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (peak / 2**20 if sys.platform == "darwin" else peak / 1024), proc.returncode, tail


def demo_session_rss(model: Path, speed: float,
                     timeout: float = 600.0) -> tuple[float, int, str]:
    """Peak RSS of a whole ``station demo --autoplay`` session tracking the simulated patient.

    Real time with the session clock sped up ``speed`` times and the SDL dummy display (the
    ``--headless`` autoplay clock runs far ahead of the camera, so tracking would barely run);
    records go to a throw-away data dir holding a copy of the model.
    """
    from station.paths import model_path

    with tempfile.TemporaryDirectory(prefix="station-bench-demo-") as tmp:
        data = Path(tmp)
        model_path(data).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model, model_path(data))
        env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy",
                   PYGAME_HIDE_SUPPORT_PROMPT="1")
        env.pop("STATION_DATA", None)
        cmd = [sys.executable, "-m", "station", "--data-dir", str(data), "demo", "--autoplay",
               "--speed", f"{speed:g}", "--video", "simulated"]
        return child_peak_rss(cmd, timeout, env)


# ---- integration hooks ---------------------------------------------------------------------


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f} ms"


def _failed(name: str, target: str, exc: Exception) -> Row:
    log.warning("bench: %s failed", name, exc_info=True)
    return Row(name, "failed", target, f"{type(exc).__name__}: {exc}")


def bench_table(video: Path, model: Path, *, quick: bool = False, max_frames: int | None = None,
                latency_s: float | None = None, child_rss: bool = True,
                pairs: int | None = None, metrics_frames: int | None = None,
                kiosk_s: tuple[float, float] | None = None, demo_speed: float | None = None,
                settings: Any = None) -> list[Row]:
    """Run every measurement and return the rows of the table.

    ``child_rss=False`` skips the two measurements made in child processes (memory);
    ``demo_speed=0`` skips only the demo session; ``kiosk_s=(0, 0)`` skips the kiosk run.
    """
    from station.config import Settings
    from station.practice.plan import default_plan

    settings = settings or Settings()
    limit = max_frames if max_frames is not None else (120 if quick else None)
    frames, fps = decode_all(video, limit=limit)
    if not frames:
        raise RuntimeError(f"no frames could be decoded from {video}")
    ctx = BenchContext(video=Path(video), model=Path(model), frames=frames, fps=fps, quick=quick)
    tp = throughput(frames, model, fps, pairs if pairs is not None else (2 if quick else 5))
    ctx.results.update({f"throughput_{k}": v for k, v in tp.items()})
    lat = live_latency(frames, model, fps, latency_s if latency_s is not None else
                       (3.0 if quick else 10.0))
    ctx.results.update({f"latency_{k}": v for k, v in lat.items()})
    hops = {}
    for size in ((640, 480), (1280, 720)):
        try:
            hops[size] = hop_cost(frames, model, size, 40 if quick else 150)
        except Exception as exc:  # noqa: BLE001 - one failed row must not hide the table
            log.warning("bench: the process hop at %s failed: %s", size, exc)
    mb = sum(f.nbytes for f in frames) / 1e6
    h, w = frames[0].shape[:2]
    bare_med, ours_med = tp["bare_med_s"], tp["ours_med_s"]
    n_pairs = int(tp["pairs"])
    rows = [
        Row("frames", f"{len(frames)} x {w}x{h} @ {fps:.2f} fps", note=Path(video).name,
            number=float(len(frames))),
        Row("bare detect_for_video", f"{1 / bare_med:.1f} fps",
            note=f"median {1000 * bare_med:.2f} ms/frame; whole run {tp['bare_fps']:.1f} fps;"
                 " timed inside the model's process",
            number=1 / bare_med),
        Row("Landmarker + TrackerThread", f"{1 / ours_med:.1f} fps",
            note=f"median {1000 * ours_med:.2f} ms/frame; whole run {tp['ours_fps']:.1f} fps",
            number=1 / ours_med),
        Row("tracker vs bare", f"{100 * tp['ratio']:.1f} %", ">= 90 %",
            f"median of {n_pairs} runs (range {100 * tp['ratio_min']:.1f}-"
            f"{100 * tp['ratio_max']:.1f} %); whole runs {100 * tp['whole_ratio']:.1f} %;"
            f" dropped {int(tp['dropped'])}", number=100 * tp["ratio"]),
        Row("tracker process overhead per frame", f"{1000 * tp['hop_s']:.2f} ms",
            note=f"round trip minus the model process's own time, {w}x{h}; "
                 + "; ".join(f"{sw}x{sh}: {c['hop_ms']:.2f} ms (copy {c['copy_ms']:.2f} ms, "
                             f"whole frame {c['frame_ms']:.1f} ms, {int(c['n'])} frames)"
                             for (sw, sh), c in hops.items()),
            number=1000 * tp["hop_s"]),
        Row("capture-to-sample latency median", f"{lat['median_ms']:.1f} ms",
            note=f"tracker alone, paced at {fps:.1f} fps, {int(lat['samples'])} samples",
            number=lat["median_ms"]),
        Row("capture-to-sample latency p95", f"{lat['p95_ms']:.1f} ms", number=lat["p95_ms"]),
        Row("live tracked fps", f"{lat['fps']:.1f} fps",
            note=f"{int(lat['dropped'])} frames dropped (newest wins)", number=lat["fps"]),
    ]
    del frames, ctx.frames[:]  # the rest needs no decoded frames
    rows += _metrics_rows(video, model, fps, quick, max_frames, metrics_frames, settings,
                          default_plan())
    rows += _kiosk_rows(model, settings, kiosk_s if kiosk_s is not None else
                        ((10.0, 3.0) if quick else (60.0, 8.0)))
    rows.append(Row("peak RSS, this process", f"{peak_rss_mb():.0f} MB",
                    note=f"the bench itself, incl. {mb:.0f} MB of decoded frames",
                    number=peak_rss_mb()))
    if child_rss and not quick:
        try:
            rss = child_live_rss(Path(video), Path(model), 8.0)
            rows.append(Row("peak RSS, live tracking alone", f"{rss:.0f} MB",
                            note="fresh process + its model process (peak of summed Pss), video",
                            number=rss))
        except Exception as exc:  # noqa: BLE001 - one failed row must not hide the table
            rows.append(_failed("peak RSS, live tracking alone", "", exc))
    speed = demo_speed if demo_speed is not None else (10.0 if quick else 4.0)
    if child_rss and speed:
        rows.append(_demo_row(model, speed))
    return rows


def _metrics_rows(video: Path, model: Path, fps: float, quick: bool, max_frames: int | None,
                  metrics_frames: int | None, settings: Any, plan: Any) -> list[Row]:
    name = "metrics per frame median"
    try:
        # enough of the demo video to reach its first still stretch (calibration)
        limit = max_frames if max_frames is not None else (240 if quick else None)
        samples = face_samples(video, model, limit)
        pattern = next((it.pattern for it in plan.items if it.pattern.quiet), plan.items[0].pattern)
        mc = metrics_cost(samples, fps, pattern.target, pattern.quiet,
                          settings.patient.affected_side,
                          metrics_frames if metrics_frames is not None else
                          (500 if quick else 3000))
    except Exception as exc:  # noqa: BLE001 - one failed row must not hide the table
        return [_failed(name, "<= 0.5 ms", exc)]
    how = "baseline from the first face frames (no still stretch)" if mc["fallback"] else \
        f"after real calibration ({int(mc['calibration_frames'])} frames, p95 " \
        f"{mc['calibration_p95_ms']:.2f} ms)"
    return [
        Row(name, f"{mc['median_ms']:.3f} ms", "<= 0.5 ms",
            f"Metrics.update + live_feedback + RepScorer.add ({pattern.id}), "
            f"{int(mc['frames'])} frames of {len(samples)} real samples, {how}",
            number=mc["median_ms"]),
        Row("metrics per frame p95", f"{mc['p95_ms']:.3f} ms", "<= 0.5 ms",
            f"max {mc['max_ms']:.2f} ms", number=mc["p95_ms"]),
    ]


def _kiosk_rows(model: Path, settings: Any, kiosk_s: tuple[float, float]) -> list[Row]:
    paced_s, unpaced_s = kiosk_s
    if paced_s <= 0:
        return []
    try:
        run = kiosk_run(model, settings, paced_s, unpaced_s)
        k = kiosk_figures(run)
    except Exception as exc:  # noqa: BLE001 - one failed row must not hide the table
        return [_failed("kiosk fps while tracking", ">= 30 fps", exc)]
    fps_tracking = k.get("tracking_fps")
    meter_fps = f"{k['meter_fps']:.1f} fps" if "meter_fps" in k else "none drawn"
    cal = (f"calibrated after {k['calibrated_after_s']:.0f} s" if "calibrated_after_s" in k
           else "not calibrated")
    rows = [
        Row("kiosk fps while tracking",
            "no samples" if fps_tracking is None else f"{fps_tracking:.1f} fps", ">= 30 fps",
            f"Station.run paced at {run['fps_setting']} fps for {paced_s:.0f} s, 800x480, "
            f"SDL {run['driver']} display, live tracking of the simulated patient; meters on screen "
            f"in {100 * k['meter_share']:.0f} % of frames ({meter_fps} then); whole loop "
            f"{k['paced_fps']:.1f} fps; {cal}", number=fps_tracking),
        Row("kiosk step, paced median / p95",
            f"{k['paced_step_median_ms']:.1f} / {k['paced_step_p95_ms']:.1f} ms",
            note="one Station.step: buttons, engine, tracking poll, metrics, draw, flip",
            number=k["paced_step_median_ms"]),
    ]
    if "unpaced_step_median_ms" in k:
        rows.append(Row(
            "kiosk step, unpaced median / p95",
            f"{k['unpaced_step_median_ms']:.1f} / {k['unpaced_step_p95_ms']:.1f} ms",
            note=f"Station.run unpaced {unpaced_s:.0f} s: {k['unpaced_fps']:.0f} steps/s, the "
                 f"tracker kept {k['unpaced_tracker_fps']:.1f} fps; ended in {run['phase']}",
            number=k["unpaced_step_median_ms"]))
    rows += [
        Row("capture-to-meter latency median", _ms(k.get("meter_median_ms")),
            note=f"frame capture stamp to the end of the kiosk step that drew its meter, "
                 f"{int(k.get('meter_n', 0))} samples; capture-to-sample median "
                 f"{_ms(k.get('sample_median_ms'))}",
            number=k.get("meter_median_ms")),
        Row("capture-to-meter latency p95", _ms(k.get("meter_p95_ms")),
            note=f"any screen: median {_ms(k.get('screen_median_ms'))}, p95 "
                 f"{_ms(k.get('screen_p95_ms'))}, {int(k.get('screen_n', 0))} samples",
            number=k.get("meter_p95_ms")),
    ]
    return rows


def _demo_row(model: Path, speed: float) -> Row:
    name = "demo session peak memory"
    try:
        rss, code, tail = demo_session_rss(model, speed)
    except Exception as exc:  # noqa: BLE001 - one failed row must not hide the table
        return _failed(name, "<= 400 MB", exc)
    outcome = "session complete" if code == 0 else f"exit code {code}"
    if code != 0:
        log.warning("bench: the demo session ended with %s:\n%s", code, tail)
    return Row(name, f"{rss:.0f} MB", "<= 400 MB",
               f"fresh `station demo --autoplay --speed {speed:g} --video simulated` with "
               f"tracking, real time, SDL dummy display; peak of kiosk + model process Pss "
               f"summed (or the kiosk's VmHWM if larger); {outcome}", number=rss)


def format_table(rows: Sequence[Row]) -> str:
    """A plain fixed-width table."""
    header = Row("measure", "value", "target", "note")
    cols = [max(len(getattr(r, a)) for r in [header, *rows]) for a in ("name", "value", "target")]
    lines = []
    for r in [header, *rows]:
        lines.append(f"{r.name:<{cols[0]}}  {r.value:>{cols[1]}}  {r.target:<{cols[2]}}  {r.note}"
                     .rstrip())
        if r is header:
            lines.append("-" * (sum(cols) + 6 + max(len(x.note) for x in rows)))
    return "\n".join(lines)


def mediapipe_version() -> str:
    """The installed mediapipe's version (read from its metadata: it is never imported here)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediapipe")
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--child-rss":
    _child_main(*sys.argv[2:5])
