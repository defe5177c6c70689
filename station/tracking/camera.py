"""Frame sources: the Pi camera (picamera2), a webcam or video file (OpenCV), decoded frames.

Every source hands out :class:`Frame` objects: a C-contiguous ``uint8`` RGB array of the raw,
unmirrored picture plus a monotonic capture time. ``read()`` returns ``None`` when there is no
new frame right now and raises :class:`CameraError` (a plain message) when the camera is gone.
The tracker owns retries; a source never sleeps on its own except inside the camera driver.

Nothing here writes a frame anywhere. Mirroring is only ever done for display (the kiosk shows
no video), so inference always sees the subject's own left and right.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from station.config import CameraSettings

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class CameraError(Exception):
    """The camera is missing or stopped working; the message is plain words."""


class SourceEnded(CameraError):
    """A video file reached its end (and does not loop)."""


@dataclass(frozen=True)
class Frame:
    """One picture: ``rgb`` is HxWx3 uint8 RGB, C-contiguous; ``t`` monotonic seconds."""

    rgb: np.ndarray
    t: float
    index: int


class FrameSource(Protocol):
    """What the tracker needs from a camera."""

    def read(self) -> Frame | None:
        """The next frame, or None when none is ready yet; raises CameraError when gone."""

    def close(self) -> None:
        """Release the device or file (idempotent)."""


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A C-contiguous uint8 copy only when needed (a padded stride gives a sliced view)."""
    return np.ascontiguousarray(image, dtype=np.uint8)


# --------------------------------------------------------------------------------------------
# Pi camera


@dataclass(frozen=True)
class Orientation:
    """How to turn the sensor picture upright: flips in the camera, quarter turns in numpy.

    Mount semantics: the picture is flipped first (``hflip``/``vflip``), then turned by
    ``rotation`` degrees clockwise. The Pi's ISP can flip but not transpose, so 180 degrees
    is folded into the flips and only 90/270 cost a numpy turn (and a copy).
    """

    hflip: bool
    vflip: bool
    quarter_turns_cw: int  # 0, 1 or 3 (never 2: folded into the flips)


def orientation_for(rotation: int, hflip: bool, vflip: bool) -> Orientation:
    """Split a mount setting into what libcamera's Transform does and what numpy does."""
    if rotation not in (0, 90, 180, 270):
        raise ValueError(f"rotation must be 0, 90, 180 or 270, got {rotation}")
    turns = rotation // 90
    if turns == 2:
        return Orientation(hflip=not hflip, vflip=not vflip, quarter_turns_cw=0)
    return Orientation(hflip=hflip, vflip=vflip, quarter_turns_cw=turns)


def apply_orientation(rgb: np.ndarray, o: Orientation, flips_done: bool) -> np.ndarray:
    """Apply the orientation in numpy (the flips only if the camera did not do them)."""
    out = rgb
    if not flips_done:
        if o.hflip:
            out = out[:, ::-1]
        if o.vflip:
            out = out[::-1]
    if o.quarter_turns_cw:
        out = np.rot90(out, k=-o.quarter_turns_cw)
    return out


_NO_PICAMERA = ("The Pi camera software is not installed (apt package python3-picamera2). "
                "Ask the clinic to reinstall the station.")
_NO_PI_CAMERA = "No Pi camera found. Check that the camera cable is plugged in firmly."


def _import_picamera2() -> tuple[Any, Any]:
    """(Picamera2 class, libcamera.Transform or None); CameraError when not installed."""
    try:
        from picamera2 import Picamera2
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken system install
        raise CameraError(_NO_PICAMERA) from exc
    try:
        from libcamera import Transform  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - flip in numpy instead
        Transform = None  # noqa: N806
    return Picamera2, Transform


def picamera_available() -> bool:
    """True when picamera2 imports and at least one camera is attached."""
    try:
        picamera2_cls, _ = _import_picamera2()
        return bool(picamera2_cls.global_camera_info())
    except Exception:  # noqa: BLE001 - any failure means: not available
        return False


class PiCameraSource:
    """The Pi camera module through picamera2: main stream only, BGR888 (= RGB arrays).

    ``camera_factory`` and ``transform_factory`` are seams for tests (a fake picamera2).
    """

    kind = "Pi camera"  # what the clinician info screen calls it

    def __init__(self, settings: CameraSettings, *, clock: Clock = time.monotonic,
                 camera_factory: Callable[[], Any] | None = None,
                 transform_factory: Callable[..., Any] | None = None,
                 timeout_s: float = 1.0) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self._index = 0
        self._orientation = orientation_for(settings.rotation, settings.hflip, settings.vflip)
        if camera_factory is None:
            picamera2_cls, transform_cls = _import_picamera2()
            try:
                cameras = picamera2_cls.global_camera_info()
            except Exception as exc:  # noqa: BLE001
                raise CameraError(_NO_PI_CAMERA) from exc
            if not cameras:
                raise CameraError(_NO_PI_CAMERA)
            camera_factory = picamera2_cls
            transform_factory = transform_factory or transform_cls
        self._flips_in_camera = transform_factory is not None
        try:
            self._cam = camera_factory()
        except Exception as exc:  # noqa: BLE001 - busy, unplugged, driver trouble
            raise CameraError("The Pi camera could not be opened. It may be in use or unplugged.") \
                from exc
        try:
            self.config = self._configure(settings, transform_factory)
            self._cam.start()
        except Exception as exc:  # noqa: BLE001
            self.close()
            raise CameraError("The Pi camera could not be started.") from exc
        self.size = (settings.width, settings.height)

    def _configure(self, s: CameraSettings, transform_factory: Callable[..., Any] | None) -> Any:
        frame_us = int(round(1_000_000 / s.fps))
        kwargs: dict[str, Any] = {
            # BGR888 is libcamera's name for bytes in R, G, B order: RGB arrays for mediapipe.
            "main": {"size": (s.width, s.height), "format": "BGR888"},
            "controls": {"FrameDurationLimits": (frame_us, frame_us)},
            "buffer_count": 4,
            "queue": False,  # hand out a frame captured after we asked: fresher, not older
        }
        if transform_factory is not None:
            kwargs["transform"] = transform_factory(hflip=int(self._orientation.hflip),
                                                    vflip=int(self._orientation.vflip))
        config = self._cam.create_video_configuration(**kwargs)
        self._cam.configure(config)
        return config

    def read(self) -> Frame | None:
        """Wait up to ``timeout_s`` for the next frame; None on a timeout."""
        if self._cam is None:
            raise CameraError("The camera is closed.")
        try:
            array = self._cam.capture_array("main", wait=self._timeout_s)
        except TimeoutError:
            return None
        except Exception as exc:  # noqa: BLE001 - the driver went away
            raise CameraError("The camera stopped sending pictures.") from exc
        t = self._clock()
        if array is None:
            return None
        rgb = apply_orientation(np.asarray(array)[..., :3], self._orientation,
                                flips_done=self._flips_in_camera)
        frame = Frame(rgb=as_rgb(rgb), t=t, index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        cam, self._cam = getattr(self, "_cam", None), None
        if cam is None:
            return
        for action in ("stop", "close"):
            try:
                getattr(cam, action)()
            except Exception as exc:  # noqa: BLE001 - closing must never raise
                log.debug("picamera2 %s: %s", action, exc)


# --------------------------------------------------------------------------------------------
# OpenCV: USB webcam or a video file


class OpenCVSource:
    """A USB webcam (int index) or a video file (path) through OpenCV, as RGB frames.

    A video file is *paced* by default: frame k becomes available at ``t0 + k / fps`` on the
    injected clock and a late reader skips to the newest due frame, exactly like a camera that
    keeps no queue (so the demo runs in real time). ``paced=False`` hands out every frame at
    once (offline use); its timestamps are still ``t0 + k / fps``. ``loop=True`` restarts the
    file at its end, otherwise the end raises :class:`SourceEnded`.
    """

    def __init__(self, target: int | str | Path, *, loop: bool = False, paced: bool | None = None,
                 clock: Clock = time.monotonic, width: int | None = None,
                 height: int | None = None, fps: float | None = None) -> None:
        import cv2

        self._cv2 = cv2
        self._clock = clock
        self._loop = loop
        self._index = 0
        self._target: int | str = target if isinstance(target, int) else str(target)
        self.is_file = isinstance(self._target, str)
        self.kind = "video file" if self.is_file else "webcam"
        if self.is_file and not Path(str(self._target)).is_file():
            raise CameraError(f"There is no video file at {self._target}.")
        self._cap = self._open()
        if not self.is_file:
            if width and height:
                self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps:
                self._cap.set(cv2.CAP_PROP_FPS, fps)
            self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep the driver queue short
        file_fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = file_fps if 1.0 <= file_fps <= 240.0 else 30.0
        self.paced = (self.is_file if paced is None else paced) and self.is_file
        self._t0 = clock()

    def _open(self) -> Any:
        cap = self._cv2.VideoCapture(self._target)
        if not cap.isOpened():
            cap.release()
            if self.is_file:
                raise CameraError(f"The video {Path(str(self._target)).name} could not be opened.")
            raise CameraError(f"No webcam found at number {self._target}.")
        return cap

    def _restart(self) -> None:
        self._cap.release()
        self._cap = self._open()

    def _grab(self) -> bool:
        """Advance one frame (decoding, not converting); handles the end of a file."""
        if self._cap.grab():
            return True
        if not self.is_file:
            raise CameraError("The webcam stopped sending pictures.")
        if not self._loop:
            raise SourceEnded("The video ended.")
        self._restart()
        if not self._cap.grab():
            raise CameraError(f"The video {Path(str(self._target)).name} has no pictures.")
        return True

    def read(self) -> Frame | None:
        if self._cap is None:
            raise CameraError("The camera is closed.")
        if self.paced:
            due = math.floor((self._clock() - self._t0) * self.fps + 1e-9)
            if due < self._index:
                return None
            while self._index < due:  # we are late: drop what a camera would have dropped
                self._grab()
                self._index += 1
        self._grab()
        ok, bgr = self._cap.retrieve()
        if not ok or bgr is None:
            raise CameraError("The camera stopped sending pictures.")
        if self.is_file:
            t = self._t0 + self._index / self.fps
        else:
            t = self._clock()
        frame = Frame(rgb=as_rgb(self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)), t=t,
                      index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


# --------------------------------------------------------------------------------------------
# Pre-decoded frames (benchmark, tests)


class MemorySource:
    """Frames already in memory, handed out like a camera: paced at ``fps`` or all at once.

    Paced: frame k is due at ``t0 + k / fps``; a late reader gets the newest due frame.
    ``paced=False`` with an ``fps`` hands out every frame at once, stamped ``t0 + k / fps``;
    without an ``fps`` each frame is stamped with the clock when read. The end raises
    :class:`SourceEnded` unless ``loop``.
    """

    kind = "recorded frames"

    def __init__(self, frames: Sequence[np.ndarray], *, fps: float | None = None,
                 clock: Clock = time.monotonic, loop: bool = False, paced: bool = True) -> None:
        if not frames:
            raise CameraError("There are no pictures to play.")
        self._frames = frames
        self._fps = fps
        self._clock = clock
        self._loop = loop
        self._paced = paced
        self._index = 0
        self._t0 = clock()
        self._closed = False

    def read(self) -> Frame | None:
        if self._closed:
            raise CameraError("The camera is closed.")
        if self._fps and self._paced:
            due = math.floor((self._clock() - self._t0) * self._fps + 1e-9)
            if due < self._index:
                return None
            self._index = due
            t = self._t0 + due / self._fps
        elif self._fps:  # unpaced, stamped as the video's own timeline
            t = self._t0 + self._index / self._fps
        else:
            t = self._clock()
        n = len(self._frames)
        if self._index >= n and not self._loop:
            raise SourceEnded("The video ended.")
        frame = Frame(rgb=as_rgb(self._frames[self._index % n]), t=t, index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._closed = True


def iter_frames(src: FrameSource, limit: int | None = None) -> Iterator[Frame]:
    """An unpaced source's frames one by one until it ends (offline use); closes it after."""
    try:
        n = 0
        while limit is None or n < limit:
            try:
                frame = src.read()
            except SourceEnded:
                return
            assert frame is not None  # unpaced sources always have a frame
            n += 1
            yield frame
    finally:
        src.close()


def decode_all(path: str | Path, limit: int | None = None) -> tuple[list[np.ndarray], float]:
    """Every frame of a video as contiguous RGB arrays (for benchmarks), and its fps."""
    src = OpenCVSource(path, paced=False)
    frames = [f.rgb for f in iter_frames(src, limit)]
    return frames, src.fps


# --------------------------------------------------------------------------------------------


def open_source(settings: CameraSettings, video: str | None = None, index: int | None = None,
                *, clock: Clock = time.monotonic, loop: bool = True,
                paced: bool = True) -> FrameSource:
    """Open the frame source the unit is set up for; raises CameraError in plain words.

    Order: an explicit ``video`` file, an explicit webcam ``index``, else ``settings.source``
    ("auto": the Pi camera if picamera2 imports and a camera is attached, else webcam
    ``settings.index``).
    """
    if video:
        return OpenCVSource(video, loop=loop, paced=paced, clock=clock)
    if index is not None:
        return OpenCVSource(index, clock=clock, width=settings.width, height=settings.height,
                            fps=settings.fps)
    source = settings.source
    if source == "file":
        if not settings.file:
            raise CameraError("No video file is set for this unit (camera.file).")
        return OpenCVSource(settings.file, loop=loop, paced=paced, clock=clock)
    if source == "picamera":
        return PiCameraSource(settings, clock=clock)
    if source == "webcam":
        return OpenCVSource(settings.index, clock=clock, width=settings.width,
                            height=settings.height, fps=settings.fps)
    # auto
    if picamera_available():
        return PiCameraSource(settings, clock=clock)
    try:
        return OpenCVSource(settings.index, clock=clock, width=settings.width,
                            height=settings.height, fps=settings.fps)
    except CameraError:
        raise CameraError("No camera found. Check that the camera is plugged in.") from None
