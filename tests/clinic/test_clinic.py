"""Clinic sticks against real folders: trust, replay, symlinks, huge files, pulled sticks,
and the hand-off to the kiosk through the spool folder (fake clock, no sleeping)."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from clinic_helpers import UNIT, fake_export, fake_wipe
from rx_helpers import VALID, dumps

from station.cli import main
from station.clinic import prescription as rx
from station.clinic import spool, unit
from station.clinic import stick as clinic


def snapshot(data_dir: Path) -> dict[str, bytes]:
    """Every patient-relevant file's bytes (the unit's own state folder and spool excluded)."""
    out = {}
    for p in sorted(data_dir.rglob("*")):
        rel = p.relative_to(data_dir).as_posix()
        if p.is_file() and not rel.startswith(("unit/", "spool/")):
            out[rel] = p.read_bytes()
    return out


@pytest.fixture
def secret() -> bytes:
    return bytes(range(32))


@pytest.fixture
def unit_data(data_dir: Path, secret: bytes) -> Path:
    unit.provision(data_dir, secret, UNIT)
    assert rx.apply_bytes(data_dir, dumps(VALID).encode()).ok
    (data_dir / "records").mkdir()
    for i in range(3):
        (data_dir / "records" / f"s{i}.json").write_text(json.dumps({"session": i, "mm": 0.4}))
    return data_dir


@pytest.fixture
def stick(tmp_path: Path) -> Path:
    s = tmp_path / "stick"
    s.mkdir()
    return s


def run(stick: Path, data: Path, **kw) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = clinic.run_stick(stick, data, fake_export, fake_wipe, lines.append, **kw)
    assert lines[-1] == "Safe to remove the stick."
    return code, lines


def exports(stick: Path) -> list[Path]:
    d = stick / "station-clinic" / "export"
    return sorted(p for p in d.iterdir() if not p.name.startswith(".")) if d.exists() else []


def test_full_flow_exports_wipes_and_imports(unit_data: Path, stick: Path, secret: bytes,
                                             tmp_path: Path):
    new = dict(VALID, patient={"alias": "P-0500", "affected_side": "right"})
    f = tmp_path / "b.toml"
    f.write_text(dumps(new))
    clinic.make_stick(stick, secret, UNIT, f, wipe_after_export=True)
    code, lines = run(stick, unit_data)
    assert code == 0, lines
    assert lines[-2] == "All done."
    [bundle] = exports(stick)
    assert sorted(p.name for p in (bundle / "sessions").iterdir()) == ["s0.json", "s1.json",
                                                                        "s2.json"]
    assert not (unit_data / "records").exists()
    assert rx.load_active(unit_data).alias == "P-0500"
    assert unit.last_export(unit_data) is not None
    result = (stick / "station-clinic" / f"result-{UNIT}.txt").read_text()
    assert "Records copied and checked" in result


def test_no_request_and_wrong_signature_are_ignored(unit_data: Path, stick: Path):
    before = snapshot(unit_data)
    code, lines = run(stick, unit_data)
    assert code == 2 and "no clinic request" in lines[1]
    clinic.make_stick(stick, b"another clinic secret!!", UNIT, wipe_after_export=True)
    code, lines = run(stick, unit_data)
    assert code == 2 and "not signed by this unit's clinic" in lines[1]
    assert snapshot(unit_data) == before and exports(stick) == []


def test_tampered_request_is_ignored(unit_data: Path, stick: Path, secret: bytes):
    before = snapshot(unit_data)
    clinic.make_stick(stick, secret, "ms-other", wipe_after_export=True)
    req = stick / "station-clinic" / "request.json"
    req.write_text(req.read_text().replace("ms-other", UNIT))
    code, lines = run(stick, unit_data)
    assert code == 2 and "not signed" in lines[1]
    assert snapshot(unit_data) == before


def test_other_unit_and_replay_are_refused(unit_data: Path, stick: Path, secret: bytes):
    clinic.make_stick(stick, secret, "ms-other", wipe_after_export=True)
    before = snapshot(unit_data)
    code, lines = run(stick, unit_data)
    assert code == 2 and "made for unit ms-other, and this is unit" in lines[1]
    assert snapshot(unit_data) == before
    clinic.make_stick(stick, secret, UNIT)
    assert run(stick, unit_data)[0] == 0
    (unit_data / "records" / "s9.json").write_text("{}")
    before = snapshot(unit_data)
    code, lines = run(stick, unit_data)
    assert code == 2 and "already used on this unit" in lines[1]
    assert snapshot(unit_data) == before and len(exports(stick)) == 1


def test_unprovisioned_unit_ignores_sticks(data_dir: Path, stick: Path, secret: bytes):
    clinic.make_stick(stick, secret, UNIT)
    code, lines = run(stick, data_dir)
    assert code == 2 and "no clinic key" in lines[1]


def test_symlinked_stick_parts_are_refused(unit_data: Path, stick: Path, secret: bytes,
                                           tmp_path: Path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    clinic.make_stick(real, secret, UNIT, wipe_after_export=True)
    before = snapshot(unit_data)
    (stick / "station-clinic").symlink_to(real / "station-clinic")
    code, lines = run(stick, unit_data)
    assert code == 2 and "no clinic request" in lines[1]
    (stick / "station-clinic").unlink()
    (stick / "station-clinic").mkdir()
    for name in ("request.json", "request.sig"):
        (stick / "station-clinic" / name).symlink_to(real / "station-clinic" / name)
    code, lines = run(stick, unit_data)
    assert code == 2 and "could not be read" in lines[1]
    assert snapshot(unit_data) == before


def test_symlinked_export_folder_writes_nothing_through_it(unit_data: Path, stick: Path,
                                                            secret: bytes):
    clinic.make_stick(stick, secret, UNIT, wipe_after_export=True)
    (stick / "station-clinic" / "export").symlink_to(unit_data)
    before = snapshot(unit_data)
    code, lines = run(stick, unit_data)
    assert code == 1 and clinic.STICK_BAD_FOLDER in lines
    assert snapshot(unit_data) == before
    assert not any(p.name.startswith(".partial") for p in unit_data.iterdir())


def test_symlinked_prescription_keeps_the_current_one(unit_data: Path, stick: Path,
                                                      secret: bytes, tmp_path: Path):
    f = tmp_path / "b.toml"
    f.write_text(dumps(dict(VALID, patient={"alias": "P-0500", "affected_side": "right"})))
    clinic.make_stick(stick, secret, UNIT, f)
    rxf = stick / "station-clinic" / "prescription.toml"
    rxf.unlink()
    rxf.symlink_to(f)
    code, lines = run(stick, unit_data)
    assert code == 1
    assert "could not be read" in " ".join(lines) and "current prescription stay" in " ".join(lines)
    assert rx.load_active(unit_data).alias == "P-0417"


def test_huge_and_special_files_are_refused(unit_data: Path, stick: Path, secret: bytes):
    clinic.make_stick(stick, secret, UNIT, wipe_after_export=True)
    before = snapshot(unit_data)
    req = stick / "station-clinic" / "request.json"
    original = req.read_bytes()
    req.write_bytes(original + b" " * (clinic.MAX_REQUEST_BYTES + 1))
    code, lines = run(stick, unit_data)
    assert code == 2 and "could not be read" in lines[1]
    req.unlink()
    os.mkfifo(req)  # would block a naive open()
    code, lines = run(stick, unit_data)
    assert code == 2 and "could not be read" in lines[1]
    assert snapshot(unit_data) == before


def test_huge_prescription_is_not_read(unit_data: Path, stick: Path, secret: bytes,
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    f = tmp_path / "b.toml"
    f.write_text(dumps(VALID))
    clinic.make_stick(stick, secret, UNIT, f)
    big = b"#" * (rx.MAX_BYTES * 20)
    (stick / "station-clinic" / "prescription.toml").write_bytes(big)
    code, lines = run(stick, unit_data)
    assert code == 1 and "could not be read" in " ".join(lines) and "current prescription stay" in " ".join(lines)
    assert rx.active_path(unit_data).read_bytes() == dumps(VALID).encode()


def test_invalid_signed_prescription_keeps_the_current_one(unit_data: Path, stick: Path,
                                                           secret: bytes, tmp_path: Path):
    f = tmp_path / "b.toml"
    f.write_text(dumps(VALID))
    clinic.make_stick(stick, secret, UNIT, f)
    # a clinic with an older station signs a file this unit rejects
    bad = dumps(dict(VALID, colour="blue")).encode()
    req_path = stick / "station-clinic" / "request.json"
    req = json.loads(req_path.read_text())
    import hashlib

    req["prescription_sha256"] = hashlib.sha256(bad).hexdigest()
    payload = json.dumps(req).encode()
    req_path.write_bytes(payload)
    (stick / "station-clinic" / "request.sig").write_text(clinic.sign(secret, payload))
    (stick / "station-clinic" / "prescription.toml").write_bytes(bad)
    code, lines = run(stick, unit_data)
    assert code == 1
    assert any("has a problem" in line for line in lines)
    assert any("colour" in line for line in lines)
    assert rx.active_path(unit_data).read_bytes() == dumps(VALID).encode()


def test_stick_pulled_mid_export_then_reinserted(unit_data: Path, stick: Path, secret: bytes,
                                                 monkeypatch: pytest.MonkeyPatch):
    clinic.make_stick(stick, secret, UNIT, wipe_after_export=True)
    before = snapshot(unit_data)
    real_write = clinic._write_all
    calls = {"n": 0}

    def failing(fd: int, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.EIO, "Input/output error")
        real_write(fd, data)

    monkeypatch.setattr(clinic, "_write_all", failing)
    code, lines = run(stick, unit_data)
    assert code == 1 and clinic.PULLED in lines
    assert snapshot(unit_data) == before  # nothing wiped, prescription untouched
    assert exports(stick) == []  # only the .partial folder is there
    monkeypatch.setattr(clinic, "_write_all", real_write)
    code, lines = run(stick, unit_data)
    assert code == 0, lines
    [bundle] = exports(stick)
    assert len(list((bundle / "sessions").iterdir())) == 3
    assert not [p for p in (stick / "station-clinic" / "export").iterdir()
                if p.name.startswith(".partial")]
    assert not (unit_data / "records").exists()


def test_stick_folder_vanishing_mid_export(unit_data: Path, stick: Path, secret: bytes,
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    clinic.make_stick(stick, secret, UNIT, wipe_after_export=True)
    saved = tmp_path / "saved-stick"
    shutil.copytree(stick, saved)
    before = snapshot(unit_data)
    real_write = clinic._write_all

    def vanish(fd: int, data: bytes) -> None:
        shutil.rmtree(stick / "station-clinic", ignore_errors=True)
        real_write(fd, data)  # writes to an unlinked file still "succeed"

    monkeypatch.setattr(clinic, "_write_all", vanish)
    code, lines = run(stick, unit_data)
    assert code == 1 and clinic.PULLED in lines
    assert snapshot(unit_data) == before
    monkeypatch.setattr(clinic, "_write_all", real_write)
    shutil.rmtree(stick)
    shutil.copytree(saved, stick)  # the stick goes back in
    code, lines = run(stick, unit_data)
    assert code == 0, lines
    assert len(list((exports(stick)[0] / "sessions").iterdir())) == 3


def test_failing_exporter_changes_nothing(unit_data: Path, stick: Path, secret: bytes):
    clinic.make_stick(stick, secret, UNIT, wipe_after_export=True)
    before = snapshot(unit_data)

    def broken(data_dir: Path, out: Path) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    lines: list[str] = []
    code = clinic.run_stick(stick, unit_data, broken, fake_wipe, lines.append)
    assert code == 1 and snapshot(unit_data) == before


# ------------------------------------------------------------------ hand-off to the kiosk


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_hand_off_to_kiosk_relays_lines(unit_data: Path, stick: Path, secret: bytes):
    clinic.make_stick(stick, secret, UNIT, wipe_after_export=True)
    clock = Clock()
    kiosk_lines: list[str] = []

    def sleep(s: float) -> None:  # the kiosk loop runs while usb-sync waits
        clock.t += s
        kiosk_lines.extend(spool.process_pending_jobs(unit_data, fake_export, fake_wipe,
                                                       now=clock))

    out: list[str] = []
    code = spool.hand_off(unit_data, stick, out.append, now=clock, sleep=sleep)
    assert code == 0
    assert out == kiosk_lines and out[-1] == "Safe to remove the stick."
    assert not list(clinic.spool_dir(unit_data).glob("job-*"))


def test_hand_off_runs_here_when_kiosk_does_not_answer(unit_data: Path, stick: Path,
                                                       secret: bytes):
    clinic.make_stick(stick, secret, UNIT)
    clock = Clock()
    out: list[str] = []

    def sleep(s: float) -> None:
        clock.t += s

    code = spool.hand_off(unit_data, stick, out.append, now=clock, sleep=sleep, pickup_s=5,
                           exporter=fake_export, wiper=fake_wipe)
    assert code == 0 and "did not answer" in out[0] and out[-1] == clinic.SAFE
    assert clock.t - 1000.0 == pytest.approx(5.0, abs=0.3)


def test_hand_off_gives_up_when_kiosk_hangs(unit_data: Path, stick: Path, secret: bytes):
    clinic.make_stick(stick, secret, UNIT)
    clock = Clock()

    def sleep(s: float) -> None:  # the kiosk claims the job, writes one line, then hangs
        clock.t += s
        for job in clinic.spool_dir(unit_data).glob("job-*.json"):
            jid = job.name[4:-5]
            spool._claim(unit_data, jid)
            (clinic.spool_dir(unit_data) / f"job-{jid}.status").write_text("Clinic stick found.\n")

    out: list[str] = []
    code = spool.hand_off(unit_data, stick, out.append, now=clock, sleep=sleep, total_s=30)
    assert code == 1
    assert out == ["Clinic stick found.",
                   "The station is still busy with the stick. Leave it in and wait."]


def test_heartbeat_decides_direct_or_hand_off(unit_data: Path):
    assert not spool.kiosk_alive(unit_data, now=500.0)
    spool.kiosk_heartbeat(unit_data, now=500.0)
    assert spool.kiosk_alive(unit_data, now=505.0)
    assert not spool.kiosk_alive(unit_data, now=520.0)


def test_process_pending_jobs_survives_a_broken_job(unit_data: Path):
    (clinic.spool_dir(unit_data)).mkdir(exist_ok=True)
    (clinic.spool_dir(unit_data) / "job-x.json").write_text("not json")
    lines = spool.process_pending_jobs(unit_data, fake_export, fake_wipe)
    assert "could not be handled" in lines[-1]
    assert spool.process_pending_jobs(unit_data) == []


# ------------------------------------------------------------------ the commands


def test_make_stick_and_usb_sync_commands(unit_data: Path, stick: Path, secret: bytes,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys):
    key = tmp_path / "clinic.key"
    unit.write_secret(key, secret)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    bad = tmp_path / "bad.toml"
    bad.write_text(dumps(dict(VALID, name="x")))
    assert main(["clinic", "make-stick", str(stick), "--secret-file", str(key), "--unit", UNIT,
                 "--prescription", str(bad)]) == 2
    good = tmp_path / "good.toml"
    good.write_text(dumps(VALID))
    assert main(["clinic", "make-stick", str(stick), "--secret-file", str(key), "--unit", UNIT,
                 "--prescription", str(good), "--wipe-after-export"]) == 0
    assert "Stick ready for unit ms-unit01" in capsys.readouterr().out
    monkeypatch.setattr(clinic, "_default_exporter", lambda: fake_export)
    monkeypatch.setattr(clinic, "_default_wiper", lambda: fake_wipe)
    assert main(["usb-sync", str(stick), "--direct"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "Safe to remove the stick."
    assert main(["usb-sync", str(stick)]) == 2  # replayed: no kiosk heartbeat, runs here
    assert "already used" in capsys.readouterr().out
