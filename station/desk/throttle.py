"""Login throttling: wrong passwords cost the guesser time, never the desk's CPU.

A password check is an argon2 hash (about 0.15 s of a core and 64 MiB), so unthrottled
guessing is both a brute force and a denial of service. Each client address and each account
name gets a few free failures; after that every failure blocks further attempts from that
address, or on that account, for a time that doubles up to a ceiling. A blocked attempt is
refused before any hashing. On top, at most one password is hashed at a time: a crowd of
guessers from many addresses queues for one core, while signed-in pages keep the others.
Memory stays bounded (the oldest entries are dropped). State is per desk process, which is
the desk's unit of deployment.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ADDRESS_FREE = 5  # failures from one address before it waits
ACCOUNT_FREE = 10  # failures on one account name (from anywhere) before it waits
FIRST_WAIT_S = 15.0
MAX_WAIT_S = 900.0  # 15 minutes: a locked-out colleague is never locked out for long
MAX_KEYS = 10_000  # per kind (addresses, names)
HASH_WAIT_S = 0.3  # how long an attempt waits for the one hashing slot before "busy"


@dataclass
class _Entry:
    failures: int = 0
    blocked_until: float = 0.0


class LoginThrottle:
    """Failure counts per address and per account name, with growing blocks."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._hashing = threading.Semaphore(1)
        self._addresses: OrderedDict[str, _Entry] = OrderedDict()
        self._names: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._addresses) + len(self._names)

    @staticmethod
    def _name_key(name: str) -> str:
        return name.strip().lower()[:64]

    def wait_s(self, address: str, name: str) -> float:
        """Seconds until an attempt from ``address`` on ``name`` may be checked (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [e.blocked_until - now for e in (self._addresses.get(address),
                                                     self._names.get(self._name_key(name))) if e]
        return max([0.0, *waits])

    def failed(self, address: str, name: str) -> None:
        """Count a wrong password; past the free failures, block for a doubling time."""
        now = self._clock()
        with self._lock:
            for table, key, free in ((self._addresses, address, ADDRESS_FREE),
                                     (self._names, self._name_key(name), ACCOUNT_FREE)):
                entry = table.pop(key, None) or _Entry()
                entry.failures += 1
                if entry.failures >= free:
                    wait = min(MAX_WAIT_S, FIRST_WAIT_S * 2.0 ** min(entry.failures - free, 16))
                    entry.blocked_until = now + wait
                table[key] = entry  # most recent last
                while len(table) > MAX_KEYS:
                    table.popitem(last=False)

    def succeeded(self, address: str, name: str) -> None:
        """A right password clears that address and that account."""
        with self._lock:
            self._addresses.pop(address, None)
            self._names.pop(self._name_key(name), None)

    @contextmanager
    def hashing_slot(self) -> Iterator[bool]:
        """Yields True while this thread holds the one password-hashing slot, False when the
        desk is busy checking another sign-in (then answer "busy" and do not hash)."""
        got = self._hashing.acquire(timeout=HASH_WAIT_S)
        try:
            yield got
        finally:
            if got:
                self._hashing.release()


def in_words(seconds: float) -> str:
    """A wait in plain words, rounded up: "1 minute", "3 minutes", "20 seconds"."""
    if seconds <= 60:
        return f"{max(1, int(seconds + 0.999))} seconds"
    minutes = int(seconds / 60 + 0.999)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
