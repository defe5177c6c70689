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
    "OPENCV_LOG_LEVEL": "ERROR",  # no camera-probe warnings
    "OPENCV_VIDEOIO_DEBUG": "0",
    "GLOG_minloglevel": "2",  # mediapipe's glog: errors only
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow Lite inside mediapipe
    "PYGAME_HIDE_SUPPORT_PROMPT": "1",
}

_started = False


def capture_native_stderr() -> bool:
    """Send C libraries' stderr to the log at debug level; True when the capture is running.

    Call once, early in ``station run`` / ``station demo``. Idempotent; never raises. Only a
    terminal is protected: when stderr is a file or a pipe (the journal, a test run) it is left
    alone, so nothing a supervisor collects goes missing.
    """
    global _started
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
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
