"""A unit's life between two patients: provision, prescribe A, practise, export and wipe by
stick, prescribe B. Afterwards nothing of A is on the unit and A's export holds every session.

INJECTION POINT (for the lead after merging the record store): ``Store`` below records
sessions and exports/wipes through stand-ins that write and delete real files in the data
dir. Replace ``Store.record_session``, ``Store.exporter``, ``Store.wiper`` and
``Store.sessions_in_export`` with calls into ``station.records`` / ``station.export``
(``export_bundle(data_dir, out_dir) -> Path``, ``wipe(data_dir) -> None``); the rest of the
test stays as it is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

from rx_helpers import VALID, dumps

from station import clinic, unit
from station import prescription as rx
from station.cli import main


class Store:
    """Stand-in record store: one JSON file per session under ``records/``."""

    @staticmethod
    def record_session(data_dir: Path, alias: str, marker: str) -> str:
        session_id = uuid.uuid4().hex
        d = data_dir / "records"
        d.mkdir(exist_ok=True)
        row = {"id": session_id, "alias": alias, "note": marker, "reps": [0.41, 0.38, 0.52]}
        (d / f"{session_id}.json").write_text(json.dumps(row))
        return session_id

    @staticmethod
    def exporter(data_dir: Path, out_dir: Path) -> Path:
        bundle = out_dir / "bundle"
        bundle.mkdir()
        files = {}
        for f in sorted((data_dir / "records").glob("*.json")):
            (bundle / f.name).write_bytes(f.read_bytes())
            files[f.name] = hashlib.sha256(f.read_bytes()).hexdigest()
        (bundle / "manifest.json").write_text(json.dumps({"files": files}))
        return bundle

    @staticmethod
    def wiper(data_dir: Path) -> None:
        shutil.rmtree(data_dir / "records", ignore_errors=True)

    @staticmethod
    def sessions_in_export(bundle: Path) -> set[str]:
        return {json.loads(f.read_text())["id"] for f in bundle.glob("*.json")
                if f.name != "manifest.json"}


def _scan(data_dir: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for p in data_dir.rglob("*"):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            hits += [f"{p.relative_to(data_dir)}: {n!r}" for n in needles if n in data]
    return hits


def test_lifecycle_between_two_patients(data_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(clinic, "_default_exporter", lambda: Store.exporter)
    monkeypatch.setattr(clinic, "_default_wiper", lambda: Store.wiper)
    # provision: unit id + clinic secret; the clinic keeps a copy of the key
    secret = unit.new_secret()
    unit_id = unit.provision(data_dir, secret, "ms-life01")
    clinic_key = tmp_path / "clinic" / "clinic.key"
    unit.write_secret(clinic_key, secret)

    # prescribe patient A
    alias_a, marker_a = "PT-ALPHA-7731", "marker-A-5f1e0c"
    doc_a = dict(VALID, message=f"Hello {marker_a}",
                 patient={"alias": alias_a, "affected_side": "left"})
    (tmp_path / "a.toml").write_text(dumps(doc_a))
    assert main(["prescribe", str(tmp_path / "a.toml")]) == 0
    assert rx.load_active(data_dir).alias == alias_a

    # A practises
    sessions = {Store.record_session(data_dir, alias_a, marker_a) for _ in range(5)}

    # the clinic's stick: export, wipe after a verified export
    stick = tmp_path / "stick"
    stick.mkdir()
    assert main(["clinic", "make-stick", str(stick), "--secret-file", str(clinic_key),
                 "--unit", unit_id, "--wipe-after-export"]) == 0
    assert main(["usb-sync", str(stick), "--direct"]) == 0

    # prescribe patient B with a second stick
    doc_b = dict(VALID, patient={"alias": "PT-BRAVO-1200", "affected_side": "right"})
    (tmp_path / "b.toml").write_text(dumps(doc_b))
    stick_b = tmp_path / "stick-b"
    stick_b.mkdir()
    assert main(["clinic", "make-stick", str(stick_b), "--secret-file", str(clinic_key),
                 "--unit", unit_id, "--prescription", str(tmp_path / "b.toml")]) == 0
    assert main(["usb-sync", str(stick_b), "--direct"]) == 0
    active = rx.load_active(data_dir)
    assert active.alias == "PT-BRAVO-1200" and active.affected_side == "right"

    # nothing of A left on the unit, byte for byte
    assert _scan(data_dir, [alias_a.encode(), marker_a.encode()]) == []
    # A's export holds every one of A's sessions
    [bundle] = [p for p in (stick / "station-clinic" / "export").iterdir()
                if not p.name.startswith(".")]
    assert Store.sessions_in_export(bundle) == sessions
    assert alias_a.encode() in (bundle / next(iter(sessions))).with_suffix(".json").read_bytes()
    # and B's stick carried an (empty) export, not A's data
    [bundle_b] = [p for p in (stick_b / "station-clinic" / "export").iterdir()
                  if not p.name.startswith(".")]
    assert Store.sessions_in_export(bundle_b) == set()
