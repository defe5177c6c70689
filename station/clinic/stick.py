"""What a unit does when a clinic stick goes in: verify, export, wipe, apply, say so.

The stick's files and its signed request (format, signing, making a stick, verifying one) are
:mod:`station.clinic.stickrequest`; this module re-exports its names, so callers keep one
entry point (``stick.make_stick``, ``stick.STICK_FOLDER``, ...).

Order of the flow: verify the request (nothing else on the stick is read before) -> read and
validate the new prescription -> write the export to ``.partial-<nonce>`` on the stick -> read
it back and compare sha256 -> rename it to its final name -> wipe (only if asked and verified)
-> apply the new prescription -> remember the nonce -> "Safe to remove the stick." The new
prescription is applied after the export and wipe (not before), so the export holds the
previous patient's prescription and the wipe cannot remove the next patient's one.

The running kiosk does the work: ``station usb-sync`` drops a job file into
``<data dir>/spool/`` and waits for the kiosk's :func:`process_pending_jobs` to write status
lines. With ``--direct``, or when no kiosk heartbeat is fresh, or when the kiosk does not pick
the job up in time, usb-sync claims the job and runs it itself. No socket is opened.

Exporter and wiper are injected (default: ``clinic.export.export_bundle``, ``records.wipe.wipe``).
One patient per unit between wipes: a prescription for another alias is refused while the unit
holds anyone's prescription or records, unless the same stick exports and wipes first
(``unit.lend_refusal``); a unit that holds nothing writes no (empty) export bundle.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from station.clinic import prescription as rx
from station.clinic import recordings, unit
from station.clinic.stickrequest import (
    ACTIONS,
    EXPORT_FOLDER,
    MAX_REQUEST_BYTES,
    MAX_REQUEST_NESTING,
    MAX_SIG_BYTES,
    PRESCRIPTION,
    REQUEST,
    SIGNATURE,
    STICK_FOLDER,
    Request,
    StickRefused,
    make_stick,
    nesting,
    sign,
    verify_request,
)
from station.files import exists_at, open_dir_at, parent_at, read_limited, sha256_at, write_all, write_new_at
from station.practice import words

__all__ = [  # the request's names, re-exported (one entry point for callers)
    "ACTIONS", "EXPORT_FOLDER", "MAX_REQUEST_BYTES", "MAX_REQUEST_NESTING", "MAX_SIG_BYTES",
    "PRESCRIPTION", "REQUEST", "SIGNATURE", "STICK_FOLDER", "Request", "StickRefused",
    "make_stick", "nesting", "sign", "verify_request",
    # this module's own
    "MAX_BUNDLE_BYTES", "PULLED", "SAFE", "STICK_BAD_FOLDER", "STICK_FULL", "STICK_READ_ONLY",
    "WIPED", "Exporter", "Report", "Wiper", "run_stick", "spool_dir",
]

log = logging.getLogger(__name__)

MAX_BUNDLE_BYTES = 512 * 1024 * 1024
SAFE = words.STICK_SAFE
WIPED = words.STICK_WIPED  # the kiosk keeps it on home until the next patient
PULLED = words.STICK_PULLED

Exporter = Callable[[Path, Path], Path]
Wiper = Callable[[Path], None]
Report = Callable[[str], None]


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte (a seam: tests replace it to simulate a pulled stick)."""
    write_all(fd, data)


def _write_at(dir_fd: int, name: str, data: bytes) -> None:
    """Write a new file on the stick, synced and dropped from the page cache (so a later
    read-back comes from the stick itself), through the :func:`_write_all` seam."""
    write_new_at(dir_fd, name, data, writer=_write_all, uncached=True)


def _open_dir(name: str | Path, dir_fd: int | None = None) -> int:
    return open_dir_at(name, dir_fd)


# ---------------------------------------------------------------- the flow


def _default_exporter() -> Exporter:
    from station.clinic.export import export_bundle  # the records engineer's exporter
    return export_bundle


def _default_wiper() -> Wiper:
    from station.records.wipe import wipe  # the records engineer's wiper
    return wipe


def _bundle_files(bundle: Path) -> list[tuple[str, bytes]]:
    """(relative path, bytes) of every regular file in a local bundle, bounded in size."""
    out, total = [], 0
    for root, dirs, files in os.walk(bundle):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            if p.is_symlink() or not p.is_file():
                continue
            data = p.read_bytes()
            total += len(data)
            if total > MAX_BUNDLE_BYTES:
                raise OSError("the export is larger than the stick limit")
            out.append((p.relative_to(bundle).as_posix(), data))
    return out


def _copy_verified(folder_fd: int, files: list[tuple[str, bytes]], req: Request,
                   final_name: str) -> str:
    """Write files to ``export/.partial-<nonce>``, read them back, then rename. Returns name."""
    if not exists_at(folder_fd, EXPORT_FOLDER):
        os.mkdir(EXPORT_FOLDER, dir_fd=folder_fd)
    export_fd = _open_dir(EXPORT_FOLDER, folder_fd)  # refuses a symlinked export folder
    try:
        need = sum(len(d) for _, d in files) + 1024 * 1024
        vfs = os.fstatvfs(export_fd)
        if vfs.f_bavail * vfs.f_frsize < need:
            raise OSError("the stick is full")
        partial = f".partial-{req.nonce}"
        if exists_at(export_fd, partial):  # left by a stick pulled out earlier
            if stat.S_ISDIR(os.stat(partial, dir_fd=export_fd, follow_symlinks=False).st_mode):
                shutil.rmtree(partial, dir_fd=export_fd)
            else:
                os.unlink(partial, dir_fd=export_fd)
        os.mkdir(partial, dir_fd=export_fd)
        part_fd = _open_dir(partial, export_fd)
        try:
            for rel, data in files:
                parent_fd = parent_at(part_fd, rel)
                try:
                    _write_at(parent_fd, rel.rsplit("/", 1)[-1], data)
                finally:
                    if parent_fd != part_fd:
                        os.close(parent_fd)
            os.fsync(part_fd)
            for rel, data in files:  # read back from the stick and compare
                parent_fd = parent_at(part_fd, rel, create=False)
                try:
                    got = sha256_at(parent_fd, rel.rsplit("/", 1)[-1])
                finally:
                    if parent_fd != part_fd:
                        os.close(parent_fd)
                if got != hashlib.sha256(data).hexdigest():
                    raise OSError(f"{rel} on the stick differs from what was written")
        finally:
            os.close(part_fd)
        name, n = final_name, 1
        while exists_at(export_fd, name):
            n += 1
            name = f"{final_name}-{n}"
        os.rename(partial, name, src_dir_fd=export_fd, dst_dir_fd=export_fd)
        os.fsync(export_fd)
        return name
    finally:
        os.close(export_fd)


def run_stick(stick: Path, data_dir: Path, exporter: Exporter | None = None,
              wiper: Wiper | None = None, report: Report | None = None,
              now: Callable[[], float] = time.time, tmp_root: Path | None = None) -> int:
    """Carry out a clinic stick's request; every step goes to ``report`` as a plain line.

    Returns 0 when everything asked was done, 2 when the stick was refused (nothing done),
    1 when something failed part-way (the unit's data are then unchanged).
    """
    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)
        log.debug("stick: %s", text)  # the report shows it (usb-sync prints, the kiosk logs)
        if report is not None:
            report(text)

    spool = spool_dir(data_dir)
    spool.mkdir(parents=True, exist_ok=True)
    with open(spool / "stick.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        code = _run_locked(stick, _Run(data_dir, exporter, wiper, say, now, tmp_root))
    if code != 2:
        _leave_result(stick, data_dir, lines)
    say(SAFE)
    return code


@dataclass(frozen=True)
class _Run:
    """One run's surroundings, passed down the flow as one value: the unit's data folder, the
    exporter and wiper (None: the real ones), where its lines go, its clock, and where the
    export is staged (None: the data folder's own temporary folder, wiped with it)."""

    data_dir: Path
    exporter: Exporter | None
    wiper: Wiper | None
    say: Report
    now: Callable[[], float]
    tmp_root: Path | None


def _run_locked(stick: Path, run: _Run) -> int:
    say = run.say
    say(words.STICK_FOUND)
    try:
        top_fd = _open_dir(stick)
    except OSError:
        say(words.STICK_NOT_OPENED)
        return 2
    try:
        try:
            folder_fd = _open_dir(STICK_FOLDER, top_fd)
        except OSError:
            say(words.STICK_NO_REQUEST)
            return 2
        try:
            return _run_verified(folder_fd, run)
        finally:
            os.close(folder_fd)
    finally:
        os.close(top_fd)


def _run_verified(folder_fd: int, run: _Run) -> int:
    data_dir, say = run.data_dir, run.say
    try:
        req = verify_request(folder_fd, data_dir)
    except StickRefused as exc:
        say(str(exc))
        return 2
    say(words.STICK_CHECKED)

    new_rx: bytes | None = None
    if req.wants("import_prescription"):
        say(words.STICK_RX_READING)
        try:
            data = read_limited(PRESCRIPTION, rx.MAX_BYTES, dir_fd=folder_fd)
        except OSError:
            data = None
            say(words.STICK_RX_UNREADABLE)
        if data is not None and hashlib.sha256(data).hexdigest() != req.prescription_sha256:
            say(words.STICK_RX_UNSIGNED)
            data = None
        if data is not None:
            result = rx.validate_bytes(data)
            if result.ok:
                new_rx = data
                say(words.STICK_RX_FINE)
            else:
                say(words.STICK_RX_PROBLEM)
                for pr in result.problems[:5]:
                    say(f"  {pr}")
        if new_rx is None:  # refuse the whole request: no export, no wipe, the stick stays usable
            say(words.STICK_RX_REFUSED)
            return 1
        assert result.prescription is not None
        refusal = unit.lend_refusal(data_dir, result.prescription.alias,
                                    req.wants("export") and req.wants("wipe_after_export"))
        if refusal:  # two patients never mix on one unit, whatever the desk did
            say(refusal)
            return 1

    from station.records.sessionlock import SessionInProgress, no_session

    try:
        with no_session(data_dir):  # held through export and wipe: no session starts meanwhile
            return _export_wipe_apply(folder_fd, run, req, new_rx)
    except SessionInProgress:
        say(words.STICK_IN_SESSION)
        return 1


def _export_wipe_apply(folder_fd: int, run: _Run, req: Request, new_rx: bytes | None) -> int:
    """The stick's work once it is verified: export, wipe, new prescription, nonce."""
    data_dir, say, now = run.data_dir, run.say, run.now
    rx_failed = False
    exported = False
    if req.wants("export") and unit.holds_nothing(data_dir):  # no empty bundle
        say(words.STICK_NOTHING_TO_COPY)
        exported = True
    elif req.wants("export"):
        say(words.STICK_COPYING)
        try:
            exp = run.exporter or _default_exporter()
        except ImportError:
            say(words.STICK_CANNOT_EXPORT)
            return 1
        try:
            from station.records.wipe import tmp_dir

            root = run.tmp_root if run.tmp_root is not None else tmp_dir(data_dir)  # wiped with the data
            with tempfile.TemporaryDirectory(prefix="stick-export-", dir=root) as tmp:
                bundle = Path(exp(data_dir, Path(tmp)))
                files = _bundle_files(bundle)
                say(words.STICK_CHECKING_COPY)
                my_id = unit.unit_id(data_dir)
                stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now()))
                name = _copy_verified(folder_fd, files, req, f"{my_id}-{stamp}")
        except OSError as exc:
            log.warning("stick export failed: %s", exc)
            say(_why_not_copied(exc))
            return 1
        unit.note_export(data_dir, now())
        exported = True
        say(words.STICK_COPIED.format(files=len(files), folder=name))

    if req.wants("wipe_after_export"):
        if not exported:
            say(words.STICK_NOT_COPIED)
            return 1
        say(words.STICK_WIPING)
        try:
            (run.wiper or _default_wiper())(data_dir)
            rx.clear_active(data_dir)
        except Exception:  # noqa: BLE001 - say so, keep the kiosk alive
            log.exception("wipe failed")
            say(words.STICK_WIPE_UNFINISHED)
            return 1
        say(WIPED)

    if new_rx is not None:
        result = rx.apply_bytes(data_dir, new_rx, now())
        if result.ok:
            say(words.STICK_RX_ACTIVE)
        else:  # cannot happen after validation, but never pretend
            say(words.STICK_RX_NOT_APPLIED)
            rx_failed = True

    if req.voice:
        recordings.import_listed(folder_fd, data_dir, req.voice, say)
    unit.mark_nonce_used(data_dir, req.nonce)
    say(words.STICK_DONE_RX_PROBLEM if rx_failed else words.STICK_DONE)
    return 1 if rx_failed else 0


STICK_FULL = words.STICK_FULL
STICK_READ_ONLY = words.STICK_READ_ONLY
STICK_BAD_FOLDER = words.STICK_BAD_FOLDER


def _why_not_copied(exc: OSError) -> str:
    """The plain sentence for an export that could not be written to the stick."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or "stick is full" in str(exc):
        return STICK_FULL
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return STICK_READ_ONLY
    if exc.errno in (errno.ENOTDIR, errno.ELOOP, errno.EEXIST):
        return STICK_BAD_FOLDER
    return PULLED


def _leave_result(stick: Path, data_dir: Path, lines: list[str]) -> None:
    """Best effort: leave the status lines on the stick for the clinic (never trusted)."""
    name = f"result-{unit.unit_id(data_dir)}.txt"
    try:
        top = _open_dir(stick)
        try:
            folder = _open_dir(STICK_FOLDER, top)
            try:
                if exists_at(folder, name):
                    st = os.stat(name, dir_fd=folder, follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode):
                        return
                    os.unlink(name, dir_fd=folder)
                _write_at(folder, name, ("\n".join([*lines, SAFE]) + "\n").encode("utf-8"))
            finally:
                os.close(folder)
        finally:
            os.close(top)
    except OSError:
        pass


def spool_dir(data_dir: Path) -> Path:
    """The folder where usb-sync leaves jobs for the kiosk."""
    return data_dir / "spool"
