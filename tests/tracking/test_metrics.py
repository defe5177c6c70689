"""Pure-numpy tests of the metrics core on synthetic landmark arrays (fast, exact)."""

from __future__ import annotations

import numpy as np
import pytest

from station.feedback import RepStats, Side, TrackingStatus
from station.tracking import landmarks as lm
from station.tracking.face import FaceSample, Pose
from station.tracking.filters import FaceGate, Smoother
from station.tracking.metrics import (
    MSG_NO_FACE,
    MSG_STILL,
    Calibrator,
    MetricFrame,
    Metrics,
    make_baseline,
    measure,
    region_index,
    side_index,
    similarity_fit,
)
from station.tracking.scoring import RepScorer, live_feedback, pattern_result

PX_PER_MM = 2.0


def synthetic_face() -> np.ndarray:
    """478 landmarks in *mm* of a frontal face (x towards the subject's left, y down)."""
    rng = np.random.default_rng(7)
    p = np.zeros((478, 2))
    p[:, 0] = rng.uniform(-60, 60, 478)
    p[:, 1] = rng.uniform(-70, 90, 478)
    for side, sx in (("right", -31.0), ("left", 31.0)):
        p[lm.IRIS_CENTER[side]] = (sx, 0.0)
        a, b, c, d = lm.IRIS_RING[side]
        p[a], p[c] = (sx + 5.85, 0.0), (sx - 5.85, 0.0)
        p[b], p[d] = (sx, -5.85), (sx, 5.85)
        for i, k in enumerate(lm.EYE_UPPER_LID[side]):
            p[k] = (sx - 4 + 4 * i, -4.5)
        for i, k in enumerate(lm.EYE_LOWER_LID[side]):
            p[k] = (sx - 4 + 4 * i, 4.5)
        for i, k in enumerate(lm.BROW[side]):
            p[k] = (sx - 12 + 6 * i, -18.0)
        p[lm.NOSE_CHEEK[side][0]] = (np.sign(sx) * 14, 40.0)
        p[lm.NOSE_CHEEK[side][1]] = (np.sign(sx) * 40, 30.0)
        p[lm.MOUTH_CORNER[side]] = (np.sign(sx) * 25, 70.0)
        p[lm.CHIN_LIP[side]] = (np.sign(sx) * 8, 76.0)
        p[lm.CHIN_POINT[side]] = (np.sign(sx) * 12, 105.0)
    for i, k in enumerate(lm.STABLE):
        p[k] = (0.0, -60 + 10 * i)
    for i, k in enumerate(lm.STABLE_LATERAL):
        p[k] = ((-1) ** i * (15 + 3 * i), -55 + 2 * i)
    p[lm.UPPER_LIP_MID] = (0, 64)
    p[lm.LOWER_LIP_MID] = (0, 76)
    return p


def to_image(p_mm: np.ndarray, angle: float = 0.0, scale: float = PX_PER_MM,
             shift: tuple[float, float] = (320.0, 240.0)) -> np.ndarray:
    """Place a face (mm) in an image: rotate, scale to pixels, shift; add a z column."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    xy = scale * p_mm @ rot.T + np.asarray(shift)
    return np.c_[xy, np.zeros(len(xy))].astype(np.float32)


def baseline_for(p_mm: np.ndarray, **kw):
    return make_baseline([to_image(p_mm, **kw)] * 24, [Pose()] * 24)


def test_similarity_fit_recovers_transform():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(12, 2))
    rot = np.array([[np.cos(0.4), -np.sin(0.4)], [np.sin(0.4), np.cos(0.4)]])
    dst = 2.5 * src @ rot.T + [3.0, -1.0]
    s, r, t = similarity_fit(src, dst)
    assert s == pytest.approx(2.5)
    assert np.allclose(r, rot) and np.allclose(t, [3.0, -1.0])


def test_scale_from_iris_and_neutral_readings_zero():
    face = synthetic_face()
    b = baseline_for(face)
    assert b.mm_per_px == pytest.approx(1 / PX_PER_MM)
    vals, rms, scale = measure(to_image(face), b)
    assert np.abs(vals).max() < 1e-6 and rms < 1e-6 and scale == pytest.approx(1.0)


@pytest.mark.parametrize("angle,scale,shift", [(0.3, 1.2, (100, 50)), (-0.25, 3.5, (400, 300)),
                                               (0.0, 0.8, (0, 0))])
def test_readings_invariant_to_rotation_scale_shift(angle, scale, shift):
    face = synthetic_face()
    b = baseline_for(face)  # calibrated upright
    moved = face.copy()
    moved[lm.MOUTH_CORNER["left"]] += (1.0, -2.0)  # out 1 mm, up 2 mm
    moved[list(lm.EYE_UPPER_LID["right"]), 1] += 1.5  # right upper lid down 1.5 mm
    vals, _, _ = measure(to_image(moved, angle=angle, scale=scale, shift=shift), b)
    L, R = side_index("left"), side_index("right")
    assert vals[L, region_index("mouth_corner")] == pytest.approx(np.hypot(1, 2), abs=1e-4)
    assert vals[R, region_index("mouth_corner")] == pytest.approx(0.0, abs=1e-4)
    assert vals[R, region_index("eye")] == pytest.approx(-1.5, abs=1e-4)
    assert vals[L, region_index("eye")] == pytest.approx(0.0, abs=1e-4)
    assert vals[L, region_index("lips")] == pytest.approx(1.0, abs=1e-4)


def test_directions_of_each_region():
    face = synthetic_face()
    b = baseline_for(face)
    m = face.copy()
    m[lm.MOUTH_CORNER["right"]] += (2.0, 0.0)  # right corner moves inward (pucker)
    m[list(lm.BROW["left"]), 1] -= 2.0  # left brow up
    m[list(lm.NOSE_CHEEK["left"]), 1] -= 1.0  # left snarl
    m[lm.CHIN_POINT["right"], 1] -= 1.0  # right chin up towards the lip
    vals, _, _ = measure(to_image(m), b)
    L, R = side_index("left"), side_index("right")
    assert vals[R, region_index("lips")] == pytest.approx(-2.0)
    assert vals[R, region_index("mouth_corner")] < 0
    assert vals[L, region_index("brow")] == pytest.approx(2.0)
    assert vals[L, region_index("nose_cheek")] == pytest.approx(1.0)
    assert vals[R, region_index("chin")] == pytest.approx(-1.0, abs=0.05)


def test_mirrored_image_keeps_anatomical_sides():
    """Mirroring a frame swaps what MediaPipe calls left/right; the metrics follow the labels."""
    face = synthetic_face()
    b = baseline_for(face)
    m = face.copy()
    m[lm.MOUTH_CORNER["left"]] += (0.0, -2.0)
    vals, _, _ = measure(to_image(m), b)
    assert vals[side_index("left"), region_index("mouth_corner")] == pytest.approx(2.0)


def test_face_gate_ignores_one_frame_false_positive():
    gate = FaceGate(3)
    seq = [False, True, False, False, True, True, True, True, False]
    assert [gate.update(f) for f in seq] == [False, False, False, False, False, False, True, True,
                                             False]


@pytest.mark.parametrize("fps", [15.0, 30.0, 60.0])
def test_smoothing_step_reaches_63_percent_within_150_ms(fps):
    sm = Smoother()
    x0, x1 = np.zeros((2, 6)), np.ones((2, 6))
    t = 0.0
    for _ in range(10):
        sm.update(x0, t)
        t += 1 / fps
    t_step = t
    while True:
        y = sm.update(x1, t)
        if y[0, 0] >= 0.63:
            break
        t += 1 / fps
    assert t - t_step <= 0.150
    # and a one-frame spike is damped
    sm2 = Smoother()
    sm2.update(x0, 0.0)
    assert sm2.update(x1, 1 / 30)[0, 0] < 0.5


def read_samples(face, n, t0=0.0, fps=30.0, jitter=0.0, pose=None, seed=0):
    pose = pose or Pose()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        pts = to_image(face) + np.c_[rng.normal(0, jitter, (478, 2)), np.zeros(478)]
        out.append(FaceSample(t=t0 + i / fps, landmarks=pts.astype(np.float32), pose=pose))
    return out


def test_calibration_waits_for_settled_still_face_and_says_why():
    face = synthetic_face()
    cal = Calibrator(frames=24, settle_frames=10)
    assert cal.feed(FaceSample(t=0.0, landmarks=None)) is None
    assert cal.message == MSG_NO_FACE
    moving = []
    lower = face[:, 1] > 45  # the whole lower face keeps moving (talking): not still
    for i in range(40):
        f = face.copy()
        f[lower, 1] += 3 * np.sin(i / 3)
        moving.append(FaceSample(t=i / 30, landmarks=to_image(f), pose=Pose()))
    for s in moving:
        assert cal.feed(s) is None
    assert cal.message == MSG_STILL
    # the face is lost and found again: settle 10 frames, then 24 still frames
    assert cal.feed(FaceSample(t=1.9, landmarks=None)) is None
    got = [cal.feed(s) for s in read_samples(face, 24 + 10, t0=2.0, jitter=0.05)]
    assert got[-1] is not None and all(g is None for g in got[:-1])
    assert got[-1].frames == 24


def test_thresholds_have_floor_and_follow_noise():
    face = synthetic_face()
    cal = Calibrator()
    for s in read_samples(face, 34, jitter=0.02):
        cal.feed(s)
    b = cal.baseline
    assert b is not None
    assert b.threshold("left", "eye") == pytest.approx(b.floors["eye"])  # tiny noise: floor
    assert np.all(b.noise < 0.1)


def test_metrics_gates_turned_frames_and_lost_face():
    face = synthetic_face()
    m = Metrics()
    frames = [m.update(s) for s in read_samples(face, 40)]
    assert m.calibrated and frames[-1].scored and frames[-1].status is TrackingStatus.TRACKING
    turned = m.update(FaceSample(t=2.0, landmarks=to_image(face), pose=Pose(yaw=0.3)))
    assert turned.status is TrackingStatus.TURNED and not turned.scored
    lost = m.update(FaceSample(t=2.1, landmarks=None))
    assert lost.status is TrackingStatus.NO_FACE and not lost.face and "Keep going" in lost.message
    # found again: needs 3 frames, then ~10 frames to settle before scoring resumes
    back = [m.update(s) for s in read_samples(face, 14, t0=3.0)]
    assert [f.face for f in back[:3]] == [False, False, True]
    assert not any(f.scored for f in back[:10]) and back[-1].scored


def test_landmark_jump_pauses_scoring():
    face = synthetic_face()
    m = Metrics()
    for s in read_samples(face, 40):
        m.update(s)
    broken = face.copy()
    broken[list(lm.STABLE[:5])] += (0, 25.0)  # a hand drags the nose points away
    f = m.update(FaceSample(t=2.0, landmarks=to_image(broken), pose=Pose()))
    assert f.face and not f.scored and f.reason == "landmarks"


def _frame(t, values, scored=True, face=True):
    arr = np.zeros((2, 6))
    for (side, region), v in values.items():
        arr[side_index(side), region_index(region)] = v
    return MetricFrame(t=t, face=face, scored=scored, status=TrackingStatus.TRACKING, readings=arr, smoothed=arr)


def _baseline():
    return baseline_for(synthetic_face())


def test_rep_scorer_target_quiet_and_coactivation():
    b = _baseline()
    rs = RepScorer("small_smile", 1, 2, "mouth_corner", ["eye", "brow"], Side.LEFT, b)
    for i in range(30):
        a = min(i, 15) / 15
        rs.add(_frame(i / 30, {("left", "mouth_corner"): 3 * a, ("right", "mouth_corner"): 2 * a,
                               ("left", "eye"): -1.6 * a}))
    rs.add(_frame(1.0, {}, scored=False, face=False))
    st = rs.result()
    assert st.target_mm == pytest.approx(3.0) and st.target_other_side_mm == pytest.approx(2.0)
    assert st.target_pct_of_other == pytest.approx(150.0)
    assert st.quiet_mm["eye"] == pytest.approx(1.6)
    excess = 1.6 - b.threshold("left", "eye")
    assert st.coactivation == pytest.approx(excess / (excess + 3.0))
    assert st.quiet_moved
    assert st.frames == 31 and st.frames_gated == 1 and st.face_share == pytest.approx(30 / 31)
    assert st.eye_ratio is not None and st.eye_ratio < 1.0
    assert 9 <= len(st.series) <= 11  # ~10 Hz over one second


def test_coactivation_edge_cases():
    b = _baseline()
    # quiet within its floor -> 0
    rs = RepScorer("small_smile", 0, 0, "mouth_corner", ["eye"], Side.LEFT, b)
    rs.add(_frame(0.0, {("left", "mouth_corner"): 2.0, ("left", "eye"): 0.3}))
    assert rs.result().coactivation == 0.0
    # target did not move, quiet did -> 1
    rs = RepScorer("small_smile", 0, 0, "mouth_corner", ["eye"], Side.LEFT, b)
    rs.add(_frame(0.0, {("left", "eye"): -2.0}))
    assert rs.result().coactivation == pytest.approx(1.0)
    # nothing moved -> None; no scored frame -> None and zeros
    rs = RepScorer("small_smile", 0, 0, "mouth_corner", ["eye"], Side.LEFT, b)
    rs.add(_frame(0.0, {}))
    assert rs.result().coactivation is None
    rs = RepScorer("small_smile", 0, 0, "mouth_corner", ["eye"], Side.LEFT, b)
    rs.add(_frame(0.0, {}, scored=False, face=False))
    st = rs.result()
    assert st.coactivation is None and st.target_mm == 0.0 and st.frames_gated == 1
    assert st.face_share == 0.0 and st.target_pct_of_other is None


def test_affected_side_is_anatomical():
    b = _baseline()
    fr = _frame(0.0, {("right", "eye"): -2.0})
    left = live_feedback(fr, "mouth_corner", ["eye"], Side.LEFT, b)
    right = live_feedback(fr, "mouth_corner", ["eye"], Side.RIGHT, b)
    assert not left.meters[1].warning and right.meters[1].warning


def test_live_feedback_meters_and_statuses():
    b = _baseline()
    calm = live_feedback(_frame(0, {("left", "mouth_corner"): 0.3}), "mouth_corner",
                         ["eye", "brow"], Side.LEFT, b)
    assert calm.status is TrackingStatus.TRACKING and [m.role for m in calm.meters] == ["target", "quiet",
                                                                           "quiet"]
    assert calm.meters[0].level == 0.0 and not any(m.warning for m in calm.meters)
    smile = live_feedback(_frame(0, {("left", "mouth_corner"): 1.5}), "mouth_corner", ["eye"],
                          Side.LEFT, b)
    assert smile.meters[0].level == pytest.approx(1.5 / 5.0 * 0.8)  # on the gentle scale
    gone = live_feedback(MetricFrame(t=0, face=False, scored=False, status=TrackingStatus.NO_FACE), "eye", [],
                         Side.LEFT, b)
    assert gone.status is TrackingStatus.NO_FACE and gone.message.startswith("Face not in view")
    cal = live_feedback(MetricFrame(t=0, face=True, scored=False, status=TrackingStatus.CALIBRATING), "eye", [],
                        Side.LEFT, None, "Keep your head still for a moment.")
    assert cal.status is TrackingStatus.CALIBRATING and "still" in cal.message


def _rep(quiet_mm, frames=30, gated=0):
    return RepStats(pattern_id="small_smile", pattern_index=0, rep=0, target_region="mouth_corner",
                    target_mm=2.0, target_other_side_mm=2.0, target_pct_of_other=100.0,
                    quiet_mm={"eye": quiet_mm}, quiet_floor_mm={"eye": 0.6}, coactivation=0.0,
                    face_share=1.0, frames=frames, frames_gated=gated)


def test_pattern_sentence():
    reps = [_rep(0.2), _rep(0.3), _rep(1.2), _rep(0.1), _rep(0.4), _rep(0.1, gated=30)]
    res = pattern_result(1, "small_smile", ["eye", "brow"], reps)
    assert res.sentence == "Your eye and brow stayed soft in 4 of 5 smiles."
    assert (res.reps_quiet, res.reps_scored) == (4, 5)
    one = pattern_result(0, "eye_closure", ["mouth_corner", "lips"], [_rep(0.1)])
    assert one.sentence == "Your mouth stayed soft in 1 of 1 eye closure."
    none = pattern_result(0, "pucker", ["eye"], [_rep(0.1, gated=30)])
    assert none.reps_scored == 0 and "could not follow" in none.sentence
