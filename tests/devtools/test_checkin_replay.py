"""``station checkin replay`` end to end on one small scripted check-in video (real landmarker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station.cli import main

pytestmark = pytest.mark.slow  # the fast lane (-m "not slow") leaves this module out


def test_checkin_replay_writes_the_contract_and_finds_the_weaker_side(
        tmp_path: Path, model_file: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from station.paths import model_path
    from station.practice.checkin import QUICK_TIMING
    from station.tracking.fakes.checkin_video import CheckinScript, calibrate, load_face, write_video
    from station.tracking.model import copy_model

    copy_model(model_file, model_path(data_dir))
    face = load_face("video", model_file, CheckinScript(side="right", ratio=0.6, smile_narrowing=0.2,
                                                         blink=True))
    refs = calibrate(face, model_file)
    video = tmp_path / "checkin.avi"
    write_video(video, face, QUICK_TIMING, fps=10.0)
    out = tmp_path / "out" / "checkin.json"
    assert main(["checkin", "replay", str(video), "--json", str(out), "--side", "right", "--quick"]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["source"] == "checkin.avi" and doc["side"] == "right" and doc["status"] == "complete"
    assert set(doc["rest"]) >= {"eye_fissure_mm", "brow_height_mm", "mouth_corner_height_mm"}
    names = [m["movement"] for m in doc["movements"]]
    assert names == ["brow_lift", "eye_closure", "open_smile", "snarl", "lip_pucker"]
    for m in doc["movements"]:
        assert set(m) >= {"movement", "tries", "affected_mm", "other_mm", "ratio", "comovement_mm",
                          "eye_narrowing_pct"}
        assert [t["accepted"] for t in m["tries"]] == [True, True, True]
        assert m["target"] not in m["comovement_mm"] and len(m["comovement_mm"]) == 5
    smile = doc["movements"][2]
    assert abs(smile["ratio"] - 0.6) <= 0.1, smile
    # the narrowing is the scripted 20 %, a blink in the second smile's hold notwithstanding
    assert abs(smile["eye_narrowing_pct"] - 20.0) <= 5.0, (smile, refs["open_smile"])
    assert "wrote" in capsys.readouterr().out
    # no grade anywhere in what the station writes
    text = out.read_text(encoding="utf-8").lower()
    assert not any(w in text for w in ("sunnybrook", "eface", "house-brackmann", "grade", "score"))


def test_checkin_replay_names_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    assert main(["checkin", "replay", str(tmp_path / "missing.mp4"), "--json", str(out)]) == 2
    assert "no video file" in capsys.readouterr().err and not out.exists()
