"""Acceptance on real media: real FaceLandmarker (pinned model), real faces, warped ground truth.

One-sided movement is made in the test from real neutral faces (tests/warp.py). Ramps run in
VIDEO mode at 10 frames per second (a 0 -> max -> 0 movement over ~3 s, the slow pace the
patterns ask for): 36 neutral frames (settle + calibration), then up 12, hold 6, down 12.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

import warp as W  # noqa: E402

from station.devtools.track import found_mask, track_samples  # noqa: E402
from station.feedback import Side, TrackingStatus  # noqa: E402
from station.tracking.metrics import Metrics, region_index, side_index  # noqa: E402
from station.tracking.scoring import RepScorer, live_feedback  # noqa: E402
from station.tracking.tracker import Landmarker  # noqa: E402

pytestmark = [pytest.mark.tracking, pytest.mark.slow]

NEUTRAL_FRAMES = 36
FPS = 10.0
MOUTH_SHARE_OF_IOD = 0.08
EYE_FRACTION = 0.5


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def neutral_faces(media):
    """Real neutral faces: a posed-database face and the first frame of a face video."""
    cap = cv2.VideoCapture(str(media("video/single_face.mp4")))
    ok, first = cap.read()
    cap.release()
    assert ok
    return {"db_face": _rgb(media("images/15-f13-anc-ph.jpg")),
            "video_face": cv2.cvtColor(first, cv2.COLOR_BGR2RGB)}


def _detect_still(model, img, n=12):
    with Landmarker(model) as lm:
        for i in range(n):
            s = lm.detect(img, i / FPS)
    assert s.face
    return s.landmarks


def _run(model, frames):
    metrics = Metrics()
    out = []
    with Landmarker(model) as lm:
        for i, fr in enumerate(frames):
            out.append(metrics.update(lm.detect(fr, i / FPS)))
    assert metrics.calibrated
    return metrics.baseline, out


@pytest.fixture(scope="module")
def ramps(model_file, neutral_faces):
    """(face, kind, side) -> dict(baseline, frames, amount, commanded_px)."""
    res = {}
    amount = W.ramp(12, 5)
    for name, img in neutral_faces.items():
        L0 = _detect_still(model_file, img)
        iod = float(np.linalg.norm(L0[473, :2] - L0[468, :2]))
        n_px = MOUTH_SHARE_OF_IOD * iod
        for side in ("left", "right"):
            makers = {
                "mouth": lambda a, s=side, L0=L0, n_px=n_px: W.mouth_field(L0, s, a * n_px),
                "eye": lambda a, s=side, L0=L0, n_px=n_px: W.eye_field(L0, s, a * EYE_FRACTION),
                "both": lambda a, s=side, L0=L0, n_px=n_px: W.combine(
                    W.mouth_field(L0, s, a * n_px), W.eye_field(L0, s, a * EYE_FRACTION)),
            }
            for kind, make in makers.items():
                if kind == "both" and name != "db_face":
                    continue
                frames = [img] * NEUTRAL_FRAMES + [W.warp(img, make(a)) for a in amount]
                base, out = _run(model_file, frames)
                res[(name, kind, side)] = dict(baseline=base, frames=out[NEUTRAL_FRAMES:],
                                               amount=amount,
                                               commanded_px=amount * n_px * np.hypot(1, 0.5))
    return res


def _series(run, side, region, smoothed=False):
    return np.array([f.reading(side, region, smoothed=smoothed) for f in run["frames"]])


CASES = [(f, s) for f in ("db_face", "video_face") for s in Side]


@pytest.mark.parametrize("face,side", CASES)
def test_side_attribution_mouth_corner(ramps, face, side):
    run = ramps[(face, "mouth", side)]
    other = "right" if side == "left" else "left"
    commanded = run["commanded_px"] * run["baseline"].mm_per_px
    measured = _series(run, side, "mouth_corner")
    other_side = _series(run, other, "mouth_corner")
    assert np.corrcoef(commanded, measured)[0, 1] >= 0.95
    assert 0.7 <= measured.max() / commanded.max() <= 1.3
    assert np.abs(other_side).max() < measured.max() / 3


@pytest.mark.parametrize("face,side", CASES)
def test_side_attribution_eye_narrowing(ramps, face, side):
    run = ramps[(face, "eye", side)]
    other = "right" if side == "left" else "left"
    eye = _series(run, side, "eye")
    other_eye = _series(run, other, "eye")
    rise = eye[: 13 + 5]  # 0 -> max and the hold
    # falls steadily: follows the commanded closing while it rises
    assert np.corrcoef(run["amount"][: len(rise)], rise)[0, 1] <= -0.9
    assert -eye.min() >= 2 * max(-other_eye.min(), 0.0)
    assert eye.min() < -0.6  # a real narrowing, beyond the eye's floor


@pytest.mark.parametrize("face,side", CASES)
def test_specificity_mouth_only_keeps_eye_calm(ramps, face, side):
    run = ramps[(face, "mouth", side)]
    mouth = _series(run, side, "mouth_corner")
    eye = _series(run, side, "eye")
    assert np.abs(eye).max() <= 0.10 * mouth.max()
    for f in run["frames"]:
        fb = live_feedback(f, "mouth_corner", ["eye", "brow"], side, run["baseline"])
        assert fb.status is TrackingStatus.TRACKING
        assert not fb.meters[1].warning  # the eye's quiet meter stays calm


@pytest.mark.parametrize("face,side", CASES)
def test_specificity_eye_only_keeps_smile_target_calm(ramps, face, side):
    run = ramps[(face, "eye", side)]
    eye = _series(run, side, "eye")
    mouth = _series(run, side, "mouth_corner")
    assert np.abs(mouth).max() <= 0.35 * -eye.min()
    for f in run["frames"]:
        fb = live_feedback(f, "mouth_corner", ["eye", "brow"], side, run["baseline"])
        assert fb.meters[0].role == "target" and fb.meters[0].level < 0.05


@pytest.mark.parametrize("side", list(Side))
def test_quiet_region_that_moves_warns_and_counts(ramps, side):
    run = ramps[("db_face", "both", side)]
    warned = [live_feedback(f, "mouth_corner", ["eye", "brow"], side, run["baseline"]).meters[1]
              .warning for f in run["frames"]]
    assert any(warned)
    rs = RepScorer("small_smile", 0, 0, "mouth_corner", ["eye", "brow"], side, run["baseline"])
    for f in run["frames"]:
        rs.add(f)
    st = rs.result()
    assert st.quiet_moved and st.coactivation is not None and st.coactivation > 0
    assert st.eye_ratio is not None and st.eye_ratio < 1.0
    # the other side's rep is quiet
    rs = RepScorer("small_smile", 0, 0, "mouth_corner", ["eye"], side.other, run["baseline"])
    for f in run["frames"]:
        rs.add(f)
    assert not rs.result().quiet_moved


@pytest.mark.parametrize("face", ["db_face", "video_face"])
def test_still_face_spread_small_after_settling(model_file, neutral_faces, face):
    # Readings exist from calibration on (after the ~10 settling frames and 24 still ones).
    base, frames = _run(model_file, [neutral_faces[face]] * 70)
    vals = np.array([f.readings for f in frames if f.readings is not None])
    assert len(vals) >= 30
    spread = vals.max(axis=0) - vals.min(axis=0)
    assert spread.max() < 0.2, spread


def _video_samples(model, path):
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    out = []
    with Landmarker(model) as lm:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            out.append(lm.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), len(out) / fps))
    cap.release()
    return out, fps


@pytest.mark.parametrize("name", ["video/single_face.mp4", "video/WolfgangLanger_Pexels.mp4",
                                  "video/carphone_pristine.mp4"])
def test_face_found_in_face_videos(model_file, media, name):
    samples, _ = _video_samples(model_file, media(name))
    assert np.mean(found_mask(samples)) >= 0.99


def test_face_noface_false_positive_counts_nothing(model_file, media):
    samples, fps = _video_samples(model_file, media("video/face_noface.mov"))
    found = found_mask(samples)
    assert np.mean(found[:72]) >= 0.99
    assert not any(found[72:])  # frame 163 (a one-frame detection on a cartoon) is not a face
    metrics = Metrics()
    frames = [metrics.update(s) for s in samples]
    assert not any(f.face or f.scored for f in frames[72:])
    rs = RepScorer("small_smile", 0, 0, "mouth_corner", ["eye"], Side.LEFT, metrics.baseline)
    for f in frames[120:169]:
        rs.add(f)
    st = rs.result()
    assert st.frames_gated == st.frames and st.face_share == 0.0
    assert track_samples(samples, fps)["frames"][163]["readings"] is None


def test_no_rep_scored_without_a_face(model_file, media):
    samples, fps = _video_samples(model_file, media("video/no_face.mp4"))
    metrics = Metrics()
    rs = RepScorer("eye_closure", 0, 0, "eye", ["mouth_corner"], Side.LEFT, metrics.baseline)
    for s in samples:
        f = metrics.update(s)
        rs.add(f)
        fb = live_feedback(f, "eye", ["mouth_corner"], Side.LEFT, metrics.baseline)
        assert not fb.scoring and fb.status is TrackingStatus.NO_FACE
    st = rs.result()
    assert st.frames == len(samples) > 0 and st.frames_gated == st.frames
    assert st.coactivation is None and not metrics.calibrated


def _write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()


def test_track_command_writes_contract_json(model_file, media, neutral_faces, data_dir, tmp_path):
    """A real face at rest, then its subject's LEFT mouth corner smiling: contract + sides."""
    from station.cli import main
    from station.paths import model_path
    from station.tracking.model import MODEL_SHA256, copy_model

    copy_model(model_file, model_path(data_dir))
    img = neutral_faces["db_face"]
    L0 = _detect_still(model_file, img)
    n_px = MOUTH_SHARE_OF_IOD * float(np.linalg.norm(L0[473, :2] - L0[468, :2]))
    amount = W.ramp(12, 6)
    frames = [img] * NEUTRAL_FRAMES + [W.warp(img, W.mouth_field(L0, "left", a * n_px)) for a in amount]
    video = tmp_path / "clip.avi"
    _write_video(video, frames, FPS)
    out = tmp_path / "out.json"
    assert main(["track", str(video), "--json", str(out), "--side", "left"]) == 0
    doc = json.loads(out.read_text())
    assert doc["source"] == "clip.avi" and doc["fps"] == pytest.approx(FPS)
    assert doc["model_sha256"] == MODEL_SHA256
    assert len(doc["frames"]) == len(frames)
    peak = NEUTRAL_FRAMES + int(np.argmax(amount))
    r = doc["frames"][peak]["readings"]
    assert r["left"]["mouth_corner"] > 1.0 and r["left"]["mouth_corner"] > 3 * abs(r["right"]["mouth_corner"])
    regions = {"eye", "brow", "mouth_corner", "lips", "nose_cheek", "chin"}
    with_readings = 0
    for i, f in enumerate(doc["frames"]):
        assert f["i"] == i and isinstance(f["t_ms"], float)
        assert isinstance(f["face"], bool) and isinstance(f["scored"], bool)
        assert set(f["pose"]) == {"yaw", "pitch", "roll"}
        assert all(isinstance(v, float) for v in f["pose"].values())
        if f["readings"] is None:
            assert not f["scored"]
            continue
        with_readings += 1
        assert set(f["readings"]) == {"left", "right"}
        for side in ("left", "right"):
            assert set(f["readings"][side]) == regions
            assert all(isinstance(v, float) for v in f["readings"][side].values())
    assert with_readings == len(frames)  # baseline found; readings for every frame (second pass)
    assert main(["track", str(tmp_path / "missing.mp4"), "--json", str(out)]) == 2
    # A clip with no resting stretch (a man talking into a smile) gets no baseline and says so
    assert main(["track", str(media("video/single_face.mp4")), "--json", str(out)]) == 0
    assert all(f["readings"] is None for f in json.loads(out.read_text())["frames"])
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    assert main(["track", str(bad), "--json", str(out)]) == 2


def test_reading_indices_match_sides():
    assert side_index("left") != side_index("right")
    assert region_index("eye") == 0
