"""The station process opens no listening socket (and no network socket at all).

By default the long-running process checked is ``station halted`` (the still screen: real
pygame on the SDL dummy driver, waits for ever). Point the check at the kiosk with e.g.
``STATION_NO_LISTEN_ARGS="demo --headless --autoplay --speed 50 --no-tracking"``. The process
is inspected once it reports READY=1 on a fake notify socket (or after a grace period for
commands that do not notify), through /proc/<pid>/fd and /proc/<pid>/net/*.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/net/unix").exists(), reason="needs Linux /proc"
)

TCP_LISTEN = "0A"
UNIX_ACCEPTCON = 0x00010000


def socket_inodes(pid: int) -> set[str]:
    """Inodes of every socket the process holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def listening_sockets(pid: int) -> list[str]:
    """Listening (TCP, unix) or bound (UDP) sockets owned by the process, described."""
    mine = socket_inodes(pid)
    found = []
    net = Path(f"/proc/{pid}/net")
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        f = net / proto
        if not f.exists():
            continue
        for row in f.read_text().splitlines()[1:]:
            cols = row.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if inode in mine and (proto.startswith("udp") or state == TCP_LISTEN):
                found.append(f"{proto} {local}")
    for row in (net / "unix").read_text().splitlines()[1:]:
        cols = row.split()
        flags, inode = int(cols[3], 16), cols[6]
        if inode in mine and flags & UNIX_ACCEPTCON:
            found.append(f"unix {cols[7] if len(cols) > 7 else '(unnamed)'}")
    return found


def inet_sockets(pid: int) -> list[str]:
    """Any TCP/UDP socket at all owned by the process."""
    mine = socket_inodes(pid)
    out = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        f = Path(f"/proc/{pid}/net/{proto}")
        if f.exists():
            out += [
                f"{proto} {r.split()[1]}"
                for r in f.read_text().splitlines()[1:]
                if r.split()[9] in mine
            ]
    return out


def _start_and_wait_ready(
    args: list[str], tmp_path: Path, env_extra: dict[str, str], grace_s: float = 20.0
) -> tuple[subprocess.Popen, bool]:
    notify = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.settimeout(grace_s)
    env = dict(
        os.environ,
        NOTIFY_SOCKET=str(notify),
        SDL_VIDEODRIVER="dummy",
        SDL_AUDIODRIVER="dummy",
        **env_extra,
    )
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ready = False
    try:
        while not ready:
            msg = sock.recv(4096).decode()
            ready = "READY=1" in msg
    except TimeoutError:
        pass
    finally:
        sock.close()
    return proc, ready


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=10)


def test_detector_sees_a_listener(tmp_path):
    """Control: a process that does listen (TCP and unix) is caught."""
    code = (
        "import os, socket\n"
        "t = socket.socket(); t.bind(('127.0.0.1', 0)); t.listen()\n"
        f"u = socket.socket(socket.AF_UNIX); u.bind({str(tmp_path / 'l.sock')!r}); u.listen()\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
        "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
        "import time\n"
        "while True: time.sleep(1)\n"
    )
    proc, ready = _start_and_wait_ready([sys.executable, "-c", code], tmp_path, {})
    try:
        assert ready
        found = listening_sockets(proc.pid)
    finally:
        _stop(proc)
    assert any(f.startswith("tcp ") for f in found), found
    assert any(f.startswith("unix ") and "l.sock" in f for f in found), found


def test_station_process_opens_no_listening_socket(tmp_path, data_dir):
    extra = os.environ.get("STATION_NO_LISTEN_ARGS", "halted")
    args = [sys.executable, "-m", "station", *shlex.split(extra)]
    proc, ready = _start_and_wait_ready(args, tmp_path, {"STATION_DATA": str(data_dir)})
    try:
        assert proc.poll() is None, (
            f"station {extra} exited early: {proc.stderr.read().decode()[-2000:]}"
        )
        assert ready or extra != "halted", "station halted never reported READY=1"
        listening = listening_sockets(proc.pid)
        inet = inet_sockets(proc.pid)
        held = socket_inodes(proc.pid)
    finally:
        _stop(proc)
    if ready:  # it talked to the notify socket, so the inspection must see a socket
        assert held
    assert listening == []
    assert inet == []
