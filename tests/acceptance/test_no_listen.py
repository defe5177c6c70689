"""The station process opens no listening socket (and no network socket at all).

Two processes are checked: the kiosk (``station demo --headless --autoplay --speed 50`` with
live tracking on a real face video and the pinned model, so the camera, tracker and mediapipe
threads run while we look) and the still screen (``station halted``). Each reports READY=1 on a
fake notify socket, as under systemd; the kiosk is then inspected over and over until its
autoplay session ends, the still screen once, through /proc/<pid>/fd and /proc/<pid>/net/*.
``STATION_NO_LISTEN_ARGS`` replaces the command line (e.g. to check ``run`` on a Pi).
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.skipif(not Path("/proc/self/net/unix").exists(), reason="needs Linux /proc"),
              pytest.mark.slow]  # three station processes started: the fast lane leaves them out

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


def _threads(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    """The processes below ``pid`` (the face model's sandboxed process)."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += [int(child), *_children(int(child))]
    except OSError:
        pass
    return out


def _watch(proc: subprocess.Popen, until_exit: bool, limit_s: float = 120.0) -> dict:
    """Inspect the process's sockets (and thread count) until it exits, or once; and the
    sockets of the face model's process below it (which must hold none at all)."""
    seen: dict = {"listening": set(), "inet": set(), "held": 0, "threads": 0, "samples": 0,
                  "model": set(), "model_sockets": 0}
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            listening, inet = listening_sockets(proc.pid), inet_sockets(proc.pid)
            held, threads = socket_inodes(proc.pid), _threads(proc.pid)
        except OSError:  # it exited between two reads
            break
        for child in _children(proc.pid):
            try:  # a child between fork and exec still holds the kiosk's descriptors: skip it
                if b"station.tracking.sandbox" not in Path(f"/proc/{child}/cmdline").read_bytes():
                    continue
                child_sockets, child_threads = socket_inodes(child), _threads(child)
            except OSError:
                continue
            seen["model"].add(child)
            seen["model_sockets"] = max(seen["model_sockets"], len(child_sockets))
            threads += child_threads
        if proc.poll() is not None:
            break
        seen["listening"].update(listening)
        seen["inet"].update(inet)
        seen["held"] = max(seen["held"], len(held))
        seen["threads"] = max(seen["threads"], threads)
        seen["samples"] += 1
        if not until_exit:
            break
        time.sleep(0.01)
    return seen


KIOSK = "demo --headless --autoplay --speed 50"


@pytest.fixture
def kiosk_args(media, model_file, data_dir) -> list[str]:  # noqa: ANN001
    """The kiosk demo with live tracking on a real face video; the model in the data dir."""
    dest = data_dir / "models" / "face_landmarker.task"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_file, dest)
    return [*shlex.split(KIOSK), "--video", str(media("video/single_face.mp4"))]


@pytest.mark.parametrize(
    "case", [pytest.param("kiosk", marks=pytest.mark.tracking), "halted"])
def test_station_process_opens_no_listening_socket(tmp_path, data_dir, request, case):
    """The kiosk (camera, tracker and mediapipe threads running) and the still screen."""
    extra = os.environ.get("STATION_NO_LISTEN_ARGS")
    if extra:
        cli = shlex.split(extra)
    elif case == "kiosk":
        cli = request.getfixturevalue("kiosk_args")
    else:
        cli = ["halted"]
    args = [sys.executable, "-m", "station", *cli]
    proc, ready = _start_and_wait_ready(args, tmp_path, {"STATION_DATA": str(data_dir)})
    try:
        assert ready or extra, f"station {cli[0]} never reported READY=1: {_stderr(proc)}"
        seen = _watch(proc, until_exit=case == "kiosk")
        if case == "halted":
            assert proc.poll() is None, f"station halted exited early: {_stderr(proc)}"
    finally:
        if proc.poll() is None:
            _stop(proc)
    assert seen["samples"] >= 1
    assert seen["held"] >= 1  # it talked to the notify socket, so the inspection sees a socket
    assert seen["listening"] == set()
    assert seen["inet"] == set()
    if case == "kiosk" and not extra:
        assert proc.returncode == 0, _stderr(proc)  # the autoplay session completed
        # camera, tracker and (in the model's process) mediapipe's threads ran while we looked
        assert seen["threads"] >= 4, seen
        assert seen["model"] and seen["model_sockets"] == 0, seen
        with sqlite3.connect(data_dir / "records.sqlite3") as db:
            reps = db.execute("SELECT count(*) FROM reps WHERE status='done'").fetchone()[0]
        assert reps >= 1


def _stderr(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        return "(still running)"
    return proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
