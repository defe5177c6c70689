"""The face model's process has no way to the network (station.tracking.sandbox and nonet).

Each probe runs in a child process of the test that confines itself through the very entry
the model's process uses (``sandbox.confine``), then tries what it must not be able to do.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from station.tracking import nonet
from station.tracking.sandbox import ModelProcessError

pytestmark = pytest.mark.skipif(nonet.native_arch() is None,
                                reason="the filters exist for Linux on x86-64 and aarch64 only")

PROBE = """
import ctypes, errno, json, os, socket, sys
from station.tracking.sandbox import confine
libc = ctypes.CDLL(None, use_errno=True)
def err(fn):
    try:
        fn()
        return "allowed"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
"""


def run_probe(body: str, *, pass_fds: tuple[int, ...] = (), **kw) -> subprocess.CompletedProcess:
    code = PROBE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, pass_fds=pass_fds, **kw)


def test_no_socket_of_any_family_no_socketpair_no_io_uring():
    r = run_probe("""
        assert confine(set())
        out = {}
        for name in ("AF_INET", "AF_INET6", "AF_UNIX", "AF_PACKET", "AF_NETLINK"):
            fam = getattr(socket, name)
            kind = socket.SOCK_RAW if name == "AF_NETLINK" else socket.SOCK_DGRAM
            out[name] = err(lambda: socket.socket(fam, kind))
        out["socketpair"] = err(lambda: socket.socketpair())
        params = ctypes.create_string_buffer(120)
        def uring():
            if libc.syscall(ctypes.c_long(425), ctypes.c_long(8), params) < 0:
                raise OSError(ctypes.get_errno(), "io_uring_setup")
        out["io_uring_setup"] = err(uring)
        print(json.dumps(out))
    """)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for family in ("AF_INET", "AF_INET6", "AF_UNIX", "AF_PACKET", "AF_NETLINK", "socketpair"):
        assert out[family] == "EACCES", (family, out)
    assert out["io_uring_setup"] == "EPERM", out
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()  # the test process is untouched


def test_confined_where_seccomp_itself_is_refused_as_under_systemd():
    """systemd's @system-service filter refuses seccomp(); the prctl path still confines."""
    r = run_probe("""
        from station.tracking import nonet
        arch = nonet.native_arch()
        assert nonet._install(arch, nonet.program(arch, [("seccomp", errno.EPERM)]))
        assert libc.syscall(ctypes.c_long(arch.numbers["seccomp"]), 1, 0, None) == -1
        assert confine(set())
        print(err(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "EACCES"


def test_a_socket_made_before_the_filter_cannot_send_or_connect():
    """The filter itself: an existing socket (as if inherited) can neither send nor connect."""
    r = run_probe("""
        from station.tracking import nonet
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        assert nonet.deny_network()
        print(json.dumps({"sendto": err(lambda: s.sendto(b"x", ("127.0.0.1", 9))),
                          "connect": err(lambda: s.connect(("127.0.0.1", 9))),
                          "unix": err(lambda: u.connect("/nonexistent/socket"))}))
    """)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"sendto": "EACCES", "connect": "EACCES", "unix": "EACCES"}


def test_inherited_descriptors_are_closed_and_a_kept_socket_refused(tmp_path: Path):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r_fd, w_fd = os.pipe()
    try:
        r = run_probe(f"""
            from station.tracking.sandbox import ModelProcessError
            try:
                confine({{{sock.fileno()}}})
                print("kept")
            except ModelProcessError as exc:
                print("refused:", exc)
        """, pass_fds=(sock.fileno(),))
        assert r.stdout.startswith("refused: descriptor"), (r.stdout, r.stderr)
        r = run_probe(f"""
            assert confine({{{w_fd}}})
            print(json.dumps(sorted(int(n) for n in os.listdir("/proc/self/fd"))))
        """, pass_fds=(sock.fileno(), w_fd))
        assert r.returncode == 0, r.stderr
        fds = set(json.loads(r.stdout))
        assert sock.fileno() not in fds and w_fd in fds  # the socket is gone, the pipe kept
    finally:
        sock.close()
        os.close(r_fd)
        os.close(w_fd)


def test_socket_as_stderr_becomes_dev_null():
    a, b = socket.socketpair()
    try:
        code = PROBE + "import stat\nconfine(set())\nprint(stat.S_ISSOCK(os.fstat(2).st_mode))\n"
        r = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=a,
                           text=True, timeout=60)
        assert r.returncode == 0 and r.stdout.strip() == "False"
    finally:
        a.close()
        b.close()


I386_GETPID = """
import mmap
code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20 (getpid); int 0x80; ret
mem = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
mem.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
print(ctypes.CFUNCTYPE(ctypes.c_int)(addr)(), flush=True)
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="int 0x80 is the x86 path")
def test_i386_int80_and_x32_syscalls_kill_the_process():
    control = run_probe(I386_GETPID)
    if control.returncode != 0:
        pytest.skip(f"no i386 emulation in this kernel (int 0x80 gave {control.returncode})")
    assert int(control.stdout) > 0  # the 32-bit getpid works without the filter
    r = run_probe("assert confine(set())\n" + I386_GETPID)
    assert r.returncode == -signal.SIGSYS and r.stdout == ""
    r = run_probe("""
        assert confine(set())
        print(libc.syscall(ctypes.c_long(0x40000000 | 39)), flush=True)  # x32 getpid
    """)
    assert r.returncode == -signal.SIGSYS and r.stdout == ""


def test_after_loading_no_file_is_written_nor_anything_run(tmp_path: Path):
    target = tmp_path / "planted.py"
    existing = tmp_path / "existing.txt"
    existing.write_text("kept")
    r = run_probe(f"""
        from station.tracking import nonet
        assert confine(set()) and nonet.deny_file_writes()
        print(json.dumps({{
            "create": err(lambda: open({str(target)!r}, "w")),
            "append": err(lambda: open({str(existing)!r}, "a")),
            "read": open({str(existing)!r}).read(),
            "unlink": err(lambda: os.unlink({str(existing)!r})),
            "mkdir": err(lambda: os.mkdir({str(tmp_path / "d")!r})),
            "exec": err(lambda: os.execv("/bin/true", ["true"])),
            "proc_mem": err(lambda: open(f"/proc/{{os.getppid()}}/mem", "r+b")),
        }}))
    """)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == {"create": "EACCES", "append": "EACCES", "read": "kept", "unlink": "EACCES",
                   "mkdir": "EACCES", "exec": "EACCES", "proc_mem": "EACCES"}
    assert not target.exists() and existing.read_text() == "kept"


# ---- the model's process itself -----------------------------------------------------------------


@pytest.mark.tracking
def test_the_model_process_is_confined_and_holds_only_its_pipes(model_file):
    from station.tracking.tracker import Landmarker

    with Landmarker(model_file) as lm:
        assert lm.sandboxed
        pid = lm._proc.pid
        status = Path(f"/proc/{pid}/status").read_text()
        assert "\nSeccomp:\t2" in status and "\nNoNewPrivs:\t1" in status
        links = {fd: os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        assert not [x for x in links.values() if x.startswith("socket:")], links
        assert len(links) <= 6, links  # stdin, stdout, stderr, two pipes, the frames' memfd
        assert any("memfd:station-frames" in x for x in links.values()), links


@pytest.mark.slow
@pytest.mark.tracking
def test_a_model_process_that_dies_pauses_tracking_then_comes_back(model_file, clock, caplog):
    import numpy as np

    from station.tracking.camera import MemorySource
    from station.tracking.tracker import MODEL_STOPPED, NO_CAMERA, OK, TrackerThread

    frames = [np.zeros((120, 160, 3), np.uint8)] * 4
    tr = TrackerThread(model_file, lambda: MemorySource(frames, clock=clock, loop=True),
                       clock=clock, crash_backoff_s=(1.0, 5.0))
    try:
        assert tr.step() and tr.latest().status is OK
        os.kill(tr._lm._proc.pid, signal.SIGKILL)
        caplog.set_level(logging.WARNING)
        assert not tr.step()
        state = tr.latest()
        assert state.status is NO_CAMERA and state.message == MODEL_STOPPED
        assert state.sample is None
        assert any("face tracking stopped" in r.getMessage() and "SIGKILL" in r.getMessage()
                   for r in caplog.records)
        assert not tr.step()  # not before the backoff
        clock.advance(1.5)
        assert tr.step() and tr.latest().status is OK  # a new process, tracking again
    finally:
        tr.stop()


def test_a_model_process_that_cannot_start_backs_off(tmp_path, clock):
    from station.tracking.camera import MemorySource
    from station.tracking.tracker import NO_MODEL, NO_TRACKING, TrackerThread

    tries: list[float] = []

    def failing(path: Path, blendshapes: bool = False):
        tries.append(clock())
        raise ModelProcessError("the face model's process could not start (killed by SIGSEGV)")

    tr = TrackerThread(tmp_path / "m.task", lambda: MemorySource([]), clock=clock,
                       landmarker_factory=failing, crash_backoff_s=(1.0, 2.0, 4.0))
    for _ in range(80):
        tr.step()
        clock.advance(0.25)
    assert tr.latest().status is NO_MODEL and tr.latest().message == NO_TRACKING
    gaps = [round(b - a, 2) for a, b in zip(tries, tries[1:], strict=False)]
    assert gaps[:4] == [1.0, 2.0, 4.0, 4.0]


def test_bytes_that_are_no_model_end_the_process_with_a_plain_reason():
    """The parent only sends checked bytes; should mediapipe still refuse them, it says why."""
    from station.tracking.sandbox import ModelProcess

    with pytest.raises(ModelProcessError, match="could not start"):
        ModelProcess(b"PK\x03\x04 not a model" * 10)
