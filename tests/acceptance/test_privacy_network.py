"""Nothing leaves the device: a tracked kiosk session makes no IP connect or send (strace).

mediapipe 1.x carries Google's Clearcut usage logging (mediapipe issue #6291): without the
guard, a tracked run looks play.googleapis.com up over UDP. ``station.tracking.nonet`` takes IP
networking away from the process before mediapipe loads; this test runs a whole tracked
autoplay session under ``strace -f`` and reads every socket call it made.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

STRACE = shutil.which("strace")
IP = re.compile(r"AF_INET6?\b")


def _ptrace_works() -> bool:
    if STRACE is None:
        return False
    r = subprocess.run([STRACE, "-qq", "-e", "trace=none", "true"], capture_output=True)
    return r.returncode == 0


def ip_calls(trace: str) -> list[str]:
    """socket/connect/sendto/sendmsg calls on IP that succeeded (a refused socket is fine)."""
    bad = []
    for line in trace.splitlines():
        if not re.search(r"\b(socket|connect|sendto|sendmsg|sendmmsg)\(", line):
            continue
        if "socket(" in line and IP.search(line) and "EACCES" not in line:
            bad.append(line)
        elif re.search(r"sa_family=AF_INET6?\b", line):
            bad.append(line)
        elif re.search(r"\b(sendto|sendmsg|sendmmsg)\(", line) and "AF_UNIX" not in line \
                and "sa_family" in line:
            bad.append(line)
    return bad


def test_detector_sees_an_ip_send(tmp_path: Path):
    """The check itself: a plain UDP send is caught."""
    if not _ptrace_works():
        pytest.skip("strace is missing or ptrace is not allowed here")
    out = tmp_path / "trace"
    code = "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 9))"
    subprocess.run([STRACE, "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmsg", "-o", str(out),
                    sys.executable, "-c", code], check=True, capture_output=True)
    assert len(ip_calls(out.read_text())) == 2  # the socket and the send


def test_guard_refuses_ip_sockets_in_every_thread():
    code = (
        "import socket, threading\n"
        "from station.tracking.nonet import deny_ip_networking\n"
        "assert deny_ip_networking()\n"
        "res = []\n"
        "def f():\n"
        "    try: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); res.append('open')\n"
        "    except PermissionError: res.append('refused')\n"
        "t = threading.Thread(target=f); t.start(); t.join()\n"
        "socket.socket(socket.AF_UNIX).close()\n"
        "print(res[0])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "STATION_TEST_KEEP_NETWORK"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "refused"
    assert socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the test process itself is untouched


@pytest.mark.tracking
def test_tracked_demo_makes_no_ip_connect_or_send(tmp_path: Path, data_dir: Path, media, model_file):
    if not _ptrace_works():
        pytest.skip("strace is missing or ptrace is not allowed here")
    dest = data_dir / "models" / "face_landmarker.task"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_file, dest)
    trace = tmp_path / "trace"
    env = {**os.environ, "STATION_DATA": str(data_dir), "SDL_VIDEODRIVER": "dummy",
           "SDL_AUDIODRIVER": "dummy"}
    env.pop("STATION_TEST_KEEP_NETWORK", None)  # the guard exactly as a user gets it
    args = [STRACE, "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmsg,sendmmsg", "-o", str(trace),
            sys.executable, "-m", "station", "demo", "--headless", "--autoplay", "--speed", "50",
            "--video", str(media("video/single_face.mp4"))]
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    text = trace.read_text()
    import sqlite3

    with sqlite3.connect(data_dir / "records.sqlite3") as db:  # it really tracked a session
        assert db.execute("SELECT count(*) FROM reps WHERE status='done'").fetchone()[0] >= 1
    assert ip_calls(text) == [], "\n".join(ip_calls(text)[:10])
