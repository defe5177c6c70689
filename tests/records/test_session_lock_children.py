"""The session lock is never held by a child process: not by a child forked while the kiosk
held it (the voice renderer's window between fork and exec), and the renderer itself runs
without Python in the child (``nice`` is the command; no ``preexec_fn``)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from station.kiosk import voice
from station.records.sessionlock import SessionLock, lock_path, session_in_progress


def test_a_forked_child_keeps_no_lock_after_release(tmp_path: Path):
    lock = SessionLock(tmp_path)
    lock.hold()
    assert lock.held
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a copy of every fd, as between fork and exec
        try:
            os.close(ready_r)
            os.close(go_w)
            os.write(ready_w, b"x")
            os.read(go_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    try:
        assert os.read(ready_r, 1) == b"x"
        lock.release()
        assert not session_in_progress(tmp_path), "the child's copy still holds the session lock"
    finally:
        os.write(go_w, b"x")
        os.waitpid(pid, 0)
        os.close(go_w)
        os.close(ready_r)


def test_the_lock_fd_is_close_on_exec(tmp_path: Path):
    lock = SessionLock(tmp_path)
    lock.hold()
    try:
        fd = SessionLock._held[str(tmp_path.resolve())][0]
        import fcntl

        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert os.path.samefile(f"/proc/self/fd/{fd}", lock_path(tmp_path))
    finally:
        lock.release()


def test_the_renderer_runs_no_python_in_the_child(tmp_path: Path):
    seen = {}

    def fake_run(cmd, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen["cmd"], seen["kwargs"] = cmd, kwargs
        Path(cmd[cmd.index("-w") + 1]).write_bytes(b"RIFF")

    voice.render("Hello.", tmp_path / "a.wav", espeak="/usr/bin/espeak-ng", run=fake_run)
    assert "preexec_fn" not in seen["kwargs"]
    if voice.NICE:
        assert seen["cmd"][:3] == [voice.NICE, "-n", "19"]


def test_the_renderer_is_niced_for_real(tmp_path: Path):
    """A stand-in espeak-ng that writes its own niceness into the WAV file it is given."""
    fake = tmp_path / "espeak-ng"
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "-w" ]; do shift; done\nnice > "$2"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    out = voice.render("Hello.", tmp_path / "cue.wav", espeak=str(fake))
    mine = os.nice(0)
    assert int(out.read_text()) == min(19, mine + 19)
