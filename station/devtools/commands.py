"""Command-line entry points of the developer tools: ``station bench``, ``track``, ``replay`` and
``checkin replay``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from station.devtools.bench import bench_table, format_table, mediapipe_version
from station.devtools.replay import replay_samples, video_samples
from station.devtools.track import read_samples, track_samples


def cmd_bench(args: argparse.Namespace) -> int:
    """``station bench [--video FILE] [--quick]``: print the performance table."""
    from station.config import context_of
    from station.errors import UsageError
    from station.paths import model_path
    from station.tracking.fakes.fetch import prefetch
    from station.tracking.fakes.samples import DEMO_FACE, DEMO_VIDEO, sample_path
    from station.tracking.model import ModelError, verify

    settings = context_of(args).settings
    model = model_path(context_of(args).data_dir)
    try:
        verify(model)
    except ModelError as exc:
        print(exc, file=sys.stderr)
        return 1
    # Every sample the bench plays is fetched now: the first model load takes this
    # process's network away (station.tracking.nonet), and pip with it.
    problems = prefetch([DEMO_FACE] if args.video else [DEMO_FACE, DEMO_VIDEO])
    for why in problems.values():
        print(f"station bench: {why}", file=sys.stderr)
    if not args.video and DEMO_VIDEO in problems:
        return 1
    video = Path(args.video) if args.video else sample_path(DEMO_VIDEO, fetch=False)
    if not video.is_file():
        raise UsageError(f"no video file at {video}")
    import platform

    print(f"station bench on {platform.machine()} ({platform.processor() or 'cpu'}), "
          f"python {platform.python_version()}, mediapipe {mediapipe_version()}, "
          f"numpy {np.__version__}")
    print(format_table(bench_table(video, model, quick=args.quick, settings=settings)))
    return 0


def cmd_track(args: argparse.Namespace) -> int:
    """``station track``: write per-frame readings of ``args.video`` to ``args.json_out``."""
    from station.config import context_of
    from station.errors import UsageError
    from station.paths import model_path
    from station.tracking.model import MODEL_SHA256, ModelError, verify

    video = Path(args.video)
    if not video.is_file():
        raise UsageError(f"no video file at {video}")
    settings = context_of(args).settings
    model = model_path(context_of(args).data_dir)
    try:
        verify(model)
    except ModelError as exc:
        raise UsageError(str(exc)) from exc
    samples, fps = read_samples(video, model)
    result = track_samples(samples, fps, settings.tracking.calibration_frames,
                           settings.tracking.max_turn_rad)
    doc = {"source": video.name, "fps": round(fps, 4), "model_sha256": MODEL_SHA256,
           "side": getattr(args, "side", None) or settings.patient.affected_side, **result}
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, out)
    n_face = sum(f["face"] for f in result["frames"])
    print(f"{video.name}: {len(samples)} frames, face in {n_face}, "
          f"baseline {'found' if result['baseline'] else 'not found'}; wrote {out}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """``station replay``: write a session on ``args.video`` as JSON to ``args.json_out``."""
    from station.clinic.prescription import validate_file
    from station.config import context_of
    from station.errors import UsageError
    from station.paths import model_path
    from station.tracking.model import ModelError, verify

    video = Path(args.video)
    if not video.is_file():
        raise UsageError(f"no video file at {video}")
    result = validate_file(Path(args.prescription))
    if result.prescription is None:
        problems = "; ".join(str(p) for p in result.problems)
        raise UsageError(f"the prescription {args.prescription} is not valid: {problems}")
    rx = result.prescription
    settings = context_of(args).settings
    side = getattr(args, "side", None) or rx.affected_side or settings.patient.affected_side
    model = model_path(context_of(args).data_dir)
    try:
        verify(model)
    except ModelError as exc:
        raise UsageError(str(exc)) from exc
    doc = {"source": video.name,
           **replay_samples(video_samples(video, model), rx.plan(), side, settings)}
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, out)
    flags = " ".join(
        f"{r['pattern']}#{r['rep']}:" + "".join(k[0] if r[k] else ("-" if r[k] is False else "?")
                                                for k in ("slow", "small", "quiet", "released"))
        for r in doc["reps"])
    print(f"{video.name}: {doc['frames']} frames, side {side}, "
          f"{'completed' if doc['completed'] else 'not completed'}; reps {flags}; wrote {out}")
    return 0


def cmd_checkin_replay(args: argparse.Namespace) -> int:
    """``station checkin replay``: the weekly check-in on ``args.video``, as JSON."""
    from station.config import load_settings
    from station.devtools.checkin_replay import replay_checkin
    from station.errors import UsageError
    from station.paths import model_path, resolve_data_dir
    from station.practice.checkin import QUICK_TIMING, CheckinTiming
    from station.tracking.model import ModelError, verify

    video = Path(args.video)
    if not video.is_file():
        raise UsageError(f"no video file at {video}")
    settings, _ = load_settings(getattr(args, "config", None))
    side = getattr(args, "side", None) or settings.patient.affected_side
    model = model_path(resolve_data_dir(getattr(args, "data_dir", None), settings.data_dir))
    try:
        verify(model)
    except ModelError as exc:
        raise UsageError(str(exc)) from exc
    timing = QUICK_TIMING if getattr(args, "quick", False) else CheckinTiming()
    doc = {"source": video.name, **replay_checkin(video_samples(video, model), side, settings, timing)}
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, out)
    ratios = " ".join(f"{m['movement']}:{m['ratio'] if m['ratio'] is not None else '-'}"
                      for m in doc["movements"])
    print(f"{video.name}: {doc['frames']} frames, side {side}, {doc['status']}; ratios {ratios}; wrote {out}")
    return 0
