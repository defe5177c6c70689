"""Real blinks on real talking videos: how many does the station recognise, per frame rate?

Reference: a real two-eyed closure is a run of frames where both eye-blink blendshapes of the
FaceLandmarker (``eyeBlinkLeft``, ``eyeBlinkRight``; run on every frame at the native rate)
are above 0.5. A closure is recognised at a frame rate when a blink the station found at that
rate overlaps it (within one frame interval either side). Many frames of these videos are not
scored at all (the head turned more than the gate allows from the baseline pose, or a hand or
a laugh breaks the landmark fit), and no rule can see a blink there; so the count is given
over all closures and over the closures with at least one scored frame within a frame
interval of them, and "ungated": the blink rule on every frame with a reading (turned and
badly fitting frames too), to tell the rule from the gate. Closures longer than
:data:`BLINK_LENGTH_S` (crying with the eyes squeezed shut) are not blinks and are also
counted apart.

The station's blinks come from its own readings: the videos are subsampled to the frame rate
(the first frame of each 1/fps slot, native timestamps), tracked afresh in VIDEO mode and
measured by :class:`station.tracking.metrics.Metrics` like a session. The blink rule is
:func:`blink_intervals`, the one adapter to whichever rule the core has.

**The neutral baseline.** These people talk, and the station's calibration (the first still
24-frame stretch) rarely or never completes on them. So the baseline is taken from the most
still 24-frame window of the native video with both eyes open (blink blendshapes < 0.35):
after a similarity fit of each frame's landmarks onto the window's median shape, the window
with the smallest mean landmark deviation (share of the inter-iris distance). Its medoid frame
(the one nearest the median shape) is shown to the station as a still face for 4 s before the
video, so the station calibrates on it through its own calibration, whatever its internals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

VIDEOS = ("video/WolfgangLanger_Pexels.mp4", "video/carphone_pristine.mp4", "video/single_face.mp4")
CLOSED = 0.5  # both eye-blink blendshapes above this: a real closure
REOPEN = 0.3  # ... which ends only when one falls below this (the eyes reopened)
OPEN_MAX = 0.35  # calibration window: both eyes open
WINDOW = 24
CAL_S = 4.0  # the still face shown before the video
CAL_STEP_S = 0.1
BLINK_LENGTH_S = 0.5  # a closure longer than this is a squeeze (crying, laughing), not a blink


def blink_intervals(t: np.ndarray, eye_raw: np.ndarray,
                    thresholds: np.ndarray) -> tuple[list[tuple[float, float]], str]:
    """The station's blinks as (start, end) seconds, and which rule found them.

    ``eye_raw``: (n, 2) raw eye fissure readings, mm from neutral, columns left, right, NaN = not
    scored; ``thresholds``: (2,) the eyes' quiet thresholds. The rule is the station's own:
    :func:`station.tracking.blinks.detect_blinks`.
    """
    from station.tracking.blinks import detect_blinks

    found = detect_blinks(t, eye_raw, thresholds, affected=None)
    return [(float(b.start), float(b.end)) for b in found], "blinks.detect_blinks (raw)"


def _read(video: Path) -> tuple[list[np.ndarray], float]:
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    fps = fps if 0.0 < fps < 1000.0 else 30.0
    frames = []
    try:
        while True:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            frames.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    finally:
        cap.release()
    return frames, fps


def closures(t: np.ndarray, left: np.ndarray, right: np.ndarray, dt: float) -> list[tuple[float, float]]:
    """Reference closures: runs with both blendshapes above :data:`CLOSED` (end = last + dt),
    joined while the eyes do not reopen in between (neither blendshape falls below
    :data:`REOPEN`).

    Why joined: in a laugh the eyes stay squeezed for a second or more while the blendshapes
    flicker across 0.5; counted raw, the talking videos' 1.2 s laughing squeeze (the lids read
    4.5-6 mm closed throughout) made four one-frame "blinks" of 0.04 s that no blink rule should
    find. Joined, it is one closure longer than a blink, counted apart.
    """
    from station.tracking.quality import runs

    both = (left > CLOSED) & (right > CLOSED)
    shut = (left > REOPEN) & (right > REOPEN)
    out: list[tuple[int, int]] = []
    for a, b in runs(both):
        if out and shut[out[-1][1]:a + 1].all():
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return [(float(t[a]), float(t[b] + dt)) for a, b in out]


def still_window(landmarks: Sequence[np.ndarray | None], blink: np.ndarray) -> tuple[int, int, float] | None:
    """(first frame, medoid frame, mean deviation / IOD) of the most still open-eyed window."""
    from station.tracking.metrics import similarity_fit

    best = None
    n = len(landmarks)
    for a in range(0, n - WINDOW + 1):
        win = landmarks[a:a + WINDOW]
        if any(x is None for x in win) or float(np.max(blink[a:a + WINDOW])) >= OPEN_MAX:
            continue
        pts = np.stack([np.asarray(x, dtype=np.float64)[:, :2] for x in win])
        med = np.median(pts, axis=0)
        aligned = []
        for p in pts:
            s, rot, tr = similarity_fit(p, med)
            aligned.append(s * p @ rot.T + tr)
        aligned_arr = np.stack(aligned)
        ref = np.median(aligned_arr, axis=0)
        iod = float(np.linalg.norm(ref[473] - ref[468]))
        dev = np.linalg.norm(aligned_arr - ref, axis=2).mean(axis=1) / iod
        score = float(dev.mean())
        if best is None or score < best[2]:
            best = (a, a + int(np.argmin(dev)), score)
    return best


def _subsample(t: np.ndarray, fps: float, native: float) -> np.ndarray:
    if fps >= native - 0.5:
        return np.arange(len(t))
    slot = np.floor(t * fps + 1e-9)
    keep = np.r_[True, slot[1:] > slot[:-1]]
    return np.flatnonzero(keep)


def _station_blinks(model: Path, frames: list[np.ndarray], t: np.ndarray, neutral: np.ndarray
                    ) -> dict[str, Any]:
    """Track ``frames`` (after the still neutral face) and find the station's blinks.

    ``gated``: on the frames the station scores (others NaN), as in a session; ``ungated``: on
    every frame with a reading (turned or badly fitting frames too), the rule alone.
    """
    from station.tracking import metrics as M
    from station.tracking.tracker import Landmarker

    metrics = M.Metrics()
    metrics.start_calibration()
    eye = M.region_index("eye")
    raw, every, scored = [], [], []
    n_cal = int(round(CAL_S / CAL_STEP_S))
    with Landmarker(model) as lmk:
        for k in range(n_cal):
            metrics.update(lmk.detect(neutral, k * CAL_STEP_S))
        calibrated = metrics.calibrated
        for rgb, ti in zip(frames, t, strict=True):
            mf = metrics.update(lmk.detect(rgb, CAL_S + 0.5 + float(ti)))
            ok = mf.scored and mf.readings is not None and mf.smoothed is not None
            scored.append(bool(ok))
            raw.append(mf.readings[:, eye] if ok else (np.nan, np.nan))  # type: ignore[index]
            every.append(mf.readings[:, eye] if mf.readings is not None else (np.nan, np.nan))
    out: dict[str, Any] = {"scored": np.asarray(scored, dtype=bool), "calibrated": calibrated}
    base = metrics.baseline
    if base is None:
        return {**out, "gated": ([], "no baseline"), "ungated": ([], "no baseline")}
    thresholds = np.asarray(base.thresholds, dtype=np.float64)[:, eye]
    tt = np.asarray(t, dtype=np.float64)
    out["gated"] = blink_intervals(tt, np.asarray(raw, dtype=np.float64), thresholds)
    out["ungated"] = blink_intervals(tt, np.asarray(every, dtype=np.float64), thresholds)
    return out


def video_blinks(model: Path, name: str, fps_list: Sequence[float]) -> dict[str, Any]:
    """One video: its reference closures and, per frame rate, how many the station found."""
    from station.tracking.fakes.samples import sample_path
    from station.tracking.tracker import Landmarker

    frames, native = _read(sample_path(name))
    t = np.arange(len(frames)) / native
    with Landmarker(model, blendshapes=True) as lmk:
        samples = [lmk.detect(rgb, float(ti)) for rgb, ti in zip(frames, t, strict=True)]
    bl = np.array([s.blendshapes.get("eyeBlinkLeft", 0.0) for s in samples])
    br = np.array([s.blendshapes.get("eyeBlinkRight", 0.0) for s in samples])
    events = closures(t, bl, br, 1.0 / native)
    win = still_window([s.landmarks for s in samples], np.maximum(bl, br))
    out: dict[str, Any] = {"video": name, "native_fps": round(native, 3), "frames": len(frames),
                           "closures": [[round(a, 3), round(b, 3)] for a, b in events],
                           "closure_s": [round(b - a, 3) for a, b in events], "per_fps": {}}
    if win is None:
        out["baseline"] = None
        return out
    out["baseline"] = {"window_start_frame": win[0], "medoid_frame": win[1],
                       "mean_deviation_iod": round(win[2], 4)}
    for f in fps_list:
        idx = _subsample(t, f, native)
        res = _station_blinks(model, [frames[i] for i in idx], t[idx], frames[win[1]])
        (found, rule), scored = res["gated"], res["scored"]
        dt = 1.0 / min(f, native)
        hit = [any(a < e + dt and b > s - dt for a, b in found) for s, e in events]
        hit_all = [any(a < e + dt and b > s - dt for a, b in res["ungated"][0]) for s, e in events]
        short = [e - s <= BLINK_LENGTH_S for s, e in events]
        ts = t[idx]
        seen = [bool(np.any(scored[(ts >= s - dt) & (ts <= e + dt)])) for s, e in events]
        # captured: a frame at this rate falls inside the closure (the camera saw it closed)
        caught = [bool(np.any((ts >= s - 1e-9) & (ts < e - 1e-9))) and b
                  for (s, e), b in zip(events, short, strict=True)]
        matched = sum(any(a < e + dt and b > s - dt for s, e in events) for a, b in found)
        out["per_fps"][f"{f:g}"] = {
            "rule": rule, "calibrated_on_still_face": res["calibrated"], "frames": len(idx),
            "scored_frames": int(scored.sum()), "closures": len(events), "recognised": int(sum(hit)),
            "closures_in_scored_frames": int(sum(seen)),
            "recognised_in_scored_frames": int(sum(h and v for h, v in zip(hit, seen, strict=True))),
            "station_blinks": len(found), "station_blinks_on_a_closure": int(matched),
            "station_blink_s": [round(b - a, 3) for a, b in found],
            "recognised_ungated": int(sum(hit_all)),
            "blink_length_closures": int(sum(short)),
            "blink_length_recognised": int(sum(h and b for h, b in zip(hit, short, strict=True))),
            "blink_length_recognised_ungated": int(sum(h and b for h, b in zip(hit_all, short, strict=True))),
            "ungated_blinks": len(res["ungated"][0]),
            "captured_blink_length": int(sum(caught)),
            "captured_recognised_ungated": int(sum(h and c for h, c in zip(hit_all, caught, strict=True)))}
    return out


def real_blinks(model: Path, fps_list: Sequence[float]) -> dict[str, Any]:
    """All talking videos; totals per frame rate."""
    videos = [video_blinks(model, v, fps_list) for v in VIDEOS]
    totals: dict[str, dict[str, Any]] = {}
    for f in fps_list:
        key = f"{f:g}"
        n = sum(v["per_fps"].get(key, {}).get("closures", len(v["closures"])) for v in videos)
        k = sum(v["per_fps"].get(key, {}).get("recognised", 0) for v in videos)
        n_seen = sum(v["per_fps"].get(key, {}).get("closures_in_scored_frames", 0) for v in videos)
        k_seen = sum(v["per_fps"].get(key, {}).get("recognised_in_scored_frames", 0) for v in videos)
        k_all = sum(v["per_fps"].get(key, {}).get("recognised_ungated", 0) for v in videos)
        short = {x: sum(v["per_fps"].get(key, {}).get(x, 0) for v in videos)
                 for x in ("blink_length_closures", "blink_length_recognised",
                           "blink_length_recognised_ungated", "captured_blink_length",
                           "captured_recognised_ungated")}
        rules = {v["per_fps"][key]["rule"] for v in videos if key in v["per_fps"]}
        totals[key] = {"closures": n, "recognised": k,
                       "share": round(k / n, 3) if n else math.nan,
                       "closures_in_scored_frames": n_seen, "recognised_in_scored_frames": k_seen,
                       "recognised_ungated": k_all, **short,
                       "rule": sorted(rules)}
    return {"videos": videos, "totals": totals}


def format_blinks(doc: dict[str, Any]) -> str:
    """The real-blink table as text."""
    lines = ["real two-eyed closures recognised as blinks (reference: both eyeBlink blendshapes > 0.5)"]
    for v in doc["videos"]:
        base = v.get("baseline")
        where = ("no still open-eyed window" if base is None else
                 f"baseline: medoid frame {base['medoid_frame']} of the still window at frame "
                 f"{base['window_start_frame']}")
        lengths = ", ".join(f"{x:g}" for x in v["closure_s"])
        lines.append(f"  {v['video']} ({v['frames']} frames at {v['native_fps']:g} fps, "
                     f"{len(v['closures'])} closures lasting {lengths or '-'} s, {where})")
        for f, c in v["per_fps"].items():
            lines.append(f"    {f:>3} fps: {c['recognised']}/{c['closures']} recognised; the station "
                         f"found {c['station_blinks']} blinks, {c['station_blinks_on_a_closure']} on a "
                         f"closure; scored frames {c['scored_frames']}/{c['frames']}; closures in "
                         f"scored frames {c['recognised_in_scored_frames']}/"
                         f"{c['closures_in_scored_frames']} recognised; ungated "
                         f"{c['recognised_ungated']}/{c['closures']} ({c['ungated_blinks']} blinks)")
    for f, c in doc["totals"].items():
        share = "-" if c["closures"] == 0 else f"{100 * c['share']:.0f} %"
        lines.append(f"  all videos, {f:>3} fps: {c['recognised']}/{c['closures']} ({share}); in scored "
                     f"frames {c['recognised_in_scored_frames']}/{c['closures_in_scored_frames']}; "
                     f"ungated {c['recognised_ungated']}/{c['closures']}; closures of blink length "
                     f"(<= {BLINK_LENGTH_S:g} s) {c['blink_length_recognised']}/{c['blink_length_closures']}, "
                     f"ungated {c['blink_length_recognised_ungated']}/{c['blink_length_closures']}; "
                     f"captured at this rate (a frame inside the closure) "
                     f"{c['captured_recognised_ungated']}/{c['captured_blink_length']} ungated; "
                     f"rule: {', '.join(c['rule'])}")
    return "\n".join(lines) + "\n"
