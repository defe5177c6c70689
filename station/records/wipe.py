"""Remove every patient record from a unit, so nothing of one patient reaches the next.

The database, its WAL and journal files, the active prescription, its change log (which
names the side, the patterns, the reminder times and the prescription's hash, from which an
alias can be guessed), the clinic's recorded cues for this patient and the exports are
overwritten with zeros before they are deleted; unit settings, the unit id and the clinic key
stay."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from station.files import atomic_write, fsync_dir, shred
from station.records.sessionlock import SessionInProgress, no_session
from station.records.store import EXPORTS_DIR, Store

log = logging.getLogger(__name__)

#: Files and folders in the data dir that hold patient data (globs). Everything else (unit.json,
#: models/, settings, the clinic secret) is unit property and stays.
PATIENT_GLOBS: tuple[str, ...] = (
    "records.sqlite3",
    "records.sqlite3-*",
    "records.sqlite3.*",
    ".records*",
    EXPORTS_DIR,
    "*.export-tmp*",
    "prescription.toml",  # holds the patient's alias and the therapist's message
    "prescription-log.jsonl*",  # side, patterns, times and the prescription's sha256
    "voice",  # the clinic's recordings sent with this patient's prescription
    ".prescription.toml.tmp*",  # a copy a power cut left half-way through a prescribe
    "tmp",  # exports being written (CSV, the prescription with its alias)
)
#: Temporary copies a kill in the middle of an atomic write leaves (the writer's pid ends the
#: name); they hold the next patient's alias and message, so the next start removes them.
PATIENT_TEMPS: tuple[str, ...] = (".prescription.toml.tmp-*",)
#: Written (synced) before a wipe touches anything, removed when it is complete: any later
#: start of a station command that finds it finishes the wipe.
WIPE_MARKER = ".wipe-pending"
#: Where exports are built before they are copied out (inside the data dir, wiped with it).
TMP_DIR = "tmp"


def wipe(data_dir: Path) -> None:
    """Remove every patient record from ``data_dir`` and start an empty store.

    Database, WAL and SHM files (and any moved-aside corrupt copies and exports) are
    overwritten with zeros, synced and deleted; unit settings stay. Stop the kiosk's recorder
    first (or use :meth:`SessionRecorder.wipe`).
    """
    data_dir = Path(data_dir)
    with no_session(data_dir):
        _wipe_unlocked(data_dir)


def _wipe_unlocked(data_dir: Path) -> None:
    marker = data_dir / WIPE_MARKER
    try:
        atomic_write(marker, b"a wipe was started; any station command finishes it\n")
    except OSError as exc:  # a full disk: deleting is still possible, and frees room
        log.warning("could not record the wipe before starting it: %s", exc)
    seen: set[Path] = set()
    for pattern in PATIENT_GLOBS:
        for path in sorted(data_dir.glob(pattern)):
            if path in seen:
                continue
            seen.add(path)
            if path.is_dir() and not path.is_symlink():
                for sub in sorted(path.rglob("*")):
                    if sub.is_file() and not sub.is_symlink():
                        shred(sub)
                shutil.rmtree(path, ignore_errors=True)
            elif path.is_file():
                shred(path)
            else:
                path.unlink(missing_ok=True)
    fsync_dir(data_dir)
    store = Store.open(data_dir)
    store.close()
    marker.unlink(missing_ok=True)
    fsync_dir(data_dir)
    log.info("wiped every patient record in the data directory")


def tmp_dir(data_dir: Path) -> Path:
    """The data dir's folder for exports in progress (created on demand)."""
    d = Path(data_dir) / TMP_DIR
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def finish_interrupted_work(data_dir: Path) -> list[str]:
    """At the start of any station command: finish a wipe a power cut stopped half-way, and
    remove exports a kill left half-written. Returns what was done (plain words); does
    nothing while a session runs (the kiosk did this at its own start) or without a data dir."""
    data_dir = Path(data_dir)
    done: list[str] = []
    if not data_dir.is_dir():
        return done
    try:
        with no_session(data_dir):
            if (data_dir / WIPE_MARKER).exists():
                log.warning("a wipe was interrupted; finishing it")
                _wipe_unlocked(data_dir)
                done.append("finished an interrupted wipe")
            done += _remove_stale_exports(data_dir)
            done += _remove_stale_temps(data_dir)
    except SessionInProgress:
        pass
    return done


def _remove_stale_exports(data_dir: Path) -> list[str]:
    """Shred exports left in the data dir's tmp folder and the out-folder copies they name."""
    tmp = data_dir / TMP_DIR
    if not tmp.is_dir() or tmp.is_symlink():
        return []
    done = []
    for note in sorted(tmp.glob("*.out")):  # "an export was being copied to <path>"
        try:
            target = Path(note.read_text("utf-8").strip())
        except (OSError, UnicodeDecodeError):
            target = None
        if target is not None and target.name.endswith(".export-tmp") and target.is_dir() \
                and not target.is_symlink():
            _shred_tree(target)
            done.append(f"removed a half-written export at {target}")
    left = sorted(tmp.iterdir())
    for p in left:
        if p.is_dir() and not p.is_symlink():
            _shred_tree(p)
        elif p.is_file() and not p.is_symlink():
            shred(p)
        else:
            p.unlink(missing_ok=True)
    if left:
        done.append(f"removed {len(left)} half-written export file(s) from the data folder")
    return done


def _remove_stale_temps(data_dir: Path) -> list[str]:
    """Shred half-written prescription copies whose writer is gone (a kill mid-prescribe)."""
    done = []
    for pattern in PATIENT_TEMPS:
        for p in sorted(data_dir.glob(pattern)):
            pid = p.name.rsplit("-", 1)[-1]
            if pid.isdigit() and _alive(int(pid)):
                continue  # a prescribe is writing it right now
            if p.is_file() and not p.is_symlink():
                shred(p)
            else:
                p.unlink(missing_ok=True)
            done.append(f"removed a half-written copy of a prescription ({p.name})")
    return done


def _alive(pid: int) -> bool:
    """True when a process with ``pid`` exists (this one included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # no permission to signal it: it exists
        return True
    return True


def _shred_tree(path: Path) -> None:
    for sub in sorted(path.rglob("*")):
        if sub.is_file() and not sub.is_symlink():
            shred(sub)
    shutil.rmtree(path, ignore_errors=True)
