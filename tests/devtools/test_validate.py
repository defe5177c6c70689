"""``station validate``: the scripted validation set, its tables, and the 3-D head turns.

The fast part runs one face, one side, two frame rates and the unambiguous rep kinds (good,
fast, the eye narrowing with the smile) through the command itself and checks the tables and
the verdicts. The bigger set (all rep kinds and head motions on one face at a Pi's frame rate)
is marked slow; it checks the acceptance targets of the validation issue only when the core
recognises blinks on the raw signal (``station.tracking.blinks``), since today's rules are
known to miss them (that is what the set is for).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

from station.devtools.validate import Case, format_tables, plan_cases, tables  # noqa: E402
from station.practice.events import State  # noqa: E402
from station.tracking.fakes import variants as V  # noqa: E402
from station.tracking.fakes.scripted import Phase  # noqa: E402


def test_every_rep_kind_writes_down_its_verdict():
    assert set(V.MOTION_KINDS) <= set(V.REP_KINDS)
    for name, kind in V.REP_KINDS.items():
        assert len(kind.expected) == 4, name
        if name.startswith("blink"):
            assert kind.expected == (True, True, True, True)
    for name in V.NARROW_KINDS:
        assert V.REP_KINDS[name].expected[2] is False  # not quiet


def test_a_lagging_lid_closes_later_and_reopens_later():
    hold = {State.HOLD: Phase(State.HOLD, 0, 0, 10.0, 13.0)}
    kind = V.REP_KINDS["blink_lag"]
    start = 10.0 + 0.4 * 3.0
    ts = np.arange(start - 0.1, start + 0.7, 0.005)
    lids = np.array([V.eyes_at(kind, hold, float(t)) for t in ts])
    moving = lids > 0
    first = [ts[np.argmax(moving[:, i])] for i in range(2)]
    last = [ts[len(ts) - 1 - np.argmax(moving[::-1, i])] for i in range(2)]
    assert first[0] - first[1] == pytest.approx(V.LAG_CLOSE_S, abs=0.01)
    assert last[0] - last[1] == pytest.approx(V.LAG_OPEN_S, abs=0.01)
    assert lids.max() == pytest.approx(V.BLINK_DEPTH)


def test_narrowings_stay_at_depth_for_their_named_time():
    hold = {State.HOLD: Phase(State.HOLD, 0, 0, 0.0, 3.0)}
    for name, held in (("narrow_short", 0.3), ("narrow_blink", 1.0), ("squeeze", 1.5)):
        ts = np.arange(0.0, 3.0, 0.002)
        aff = np.array([V.eyes_at(V.REP_KINDS[name], hold, float(t))[0] for t in ts])
        at_depth = aff >= aff.max() - 1e-9
        assert 0.002 * at_depth.sum() == pytest.approx(held, abs=0.01), name
    # the other eye blinks inside the one-sided narrowing
    ts = np.arange(0.0, 3.0, 0.002)
    both = np.array([V.eyes_at(V.REP_KINDS["narrow_blink"], hold, float(t)) for t in ts])
    inside = (both[:, 0] > 0) & (both[:, 1] > 0)
    assert inside.any() and np.all(both[both[:, 1] > 0, 0] > 0)


def test_head_motion_starts_after_calibration_and_holds():
    assert V.head_pose("yaw_0.05", V.TURN_START_S - 0.1) == V.Pose3()
    assert V.head_pose("yaw_0.05", 60.0).yaw == pytest.approx(0.05)
    assert V.head_pose("pitch_0.1", 60.0).pitch == pytest.approx(0.1)
    sway = [V.head_pose("sway", t) for t in np.arange(5.0, 40.0, 0.5)]
    assert max(abs(p.yaw) for p in sway) == pytest.approx(0.05, abs=0.002)
    assert max(abs(p.pitch) for p in sway) <= 0.03 + 1e-9


def test_plan_cases_limits_the_set():
    cases = plan_cases(["f13"], ["left"], [10.0], kinds=["good", "blink2"], motions=["still", "yaw_0.03"])
    assert cases == [Case("f13", "left", 10.0, "still", ("good", "blink2")),
                     Case("f13", "left", 10.0, "yaw_0.03", ("good",))]
    full = plan_cases(["a", "b"], ["left", "right"], [5.0, 30.0])
    assert all(len(c.reps) <= 8 for c in full)
    assert {k for c in full for k in c.reps} == set(V.REP_KINDS)
    from station.errors import UsageError

    with pytest.raises(UsageError, match="wink"):
        plan_cases(["a"], ["left"], [10.0], kinds=["wink"])


def test_tables_count_a_failed_quality_as_positive_and_none_apart():
    def rep(kind, got):
        return {"kind": kind, "rep": 0, "expected": dict(zip(V.FLAGS, V.REP_KINDS[kind].expected, strict=True)),
                "got": dict(zip(V.FLAGS, got, strict=True))}

    results = [{"face": "f", "side": "left", "fps": 7.0, "motion": "still",
                "reps": [rep("good", (True, True, True, True)), rep("eye", (True, True, False, True)),
                         rep("blink1", (True, True, False, True)), rep("narrow_short", (True, True, True, None))]}]
    t = tables(results)
    q = t["confusion"]["quiet"]["7"]
    assert q == {"tp": 1, "fn": 1, "fp": 1, "tn": 1, "none": 0}
    assert t["confusion"]["released"]["7"]["none"] == 1
    assert t["by_kind"]["good"]["7"]["share"] == 1.0 and t["by_kind"]["blink1"]["7"]["share"] == 0.0
    assert t["by_motion"]["still"]["7"]["all_right"] == 2
    text = format_tables(t)
    assert "quiet (positive = not quiet)" in text and "blink1" in text


def test_bad_options_are_usage_errors_and_a_cut_short_run_still_gives_tables(tmp_path, capsys):
    from station.cli import main

    assert main(["--data-dir", str(tmp_path), "validate", "--out", str(tmp_path), "--fps", "ten"]) == 2
    assert main(["--data-dir", str(tmp_path), "validate", "--out", str(tmp_path), "--fps", "0.5"]) == 2
    assert main(["--data-dir", str(tmp_path), "validate", "--out", str(tmp_path), "--sides", "up"]) == 2
    assert main(["--data-dir", str(tmp_path), "validate", "--out", str(tmp_path), "--from-log"]) == 2
    rep = {"kind": "squeeze", "rep": 0, "expected": dict(zip(V.FLAGS, V.REP_KINDS["squeeze"].expected, strict=True)),
           "got": {"slow": True, "small": True, "quiet": False, "released": True}}
    session = {"face": "f13", "side": "right", "fps": 5.0, "motion": "sway", "reps": [rep]}
    (tmp_path / "sessions-f13.jsonl").write_text(json.dumps(session) + "\n")
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path), "validate", "--out", str(tmp_path), "--from-log"]) == 0
    doc = json.loads((tmp_path / "validation.json").read_text())
    assert doc["partial"] is True and doc["tables"]["confusion"]["quiet"]["5"]["tp"] == 1
    assert "sway" in (tmp_path / "validation.txt").read_text() and "1 logged sessions" in capsys.readouterr().out


# -- on the real face model ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, model_file):
    from station.paths import model_path
    from station.tracking.model import copy_model

    data = tmp_path_factory.mktemp("validate-data")
    copy_model(model_file, model_path(data))
    return data


@pytest.mark.slow
@pytest.mark.tracking
def test_a_rendered_head_turn_is_a_3d_turn_the_tracker_measures(model_file):
    from station.tracking.fakes.render3d import FACES, load_head
    from station.tracking.tracker import Landmarker

    head = load_head(model_file, FACES[0])
    assert 0.3 <= head.gain.yaw <= 1.5 and 0.3 <= head.gain.pitch <= 1.5
    turned = V.Pose3(0.05, 0.0)
    img = head.frame("left", 0.0, 0.0, 0.0, turned)
    with Landmarker(model_file) as lmk:
        for i in range(12):
            s0 = lmk.detect(head.image, i * 0.1)
    with Landmarker(model_file) as lmk:
        for i in range(12):
            s1 = lmk.detect(img, i * 0.1)
    assert s0.pose is not None and s1.pose is not None
    assert abs(s1.pose.yaw - s0.pose.yaw) == pytest.approx(0.05, abs=0.015)
    assert abs(s1.pose.pitch - s0.pose.pitch) < 0.02
    # the nose tip moves further sideways than the face's outline: a turn, not a shift
    gt = head.turned_points(V.Pose3(turned.yaw / head.gain.yaw, 0.0))
    shift = gt[:, 0] - head.L0[:, 0]
    assert abs(shift[4]) > 1.5 * abs(shift[234]) or abs(shift[4]) > 1.5 * abs(shift[454])
    assert np.abs(s1.landmarks[:, :2] - gt).mean() < 1.5  # the detector follows the mesh


@pytest.mark.slow
@pytest.mark.tracking
def test_station_validate_writes_tables_and_gets_the_unambiguous_kinds_right(data_dir, tmp_path):
    from station.cli import main

    out = tmp_path / "out"
    assert main(["--data-dir", str(data_dir), "validate", "--out", str(out), "--faces", "1",
                 "--sides", "left", "--fps", "7,15", "--kinds", "good,fast,eye",
                 "--motions", "still", "--no-videos"]) == 0
    doc = json.loads((out / "validation.json").read_text())
    text = (out / "validation.txt").read_text()
    for flag in V.FLAGS:
        assert f"{flag} (positive = not {flag})" in text
        for fps in ("7", "15"):
            cells = doc["tables"]["confusion"][flag][fps]
            assert sum(cells.values()) == 3
    assert len(doc["sessions"]) == 2
    for case in doc["sessions"]:
        assert case["completed"] and case["timeline_ok"], case
        for r in case["reps"]:
            assert r["got"] == r["expected"], (case["fps"], r)
    for kind in ("good", "fast", "eye"):
        for fps in ("7", "15"):
            assert doc["tables"]["by_kind"][kind][fps]["share"] == 1.0


def _core_recognises_blinks() -> bool:
    try:
        import station.tracking.blinks  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.tracking
@pytest.mark.slow
def test_the_bigger_set_on_one_face_at_a_pi_frame_rate(data_dir, tmp_path):
    """Every rep kind still, and turns and nods, at 7 fps on one face, the affected side right."""
    from station.cli import main

    out = tmp_path / "out"
    assert main(["--data-dir", str(data_dir), "validate", "--out", str(out), "--faces", "1",
                 "--sides", "right", "--fps", "7", "--motions", "still,yaw_0.05,pitch_0.05",
                 "--no-videos"]) == 0
    doc = json.loads((out / "validation.json").read_text())
    kinds = doc["tables"]["by_kind"]
    assert set(kinds) == set(V.REP_KINDS)
    assert set(doc["tables"]["by_motion"]) == {"still", "yaw_0.05", "pitch_0.05"}
    still = [r for sess in doc["sessions"] if sess["motion"] == "still" for r in sess["reps"]]
    for kind in ("good", "fast", "eye"):  # right on a still face before and after the new core
        reps = [r for r in still if r["kind"] == kind]
        assert reps and all(r["got"] == r["expected"] for r in reps), (kind, reps)
    if not _core_recognises_blinks():
        return  # the targets below need the core's blink rule
    # Turned and nodded sessions (0.05 rad after calibration, within the turn gate): the pose
    # drift learned at rest gives verdicts, and most are right; the target is named.
    by_motion = doc["tables"]["by_motion"]
    for motion in ("yaw_0.05", "pitch_0.05"):
        assert by_motion[motion]["7"]["share"] >= 0.6, (motion, by_motion[motion]["7"])
    missed = [f"{kind} quiet {kinds[kind]['7']['quiet_right']}/{kinds[kind]['7']['n']}"
              for kind in (*V.BLINK_KINDS, *V.NARROW_KINDS)
              if kinds[kind]["7"]["quiet_right"] != kinds[kind]["7"]["n"]]
    missed += [f"{motion} all four right {by_motion[motion]['7']['share']:.2f}"
               for motion in ("yaw_0.05", "pitch_0.05") if by_motion[motion]["7"]["share"] < 0.95]
    assert not missed, missed


def _one_session(data_dir, tmp_path, face: str, side: str, motion: str, *more: str) -> dict:
    """Run `station validate` on one face, side and motion at 5 fps; its one session."""
    from station.cli import main

    out = tmp_path / "out"
    assert main(["--data-dir", str(data_dir), "validate", "--out", str(out), "--faces", face,
                 "--sides", side, "--fps", "5", "--motions", motion, *more, "--no-videos"]) == 0
    (session,) = json.loads((out / "validation.json").read_text())["sessions"]
    return session


@pytest.mark.tracking
@pytest.mark.slow
def test_a_swaying_head_is_told_the_truth_from_its_first_rep(data_dir, tmp_path):
    """A slow sway (+-0.05 rad turn, +-0.03 rad nod) for the whole session at 5 fps, on the face
    and side where the first reps came at poses no rest had reached: before the drift's slack,
    the good first rep read its brow 0.81 mm ("not quiet") and the eye rep's rest 0.87 mm of
    mouth corner ("not released"). Faults are still caught: the eye rep is not quiet, the tight
    rep not released."""
    session = _one_session(data_dir, tmp_path, "portrait", "right", "sway")
    assert session["completed"] and session["timeline_ok"], session
    kinds = {r["kind"] for r in session["reps"]}
    assert {"good", "eye", "tight"} <= kinds, kinds
    for r in session["reps"]:
        assert r["got"] == r["expected"], r


@pytest.mark.tracking
@pytest.mark.slow
def test_a_big_smile_on_a_still_head_is_not_excused_as_a_turn(data_dir, tmp_path):
    """The smile itself moves the registered pose a little (0.016 rad past the rests here):
    counted as a turn, the drift's slack took 0.36 mm off a big smile held at 4.26 mm and the
    4 mm gentle range called it small. While the face moves, that little is not a turn."""
    session = _one_session(data_dir, tmp_path, "door", "left", "still", "--kinds", "good,big")
    assert [r["kind"] for r in session["reps"]] == ["good", "big"]
    for r in session["reps"]:
        assert r["got"] == r["expected"], r
    assert session["reps"][1]["got"]["small"] is False
