"""End to end: kiosk loop + real FaceLandmarker + metrics + real SQLite store, fake clock.

A real neutral face (first frame of single_face.mp4) is the patient. During the small-smile
pattern the subject's LEFT mouth corner is warped up and out (tests/warp.py), nothing else
moves. The affected side is "left". Expected: calibration in settle, every rep scored and
committed, the smile reps' target moved while eye and brow stayed quiet, and the summary
sentence says so. A second run on the RIGHT side as affected shows the smile as small.
The camera then fails mid-session: the kiosk says so in plain words, keeps guiding by time,
and tracking comes back by itself.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from station.feedback import Side, TrackingStatus

cv2 = pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

import warp as W  # noqa: E402

from station.config import Settings  # noqa: E402
from station.kiosk.app import Station  # noqa: E402
from station.kiosk.button import ScriptedButton  # noqa: E402
from station.kiosk.services import Services  # noqa: E402
from station.paths import database_path  # noqa: E402
from station.practice import words  # noqa: E402
from station.practice.events import RepDone, SessionFinished, SessionStatus, State  # noqa: E402
from station.practice.plan import make_plan  # noqa: E402
from station.records.recorder import SessionRecorder  # noqa: E402
from station.tracking.camera import CameraError, Frame  # noqa: E402
from station.tracking.live import LiveTracking  # noqa: E402
from station.tracking.metrics import Metrics  # noqa: E402
from station.tracking.tracker import Landmarker, TrackerThread  # noqa: E402

pytestmark = [pytest.mark.tracking, pytest.mark.slow]
DT = 0.1  # 10 frames a second of station time


class Patient:
    """A frame source showing a real face whose left mouth corner smiles on demand."""

    def __init__(self, neutral: np.ndarray, smiling: np.ndarray, clock) -> None:
        self.neutral, self.smiling, self.clock = neutral, smiling, clock
        self.smile = False
        self.broken = False
        self.index = 0

    def read(self) -> Frame | None:
        if self.broken:
            raise CameraError("The camera stopped sending pictures.")
        self.index += 1
        img = self.smiling if self.smile else self.neutral
        return Frame(rgb=img, t=self.clock(), index=self.index)

    def close(self) -> None:
        pass


class SteppedTracker:
    """The real TrackerThread, stepped by the test instead of its own threads."""

    def __init__(self, tracker: TrackerThread) -> None:
        self.tracker = tracker

    def start(self) -> None:
        pass

    def latest(self):  # noqa: ANN201
        return self.tracker.latest()

    def set_idle(self, idle: bool) -> None:
        self.tracker.set_idle(idle)

    def stop(self) -> None:
        self.tracker.stop()


@pytest.fixture(scope="module")
def faces(media, model_file):
    cap = cv2.VideoCapture(str(media("video/single_face.mp4")))
    ok, first = cap.read()
    cap.release()
    assert ok
    neutral = np.ascontiguousarray(cv2.cvtColor(first, cv2.COLOR_BGR2RGB))
    with Landmarker(model_file) as lm:
        for i in range(12):
            s = lm.detect(neutral, i * DT)
    L0 = s.landmarks
    iod = float(np.linalg.norm(L0[473, :2] - L0[468, :2]))
    smiling = W.warp(neutral, W.mouth_field(L0, "left", 0.08 * iod))
    return neutral, np.ascontiguousarray(smiling)


def _station(tmp_path, clock, model_file, faces, side):
    neutral, smiling = faces
    plan = make_plan([("small_smile", 2, {})], source="test")
    patient = Patient(neutral, smiling, clock)
    tracker = TrackerThread(model_file, lambda: patient, clock=clock, capture_thread=False)
    recorder = SessionRecorder(tmp_path, plan, affected_side=side)
    live = LiveTracking(SteppedTracker(tracker), plan, side, Metrics())
    settings = Settings()
    button = ScriptedButton(settings.button.hold_time, clock)
    station = Station(settings, plan, Services(tracking=live, recorder=recorder), clock=clock, buttons=[button])
    button.press_for(clock() + DT, 0.2)  # the patient starts the session
    return station, tracker, patient, live


def _run_session(station, tracker, patient, clock, on_step=None):
    outs = station.step(clock())
    for _ in range(int(400 / DT)):
        clock.advance(DT)
        view = station.engine.view(clock())
        patient.smile = view.state in (State.MOVE, State.HOLD)
        if on_step is not None:
            on_step(station, clock())
        tracker.step()
        outs += station.step(clock())
        if station.engine.state is State.SUMMARY:
            break
    return outs


def test_smile_on_affected_side_scored_and_recorded(tmp_path, clock, model_file, faces):
    station, tracker, patient, live = _station(tmp_path, clock, model_file, faces, Side.LEFT)
    outs = _run_session(station, tracker, patient, clock)
    station.stop()
    assert any(isinstance(o, SessionFinished) and o.status is SessionStatus.COMPLETE for o in outs)
    assert station.engine.counters.calibrated  # settle ended on the tracker's calibration
    reps = live.rep_stats
    assert sum(isinstance(o, RepDone) for o in outs) == 2 and len(reps) == 2
    for r in reps:
        assert r.face_share == 1.0 and r.frames > 20
        assert r.target_mm > 2.0, r  # the warped corner moved ~4 mm
        assert not r.quiet_moved, r.quiet_mm  # eye and brow stayed within their floors
        assert r.coactivation == 0.0
        # this patient smiles all at once at the start of move (a step, not slow), gently,
        # and lets go fully: the flags say exactly that
        assert (r.slow, r.small, r.quiet, r.released) == (False, True, True, True), r
    assert station.results[0].sentence == \
        "Try moving even more slowly: the smile arrived before the guide. Nice and small."
    db = sqlite3.connect(database_path(tmp_path))
    flags = db.execute("SELECT slow, small, quiet, released FROM reps ORDER BY rep").fetchall()
    assert flags == [(0, 1, 1, 1)] * 2
    rows = db.execute("SELECT target_mm, coactivation FROM reps ORDER BY rep").fetchall()
    assert len(rows) == 2 and all(t > 2.0 and c == 0.0 for t, c in rows)
    assert db.execute("SELECT status FROM sessions").fetchone()[0] == "complete"


def test_other_side_affected_sees_no_smile(tmp_path, clock, model_file, faces):
    station, tracker, patient, live = _station(tmp_path, clock, model_file, faces, Side.RIGHT)
    _run_session(station, tracker, patient, clock)
    station.stop()
    left_target = [r.target_other_side_mm for r in live.rep_stats]
    right_target = [r.target_mm for r in live.rep_stats]
    assert min(left_target) > 3 * max(right_target)


def test_camera_fault_mid_session_keeps_guiding_and_recovers(tmp_path, clock, model_file, faces):
    station, tracker, patient, live = _station(tmp_path, clock, model_file, faces, Side.LEFT)
    seen = {"notice": False, "states_while_broken": set()}
    t_break = {}

    def fault(st, now):
        v = st.engine.view(now)
        if v.state is State.MOVE and v.rep == 0 and "at" not in t_break:
            t_break["at"] = now
            patient.broken = True
        if "at" in t_break and patient.broken:
            seen["states_while_broken"].add(st.engine.state)
            if any(n.text == words.CAMERA_MISSING for n in st.notices.values()):
                seen["notice"] = True
            if now - t_break["at"] > 12.0:
                patient.broken = False  # plugged back in

    outs = _run_session(station, tracker, patient, clock, on_step=fault)
    station.stop()
    assert seen["notice"], "the kiosk did not say the camera is not available"
    assert {State.MOVE, State.HOLD, State.RELEASE} <= seen["states_while_broken"]  # guided by time
    assert any(isinstance(o, SessionFinished) and o.status is SessionStatus.COMPLETE for o in outs)
    assert not any(n.text == words.CAMERA_MISSING for n in station.notices.values())
    assert tracker.latest().status is TrackingStatus.TRACKING
    assert live.rep_stats[-1].face_share == 1.0  # the last rep was tracked again


def test_camera_missing_at_start_guides_by_time_without_waiting(tmp_path, clock, model_file, faces):
    station, tracker, patient, live = _station(tmp_path, clock, model_file, faces, Side.LEFT)
    patient.broken = True  # unplugged from the start, never comes back
    shown: list[str] = []
    post = station.post_notice
    station.post_notice = lambda n: (shown.append(n.text), post(n))[1]  # type: ignore[method-assign]
    outs = _run_session(station, tracker, patient, clock)
    station.stop()
    settle = [o for o in outs if type(o).__name__ == "SettleEnded"]
    assert settle and not settle[0].calibrated
    assert settle[0].at - outs[0].at <= station.timing.settle_s + 0.5  # no 40 s wait
    assert any(isinstance(o, SessionFinished) and o.status is SessionStatus.COMPLETE for o in outs)
    assert words.CAMERA_MISSING in shown  # said while practising
    assert station.engine.state in (State.HOME, State.SUMMARY)
    assert all(n.text != words.CAMERA_MISSING for n in station.notices.values())  # not after
    assert all(r.face_share == 0.0 for r in live.rep_stats)


def test_frames_during_a_pause_are_not_scored(tmp_path, clock, model_file, faces):
    station, tracker, patient, live = _station(tmp_path, clock, model_file, faces, Side.LEFT)
    button = station.buttons[0]
    paused = {"done": False}

    def pause_in_first_hold(st, now):
        v = st.engine.view(now)
        if v.state is State.HOLD and v.pattern_index == 0 and v.rep == 0 and not paused["done"]:
            paused["done"] = True
            button.press_for(now, 0.2)  # pause ...
            button.press_for(now + 30.0, 0.2)  # ... and resume 30 s later
        if st.engine.state is State.PAUSED:
            patient.smile = True  # the patient smiles broadly while paused: must not count

    _run_session(station, tracker, patient, clock, on_step=pause_in_first_hold)
    station.stop()
    first = live.rep_stats[0]
    assert paused["done"] and first.frames < 150  # ~11 s of rep at 10 fps, not 41 s
    assert first.target_mm > 2.0  # the smile pattern's own movement still counts


class IdleRecorder:
    """A tracker stand-in that records when inference is paused and resumed."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def start(self) -> None:
        pass

    def set_idle(self, idle: bool) -> None:
        self.calls.append(idle)


def test_inference_pauses_at_home_and_runs_during_a_session():
    from station.practice.events import Event, Timing
    from station.practice.session import Engine

    plan = make_plan([("small_smile", 1, {})], source="test")
    tracker = IdleRecorder()
    live = LiveTracking(tracker, plan, Side.LEFT, Metrics())  # type: ignore[arg-type]
    live.start()
    assert tracker.calls == [True]  # at home: camera open, no inference
    eng = Engine(plan, Timing())
    live.follow(eng.handle(Event.SHORT_PRESS, 0.0))
    assert tracker.calls[-1] is False  # practising: inference on
    t = 0.0
    while eng.state is not State.SUMMARY:
        t += 0.5
        live.follow(eng.tick(t))
    assert tracker.calls[-1] is True  # finished: idle again
