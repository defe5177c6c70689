"""Scripted sessions on a real face, both sides, through ``station replay`` (the real model).

Each rep of a six-rep small-smile session does one scripted thing (good, fast, big, the same-side
eye narrowing with the smile, not letting go, good with two-eyed blinks); the face follows the
session's own timeline. The replay (same engine, metrics and scoring as the kiosk, clock = the
video's timestamps) must flag exactly what was scripted and nothing else.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

from station.cli import main  # noqa: E402
from station.paths import model_path  # noqa: E402
from station.tracking.fakes import scripted as S  # noqa: E402
from station.tracking.model import copy_model  # noqa: E402

pytestmark = [pytest.mark.tracking, pytest.mark.slow]

SCRIPTS = {
    "left": ("good", "fast", "big", "eye", "tight", "blinks"),
    "right": ("blinks", "tight", "eye", "big", "fast", "good"),
}
EXPECTED = {  # slow, small, quiet, released
    "good": (True, True, True, True),
    "fast": (False, True, True, True),
    "big": (True, False, True, True),
    "eye": (True, True, False, True),
    "tight": (True, True, True, False),
    "blinks": (True, True, True, True),
}
RX = """schema = 1
[patient]
alias = "SCRIPTED-1"
affected_side = "left"

[[pattern]]
id = "small_smile"
reps = 6
gentle_max_mm = {gentle}
"""


@pytest.fixture(scope="module", params=["left", "right"])
def replayed(request, tmp_path_factory, model_file):
    side = request.param
    tmp = tmp_path_factory.mktemp(f"scripted-{side}")
    data = tmp / "data"
    copy_model(model_file, model_path(data))
    script = SCRIPTS[side]
    video = tmp / f"scripted-{side}.avi"
    phases = S.write_video(video, S.load_face(model_file, side), script)
    rx = tmp / "rx.toml"
    rx.write_text(RX.format(gentle=S.GENTLE_MAX_MM), encoding="utf-8")
    out = tmp / "replay.json"
    args = ["--data-dir", str(data), "replay", str(video), "--prescription", str(rx),
            "--json", str(out)]
    if side == "right":
        args += ["--side", "right"]  # overrides the prescription's side
    assert main(args) == 0
    return side, script, phases, json.loads(out.read_text())


def test_replay_follows_the_session_timeline(replayed):
    side, _script, phases, doc = replayed
    assert doc["source"].endswith(".avi") and doc["side"] == side and doc["completed"] is True
    got = [(p["phase"], p["pattern"], p["rep"]) for p in doc["phases"]]
    want = [(p.state.value, "small_smile" if p.pattern_index is not None else None, p.rep)
            for p in phases]
    assert got == want
    assert got[0] == ("settle", None, None) and ("intro", "small_smile", None) in got
    assert got[-1] == ("break", "small_smile", None)
    for p, q in zip(doc["phases"], phases, strict=True):
        assert p["start_s"] == pytest.approx(q.start, abs=1e-6)
        assert p["end_s"] == pytest.approx(q.end, abs=1e-6)


def test_each_rep_flags_exactly_what_was_scripted(replayed):
    side, script, _phases, doc = replayed
    reps = doc["reps"]
    assert [(r["pattern"], r["rep"]) for r in reps] == [("small_smile", i) for i in range(6)]
    for r, kind in zip(reps, script, strict=True):
        flags = (r["slow"], r["small"], r["quiet"], r["released"])
        assert r["scored"] is True
        assert flags == EXPECTED[kind], (side, kind, r)
        for key in ("target_peak_mm", "t80_share", "quiet_excess_mm", "residual_mm"):
            assert isinstance(r[key], float), (key, r)
        assert r["gentle_max_mm"] == S.GENTLE_MAX_MM
        if kind == "blinks":
            assert r["blinks"] >= 2  # seen, and not counted against the eye
        if kind == "fast":
            assert r["t80_share"] < 0.25
        if kind in ("good", "blinks", "eye", "tight"):
            assert 0.6 <= r["t80_share"] <= 1.1
    # the words name the first thing by priority (the eye joined in once), then the next one
    assert doc["sentences"] == ["Your eye and brow stayed soft in 5 of 6 smiles. Try moving even more slowly."]
