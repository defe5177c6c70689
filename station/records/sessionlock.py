"""A practice session in progress, as a lock any station process can see.

The kiosk's recorder holds an exclusive ``flock`` on ``<data dir>/spool/session.lock`` from a
session's start to its end. Work that must never happen under a running session (a wipe, an
export, a clinic stick's request) takes the same lock without waiting: when the kiosk holds it,
that work is refused in plain words instead of pulling the records from under the session.
The kernel drops the lock when its holder dies, so a crashed kiosk never blocks the clinic.

Within one process the guard is re-entrant (the stick flow holds it and then calls the wipe).

The lock is never held by a child: its fd is opened close-on-exec, and it is released with an
explicit ``LOCK_UN`` before the fd is closed. A ``flock`` belongs to the open file, which a
forked child shares until it execs; closing only our fd would leave the lock held by a child
caught between fork and exec (the voice renderer), and clinic work would be refused.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = "session.lock"
HOLD_TRIES, HOLD_PAUSE_S = 20, 0.005  # at most 0.1 s, and only while the lock is contended
# not patient words: the clinic's commands
IN_SESSION = ("The station is in the middle of a practice session. Nothing was changed. "
              "Try again when the session has ended.")

_guard = threading.local()


class SessionInProgress(Exception):
    """A practice session is running on this unit (the message is one plain sentence)."""


def lock_path(data_dir: Path) -> Path:
    """The lock file (in the spool folder, where the kiosk and usb-sync meet)."""
    d = Path(data_dir) / "spool"
    d.mkdir(parents=True, exist_ok=True)
    return d / LOCK_NAME


def _unlock(fd: int) -> None:
    """Release the lock for every copy of the fd (a forked child's too), then close ours."""
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_lock(data_dir: Path) -> int | None:
    """An fd holding the exclusive lock, or None when another holder has it."""
    fd = os.open(lock_path(data_dir), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


class SessionLock:
    """The recorder's side: held while a session runs; never raises (logs instead).

    One lock per data dir and process: a newer recorder in the same process (a restart after
    a simulated power cut) takes it over from an abandoned one, as a real restart would.
    """

    _held: dict[str, tuple[int, object]] = {}  # data dir -> (fd, owning SessionLock)

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._key = str(self.data_dir.resolve())

    def hold(self, quiet: bool = False) -> None:
        """Take the lock for a starting session (a full disk or a busy lock only logs).

        A lock that is busy for a moment is tried again briefly (another station command may
        hold it for a moment). The recorder also tries again at every later output while its
        session runs (see ``SessionRecorder``).
        """
        current = self._held.get(self._key)
        if current is not None:
            self._held[self._key] = (current[0], self)
            return
        fd = None
        for attempt in range(HOLD_TRIES):
            try:
                fd = _try_lock(self.data_dir)
            except OSError as exc:
                log.warning("session lock not taken: %s", exc)
                return
            if fd is not None:
                break
            if attempt + 1 < HOLD_TRIES:
                time.sleep(HOLD_PAUSE_S)
        if fd is None:
            (log.debug if quiet else log.warning)("session lock busy: clinic work is running on this unit")
            return
        self._held[self._key] = (fd, self)

    def release(self) -> None:
        """The session ended: let clinic work run again."""
        current = self._held.get(self._key)
        if current is not None and current[1] is self:
            del self._held[self._key]
            _unlock(current[0])

    @property
    def held(self) -> bool:
        """True while this recorder holds the lock."""
        current = self._held.get(self._key)
        return current is not None and current[1] is self


@contextmanager
def no_session(data_dir: Path) -> Iterator[None]:
    """Run the body only when no session is in progress; raises :class:`SessionInProgress`.

    The lock is held for the whole body, so no session's records can change under it.
    """
    key = str(Path(data_dir).resolve())
    held: set[str] = getattr(_guard, "held", set())
    _guard.held = held
    if key in held:  # re-entered from the same thread (the stick flow calling the wipe)
        yield
        return
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    fd = _try_lock(Path(data_dir))
    if fd is None:
        raise SessionInProgress(IN_SESSION)
    held.add(key)
    try:
        yield
    finally:
        held.discard(key)
        _unlock(fd)


def session_in_progress(data_dir: Path) -> bool:
    """True when another holder (the kiosk, mid-session) has the lock."""
    try:
        with no_session(data_dir):
            return False
    except SessionInProgress:
        return True
    except OSError:
        return False
