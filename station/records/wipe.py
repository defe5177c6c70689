"""Remove every patient record from a unit, so nothing of one patient reaches the next.

The database, its WAL and journal files, the active prescription and the exports are
overwritten with zeros before they are deleted; unit settings, the unit id and the clinic key
stay."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from station.files import fsync_dir, shred
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
    ".prescription.toml.tmp*",  # a copy a power cut left half-way through a prescribe
)


def wipe(data_dir: Path) -> None:
    """Remove every patient record from ``data_dir`` and start an empty store.

    Database, WAL and SHM files (and any moved-aside corrupt copies and exports) are
    overwritten with zeros, synced and deleted; unit settings stay. Stop the kiosk's recorder
    first (or use :meth:`SessionRecorder.wipe`).
    """
    data_dir = Path(data_dir)
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
    log.info("wiped every patient record in the data directory")
