"""``station validate --out DIR``: the project's own verdicts, checked on scripted real faces.

Renders the validation set of :mod:`station.tracking.fakes.variants` (faces x affected sides x
frame rates x head motions, each session a run of scripted reps with a written-down verdict)
and replays every session through the same path as ``station replay``
(:func:`station.devtools.replay.replay_samples`: the session engine, live tracking, metrics and
scoring, clock = the frames' timestamps, frame ``i`` at ``i / fps``). Frames are rendered in
memory (cached per face) and handed straight to the FaceLandmarker in VIDEO mode: no video
file is written.

It writes ``DIR/validation.json`` (every rep, and the tables) and ``DIR/validation.txt``:

* a confusion table per flag (slow, small, quiet, released) and frame rate; positive = the
  quality failed (the flag is False). A rep whose flag came back None (too little to judge) or
  that is missing counts as ``none``, never as right;
* per rep kind and per head motion, and frame rate: the share of reps with all four flags
  right;
* the real-blink recognition of :mod:`station.devtools.realblinks` (unless ``--no-videos``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from station.tracking.fakes import variants as V

log = logging.getLogger(__name__)

DEFAULT_FPS = (5.0, 7.0, 10.0, 15.0, 30.0)
SIDES = ("left", "right")
MAX_REPS = 8  # reps per session (longer scripts are split)
# The pacing around the reps (no verdict depends on it) is cut, so most rendered frames are
# reps: the default settle (8 s: calibration needs 10 + 24 frames, 6.8 s at 5 fps), a 3 s
# intro (the head turns of variants happen in it), the shortest break the unit allows after
# the pattern. Reps keep the pattern's own pacing.
SETTLE_S = 8.0
INTRO_S = 3.0
BREAK_S = 5.0


def validation_settings() -> Any:
    """The unit's default settings with the short pacing around the reps."""
    from dataclasses import replace

    from station.config import Settings

    s = Settings()
    return replace(s, session=replace(s.session, settle_s=SETTLE_S, intro_s=INTRO_S, break_s=BREAK_S))


@dataclass(frozen=True)
class Case:
    """One replayed session: a face, a side, a frame rate, a head motion and its reps."""

    face: str
    side: str
    fps: float
    motion: str
    reps: tuple[str, ...]


def plan_cases(faces: Sequence[str], sides: Sequence[str], fps: Sequence[float],
               kinds: Sequence[str] | None = None, motions: Sequence[str] | None = None) -> list[Case]:
    """Every session of the set, limited to ``kinds`` (rep kinds) and ``motions``."""
    kinds = list(kinds or V.REP_KINDS)
    motions = list(motions or V.MOTIONS)
    unknown = [k for k in kinds if k not in V.REP_KINDS] + [m for m in motions if m not in V.MOTIONS]
    if unknown:
        from station.errors import UsageError

        raise UsageError(f"unknown kinds or motions: {', '.join(unknown)} "
                         f"(kinds: {', '.join(V.REP_KINDS)}; motions: {', '.join(V.MOTIONS)})")
    cases = []
    for face in faces:  # per face: motion by motion, so a cut-short run still covers every fps
        for motion in motions:
            for side in sides:
                for f in fps:
                    reps = kinds if motion == "still" else [k for k in kinds if k in V.MOTION_KINDS]
                    for i in range(0, len(reps), MAX_REPS):
                        if reps[i:i + MAX_REPS]:
                            cases.append(Case(face, side, float(f), motion, tuple(reps[i:i + MAX_REPS])))
    return cases


def run_case(head: Any, case: Case, model: Path) -> dict[str, Any]:
    """Render and replay one session; its reps with expected and got flags."""
    from station.devtools.replay import replay_samples
    from station.practice.events import Timing
    from station.tracking.fakes.scripted import GENTLE_MAX_MM, scripted_plan, timeline
    from station.tracking.tracker import Landmarker

    settings = validation_settings()
    plan = scripted_plan(case.reps, gentle_max_mm=GENTLE_MAX_MM)
    phases = timeline(plan, Timing(settle_s=SETTLE_S, intro_s=INTRO_S, break_s=BREAK_S,
                                   needs_calibration=True))
    t0 = time.perf_counter()
    with Landmarker(model) as lmk:
        samples = ((t, lmk.detect(rgb, t))
                   for t, rgb in V.frames(head, case.side, case.reps, case.motion, phases, case.fps))
        doc = replay_samples(samples, plan, case.side, settings)
    got = {r["rep"]: r for r in doc["reps"]}
    want_phases = [(p.state.value, p.rep) for p in phases]
    reps = []
    for i, kind in enumerate(case.reps):
        r = got.get(i)
        reps.append({
            "kind": kind, "rep": i,
            "expected": dict(zip(V.FLAGS, V.REP_KINDS[kind].expected, strict=True)),
            "got": {f: (None if r is None else r[f]) for f in V.FLAGS},
            "blinks": None if r is None else r.get("blinks"),
            "quiet_mm": None if r is None else r.get("quiet_mm"),
            "frames": None if r is None else r.get("frames"),
            "frames_gated": None if r is None else r.get("frames_gated"),
        })
    return {**asdict(case), "completed": doc["completed"], "frames": doc["frames"],
            "timeline_ok": len(doc["phases"]) == len(phases) and all(
                (p["phase"], p["rep"]) == w and abs(p["start_s"] - q.start) < 2e-3
                for p, w, q in zip(doc["phases"], want_phases, phases, strict=False)),
            "seconds": round(time.perf_counter() - t0, 2), "reps": reps,
            "sentences": doc["sentences"]}


def _run_group(face: str, cases: list[Case], model: str, log_dir: str | None = None) -> list[dict[str, Any]]:
    """All cases of one face (one process: its renders are cached across them).

    Each finished session is also appended to ``log_dir/sessions-FACE.jsonl`` as it ends, so
    a long run that is cut short still leaves its results (:func:`load_partial`).
    """
    from station.tracking.fakes.render3d import FACES, load_head

    source = next(s for s in FACES if s.name == face)
    head = load_head(Path(model), source)
    out = []
    for i, c in enumerate(cases):
        out.append(run_case(head, c, Path(model)))
        if log_dir is not None:
            with open(Path(log_dir) / f"sessions-{face}.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(out[-1]) + "\n")
        log.info("validate: %s %s %g fps %s: %d reps in %.0f s (%d/%d)", c.face, c.side, c.fps,
                 c.motion, len(c.reps), out[-1]["seconds"], i + 1, len(cases))
    return out


def load_partial(out: Path) -> list[dict[str, Any]]:
    """The sessions a (possibly unfinished) run has logged in ``out``."""
    sessions, seen = [], set()
    for p in sorted(out.glob("sessions-*.jsonl")):
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                s = json.loads(line)
                key = (s["face"], s["side"], s["fps"], s["motion"], tuple(r["kind"] for r in s["reps"]))
                if key not in seen:  # logs of several runs may be put together
                    seen.add(key)
                    sessions.append(s)
    return sessions


def run_cases(cases: Sequence[Case], model: Path, jobs: int = 1,
              log_dir: Path | None = None) -> list[dict[str, Any]]:
    """Run every case, grouped by face; ``jobs`` processes in parallel."""
    groups: dict[str, list[Case]] = {}
    for c in cases:
        groups.setdefault(c.face, []).append(c)
    logs = None if log_dir is None else str(log_dir)
    if jobs <= 1 or len(groups) <= 1:
        return [r for face, cs in groups.items() for r in _run_group(face, cs, str(model), logs)]
    out: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_run_group, face, cs, str(model), logs) for face, cs in groups.items()]
        for fut in futures:
            out += fut.result()
    return out


# -- tables ----------------------------------------------------------------------------------

def _cell(expected: bool, got: bool | None) -> str:
    """Positive = the quality failed (flag False)."""
    if got is None:
        return "none"
    return {(False, False): "tp", (False, True): "fn", (True, False): "fp", (True, True): "tn"}[
        (expected, got)]


def _rows(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for case in results:
        for r in case["reps"]:
            rows.append({"face": case["face"], "side": case["side"], "fps": case["fps"],
                         "motion": case["motion"], **r})
    return rows


def tables(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Confusion per flag and fps; all-four-right share per rep kind / head motion and fps."""
    rows = _rows(results)
    fps_list = sorted({r["fps"] for r in rows})
    confusion: dict[str, dict[str, dict[str, int]]] = {}
    for flag in V.FLAGS:
        confusion[flag] = {}
        for f in fps_list:
            cells = {"tp": 0, "fn": 0, "fp": 0, "tn": 0, "none": 0}
            for r in rows:
                if r["fps"] == f:
                    cells[_cell(r["expected"][flag], r["got"][flag])] += 1
            confusion[flag][f"{f:g}"] = cells

    def share(key: str) -> dict[str, dict[str, dict[str, float | int]]]:
        out: dict[str, dict[str, dict[str, float | int]]] = {}
        for name in dict.fromkeys(r[key] for r in rows):
            out[name] = {}
            for f in fps_list:
                sel = [r for r in rows if r[key] == name and r["fps"] == f]
                right = sum(all(r["got"][x] == r["expected"][x] for x in V.FLAGS) for r in sel)
                per_flag = {x: sum(r["got"][x] == r["expected"][x] for r in sel) for x in V.FLAGS}
                out[name][f"{f:g}"] = {"n": len(sel), "all_right": right,
                                       "share": round(right / len(sel), 3) if sel else 0.0,
                                       **{f"{x}_right": v for x, v in per_flag.items()}}
        return out

    return {"confusion": confusion, "by_kind": share("kind"), "by_motion": share("motion")}


def format_tables(t: dict[str, Any], blinks: dict[str, Any] | None = None) -> str:
    """The tables as readable text."""
    lines = []
    for flag, per in t["confusion"].items():
        lines.append(f"{flag} (positive = not {flag})")
        lines.append(f"  {'fps':>4} {'TP':>5} {'FN':>5} {'FP':>5} {'TN':>5} {'none':>5} "
                     f"{'sens':>6} {'spec':>6}")
        for f, c in per.items():
            pos, neg = c["tp"] + c["fn"], c["fp"] + c["tn"]
            sens = f"{c['tp'] / pos:6.2f}" if pos else f"{'-':>6}"
            spec = f"{c['tn'] / neg:6.2f}" if neg else f"{'-':>6}"
            lines.append(f"  {f:>4} {c['tp']:>5} {c['fn']:>5} {c['fp']:>5} {c['tn']:>5} "
                         f"{c['none']:>5} {sens} {spec}")
        lines.append("")
    for title, key in (("all four flags right, per rep kind", "by_kind"),
                       ("all four flags right, per head motion", "by_motion")):
        per = t[key]
        fps_cols = list(next(iter(per.values())).keys()) if per else []
        lines.append(f"{title} (right/n; slow,small,quiet,released right)")
        lines.append(f"  {'':<14}" + "".join(f"{f + ' fps':>26}" for f in fps_cols))
        for name, cols in per.items():
            cells = []
            for f in fps_cols:
                c = cols[f]
                flags = ",".join(str(c[f"{x}_right"]) for x in V.FLAGS)
                cells.append(f"{c['all_right']}/{c['n']} ({flags})" if c["n"] else "-")
            lines.append(f"  {name:<14}" + "".join(f"{x:>26}" for x in cells))
        lines.append("")
    if blinks is not None:
        from station.devtools.realblinks import format_blinks

        lines.append(format_blinks(blinks))
    return "\n".join(lines).rstrip() + "\n"


def write_docs(out: Path, doc: dict[str, Any]) -> None:
    """Write ``validation.json`` and ``validation.txt`` (atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("validation.json", json.dumps(doc, indent=1)),
                       ("validation.txt", format_tables(doc["tables"], doc.get("real_blinks")))):
        tmp = out / (name + ".part")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / name)


def from_log(out: Path) -> dict[str, Any]:
    """Tables from the sessions an unfinished run logged in ``out`` (``--from-log``)."""
    results = load_partial(out)
    if not results:
        from station.errors import UsageError

        raise UsageError(f"no logged sessions (sessions-*.jsonl) in {out}")
    doc = {"faces": sorted({r["face"] for r in results}), "sides": sorted({r["side"] for r in results}),
           "fps": sorted({r["fps"] for r in results}), "partial": True,
           "tables": tables(results), "real_blinks": None, "sessions": results}
    write_docs(out, doc)
    return doc


def validate(out: Path, model: Path, faces: int | Sequence[str] | None = None, fps: Sequence[float] = DEFAULT_FPS,
             kinds: Sequence[str] | None = None, motions: Sequence[str] | None = None,
             sides: Sequence[str] = SIDES, videos: bool = True, jobs: int = 1) -> dict[str, Any]:
    """Run the set, write ``validation.json`` and ``validation.txt`` into ``out``; the document."""
    from station.tracking.fakes.render3d import FACES

    t0 = time.perf_counter()
    names = [f.name for f in FACES]
    if isinstance(faces, int):
        names = names[:faces]
    elif faces:
        unknown = [f for f in faces if f not in names]
        if unknown:
            from station.errors import UsageError

            raise UsageError(f"unknown faces: {', '.join(unknown)} (faces: {', '.join(names)})")
        names = list(faces)
    cases = plan_cases(names, sides, fps, kinds, motions)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("sessions-*.jsonl"):
        old.unlink()
    results = run_cases(cases, model, jobs, out)
    t_sessions = time.perf_counter() - t0
    blinks = None
    if videos:
        from station.devtools.realblinks import real_blinks

        blinks = real_blinks(model, list(fps))
    doc = {"faces": names, "sides": list(sides), "fps": list(fps),
           "tables": tables(results), "real_blinks": blinks, "sessions": results,
           "seconds": {"sessions": round(t_sessions, 1),
                       "total": round(time.perf_counter() - t0, 1)}}
    write_docs(out, doc)
    for old in out.glob("sessions-*.jsonl"):
        old.unlink()  # all of it is in validation.json now
    return doc
