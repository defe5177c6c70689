"""C libraries' stderr chatter becomes debug log lines instead of terminal noise."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import logging, os, sys, time
    logging.basicConfig(level=logging.DEBUG if sys.argv[1] == "debug" else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from station.kiosk.native_log import capture_native_stderr
    print("captured", capture_native_stderr(), flush=True)
    os.write(2, b"ALSA lib confmisc.c:767:(parse_card) cannot find card '0'\\n")
    logging.getLogger("station").warning("a station line")
    time.sleep(0.3)
""")


def run_in_terminal(level: str) -> str:
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, level], stdout=follower, stderr=follower,
                            stdin=subprocess.DEVNULL)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=30)
    os.close(leader)
    return out.decode(errors="replace")


def test_library_noise_goes_to_the_debug_log_not_the_terminal():
    quiet = run_in_terminal("info")
    assert "captured True" in quiet and "a station line" in quiet
    assert "ALSA" not in quiet
    loud = run_in_terminal("debug")
    assert "DEBUG station.native: ALSA lib confmisc.c" in loud


def test_not_a_terminal_is_left_alone():
    out = subprocess.run([sys.executable, "-c", CHILD, "info"], capture_output=True, text=True, timeout=30)
    assert "captured False" in out.stdout and "ALSA lib" in out.stderr
