"""Frame sources: OpenCV on real video, pacing on a fake clock, picamera2 through a fake."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from station.config import CameraSettings
from station.tracking.camera import (
    CameraError,
    MemorySource,
    OpenCVSource,
    PiCameraSource,
    SourceEnded,
    apply_orientation,
    open_source,
    orientation_for,
)

SINGLE = "video/single_face.mp4"


def test_opencv_video_yields_every_frame_as_contiguous_rgb(media):
    path = media(SINGLE)
    raw = cv2.VideoCapture(str(path))
    ok, first_bgr = raw.read()
    raw.release()
    assert ok
    src = OpenCVSource(path, paced=False)
    frames = []
    with pytest.raises(SourceEnded):
        while True:
            frames.append(src.read())
    src.close()
    assert len(frames) == 72
    assert [f.index for f in frames] == list(range(72))
    for f in frames:
        assert f.rgb.dtype == np.uint8 and f.rgb.shape == (360, 640, 3)
        assert f.rgb.flags["C_CONTIGUOUS"]
    ts = np.array([f.t for f in frames])
    assert np.all(np.diff(ts) > 0)
    assert np.allclose(np.diff(ts), 1 / 30)
    # RGB, not OpenCV's BGR
    assert np.array_equal(frames[0].rgb, first_bgr[..., ::-1])


def test_paced_video_follows_the_clock_and_skips_to_the_newest_frame(media, clock):
    src = OpenCVSource(media(SINGLE), clock=clock, loop=True)
    assert src.paced and src.fps == 30.0
    t0 = clock()
    first = src.read()
    assert first.index == 0 and first.t == t0
    assert src.read() is None  # frame 1 is not due yet
    clock.advance(1 / 30)
    assert src.read().index == 1
    clock.advance(0.5)  # a slow reader: frames 2..15 are due, it gets only the newest
    late = src.read()
    assert late.index == 16 and late.t == pytest.approx(t0 + 16 / 30)
    clock.advance(3.0)  # past the end of the 2.4 s file: it loops, timestamps keep growing
    looped = src.read()
    assert looped.index == 106 and looped.t > late.t
    assert looped.rgb.shape == (360, 640, 3)
    src.close()
    with pytest.raises(CameraError):
        src.read()


def test_memory_source_paced_and_unpaced(clock):
    frames = [np.full((4, 6, 3), i, np.uint8) for i in range(5)]
    paced = MemorySource(frames, fps=10, clock=clock)
    assert paced.read().index == 0
    assert paced.read() is None
    clock.advance(0.25)
    f = paced.read()
    assert f.index == 2 and int(f.rgb[0, 0, 0]) == 2
    unpaced = MemorySource(frames, clock=clock)
    assert [unpaced.read().index for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(SourceEnded):
        unpaced.read()


def test_missing_video_file_is_a_plain_camera_error(tmp_path):
    with pytest.raises(CameraError, match="no video file"):
        OpenCVSource(tmp_path / "gone.mp4")


# ---- orientation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("rotation", "hflip", "vflip", "expect"), [
    (0, False, False, (False, False, 0)),
    (0, True, False, (True, False, 0)),
    (180, False, False, (True, True, 0)),
    (180, True, False, (False, True, 0)),
    (90, False, True, (False, True, 1)),
    (270, False, False, (False, False, 3)),
])
def test_orientation_folds_180_into_camera_flips(rotation, hflip, vflip, expect):
    o = orientation_for(rotation, hflip, vflip)
    assert (o.hflip, o.vflip, o.quarter_turns_cw) == expect


def test_orientation_in_numpy_matches_flip_then_clockwise_turn():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    for rotation in (0, 90, 180, 270):
        for hflip in (False, True):
            o = orientation_for(rotation, hflip, False)
            got = apply_orientation(img, o, flips_done=False)
            want = img[:, ::-1] if hflip else img
            want = np.rot90(want, k=-(rotation // 90))
            assert np.array_equal(got, want), (rotation, hflip)


# ---- picamera2 through a fake ------------------------------------------------------------------


class FakeTransform:
    def __init__(self, hflip: int = 0, vflip: int = 0) -> None:
        self.hflip, self.vflip = hflip, vflip


class FakePicamera2:
    """Records what a Picamera2 is asked; hands out padded-stride views like the real one."""

    def __init__(self, frame: np.ndarray, pad: int = 64) -> None:
        h, w, _ = frame.shape
        self.buffer = np.zeros((h, w * 3 + pad), np.uint8)
        self.buffer[:, : w * 3] = frame.reshape(h, w * 3)
        self.shape = frame.shape
        self.calls: list = []
        self.fail: Exception | None = None

    def create_video_configuration(self, **kwargs):
        self.calls.append(("create_video_configuration", kwargs))
        return {"config": kwargs}

    def configure(self, config):
        self.calls.append(("configure", config))

    def start(self):
        self.calls.append("start")

    def capture_array(self, name="main", wait=None):
        self.calls.append(("capture_array", name, wait))
        if self.fail is not None:
            raise self.fail
        h, w, _ = self.shape
        # A padded stride: the real make_array slices the row padding off -> non-contiguous.
        return self.buffer[:, : w * 3].reshape(h, w, 3)

    def stop(self):
        self.calls.append("stop")

    def close(self):
        self.calls.append("close")


def test_picamera_source_configures_main_stream_and_returns_contiguous_rgb(clock):
    frame = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    fake = FakePicamera2(frame)
    assert not fake.capture_array().flags["C_CONTIGUOUS"]
    fake.calls.clear()
    settings = CameraSettings(width=64, height=48, fps=25, rotation=180)
    src = PiCameraSource(settings, clock=clock, camera_factory=lambda: fake,
                         transform_factory=FakeTransform)
    kwargs = fake.calls[0][1]
    assert kwargs["main"] == {"size": (64, 48), "format": "BGR888"}
    assert kwargs["controls"]["FrameDurationLimits"] == (40000, 40000)
    assert "lores" not in kwargs  # main stream only (a lores stream would have to be YUV420)
    assert (kwargs["transform"].hflip, kwargs["transform"].vflip) == (1, 1)  # 180 in the camera
    assert fake.calls[1][0] == "configure" and fake.calls[2] == "start"
    got = src.read()
    assert got.rgb.flags["C_CONTIGUOUS"] and got.t == clock() and got.index == 0
    assert np.array_equal(got.rgb, frame)  # the camera flipped; numpy did nothing more
    src.close()
    assert fake.calls[-2:] == ["stop", "close"]


def test_picamera_source_quarter_turn_in_numpy(clock):
    frame = np.random.default_rng(2).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    fake = FakePicamera2(frame)
    settings = CameraSettings(width=64, height=48, rotation=90, hflip=True)
    src = PiCameraSource(settings, clock=clock, camera_factory=lambda: fake,
                         transform_factory=FakeTransform)
    assert fake.calls[0][1]["transform"].hflip == 1
    got = src.read()
    # The fake ignores the transform, so the expected picture is the turn of the raw frame.
    assert got.rgb.shape == (64, 48, 3) and got.rgb.flags["C_CONTIGUOUS"]
    assert np.array_equal(got.rgb, np.rot90(frame, k=-1))


def test_picamera_source_without_transform_flips_in_numpy(clock):
    frame = np.random.default_rng(3).integers(0, 255, (8, 10, 3), dtype=np.uint8)
    fake = FakePicamera2(frame)
    src = PiCameraSource(CameraSettings(width=10, height=8, hflip=True), clock=clock,
                         camera_factory=lambda: fake)
    assert "transform" not in fake.calls[0][1]
    assert np.array_equal(src.read().rgb, frame[:, ::-1])


def test_picamera_timeout_is_no_frame_and_driver_error_is_camera_error(clock):
    fake = FakePicamera2(np.zeros((8, 10, 3), np.uint8))
    src = PiCameraSource(CameraSettings(width=10, height=8), clock=clock,
                         camera_factory=lambda: fake, timeout_s=0.5)
    fake.fail = TimeoutError()
    assert src.read() is None
    assert fake.calls[-1] == ("capture_array", "main", 0.5)
    fake.fail = RuntimeError("device disconnected")
    with pytest.raises(CameraError, match="stopped sending pictures"):
        src.read()


def test_missing_picamera2_module_is_a_plain_camera_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    with pytest.raises(CameraError) as info:
        PiCameraSource(CameraSettings())
    assert "not installed" in str(info.value)
    assert "Traceback" not in str(info.value)


def test_picamera2_without_a_camera_is_a_plain_camera_error(monkeypatch):
    import types

    module = types.ModuleType("picamera2")

    class NoCameras:
        @staticmethod
        def global_camera_info():
            return []

    module.Picamera2 = NoCameras
    monkeypatch.setitem(sys.modules, "picamera2", module)
    with pytest.raises(CameraError, match="No Pi camera found"):
        PiCameraSource(CameraSettings())


def test_open_source_choices(media, monkeypatch, clock):
    src = open_source(CameraSettings(), video=str(media(SINGLE)), clock=clock)
    assert isinstance(src, OpenCVSource) and src.paced
    src.close()
    src = open_source(CameraSettings(source="file", file=str(media(SINGLE))), clock=clock)
    assert isinstance(src, OpenCVSource)
    src.close()
    with pytest.raises(CameraError, match="No video file is set"):
        open_source(CameraSettings(source="file"))
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraError, match="not installed"):
        open_source(CameraSettings(source="picamera"))
    # auto: no picamera2 here and no webcam at this number -> one plain message
    with pytest.raises(CameraError, match="No camera found"):
        open_source(CameraSettings(source="auto", index=15))
