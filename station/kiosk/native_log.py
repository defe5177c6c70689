"""Library noise to the log: what C libraries write on stderr becomes debug log lines.

ALSA (no sound card), OpenCV (camera probing) and mediapipe (glog, TensorFlow Lite) write
straight to file descriptor 2, bypassing Python: a demo on a laptop printed about ninety such
lines. :func:`capture_native_stderr` quietens what the libraries allow through environment
variables, then points descriptor 2 at a pipe whose lines a small thread logs at debug level
under ``station.native`` (seen with ``-v``, and in the journal when debug logging is on).
Python's own stderr (tracebacks, the station's log lines) keeps going to the terminal.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger("station.native")

#: quieter libraries (only where not set already)
QUIET_ENV = {
    "OPENCV_LOG_LEVEL": "OFF",  # no camera-probe blocks ("Camera index out of range")
    "OPENCV_VIDEOIO_DEBUG": "0",
    "GLOG_minloglevel": "2",  # mediapipe's glog: errors only
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow Lite inside mediapipe
    "PYGAME_HIDE_SUPPORT_PROMPT": "1",
}

_started = False


def capture_native_stderr() -> bool:
    """Send C libraries' stderr to the log at debug level; True when the capture is running.

    Called once, early, for every command (``station.cli``). Idempotent; never raises. ALSA's
    messages always go to the log (:func:`quiet_alsa`); the rest of descriptor 2 is captured
    only on a terminal: when stderr is a file or a pipe (the journal, a test run) it is left
    alone, so nothing a supervisor collects goes missing.
    """
    global _started
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    quiet_alsa()
    if _started:
        return True
    if not os.isatty(2):
        return False
    try:
        sys.stderr.flush()
        terminal = os.dup(2)
        read_fd, write_fd = os.pipe()
        new_stderr = os.fdopen(terminal, "w", buffering=1, encoding="utf-8", errors="replace")
        # Python keeps writing to the terminal: sys.stderr and any handler bound to it.
        old = sys.stderr
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (old, sys.__stderr__):
                handler.setStream(new_stderr)
        sys.stderr = new_stderr
        os.dup2(write_fd, 2)
        os.close(write_fd)
    except OSError as exc:
        log.debug("stderr capture not possible: %s", exc)
        return False
    threading.Thread(target=_pump, args=(read_fd,), name="native-stderr", daemon=True).start()
    _started = True
    return True


def _pump(fd: int) -> None:
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.rstrip()
            if line:
                log.debug("%s", line)


_ALSA_HANDLER: list[object] = []  # keeps the C callback alive for the life of the process


def quiet_alsa() -> bool:
    """ALSA's error lines ("ALSA lib pcm.c ... Unknown PCM default", a dozen at every sound
    start on a machine without a card) become debug log lines, on a terminal or not.

    libasound prints them through a replaceable error handler, so the station installs its
    own (before pygame or SDL load the library; the library is shared, so theirs use it too).
    True when installed; False where there is no libasound.
    """
    if _ALSA_HANDLER:
        return True
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("asound")
    if not name:
        return False
    try:
        lib = ctypes.CDLL(name)
        handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                        ctypes.c_int, ctypes.c_char_p)

        def handler(file: bytes | None, line: int, func: bytes | None, err: int,
                    fmt: bytes | None) -> None:
            log.debug("ALSA %s:%d %s: %s (error %d)", (file or b"?").decode(errors="replace"), line,
                      (func or b"?").decode(errors="replace"), (fmt or b"").decode(errors="replace"), err)

        c_handler = handler_type(handler)
        lib.snd_lib_error_set_handler(c_handler)
    except (OSError, AttributeError) as exc:
        log.debug("ALSA messages not redirected: %s", exc)
        return False
    _ALSA_HANDLER.append(c_handler)
    return True
