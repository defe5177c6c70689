"""The verdict rules on real tracked numbers: the real face model on real face media, once.

* real blinks (the landmarker's own eye-blink blendshapes, both above 0.5, as the reference)
  are recognised on the raw eye readings at 30, 15, 10 and 7 fps (video timestamps);
* a real blink (its eye and brow readings) inside a hand-made rep is quiet, a real one-sided
  eye narrowing (the warped ramp video) is not, at 5 to 30 fps;
* real landmarks turned and nodded in 3-D within the gate read within each region's floor, and
  a rep whose head turns within it holds all four qualities; past the gate frames are not scored
  and the patient reads "Turn back towards the screen."
"""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

import warp as W  # noqa: E402
from test_blinks import BROW, EYE, OFFSETS, RATES, Rep  # noqa: E402

from station.feedback import Side, TrackingStatus  # noqa: E402
from station.practice import words  # noqa: E402
from station.practice.events import State  # noqa: E402
from station.tracking import blinks as B  # noqa: E402
from station.tracking import landmarks as lm  # noqa: E402
from station.tracking.face import FaceSample, Pose  # noqa: E402
from station.tracking.metrics import (  # noqa: E402
    FLOORS_MM,
    MAX_TURN_RAD,
    Metrics,
    make_baseline,
    measure,
)
from station.tracking.scoring import RepScorer, spec_for  # noqa: E402
from station.tracking.tracker import Landmarker  # noqa: E402

pytestmark = [pytest.mark.tracking, pytest.mark.slow]
FLOORS = np.array(list(FLOORS_MM.values()))


def _frames(path, limit=None):
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    out = []
    while limit is None or len(out) < limit:
        ok, f = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    return fps, out


def _track(model, frames, times, blendshapes=False):
    with Landmarker(model, blendshapes=blendshapes) as lmk:
        return [lmk.detect(f, t) for f, t in zip(frames, times, strict=True)]


@pytest.fixture(scope="module")
def videos(model_file, media):
    """name -> {rate: (t, raw eye readings (n, 2), thresholds)}, plus the reference closures."""
    out = {}
    for name in ("single_face", "carphone_pristine"):
        fps, frames = _frames(media(f"video/{name}.mp4"))
        full = _track(model_file, frames, [i / fps for i in range(len(frames))], blendshapes=True)
        blink = np.array([[s.blendshapes.get("eyeBlinkLeft", 0.0), s.blendshapes.get("eyeBlinkRight", 0.0)]
                          for s in full])
        closed = (blink > 0.5).all(axis=1)
        refs = [(a / fps, (b + 1) / fps) for a, b in B._runs(closed)]
        # neutral: the frames whose eyes are most open (the median of them)
        calm = np.argsort(blink.max(axis=1))[:24]
        base = make_baseline([full[i].landmarks for i in calm], [Pose()] * len(calm))
        rates = {}
        for rate in (30.0, 15.0, 10.0, 7.0):
            idx = np.unique(np.round(np.arange(0, len(frames), max(1.0, fps / rate))).astype(int))
            idx = idx[idx < len(frames)]
            samples = full if rate >= fps - 1 else _track(model_file, [frames[i] for i in idx],
                                                          [i / fps for i in idx])
            t = np.array([s.t for s in samples])
            raw = np.array([measure(s.landmarks, base)[0] for s in samples])
            rates[rate] = (t, raw)
        out[name] = dict(refs=refs, rates=rates, thr=base.thresholds[:, 0])
    return out


@pytest.mark.parametrize("name,rates", [("single_face", (30.0, 15.0, 10.0, 7.0)),
                                        ("carphone_pristine", (30.0, 15.0, 10.0))])
def test_real_blinks_are_recognised_on_the_raw_readings(videos, name, rates):
    v = videos[name]
    assert v["refs"], "the reference blink is in the video"
    for rate in rates:
        t, raw = v["rates"][rate]
        for affected in (None, 0, 1):
            found = B.detect_blinks(t, raw[:, :, EYE], v["thr"], affected)
            for a, b in v["refs"]:
                assert any(k.start - B.BLINK_MARGIN_S <= b and k.end + B.BLINK_MARGIN_S >= a
                           for k in found), (name, rate, affected, (a, b), found)
            assert all(k.end - k.start <= 0.6 for k in found)


def _splice(rep: Rep, t_src: np.ndarray, src: np.ndarray, at: float, cols: tuple[int, ...]) -> Rep:
    """Put real readings (their time from 0) into the rep from ``at`` on, nearest in time."""
    span = t_src[-1] - t_src[0]
    sel = (rep.t >= at) & (rep.t <= at + span)
    k = np.abs((rep.t[sel] - at + t_src[0])[:, None] - t_src[None, :]).argmin(axis=1)
    for c in cols:
        rep.raw[sel, :, c] = src[k, :, c]
    return rep


def test_a_real_blink_in_a_rep_is_quiet_at_every_rate(videos):
    t, raw = videos["single_face"]["rates"][30.0]
    a, b = videos["single_face"]["refs"][0]
    win = (t >= a - 0.3) & (t <= b + 0.3)
    src_t, src = t[win], raw[win]
    # The clip's face is starting a broad smile (both eyes narrow 1.6 mm with it): take the
    # blink's own movement, measured from the level before it to the level after it.
    f = (src_t - src_t[0]) / (src_t[-1] - src_t[0])
    start, end = np.median(src[:3], axis=0), np.median(src[-3:], axis=0)
    src = src - (start[None] * (1 - f)[:, None, None] + end[None] * f[:, None, None])
    assert np.abs(src[:, :, EYE]).max() > 3.0  # a real, deep closure
    quiet = set()
    for fps in RATES:
        for off in OFFSETS:
            rep = _splice(Rep(fps, off), src_t, src, 5.0, (EYE, BROW))
            quiet.add(rep.judge().quiet)
    assert quiet == {True}


@pytest.fixture(scope="module")
def face(media):
    """A real neutral face (a posed-database photo)."""
    return cv2.cvtColor(cv2.imread(str(media("images/15-f13-anc-ph.jpg"))), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def ramp(model_file, face):
    """Raw eye readings of a real one-sided narrowing: the subject's left lid closes to 50 %
    over 0.4 s, holds 0.6 s and opens over 0.4 s (the face warped, then tracked at 10 fps)."""
    L0 = _track(model_file, [face] * 12, [i / 10 for i in range(12)])[-1].landmarks
    amount = W.ramp(4, 6)
    seq = [face] * 30 + [W.warp(face, W.eye_field(L0, "left", a * 0.5)) for a in amount]
    samples = _track(model_file, seq, [i / 10 for i in range(len(seq))])
    base = make_baseline([s.landmarks for s in samples[12:30]], [Pose()] * 18)
    raw = np.array([measure(s.landmarks, base)[0] for s in samples[30:]])
    return np.arange(len(amount)) / 10.0, raw


def test_a_real_one_sided_narrowing_counts_at_every_rate(ramp):
    t, raw = ramp
    assert raw[:, 0, EYE].min() < -1.0 and np.abs(raw[:, 1, EYE]).max() < 0.6  # left only
    for fps in RATES:
        for off in OFFSETS:
            rep = _splice(Rep(fps, off), t, raw, 4.5, (EYE,))
            assert rep.judge().quiet is False
            # a two-eyed blink in the middle of it does not hide it
            assert _splice(Rep(fps, off), t, raw, 4.5, (EYE,)).blink(5.6, 0.2).judge().quiet is False


# ---- head turns in 3-D ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def neutral_px(model_file, face):
    s = _track(model_file, [face] * 12, [i / 10 for i in range(12)])[-1]
    assert s.face
    return s.landmarks.astype(np.float64)


def _turn(p: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """Rotate real landmarks (x, y, z pixels; z on x's scale) about a head centre ~100 mm behind
    the eyes and project as the landmarker reports them (weak perspective)."""
    mm = 63.0 / float(np.linalg.norm(p[473, :2] - p[468, :2]))
    centre = p[[468, 473]].mean(axis=0) + np.array([0.0, 0.0, 100.0 / mm])
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rot = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return (p - centre) @ rot.T + centre


TURNS = [(0.03, 0.0), (-0.05, 0.0), (0.0, 0.03), (0.0, -0.05), (0.04, 0.04), (0.055, 0.0)]


@pytest.mark.parametrize("yaw,pitch", TURNS)
def test_a_turn_within_the_gate_reads_within_every_floor(neutral_px, yaw, pitch):
    base = make_baseline([neutral_px] * 24, [Pose()] * 24)
    vals, rms, _scale = measure(_turn(neutral_px, yaw, pitch), base)
    assert np.all(np.abs(vals) <= FLOORS[None, :] * 0.5), vals
    # the same turn with the depth thrown away (the old 2-D fit) does not
    flat = np.c_[neutral_px[:, :2], np.zeros(len(neutral_px))]
    base2 = make_baseline([flat] * 24, [Pose()] * 24)
    turned = _turn(neutral_px, yaw, pitch)
    vals2, _, _ = measure(np.c_[turned[:, :2], np.zeros(len(turned))], base2)
    assert np.abs(vals2).max() > np.abs(vals).max() + 0.3


def test_a_rep_with_a_turn_and_a_nod_within_the_gate_holds_all_four(neutral_px):
    """Calibrate, then a slow small smile while the head turns 0.05 rad and nods 0.03 rad."""
    metrics = Metrics()
    fps = 10.0
    px = 1.0 / make_baseline([neutral_px] * 24, [Pose()] * 24).mm_per_px
    t = 0.0
    for _ in range(40):
        metrics.update(FaceSample(t=t, landmarks=neutral_px.astype(np.float32), pose=None))
        t += 1 / fps
    assert metrics.calibrated
    scorer = RepScorer("small_smile", 0, 0, "mouth_corner", ["eye", "brow"], Side.LEFT,
                       metrics.baseline, spec=spec_for("small_smile", "mouth_corner", ["eye", "brow"]))
    corner = lm.MOUTH_CORNER["left"]
    for phase, dur in ((State.MOVE, 4.0), (State.HOLD, 3.0), (State.RELEASE, 4.0), (State.REST, 2.0)):
        for _ in range(int(dur * fps)):
            k = t - 4.0
            smile = 3.0 * float(np.clip(min(k / 4.0, 1.0 - (k - 7.0) / 4.0), 0.0, 1.0))  # mm
            p = neutral_px.copy()
            p[corner, 0] += smile * 0.6 * px  # out (image right is the subject's left)
            p[corner, 1] -= smile * 0.8 * px  # up
            turn = min(k / 6.0, 1.0)
            scorer.add(metrics.update(FaceSample(t=t, landmarks=_turn(p, 0.05 * turn, 0.03 * turn)
                                                 .astype(np.float32))), phase)
            t += 1 / fps
    stats = scorer.result()
    assert (stats.slow, stats.small, stats.quiet, stats.released) == (True, True, True, True), stats
    assert stats.frames_gated == 0 and stats.target_mm == pytest.approx(3.0, abs=0.3)


@pytest.mark.parametrize("yaw,pitch", [(0.18, 0.0), (-0.2, 0.0), (0.0, 0.2), (0.0, -0.17)])
def test_past_the_gate_frames_are_not_scored_and_the_patient_is_told(neutral_px, yaw, pitch):
    assert MAX_TURN_RAD < max(abs(yaw), abs(pitch))
    metrics = Metrics()
    for i in range(40):
        metrics.update(FaceSample(t=i / 10, landmarks=neutral_px.astype(np.float32)))
    f = metrics.update(FaceSample(t=4.0, landmarks=_turn(neutral_px, yaw, pitch).astype(np.float32)))
    assert f.status is TrackingStatus.TURNED and not f.scored and f.reason == "turned"
    assert f.message == words.TURN_BACK and f.turn_rad == pytest.approx(max(abs(yaw), abs(pitch)),
                                                                        abs=0.01)
    back = metrics.update(FaceSample(t=4.1, landmarks=neutral_px.astype(np.float32)))
    assert back.scored and back.status is TrackingStatus.TRACKING
