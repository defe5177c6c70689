"""Nothing leaves the device: the process gives up IP networking before mediapipe loads.

mediapipe's newer wheels carry Google's Clearcut usage logging (mediapipe issue #6291), which
looks up and contacts play.googleapis.com from a native thread. No setting turns it off, so
the station takes the network away from itself instead, in a way that needs no privilege and
works on a Pi and on a laptop alike: a seccomp filter (the kernel's syscall filter, installed
with ``PR_SET_NO_NEW_PRIVS`` as any user may) that makes ``socket(AF_INET | AF_INET6, ...)``
fail with EACCES in every thread of the process, now and later, and in its children. The DNS
look-up then never gets a socket, and nothing is sent. Unix sockets (the display, systemd's
notify socket) keep working.

:func:`deny_ip_networking` is called by every path that loads the face model (the tracker and
the bench), before the first ``import mediapipe``; it is idempotent. On the Pi the systemd unit
adds ``PrivateNetwork=yes`` and ``RestrictAddressFamilies=AF_UNIX`` on top.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import platform
import struct
import sys

log = logging.getLogger(__name__)

# (AUDIT_ARCH_*, socket syscall, seccomp syscall) per machine
_ARCH = {
    "x86_64": (0xC000003E, 41, 317),
    "aarch64": (0xC00000B7, 198, 277),
}
_X32_BIT = 0x40000000
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_LD_W_ABS, _JEQ_K, _RET_K = 0x20, 0x15, 0x06
AF_INET, AF_INET6 = 2, 10

_state: dict[str, bool] = {}
#: Set to 1 only by the test suite for its own process (tests that load the model in-process
#: must not take the network from the test runner); the privacy test runs without it.
TEST_OPT_OUT = "STATION_TEST_KEEP_NETWORK"


def _program(audit_arch: int, socket_nr: int) -> bytes:
    """The BPF program: socket(AF_INET/AF_INET6) -> EACCES, everything else allowed."""
    ins = [
        (_LD_W_ABS, 0, 0, 4),  # 0: arch
        (_JEQ_K, 1, 0, audit_arch),  # 1: ours -> 3
        (_RET_K, 0, 0, _RET_ALLOW),  # 2: another ABI: not filtered
        (_LD_W_ABS, 0, 0, 0),  # 3: syscall number
        (_JEQ_K, 1, 0, socket_nr),  # 4: socket -> 6
        (_JEQ_K, 0, 3, socket_nr | _X32_BIT),  # 5: x32 socket -> 6, else -> 9
        (_LD_W_ABS, 0, 0, 16),  # 6: args[0] (low 32 bits): the address family
        (_JEQ_K, 2, 0, AF_INET),  # 7: -> 10
        (_JEQ_K, 1, 0, AF_INET6),  # 8: -> 10
        (_RET_K, 0, 0, _RET_ALLOW),  # 9
        (_RET_K, 0, 0, _RET_ERRNO | errno.EACCES),  # 10
    ]
    return b"".join(struct.pack("=HBBI", *i) for i in ins)


def deny_ip_networking() -> bool:
    """Take IP networking away from this process for good; True when it is in force.

    Never raises: where the kernel or machine does not allow it (not Linux, another CPU), it
    logs a warning and returns False, and the systemd sandbox is the remaining guard.
    """
    if _state.get("done"):
        return True
    if os.environ.get(TEST_OPT_OUT) == "1":  # the test suite's own process only
        log.debug("network guard skipped (%s=1)", TEST_OPT_OUT)
        return False
    arch = _ARCH.get(platform.machine())
    if not sys.platform.startswith("linux") or arch is None:
        log.warning("network guard not available on %s %s", sys.platform, platform.machine())
        return False
    audit_arch, socket_nr, seccomp_nr = arch
    code = _program(audit_arch, socket_nr)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = struct.pack("=HxxxxxxQ", len(code) // 8, ctypes.addressof(buf))
    prog_buf = ctypes.create_string_buffer(prog, len(prog))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        log.warning("network guard: no_new_privs refused (errno %d)", ctypes.get_errno())
        return False
    rc = libc.syscall(ctypes.c_long(seccomp_nr), ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
                      ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC), prog_buf)
    if rc != 0:
        log.warning("network guard: seccomp refused (rc %d, errno %d)", rc, ctypes.get_errno())
        return False
    _state["done"] = True
    log.debug("IP networking is off for this process (face model telemetry cannot leave)")
    return True
