"""Test helpers for clinic sticks: a unit id, and stand-ins for the export and the wipe that
work on a folder of fake records (``records/*.json``)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

UNIT = "ms-unit01"


def fake_export(data_dir: Path, out_dir: Path) -> Path:
    """Stand-in for station.clinic.export.export_bundle: copies the fake records + a manifest."""
    bundle = out_dir / "bundle"
    (bundle / "sessions").mkdir(parents=True)
    manifest = {}
    for f in sorted((data_dir / "records").glob("*.json")):
        data = f.read_bytes()
        (bundle / "sessions" / f.name).write_bytes(data)
        manifest[f"sessions/{f.name}"] = hashlib.sha256(data).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps({"files": manifest}))
    return bundle


def fake_wipe(data_dir: Path) -> None:
    """Stand-in for station.records.wipe."""
    shutil.rmtree(data_dir / "records", ignore_errors=True)
