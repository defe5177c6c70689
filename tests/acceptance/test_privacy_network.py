"""Nothing leaves the device: a tracked run makes no DNS query, IP connect or send (strace).

mediapipe 1.x carries Google's Clearcut usage logging (mediapipe issue #6291): unguarded, a
tracked run looks play.googleapis.com up, over UDP or, with a name-cache daemon running, by
asking nscd over its Unix socket. The face model runs in its own process that has no socket
of any family (``station.tracking.sandbox``); these tests start nscd (as root) and run whole
tracked commands under ``strace -f``, reading every socket call of the whole process tree.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

STRACE = shutil.which("strace")
IP = re.compile(r"AF_INET6?\b")
NSCD_SOCKETS = ("/var/run/nscd/socket", "/run/nscd/socket")
TRACED = "trace=socket,connect,sendto,sendmsg,sendmmsg,execve"


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
        elif "nscd" in line and not re.search(r"= -1 E", line):  # a question to the name cache
            bad.append(line)
    return bad


def _nscd_answers(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2.0)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture
def nscd():
    """A running name-cache daemon (started here as root when none runs; stopped after)."""
    running = next((p for p in NSCD_SOCKETS if _nscd_answers(p)), None)
    if running:
        yield running
        return
    exe = shutil.which("nscd") or next((p for p in ("/usr/sbin/nscd",) if Path(p).exists()), None)
    if exe is None:
        pytest.skip("nscd is not installed (scripts/system-deps.sh installs it as root)")
    if os.geteuid() != 0:
        pytest.skip("nscd is not running and only root can start it")
    started = subprocess.run([exe], capture_output=True, text=True, timeout=30)
    if started.returncode != 0:
        pytest.skip(f"nscd could not start: {started.stderr.strip()[-200:]}")
    try:
        deadline = time.monotonic() + 10.0
        while (path := next((p for p in NSCD_SOCKETS if _nscd_answers(p)), None)) is None:
            if time.monotonic() > deadline:
                pytest.skip("nscd started but its socket never answered")
            time.sleep(0.05)  # the daemon forks and binds its socket
        yield path
    finally:
        subprocess.run([exe, "-K"], capture_output=True, timeout=30)


def test_detector_sees_an_ip_send(tmp_path: Path):
    """The check itself: a plain UDP send is caught."""
    if not _ptrace_works():
        pytest.skip("strace is missing or ptrace is not allowed here")
    out = tmp_path / "trace"
    code = "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 9))"
    subprocess.run([STRACE, "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmsg", "-o", str(out),
                    sys.executable, "-c", code], check=True, capture_output=True)
    assert len(ip_calls(out.read_text())) == 2  # the socket and the send


def test_detector_sees_a_question_to_nscd(tmp_path: Path, nscd: str):
    """The check itself: an unconfined look-up of the logging host asks nscd, and is caught."""
    if not _ptrace_works():
        pytest.skip("strace is missing or ptrace is not allowed here")
    out = tmp_path / "trace"
    code = ("import socket\ntry: socket.getaddrinfo('play.googleapis.com', 443)\n"
            "except OSError: pass")
    subprocess.run([STRACE, "-f", "-qq", "-e", TRACED, "-o", str(out), sys.executable, "-c", code],
                   check=True, capture_output=True, timeout=60)
    assert [x for x in ip_calls(out.read_text()) if "nscd" in x]


def test_the_model_process_refuses_sockets_in_every_thread():
    code = (
        "import socket, threading\n"
        "from station.tracking.sandbox import confine\n"
        "assert confine(set())\n"
        "res = []\n"
        "def f():\n"
        "    for fam in (socket.AF_INET6, socket.AF_UNIX):\n"
        "        try: socket.socket(fam, socket.SOCK_DGRAM); res.append('open')\n"
        "        except PermissionError: res.append('refused')\n"
        "t = threading.Thread(target=f); t.start(); t.join()\n"
        "print(' '.join(res))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "refused refused"
    assert socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the test process itself is untouched


def _traced_run(args: list[str], trace: Path, env: dict[str, str]) -> str:
    r = subprocess.run([STRACE, "-f", "-qq", "-e", TRACED, "-o", str(trace), sys.executable, "-m",
                        "station", *args], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    text = trace.read_text()
    assert "station.tracking.sandbox" in text  # the model's process was traced too
    return text


@pytest.mark.slow
@pytest.mark.tracking
def test_tracked_demo_makes_no_dns_query_ip_connect_or_send(tmp_path: Path, data_dir: Path,
                                                             media, model_file, nscd: str):
    if not _ptrace_works():
        pytest.skip("strace is missing or ptrace is not allowed here")
    dest = data_dir / "models" / "face_landmarker.task"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_file, dest)
    env = {**os.environ, "STATION_DATA": str(data_dir), "SDL_VIDEODRIVER": "dummy",
           "SDL_AUDIODRIVER": "dummy"}
    text = _traced_run(["demo", "--headless", "--autoplay", "--speed", "50", "--video",
                        str(media("video/single_face.mp4"))], tmp_path / "trace", env)
    import sqlite3

    with sqlite3.connect(data_dir / "records.sqlite3") as db:  # it really tracked a session
        assert db.execute("SELECT count(*) FROM reps WHERE status='done'").fetchone()[0] >= 1
    assert ip_calls(text) == [], "\n".join(ip_calls(text)[:10])


@pytest.mark.slow
@pytest.mark.tracking
def test_station_track_makes_no_dns_query_ip_connect_or_send(tmp_path: Path, data_dir: Path,
                                                              media, model_file, nscd: str):
    if not _ptrace_works():
        pytest.skip("strace is missing or ptrace is not allowed here")
    dest = data_dir / "models" / "face_landmarker.task"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_file, dest)
    out = tmp_path / "track.json"
    text = _traced_run(["track", str(media("video/single_face.mp4")), "--json", str(out)],
                       tmp_path / "trace", {**os.environ, "STATION_DATA": str(data_dir)})
    assert out.is_file()
    assert ip_calls(text) == [], "\n".join(ip_calls(text)[:10])
