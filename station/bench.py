"""``station bench``: the performance table (throughput, latency, memory) on a real face video.

(a) Throughput: bare ``detect_for_video`` vs our Landmarker + TrackerThread path on the very
same decoded frames (decoded up front, so decoding costs neither side). (b) Capture-to-sample
latency through the live two-thread tracker fed at the video's frame rate. (c) Peak memory.
Rows for metrics and the kiosk come from ``bench_rows(ctx)`` in ``station.metrics`` /
``station.kiosk`` when those modules provide it; otherwise they print "not measured".
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from station.camera import MemorySource, OpenCVSource, decode_all
from station.tracker import TrackerThread


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
    """What the measurements share (handed to integration ``bench_rows`` hooks too)."""

    video: Path
    model: Path
    frames: list[np.ndarray]
    fps: float
    quick: bool
    results: dict[str, float] = field(default_factory=dict)


# Rows the lead fills in once metrics and the kiosk are merged (name -> target).
INTEGRATION_SLOTS: dict[str, str] = {
    "metrics ms/frame": "<= 0.5 ms",
    "kiosk fps while tracking": ">= 30 fps",
    "capture-to-meter latency median / p95": "",
    "demo session peak memory": "<= 400 MB",
}
INTEGRATION_MODULES = ("station.metrics", "station.kiosk")

HookFn = Callable[[BenchContext], Sequence[Row]]


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


def bare_fps(frames: Sequence[np.ndarray], model: Path, fps: float) -> tuple[float, float]:
    """(fps, median s/frame) of mediapipe's own FaceLandmarker loop (same options as ours)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model)),
        running_mode=vision.RunningMode.VIDEO, num_faces=1,
        output_face_blendshapes=False, output_facial_transformation_matrixes=True)
    lm = vision.FaceLandmarker.create_from_options(options)
    try:
        start = time.perf_counter()
        per_frame = []
        for i, rgb in enumerate(frames):
            t0 = time.perf_counter()
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            lm.detect_for_video(image, int(i * 1000 / fps))
            per_frame.append(time.perf_counter() - t0)
        return len(frames) / (time.perf_counter() - start), statistics.median(per_frame)
    finally:
        lm.close()


def tracker_fps(frames: Sequence[np.ndarray], model: Path,
                fps: float) -> tuple[float, float, int]:
    """(fps, median s/frame, dropped) of our path: TrackerThread looping step() + Landmarker.

    Every frame is processed (an unpaced in-memory source, no capture thread to drop any),
    timed from the first frame's capture to the last sample's publication.
    """
    opened: list[float] = []

    def open_frames() -> MemorySource:
        opened.append(time.perf_counter())  # opened right before frame 0 is read
        # Same timestamps as the bare loop (VIDEO mode's tracking depends on them).
        return MemorySource(frames, fps=fps, paced=False, clock=time.perf_counter)

    tr = TrackerThread(model, open_frames, clock=time.perf_counter, capture_thread=False)
    quiet = logging.getLogger("station.tracker")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the frames running out is expected here, not a fault
    tr.start()
    try:
        n = len(frames)
        if not tr.wait_for(lambda s: s.frames_processed >= n or s.status == "no_model", 600):
            raise RuntimeError("the tracker did not finish the frames in time")
        state = tr.latest()
        if state.status == "no_model":
            raise RuntimeError(state.message)
        elapsed = state.available_at - opened[0]
        return n / elapsed, statistics.median(tr.process_s), state.frames_dropped
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
        tr.wait_for(lambda s: s.frames_processed >= 1 or s.status == "no_model", 60)
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
    """Peak RSS (MB) of a fresh process that only tracks the video file live for ``seconds``."""
    cmd = [sys.executable, "-m", "station.bench", "--child-rss", str(video), str(model),
           str(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"])


def _child_main(video: str, model: str, seconds: str) -> None:
    tr = TrackerThread(Path(model), lambda: OpenCVSource(video, loop=True), capture_thread=True)
    tr.start()
    time.sleep(float(seconds))
    state = tr.latest()
    tr.stop()
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "processed": state.frames_processed}))


def integration_rows(ctx: BenchContext, extra: Sequence[HookFn] = ()) -> list[Row]:
    """Rows measured by metrics/kiosk hooks (``bench_rows(ctx)``) plus ``extra`` hooks.

    Every slot in :data:`INTEGRATION_SLOTS` that no hook filled prints "not measured".
    """
    hooks: list[HookFn] = []
    for name in INTEGRATION_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        hook = getattr(module, "bench_rows", None)
        if callable(hook):
            hooks.append(hook)
    hooks.extend(extra)
    rows: list[Row] = []
    for hook in hooks:
        try:
            rows.extend(hook(ctx))
        except Exception as exc:  # noqa: BLE001 - one broken hook must not hide the table
            rows.append(Row(getattr(hook, "__module__", "hook"), "failed", note=str(exc)))
    filled = {r.name for r in rows}
    rows += [Row(name, "not measured", target) for name, target in INTEGRATION_SLOTS.items()
             if name not in filled]
    return rows


def bench_table(video: Path, model: Path, *, quick: bool = False, max_frames: int | None = None,
                latency_s: float | None = None, child_rss: bool = True,
                extra: Sequence[HookFn] = ()) -> list[Row]:
    """Run every measurement and return the rows of the table."""
    limit = max_frames if max_frames is not None else (120 if quick else None)
    frames, fps = decode_all(video, limit=limit)
    if not frames:
        raise RuntimeError(f"no frames could be decoded from {video}")
    ctx = BenchContext(video=Path(video), model=Path(model), frames=frames, fps=fps, quick=quick)
    reps = 1 if quick else 3
    bare, ours, bare_med, ours_med, dropped = 0.0, 0.0, math.inf, math.inf, 0
    for _ in range(reps):  # alternate, keep the best of each (least disturbed by the machine)
        f, med = bare_fps(frames, model, fps)
        bare, bare_med = max(bare, f), min(bare_med, med)
        f, med, dropped = tracker_fps(frames, model, fps)
        ours, ours_med = max(ours, f), min(ours_med, med)
    ratio = bare_med / ours_med  # medians: robust to other load on a shared machine
    ctx.results.update(bare_fps=bare, tracker_fps=ours, ratio=ratio)
    lat = live_latency(frames, model, fps, latency_s if latency_s is not None else
                       (3.0 if quick else 10.0))
    ctx.results.update({f"latency_{k}": v for k, v in lat.items()})
    mb = sum(f.nbytes for f in frames) / 1e6
    h, w = frames[0].shape[:2]
    rows = [
        Row("frames", f"{len(frames)} x {w}x{h} @ {fps:.2f} fps", note=Path(video).name,
            number=float(len(frames))),
        Row("bare detect_for_video", f"{1 / bare_med:.1f} fps",
            note=f"median {1000 * bare_med:.2f} ms/frame; whole run {bare:.1f} fps",
            number=1 / bare_med),
        Row("Landmarker + TrackerThread", f"{1 / ours_med:.1f} fps",
            note=f"median {1000 * ours_med:.2f} ms/frame; whole run {ours:.1f} fps",
            number=1 / ours_med),
        Row("tracker vs bare", f"{100 * ratio:.1f} %", ">= 90 %",
            f"overhead {100 * (1 - ratio):.1f} % (medians); whole runs {100 * ours / bare:.1f} %;"
            f" dropped {dropped}", number=100 * ratio),
        Row("capture-to-sample latency median", f"{lat['median_ms']:.1f} ms",
            note=f"live, paced at {fps:.1f} fps, {int(lat['samples'])} samples",
            number=lat["median_ms"]),
        Row("capture-to-sample latency p95", f"{lat['p95_ms']:.1f} ms", number=lat["p95_ms"]),
        Row("live tracked fps", f"{lat['fps']:.1f} fps",
            note=f"{int(lat['dropped'])} frames dropped (newest wins)", number=lat["fps"]),
        Row("peak RSS, this process", f"{peak_rss_mb():.0f} MB",
            note=f"includes {mb:.0f} MB of decoded frames", number=peak_rss_mb()),
    ]
    if child_rss:
        rss = child_live_rss(Path(video), Path(model), 3.0 if quick else 8.0)
        rows.append(Row("peak RSS, live tracking alone", f"{rss:.0f} MB", "<= 400 MB",
                        "fresh process, video source, two threads", number=rss))
    rows += integration_rows(ctx, extra)
    return rows


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


def cmd_bench(args: argparse.Namespace) -> int:
    """``station bench [--video FILE] [--quick]``: print the performance table."""
    from station.cli import UsageError
    from station.config import load_settings
    from station.model import ModelError, verify
    from station.paths import model_path, resolve_data_dir
    from station.samples import DEMO_VIDEO, sample_path

    settings, _ = load_settings(getattr(args, "config", None))
    model = model_path(resolve_data_dir(getattr(args, "data_dir", None), settings.data_dir))
    try:
        verify(model)
    except ModelError as exc:
        print(exc, file=sys.stderr)
        return 1
    video = Path(args.video) if args.video else sample_path(DEMO_VIDEO)
    if not video.is_file():
        raise UsageError(f"no video file at {video}")
    import platform

    print(f"station bench on {platform.machine()} ({platform.processor() or 'cpu'}), "
          f"python {platform.python_version()}, mediapipe {_mediapipe_version()}, "
          f"numpy {np.__version__}")
    print(format_table(bench_table(video, model, quick=args.quick)))
    return 0


def _mediapipe_version() -> str:
    try:
        import mediapipe

        return str(getattr(mediapipe, "__version__", "?"))
    except ImportError:
        return "not installed"


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--child-rss":
    _child_main(*sys.argv[2:5])
