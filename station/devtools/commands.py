"""Command-line entry points of the developer tools: ``station bench``, ``track``, ``replay``,
``checkin replay`` and ``validate``."""

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
from station.feedback import Side


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
    side = Side(getattr(args, "side", None) or rx.affected_side or settings.patient.affected_side)
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
    from station.config import context_of
    from station.devtools.checkin_replay import replay_checkin
    from station.errors import UsageError
    from station.paths import model_path
    from station.practice.checkin import QUICK_TIMING, CheckinTiming
    from station.tracking.model import ModelError, verify

    video = Path(args.video)
    if not video.is_file():
        raise UsageError(f"no video file at {video}")
    settings = context_of(args).settings
    side = Side(getattr(args, "side", None) or settings.patient.affected_side)
    model = model_path(context_of(args).data_dir)
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


def _list(text: str | None, what: str, convert: type = str) -> list:  # noqa: ANN401
    from station.errors import UsageError

    if not text:
        return []
    try:
        return [convert(x.strip()) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise UsageError(f"--{what}: {exc}") from exc


def cmd_validate(args: argparse.Namespace) -> int:
    """``station validate --out DIR``: the validation set, its tables in DIR."""
    import time

    from station.config import context_of
    from station.devtools.validate import format_tables, from_log, validate
    from station.errors import UsageError
    from station.paths import model_path
    from station.tracking.model import ModelError, verify

    if args.from_log:
        doc = from_log(Path(args.out))
        print(format_tables(doc["tables"]), end="")
        print(f"{len(doc['sessions'])} logged sessions; wrote {Path(args.out) / 'validation.json'}")
        return 0
    fps = _list(args.fps, "fps", float)
    if not fps or any(not (1.0 <= f <= 60.0) for f in fps):
        raise UsageError("--fps: frame rates between 1 and 60, e.g. 10,30")
    sides = _list(args.sides, "sides")
    if not sides or any(s not in ("left", "right") for s in sides):
        raise UsageError("--sides: left, right or both")
    faces: int | list[str] | None = None
    if args.faces:
        faces = int(args.faces) if args.faces.isdigit() else _list(args.faces, "faces")
        if faces == 0:
            raise UsageError("--faces: at least 1")
    model = model_path(context_of(args).data_dir)
    try:
        verify(model)
    except ModelError as exc:
        raise UsageError(str(exc)) from exc
    t0 = time.perf_counter()
    doc = validate(Path(args.out), model, faces=faces, fps=fps,
                   kinds=_list(args.kinds, "kinds") or None, motions=_list(args.motions, "motions") or None,
                   sides=sides, videos=not args.no_videos, jobs=max(1, args.jobs))
    print(format_tables(doc["tables"], doc["real_blinks"]), end="")
    print(f"{sum(len(c['reps']) for c in doc['sessions'])} reps in {len(doc['sessions'])} sessions, "
          f"{time.perf_counter() - t0:.0f} s; wrote {Path(args.out) / 'validation.json'} and validation.txt")
    return 0
