"""Clinic sticks: a signed request on a USB stick, and the flow a unit runs when one goes in.

Stick format (a folder ``station-clinic/`` at the top of the stick)::

    station-clinic/request.json      the request (bytes signed as they are)
    station-clinic/request.sig       "hmac-sha256 <64 hex>" = HMAC-SHA256(secret, request.json)
    station-clinic/prescription.toml optional: the new prescription
    station-clinic/voice/<cue>.wav   optional: the clinic's recordings of spoken cues
    station-clinic/export/<unit>-<YYYYmmdd-HHMMSS>/  bundles written by units (+ manifest.json)
    station-clinic/export/.partial-<nonce>/          a bundle being written (never trusted)
    station-clinic/result-<unit>.txt the status lines of the last run on that unit

``request.json``::

    {"format": 1, "unit": "ms-3f9a1c07", "key_id": "<16 hex>", "nonce": "<32 hex>",
     "created": "2026-05-04T10:20:00Z",
     "actions": ["import_prescription", "export", "wipe_after_export"],
     "prescription_sha256": "<64 hex>" | null,
     "voice": {"small_smile_move_en.wav": "<64 hex>"}}   optional (station.clinic.recordings)

Decisions: a request names exactly one unit (no "any unit of this clinic"): a stick that can
wipe must not work on every unit a clinic owns, and the unit id is on the clinician screen.
A nonce is remembered once its request has been carried out, so the same stick is refused the
second time; a stick pulled out mid-way has not been carried out and finishes when put back.
``created`` is informative only: a unit without network or clock battery cannot judge age.

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

import datetime as dt
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from station.clinic import prescription as rx
from station.clinic import recordings, unit
from station.files import read_limited

log = logging.getLogger(__name__)

STICK_FOLDER = "station-clinic"
REQUEST = "request.json"
SIGNATURE = "request.sig"
PRESCRIPTION = "prescription.toml"
EXPORT_FOLDER = "export"
MAX_REQUEST_BYTES = 16 * 1024
MAX_SIG_BYTES = 512
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
MAX_REQUEST_NESTING = 4
ACTIONS = ("import_prescription", "export", "wipe_after_export")
SAFE = "Safe to remove the stick."
WIPED = "This unit holds no patient records now."  # the kiosk keeps it on home until the next patient
_UNCHANGED = "Nothing on this unit was changed."
PULLED = f"The stick was taken out or could not be written. {_UNCHANGED} Put the stick in again to finish."

Exporter = Callable[[Path, Path], Path]
Wiper = Callable[[Path], None]
Report = Callable[[str], None]

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class StickRefused(Exception):
    """The stick is not trusted or not for this unit; the message is one plain sentence."""


@dataclass(frozen=True)
class Request:
    """A verified stick request."""

    unit: str
    nonce: str
    created: str
    actions: tuple[str, ...]
    prescription_sha256: str | None
    voice: tuple[tuple[str, str], ...] = ()  # (file name, sha256) of recorded cues

    def wants(self, action: str) -> bool:
        """True when the stick asks for ``action``."""
        return action in self.actions


# ---------------------------------------------------------------- defensive file access


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte (a seam: tests replace it to simulate a pulled stick)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _open_dir(name: str | Path, dir_fd: int | None = None) -> int:
    return os.open(name, _DIR, dir_fd=dir_fd)


def _sha256_at(dir_fd: int, name: str) -> str:
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


def _write_at(dir_fd: int, name: str, data: bytes) -> None:
    """Create ``name`` (must not exist), write, fsync, and drop it from the page cache so a
    later read-back comes from the stick itself."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644, dir_fd=dir_fd)
    try:
        _write_all(fd, data)
        os.fsync(fd)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _exists_at(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------- making a stick


def _now_iso(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(secret: bytes, payload: bytes) -> str:
    """The contents of ``request.sig`` for ``payload``."""
    return "hmac-sha256 " + hmac.new(secret, payload, hashlib.sha256).hexdigest()


def make_stick(stick: Path, secret: bytes, unit_id: str, prescription: Path | None = None,
               wipe_after_export: bool = False, now: float | None = None,
               voice_dir: Path | None = None) -> Request:
    """Write a signed request (and the prescription) into ``stick/station-clinic/``.

    Raises ValueError with a plain message when the prescription is invalid or the unit id is
    malformed; an existing request on the stick is replaced (its nonce is then never used).
    """
    if not unit.UNIT_ID_RE.fullmatch(unit_id):
        raise ValueError(f"unit id {unit_id!r} does not look like a unit id (see the info screen)")
    rx_bytes, digest = None, None
    actions = ["export"]
    if prescription is not None:
        rx_bytes = read_limited(prescription)
        result = rx.validate_bytes(rx_bytes)
        if not result.ok:
            problems = "; ".join(map(str, result.problems))
            raise ValueError(f"the prescription is not valid: {problems}")
        digest = hashlib.sha256(rx_bytes).hexdigest()
        actions.insert(0, "import_prescription")
    if wipe_after_export:
        actions.append("wipe_after_export")
    voice = recordings.from_folder(voice_dir) if voice_dir is not None else {}  # checked here
    nonce, created = secrets.token_hex(16), _now_iso(time.time() if now is None else now)
    req = {"format": 1, "unit": unit_id, "key_id": unit.key_id(secret), "nonce": nonce, "created": created,
           "actions": actions, "prescription_sha256": digest}
    if voice_list := recordings.listed(voice):
        req["voice"] = voice_list
    payload = json.dumps(req, indent=1).encode("utf-8")
    folder = stick / STICK_FOLDER
    if folder.is_symlink():
        raise ValueError(f"{folder} is a symbolic link")
    folder.mkdir(parents=True, exist_ok=True)
    for name in (REQUEST, SIGNATURE, PRESCRIPTION):
        (folder / name).unlink(missing_ok=True)
    if rx_bytes is not None:
        (folder / PRESCRIPTION).write_bytes(rx_bytes)
    recordings.write_folder(folder, voice)
    (folder / REQUEST).write_bytes(payload)
    (folder / SIGNATURE).write_text(sign(secret, payload) + "\n", encoding="ascii")
    return Request(unit_id, nonce, created, tuple(actions), digest, tuple(sorted(voice_list.items())))


# ---------------------------------------------------------------- verifying a stick


def _parse_request(payload: bytes) -> Request:
    try:
        text = payload.decode("utf-8")
        if nesting(text) > MAX_REQUEST_NESTING:
            raise ValueError("nested too deeply")
        d = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StickRefused("The clinic request on this stick is damaged. It was ignored.") from None
    ok = (
        isinstance(d, dict) and type(d.get("format")) is int and d["format"] == 1
        and isinstance(d.get("unit"), str) and isinstance(d.get("created"), str)
        and isinstance(d.get("nonce"), str) and re.fullmatch(r"[0-9a-f]{16,64}", d["nonce"])
        and isinstance(d.get("actions"), list)
        and all(isinstance(a, str) and a in ACTIONS for a in d["actions"])
        and (d.get("prescription_sha256") is None
             or (isinstance(d["prescription_sha256"], str)
                 and re.fullmatch(r"[0-9a-f]{64}", d["prescription_sha256"])))
    )
    if not ok:
        raise StickRefused("The clinic request on this stick is damaged. It was ignored.")
    actions = tuple(d["actions"])
    if "wipe_after_export" in actions and "export" not in actions:
        raise StickRefused("The clinic request asks to wipe without export. It was ignored.")
    if (("import_prescription" in actions and d.get("prescription_sha256") is None)
            or not recordings.listing_ok(d.get("voice", {}))):
        raise StickRefused("The clinic request on this stick is damaged. It was ignored.")
    return Request(d["unit"], d["nonce"], d["created"], actions, d.get("prescription_sha256"),
                   tuple(sorted(d.get("voice", {}).items())))


def nesting(text: str) -> int:
    """How deep ``[`` and ``{`` nest in JSON text (brackets inside strings not counted)."""
    depth = deepest = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def verify_request(folder_fd: int, data_dir: Path) -> Request:
    """Read and check the request in an opened ``station-clinic`` folder.

    Reads only ``request.json`` and ``request.sig``; raises :class:`StickRefused`.
    """
    secret = unit.find_secret(data_dir)
    my_id = unit.get_unit_id(data_dir)
    if secret is None or my_id is None:
        raise StickRefused("This unit has no clinic key yet. The stick was ignored.")
    try:
        payload = read_limited(REQUEST, MAX_REQUEST_BYTES, dir_fd=folder_fd)
        sig = read_limited(SIGNATURE, MAX_SIG_BYTES, dir_fd=folder_fd).decode("ascii", "replace").strip()
    except OSError:
        raise StickRefused("The clinic request on this stick could not be read. It was ignored.") from None
    if not hmac.compare_digest(sig.encode(), sign(secret, payload).encode()):
        raise StickRefused("This stick is not signed by this unit's clinic. It was ignored.")
    req = _parse_request(payload)
    if req.unit != my_id:
        raise StickRefused(f"This stick was made for unit {req.unit[:40]}, and this is unit "
                           f"{my_id}. It was ignored.")
    if unit.nonce_used(data_dir, req.nonce):
        raise StickRefused("This stick was already used on this unit. It was ignored. Make a new stick to do it again.")
    return req


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
    if not _exists_at(folder_fd, EXPORT_FOLDER):
        os.mkdir(EXPORT_FOLDER, dir_fd=folder_fd)
    export_fd = _open_dir(EXPORT_FOLDER, folder_fd)  # refuses a symlinked export folder
    try:
        need = sum(len(d) for _, d in files) + 1024 * 1024
        vfs = os.fstatvfs(export_fd)
        if vfs.f_bavail * vfs.f_frsize < need:
            raise OSError("the stick is full")
        partial = f".partial-{req.nonce}"
        if _exists_at(export_fd, partial):  # left by a stick pulled out earlier
            if stat.S_ISDIR(os.stat(partial, dir_fd=export_fd, follow_symlinks=False).st_mode):
                shutil.rmtree(partial, dir_fd=export_fd)
            else:
                os.unlink(partial, dir_fd=export_fd)
        os.mkdir(partial, dir_fd=export_fd)
        part_fd = _open_dir(partial, export_fd)
        try:
            for rel, data in files:
                parent_fd = _ensure_dirs(part_fd, rel)
                try:
                    _write_at(parent_fd, rel.rsplit("/", 1)[-1], data)
                finally:
                    if parent_fd != part_fd:
                        os.close(parent_fd)
            os.fsync(part_fd)
            for rel, data in files:  # read back from the stick and compare
                parent_fd = _ensure_dirs(part_fd, rel, create=False)
                try:
                    got = _sha256_at(parent_fd, rel.rsplit("/", 1)[-1])
                finally:
                    if parent_fd != part_fd:
                        os.close(parent_fd)
                if got != hashlib.sha256(data).hexdigest():
                    raise OSError(f"{rel} on the stick differs from what was written")
        finally:
            os.close(part_fd)
        name, n = final_name, 1
        while _exists_at(export_fd, name):
            n += 1
            name = f"{final_name}-{n}"
        os.rename(partial, name, src_dir_fd=export_fd, dst_dir_fd=export_fd)
        os.fsync(export_fd)
        return name
    finally:
        os.close(export_fd)


def _ensure_dirs(base_fd: int, rel: str, create: bool = True) -> int:
    """An fd for the parent folder of ``rel`` under ``base_fd`` (no symlinks followed)."""
    parts = rel.split("/")[:-1]
    fd = base_fd
    for part in parts:
        if create and not _exists_at(fd, part):
            os.mkdir(part, dir_fd=fd)
        nfd = _open_dir(part, fd)
        if fd != base_fd:
            os.close(fd)
        fd = nfd
    return fd


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
        code = _run_locked(stick, data_dir, exporter, wiper, say, now, tmp_root)
    if code != 2:
        _leave_result(stick, data_dir, lines)
    say(SAFE)
    return code


def _run_locked(stick: Path, data_dir: Path, exporter: Exporter | None, wiper: Wiper | None,
                say: Report, now: Callable[[], float], tmp_root: Path | None) -> int:
    say("Clinic stick found. Checking it.")
    try:
        top_fd = _open_dir(stick)
    except OSError:
        say("The stick could not be opened. It was ignored.")
        return 2
    try:
        try:
            folder_fd = _open_dir(STICK_FOLDER, top_fd)
        except OSError:
            say("This stick has no clinic request. It was ignored.")
            return 2
        try:
            return _run_verified(folder_fd, data_dir, exporter, wiper, say, now, tmp_root)
        finally:
            os.close(folder_fd)
    finally:
        os.close(top_fd)


def _run_verified(folder_fd: int, data_dir: Path, exporter: Exporter | None,
                  wiper: Wiper | None, say: Report, now: Callable[[], float],
                  tmp_root: Path | None) -> int:
    try:
        req = verify_request(folder_fd, data_dir)
    except StickRefused as exc:
        say(str(exc))
        return 2
    say("Stick checked: it is from this unit's clinic.")

    new_rx: bytes | None = None
    if req.wants("import_prescription"):
        say("Reading the new prescription.")
        try:
            data = read_limited(PRESCRIPTION, rx.MAX_BYTES, dir_fd=folder_fd)
        except OSError:
            data = None
            say("The new prescription could not be read.")
        if data is not None and hashlib.sha256(data).hexdigest() != req.prescription_sha256:
            say("The new prescription is not the one the clinic signed.")
            data = None
        if data is not None:
            result = rx.validate_bytes(data)
            if result.ok:
                new_rx = data
                say("The new prescription is fine.")
            else:
                say("The new prescription has a problem:")
                for pr in result.problems[:5]:
                    say(f"  {pr}")
        if new_rx is None:  # refuse the whole request: no export, no wipe, the stick stays usable
            say("Nothing was done: the records and the current prescription stay on this "
                "unit. Make a new stick with a good prescription.")
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
            return _export_wipe_apply(folder_fd, data_dir, exporter, wiper, say, now, tmp_root,
                                      req, new_rx)
    except SessionInProgress:
        say("The station is in the middle of a practice session, so nothing was done. "
            "Put the stick in again when the session has ended.")
        return 1


def _export_wipe_apply(folder_fd: int, data_dir: Path, exporter: Exporter | None,
                       wiper: Wiper | None, say: Report, now: Callable[[], float],
                       tmp_root: Path | None, req: Request, new_rx: bytes | None) -> int:
    """The stick's work once it is verified: export, wipe, new prescription, nonce."""
    rx_failed = False
    exported = False
    if req.wants("export") and unit.holds_nothing(data_dir):  # no empty bundle
        say("This unit holds no patient records, so there was nothing to copy.")
        exported = True
    elif req.wants("export"):
        say("Copying the records to the stick.")
        try:
            exp = exporter or _default_exporter()
        except ImportError:
            say("This unit cannot export yet (a software part is missing). Nothing was changed.")
            return 1
        try:
            from station.records.wipe import tmp_dir

            root = tmp_root if tmp_root is not None else tmp_dir(data_dir)  # wiped with the data
            with tempfile.TemporaryDirectory(prefix="stick-export-", dir=root) as tmp:
                bundle = Path(exp(data_dir, Path(tmp)))
                files = _bundle_files(bundle)
                say("Checking the copy on the stick.")
                my_id = unit.unit_id(data_dir)
                stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now()))
                name = _copy_verified(folder_fd, files, req, f"{my_id}-{stamp}")
        except OSError as exc:
            log.warning("stick export failed: %s", exc)
            say(_why_not_copied(exc))
            return 1
        unit.note_export(data_dir, now())
        exported = True
        say(f"Records copied and checked ({len(files)} files, folder {name}).")

    if req.wants("wipe_after_export"):
        if not exported:
            say("The records were not copied, so nothing was removed.")
            return 1
        say("Removing the previous patient's records from this unit.")
        try:
            (wiper or _default_wiper())(data_dir)
            rx.clear_active(data_dir)
        except Exception:  # noqa: BLE001 - say so, keep the kiosk alive
            log.exception("wipe failed")
            say("Removing the records did not finish. Put the stick in again to finish.")
            return 1
        say(WIPED)

    if new_rx is not None:
        result = rx.apply_bytes(data_dir, new_rx, now())
        if result.ok:
            say("The new prescription is active.")
        else:  # cannot happen after validation, but never pretend
            say("The new prescription could not be applied, so the current one stays.")
            rx_failed = True

    if req.voice:
        recordings.import_listed(folder_fd, data_dir, req.voice, say)
    unit.mark_nonce_used(data_dir, req.nonce)
    say("Finished, with a problem in the prescription." if rx_failed else "All done.")
    return 1 if rx_failed else 0


STICK_FULL = f"The stick is full. {_UNCHANGED} Make room on the stick (or use a bigger one) and put it in again."
STICK_READ_ONLY = f"The stick cannot be written (it is read-only). {_UNCHANGED} Use a stick that can be written."
STICK_BAD_FOLDER = (f"The stick's station-clinic/export is not a folder. {_UNCHANGED} Remove it "
                    "from the stick and put the stick in again.")


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
                if _exists_at(folder, name):
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
