"""Importing a returned bundle: verify everything first, then add it in one transaction.

A bundle is what ``station export`` (or a unit, onto a clinic stick) writes: a folder with
``manifest.json`` listing every other file with its size and sha256. It may arrive as that
folder, as a zip of it, or still on the stick (``station-clinic/export/<unit>-<time>/``).

Order: read the manifest and every file it names into memory, refusing anything odd before a
byte is trusted (symlinks, special files, names with a path in them, files the manifest does
not list, sizes over the limits, zip entries that lie about their size or expand too much),
compare sizes and sha256 sums, then parse the CSVs, and only then open one database
transaction. A refused bundle changes nothing. The bundle's identity is the sha256 of its
manifest (which pins every file), so importing the same bundle again adds nothing; a session
already imported from an earlier bundle of the same unit is not added twice either.

Per-rep qualities (``slow``, ``small``, ``quiet``, ``released`` and the numbers behind them)
are read when the bundle has them; older bundles without those columns import with the
qualities unknown (null), never guessed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from station.desk import db
from station.files import read_limited

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20
MAX_FILE_BYTES = 256 << 20
MAX_BUNDLE_BYTES = 512 << 20
MAX_FILES = 64
MAX_ZIP_RATIO = 200  # a CSV compresses maybe 10x; far more is a zip bomb
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
REQUIRED = ("sessions.csv", "reps.csv", "unit.json")
QUALITIES = ("slow", "small", "quiet", "released")
QUALITY_NUMBERS = ("t80_share", "target_peak_mm", "quiet_excess_mm", "residual_mm")


class BundleRefused(Exception):
    """The bundle was not imported; the message says why in one plain sentence."""


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    status: str  # "imported" | "already"
    bundle_id: int
    unit_id: str
    alias: str | None
    sessions_added: int
    message: str


# ---------------------------------------------------------------- reading, safely


def _read_fd(dir_fd: int, name: str, limit: int) -> bytes:
    """``files.read_limited`` inside the bundle folder; its refusals become a BundleRefused."""
    try:
        return read_limited(name, limit, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno is not None:  # a real I/O error, not one of read_limited's refusals
            raise
        raise BundleRefused(f"{exc}.") from None


def _manifest_entries(raw: bytes) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleRefused("manifest.json is damaged (not JSON).") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if manifest.get("format") != 1 or not isinstance(files, list) or not isinstance(
            manifest.get("unit_id"), str):
        raise BundleRefused("manifest.json is not a station bundle manifest.")
    entries: dict[str, dict[str, Any]] = {}
    for e in files:
        ok = (isinstance(e, dict) and isinstance(e.get("name"), str)
              and isinstance(e.get("bytes"), int) and not isinstance(e.get("bytes"), bool)
              and isinstance(e.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", e["sha256"]))
        if not ok:
            raise BundleRefused("manifest.json has a malformed file entry.")
        name = e["name"]
        if not NAME_RE.fullmatch(name) or name == MANIFEST or ".." in name:
            raise BundleRefused(f"manifest.json names a file with a path in it: {name[:80]!r}.")
        if name in entries:
            raise BundleRefused(f"manifest.json lists {name} twice.")
        if not 0 <= e["bytes"] <= MAX_FILE_BYTES:
            raise BundleRefused(f"{name} is {e['bytes']} bytes, more than the {MAX_FILE_BYTES} allowed.")
        entries[name] = e
    if len(entries) > MAX_FILES or sum(e["bytes"] for e in entries.values()) > MAX_BUNDLE_BYTES:
        raise BundleRefused("the bundle is larger than a station export can be.")
    missing = [n for n in REQUIRED if n not in entries]
    if missing:
        raise BundleRefused(f"manifest.json does not list {', '.join(missing)}.")
    return manifest, entries


def read_folder(path: Path) -> tuple[bytes, dict[str, bytes]]:
    """(manifest bytes, {name: bytes}) of a bundle folder; nothing followed through a symlink."""
    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise BundleRefused(f"{path.name} cannot be opened as a folder ({exc.strerror}).") from None
    try:
        names = os.listdir(dfd)
        if MANIFEST not in names:
            raise BundleRefused(f"{path.name} has no manifest.json: not a bundle, or a partial one.")
        raw = _read_fd(dfd, MANIFEST, MAX_MANIFEST_BYTES)
        _, entries = _manifest_entries(raw)
        extra = sorted(set(names) - set(entries) - {MANIFEST})
        if extra:
            raise BundleRefused(f"{extra[0]} is in the bundle but not in its manifest.")
        files: dict[str, bytes] = {}
        for name, e in entries.items():
            if name not in names:
                raise BundleRefused(f"{name} is missing: the bundle is incomplete.")
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise BundleRefused(f"{name} is a symbolic link.")
            if not stat.S_ISREG(st.st_mode):
                raise BundleRefused(f"{name} is not a regular file.")
            if st.st_size != e["bytes"]:
                raise BundleRefused(f"{name} is {st.st_size} bytes; the manifest says {e['bytes']}.")
            files[name] = _read_fd(dfd, name, e["bytes"])
        return raw, files
    finally:
        os.close(dfd)


def read_zip(path: Path) -> tuple[bytes, dict[str, bytes]]:
    """(manifest bytes, {name: bytes}) of a zipped bundle, never extracted to disk."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleRefused(f"{path.name} is not a readable zip file ({exc}).") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_FILES + 2:
            raise BundleRefused(f"{path.name} holds {len(infos)} entries, more than a bundle has.")
        by_name: dict[str, zipfile.ZipInfo] = {}
        prefixes = set()
        for info in infos:
            n = info.filename
            if n.startswith("/") or "\\" in n or any(p in ("..", "") for p in n.rstrip("/").split("/")):
                raise BundleRefused(f"{path.name} has an entry with an unsafe path: {n[:80]!r}.")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BundleRefused(f"{path.name} has a symbolic link: {n[:80]!r}.")
            if info.is_dir():
                continue
            parts = n.split("/")
            if len(parts) > 2:
                raise BundleRefused(f"{path.name} has nested folders ({n[:80]!r}); a bundle is flat.")
            prefixes.add(parts[0] if len(parts) == 2 else "")
            by_name[parts[-1]] = info
        if len(prefixes) > 1:
            raise BundleRefused(f"{path.name} holds more than one bundle folder.")
        if MANIFEST not in by_name:
            raise BundleRefused(f"{path.name} has no manifest.json: not a bundle, or a partial one.")

        def read(info: zipfile.ZipInfo, limit: int) -> bytes:
            if info.file_size > limit:
                raise BundleRefused(f"{info.filename} is {info.file_size} bytes, more than allowed.")
            if info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO \
                    and info.file_size > 1 << 20:
                raise BundleRefused(f"{info.filename} expands {info.file_size // info.compress_size}"
                                    " times: refused as a zip bomb.")
            with zf.open(info) as fh:
                data = fh.read(limit + 1)
            if len(data) > limit:
                raise BundleRefused(f"{info.filename} expands past what its header says.")
            return data

        try:
            raw = read(by_name[MANIFEST], MAX_MANIFEST_BYTES)
            _, entries = _manifest_entries(raw)
            extra = sorted(set(by_name) - set(entries) - {MANIFEST})
            if extra:
                raise BundleRefused(f"{extra[0]} is in the bundle but not in its manifest.")
            files = {}
            for name, e in entries.items():
                if name not in by_name:
                    raise BundleRefused(f"{name} is missing: the bundle is incomplete.")
                files[name] = read(by_name[name], e["bytes"])
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # CRC errors too
            raise BundleRefused(f"{path.name} is damaged ({exc}).") from None
        return raw, files


def read_bundle(path: Path) -> tuple[bytes, dict[str, bytes]]:
    """Read a bundle folder or zip (see :func:`read_folder`, :func:`read_zip`)."""
    if path.is_symlink():
        raise BundleRefused(f"{path.name} is a symbolic link.")
    if path.is_dir():
        return read_folder(path)
    if path.is_file():
        return read_zip(path)
    raise BundleRefused(f"{path} is neither a bundle folder nor a zip file.")


def find_bundles(path: Path) -> list[Path]:
    """Bundles at ``path``: itself, or those a unit left on a clinic stick (newest last)."""
    export = path / "station-clinic" / "export"
    if path.is_dir() and not (path / MANIFEST).exists() and export.is_dir() and not export.is_symlink():
        return sorted(p for p in export.iterdir() if not p.name.startswith("."))
    return [path]


# ---------------------------------------------------------------- verifying and parsing


def verify(raw_manifest: bytes, files: dict[str, bytes]) -> dict[str, Any]:
    """Check every file against the manifest; returns the manifest or raises BundleRefused."""
    manifest, entries = _manifest_entries(raw_manifest)
    for name, e in entries.items():
        data = files.get(name)
        if data is None:
            raise BundleRefused(f"{name} is missing: the bundle is incomplete.")
        if len(data) != e["bytes"]:
            raise BundleRefused(f"{name} is {len(data)} bytes; the manifest says {e['bytes']}.")
        if hashlib.sha256(data).hexdigest() != e["sha256"]:
            raise BundleRefused(f"{name} was changed after the export (its checksum differs).")
    return manifest


def _f(v: str | None) -> float | None:
    if v is None or v == "":
        return None
    try:
        return float(v)
    except ValueError:
        raise BundleRefused(f"a number in the bundle is not a number: {v[:20]!r}.") from None


def _b(v: str | None) -> bool | None:
    if v is None or v == "":
        return None
    low = v.strip().lower()
    if low in ("1", "true", "yes"):
        return True
    if low in ("0", "false", "no"):
        return False
    raise BundleRefused(f"a yes/no value in the bundle is neither: {v[:20]!r}.")


def _i(v: str | None) -> int:
    return int(float(v)) if v not in (None, "") else 0


def _rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    try:
        return list(csv.DictReader(io.StringIO(files[name].decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BundleRefused(f"{name} is not a readable CSV file ({exc}).") from None


def quiet_region(row: dict[str, str]) -> str | None:
    """The quiet region that moved most past its floor in a rep, or None."""
    best, excess = None, 0.0
    for r in db.REGION_COLUMNS:
        mm, floor = _f(row.get(f"quiet_{r}_mm")), _f(row.get(f"floor_{r}_mm"))
        if mm is not None and floor is not None and mm - floor > excess:
            best, excess = r, mm - floor
    return best


# ---------------------------------------------------------------- importing


def _find_loan(s: Session, unit_id: str, alias: str | None, exported: str) -> db.Loan | None:
    q = select(db.Loan).where(db.Loan.unit_id == unit_id).order_by(db.Loan.lent_at.desc())
    if alias:
        q = q.where(db.Loan.alias == alias)
    loans = list(s.scalars(q))
    when = exported.replace("T", " ").rstrip("Z")
    for loan in loans:
        if str(loan.lent_at) <= when:
            return loan
    return loans[0] if loans else None


def import_bytes(factory: sessionmaker, raw_manifest: bytes, files: dict[str, bytes], who: str,
                 label: str = "bundle") -> ImportResult:
    """Verify and import an already-read bundle (all or nothing)."""
    manifest = verify(raw_manifest, files)
    digest = hashlib.sha256(raw_manifest).hexdigest()
    try:
        info = json.loads(files["unit.json"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleRefused("unit.json is damaged.") from None
    unit_id = manifest["unit_id"]
    if not isinstance(info, dict) or info.get("unit_id") != unit_id:
        raise BundleRefused("unit.json and manifest.json name different units.")
    alias = info.get("patient_alias") if isinstance(info.get("patient_alias"), str) else None
    sessions = _rows(files, "sessions.csv")
    reps = _rows(files, "reps.csv")
    with factory() as s, s.begin():
        known = s.scalar(select(db.Bundle).where(db.Bundle.manifest_sha256 == digest))
        if known is not None:
            return ImportResult("already", known.id, unit_id, known.alias, 0,
                                f"{label} was imported already ({known.imported_at:%Y-%m-%d %H:%M}"
                                f" UTC); nothing added.")
        unit = s.get(db.Unit, unit_id)
        if unit is None:
            raise BundleRefused(f"unit {unit_id} is not registered at this desk: register it first.")
        loan = _find_loan(s, unit_id, alias, str(info.get("exported_utc") or ""))
        if alias is None and loan is not None and any(r.get("id") for r in sessions):
            alias = loan.alias  # practice before the prescription arrived; an empty unit is no one's
        pdf = files.get("report.pdf")
        bundle = db.Bundle(
            manifest_sha256=digest, unit_id=unit_id, alias=alias,
            loan_id=loan.id if loan else None, exported_utc=str(info.get("exported_utc") or ""),
            affected_side=info.get("affected_side") if isinstance(info.get("affected_side"), str) else None,
            manifest=raw_manifest.decode("utf-8"), unit_json=files["unit.json"].decode("utf-8"),
            prescription_toml=files["prescription.toml"].decode("utf-8", "replace")
            if "prescription.toml" in files else None,
            report_pdf=pdf, imported_by=who)
        s.add(bundle)
        s.flush()
        have = set(s.scalars(select(db.PracticeSession.uid).where(db.PracticeSession.unit_id == unit_id)))
        new_sessions = []
        for r in sessions:
            uid = r.get("id") or ""
            if not uid or uid in have or not r.get("started_utc"):
                continue
            have.add(uid)
            new_sessions.append({
                "uid": uid, "unit_id": unit_id, "alias": alias, "bundle_id": bundle.id,
                "started_utc": r["started_utc"], "status": r.get("status") or "?",
                "duration_s": _f(r.get("duration_s")), "planned_s": _f(r.get("planned_s")),
                "plan_source": r.get("plan_source") or None,
                "affected_side": r.get("affected_side") or None,
                "reps_done": _i(r.get("reps_done")), "breaks_scheduled": _i(r.get("breaks_scheduled")),
                "breaks_requested": _i(r.get("breaks_requested")), "pauses": _i(r.get("pauses")),
            })
        ids: dict[str, int] = {}
        if new_sessions:
            table = db.PracticeSession.__table__  # Core executemany: one statement per batch
            result = s.connection().execute(insert(table).returning(
                table.c.id, table.c.uid, sort_by_parameter_order=True), new_sessions)
            ids = {uid: pk for pk, uid in result}
        new_reps = []
        for r in reps:
            pk = ids.get(r.get("session_id") or "")
            if pk is None:
                continue
            row: dict[str, Any] = {
                "session_id": pk, "uid": r.get("id") or "", "pattern_id": r.get("pattern_id") or None,
                "rep": _i(r.get("rep")), "status": r.get("status") or "?",
                "ended_utc": r.get("ended_utc") or "", "duration_s": _f(r.get("duration_s")),
                "target_region": r.get("target_region") or None, "target_mm": _f(r.get("target_mm")),
                "coactivation": _f(r.get("coactivation")), "eye_ratio": _f(r.get("eye_ratio")),
                "quiet_moved": _b(r.get("quiet_moved")), "quiet_max_mm": _f(r.get("quiet_max_mm")),
                "quiet_region": quiet_region(r) if _b(r.get("quiet_moved")) else None,
                "face_share": _f(r.get("face_share")),
            }
            for q in QUALITIES:
                row[q] = _b(r.get(q))
            for q in QUALITY_NUMBERS:
                row[q] = _f(r.get(q))
            new_reps.append(row)
        if new_reps:
            s.connection().execute(insert(db.Rep.__table__), new_reps)
        bundle.sessions_added = len(new_sessions)
        s.add(db.Audit(who=who, action="import", what=(
            f"bundle {label} from unit {unit_id} for {alias or 'no alias'}"
            f" (loan {loan.id if loan else 'none'}): {len(new_sessions)} sessions, {len(new_reps)} reps")))
        return ImportResult("imported", bundle.id, unit_id, alias, len(new_sessions),
                            f"{label} imported: {len(new_sessions)} new sessions for "
                            f"{alias or 'no alias'} from unit {unit_id}.")


def import_path(factory: sessionmaker, path: Path, who: str) -> ImportResult:
    """Read, verify and import the bundle at ``path`` (a folder or a zip)."""
    raw, files = read_bundle(path)
    return import_bytes(factory, raw, files, who, label=path.name)
