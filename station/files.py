"""Safe file handling, in one place: atomic writes, directory syncs, bounded reads, shredding.

Every file the station writes that must survive a power cut goes through :func:`atomic_write`
(write a temporary sibling, fsync it, rename it over the target, fsync the folder), so a cut
leaves the old file or the new one, whole. Every file that comes from outside (a stick, a
prescription, a settings file) is read with :func:`read_limited`: no symlinks, no special files
(a FIFO would block forever), never more than a limit; secret and password files too. Files
written onto a returned (so untrusted) stick go through :func:`open_dir_at`, :func:`parent_at`
and :func:`write_new_at` (read back with :func:`sha256_at`): folder fds, and never through a
symlink someone planted there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_READ = 1 << 20  # 1 MiB: far more than any prescription or settings file


def fsync_dir(path: Path) -> None:
    """fsync a folder so a rename or a new file in it survives a power cut (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """fsync a file already written by someone else (e.g. matplotlib's PDF)."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, exclusive_tmp: bool = False) -> None:
    """Write ``data`` to ``path`` so that a power cut leaves the old or the new file, whole.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> atomic_write(d / "a.txt", b"one"); (d / "a.txt").read_bytes()
    b'one'
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_EXCL if exclusive_tmp else os.O_TRUNC
    fd = os.open(tmp, flags, mode)
    try:
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_synced(path: Path, data: bytes) -> None:
    """Write a new file inside a folder that is itself renamed into place later (no temp)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def read_limited(path: Path | str, limit: int = MAX_READ, dir_fd: int | None = None) -> bytes:
    """Read a regular file without following a symlink; refuse more than ``limit`` bytes.

    ``dir_fd``: ``path`` is a name inside that open folder (the clinic stick is read this
    way, so a folder swapped for a symlink mid-read cannot redirect us). Raises OSError (with
    a plain message) for symlinks, special files and big files; never blocks on a FIFO.
    """
    name = Path(path).name
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{name} is not a regular file")
        if st.st_size > limit:
            raise OSError(f"{name} is {st.st_size} bytes, more than {limit}")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise OSError(f"{name} is more than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_dir_at(name: Path | str, dir_fd: int | None = None, *, create: bool = False,
                replace_link: bool = False) -> int:
    """An fd for the folder ``name`` (inside ``dir_fd`` when given), never through a symlink.

    ``create``: make it when missing. ``replace_link``: a symlink (or other non-folder entry)
    in its place is removed, never followed, and a real folder made. Raises OSError otherwise.
    """
    if replace_link and dir_fd is not None:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            os.unlink(name, dir_fd=dir_fd)
    if create:
        try:
            os.mkdir(name, 0o755, dir_fd=dir_fd)
        except FileExistsError:
            pass
    return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def write_new_at(dir_fd: int, name: str, data: bytes, mode: int = 0o644, *,
                 writer: Callable[[int, bytes], None] = write_all, uncached: bool = False) -> None:
    """Write ``name`` inside the open folder ``dir_fd`` as a new file, synced: an entry already
    there that is not a folder (a planted symlink included) is removed, never followed; the
    file is created with O_EXCL | O_NOFOLLOW, so nothing is ever written through a link.

    ``writer`` writes the bytes (a seam: the stick's tests pull the stick mid-write);
    ``uncached``: the written pages are dropped from the page cache, so a read-back comes from
    the device itself (a stick), not from memory.
    """
    if "/" in name or name in ("", ".", ".."):
        raise OSError(f"{name!r} is not a plain file name")
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OSError(f"{name} is a folder")
        os.unlink(name, dir_fd=dir_fd)
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    try:
        writer(fd, data)
        os.fsync(fd)
        if uncached and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def exists_at(dir_fd: int, name: str) -> bool:
    """True when ``name`` is in the open folder ``dir_fd`` (a symlink counts, never followed)."""
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def sha256_at(dir_fd: int, name: str) -> str:
    """The sha256 of the regular file ``name`` in the open folder ``dir_fd`` (no symlink
    followed, a special file refused), read in chunks."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{name} is not a regular file")
        h = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


def parent_at(base_fd: int, rel: str, create: bool = True) -> int:
    """An fd for the folder that holds ``rel`` (a/b/c.csv: a/b) under the open folder
    ``base_fd``, each step opened without following a symlink and made when ``create``; the
    caller closes it unless it is ``base_fd`` itself."""
    fd = base_fd
    for part in rel.split("/")[:-1]:
        if create and not exists_at(fd, part):
            os.mkdir(part, dir_fd=fd)
        nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
        if fd != base_fd:
            os.close(fd)
        fd = nfd
    return fd


def shred(path: Path) -> None:
    """Overwrite a file with zeros, fsync, delete (so no record can be read back from it)."""
    try:
        size = path.stat().st_size
        with open(path, "r+b", buffering=0) as fh:
            block = b"\0" * (1 << 20)
            left = size
            while left > 0:
                n = min(left, len(block))
                fh.write(block[:n])
                left -= n
            os.fsync(fh.fileno())
    except OSError as exc:
        log.warning("could not overwrite %s before deleting: %s", path.name, exc)
    path.unlink(missing_ok=True)
