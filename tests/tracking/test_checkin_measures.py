"""The check-in's measures: exact on synthetic readings, and on real tracked numbers.

The synthetic part builds a try's frames by hand (what the metrics would have said) and checks
medians, ratios, co-movement, eye narrowing, blink masking, the quality gate, the per-movement
spread and the rest differences. The real part runs a still face (a real photo with sensor
noise and a little sway) through the whole check-in with the real landmarker: the repeat
spread must stay below 0.2 mm. The scripted matrix (three faces, both sides, ratios 0.3 / 0.6 /
1.0, eye narrowing 0 / 20 / 40 %, 10 and 30 fps) is marked slow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from station.feedback import Side
from station.practice.checkin import MOVEMENT_BY_ID, CheckinTiming, Movement
from station.practice.plan import REGIONS
from station.tracking.checkin import (
    TryFrames,
    TryResult,
    blink_frames,
    change_is_real,
    gate_try,
    measure_try,
    noise_band,
    rest_measures,
    summarize_movement,
)
from station.tracking.face import Pose
from station.tracking.metrics import Baseline, MetricFrame

FPS = 10.0
COL = {r: i for i, r in enumerate(REGIONS)}
L, R = 0, 1  # rows: left, right


def baseline(fissure: tuple[float, float] = (8.0, 9.0)) -> Baseline:
    neutral = np.zeros((478, 2))
    neutral[291] = (25.0, 70.0)  # left corner, 70 mm below the iris line
    neutral[61] = (-25.0, 68.5)  # right corner sits 1.5 mm higher
    values = np.zeros((2, 6))
    values[:, 0] = fissure
    values[:, 1] = (20.0, 21.0)
    return Baseline(neutral_mm=neutral, mm_per_px=0.25, pose=Pose(), values=values,
                    noise=np.full((2, 6), 0.05))


def frames(movement: Movement, affected: float, other: float, side: str = "left", hold_s: float = 3.0,
           extra: dict[str, float] | None = None, fps: float = FPS, turn: float = 0.0,
           face: bool = True, blink_at: float | None = None, blink_s: float = 0.3,
           keep: Callable[[float], bool] | None = None) -> TryFrames:
    """A try (move 2 s, hold, release 2 s, rest 2 s) whose target reaches ``affected`` / ``other``
    (mm, in the movement's direction) in the hold; ``extra`` region readings on the affected side."""
    a = 0 if side == "left" else 1
    tf = TryFrames(movement, 0, 0, hold_start=2.0, hold_s=hold_s)
    base = baseline()
    spans = [("move", 2.0), ("hold", hold_s), ("release", 2.0), ("rest", 2.0)]
    t0 = 0.0
    for phase, dur in spans:
        for k in range(int(round(dur * fps))):
            t = t0 + k / fps
            if keep is not None and not keep(t):
                continue  # the tracker delivered no frame then
            f = k / (dur * fps)
            amount = {"move": f, "hold": 1.0, "release": 1.0 - f}.get(phase, 0.0)
            r = np.zeros((2, 6))
            r[a, COL[movement.target]] = movement.sign * affected * amount
            r[1 - a, COL[movement.target]] = movement.sign * other * amount
            for region, mm in (extra or {}).items():
                r[a, COL[region]] += mm * amount
            if blink_at is not None and blink_at <= t < blink_at + blink_s:
                r[:, COL["eye"]] -= 5.0
            mf = MetricFrame(t=t, face=face, scored=face, status="tracking",  # type: ignore[arg-type]
                             readings=r if face else None, pose=Pose(yaw=turn))
            tf.add(t, phase, mf, base)
        t0 += dur
    return tf


SMILE = MOVEMENT_BY_ID["open_smile"]


def test_excursion_ratio_and_comovement_are_the_hold_medians() -> None:
    tf = frames(SMILE, 3.0, 6.0, extra={"eye": -1.6, "chin": 0.4})
    res = measure_try(tf, Side.LEFT, baseline())
    assert res.affected_mm == pytest.approx(3.0) and res.other_mm == pytest.approx(6.0)
    assert res.ratio == pytest.approx(0.5)
    assert res.comovement_mm["eye"] == pytest.approx(-1.6) and res.comovement_mm["chin"] == pytest.approx(0.4)
    assert res.comovement_mm["brow"] == 0.0 and "mouth_corner" not in res.comovement_mm
    assert res.eye_narrowing_pct == pytest.approx(100 * 1.6 / 8.0)  # fissure drop / resting fissure
    assert res.frames == 22  # the hold from 2.75 s on (its last three quarters) at 10 fps


def test_the_other_side_and_directions_follow_the_movement() -> None:
    pucker = MOVEMENT_BY_ID["lip_pucker"]
    res = measure_try(frames(pucker, 2.0, 4.0, side="right", extra={"eye": -0.9}), Side.RIGHT, baseline())
    assert (res.affected_mm, res.other_mm, res.ratio) == pytest.approx((2.0, 4.0, 0.5))
    assert res.eye_narrowing_pct == pytest.approx(10.0)  # 0.9 of the right eye's 9 mm
    eye = MOVEMENT_BY_ID["eye_closure"]
    res = measure_try(frames(eye, 2.5, 5.0), Side.LEFT, baseline())
    assert res.ratio == pytest.approx(0.5) and res.eye_narrowing_pct is None
    # an other side that did not move gives no ratio (two noises)
    assert measure_try(frames(SMILE, 0.3, 0.2), Side.LEFT, baseline()).ratio is None


def test_a_blink_in_the_hold_is_not_eye_comovement_but_sustained_narrowing_is() -> None:
    base = baseline()
    blinked = frames(SMILE, 3.0, 6.0, hold_s=1.0, blink_at=2.35)
    res = measure_try(blinked, Side.LEFT, base)
    assert res.blink_frames >= 3 and res.comovement_mm["eye"] == pytest.approx(0.0)
    assert res.eye_narrowing_pct == pytest.approx(0.0)
    t, *_rest, rd = blinked.arrays()
    mask = blink_frames(t, rd[:, L, 0], rd[:, R, 0], 0.6, 0.6)
    assert mask.sum() >= 3
    narrowed = frames(SMILE, 3.0, 6.0, hold_s=1.0, extra={"eye": -2.0})
    assert measure_try(narrowed, Side.LEFT, base).comovement_mm["eye"] == pytest.approx(-2.0)


def test_blink_frames_is_the_stations_one_blink_rule() -> None:
    """A brief closure of both lids is masked (the check-in uses the practice's own blink rule);
    the affected eye narrowing alone for a second is not."""
    t = np.arange(60) / 30.0
    blink = np.where((t >= 0.5) & (t < 0.7), -4.0, 0.0)
    mask = blink_frames(t, blink, blink, 0.6, 0.6)
    assert mask[(t >= 0.5) & (t < 0.7)].all() and not mask[t > 1.2].any()
    narrowing = np.where((t >= 0.5) & (t < 1.5), -3.0, 0.0)
    assert not blink_frames(t, narrowing, np.zeros_like(t), 0.6, 0.6).any()


def test_the_gate_keeps_good_tries_and_names_what_is_wrong() -> None:
    base = baseline()
    assert gate_try(frames(SMILE, 3, 6), base) == (True, "")
    assert gate_try(frames(SMILE, 3, 6, turn=0.25), base) == (False, "turned")
    tf = frames(SMILE, 3, 6)  # turned past the metrics' own gate: unscored, and said why
    tf.scored = [s and p != "hold" for s, p in zip(tf.scored, tf.phase, strict=True)]
    tf.reason = ["turned" if p == "hold" else "" for p in tf.phase]
    assert gate_try(tf, base) == (False, "turned")
    assert gate_try(frames(SMILE, 3, 6, face=False), base) == (False, "no_face")
    assert gate_try(frames(SMILE, 3, 6, extra={"eye": -12.0}), base) == (False, "eyes")
    assert gate_try(frames(SMILE, 3, 6, fps=1.0), base) == (False, "frames")
    # a full eye closure is not "eyes not found"
    assert gate_try(frames(MOVEMENT_BY_ID["eye_closure"], 7.5, 8.5), base) == (True, "")
    # frames unscored in the hold (a hand over the face) are too few
    tf = frames(SMILE, 3, 6)
    tf.scored = [s and p != "hold" for s, p in zip(tf.scored, tf.phase, strict=True)]
    assert gate_try(tf, base) == (False, "frames")


def test_the_gate_counts_the_hold_covered_in_time_not_frames_times_the_median_interval() -> None:
    """A loaded tracker delivers frames in bursts: 0.2 s at 25 fps every 0.5 s still covers the
    whole steady hold (the demo's tries were refused as "frames" this way); frames only in the
    first half of the steady hold do not."""
    base = baseline()
    bursts = frames(SMILE, 3, 6, fps=25.0, keep=lambda t: (t % 0.5) < 0.2)
    assert gate_try(bursts, base) == (True, "")
    early = frames(SMILE, 3, 6, fps=25.0, keep=lambda t: not 3.6 <= t < 5.0)
    assert gate_try(early, base) == (False, "frames")


def _result(ratio: float, aff: float, eye: float) -> TryResult:
    return TryResult("open_smile", 0, 0, aff, aff / ratio, ratio, {"eye": eye, "brow": 0.1}, -eye * 12.5, 20, 0)


def test_per_movement_median_and_spread_and_the_noise_band() -> None:
    tries = [_result(0.5, 3.0, -1.0), _result(0.6, 3.3, -1.2), _result(0.55, 3.1, -0.8)]
    out = summarize_movement(SMILE, tries, True)
    assert out["ratio"] == pytest.approx(0.55) and out["spread"]["ratio"] == pytest.approx(0.1)
    assert out["affected_mm"] == pytest.approx(3.1) and out["spread"]["affected_mm"] == pytest.approx(0.3)
    assert out["comovement_mm"]["eye"] == pytest.approx(-1.0)
    assert out["spread"]["comovement_mm"]["eye"] == pytest.approx(0.4)
    assert out["comovement_mm"]["chin"] is None and "mouth_corner" not in out["comovement_mm"]
    one = summarize_movement(SMILE, tries[:1], False)
    assert one["complete"] is False and one["spread"]["ratio"] is None and one["ratio"] == 0.5
    none = summarize_movement(SMILE, [], False)
    assert none["ratio"] is None and none["accepted"] == 0
    band = noise_band(0.1, None, 0.15)
    assert band == 0.15
    assert change_is_real(0.5, 0.7, band) is True and change_is_real(0.5, 0.6, band) is False
    assert change_is_real(0.5, None, band) is None and noise_band(None) is None


def test_rest_differences_are_affected_minus_other() -> None:
    rest = np.zeros((30, 2, 6))
    rest[:, L, 0] = -0.5  # the left eye rests a little narrower than at calibration
    rest[3, :, :] = np.nan
    out = rest_measures(baseline(), rest, Side.LEFT)
    assert out["eye_fissure_mm"] == {"affected": 7.5, "other": 9.0, "difference": -1.5}
    assert out["brow_height_mm"]["difference"] == -1.0
    assert out["mouth_corner_height_mm"] == {"affected": -70.0, "other": -68.5, "difference": -1.5}
    assert out["frames"] == 29 and out["spread_mm"]["eye"] == 0.0
    right = rest_measures(baseline(), rest, Side.RIGHT)
    assert right["eye_fissure_mm"]["difference"] == 1.5


# ---- real tracked numbers ----------------------------------------------------------------

# the check-in's own 3 s hold (its medians are what repeat), short everything else
STILL_TIMING = CheckinTiming(settle_s=4.0, neutral_s=5.0, intro_s=0.5, move_s=0.5, hold_s=3.0,
                             release_s=0.5, rest_s=0.5)


@pytest.mark.slow
def test_a_still_face_repeats_within_two_tenths_of_a_millimetre(model_file: Path) -> None:
    """A real photo held still, with sensor noise and a little sway, through the whole check-in.

    Measured the same way on the matrix's faces (max / median over 35 measures): "studio" (this
    one, 128 px between the irises) 0.136 / 0.053 mm, "posed" (122 px) 0.096 / 0.033, "clip"
    (104 px) 0.134 / 0.068, "video" (69 px, about 0.9 mm a pixel) 0.203 / 0.043: the open
    smile's other mouth corner, a signed length of a still corner's jitter. That small face is
    the unit's case, not an outlier: the kiosk's 640x480 camera at arm's length (about 0.55 m,
    a lens of about 62 degrees across) sees roughly 60 px between the irises, so there the
    0.2 mm target is at its edge (estimated from the optics, not measured on a unit).
    """
    import cv2

    from station.devtools.checkin_replay import replay_checkin
    from station.tracking.fakes.checkin_video import face_image
    from station.tracking.tracker import Landmarker

    rgb = face_image("studio")
    rng = np.random.default_rng(7)
    h, w = rgb.shape[:2]

    def samples():  # noqa: ANN202
        with Landmarker(model_file) as lmk:
            for i in range(int(round((4 + 5 + 5 * (0.5 + 3 * 4.5) + 1.0) * FPS))):
                t = i / FPS
                sway = np.float32([[1, 0, 0.4 * np.sin(t / 1.3)], [0, 1, 0.3 * np.sin(t / 1.7)]])
                img = cv2.warpAffine(rgb, sway, (w, h), borderMode=cv2.BORDER_REFLECT)
                img = np.clip(img + rng.normal(0, 3.0, img.shape), 0, 255).astype(np.uint8)
                yield t, lmk.detect(np.ascontiguousarray(img), t)

    res = replay_checkin(samples(), "left", timing=STILL_TIMING)
    assert res["status"] == "complete" and not res["rejected"]
    spreads = []
    named = {}
    for m in res["movements"]:
        assert m["accepted"] == 3 and m["complete"]
        sp = m["spread"]
        spreads += [sp["affected_mm"], sp["other_mm"], *sp["comovement_mm"].values()]
        named.update({f"{m['movement']}.{k}": v for k, v in sp["comovement_mm"].items()})
        named.update({f"{m['movement']}.affected": sp["affected_mm"], f"{m['movement']}.other": sp["other_mm"]})
        assert m["ratio"] is None  # nothing moved: no ratio of two noises
    assert max(spreads) < 0.2, named
    print(f"still-face repeat spread: max {max(spreads):.3f} mm, median {np.median(spreads):.3f} mm "
          f"over {len(spreads)} measures")
    assert all(abs(v) < 0.5 for v in res["rest"]["spread_mm"].values() if v is not None)


# The matrix's faces: three near-frontal real faces of the pinned media (the landmarker's own
# pose, yaw / pitch): "video" (a man, 0.00 / 0.02), "clip" (a woman, a still stretch of a stock
# clip, -0.05 / -0.15), "posed" (a woman, a posed-expression photo, 0.00 / 0.05; she smiles a
# little at rest, which a neutral baseline absorbs).
#
# Why not the two turned photos ("studio", "portrait", yaw 0.17 and 0.20 rad) that stood here
# as expected failures: not because they are turned. With the 3-D registration (issue 16) the
# check-in added at most 0.07 to what the landmarker reads of their held still face (ratios)
# and 3.1 points (eye narrowing) on "studio", left side, 10 and 30 fps (not run further).
# Their misses were the script: the warps were set in pixels, and the landmarker follows a
# one-sided warp unequally on every face, frontal ones too. At a scripted 0.6 the station's own measure of the warp's
# ground-truth landmarks reads 0.58-0.62 (brow, smile, pucker) on all six faces tried, the
# landmarker 0.51-0.85 for the smile (the frontal "posed" 0.85 / 0.54, the turned "studio"
# 0.71 / 0.51), 0.40-1.06 for the pucker, 0.15-0.91 for the brow. So the warp and the
# measurement are right and the landmarker's response to a synthetic warp is the spread; the
# scripts are now set in what the landmarker sees of the held still face
# (:func:`station.tracking.fakes.checkin_video.calibrate`, as the eye narrowing already was),
# and the matrix tests what the check-in adds. The snarl has no ratio here: a warp that lifts
# the nose wing and cheek by 1-5 mm (ground truth) reads 0.0-0.5 mm through the landmarker
# (in the full matrix the check-in gave a snarl ratio in 5 of 36 cells, 0.50-0.85, where the
# other side's reading just passed the 0.5 mm needed for a ratio: noise, not the script).
# One script cannot be set: on the "video" face the landmarker reads the affected eye closing
# 0.35 (left) and 0.41 (right) of the other eye's closure when only the other eye is warped
# (the warp on the affected eye at zero), so an eye-closure ratio of 0.3 does not exist for it
# there; that cell is
# held to what the landmarker reads (within 0.1), and it says something for the clinic: a
# one-sided eye closure reads at least about 0.3-0.4 through this landmarker on these faces
# (video: 0.35 left, 0.41 right; clip: 0.32 right, with no warp on that eye at all; the pinned
# media's survey: the other eye's gap drops 0.01-0.23 of a commanded closure).
# (The pose drift of issue 16 learns from a head that turns at rest; these faces never turn,
# and the check-in's gate refuses a try turned past 0.15 rad from the calibrated pose.)
MATRIX_FACES = ("video", "clip", "posed")
SCRIPTS = ((0.3, 0.0, 0.2), (0.6, 0.2, 0.4), (1.0, 0.4, 0.0))  # ratio, smile and pucker narrowing
MATRIX_FPS = (10.0, 30.0)


def matrix_cases(name: str, side: str) -> list[tuple[tuple[float, float, float], float]]:
    """(script, fps) to run on one face and side. All six by default would be 36 check-ins (about
    25 minutes on two cores, twice in CI), so by default each face and side runs one of them
    and together the six cover every script at both frame rates once;
    ``STATION_CHECKIN_FULL_MATRIX=1`` runs all of them everywhere."""
    every = [(sc, fps) for sc in SCRIPTS for fps in MATRIX_FPS]
    if os.environ.get("STATION_CHECKIN_FULL_MATRIX"):
        return every
    k = 2 * MATRIX_FACES.index(name) + ("left", "right").index(side)
    return [(SCRIPTS[k % 3], MATRIX_FPS[k // 3])]


def scripted_rows(model_file: Path, name: str, side: str) -> list[dict]:
    """The matrix's check-ins on one face and side: what was scripted, what the landmarker sees
    of the held still face (the reference), the warp's own amount, what the check-in measured."""
    from station.devtools.checkin_replay import scripted_checkin
    from station.practice.checkin import QUICK_TIMING
    from station.tracking.fakes.checkin_video import CheckinScript, calibrate, load_face

    rows = []
    done: dict[tuple[float, float, float], tuple] = {}
    for script, fps in matrix_cases(name, side):
        if script not in done:
            ratio, smile_n, pucker_n = script
            face = load_face(name, model_file, CheckinScript(side, ratio, smile_n, pucker_n))
            done[script] = (face, calibrate(face, model_file))
        face, refs = done[script]
        ratio, smile_n, pucker_n = script
        res = scripted_checkin(face, fps, model_file, QUICK_TIMING)
        assert res["status"] == "complete" and not res["rejected"]
        for m in res["movements"]:
            ref = refs[m["movement"]]
            n = {"open_smile": smile_n, "lip_pucker": pucker_n}.get(m["movement"])
            rows.append({"face": name, "side": side, "fps": fps, "movement": m["movement"],
                         "ratio": ratio, "ratio_ref": ref.ratio, "ratio_measured": m["ratio"],
                         "warp_amount": round(ref.geometric_ratio, 3),
                         "n_pct": None if n is None else 100 * n, "n_ref": ref.narrowing_pct,
                         "n_measured": m["eye_narrowing_pct"] if n is not None else None})
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("side", ("left", "right"))
@pytest.mark.parametrize("name", MATRIX_FACES)
def test_scripted_checkins_recover_ratio_and_eye_narrowing(model_file: Path, name: str, side: str) -> None:
    """The acceptance matrix (three faces, both sides, ratios 0.3 / 0.6 / 1.0, eye narrowing
    0 / 20 / 40 % in the smile and the pucker, 10 and 30 fps; see :func:`matrix_cases`).

    * every ratio the landmarker can give (brow lift, eye closure, open smile, lip pucker) within
      0.1 of the scripted one, and within 0.1 of what the landmarker reads of the held still face
      (where the landmarker cannot be made to read the script, the latter only: see above);
    * the eye narrowing in the smile and the pucker within 5 points of the scripted one.
    The scripts are set in what the landmarker sees (see the notes above ``MATRIX_FACES``).
    """
    rows = scripted_rows(model_file, name, side)
    out = os.environ.get("STATION_CHECKIN_TABLE")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    for r in rows:
        check_matrix_row(r)


def check_matrix_row(r: dict) -> None:
    """One row of the matrix against the acceptance (also run on a saved table)."""
    if r["movement"] == "snarl":
        return  # the landmarker does not follow the snarl's warp: no ratio to recover
    assert r["ratio_ref"] is not None and r["ratio_measured"] is not None, r
    assert abs(r["ratio_measured"] - r["ratio_ref"]) <= 0.1, r  # what the check-in adds
    if abs(r["ratio_ref"] - r["ratio"]) <= 0.03:
        assert abs(r["ratio_measured"] - r["ratio"]) <= 0.1, r
    else:  # the script could not be set: only where the eyes couple (see the notes above)
        assert r["movement"] == "eye_closure" and r["warp_amount"] == 0.0 and r["ratio"] == 0.3, r
    if r["n_pct"] is not None:
        assert abs(r["n_measured"] - r["n_pct"]) <= 5.0, r
