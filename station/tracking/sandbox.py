"""The face model in a process of its own that has no way to the network, and its client.

:class:`ModelProcess` (in the kiosk, the track/replay/bench tools) starts
``python -m station.tracking.sandbox`` with ``subprocess`` (fork + exec: none of the parent's
Python runs in the child, so a threaded pygame process is safe to start it from) and hands it
exactly three descriptors made before it starts: a command pipe, a result pipe and a memfd for
frames (shared memory; a frame travels through the command pipe where there is no memfd).
Standard input and output are /dev/null and standard error is a pipe whose lines the parent
logs at debug level, so the child holds no socket at all, not even an inherited journal one.

The child (:func:`main`) closes every other descriptor, asks to be killed when its parent
dies, and confines itself (:func:`confine`: ``nonet.deny_network``) before mediapipe loads.
It then reads the model's bytes from the pipe (the parent verified their sha256; the child
never opens the model file), creates the FaceLandmarker, takes file writing and ``execve``
away too (``nonet.deny_file_writes``) and says it is ready. Each frame is one round trip: the
parent copies the RGB pixels into the shared memory and sends a 24-byte header; the child
answers with the landmarks in pixels, the transformation matrix and the blendshapes. One frame
is in flight at a time: the tracker's one-slot mailbox drops stale frames before they get here.

Nothing the child sends is trusted: fixed binary layouts with sizes checked, JSON for the
blendshape names, never pickle. If the child ends (a crash, a hang past the frame timeout) the
call raises :class:`ModelProcessError`, and the tracker starts a new one after a backoff.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import mmap
import os
import select
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: the child confines itself first
    import numpy as np

log = logging.getLogger(__name__)

OP_INIT, OP_FRAME, OP_QUIT = 1, 2, 3
OP_READY, OP_RESULT, OP_ERROR = 11, 12, 13
_HDR = struct.Struct("<II")  # op, payload bytes
_INIT = struct.Struct("<I")  # flags: 1 = blendshapes
_FRAME = struct.Struct("<IIqI")  # width, height, timestamp ms, 1 = pixels follow inline
_RESULT = struct.Struct("<IIdd")  # landmark count, has matrix, detect s, handle s
MAX_FROM_CHILD = 1 << 20  # a result is ~6 kB; anything bigger is a broken child
MAX_TO_CHILD = 7680 * 4320 * 3 + 4096  # the largest frame the settings allow
MAX_LANDMARKS = 1000
PR_SET_PDEATHSIG = 1
ENTRY = "station.tracking.sandbox"


class ModelProcessError(RuntimeError):
    """The model's process could not start, ended or stopped answering (tracking pauses)."""


@dataclass(frozen=True)
class Result:
    """One frame's answer: landmarks in pixels (or None: no face) and the child's timings."""

    landmarks: np.ndarray | None
    matrix: np.ndarray | None
    blendshapes: dict[str, float]
    detect_s: float  # inside the child: mediapipe alone (mp.Image + detect_for_video)
    handle_s: float  # inside the child: the whole frame (image wrap, detect, packing)
    copy_s: float  # in the parent: the frame into shared memory
    round_trip_s: float  # in the parent: copy, send, wait, read and unpack


# ---- both sides ----------------------------------------------------------------------------


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _send(fd: int, op: int, *parts: bytes) -> None:
    total = sum(len(p) for p in parts)
    if total <= 65536:  # one write for everything but a model or an inline frame
        _write_all(fd, b"".join((_HDR.pack(op, total), *parts)))
        return
    _write_all(fd, _HDR.pack(op, total))
    for p in parts:
        _write_all(fd, p)


def _read_exact(fd: int, n: int, deadline: float | None = None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if left <= 0 or not poller.poll(1000 * left):
                raise TimeoutError
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _recv(fd: int, limit: int, deadline: float | None = None) -> tuple[int, bytes]:
    op, size = _HDR.unpack(_read_exact(fd, _HDR.size, deadline))
    if size > limit:
        raise ValueError(f"message of {size} bytes (limit {limit})")
    return op, _read_exact(fd, size, deadline)


# ---- the child -----------------------------------------------------------------------------


def close_other_fds(keep: set[int]) -> None:
    """Close every open descriptor not in ``keep`` (0, 1 and 2 are always kept)."""
    keep = keep | {0, 1, 2}
    try:
        open_fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 1024))
    for fd in open_fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def confine(keep: set[int]) -> bool:
    """Make this process the model's sandbox: True when the network filter is in force.

    Closes every descriptor but ``keep`` and the standard three, refuses to keep a socket
    (a standard one becomes /dev/null), dies with its parent, then installs
    ``nonet.deny_network``. Raises :class:`ModelProcessError` where the filter exists for this
    machine but the kernel refused it; returns False only where it does not exist.
    """
    from station.tracking import nonet

    close_other_fds(keep)
    for fd in sorted(keep | {0, 1, 2}):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISSOCK(mode):
            if fd > 2:
                raise ModelProcessError(f"descriptor {fd} is a socket")
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, fd)
            os.close(null)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if nonet.native_arch() is None:
        return False
    if not nonet.deny_network():
        raise ModelProcessError("the kernel refused the network filter")
    return True


def _serve(cmd: int, res: int, shm: int, lm: object, mp: object) -> None:
    import numpy as np

    mapped: mmap.mmap | None = None
    while True:
        op, payload = _recv(cmd, MAX_TO_CHILD)
        if op != OP_FRAME:
            return
        w, h, ts, inline = _FRAME.unpack_from(payload)
        n = w * h * 3
        if inline:
            pixels = np.frombuffer(payload, np.uint8, n, _FRAME.size)
        else:
            if mapped is None or len(mapped) < n:
                if mapped is not None:
                    mapped.close()
                mapped = mmap.mmap(shm, os.fstat(shm).st_size, prot=mmap.PROT_READ)
            pixels = np.frombuffer(mapped, np.uint8, n)
        t0 = time.perf_counter()
        try:
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels.reshape(h, w, 3))  # type: ignore[attr-defined]
            result = lm.detect_for_video(image, ts)  # type: ignore[attr-defined]
            t2 = time.perf_counter()
            parts: list[bytes] = []
            count = has_matrix = 0
            if result.face_landmarks:
                pts = result.face_landmarks[0]
                count = len(pts)
                parts.append(np.array([(p.x * w, p.y * h, p.z * w) for p in pts],
                                      dtype="<f4").tobytes())
                if result.facial_transformation_matrixes:
                    has_matrix = 1
                    parts.append(np.asarray(result.facial_transformation_matrixes[0],
                                            dtype="<f8").reshape(16).tobytes())
                if result.face_blendshapes:
                    parts.append(json.dumps({c.category_name: float(c.score)
                                             for c in result.face_blendshapes[0]}).encode())
            del image, pixels
            done = time.perf_counter()
            _send(res, OP_RESULT, _RESULT.pack(count, has_matrix, t2 - t0, done - t0), *parts)
        except Exception as exc:  # noqa: BLE001 - a bad frame is answered, never fatal
            _send(res, OP_ERROR, f"{type(exc).__name__}: {exc}".encode()[:2000])


def main(argv: list[str]) -> int:
    """The child: ``python -m station.tracking.sandbox CMD,RES,SHM`` (descriptor numbers)."""
    cmd, res, shm = (int(x) for x in argv[0].split(","))
    try:
        confined = confine({cmd, res} | ({shm} if shm >= 0 else set()))
    except ModelProcessError as exc:
        _send(res, OP_ERROR, f"no sandbox: {exc}".encode())
        return 3
    from station.tracking import nonet

    try:
        op, payload = _recv(cmd, 64 << 20)
        if op != OP_INIT:
            return 2
        (flags,) = _INIT.unpack_from(payload)
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=payload[_INIT.size:]),
            running_mode=vision.RunningMode.VIDEO, num_faces=1,
            output_face_blendshapes=bool(flags & 1), output_facial_transformation_matrixes=True)
        lm = vision.FaceLandmarker.create_from_options(options)
        del payload
        files = nonet.deny_file_writes() if confined else False
        _send(res, OP_READY, json.dumps({"mediapipe": getattr(mp, "__version__", "?"),
                                         "network": confined, "files": files}).encode())
    except Exception as exc:  # noqa: BLE001 - say why, then end
        _send(res, OP_ERROR, f"the face model could not start: {type(exc).__name__}: {exc}"
              .encode()[:2000])
        return 4
    try:
        _serve(cmd, res, shm, lm, mp)
    except (EOFError, BrokenPipeError):
        pass  # the parent went away
    lm.close()
    return 0


# ---- the parent ----------------------------------------------------------------------------


def _describe_exit(code: int | None) -> str:
    """How a child ended, in words for the log.

    >>> _describe_exit(-31), _describe_exit(4)
    ('killed by SIGSYS', 'exit code 4')
    """
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _pump_stderr(stream: typing.IO[bytes], tail: collections.deque[str]) -> None:
    """The child's standard error to the log (debug), keeping the last lines for errors."""
    for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        if line:
            tail.append(line[:300])
            log.debug("model: %s", line)


class ModelProcess:
    """The client: start the sandboxed model, send frames, get answers; thread-safe.

    ``ModelProcess(verified_model_bytes)`` returns once the model is loaded in the child;
    ``detect(rgb, timestamp_ms)`` is one frame's round trip; ``close()`` ends the child. The
    child is killed when the thread that started it ends (``PR_SET_PDEATHSIG`` follows the
    thread): start it on the thread that will use it, as the tracker does.
    """

    def __init__(self, model: bytes, blendshapes: bool = False, *,
                 start_timeout_s: float = 120.0, frame_timeout_s: float = 30.0) -> None:
        self._frame_timeout_s = frame_timeout_s
        self._lock = threading.Lock()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=8)
        self._map: mmap.mmap | None = None
        self._shm = -1
        if hasattr(os, "memfd_create"):
            self._shm = os.memfd_create("station-frames")  # close-on-exec; passed explicitly
        cmd_r, self._cmd = os.pipe()
        self._res, res_w = os.pipe()
        fds = (cmd_r, res_w) + ((self._shm,) if self._shm >= 0 else ())
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-B", "-m", ENTRY, f"{cmd_r},{res_w},{self._shm}"],
                pass_fds=fds, close_fds=True, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            for fd in (cmd_r, res_w, self._cmd, self._res):
                os.close(fd)
            raise ModelProcessError(f"the face model's process could not start: {exc}") from exc
        os.close(cmd_r)
        os.close(res_w)
        self.pid = self._proc.pid
        self._pump = threading.Thread(target=_pump_stderr, args=(self._proc.stderr, self._stderr_tail),
                                      name="model-stderr", daemon=True)  # holds no self: __del__ runs
        self._pump.start()
        self.info: dict[str, object] = {}
        try:
            try:
                _send(self._cmd, OP_INIT, _INIT.pack(1 if blendshapes else 0), model)
            except OSError:
                pass  # it ended before reading the model: its answer may say why
            op, payload = _recv(self._res, MAX_FROM_CHILD, time.monotonic() + start_timeout_s)
            if op == OP_ERROR:
                raise ModelProcessError(payload.decode(errors="replace"))
            if op != OP_READY:
                raise ModelProcessError(f"unexpected answer {op} at start")
            info = json.loads(payload)
            self.info = info if isinstance(info, dict) else {}
        except ModelProcessError:
            self.close()
            raise
        except (OSError, EOFError, TimeoutError, ValueError) as exc:
            self.close()
            raise self._ended("could not start", exc) from exc
        if not self.info.get("network"):
            log.warning("the face model runs without the network filter on this machine "
                        "(%s %s)", sys.platform, os.uname().machine)
        elif not self.info.get("files"):
            log.warning("the face model's process could not take file writing away from itself")
        else:
            log.debug("the face model runs in its own process, with no network and no file writing")

    def _ended(self, what: str, exc: BaseException) -> ModelProcessError:
        if isinstance(exc, TimeoutError):
            self._kill()
            why = "it did not answer in time"
        else:
            try:
                self._proc.wait(2.0)
            except subprocess.TimeoutExpired:
                self._kill()
            why = _describe_exit(self._proc.returncode)
        tail = "; ".join(list(self._stderr_tail)[-2:])
        return ModelProcessError(f"the face model's process {what} ({why})"
                                 + (f": {tail}" if tail else ""))

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _put(self, frame: np.ndarray) -> tuple[bytes, float]:
        """Place the pixels where the child reads them; returns what the header must carry."""
        import numpy as np

        t0 = time.perf_counter()
        if self._shm < 0:
            return frame.tobytes(), time.perf_counter() - t0
        n = frame.nbytes
        if self._map is None or len(self._map) < n:
            if self._map is not None:
                self._map.close()
            size = max(n, 640 * 480 * 3)
            os.ftruncate(self._shm, size)
            self._map = mmap.mmap(self._shm, size)
        np.copyto(np.frombuffer(self._map, np.uint8, n).reshape(frame.shape), frame)
        return b"", time.perf_counter() - t0

    def detect(self, frame: np.ndarray, ts_ms: int) -> Result:
        """One frame (C-contiguous uint8 RGB, height x width x 3) through the model."""
        import numpy as np

        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"an RGB frame is needed, not {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        with self._lock:
            if self._proc.poll() is not None:
                raise self._ended("has ended", EOFError())
            start = time.perf_counter()
            try:
                inline, copy_s = self._put(frame)
                _send(self._cmd, OP_FRAME, _FRAME.pack(w, h, ts_ms, 1 if inline else 0), inline)
                op, payload = _recv(self._res, MAX_FROM_CHILD,
                                    time.monotonic() + self._frame_timeout_s)
            except (OSError, EOFError, TimeoutError, ValueError) as exc:
                raise self._ended("ended", exc) from exc
            if op == OP_ERROR:
                raise RuntimeError(payload.decode(errors="replace"))
            result = self._parse(op, payload, copy_s)
            return dataclasses.replace(result, round_trip_s=time.perf_counter() - start)

    def _parse(self, op: int, payload: bytes, copy_s: float) -> Result:
        import numpy as np

        if op != OP_RESULT or len(payload) < _RESULT.size:
            raise self._ended("sent nonsense", ValueError())
        count, has_matrix, detect_s, handle_s = _RESULT.unpack_from(payload)
        at = _RESULT.size
        lms = matrix = None
        blend: dict[str, float] = {}
        if count > MAX_LANDMARKS or len(payload) < at + count * 12 + 128 * has_matrix:
            raise self._ended("sent nonsense", ValueError())
        if count:
            lms = np.frombuffer(payload, "<f4", count * 3, at).astype(np.float32).reshape(count, 3)
            at += count * 12
            if has_matrix:
                matrix = np.frombuffer(payload, "<f8", 16, at).reshape(4, 4).copy()
                at += 128
            if at < len(payload):
                raw = json.loads(payload[at:])
                if isinstance(raw, dict):
                    blend = {str(k): float(v) for k, v in list(raw.items())[:100]
                             if isinstance(v, int | float)}
        return Result(lms, matrix, blend, detect_s, handle_s, copy_s, 0.0)

    def __del__(self) -> None:
        # A ModelProcess dropped without close(): end the child rather than leave it waiting.
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
        for name in ("_cmd", "_res", "_shm"):
            fd = getattr(self, name, -1)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def alive(self) -> bool:
        """True while the child runs."""
        return self._proc.poll() is None

    def close(self, timeout: float = 2.0) -> None:
        """Ask the child to end, kill it if it does not, release everything (idempotent).

        A frame still in flight on another thread past ``timeout`` ends with the child killed.
        """
        if not self._lock.acquire(timeout=timeout):
            self._kill()  # the frame in flight then ends with an error
            self._lock.acquire()
        try:
            if self._cmd >= 0:
                try:
                    _send(self._cmd, OP_QUIT)
                except OSError:
                    pass
                os.close(self._cmd)
                self._cmd = -1
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
            for name in ("_res", "_shm"):
                fd = getattr(self, name)
                if fd >= 0:
                    os.close(fd)
                    setattr(self, name, -1)
            if self._map is not None:
                self._map.close()
                self._map = None
        finally:
            self._lock.release()
        self._pump.join(timeout)
        if self._proc.stderr is not None:
            self._proc.stderr.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
