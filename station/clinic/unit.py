"""This unit's identity: its id, its clinic's secret, used stick nonces, and the clinician info.

Everything lives in ``<data dir>/unit/``, which holds no patient data and survives a wipe:

- ``unit-id``: one line, e.g. ``ms-3f9a1c07`` (letters, digits, ``-``).
- ``clinic.key``: the clinic secret, mode 0600, one line ``station-clinic-key-v1 <64 hex>``
  (32 random bytes). ``/etc/station/clinic.key`` is read when the data dir has none, so a
  provisioning image may put it there instead.
- ``used-nonces``: one hex nonce per line, every stick request already carried out here.
- ``last-export.json``: when the last stick export finished.

Provisioning calls :func:`provision` once (on the Pi, from the provisioning script) and copies
the same ``clinic.key`` to the clinic's computer, where ``station clinic make-stick`` uses it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from station import __version__
from station.feedback import ClinicianInfo
from station.files import atomic_write, read_limited
from station.practice import words

KEY_HEADER = "station-clinic-key-v1"
log = logging.getLogger(__name__)
UNIT_FILE = "unit.json"  # an older version kept the unit id here
ETC_KEY = Path("/etc/station/clinic.key")
ETC_UNIT_ID = Path("/etc/station/unit-id")  # written by deploy/provision.sh
UNIT_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{2,39}")


class ClinicKeyError(Exception):
    """The clinic key is missing or malformed; the message says what to do."""


def unit_dir(data_dir: Path) -> Path:
    """The folder for this unit's own (non-patient) state."""
    return data_dir / "unit"


def key_path(data_dir: Path) -> Path:
    """Where :func:`provision` puts the clinic secret."""
    return unit_dir(data_dir) / "clinic.key"


def new_secret() -> bytes:
    """32 random bytes for a new clinic."""
    return secrets.token_bytes(32)


def write_secret(path: Path, secret: bytes) -> None:
    """Write a clinic key file (mode 0600, created atomically, never world-readable)."""
    if len(secret) < 16:
        raise ValueError("a clinic secret needs at least 16 bytes")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, f"{KEY_HEADER} {secret.hex()}\n".encode("ascii"), 0o600, exclusive_tmp=True)


def read_secret(path: Path) -> bytes:
    """Read a clinic key file; raises :class:`ClinicKeyError` with a plain message."""
    try:  # the one bounded reader: no symlink, no FIFO or device, at most 4 KiB
        text = read_limited(path, 4096).decode("ascii")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ClinicKeyError(f"No readable clinic key at {path} ({exc}).") from None  # not patient words: a technician
    parts = text.split()
    if len(parts) != 2 or parts[0] != KEY_HEADER or not re.fullmatch(r"[0-9a-f]{32,128}", parts[1]):
        # not patient words: a technician
        raise ClinicKeyError(f"The clinic key at {path} is not a station clinic key.")
    return bytes.fromhex(parts[1])


def find_secret(data_dir: Path) -> bytes | None:
    """This unit's clinic secret, or None when the unit is not provisioned."""
    for path in (key_path(data_dir), ETC_KEY):
        if os.path.lexists(path):
            try:
                return read_secret(path)
            except ClinicKeyError:
                continue
    return None


def key_id(secret: bytes) -> str:
    """A short public fingerprint of a clinic secret (tells clinics apart, reveals nothing)."""
    return hmac.new(secret, b"station clinic key id", hashlib.sha256).hexdigest()[:16]


def get_unit_id(data_dir: Path) -> str | None:
    """This unit's id (data dir first, then the provisioned /etc file), or None."""
    for path in (unit_dir(data_dir) / "unit-id", ETC_UNIT_ID):
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if UNIT_ID_RE.fullmatch(text):
            return text
    return None


def unit_id(data_dir: Path) -> str:
    """The unit's one identity, used by exports, sticks, the info screen and ``make-stick``.

    A provisioned unit has the id provisioning gave it. Any other unit (a laptop, a test
    unit) gets one the same way, ``ms-`` and 8 hex digits, kept in the same file; an id an
    older version kept in ``unit.json`` is adopted, so a unit never changes its name.
    """
    uid = get_unit_id(data_dir)
    if uid:
        return uid
    legacy = _legacy_unit_json(data_dir).get("unit_id")
    uid = legacy if isinstance(legacy, str) and UNIT_ID_RE.fullmatch(legacy) else f"ms-{secrets.token_hex(4)}"
    try:
        d = unit_dir(data_dir)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write(d / "unit-id", (uid + "\n").encode("ascii"))
    except OSError as exc:  # a full disk must not stop anything; the id is asked again later
        log.warning("could not save the unit id: %s", exc)
    return uid


def _legacy_unit_json(data_dir: Path) -> dict[str, Any]:
    try:
        loaded = json.loads((Path(data_dir) / UNIT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def unit_info(data_dir: Path) -> dict[str, Any]:
    """What a bundle says about the unit that wrote it (``unit.json`` in the bundle)."""
    info = _legacy_unit_json(data_dir)
    info["unit_id"] = unit_id(data_dir)
    return info


def is_provisioned(data_dir: Path) -> bool:
    """True when this unit has a clinic key (so it can take clinic sticks)."""
    return find_secret(data_dir) is not None


def provision(data_dir: Path, secret: bytes, given_id: str | None = None) -> str:
    """Give this unit its clinic secret and an id (the given one, else the one it has)."""
    uid = given_id or unit_id(data_dir)
    if not UNIT_ID_RE.fullmatch(uid):
        raise ValueError(f"unit id {uid!r}: use 3-40 letters, digits or -")
    d = unit_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    write_secret(key_path(data_dir), secret)
    atomic_write(d / "unit-id", (uid + "\n").encode("ascii"))
    return uid


def nonce_used(data_dir: Path, nonce: str) -> bool:
    """True when a stick request with this nonce was already carried out here."""
    try:
        with open(unit_dir(data_dir) / "used-nonces", encoding="ascii") as f:
            return any(line.strip() == nonce for line in f)
    except (OSError, UnicodeDecodeError):
        return False


def mark_nonce_used(data_dir: Path, nonce: str) -> None:
    """Remember a carried-out request (appended and fsynced)."""
    d = unit_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "used-nonces", "a", encoding="ascii") as f:
        f.write(nonce + "\n")
        f.flush()
        os.fsync(f.fileno())


def note_export(data_dir: Path, when: float) -> None:
    """Remember when the last export to a stick finished."""
    d = unit_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    atomic_write(d / "last-export.json", json.dumps({"time": when}).encode("utf-8"))


def last_export(data_dir: Path) -> float | None:
    """Epoch seconds of the last finished export, or None."""
    try:
        value = json.loads((unit_dir(data_dir) / "last-export.json").read_text("utf-8"))["time"]
        return float(value)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clinician_info(data_dir: Path, camera: str, plan: str = "") -> ClinicianInfo:
    """Gather the clinician info; never raises (each part says 'unknown' when it fails)."""
    from station.clinic.prescription import load_active
    from station.paths import model_path
    from station.tracking.model import MODEL_SHA256, sha256_file

    digest = ""
    try:
        mp = model_path(data_dir)
        if mp.is_file():
            digest = sha256_file(mp)
    except OSError:
        digest = ""
    try:
        free = shutil.disk_usage(data_dir).free / 1e6
    except OSError:
        free = 0.0
    when = last_export(data_dir)
    last = time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if when else "never"
    secret = find_secret(data_dir)
    return ClinicianInfo(
        unit_id=unit_id(data_dir) + ("" if is_provisioned(data_dir) else " (not provisioned)"),
        clinic_key_id=key_id(secret) if secret else "none (run: station clinic provision)",
        version=__version__,
        model_sha256=digest if digest in ("", MODEL_SHA256) else digest[:12] + " (not the pinned model)",
        camera=camera,
        free_storage=f"{free:.0f} MB free",
        prescription=plan_line(load_active(data_dir), plan),
        last_export=last,
    )


def plan_line(rx: Any, plan: str = "") -> str:
    """The info screen's plan row in staff words: the exercises by name (``plan``, e.g.
    "Gentle eye closure x3"), then the prescription's minutes, sessions and reminders. The
    affected side has its own row; no internal pattern ids."""
    if rx.source == "default":
        return f"Standard plan (no prescription): {plan}" if plan else "Standard plan (no prescription)"
    reminders = len(rx.reminder_times)
    parts = [plan or ", ".join(f"{p.id} x{p.reps}" for p in rx.patterns),
             f"{rx.target_minutes:g} min, {rx.sessions_per_day} a day",
             f"{reminders} reminder{'' if reminders == 1 else 's'}"]
    return "; ".join(p for p in parts if p)


def practice_sessions(data_dir: Path) -> int | None:
    """How many practice sessions the record store holds (None: it could not be read)."""
    from station.paths import database_path

    path = database_path(data_dir)
    if not path.is_file():
        return 0
    try:
        with closing(sqlite3.connect(path, timeout=5)) as db:
            return int(db.execute("SELECT count(*) FROM sessions").fetchone()[0])
    except sqlite3.Error as exc:
        log.warning("could not count the sessions on this unit: %s", exc)
        return None


def holds_nothing(data_dir: Path) -> bool:
    """No patient on this unit: no practice session and no active prescription."""
    from station.clinic.prescription import load_active

    return practice_sessions(data_dir) == 0 and load_active(data_dir).source == "default"


MIXING = words.STICK_MIXING


def lend_refusal(data_dir: Path, new_alias: str, wipes_first: bool) -> str | None:
    """The plain reason a prescription for ``new_alias`` must not go on this unit, or None.

    A unit serves one patient between wipes: a prescription for another alias is taken only
    when the unit holds nothing of anyone (fresh or wiped), or when the same stick copies the
    records and wipes the unit first. A new prescription for the same alias is always fine.
    """
    from station.clinic.prescription import load_active

    if wipes_first:
        return None
    current = load_active(data_dir)
    if current.alias == new_alias:
        return None
    if current.alias or practice_sessions(data_dir) != 0:
        return MIXING
    return None
