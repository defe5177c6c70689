"""sd_notify without dependencies: tell systemd the kiosk is up and its UI loop is alive.

``station.service`` is ``Type=notify`` with ``WatchdogSec=``: systemd waits for ``READY=1``
and then expects ``WATCHDOG=1`` at least once per watchdog period. The kiosk's UI loop calls
:meth:`Notifier.heartbeat` once per frame; this module sends at most one datagram per half
period (``$WATCHDOG_USEC / 2``), so a hung loop stops the heartbeats and systemd restarts the
service. Without ``$NOTIFY_SOCKET`` (a laptop, the tests, ``station demo``) every call is a
no-op. The protocol is one AF_UNIX datagram of ``KEY=VALUE`` lines; an address starting with
``@`` is in the abstract namespace (a leading NUL byte).

Wiring into the kiosk loop: a :class:`Notifier` is the kiosk's ``Services.watchdog``
(:mod:`station.kiosk.services`, built in :mod:`station.kiosk.wiring`); the loop calls its
``ready()`` once and ``heartbeat()`` every frame.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

Clock = Callable[[], float]


def _address(raw: str) -> str | bytes:
    """Turn ``$NOTIFY_SOCKET`` into a socket address (``@name`` -> abstract namespace)."""
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    return raw


def watchdog_period(env: Mapping[str, str] | None = None) -> float | None:
    """The service's watchdog period in seconds, or None when no watchdog applies to us.

    ``$WATCHDOG_PID``, when set, names the process the watchdog is meant for; another process
    (a child) must not feed it.
    """
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None


class Notifier:
    """Sends sd_notify messages; safe to call from the UI loop every frame.

    ``clock`` is injected (monotonic seconds) so tests drive the rate limit without sleeping.
    Send errors are logged once and never raised: the kiosk keeps running either way (if
    systemd stops hearing from it, systemd restarts it, which is the intended recovery).
    """

    def __init__(
        self,
        socket_path: str | None,
        watchdog_s: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._address = _address(socket_path) if socket_path else None
        self._sock: socket.socket | None = None
        self._clock = clock
        self.interval = watchdog_s / 2 if watchdog_s else None
        self._last_beat: float | None = None
        self._warned = False
        self.sent: int = 0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, clock: Clock = time.monotonic
    ) -> Notifier:
        """A notifier for ``$NOTIFY_SOCKET`` / ``$WATCHDOG_USEC`` (no-op when unset)."""
        env = os.environ if env is None else env
        return cls(env.get("NOTIFY_SOCKET") or None, watchdog_period(env), clock)

    @property
    def enabled(self) -> bool:
        """True when there is a notify socket to talk to."""
        return self._address is not None

    def notify(self, message: str) -> bool:
        """Send one raw sd_notify message; True when it was handed to the socket."""
        if self._address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message.encode("utf-8", "replace"), self._address)
        except OSError as exc:
            if not self._warned:
                log.warning("sd_notify to %r failed: %s", self._address, exc)
                self._warned = True
            return False
        self.sent += 1
        return True

    def ready(self) -> None:
        """The kiosk is up (first frame drawn): systemd marks the service started."""
        self.notify("READY=1\nSTATUS=Running")
        self._last_beat = self._clock()

    def status(self, text: str) -> None:
        """A one-line status shown by ``systemctl status station``."""
        self.notify("STATUS=" + text.replace("\n", " ")[:200])

    def heartbeat(self) -> bool:
        """Feed the watchdog, at most once per half period; True when a datagram was sent."""
        if self._address is None or self.interval is None:
            return False
        now = self._clock()
        if self._last_beat is not None and now - self._last_beat < self.interval:
            return False
        self._last_beat = now
        return self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        """The kiosk is shutting down on purpose."""
        self.notify("STOPPING=1")

    def close(self) -> None:
        """Close the socket (further calls reopen it)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


@dataclass
class Supervisor:
    """What systemd does with ``WatchdogSec=``, in miniature, for tests and ``station doctor``.

    Call :meth:`beat` for each ``WATCHDOG=1`` received and :meth:`expired` to ask whether the
    deadline passed without one.
    """

    period_s: float
    clock: Clock = time.monotonic
    last: float | None = None

    def beat(self) -> None:
        """A heartbeat arrived now."""
        self.last = self.clock()

    def expired(self) -> bool:
        """True once a whole period passed since the last heartbeat (or since start)."""
        if self.last is None:
            self.last = self.clock()
        return self.clock() - self.last > self.period_s
