"""The registry on SQLite and on a real PostgreSQL server: schema, loan cycle, import and attacks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from helpers import counts, practise, provision_unit, resign
from sqlalchemy import select

from station.cli import main
from station.clinic import prescription as rx
from station.clinic import unit
from station.clinic.export import export_bundle
from station.desk import db, importer, patients, registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prescriptions"
ALIAS = "PT-DESK-01"


@pytest.fixture(scope="module")
def made(tmp_path_factory):  # noqa: ANN201
    """A provisioned unit with a few days of records, and its real (signed) export bundle."""
    root = tmp_path_factory.mktemp("unit")
    u = provision_unit(root)
    text = (EXAMPLES / "gentle-start.toml").read_text().replace("EXAMPLE-01", ALIAS)
    assert rx.apply_bytes(u.data_dir, text.encode()).ok
    practise(u.data_dir)
    return u, export_bundle(u.data_dir, root / "out")


@pytest.fixture(scope="module")
def bundle(made) -> tuple[Path, str]:
    """The bundle and its unit id."""
    return made[1], made[0].unit_id


@pytest.fixture(scope="module")
def key_file(made) -> Path:
    """The clinic's copy of the key the unit signed with."""
    return made[0].key_file


@pytest.fixture(scope="module")
def secret(key_file) -> bytes:
    return unit.read_secret(key_file)


def _ready(url: str, unit_id: str):  # noqa: ANN202
    factory = db.open_db(url)
    with factory() as s, s.begin():
        registry.register_unit(s, "tester", unit_id, "0123456789abcdef", None)
        registry.lend(s, "tester", unit_id, ALIAS, dt.date.today() + dt.timedelta(days=30))
    return factory


def test_migrations_match_the_models(db_url: str):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    factory = db.open_db(db_url)
    with factory() as s:
        diff = compare_metadata(MigrationContext.configure(s.connection()), db.Base.metadata)
    assert diff == []
    db.open_db(db_url)  # a second open is a no-op upgrade


def test_loan_cycle_and_prescription_history(db_url: str):
    factory = db.open_db(db_url)
    with factory() as s, s.begin():
        registry.register_unit(s, "tech", "ms-0001", "0123456789abcdef", "0123456789abcdef")
        with pytest.raises(registry.DeskError, match="another clinic"):
            registry.register_unit(s, "tech", "ms-0002", "fedcba9876543210", "0123456789abcdef")
        first = (EXAMPLES / "gentle-start.toml").read_bytes()
        registry.save_prescription(s, "therapist", first)
        second = first.replace(b"reps = 3\nrest_s = 3", b"reps = 4\nrest_s = 3")
        registry.save_prescription(s, "therapist", second)
        with pytest.raises(registry.DeskError, match="reps"):
            registry.save_prescription(s, "therapist", first.replace(b"reps = 3", b"reps = 30"))
        loan = registry.lend(s, "tech", "ms-0001", "EXAMPLE-01", dt.date.today() + dt.timedelta(days=1))
        with pytest.raises(registry.DeskError, match="lent already"):
            registry.lend(s, "tech", "ms-0001", "OTHER", dt.date.today())
    with factory() as s, s.begin():
        assert s.get(db.Unit, "ms-0001").state == db.LENT
        assert registry.overdue(s, dt.date.today() + dt.timedelta(days=5))[0].id == loan.id
    with factory() as s:
        history = patients.prescriptions(s, "EXAMPLE-01")
        assert [p.created_by for p in history] == ["therapist", "therapist"]
        assert history[0].changes == "first prescription"
        assert "changed small_smile: reps 3 -> 4" in history[1].changes
        actions = [a.action for a in s.scalars(select(db.Audit).order_by(db.Audit.id))]
        assert actions == ["register", "prescribe", "prescribe", "lend"]


@pytest.mark.slow
def test_import_attaches_and_is_idempotent(db_url: str, bundle, secret):
    path, unit_id = bundle
    factory = _ready(db_url, unit_id)
    first = importer.import_path(factory, path, "tech", secret)
    assert first.status == "imported" and first.alias == ALIAS and first.sessions_added >= 8
    after = counts(factory)
    again = importer.import_path(factory, path, "tech", secret)
    assert again.status == "already" and again.sessions_added == 0
    assert counts(factory) == after
    with factory() as s:
        b = s.get(db.Bundle, first.bundle_id)
        assert b.loan_id is not None and b.unit_id == unit_id and b.alias == ALIAS
        data, sessions, reps = patients.build(s, ALIAS)
        api = patients.api(s, ALIAS)
    assert len(sessions) == first.sessions_added == len(api["sessions"])
    assert len(reps) == len(api["reps"]) and api["weeks"] and api["prescribed_per_day"] == 3
    # the unit's export carries each rep's four qualities; interrupted reps stay unknown
    done = [r for r in api["reps"] if r["status"] == "done"]
    assert all(r["slow"] in (True, False) and r["t80_share"] is not None for r in done)


def test_quality_columns_are_read_when_present(db_url: str, bundle, tmp_path: Path, key_file, secret):
    path, unit_id = bundle
    copy = tmp_path / path.name
    shutil.copytree(path, copy)
    rows = list(csv.DictReader(io.StringIO((copy / "reps.csv").read_text())))
    quality = ["slow", "small", "quiet", "released", "t80_share", "target_peak_mm", "quiet_excess_mm",
               "residual_mm"]
    cols = [*(k for k in rows[0] if k not in quality), *quality]
    out = io.StringIO()
    w = csv.DictWriter(out, cols, extrasaction="ignore")
    w.writeheader()
    for i, r in enumerate(rows):
        w.writerow({**r, "slow": "1" if i % 2 else "0", "small": "1", "quiet": "", "released": "true",
                    "t80_share": "0.7", "target_peak_mm": "3.1", "quiet_excess_mm": "0", "residual_mm": "0.1"})
    (copy / "reps.csv").write_text(out.getvalue())
    resign(copy, key_file)
    factory = _ready(db_url, unit_id)
    assert importer.import_path(factory, copy, "tech", secret).status == "imported"
    with factory() as s:
        api = patients.api(s, ALIAS)
    done = [r for r in api["reps"] if r["status"] == "done"]
    assert {r["small"] for r in done} == {True} and {r["quiet"] for r in done} == {None}
    assert {r["slow"] for r in done} == {True, False} and done[0]["t80_share"] == pytest.approx(0.7)
    shares = api["qualities_per_pattern"]["small_smile"]
    assert shares["small"]["share"] == 1.0 and shares["quiet"] is None


def _tampered_csv(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    text = (dst / "reps.csv").read_text()
    (dst / "reps.csv").write_text(text.replace(",done,", ",done,", 1)[:-40] + "9" * 40)
    return dst


def _missing_file(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / "sessions.csv").unlink()
    return dst


def _zip_traversal(src: Path, dst: Path) -> Path:
    z = dst.with_suffix(".zip")
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(src.iterdir()):
            zf.write(p, f"b/{p.name}")
        zf.writestr("../../evil.txt", "x")
    return z


def _symlink(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / "events.csv").unlink()
    (dst / "events.csv").symlink_to("/etc/passwd")
    return dst


def _sparse(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    with open(dst / "events.csv", "r+b") as fh:
        fh.truncate(2 << 30)  # 2 GB, sparse: no disk used, but a naive reader would read it all
    return dst


def _sparse_extra(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    with open(dst / "huge.bin", "wb") as fh:
        fh.truncate(2 << 30)
    return dst


def _zip_bomb(src: Path, dst: Path) -> Path:
    z = dst.with_suffix(".zip")
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.iterdir()):
            if p.name != "events.csv":
                zf.write(p, p.name)
        zf.writestr("events.csv", b"\0" * (300 << 20))  # 300 MB of zeros in ~300 KB
    return z


ATTACKS = {
    "tampered csv": (_tampered_csv, "checksum differs|bytes; the manifest"),
    "missing file": (_missing_file, "sessions.csv is missing"),
    "zip with ../": (_zip_traversal, "unsafe path"),
    "symlink": (_symlink, "symbolic link"),
    "2 GB sparse file": (_sparse, "2147483648 bytes"),
    "2 GB sparse extra file": (_sparse_extra, "not in its manifest"),
    "zip bomb": (_zip_bomb, "events.csv expands .* times: refused as a zip bomb"),
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attacked_bundles_are_refused_and_change_nothing(db_url: str, bundle, tmp_path: Path, attack: str,
                                                        key_file, secret):
    path, unit_id = bundle
    factory = _ready(db_url, unit_id)
    before = counts(factory)
    make, reason = ATTACKS[attack]
    bad = make(path, tmp_path / path.name)
    with pytest.raises(importer.BundleRefused, match=reason):
        importer.import_path(factory, bad, "tech", secret)
    assert counts(factory) == before
    code = main(["desk", "import", str(bad), "--db", db_url, "--key-file", str(key_file)])
    assert code == 2 and counts(factory) == before


def test_import_command_exit_codes(sqlite_url: str, bundle, capsys, key_file):
    path, unit_id = bundle
    # the unit is not registered yet
    assert main(["desk", "import", str(path), "--db", sqlite_url, "--key-file", str(key_file)]) == 2
    assert "not registered" in capsys.readouterr().err
    _ready(sqlite_url, unit_id)
    assert main(["desk", "import", str(path), "--db", sqlite_url, "--key-file", str(key_file)]) == 0
    assert "imported" in capsys.readouterr().out
    assert main(["desk", "import", str(path), "--db", sqlite_url, "--key-file", str(key_file)]) == 0
    assert "imported already" in capsys.readouterr().out


def test_a_zip_of_the_bundle_imports(sqlite_url: str, bundle, tmp_path: Path, secret):
    path, unit_id = bundle
    factory = _ready(sqlite_url, unit_id)
    z = tmp_path / "bundle.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(path.iterdir()):
            zf.write(p, f"{path.name}/{p.name}")
    assert importer.import_path(factory, z, "tech", secret).status == "imported"
    assert importer.import_path(factory, path, "tech", secret).status == "already"  # same manifest
    assert os.path.exists(z)


def test_form_round_trip_and_length_preview_match_the_unit():
    from station.desk import rxform
    from station.practice.events import Timing
    from station.practice.session import Engine

    text = (EXAMPLES / "eye-focused.toml").read_text()
    form = rxform.from_toml(text)
    toml, ids = rxform.to_toml(form)
    again = rx.validate_bytes(toml.encode()).prescription
    orig = rx.validate_bytes(text.encode()).prescription
    assert ids == ["small_smile", "ee", "eye_closure"] or set(ids) == {p.id for p in orig.patterns}
    assert {p.id: (p.reps, p.overrides) for p in again.patterns} == \
        {p.id: (p.reps, p.overrides) for p in orig.patterns}
    assert rxform.preview_minutes(form) == pytest.approx(Engine(orig.plan(), Timing()).planned_s / 60.0)
