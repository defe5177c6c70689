"""A unit's life between two patients, on the real pieces end to end.

Provision, prescribe patient A, practise several sessions on the real kiosk loop (Station with
the real engine, the SQLite record store and the clinic chores; a fake clock, the autoplay
button, no camera), then the clinic's stick (export + wipe) and a second stick (patient B's
prescription) go through the kiosk's own worker thread. Afterwards nothing of A is on the
unit, byte for byte, and A's export on the stick holds every one of A's sessions.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from lifecycle_helpers import ALIAS_A, practise, prescription_file, start_kiosk

from station.cli import main
from station.clinic import prescription as rx
from station.clinic import spool, unit
from station.clinic import stick as clinic
from station.clinic.export import MANIFEST, SIGNATURE, signature_ok, verify_bundle
from station.kiosk.app import Station

pytestmark = pytest.mark.slow  # the fast lane (-m "not slow") leaves this module out

MARKER_A = "marker-A-5f1e0c"
ALIAS_B = "PT-BRAVO-1200"


def insert_stick(station: Station, data_dir: Path, stick: Path, clock) -> list[str]:  # noqa: ANN001
    """What ``station usb-sync`` does with a kiosk running: a spool job; the kiosk's chores
    take it on their worker thread. Waits for the worker (join, no sleeping); the lines shown."""
    spool.submit_job(data_dir, stick)
    hk = station.services.chores
    station.step(clock.advance(1.0))  # the once-a-second chores pick the job up
    worker = hk._worker
    assert worker is not None, "the kiosk did not take the stick job"
    worker.join(timeout=120)
    assert not worker.is_alive()
    shown: list[str] = []
    real_post = station.post_notice
    station.post_notice = lambda n: (shown.append(n.text), real_post(n))  # type: ignore[method-assign]
    try:
        station.step(clock.advance(1.0))  # drain the lines, reload the prescription
    finally:
        del station.post_notice
    assert hk._worker is None and not hk.busy
    return shown


def _scan(data_dir: Path, needles: list[bytes]) -> tuple[list[str], list[str]]:
    """(hits, files scanned): every regular file under the data dir, WAL and SHM included."""
    hits, scanned = [], []
    for p in sorted(data_dir.rglob("*")):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            scanned.append(str(p.relative_to(data_dir)))
            hits += [f"{p.relative_to(data_dir)}: {n!r}" for n in needles if n in data]
    return hits, scanned


def _bundles(stick: Path) -> list[Path]:
    export = stick / clinic.STICK_FOLDER / clinic.EXPORT_FOLDER
    return sorted(p for p in export.iterdir() if not p.name.startswith("."))


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def provisioned(data_dir: Path, tmp_path: Path) -> tuple[str, Path, bytes]:
    """A provisioned unit; the clinic keeps a copy of the key."""
    secret = unit.new_secret()
    unit_id = unit.provision(data_dir, secret, "ms-life01")
    clinic_key = tmp_path / "clinic" / "clinic.key"
    unit.write_secret(clinic_key, secret)
    return unit_id, clinic_key, secret


def test_lifecycle_between_two_patients(data_dir: Path, tmp_path: Path, clock, provisioned):
    unit_id, clinic_key, secret = provisioned
    assert unit.unit_info(data_dir)["unit_id"] == unit.get_unit_id(data_dir) == unit_id

    # prescribe patient A (the clinic's command line)
    rx_a = prescription_file(tmp_path, "a", ALIAS_A, "left", message=f"Hello {MARKER_A}")
    assert main(["prescribe", str(rx_a)]) == 0
    assert rx.load_active(data_dir).alias == ALIAS_A

    # A practises on the kiosk: the prescribed plan, real records
    station = start_kiosk(data_dir, clock)
    assert [it.pattern.id for it in station.plan.items] == ["eye_closure", "small_smile"]
    sessions_a = [practise(station, clock, MARKER_A) for _ in range(4)]
    assert len(set(sessions_a)) == 4
    store_rows = station.services.recorder.store.sessions()  # type: ignore[attr-defined]
    assert {r["id"] for r in store_rows} == set(sessions_a)
    assert {r["affected_side"] for r in store_rows} == {"left"}
    hits, _ = _scan(data_dir, [MARKER_A.encode()])
    assert hits, "the marker should be in A's records before the wipe"
    assert station.home.sessions_today == 4 and MARKER_A in station.home.therapist_message
    # a power cut in the middle of an earlier prescribe left its temporary copy behind
    stale = rx.active_path(data_dir).with_name(".prescription.toml.tmp-4242")
    stale.write_bytes(rx.active_path(data_dir).read_bytes())

    # the clinic's stick: export, then wipe after a verified export
    stick = tmp_path / "stick"
    stick.mkdir()
    clinic.make_stick(stick, unit.read_secret(clinic_key), unit_id, wipe_after_export=True)
    shown = insert_stick(station, data_dir, stick, clock)
    assert "This unit holds no patient records now." in shown
    assert shown[-1] == clinic.SAFE
    assert station.services.chores.prescription.source == "default"
    assert station.home.sessions_today == 0 and station.home.therapist_message == ""
    assert not stale.exists()
    for _ in range(70):  # the stick's lines go; the wiped state stays on home, for the desk
        station.step(clock.advance(1.0))
    assert [n.text for n in station.screen_model(clock()).notices] == [clinic.WIPED]

    # A's export holds every one of A's sessions, with their numbers, and verifies
    [bundle] = _bundles(stick)
    assert bundle.name.startswith(f"{unit_id}-")
    assert verify_bundle(bundle) == []
    manifest = json.loads((bundle / MANIFEST).read_text())
    assert manifest["unit_id"] == unit_id
    # signed with the clinic key, so the desk will read it (and only a key holder could sign it)
    assert signature_ok(secret, (bundle / MANIFEST).read_bytes(), (bundle / SIGNATURE).read_bytes())
    assert not signature_ok(unit.new_secret(), (bundle / MANIFEST).read_bytes(), (bundle / SIGNATURE).read_bytes())
    assert {f["name"] for f in manifest["files"]} >= {"sessions.csv", "reps.csv", "events.csv"}
    assert {r["id"] for r in _csv(bundle / "sessions.csv")} == set(sessions_a)
    reps = _csv(bundle / "reps.csv")
    assert {r["session_id"] for r in reps} == set(sessions_a)
    done = [r for r in reps if r["status"] == "done"]
    assert len(done) == 4 * 4 and all(r["target_mm"] and r["coactivation"] for r in done)
    notes = [e for e in _csv(bundle / "events.csv") if e["kind"] == "clinic_note"]
    assert {e["session_id"] for e in notes} == set(sessions_a) and notes[0]["note"] == MARKER_A
    info = json.loads((bundle / "unit.json").read_text())
    assert info["patient_alias"] == ALIAS_A and info["unit_id"] == unit_id
    assert rx.validate_bytes((bundle / "prescription.toml").read_bytes()).prescription.alias \
        == ALIAS_A

    # prescribe patient B with a second stick, through the kiosk as well
    rx_b = prescription_file(tmp_path, "b", ALIAS_B, "right")
    stick_b = tmp_path / "stick-b"
    stick_b.mkdir()
    clinic.make_stick(stick_b, secret, unit_id, prescription=rx_b)
    shown = insert_stick(station, data_dir, stick_b, clock)
    assert "The new prescription is active." in shown
    assert "wiped" not in station.notices  # the unit is B's now
    active = rx.load_active(data_dir)
    assert active.alias == ALIAS_B and active.affected_side == "right"
    assert station.services.chores.prescription.alias == ALIAS_B
    assert station.settings.patient.affected_side == "right"
    # B's stick asked for an export too, but the wiped unit held nothing: no empty bundle
    assert "This unit holds no patient records, so there was nothing to copy." in shown
    assert not (stick_b / "station-clinic" / "export").exists()

    # B practises; the store is live again (WAL and all) and holds B only
    session_b = practise(station, clock)
    rows = station.services.recorder.store.sessions()  # type: ignore[attr-defined]
    assert [(r["id"], r["affected_side"]) for r in rows] == [(session_b, "right")]

    # nothing of A left on the unit, byte for byte, while the kiosk runs
    hits, scanned = _scan(data_dir, [ALIAS_A.encode(), MARKER_A.encode()]
                          + [s.encode() for s in sessions_a])
    assert hits == []
    assert "records.sqlite3-wal" in scanned and "prescription.toml" in scanned
    # the unit's identity and key survived
    assert unit.get_unit_id(data_dir) == unit_id == unit.unit_info(data_dir)["unit_id"]
    assert unit.find_secret(data_dir) == secret
    station.stop()
    assert _scan(data_dir, [ALIAS_A.encode(), MARKER_A.encode()])[0] == []


@pytest.mark.parametrize("how", ["write-fails", "stick-vanishes"])
def test_stick_pulled_mid_export_keeps_records_and_finishes_later(
        data_dir: Path, tmp_path: Path, clock, provisioned, monkeypatch, how):
    unit_id, clinic_key, secret = provisioned
    assert rx.apply_bytes(data_dir, prescription_file(tmp_path, "a", ALIAS_A, "left").read_bytes()).ok
    station = start_kiosk(data_dir, clock)
    sessions_a = {practise(station, clock, MARKER_A) for _ in range(2)}
    stick = tmp_path / "stick"
    stick.mkdir()
    clinic.make_stick(stick, secret, unit_id, wipe_after_export=True)

    real_write = clinic._write_all
    calls = []
    away = tmp_path / "away"

    def pulled(fd: int, data: bytes) -> None:
        calls.append(len(data))
        if len(calls) == 3:  # part of the bundle is on the stick already
            if how == "stick-vanishes":
                os.rename(stick, away)  # unmounted: the path is gone
            raise OSError(5, "Input/output error")
        real_write(fd, data)

    monkeypatch.setattr(clinic, "_write_all", pulled)
    shown = insert_stick(station, data_dir, stick, clock)
    assert clinic.PULLED in shown
    assert "This unit holds no patient records now." not in shown
    # the unit's records are intact and the kiosk still records to them
    assert {r["id"] for r in station.services.recorder.store.sessions()} == sessions_a  # type: ignore[attr-defined]
    assert rx.load_active(data_dir).alias == ALIAS_A
    assert _scan(data_dir, [MARKER_A.encode()])[0]
    assert unit.last_export(data_dir) is None

    # put back in: the same stick finishes the export and the wipe
    monkeypatch.setattr(clinic, "_write_all", real_write)
    if how == "stick-vanishes":
        os.rename(away, stick)
    assert _bundles(stick) == []  # only the hidden partial copy was there
    shown = insert_stick(station, data_dir, stick, clock)
    assert "This unit holds no patient records now." in shown
    [bundle] = _bundles(stick)
    assert verify_bundle(bundle) == []
    assert {r["id"] for r in _csv(bundle / "sessions.csv")} == sessions_a
    assert not [p for p in (stick / clinic.STICK_FOLDER / clinic.EXPORT_FOLDER).iterdir()
                if p.name.startswith(".partial")]
    assert _scan(data_dir, [ALIAS_A.encode(), MARKER_A.encode()])[0] == []
    assert unit.get_unit_id(data_dir) == unit_id and unit.find_secret(data_dir) == secret
    # and a third time the stick is refused (its request was carried out)
    shown = insert_stick(station, data_dir, stick, clock)
    assert any("already used" in line for line in shown)
    station.stop()
