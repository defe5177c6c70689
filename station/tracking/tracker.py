"""MediaPipe FaceLandmarker adapter: raw RGB frames in, :class:`FaceSample` out.

The model itself runs in a sandboxed process with no way to the network
(:mod:`station.tracking.sandbox`); this process never imports mediapipe. Inference always runs
on the raw, unmirrored frame so MediaPipe's LEFT/RIGHT stay the subject's own. Every frame is
made C-contiguous first (``mp.Image`` takes a raw pointer with no stride; a padded or sliced
view would give silently wrong pixels). Works with both mediapipe lines (0.10.18 on a Pi 4,
1.x elsewhere): only the Tasks API is used.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from station.feedback import TrackingStatus
from station.practice import words
from station.tracking.camera import Frame, FrameSource, SourceEnded
from station.tracking.face import FaceSample, pose_from_matrix
from station.tracking.model import ModelError, read_verified
from station.tracking.sandbox import ModelProcess, ModelProcessError

log = logging.getLogger(__name__)


class Landmarker:
    """A FaceLandmarker in VIDEO mode for one face, run in its own sandboxed process.

    The model's bytes are read and checked against the pinned sha256 here, then handed to a
    child process that has no way to the network (:mod:`station.tracking.sandbox`); each
    :meth:`detect` is one round trip. Synchronous: see TrackerThread for live use.

    >>> with Landmarker(model) as lm:                      # doctest: +SKIP
    ...     sample = lm.detect(rgb_frame, t=0.0)
    """

    def __init__(self, model_path: Path, blendshapes: bool = False) -> None:
        model = read_verified(Path(model_path))  # never load a model that is not the pinned one
        self._proc: ModelProcess | None = ModelProcess(model, blendshapes)
        self._last_ms = -1
        self._frames = 0
        #: per frame: the parent's round trip, the child's whole frame, mediapipe's detect (s)
        self.timings: deque[tuple[float, float, float]] = deque(maxlen=4096)
        self.copy_s: deque[float] = deque(maxlen=4096)  # frame into shared memory (s)

    def detect(self, rgb: np.ndarray, t: float) -> FaceSample:
        """Run the model on one RGB frame captured at monotonic time ``t`` (seconds).

        Raises :class:`ModelProcessError` when the model's process has ended (start a new
        Landmarker), another exception for a frame the model could not take.
        """
        if self._proc is None:
            raise ModelProcessError("the landmarker is closed")
        frame = np.ascontiguousarray(rgb, dtype=np.uint8)
        h, w = frame.shape[:2]
        # VIDEO mode needs strictly increasing integer milliseconds.
        ts = max(int(round(t * 1000.0)), self._last_ms + 1)
        self._last_ms = ts
        result = self._proc.detect(frame, ts)
        self.timings.append((result.round_trip_s, result.handle_s, result.detect_s))
        self.copy_s.append(result.copy_s)
        index = self._frames
        self._frames += 1
        if result.landmarks is None:
            return FaceSample(t=t, landmarks=None, image_size=(w, h), frame_index=index)
        pose = pose_from_matrix(result.matrix) if result.matrix is not None else None
        return FaceSample(t=t, landmarks=result.landmarks, pose=pose, image_size=(w, h),
                          blendshapes=result.blendshapes, frame_index=index)

    @property
    def sandboxed(self) -> bool:
        """True when the model's process runs under the network filter."""
        return bool(self._proc is not None and self._proc.info.get("network"))

    def close(self) -> None:
        """End the model's process (idempotent)."""
        if self._proc is not None:
            self._proc.close()
            self._proc = None

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# Live tracking

STARTING = TrackingStatus.STARTING
OK = TrackingStatus.TRACKING  # frames flow and faces are looked for
NO_CAMERA = TrackingStatus.NO_CAMERA
NO_MODEL = TrackingStatus.NO_MODEL

MESSAGES = {
    STARTING: words.CAMERA_STARTING,
    OK: "",
    NO_CAMERA: words.CAMERA_MISSING,
    NO_MODEL: "The face model is missing. Ask the clinic to run: station model fetch",
}
IDLE_POLL_S = 0.25  # how soon inference resumes after set_idle(False)
WRONG_MODEL = "The face model is not the right one. Ask the clinic to run: station model fetch"
NO_TRACKING = "Face tracking could not start. Ask the clinic to run: station doctor"
MODEL_STOPPED = words.TRACKING_RESTARTING


@dataclass(frozen=True)
class TrackerState:
    """What the UI reads each frame (a snapshot; never blocks).

    ``seq`` grows by one per published sample, so the reader can tell a new sample from the
    one it already used. ``sample`` is None until the first frame and during an outage.
    ``captured_at``/``available_at`` are the newest sample's capture time and the time it was
    published (both on the tracker's clock): their difference is capture-to-sample latency.
    """

    status: TrackingStatus = STARTING
    message: str = MESSAGES[STARTING]
    sample: FaceSample | None = None
    seq: int = 0
    captured_at: float = 0.0
    available_at: float = 0.0
    frames_captured: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    outages: int = 0

    @property
    def ok(self) -> bool:
        return self.status is OK


class LatestFrame:
    """A one-slot mailbox: the capture side overwrites, the inference side takes the newest."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self.put_count = 0
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1  # never seen by inference: a newer frame wins
            self._frame = frame
            self.put_count += 1
            self._cond.notify()

    def take(self, timeout: float = 0.0) -> Frame | None:
        with self._cond:
            if self._frame is None and timeout > 0:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def clear(self) -> None:
        with self._cond:
            self._frame = None


class TrackerThread:
    """Runs a :class:`Landmarker` on live frames; the UI polls :meth:`latest` without blocking.

    Two loops share a one-slot mailbox: *capture* reads the source and overwrites the slot,
    *process* takes the newest frame and runs the model, so a slow model never makes frames
    queue up (older frames are dropped and counted). :meth:`start` runs each loop on its own
    daemon thread (``capture_thread=False``: one thread looping :meth:`step`); tests call
    :meth:`step` (= one capture + one process) with a fake clock instead.

    Faults never escape: a missing camera, a source that raises, stops sending frames for
    ``stall_s`` or ends, sets status ``no_camera`` (logged once per outage), closes the source
    and reopens it after a growing backoff (on the injected clock); tracking resumes by
    itself when frames return. A missing or wrong model sets ``no_model`` (checked again every
    ``model_retry_s``, so ``station model fetch`` fixes a running unit). The model's own
    process ending (a crash, a hang) sets ``no_camera`` too, as the kiosk's calm "camera not
    available" notice, logs why, and a new process is started after ``crash_backoff_s``
    (growing; back to the start once a frame is answered again).
    """

    def __init__(self, model_path: Path, open_source: Callable[[], FrameSource], *,
                 blendshapes: bool = False, clock: Callable[[], float] = time.monotonic,
                 stall_s: float = 2.0, backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0),
                 model_retry_s: float = 30.0, capture_thread: bool = True,
                 landmarker_factory: Callable[..., Landmarker] | None = None,
                 crash_backoff_s: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0)) -> None:
        self._model_path = Path(model_path)
        self._open_source = open_source
        self._blendshapes = blendshapes
        self._clock = clock
        self._stall_s = stall_s
        self._backoff_s = backoff_s
        self._model_retry_s = model_retry_s
        self._capture_thread = capture_thread
        self._factory = landmarker_factory or Landmarker
        self._crash_backoff_s = crash_backoff_s
        self._crashes = 0  # model process failures in a row
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._state = TrackerState()
        self._mailbox = LatestFrame()
        self._idle = threading.Event()  # set: no inference (kiosk at home), camera stays open
        # capture side (only touched by the capture loop)
        self._source: FrameSource | None = None
        self.source_kind = "none"  # what the last opened source is: Pi camera, webcam, ...
        self._retry_at = -math.inf
        self._faults_in_row = 0
        self._last_frame_at = 0.0
        self._in_outage = False
        # process side
        self._lm: Landmarker | None = None
        self._model_retry_at = -math.inf
        self._model_failed = False
        self._model_loading = False  # the model's process is starting (the camera may open)
        self._detect_failures = 0
        self._processed = 0
        self.latencies: deque[float] = deque(maxlen=4096)  # seconds, capture -> published
        self.process_s: deque[float] = deque(maxlen=4096)  # seconds, taken -> published
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- reading (any thread) ---------------------------------------------------------------

    def latest(self) -> TrackerState:
        """The newest state; cheap and non-blocking (one short lock)."""
        with self._lock:
            return self._state

    def wait_for(self, predicate: Callable[[TrackerState], bool], timeout: float) -> bool:
        """Block until ``predicate(state)`` holds or ``timeout`` passes (for tests and bench)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self._state), timeout)

    def _publish(self, **changes: Any) -> None:
        with self._changed:
            self._state = dataclasses.replace(
                self._state, frames_captured=self._mailbox.put_count,
                frames_dropped=self._mailbox.dropped, frames_processed=self._processed,
                **changes)
            self._changed.notify_all()

    # ---- capture side -----------------------------------------------------------------------

    def capture(self) -> bool:
        """One capture iteration: (re)open the source if due, read one frame into the slot."""
        if self._lm is None and not self._model_loading:
            return False  # no model: leave the camera alone (it opens while the model starts)
        now = self._clock()
        if self._source is None:
            if now < self._retry_at:
                return False
            try:
                self._source = self._open_source()
                self.source_kind = str(getattr(self._source, "kind", "camera"))
            except Exception as exc:  # noqa: BLE001 - CameraError or a driver error
                self._camera_fault(f"could not open the camera: {exc}", now)
                return False
            now = self._clock()  # opening can take seconds (the demo's face photo is measured)
            self._last_frame_at = now
        if self._lm is None:  # opened while the model's process starts: read once it is up
            self._last_frame_at = now
            return False
        try:
            frame = self._source.read()
        except SourceEnded as exc:
            # The frame already in the slot is the video's last: let it be processed.
            self._camera_fault(str(exc), now, keep_frame=True)
            return False
        except Exception as exc:  # noqa: BLE001
            self._camera_fault(f"camera read failed: {exc}", now)
            return False
        if frame is None:
            if now - self._last_frame_at > self._stall_s:
                self._camera_fault(f"no frame for {now - self._last_frame_at:.1f} s", now)
            return False
        self._last_frame_at = now
        self._faults_in_row = 0
        if self._in_outage:
            self._in_outage = False
            log.info("camera is back")
        self._mailbox.put(frame)
        return True

    def _camera_fault(self, why: str, now: float, keep_frame: bool = False) -> None:
        self._close_source()
        if not keep_frame:
            self._mailbox.clear()  # a frame from before the fault is stale
        delay = self._backoff_s[min(self._faults_in_row, len(self._backoff_s) - 1)]
        self._faults_in_row += 1
        self._retry_at = now + delay
        if not self._in_outage:
            self._in_outage = True
            log.warning("camera not available (%s); retrying in the background", why)
            with self._lock:
                outages = self._state.outages + 1
            if not self._model_failed:
                cleared = {} if keep_frame else {"sample": None}
                self._publish(status=NO_CAMERA, message=MESSAGES[NO_CAMERA], outages=outages,
                              **cleared)
        else:
            log.debug("camera still not available (%s); next try in %.1f s", why, delay)

    def _close_source(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            try:
                source.close()
            except Exception as exc:  # noqa: BLE001 - closing must never raise
                log.debug("closing the frame source: %s", exc)

    # ---- process side -----------------------------------------------------------------------

    def _ensure_model(self) -> bool:
        if self._lm is not None:
            return True
        now = self._clock()
        if now < self._model_retry_at:
            return False
        # The model's process takes seconds to start: the camera may open meanwhile.
        self._model_loading = self._model_path.is_file()
        try:
            self._lm = self._factory(self._model_path, blendshapes=self._blendshapes)
        except Exception as exc:  # noqa: BLE001 - ModelError, or mediapipe failing to load
            self._model_loading = False
            if isinstance(exc, ModelError):
                self._model_retry_at = now + self._model_retry_s
                message = MESSAGES[NO_MODEL] if not self._model_path.is_file() else WRONG_MODEL
            else:
                self._model_retry_at = now + self._crash_delay()
                message = NO_TRACKING
            if not self._model_failed:
                log.warning("face tracking off: %s", exc)
            self._model_failed = True
            self._publish(status=NO_MODEL, message=message, sample=None)
            return False
        self._model_loading = False
        if self._model_failed:
            log.info("face model loaded")
        self._model_failed = False
        self._publish(status=STARTING if not self._in_outage else NO_CAMERA,
                      message=MESSAGES[NO_CAMERA if self._in_outage else STARTING])
        return True

    def _crash_delay(self) -> float:
        delay = self._crash_backoff_s[min(self._crashes, len(self._crash_backoff_s) - 1)]
        self._crashes += 1
        return delay

    def _model_ended(self, exc: Exception) -> None:
        """The model's process ended mid-run: tracking pauses, a new one starts after a backoff."""
        lm, self._lm = self._lm, None
        if lm is not None:
            try:
                lm.close()
            except Exception as close_exc:  # noqa: BLE001 - it is gone already
                log.debug("closing the ended landmarker: %s", close_exc)
        delay = self._crash_delay()
        self._model_retry_at = self._clock() + delay
        self._model_failed = True
        self._mailbox.clear()
        log.warning("face tracking stopped: %s; starting it again in %.0f s", exc, delay)
        self._publish(status=NO_CAMERA, message=MODEL_STOPPED, sample=None)

    def process(self, wait_s: float = 0.0) -> bool:
        """One inference iteration on the newest captured frame; True if a sample was published."""
        if not self._ensure_model():
            return False
        frame = self._mailbox.take(wait_s)
        if frame is None:
            return False
        taken = self._clock()
        assert self._lm is not None
        try:
            sample = self._lm.detect(frame.rgb, frame.t)
        except ModelProcessError as exc:
            self._model_ended(exc)
            return False
        except Exception as exc:  # noqa: BLE001 - a bad frame must not stop tracking
            self._detect_failures += 1
            if self._detect_failures == 1 or self._detect_failures % 1000 == 0:
                log.warning("face tracking failed on a frame (%d so far): %s",
                            self._detect_failures, exc)
            return False
        sample = dataclasses.replace(sample, frame_index=frame.index)
        self._crashes = 0
        available = self._clock()
        self._processed += 1
        self.latencies.append(available - frame.t)
        self.process_s.append(available - taken)
        with self._lock:
            seq = self._state.seq + 1
        status = NO_CAMERA if self._in_outage else OK  # a last frame from before an outage
        self._publish(status=status, message=MESSAGES[status], sample=sample, seq=seq,
                      captured_at=frame.t, available_at=available)
        return True

    def step(self) -> bool:
        """One capture and one inference, synchronously (tests, single-thread mode)."""
        if not self._ensure_model():
            return False
        self.capture()
        return self.process()

    # ---- threads ----------------------------------------------------------------------------

    def start(self) -> TrackerThread:
        """Start the background thread(s); returns self."""
        if self._threads:
            return self
        self._stop.clear()
        if self._capture_thread:
            loops = [("capture", self._run_capture), ("tracker", self._run_process)]
        else:
            loops = [("tracker", self._run_steps)]
        self._threads = [threading.Thread(target=fn, name=name, daemon=True) for name, fn in loops]
        for t in self._threads:
            t.start()
        return self

    def _guarded(self, fn: Callable[[], bool], idle_s: float) -> None:
        while not self._stop.is_set():
            try:
                busy = fn()
            except Exception:  # noqa: BLE001 - last line of defence: keep the thread alive
                log.exception("tracker loop error")
                busy = False
            if not busy:
                self._stop.wait(idle_s)

    def _run_capture(self) -> None:
        self._guarded(self.capture, 0.003)

    def set_idle(self, idle: bool) -> None:
        """Pause inference while nobody practises (saves a CPU core and heat); camera stays open."""
        if idle:
            self._idle.set()
        else:
            self._idle.clear()

    def _run_process(self) -> None:
        def once() -> bool:
            # The model's process starts (seconds) while idle too: the first session finds it up.
            if not self._ensure_model():
                self._stop.wait(0.2)
                return False
            if self._idle.is_set():
                self._stop.wait(IDLE_POLL_S)
                return False
            return self.process(wait_s=0.05) or True  # take() already waited

        self._guarded(once, 0.0)

    def _run_steps(self) -> None:
        self._guarded(self.step, 0.003)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads, then close the model and the source (idempotent)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
            if t.is_alive():
                log.warning("tracker thread %s did not stop in %.0f s", t.name, timeout)
        self._threads = []
        self._close_source()
        if self._lm is not None:
            try:
                self._lm.close()
            except Exception as exc:  # noqa: BLE001
                log.debug("closing the landmarker: %s", exc)
            self._lm = None

    def __enter__(self) -> TrackerThread:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
