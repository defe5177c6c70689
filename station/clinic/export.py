"""The clinic bundle: CSV files, a JSON summary, a PDF report and a manifest of sha256 sums.

The CSVs: ``sessions``, ``reps``, ``events``, ``calibrations``, and the weekly check-in's
``checkins`` and ``checkin_movements`` (their columns from :mod:`station.records.schema`).

``manifest.sig`` is the unit's HMAC-SHA256 of ``manifest.json`` with the clinic key (a unit
without a key writes none): the desk checks it before it reads anything else.

The bundle also carries the active prescription (``prescription.toml``; its pseudonymous
alias in ``unit.json``) so the clinic knows whose records these are.

``export_bundle(data_dir, out_dir)`` writes everything into a hidden temporary folder inside
``out_dir``, syncs it, and renames it into place, so a bundle either exists whole or not at
all (a stick pulled out mid-export leaves only a temporary folder, never a half bundle that
looks complete). ``manifest.json`` lists every other file with its size and sha256; the clinic
stick flow verifies it. The export reads the store without closing sessions that are still
running (the kiosk may be mid-session) and never contains anything but numbers and text.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import logging
import math
import os
import shutil
import sqlite3
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from station import __version__
from station.clinic.unit import find_secret, key_id, unit_info
from station.files import fsync_dir, fsync_file, read_limited, write_synced
from station.paths import model_path
from station.practice.plan import REGIONS
from station.records import checkins, schema
from station.records.store import QUALITY_FLAGS, SCHEMA_VERSION, Store, utc_iso
from station.records.wipe import tmp_dir
from station.tracking.model import MODEL_SHA256, sha256_file

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
#: what the unit's HMAC covers besides the manifest: a bundle signature can never pass for a
#: stick request's (or anything else signed with the clinic key)
SIGNING_CONTEXT = b"station export manifest v1\n"
SESSION_COLUMNS = schema.columns(schema.SESSION, schema.CSV)
REP_EXPORT_COLUMNS = schema.columns(schema.REP, schema.CSV)
CHECKIN_EXPORT_COLUMNS = schema.columns(schema.CHECKIN, schema.CSV)
CHECKIN_MOVEMENT_EXPORT_COLUMNS = schema.columns(schema.CHECKIN_MOVEMENT, schema.CSV)
EVENT_COLUMNS = (
    "session_id", "at_utc", "kind", "phase", "pattern_index", "rep", "requested", "value", "note",
)
CALIBRATION_COLUMNS = ("session_id", "at_utc", "mm_per_px", "frames",
                       *(f"floor_{r}_mm" for r in REGIONS))


def _num(v: Any) -> Any:
    """Floats with 4 decimals (plenty for mm), everything else as is; None and non-finite
    numbers -> an empty cell (unknown)."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}" if math.isfinite(v) else ""
    return v


def _write_csv(path: Path, columns: tuple[str, ...], rows: Any,
               record: tuple[schema.Field, ...] | None = None) -> int:
    """Write ``rows`` under ``columns``; a schema ``record`` writes each cell through
    :func:`schema.cell`, so the desk's parser accepts every value the unit writes."""
    fields = {f.name: f for f in record or ()}
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for row in rows:
            w.writerow([schema.cell(fields[c], row.get(c)) if c in fields else _num(row.get(c))
                        for c in columns])
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    return n


def _model_hash(data_dir: Path) -> str:
    path = model_path(data_dir)
    try:
        return sha256_file(path) if path.exists() else MODEL_SHA256
    except OSError:
        return MODEL_SHA256


def _read_all(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Everything the bundle needs, read in one consistent snapshot."""
    conn.row_factory = sqlite3.Row
    conn.execute("BEGIN")
    try:
        sessions = [dict(r) for r in conn.execute(
            "SELECT s.*, "
            " (SELECT count(*) FROM reps r WHERE r.session_id=s.id AND r.status='done')"
            "   AS reps_done,"
            " (SELECT count(*) FROM reps r WHERE r.session_id=s.id AND r.status='interrupted')"
            "   AS reps_interrupted,"
            " (SELECT count(*) FROM events e WHERE e.session_id=s.id AND e.kind='break_started'"
            "   AND e.requested=0) AS breaks_scheduled,"
            " (SELECT count(*) FROM events e WHERE e.session_id=s.id AND e.kind='break_started'"
            "   AND e.requested=1) AS breaks_requested,"
            " (SELECT count(*) FROM events e WHERE e.session_id=s.id AND e.kind='paused') AS pauses"
            " FROM sessions s ORDER BY s.started_utc")]
        reps = [dict(r) for r in conn.execute("SELECT * FROM reps ORDER BY ended_utc")]
        events = [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY session_id, id")]
        calibrations = [dict(r) for r in conn.execute("SELECT * FROM calibrations ORDER BY id")]
        checkin_rows, movement_rows = checkins.read_all(conn)
    finally:
        conn.execute("COMMIT")
    for s in sessions:
        if s["ended_mono"] is not None:
            s["duration_s"] = s["ended_mono"] - s["started_mono"]
    for r in reps:
        if r["started_mono"] is not None:
            r["duration_s"] = r["ended_mono"] - r["started_mono"]
        for key, prefix in (("quiet_mm", "quiet_"), ("quiet_floor_mm", "floor_")):
            for region, mm in json.loads(r[key] or "{}").items():
                r[f"{prefix}{region}_mm"] = mm
    for c in calibrations:
        for region, mm in json.loads(c["floors_mm"] or "{}").items():
            c[f"floor_{region}_mm"] = mm
    return {"sessions": sessions, "reps": reps, "events": events, "calibrations": calibrations,
            "checkins": checkin_rows, "checkin_movements": movement_rows}


def quality_summary(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Per pattern: reps judged and held for each quality, and the median numbers behind them."""
    out: dict[str, Any] = {}
    for pid in sorted({r["pattern_id"] for r in reps if r.get("pattern_id")}):
        mine = [r for r in reps if r.get("pattern_id") == pid and r["status"] == "done"]
        entry: dict[str, Any] = {"reps": len(mine)}
        for flag in QUALITY_FLAGS:
            judged = [r[flag] for r in mine if r.get(flag) is not None]
            entry[flag] = {"judged": len(judged), "held": int(sum(judged))}
        for key in ("t80_share", "target_peak_mm", "quiet_excess_mm", "residual_mm"):
            vals = [float(r[key]) for r in mine if r.get(key) is not None]
            entry[f"{key}_median"] = round(statistics.median(vals), 4) if vals else None
        out[pid] = entry
    return out


def export_bundle(data_dir: Path, out_dir: Path, *, png_dir: Path | None = None) -> Path:
    """Write a clinic bundle folder into ``out_dir``; returns it (``manifest.json`` inside)."""
    from station.clinic import checkin_figures
    from station.clinic.report import render_pdf, report_data

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    unit = unit_info(data_dir)
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    name = f"station-export-{unit['unit_id']}-{stamp}"
    final = out_dir / name
    n = 1
    while final.exists():
        final = out_dir / f"{name}-{n}"
        n += 1
    # built inside the data dir (a kill leaves it where the next start or a wipe removes it)
    tmp = Path(tempfile.mkdtemp(prefix="export-", dir=tmp_dir(data_dir)))
    try:
        store = Store.open(data_dir, recover=False)
        try:
            rows = _read_all(store.conn)
        finally:
            store.close()
        counts = {
            "sessions": _write_csv(tmp / "sessions.csv", SESSION_COLUMNS, rows["sessions"],
                                   schema.SESSION),
            "reps": _write_csv(tmp / "reps.csv", REP_EXPORT_COLUMNS, rows["reps"], schema.REP),
            "events": _write_csv(tmp / "events.csv", EVENT_COLUMNS, rows["events"]),
            "calibrations": _write_csv(tmp / "calibrations.csv", CALIBRATION_COLUMNS,
                                       rows["calibrations"]),
            "checkins": _write_csv(tmp / "checkins.csv", CHECKIN_EXPORT_COLUMNS, rows["checkins"],
                                   schema.CHECKIN),
            "checkin_movements": _write_csv(tmp / "checkin_movements.csv", CHECKIN_MOVEMENT_EXPORT_COLUMNS,
                                            rows["checkin_movements"], schema.CHECKIN_MOVEMENT),
        }
        sessions = rows["sessions"]
        prescribed = _active_prescription(data_dir)
        if prescribed is not None:  # whose records these are (pseudonymous) and what was set
            write_synced(tmp / "prescription.toml", prescribed[1])
        latest_plan = next((json.loads(s["plan_json"]) for s in reversed(sessions)
                            if s.get("plan_json")), None)
        info = {
            "unit_id": unit["unit_id"],
            "patient_alias": prescribed[0] if prescribed else None,
            "software_version": __version__,
            "model_sha256": _model_hash(data_dir),
            "model_sha256_in_sessions": sorted({s["model_sha256"] for s in sessions
                                                if s.get("model_sha256")}),
            "schema_version": SCHEMA_VERSION,
            "exported_utc": utc_iso(now),
            "plan": latest_plan,
            "affected_side": sessions[-1]["affected_side"] if sessions else None,
            "first_session_utc": sessions[0]["started_utc"] if sessions else None,
            "last_session_utc": sessions[-1]["started_utc"] if sessions else None,
            "counts": {
                **counts,
                "sessions_complete": sum(s["status"] == "complete" for s in sessions),
                "sessions_interrupted": sum(s["status"] == "interrupted" for s in sessions),
                "sessions_abandoned": sum(s["status"] == "abandoned" for s in sessions),
                "reps_done": sum(r["status"] == "done" for r in rows["reps"]),
            },
            "quality": quality_summary(rows["reps"]),
        }
        write_synced(tmp / "unit.json", json.dumps(info, indent=2, sort_keys=True).encode())
        breaks = [e for e in rows["events"] if e["kind"] == "break_started"]
        rx_info = _prescription_info(prescribed[1]) if prescribed else ("", None)
        data = report_data(unit["unit_id"], sessions, rows["reps"], breaks, utc_iso(now),
                           alias=prescribed[0] if prescribed else "",
                           affected_side=info["affected_side"] or "", prescription=rx_info[0],
                           prescribed_per_day=rx_info[1])
        data.checkins = checkin_figures.compute(rows["checkins"], rows["checkin_movements"])
        render_pdf(data, tmp / "report.pdf", png_dir=png_dir)
        fsync_file(tmp / "report.pdf")
        files = sorted(p for p in tmp.iterdir() if p.is_file())
        secret = find_secret(data_dir)
        manifest = {
            "format": 1,
            "unit_id": unit["unit_id"],
            "created_utc": utc_iso(now),
            **({"key_id": key_id(secret)} if secret else {}),
            "files": [{"name": p.name, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
                      for p in files],
        }
        raw_manifest = json.dumps(manifest, indent=2).encode()
        write_synced(tmp / MANIFEST, raw_manifest)
        if secret is not None:  # the desk imports only bundles its clinic's units signed
            write_synced(tmp / SIGNATURE, sign_manifest(secret, raw_manifest))
        else:
            log.warning("this unit has no clinic key: the export is not signed, the desk will refuse it")
        fsync_dir(tmp)
        _place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("export written: %s (%d sessions)", final.name, counts["sessions"])
    return final


def sign_manifest(secret: bytes, raw: bytes) -> bytes:
    """The ``manifest.sig`` line for manifest bytes ``raw``: HMAC-SHA256 with the clinic key.

    The manifest holds every other file's sha256, so this one signature covers the bundle.
    """
    mac = hmac.new(secret, SIGNING_CONTEXT + raw, hashlib.sha256).hexdigest()
    return f"hmac-sha256 {mac}\n".encode("ascii")


def signature_ok(secret: bytes, raw: bytes, sig: bytes) -> bool:
    """True when ``sig`` (the bytes of ``manifest.sig``) signs ``raw`` with ``secret``."""
    return hmac.compare_digest(sig.strip(), sign_manifest(secret, raw).strip())


def _place(built: Path, final: Path) -> None:
    """Move a finished bundle to ``final``: a rename on the same disk; else a copy into a
    hidden folder next to it, renamed when whole. That folder's path is noted in the data
    dir first, so the next start removes it if a kill lands mid-copy."""
    out_dir = final.parent
    if os.stat(built).st_dev == os.stat(out_dir).st_dev:
        os.rename(built, final)
        fsync_dir(out_dir)
        return
    partial = out_dir / f".{final.name}.export-tmp"
    note = built.with_name(built.name + ".out")
    write_synced(note, str(partial.resolve()).encode())
    try:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(built, partial)
        for p in partial.iterdir():
            fsync_file(p)
        fsync_dir(partial)
        os.rename(partial, final)
        fsync_dir(out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        note.unlink(missing_ok=True)
        shutil.rmtree(built, ignore_errors=True)


def _active_prescription(data_dir: Path) -> tuple[str, bytes] | None:
    """(alias, file bytes) of the valid active prescription, or None (none, or unusable).

    The bundle carries it so the clinic can tell whose records these are: a wipe after the
    export removes it from the unit.
    """
    from station.clinic import prescription as rx

    path = rx.active_path(data_dir)
    try:
        data = read_limited(path) if path.is_file() else None
    except (OSError, ValueError) as exc:
        log.warning("active prescription not added to the export: %s", exc)
        return None
    if data is None:
        return None
    result = rx.validate_bytes(data)
    if not result.ok or result.prescription is None:
        return None
    return result.prescription.alias, data


def _prescription_info(data: bytes) -> tuple[str, int | None]:
    """(one-line summary, sessions a day) of a valid prescription, for the report's header."""
    from station.clinic import prescription as rx

    p = rx.validate_bytes(data).prescription
    if p is None:
        return "", None
    pats = ", ".join(f"{e.id.replace('_', ' ')} x{e.reps}" for e in p.patterns)
    return f"{pats}; {p.sessions_per_day} sessions a day", p.sessions_per_day


def verify_bundle(bundle: Path) -> list[str]:
    """Problems with a bundle against its manifest (empty list = every file intact)."""
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"manifest unreadable: {exc}"]
    problems = []
    for entry in manifest.get("files", []):
        p = bundle / entry["name"]
        if not p.is_file():
            problems.append(f"{entry['name']}: missing")
        elif sha256_file(p) != entry["sha256"]:
            problems.append(f"{entry['name']}: sha256 differs")
    return problems
