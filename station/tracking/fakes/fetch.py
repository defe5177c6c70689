"""Fetching sample media where the network guard cannot reach, tried again with backoff.

The face model's process takes IP networking away from itself (:mod:`station.tracking.nonet`),
and a child inherits that: a ``pip download`` started after the guard can never fetch
anything. So the demo starts one small helper process *before* the guard goes up
(:meth:`MediaFetcher.start`); every fetch, first or retried, is a request to it over its
stdin/stdout pipes, and the helper runs pip. The helper exits when its stdin closes (the
demo ended or died).

A failed fetch is tried again after :data:`RETRY_S` (1 min, 10 min, 20 min, then every 30 min:
never more than a few times an hour), and only while a session runs (never while the kiosk
sits idle at home). :meth:`MediaFetcher.words` says, in one plain sentence, what is happening
meanwhile. Commands that do not keep running (``station bench``) call :func:`prefetch` before
anything loads the model instead.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from station.practice import words
from station.tracking.fakes.samples import SampleError, sample_path

log = logging.getLogger(__name__)

RETRY_S: tuple[float, ...] = (60.0, 600.0, 1200.0, 1800.0)

FETCHING = words.DEMO_MEDIA_FETCHING
FAILED = words.DEMO_MEDIA_FAILED


def prefetch(names: Iterable[str]) -> dict[str, str]:
    """Fetch ``names`` now, in this process (call before the network guard goes up).

    Returns the problems by sample name (empty when every sample is here); never raises.
    """
    problems: dict[str, str] = {}
    for name in names:
        try:
            sample_path(name)
        except SampleError as exc:
            problems[name] = str(exc)
    return problems


class MediaFetcher:
    """Fetches pinned samples through a helper process started before the network guard.

    :meth:`path` is cheap and never blocks: the verified local path, or None while the sample
    is being fetched or after a failed try (it then starts the next try when one is due).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 retry_s: tuple[float, ...] = RETRY_S) -> None:
        self._clock = clock
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._io = threading.Lock()  # one request on the pipes at a time
        self._proc: subprocess.Popen[str] | None = None
        self._busy: set[str] = set()
        self._failures: dict[str, int] = {}
        self._next_at: dict[str, float] = {}
        self._done: dict[str, Path] = {}
        self._threads: list[threading.Thread] = []
        self.active = False  # a session runs: retries are allowed
        self.tries = 0

    def start(self) -> MediaFetcher:
        """Start the helper process now (before anything loads the face model)."""
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "station.tracking.fakes.fetch"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, bufsize=1)
        return self

    def close(self) -> None:
        """Let the helper go (it exits when its stdin closes)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()

    def local(self, name: str) -> Path | None:
        """The verified local copy of ``name``, or None (no fetching)."""
        if name in self._done:
            return self._done[name]
        try:
            path = sample_path(name, fetch=False)
        except SampleError:
            return None
        self._done[name] = path
        return path

    def path(self, name: str) -> Path | None:
        """The sample's local path; else start a try when due and return None."""
        found = self.local(name)
        if found is not None:
            return found
        with self._lock:
            if name in self._busy:
                return None
            failures = self._failures.get(name, 0)
            if failures and (not self.active or self._clock() < self._next_at.get(name, 0.0)):
                return None
            self._busy.add(name)
        thread = threading.Thread(target=self._fetch, args=(name,), name="media-fetch", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return None

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the running fetches to end (tests and benches)."""
        for t in list(self._threads):
            t.join(timeout)

    def busy(self, name: str | None = None) -> bool:
        """A fetch is running (of ``name``, or of any sample)."""
        with self._lock:
            return bool(self._busy) if name is None else name in self._busy

    def failed(self, name: str) -> bool:
        """The last try of ``name`` failed (and no other is running)."""
        with self._lock:
            return name not in self._busy and self._failures.get(name, 0) > 0

    def words(self, name: str) -> str:
        """One plain sentence about ``name`` for the screen ("" when it is here)."""
        if self.local(name) is not None:
            return ""
        if self.failed(name):
            return FAILED
        return FETCHING

    def _fetch(self, name: str) -> None:
        self.tries += 1
        ok, why = False, "the fetch helper is not running"
        proc = self._proc
        try:
            with self._io:
                if proc is not None and proc.stdin is not None and proc.stdout is not None \
                        and proc.poll() is None:
                    proc.stdin.write(name + "\n")
                    proc.stdin.flush()
                    answer = proc.stdout.readline().strip()
                    ok, why = answer == "ok", answer.removeprefix("error ") or "the helper ended"
        except (OSError, ValueError) as exc:
            why = str(exc)
        with self._lock:
            self._busy.discard(name)
            if ok and self.local(name) is not None:
                self._failures.pop(name, None)
                log.info("fetched %s", name)
                return
            n = self._failures.get(name, 0)
            self._failures[name] = n + 1
            delay = self._retry_s[min(n, len(self._retry_s) - 1)]
            self._next_at[name] = self._clock() + delay
        log.warning("could not fetch %s (%s); trying again in %.0f min, during a session",
                    name, why, delay / 60)


def serve() -> int:
    """The helper process: one sample name per stdin line, ``ok`` or ``error ...`` per line."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        try:
            sample_path(name)
            answer = "ok"
        except SampleError as exc:
            answer = "error " + " ".join(str(exc).split())
        print(answer, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve())
