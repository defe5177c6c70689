"""Live tracking: real mediapipe on real face video; camera faults with fake sources, fake clock."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from station.tracking.camera import CameraError, Frame, OpenCVSource, decode_all
from station.tracking.tracker import (
    MESSAGES,
    NO_CAMERA,
    NO_MODEL,
    OK,
    STARTING,
    WRONG_MODEL,
    Landmarker,
    TrackerThread,
)

pytestmark = pytest.mark.tracking

SINGLE = "video/single_face.mp4"
CAMERA_MESSAGE = "Camera not available. Keep going by the guide."


@pytest.fixture(scope="module")
def face_frames(media):
    frames, _ = decode_all(media(SINGLE), limit=6)
    return frames


class FakeCamera:
    """A camera the test controls: ``mode`` is "ok" (a frame per read), "none" or "raise"."""

    def __init__(self, frames, clock):
        self.frames, self.clock = frames, clock
        self.mode = "ok"
        self.index = 0
        self.closed = False

    def read(self):
        if self.mode == "raise":
            raise CameraError("The camera stopped sending pictures.")
        if self.mode == "none":
            return None
        frame = Frame(self.frames[self.index % len(self.frames)], self.clock(), self.index)
        self.index += 1
        return frame

    def close(self):
        self.closed = True


class Opener:
    """The tracker's ``open_source``: can be told the camera is missing."""

    def __init__(self, frames, clock):
        self.frames, self.clock = frames, clock
        self.missing = False
        self.mode = "ok"  # what a newly opened camera does
        self.attempts = 0
        self.cameras: list[FakeCamera] = []

    def __call__(self):
        self.attempts += 1
        if self.missing:
            raise CameraError("No camera found. Check that the camera is plugged in.")
        cam = FakeCamera(self.frames, self.clock)
        cam.mode = self.mode
        self.cameras.append(cam)
        return cam


@pytest.fixture
def opener(face_frames, clock):
    return Opener(face_frames, clock)


@pytest.fixture
def tracker(model_file, opener, clock):
    tr = TrackerThread(model_file, opener, clock=clock)
    yield tr
    tr.stop()


def _camera_warnings(caplog):
    return [r for r in caplog.records
            if r.levelno == logging.WARNING and "camera not available" in r.getMessage()]


# ---- Landmarker on real frames ------------------------------------------------------------------


@pytest.mark.slow
def test_non_contiguous_view_gives_the_same_landmarks_as_its_copy(model_file, face_frames):
    frame = face_frames[0]
    h, w, _ = frame.shape
    padded = np.zeros((h, w + 37, 3), np.uint8)  # a padded stride, as picamera2 can return
    padded[:, :w] = frame
    view = padded[:, :w]
    assert not view.flags["C_CONTIGUOUS"]
    with Landmarker(model_file) as a, Landmarker(model_file) as b:
        from_view = a.detect(view, 0.0)
        from_copy = b.detect(np.ascontiguousarray(view), 0.0)
    assert from_view.face and from_copy.face
    np.testing.assert_array_equal(from_view.landmarks, from_copy.landmarks)


@pytest.mark.slow
def test_mirroring_swaps_the_subjects_sides(model_file, face_frames):
    raw = face_frames[0]
    w = raw.shape[1]
    with Landmarker(model_file) as a, Landmarker(model_file) as b:
        s_raw = a.detect(raw, 0.0)
        s_mirror = b.detect(raw[:, ::-1], 0.0)
    # 473 is the subject's LEFT iris: on a raw frontal frame it is on the image's right.
    assert s_raw.landmarks[473, 0] > s_raw.landmarks[468, 0]
    # On a mirrored frame MediaPipe puts "473" on the other physical eye: mapped back into the
    # raw frame it lies left of "468", i.e. left and right are swapped.
    back = w - s_mirror.landmarks[:, 0]
    assert back[473] < back[468]
    assert abs(back[473] - s_raw.landmarks[468, 0]) < 3.0
    assert abs(back[468] - s_raw.landmarks[473, 0]) < 3.0


# ---- stepping the tracker with a fake clock ----------------------------------------------------


def test_starts_then_publishes_samples_with_capture_and_available_times(tracker, clock):
    assert tracker.latest().status == STARTING
    assert tracker.step()
    state = tracker.latest()
    assert state.status == OK and state.message == ""
    assert state.sample.face and state.sample.landmarks.shape == (478, 3)
    assert state.seq == 1 and state.sample.frame_index == 0
    assert state.captured_at == clock() and state.available_at >= state.captured_at
    clock.advance(0.04)
    assert tracker.step()
    assert tracker.latest().seq == 2
    assert list(tracker.latencies) == [0.0, 0.0]  # the fake clock did not move during inference


def test_camera_missing_at_start_then_plugged_in(tracker, opener, clock, caplog):
    opener.missing = True
    for _ in range(10):
        assert not tracker.step()
        clock.advance(0.1)
    state = tracker.latest()
    assert state.status == NO_CAMERA and state.message == CAMERA_MESSAGE
    assert state.message == MESSAGES[NO_CAMERA] and state.sample is None
    assert opener.attempts == 2  # t=0 and after the 0.5 s backoff, not every step
    assert len(_camera_warnings(caplog)) == 1  # once per outage
    opener.missing = False
    clock.advance(1.0)
    assert tracker.step()
    assert tracker.latest().status == OK and tracker.latest().sample.face


def test_camera_raises_mid_stream_then_recovers(tracker, opener, clock, caplog):
    assert tracker.step()
    cam = opener.cameras[0]
    cam.mode = "raise"
    clock.advance(0.04)
    assert not tracker.step()
    state = tracker.latest()
    assert state.status == NO_CAMERA and state.sample is None and state.outages == 1
    assert cam.closed
    assert not tracker.step()  # backoff: no reopen yet
    assert opener.attempts == 1
    clock.advance(0.6)
    assert tracker.step()  # reopened: a fresh camera delivers again
    state = tracker.latest()
    assert state.status == OK and state.sample.face and opener.attempts == 2
    assert len(_camera_warnings(caplog)) == 1


def test_camera_returning_nothing_for_a_while(tracker, opener, clock, caplog):
    assert tracker.step()
    cam = opener.cameras[0]
    cam.mode = "none"
    clock.advance(1.0)
    assert not tracker.step()
    assert tracker.latest().status == OK  # a short gap is not an outage
    clock.advance(1.5)
    assert not tracker.step()
    assert tracker.latest().status == NO_CAMERA and cam.closed
    # The reopened camera is stuck too: backoff grows, one warning for the whole outage.
    opener.mode = "none"
    for _ in range(6):
        clock.advance(3.0)
        assert not tracker.step()
    assert tracker.latest().status == NO_CAMERA
    assert len(opener.cameras) >= 3
    assert len(_camera_warnings(caplog)) == 1
    opener.mode = "ok"  # frames return: the next reopen (after the backoff) delivers
    opener.cameras[-1].mode = "ok"
    clock.advance(8.0)
    assert tracker.step()
    assert tracker.latest().status == OK


@pytest.mark.slow
def test_video_end_is_an_outage_and_the_video_comes_back(model_file, media, clock):
    path = media(SINGLE)
    tr = TrackerThread(model_file, lambda: OpenCVSource(path, paced=False, clock=clock),
                       clock=clock)
    try:
        processed = 0
        while tr.step():
            processed += 1
            clock.advance(1 / 30)
        assert processed == 72
        state = tr.latest()
        assert state.status == NO_CAMERA and state.message == CAMERA_MESSAGE
        assert state.frames_captured == 72 and state.frames_dropped == 0
        clock.advance(1.0)
        assert tr.step()
        assert tr.latest().status == OK and tr.latest().sample.frame_index == 0
    finally:
        tr.stop()


def test_newest_frame_wins(tracker, opener, clock):
    assert tracker.step()
    for _ in range(5):  # frames arrive faster than inference
        clock.advance(0.01)
        assert tracker.capture()
    assert tracker.process()
    state = tracker.latest()
    assert state.frames_dropped == 4 and state.frames_captured == 6
    assert state.frames_processed == 2
    assert state.sample.frame_index == 5 and state.captured_at == clock()
    assert not tracker.process()  # nothing queued up behind it


def test_missing_model_then_fetched(tmp_path, model_file, opener, clock, caplog):
    path = tmp_path / "models" / "face_landmarker.task"
    tr = TrackerThread(path, opener, clock=clock)
    try:
        for _ in range(3):
            assert not tr.step()
        state = tr.latest()
        assert state.status == NO_MODEL
        assert state.message == ("The face model is missing. "
                                 "Ask the clinic to run: station model fetch")
        assert opener.attempts == 0  # the camera is left alone without a model
        path.parent.mkdir()
        shutil.copyfile(model_file, path)
        assert not tr.step()  # not checked again before the retry interval
        clock.advance(31.0)
        assert tr.step()
        assert tr.latest().status == OK
    finally:
        tr.stop()


def test_wrong_model_file_is_refused(tmp_path, opener, clock):
    path = tmp_path / "face_landmarker.task"
    path.write_bytes(b"not the pinned model" * 100)
    tr = TrackerThread(path, opener, clock=clock)
    assert not tr.step()
    state = tr.latest()
    assert state.status == NO_MODEL and state.message == WRONG_MODEL
    assert "station model fetch" in state.message
    tr.stop()


# ---- the real threads ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("capture_thread", [True, False])
def test_thread_tracks_a_whole_video_and_stops_cleanly(model_file, media, capture_thread):
    path = media(SINGLE)
    sources: list[OpenCVSource] = []

    def open_video():
        sources.append(OpenCVSource(path, paced=False))
        return sources[-1]

    tr = TrackerThread(model_file, open_video, capture_thread=capture_thread).start()
    try:
        done = tr.wait_for(lambda s: s.frames_processed + s.frames_dropped >= 72, timeout=60)
        assert done
        state = tr.latest()
        assert state.frames_captured >= 72
        assert state.sample is not None and state.sample.face
        assert state.sample.frame_index == 71  # the last frame is never dropped
        if not capture_thread:
            assert state.frames_dropped == 0 and state.frames_processed == 72
    finally:
        tr.stop()
    assert all(not t.is_alive() for t in tr._threads)
    assert sources and sources[-1]._cap is None  # closed
