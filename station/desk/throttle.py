"""Login throttling: wrong passwords cost the guesser time, never the desk's CPU.

A password check is an argon2 hash (about 0.15 s of a core and 64 MiB), so unthrottled
guessing is both a brute force and a denial of service. Each client address and each account
name gets a few free failures; after that every failure blocks further attempts from that
address, or on that account, for a time that doubles up to a ceiling. A blocked attempt is
refused before any hashing. A count with no failure for a day starts again from zero.

Where the counts live: the desk's app keeps them in its database (:class:`DbCounts`, the
``login_failures`` table), so they hold across every thread of ``station desk serve``, across
several desk processes, and across the clinic computers that share one PostgreSQL registry: a
guesser gains nothing by spreading tries over desks. Times there are wall-clock seconds (the
one clock several computers share). Without a database (:class:`MemoryCounts`) they are one
process's, on the monotonic clock. Either way the number of keys is bounded (the oldest go).

On top, at most one password is hashed at a time in a desk process: a crowd of guessers from
many addresses queues for one core, while signed-in pages keep the others.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from station.desk import db

ADDRESS_FREE = 5  # failures from one address before it waits
ACCOUNT_FREE = 10  # failures on one account name (from anywhere) before it waits
FIRST_WAIT_S = 15.0
MAX_WAIT_S = 900.0  # 15 minutes: a locked-out colleague is never locked out for long
FORGET_S = 86400.0  # a day without a failure: the count starts again
MAX_KEYS = 10_000  # per kind (addresses, names)
HASH_WAIT_S = 0.3  # how long an attempt waits for the one hashing slot before "busy"
ADDRESS, ACCOUNT = "address", "account"


def blocked_until(failures: int, free: int, now: float) -> float:
    """When the ``failures``-th failure (of ``free`` free ones) lets the next try in."""
    if failures < free:
        return 0.0
    return now + min(MAX_WAIT_S, FIRST_WAIT_S * 2.0 ** min(failures - free, 16))


class Counts(Protocol):
    """Where failures are counted: per (kind, key), with the time the key is blocked until."""

    def blocked(self, kind: str, key: str) -> float:
        """The time ``key`` is blocked until (0: not blocked)."""

    def fail(self, kind: str, key: str, free: int, now: float) -> None:
        """Count one failure at ``now``; block past ``free`` failures."""

    def clear(self, kind: str, key: str) -> None:
        """Forget ``key`` (a right password)."""

    def __len__(self) -> int:
        """How many keys are counted."""


@dataclass
class _Entry:
    failures: int = 0
    blocked_until: float = 0.0
    last_failed: float = 0.0


class MemoryCounts:
    """One process's counts, bounded (least recently failed keys dropped first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[str, OrderedDict[str, _Entry]] = {ADDRESS: OrderedDict(), ACCOUNT: OrderedDict()}

    def __len__(self) -> int:
        return sum(len(t) for t in self._tables.values())

    def blocked(self, kind: str, key: str) -> float:
        with self._lock:
            e = self._tables[kind].get(key)
            return e.blocked_until if e else 0.0

    def fail(self, kind: str, key: str, free: int, now: float) -> None:
        with self._lock:
            table = self._tables[kind]
            e = table.pop(key, None)
            if e is None or now - e.last_failed > FORGET_S:
                e = _Entry()
            e.failures += 1
            e.last_failed = now
            e.blocked_until = blocked_until(e.failures, free, now)
            table[key] = e  # most recent last
            while len(table) > MAX_KEYS:
                table.popitem(last=False)

    def clear(self, kind: str, key: str) -> None:
        with self._lock:
            self._tables[kind].pop(key, None)


class DbCounts:
    """The counts in the desk database's ``login_failures`` table, each change its own short
    transaction (an atomic increment first, so concurrent failures from other threads,
    processes or computers are all counted)."""

    def __init__(self, factory: Callable[[], Session]) -> None:
        self._factory = factory

    def __len__(self) -> int:
        with self._factory() as s:
            return int(s.scalar(select(func.count()).select_from(db.LoginFailure)) or 0)

    def blocked(self, kind: str, key: str) -> float:
        with self._factory() as s:
            until = s.scalar(select(db.LoginFailure.blocked_until).where(
                db.LoginFailure.kind == kind, db.LoginFailure.key == key))
        return float(until or 0.0)

    def fail(self, kind: str, key: str, free: int, now: float) -> None:
        row = db.LoginFailure
        this = (row.kind == kind, row.key == key)
        for _ in range(3):  # a racing first failure on the same key inserted first: count again
            try:
                with self._factory() as s, s.begin():
                    # a write comes first: it takes the row (PostgreSQL) or the write lock
                    # (SQLite) at once, so the read below sees every failure counted before
                    s.execute(update(row).where(*this, row.last_failed < now - FORGET_S)
                              .values(failures=0, blocked_until=0.0))
                    done = s.execute(update(row).where(*this)
                                     .values(failures=row.failures + 1, last_failed=now))
                    if not getattr(done, "rowcount", 0):
                        s.add(row(kind=kind, key=key, failures=1, blocked_until=0.0, last_failed=now))
                        s.flush()
                    n = int(s.scalar(select(row.failures).where(*this)) or 1)
                    s.execute(update(row).where(*this).values(blocked_until=blocked_until(n, free, now)))
                    self._prune(s, kind, now)
                return
            except IntegrityError:
                continue

    @staticmethod
    def _prune(s: Session, kind: str, now: float) -> None:
        """Forgotten keys go; past MAX_KEYS of a kind, the least recently failed go too."""
        row = db.LoginFailure
        s.execute(delete(row).where(row.last_failed < now - FORGET_S, row.blocked_until < now))
        keys = int(s.scalar(select(func.count()).select_from(row).where(row.kind == kind)) or 0)
        if keys > MAX_KEYS:
            oldest = list(s.scalars(select(row.key).where(row.kind == kind)
                                    .order_by(row.last_failed).limit(keys - MAX_KEYS)))
            s.execute(delete(row).where(row.kind == kind, row.key.in_(oldest)))

    def clear(self, kind: str, key: str) -> None:
        with self._factory() as s, s.begin():
            s.execute(delete(db.LoginFailure).where(db.LoginFailure.kind == kind,
                                                    db.LoginFailure.key == key))


class LoginThrottle:
    """Failure counts per address and per account name, with growing blocks.

    ``store``: the desk's session factory (counts in its database, wall clock); without one
    the counts are this process's (monotonic clock). ``clock`` overrides the clock (tests).
    """

    def __init__(self, clock: Callable[[], float] | None = None,
                 store: Callable[[], Session] | None = None) -> None:
        self.counts: Counts = DbCounts(store) if store is not None else MemoryCounts()
        self._clock = clock or (time.time if store is not None else time.monotonic)
        self._hashing = threading.Semaphore(1)

    def __len__(self) -> int:
        return len(self.counts)

    @staticmethod
    def _keys(address: str, name: str) -> tuple[tuple[str, str, int], ...]:
        return ((ADDRESS, address[:64], ADDRESS_FREE), (ACCOUNT, name.strip().lower()[:64], ACCOUNT_FREE))

    def wait_s(self, address: str, name: str) -> float:
        """Seconds until an attempt from ``address`` on ``name`` may be checked (0: now)."""
        now = self._clock()
        waits = [self.counts.blocked(kind, key) - now for kind, key, _free in self._keys(address, name)]
        return max([0.0, *waits])

    def failed(self, address: str, name: str) -> None:
        """Count a wrong password; past the free failures, block for a doubling time."""
        now = self._clock()
        for kind, key, free in self._keys(address, name):
            self.counts.fail(kind, key, free, now)

    def succeeded(self, address: str, name: str) -> None:
        """A right password clears that address and that account."""
        for kind, key, _free in self._keys(address, name):
            self.counts.clear(kind, key)

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
