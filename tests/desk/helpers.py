"""Helpers for the desk tests: a provisioned unit with real records, and row counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from station.clinic import unit
from station.desk import db

TABLES = (db.Unit, db.Loan, db.Prescription, db.Bundle, db.PracticeSession, db.Rep, db.Audit)


@dataclass
class ClinicUnit:
    """A unit provisioned in ``data_dir`` and the clinic key file the desk reads."""

    data_dir: Path
    unit_id: str
    key_file: Path
    key_id: str


def provision_unit(root: Path, unit_id: str = "ms-desk01") -> ClinicUnit:
    """A unit as ``station clinic provision`` leaves it, plus the clinic's copy of the key."""
    data = root / "unit-data"
    data.mkdir(parents=True)
    secret = unit.new_secret()
    unit.provision(data, secret, unit_id)
    key_file = root / "clinic" / "clinic.key"
    unit.write_secret(key_file, secret)
    return ClinicUnit(data, unit_id, key_file, unit.key_id(secret))


def practise(data_dir: Path, days: int = 4, seed: int = 3) -> None:
    """Real records through the real engine and store (the record generator)."""
    from station.devtools.recordgen import generate

    generate(data_dir, days=days, seed=seed, sessions_per_day=(2, 3), synchronous="OFF",
             end=datetime.now(UTC).replace(microsecond=0), miss_rate=0.0)


def resign(folder: Path, key_file: Path) -> None:
    """Rewrite a bundle's manifest after its files were changed, and sign it as a unit would."""
    import hashlib
    import json

    from station.clinic.export import MANIFEST, SIGNATURE, sign_manifest

    m = json.loads((folder / MANIFEST).read_text())
    for e in m["files"]:
        data = (folder / e["name"]).read_bytes()
        e["bytes"], e["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    raw = json.dumps(m, indent=2).encode()
    (folder / MANIFEST).write_bytes(raw)
    (folder / SIGNATURE).write_bytes(sign_manifest(unit.read_secret(key_file), raw))


def import_bundle(factory: sessionmaker, path: Path, secret: bytes):  # noqa: ANN201
    """Import as the clinic does (the desk checks the signature with the clinic's key)."""
    from station.desk import importer

    return importer.import_path(factory, path, "tech", secret)


def counts(factory: sessionmaker) -> dict[str, int]:
    """Rows in every registry table (to prove a refused import changed nothing)."""
    with factory() as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) for t in TABLES}
