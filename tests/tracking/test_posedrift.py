"""Pose drift learned at rest: synthetic arrays, and the real face model re-tracking a real
face turned in 3-D (a mesh warp), where the landmarker does not keep the face rigid."""

from __future__ import annotations

import numpy as np
import pytest

from station.practice.events import State
from station.tracking.live import REST_PHASES
from station.tracking.metrics import FLOORS_MM
from station.tracking.posedrift import EXPRESSION_RAD, UNSEEN_MM_PER_RAD, PoseDrift, shrink

FLOORS = np.array(list(FLOORS_MM.values()))
THR = np.array([FLOORS, FLOORS])


def test_nothing_is_corrected_at_the_calibrated_pose_or_before_a_commit():
    d = PoseDrift()
    for _ in range(40):
        d.observe((0.08, 0.0), np.full((2, 6), 1.6), np.full((2, 2), 0.5), THR)
    assert np.all(d.correction((0.08, 0.0))[0] == 0.0)  # held back until the next movement
    d.commit()
    assert np.all(d.correction((0.0, 0.0))[0] == 0.0) and np.all(d.correction((0.0, 0.0))[1] == 0.0)
    assert d.correction((0.08, 0.0))[0] == pytest.approx(np.full((2, 6), 1.6), abs=0.05)
    half = d.correction((0.04, 0.0))[0]
    assert np.all((half > 0.2) & (half < 1.4))  # between none and all of it
    assert d.correction((0.3, 0.0))[0] == pytest.approx(np.full((2, 6), 1.6), abs=0.05)  # no extrapolation
    assert d.correction((0.08, 0.0))[1] == pytest.approx(np.full((2, 2), 0.5), abs=0.05)


def test_a_still_heads_jitter_teaches_nothing():
    # a patient who did not let go, with the pose jitter of a still head (+-0.003 rad)
    d = PoseDrift()
    rng = np.random.default_rng(3)
    for _ in range(300):
        d.observe(rng.normal(0.0, 0.003, 2), np.full((2, 6), 1.5), np.full((2, 2), 1.0), THR)
    d.commit()
    assert np.abs(d.correction((0.003, 0.003))[0]).max() < 0.1


def test_a_minority_of_rests_that_did_not_let_go_moves_it_little():
    d = PoseDrift()
    for i in range(200):
        tight = i % 5 == 0  # one rest in five kept 2 mm
        d.observe((0.1, 0.0), np.full((2, 6), 1.0 + (2.0 if tight else 0.0)), np.zeros((2, 2)), THR)
    d.commit()
    assert d.correction((0.1, 0.0))[0] == pytest.approx(np.full((2, 6), 1.0), abs=0.2)


def test_a_rest_that_did_not_let_go_is_discarded_not_learned():
    d = PoseDrift()
    for _ in range(30):
        d.observe((0.05, 0.0), np.zeros((2, 6)), np.array([[2.5, 0.0], [0.0, 0.0]]), THR)
    d.discard()  # its rep was judged not released
    d.commit()
    assert np.all(d.correction((0.05, 0.0))[1] == 0.0)


def test_a_blink_at_rest_does_not_teach_the_eye_and_brow():
    d = PoseDrift()
    blink = np.zeros((2, 6))
    blink[:, 0], blink[:, 1] = -5.0, -1.0
    for _ in range(50):
        d.observe((0.1, 0.0), blink, np.zeros((2, 2)), THR)
    d.commit()
    assert np.all(d.correction((0.1, 0.0))[0] == 0.0)


def test_a_sideways_shifted_corner_is_corrected_before_its_signed_length():
    # a turn shifts the corner 2 mm inwards; a slow smile (up and out) must then read
    # smoothly from 0, not flip from -x to +x when the shifted move crosses the diagonal
    from station.tracking.metrics import signed_length

    d = PoseDrift()
    for _ in range(40):
        d.observe((0.1, 0.0), np.zeros((2, 6)), np.array([[-2.0, 0.0], [-2.0, 0.0]]), THR)
    d.commit()
    shift = d.correction((0.1, 0.0))[1]
    smile = [np.array([[-2.0 + 0.6 * s, 0.8 * s]] * 2) for s in np.linspace(0.0, 3.0, 31)]
    read = np.array([signed_length(m - shift)[0] for m in smile])
    assert np.all(np.diff(read) > 0) and read[0] == pytest.approx(0.0, abs=0.1)
    assert np.abs(np.diff([signed_length(m)[0] for m in smile])).max() > 1.0  # uncorrected: a jump


def test_past_the_poses_learned_a_reading_is_discounted_by_what_the_turn_could_add():
    d = PoseDrift()
    assert np.all(d.slack((0.1, 0.1)) == 0.0)  # nothing learned (the check-in): nothing discounted
    for y in np.linspace(-0.02, 0.03, 20):
        d.observe((y, 0.01), np.zeros((2, 6)), np.zeros((2, 2)), THR)
    d.commit()
    assert np.all(d.slack((0.0, 0.0)) == 0.0) and np.all(d.slack((0.03, 0.01)) == 0.0)
    # at rest: 0.02 rad past in yaw and 0.01 in pitch, 0.03 rad past, at each region's own rate
    assert d.slack((0.05, -0.01))[1] == pytest.approx(0.03 * UNSEEN_MM_PER_RAD)
    assert d.slack((-0.04, 0.01))[0] == pytest.approx(0.02 * UNSEEN_MM_PER_RAD)
    # while the face moves, its own movement moves the registered pose: that much is not a turn
    assert np.all(d.slack((0.025 + EXPRESSION_RAD, 0.01), rest=False) == 0.0)
    assert d.slack((0.08, -0.01), rest=False)[1] == pytest.approx(
        (0.06 - EXPRESSION_RAD) * UNSEEN_MM_PER_RAD)


def test_a_discounted_reading_keeps_its_sign_and_never_crosses_zero():
    read = np.array([[1.5, -1.5, 0.3, -0.3, 0.0, 2.0]] * 2)
    out = shrink(read, np.full((2, 6), 0.5))
    assert out[0].tolist() == pytest.approx([1.0, -1.0, 0.0, 0.0, 0.0, 1.5])
    assert np.all(np.sign(out) * np.sign(read) >= 0)


def test_the_session_learns_only_in_its_rest_phases():
    assert {State.INTRO, State.REST, State.BREAK} <= REST_PHASES
    assert not {State.MOVE, State.HOLD, State.RELEASE, State.PAUSED} & REST_PHASES


# ---- real tracked numbers -------------------------------------------------------------------

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def turned(model_file, media):
    """The real face model on a real face: neutral, then turned 0.12 rad (mesh) at rest and
    with a small smile on the subject's left."""
    pytest.importorskip("mediapipe")
    from station.tracking.fakes.render3d import Head3D, Pose3
    from station.tracking.tracker import Landmarker

    rgb = cv2.cvtColor(cv2.imread(str(media("images/15-f13-anc-ph.jpg"))), cv2.COLOR_BGR2RGB)

    def track(img: np.ndarray) -> list[np.ndarray]:
        with Landmarker(model_file) as lmk:
            out = [lmk.detect(img, i / 10) for i in range(12)]
        return [s.landmarks.astype(np.float64) for s in out[-4:]]

    neutral = track(rgb)
    head = Head3D(rgb, neutral[-1])
    pose = Pose3(0.12, 0.0)
    return neutral, track(head.frame("left", 0.0, 0, 0, pose)), track(head.frame("left", 0.5, 0, 0, pose)), \
        track(head.frame("left", 0.5, 0, 0, Pose3()))


@pytest.mark.tracking
def test_a_held_turn_reads_within_every_floor_once_its_rest_is_learned(turned):
    from station.tracking.face import FaceSample
    from station.tracking.metrics import Metrics

    neutral, rest, smile, smile_front = turned
    m = Metrics()
    t = 0.0

    def feed(frames, n, rest_=False):
        nonlocal t
        out = []
        for i in range(n):
            out.append(m.update(FaceSample(t=t, landmarks=frames[i % len(frames)].astype(np.float32)),
                                rest=rest_))
            t += 0.1
        return out

    feed(neutral, 40)
    assert m.calibrated
    before = feed(rest, 3)[-1]
    assert before.scored and np.abs(before.readings).max() > FLOORS.min()  # the landmarker's drift
    feed(rest, 20, rest_=True)
    m.drift.commit()
    after = feed(rest, 3)[-1]
    assert after.scored and np.all(np.abs(after.readings) <= FLOORS), after.readings
    s = feed(smile, 3)[-1]
    front = Metrics()
    for i in range(40):
        front.update(FaceSample(t=i / 10, landmarks=neutral[i % 4].astype(np.float32)))
    f = front.update(FaceSample(t=4.0, landmarks=smile_front[-1].astype(np.float32)))
    # the quiet regions of a smile (eye, brow) stay within their floors, and the smile reads
    # about as it does on the frontal face
    assert np.all(np.abs(s.readings[0, :2]) <= FLOORS[:2]), s.readings
    assert s.readings[0, 2] == pytest.approx(f.readings[0, 2], abs=1.0)


@pytest.mark.tracking
def test_a_turn_past_every_rest_learned_reads_within_every_floor(turned):
    """The real face turned 0.12 rad after only frontal rests were learned: what the turn adds
    there is unknown, so each reading is discounted by what it could be, and none passes its
    floor (before, the landmarker's drift read past a floor there)."""
    from station.tracking.face import FaceSample
    from station.tracking.metrics import Metrics

    neutral, rest, _, _ = turned
    m = Metrics()
    for i in range(60):
        m.update(FaceSample(t=i / 10, landmarks=neutral[i % 4].astype(np.float32)), rest=i >= 40)
    assert m.calibrated
    m.drift.commit()  # frontal rests only
    frames = [m.update(FaceSample(t=6.0 + i / 10, landmarks=rest[i % 4].astype(np.float32)))
              for i in range(4)]
    assert all(f.scored for f in frames)
    assert np.all(m.drift.slack((0.12, 0.0)) > 0.0)
    for f in frames:
        assert np.all(np.abs(f.readings) <= FLOORS), f.readings
