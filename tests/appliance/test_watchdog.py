"""The sd_notify path against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from station.appliance.watchdog import Notifier, Supervisor, watchdog_period


@pytest.fixture
def notify_socket(tmp_path):
    """A bound datagram socket, as systemd's $NOTIFY_SOCKET; yields (path, receive)."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)

    def receive() -> list[str]:
        out = []
        while True:
            try:
                out.append(sock.recv(4096).decode())
            except BlockingIOError:
                return out

    yield str(path), receive
    sock.close()


def test_no_socket_is_a_quiet_no_op(clock):
    n = Notifier.from_env({}, clock=clock)
    assert not n.enabled
    n.ready()
    n.status("x")
    assert n.heartbeat() is False
    n.stopping()
    assert n.sent == 0


def test_watchdog_period_from_env():
    assert watchdog_period({"WATCHDOG_USEC": "10000000"}) == 10.0
    assert watchdog_period({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}) == 10.0
    assert watchdog_period({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_period({"WATCHDOG_USEC": "junk"}) is None
    assert watchdog_period({}) is None


def test_ready_status_stopping_reach_the_socket(notify_socket, clock):
    path, receive = notify_socket
    n = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"}, clock=clock)
    n.ready()
    n.status("Calibrating\nplease wait")
    n.stopping()
    assert receive() == ["READY=1\nSTATUS=Running", "STATUS=Calibrating please wait", "STOPPING=1"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract sockets are Linux only")
def test_abstract_namespace_address(clock):
    name = f"station-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        n = Notifier("@" + name, 10.0, clock)
        n.ready()
        assert sock.recv(100) == b"READY=1\nSTATUS=Running"
    finally:
        sock.close()


def test_send_failure_never_raises(tmp_path, clock):
    n = Notifier(str(tmp_path / "nobody-listens"), 10.0, clock)
    n.ready()
    assert n.heartbeat() is False
    assert n.sent == 0


def test_heartbeats_flow_while_the_loop_steps_and_stop_when_it_hangs(notify_socket, clock):
    """A fake UI loop at 30 fps for 60 s, then hung: the supervisor sees the deadline pass."""
    path, receive = notify_socket
    n = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"}, clock=clock)
    sup = Supervisor(period_s=10.0, clock=clock)
    n.ready()
    receive()
    sup.beat()

    beats = 0
    for _frame in range(30 * 60):  # the loop runs: one heartbeat() per frame
        clock.advance(1 / 30)
        n.heartbeat()
        for msg in receive():
            assert msg == "WATCHDOG=1"
            sup.beat()
            beats += 1
        assert not sup.expired()
    # rate limited to half the period: about 60 s / 5 s, not 1800 datagrams
    assert 11 <= beats <= 13

    # the loop hangs: no more heartbeat() calls; time goes on
    clock.t = sup.last + 9.9
    assert receive() == []
    assert not sup.expired()  # the last beat is still within the period
    clock.advance(0.2)
    assert sup.expired()  # systemd would now kill and restart the service


def test_loop_resumes_after_a_slow_frame(notify_socket, clock):
    path, receive = notify_socket
    n = Notifier(path, 10.0, clock)
    n.ready()
    receive()
    clock.advance(4.0)
    assert n.heartbeat() is False  # too soon: under half the period
    clock.advance(1.5)
    assert n.heartbeat() is True
    assert receive() == ["WATCHDOG=1"]
