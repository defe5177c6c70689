"""Serving the desk: plain HTTP on this computer, HTTPS for the clinic network.

On 127.0.0.1 the desk is served by waitress over plain HTTP (nothing crosses a network). Any
other address carries passwords and patient data over the clinic network, so it needs TLS:
either the desk's own (``--tls-cert``/``--tls-key``, PEM files; waitress has no TLS, so the
desk is then served by cheroot with Python's ``ssl``, TLS 1.2 or newer), or a reverse proxy
that terminates TLS in front of it (``--behind-proxy``: the desk then trusts one proxy's
X-Forwarded-For/-Proto). Either way the session cookie is marked Secure. The address is bound
before the desk says where it is, so a port in use is one plain sentence, and the port said is
the port bound.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from station.errors import UsageError
from station.files import read_limited

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
THREADS = 4


@dataclass(frozen=True)
class Plan:
    """Where and how the desk listens."""

    host: str
    port: int
    tls_cert: str | None
    tls_key: str | None
    behind_proxy: bool

    @property
    def tls(self) -> bool:
        """The desk terminates TLS itself."""
        return self.tls_cert is not None

    @property
    def secure(self) -> bool:
        """Browsers reach the desk over HTTPS only (here or at the proxy): Secure cookies."""
        return self.tls or self.behind_proxy

    @property
    def scheme(self) -> str:
        """What the address the desk prints starts with."""
        return "https" if self.secure else "http"


def plan(host: str, port: int, tls_cert: str | None, tls_key: str | None, behind_proxy: bool) -> Plan:
    """Check the serving options (UsageError with the reason) and return the plan."""
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("give both --tls-cert and --tls-key (PEM files), or neither")
    if tls_cert is not None and behind_proxy:
        raise UsageError("--behind-proxy means a proxy terminates TLS: leave out --tls-cert and --tls-key")
    for what, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None:
            try:
                read_limited(path)  # a regular file of sane size: never a FIFO or a device
            except (OSError, ValueError) as exc:
                raise UsageError(f"{what} {path[:200]}: cannot be read ({exc})") from None
    p = Plan(host, port, tls_cert, tls_key, behind_proxy)
    if host not in LOOPBACK and not p.secure:
        raise UsageError(
            f"refusing to listen on {host} over plain HTTP: passwords and patient data would cross the "
            "clinic network in clear. Give --tls-cert FILE --tls-key FILE, or --behind-proxy when a "
            "reverse proxy terminates HTTPS in front of the desk, or keep the default 127.0.0.1.")
    return p


def _cannot_listen(p: Plan, exc: OSError) -> UsageError:
    if exc.errno == errno.EADDRINUSE:
        return UsageError(f"port {p.port} on {p.host} is in use (is a desk running already?): "
                          "stop it or give another --port")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return UsageError(f"port {p.port} on {p.host} needs more rights: give a --port above 1023")
    return UsageError(f"cannot listen on {p.host} port {p.port}: {exc.strerror or exc}")


def serve(app: Any, p: Plan, say: Callable[[str], None]) -> None:
    """Bind, say where the desk is, then serve until Ctrl+C (UsageError when it cannot bind)."""
    try:
        run, stop = _cheroot(app, p) if p.tls else _waitress(app, p)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {p.host}: {exc.strerror or exc}") from None
    except OSError as exc:
        raise _cannot_listen(p, exc) from None
    shown = {"0.0.0.0": "127.0.0.1", "::": "127.0.0.1", "::1": "localhost"}.get(p.host, p.host)  # names it answers to
    shown = f"[{shown}]" if ":" in shown else shown
    say(f"Clinic desk at {p.scheme}://{shown}:{p.port}/ (Ctrl+C stops it)")
    try:
        run()
    finally:
        stop()


def _waitress(app: Any, p: Plan) -> tuple[Callable[[], None], Callable[[], None]]:
    from waitress.server import create_server

    server = create_server(app, host=p.host, port=p.port, threads=THREADS, ident="station-desk")
    return server.run, server.close


def _cheroot(app: Any, p: Plan) -> tuple[Callable[[], None], Callable[[], None]]:
    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    assert p.tls_cert is not None and p.tls_key is not None
    try:
        adapter = BuiltinSSLAdapter(p.tls_cert, p.tls_key)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise UsageError(f"the TLS certificate or key cannot be used ({exc})") from None
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    server = wsgi.Server((p.host, p.port), app, numthreads=THREADS, server_name="station-desk")
    server.ssl_adapter = adapter
    server.prepare()  # binds now: a port in use is an OSError here
    return server.serve, server.stop
