"""No way to the network: the seccomp filters of the face model's process.

mediapipe's newer wheels carry Google's Clearcut usage logging (mediapipe issue #6291), which
looks up and contacts play.googleapis.com from a native thread; no setting turns it off. The
station therefore runs the model in a process of its own (``sandbox``) that confines itself
with the kernel's syscall filter before mediapipe loads. It needs no privilege
(``PR_SET_NO_NEW_PRIVS``, as any user may) and works on a Pi and on a laptop alike.

:func:`deny_network` (before mediapipe loads), in every thread, now and in any child:

* any syscall of another ABI kills the process: the i386 ``int 0x80`` path (and its
  ``socketcall``), x32 on x86-64, arm32 compat on aarch64; the architecture is checked first;
* ``socket`` and ``socketpair`` fail with EACCES for every family (AF_UNIX too, which closes a
  resolver reached over a Unix socket, such as nscd or systemd-resolved; AF_PACKET,
  AF_NETLINK), and so do connect, bind, listen, accept, send, receive, shutdown and the
  socket options, for a socket that might have been inherited;
* ``io_uring_setup/enter/register`` fail (io_uring can open sockets and connect by itself);
* ptrace, ``process_vm_readv/writev`` and ``pidfd_getfd`` fail (no reaching into another
  process of the user that has a network, such as the kiosk), and so do module loading,
  kexec, bpf, mounts and ``setns``.

:func:`deny_file_writes` (after the model is loaded, before the first frame): no file may be
opened for writing or created, renamed, linked or removed, and nothing executed. The model
then cannot leave anything behind for a process that has a network (no file, no code).

Only Linux on x86-64 and aarch64 (a Pi 4/5 with 64-bit Pi OS, a laptop) has the tables; the
functions return False elsewhere and the caller decides (the sandbox refuses to load the
model on a machine that has the tables but would not take the filter).

:func:`check_this_machine` answers "would the model's process be confined here?" for
``station doctor``: a throwaway child (``python -m station.tracking.nonet``) installs both
filters as the model's process does and tries a socket and an open for writing (:func:`probe`).
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import platform
import struct
import subprocess
import sys
from collections.abc import Iterable

log = logging.getLogger(__name__)

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
RET_KILL_PROCESS = 0x80000000
RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_X32_BIT = 0x40000000
#: open flags that write: O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND (same on both)
_WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000

_NET = ("socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendto",
        "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg", "shutdown", "setsockopt",
        "getsockopt", "getsockname", "getpeername")
_URING = ("io_uring_setup", "io_uring_enter", "io_uring_register")
_REACH = ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "init_module",
          "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf", "mount",
          "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsmount", "setns")
_FILES = ("creat", "openat2", "execve", "execveat", "mkdir", "mkdirat", "rmdir", "rename",
          "renameat", "renameat2", "unlink", "unlinkat", "link", "linkat", "symlink",
          "symlinkat", "truncate")


class Arch:
    """One machine's audit arch and syscall numbers."""

    def __init__(self, audit_arch: int, x32: bool, numbers: dict[str, int],
                 open_flags: dict[str, int]) -> None:
        self.audit_arch = audit_arch
        self.x32 = x32  # x86-64: numbers with bit 30 set are the x32 ABI
        self.numbers = numbers
        self.open_flags = open_flags  # open-like syscall -> index of its flags argument


_X86_64 = Arch(0xC000003E, True, {
    "socket": 41, "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46,
    "recvmsg": 47, "shutdown": 48, "bind": 49, "listen": 50, "getsockname": 51,
    "getpeername": 52, "socketpair": 53, "setsockopt": 54, "getsockopt": 55, "accept4": 288,
    "recvmmsg": 299, "sendmmsg": 307, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "pidfd_getfd": 438, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "kexec_load": 246, "kexec_file_load": 320, "bpf": 321, "mount": 165, "umount2": 166,
    "pivot_root": 155, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsmount": 432,
    "setns": 308, "creat": 85, "openat2": 437, "execve": 59, "execveat": 322, "mkdir": 83,
    "mkdirat": 258, "rmdir": 84, "rename": 82, "renameat": 264, "renameat2": 316,
    "unlink": 87, "unlinkat": 263, "link": 86, "linkat": 265, "symlink": 88,
    "symlinkat": 266, "truncate": 76, "seccomp": 317,
}, {"open": 2, "openat": 257})

_AARCH64 = Arch(0xC00000B7, False, {
    "socket": 198, "socketpair": 199, "bind": 200, "listen": 201, "accept": 202,
    "connect": 203, "getsockname": 204, "getpeername": 205, "sendto": 206, "recvfrom": 207,
    "setsockopt": 208, "getsockopt": 209, "shutdown": 210, "sendmsg": 211, "recvmsg": 212,
    "accept4": 242, "recvmmsg": 243, "sendmmsg": 269, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "ptrace": 117, "process_vm_readv": 270,
    "process_vm_writev": 271, "pidfd_getfd": 438, "init_module": 105, "finit_module": 273,
    "delete_module": 106, "kexec_load": 104, "kexec_file_load": 294, "bpf": 280, "mount": 40,
    "umount2": 39, "pivot_root": 41, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsmount": 432, "setns": 268, "openat2": 437, "execve": 221, "execveat": 281,
    "mkdirat": 34, "unlinkat": 35, "symlinkat": 36, "linkat": 37, "renameat": 38,
    "renameat2": 276, "truncate": 45, "seccomp": 277,
}, {"openat": 56})

ARCHES = {"x86_64": _X86_64, "aarch64": _AARCH64}
_OPEN_FLAG_ARG = {"open": 1, "openat": 2}


def native_arch() -> Arch | None:
    """This machine's tables, or None where the filters are not available."""
    if not sys.platform.startswith("linux"):
        return None
    return ARCHES.get(platform.machine())


def program(arch: Arch, deny: Iterable[tuple[str, int]], deny_write_opens: int = 0) -> bytes:
    """A BPF program: other ABIs killed, each ``(syscall, errno)`` failing with that errno,
    open/openat with a writing flag failing with ``deny_write_opens`` (when not 0), the rest
    allowed. Syscalls this machine lacks (``creat`` on aarch64) are left out."""
    ins: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, arch.audit_arch),
        (_RET_K, 0, 0, RET_KILL_PROCESS),  # i386 int 0x80, arm32 compat: killed
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if arch.x32:
        ins += [(_JGE_K, 0, 1, _X32_BIT), (_RET_K, 0, 0, RET_KILL_PROCESS)]
    for name, err in deny:
        nr = arch.numbers.get(name)
        if nr is not None:
            ins += [(_JEQ_K, 0, 1, nr), (_RET_K, 0, 0, _RET_ERRNO | err)]
    if deny_write_opens:
        for name, nr in arch.open_flags.items():
            ins += [
                (_JEQ_K, 0, 4, nr),
                (_LD_W_ABS, 0, 0, 16 + 8 * _OPEN_FLAG_ARG[name]),  # low 32 bits of the flags
                (_JSET_K, 0, 1, _WRITE_FLAGS),
                (_RET_K, 0, 0, _RET_ERRNO | deny_write_opens),
                (_RET_K, 0, 0, RET_ALLOW),  # an open for reading
            ]
    ins.append((_RET_K, 0, 0, RET_ALLOW))
    return b"".join(struct.pack("=HBBI", *i) for i in ins)


def _install(arch: Arch, code: bytes) -> bool:
    buf = ctypes.create_string_buffer(code, len(code))
    prog = struct.pack("=HxxxxxxQ", len(code) // 8, ctypes.addressof(buf))
    prog_buf = ctypes.create_string_buffer(prog, len(prog))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        log.warning("seccomp: no_new_privs refused (errno %d)", ctypes.get_errno())
        return False
    rc = libc.syscall(ctypes.c_long(arch.numbers["seccomp"]),
                      ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
                      ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC), prog_buf)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    # systemd's @system-service filter refuses seccomp() itself; prctl is allowed and does the
    # same, but only for the calling thread: fine while it is the only one.
    if _threads() == 1 and libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, prog_buf, 0, 0) == 0:
        return True
    log.warning("seccomp: filter refused (errno %d, then %d)", err, ctypes.get_errno())
    return False


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def deny_network() -> bool:
    """Take every way to the network away from this process for good; True when in force."""
    arch = native_arch()
    if arch is None:
        log.warning("no network filter on %s %s", sys.platform, platform.machine())
        return False
    deny = [(n, errno.EACCES) for n in _NET] + [(n, errno.EPERM) for n in _URING + _REACH]
    return _install(arch, program(arch, deny))


def deny_file_writes() -> bool:
    """No more writing, creating, removing or running files; True when in force."""
    arch = native_arch()
    if arch is None:
        return False
    return _install(arch, program(arch, [(n, errno.EACCES) for n in _FILES], errno.EACCES))


def probe() -> dict[str, object]:
    """Confine this process for good, as the model's process is, and try what the filters must
    stop. Run it only in a throwaway process: ``network`` is True when a socket (AF_UNIX, the
    nscd path) was refused, ``files`` when an open for writing (of /dev/null) was refused."""
    import socket

    out: dict[str, object] = {"machine": f"{sys.platform} {platform.machine()}",
                              "tables": native_arch() is not None, "network": False, "files": False}
    if out["tables"] and deny_network():
        try:
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
        except OSError as exc:
            out["network"] = exc.errno == errno.EACCES
    if out["network"] and deny_file_writes():  # the model's process takes files only when confined
        try:
            os.close(os.open(os.devnull, os.O_WRONLY))
        except OSError as exc:
            out["files"] = exc.errno == errno.EACCES
    return out


def check_this_machine(timeout_s: float = 30.0) -> dict[str, object]:
    """:func:`probe` in a child process started as the model's process is (``python -B -m``);
    ``error`` says why when the child gave no answer."""
    try:
        done = subprocess.run([sys.executable, "-B", "-m", "station.tracking.nonet"],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s)
        answer = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {"machine": f"{sys.platform} {platform.machine()}", "tables": native_arch() is not None,
                "network": False, "files": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
    return answer if isinstance(answer, dict) else {"error": "an answer that is not an object"}


if __name__ == "__main__":
    print(json.dumps(probe()), flush=True)
