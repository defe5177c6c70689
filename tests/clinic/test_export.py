"""Export bundle, PDF report, wipe and the no-image-data guarantee, on real files."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import sqlite3
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from recording import Wall, run_session

from station import cli
from station.clinic.export import MANIFEST, SIGNATURE, export_bundle, signature_ok, verify_bundle
from station.clinic.report import CHART_ORDER
from station.clinic.unit import unit_info
from station.devtools.recordgen import generate
from station.feedback import Side
from station.paths import database_path, model_path
from station.practice.plan import make_plan
from station.records.recorder import SessionRecorder
from station.records.store import Store
from station.records.wipe import wipe

END = datetime(2025, 3, 31, 20, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> tuple[Path, object]:
    d = tmp_path_factory.mktemp("month") / "data"
    summary = generate(d, days=30, seed=11, end=END, synchronous="NORMAL")
    return d, summary


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_month_export_bundle_and_report(month, tmp_path):
    data_dir, summary = month
    assert summary.sessions >= 60 and summary.interrupted >= 1 and summary.days_missed >= 1
    png_dir = tmp_path / "png"
    bundle = export_bundle(data_dir, tmp_path / "out", png_dir=png_dir)
    names = sorted(p.name for p in bundle.iterdir())
    assert names == ["calibrations.csv", "checkin_movements.csv", "checkins.csv", "events.csv", MANIFEST,
                     "report.pdf", "reps.csv", "sessions.csv", "unit.json"]
    assert verify_bundle(bundle) == []
    assert [p.name for p in (tmp_path / "out").iterdir()] == [bundle.name]  # no temp left
    sessions = read_csv(bundle / "sessions.csv")
    reps = read_csv(bundle / "reps.csv")
    info = json.loads((bundle / "unit.json").read_text())
    assert len(sessions) == summary.sessions == info["counts"]["sessions"]
    assert info["counts"]["reps_done"] == summary.reps_done
    assert {s["status"] for s in sessions} == {"complete", "interrupted", "abandoned"}
    assert info["unit_id"] == unit_info(data_dir)["unit_id"]
    assert info["plan"]["items"][0]["pattern"] == "small_smile"
    assert len(read_csv(bundle / "events.csv")) == info["counts"]["events"]
    # coactivation improves over the month in the generated data, and the CSV shows it
    smiles = [float(r["coactivation"]) for r in reps if r["pattern_id"] == "small_smile"
              and r["coactivation"]]
    assert sorted(smiles[:20])[10] > sorted(smiles[-20:])[10]
    # one PNG per page, from matplotlib, and the PDF itself renders (pdftoppm when present)
    pngs = sorted(png_dir.glob("page*.png"))
    n = 1 + len(CHART_ORDER)  # the summary, then the desk page's charts
    assert len(pngs) == n
    pdf = (bundle / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and f"/Count {n}".encode() in pdf
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "40", "-png", str(bundle / "report.pdf"),
                        str(tmp_path / "pp")], check=True, timeout=60)
        assert len(list(tmp_path.glob("pp-*.png"))) == n


def test_export_is_all_or_nothing(month, tmp_path, monkeypatch):
    import station.clinic.report

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(station.clinic.report, "render_pdf", broken)
    out = tmp_path / "out"
    with pytest.raises(OSError):
        export_bundle(month[0], out)
    assert list(out.iterdir()) == []


def test_export_of_an_empty_store(data_dir, tmp_path):
    bundle = export_bundle(data_dir, tmp_path / "out")
    assert verify_bundle(bundle) == []
    assert not (bundle / SIGNATURE).exists()  # no clinic key here: nothing to sign with


def test_a_provisioned_units_export_is_signed_over_every_file(data_dir, tmp_path):
    from station.clinic import unit

    secret = unit.new_secret()
    unit.provision(data_dir, secret, "ms-sign01")
    bundle = export_bundle(data_dir, tmp_path / "out")
    raw = (bundle / MANIFEST).read_bytes()
    assert signature_ok(secret, raw, (bundle / SIGNATURE).read_bytes())
    assert json.loads(raw)["key_id"] == unit.key_id(secret)
    assert {e["name"] for e in json.loads(raw)["files"]} == {p.name for p in bundle.iterdir()} - {MANIFEST, SIGNATURE}
    assert not signature_ok(secret, raw.replace(b"ms-sign01", b"ms-sign02"), (bundle / SIGNATURE).read_bytes())
    assert read_csv(bundle / "sessions.csv") == []
    assert json.loads((bundle / "unit.json").read_text())["counts"]["sessions"] == 0


def test_export_while_a_session_runs_leaves_it_open(data_dir, clock, tmp_path):
    rec = SessionRecorder(data_dir, make_plan([("small_smile", 2, {})], "p"), wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock, stop_after=8)
    bundle = export_bundle(data_dir, tmp_path / "out")
    assert [s["status"] for s in read_csv(bundle / "sessions.csv")] == ["open"]
    rec.stop()


# ---- no image data -----------------------------------------------------------------------

IMAGE_MAGIC = {
    "jpeg": b"\xff\xd8\xff",
    "png": b"\x89PNG\r\n\x1a\n",
    "gif87": b"GIF87a",
    "gif89": b"GIF89a",
    "tiff-le": b"II*\x00",
    "tiff-be": b"MM\x00*",
    "webp": b"WEBPVP8",
    "npy": b"\x93NUMPY",
    "jp2": b"\x00\x00\x00\x0cjP  ",
    "heic": b"ftypheic",
    "avif": b"ftypavif",
    "bmp-dib": b"BM",  # checked with its header below
}
SMALLEST_FRAME = 160 * 120  # bytes of the smallest frame a camera could give (8-bit grey)


def image_magic_hits(data: bytes) -> list[str]:
    """Image signatures found in raw bytes (JPEG needs a real marker after SOI)."""
    hits = []
    for name, magic in IMAGE_MAGIC.items():
        start = 0
        while (i := data.find(magic, start)) >= 0:
            start = i + 1
            if name == "jpeg" and data[i + 3 : i + 4] not in (b"\xe0", b"\xe1", b"\xdb", b"\xee"):
                continue
            if name == "bmp-dib":
                # BM + size + reserved + offset + a DIB header size of 40/108/124
                if len(data) < i + 18 or struct.unpack_from("<I", data, i + 14)[0] not in (
                        40, 108, 124):
                    continue
            hits.append(f"{name}@{i}")
    return hits


def oversized_values(db: Path) -> list[str]:
    """Any single stored value as large as a small camera frame (no frame fits below that)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    found = []
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
            for c in cols:
                big = conn.execute(f"SELECT max(length({c})) FROM {t}").fetchone()[0]
                if big is not None and big >= SMALLEST_FRAME:
                    found.append(f"{t}.{c}: {big} bytes")
    finally:
        conn.close()
    return found


def series_are_numbers(db: Path) -> bool:
    """Every rep series blob is float32 millimetres (finite and small) or NaN."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for (blob,) in conn.execute("SELECT data FROM rep_series"):
            vals = struct.unpack(f"<{len(blob) // 4}f", blob)
            if len(blob) % 4 or not all(math.isnan(v) or abs(v) < 200 for v in vals):
                return False
    finally:
        conn.close()
    return True


def test_image_scanner_catches_images():
    assert image_magic_hits(b"xx\x89PNG\r\n\x1a\n....")
    assert image_magic_hits(b"\x00\xff\xd8\xff\xe0\x00\x10JFIF")
    assert not image_magic_hits(b"BM" + b"\x00" * 30)


def test_no_image_data_in_database_wal_or_export(data_dir, clock, tmp_path):
    rec = SessionRecorder(data_dir, make_plan([("small_smile", 3, {}), ("pucker", 2, {})], "p"),
                          wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock)
    db = database_path(data_dir)
    wal = Path(str(db) + "-wal")
    assert wal.stat().st_size > 0  # the session is in the WAL, not yet checkpointed
    for f in (db, wal):
        assert image_magic_hits(f.read_bytes()) == [], f.name
    assert oversized_values(db) == []
    assert series_are_numbers(db)
    bundle = export_bundle(data_dir, tmp_path / "out")
    for f in bundle.iterdir():
        assert image_magic_hits(f.read_bytes()) == [], f.name
    rec.stop()
    assert image_magic_hits(db.read_bytes()) == []
    # and the size check would have caught a raw frame
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO rep_series VALUES ('x', 't', 1, ?)", (bytes(SMALLEST_FRAME),))
    conn.commit()
    conn.close()
    assert oversized_values(db) == ["rep_series.data: 19200 bytes"]


# ---- wipe --------------------------------------------------------------------------------

MARKER = "PATIENT-MARKER-5d41402a"


def scan_for(root: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and needle in p.read_bytes()]


def test_wipe_leaves_no_patient_record_anywhere(data_dir, clock, monkeypatch, capsys):
    # unit property that must survive
    info = unit_info(data_dir)
    model = model_path(data_dir)
    model.parent.mkdir(parents=True)
    model.write_bytes(b"model bytes")
    (data_dir / "clinic.key").write_bytes(b"secret")
    plan = make_plan([("small_smile", 2, {})], f"prescription {MARKER}")
    rec = SessionRecorder(data_dir, plan, wall=Wall(clock), affected_side=Side.LEFT)
    run_session(rec, clock)
    run_session(rec, clock, stop_after=10)
    rec.note(clock(), "note", MARKER)
    export_bundle(data_dir, data_dir / "exports")
    (data_dir / "records.sqlite3.corrupt-20250101T000000Z").write_bytes(MARKER.encode() * 3)
    assert len(scan_for(data_dir, MARKER.encode())) >= 3
    rec.store.conn.close()  # the kiosk is gone (power off), files as they are
    rec._session_lock.release()  # and the kernel drops a dead process's session lock
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["wipe", "--yes"]) == 0
    assert "removed" in capsys.readouterr().out
    assert scan_for(data_dir, MARKER.encode()) == []
    assert scan_for(data_dir, MARKER.encode("utf-16-le")) == []
    assert unit_info(data_dir) == info
    assert model.read_bytes() == b"model bytes" and (data_dir / "clinic.key").exists()
    store = Store.open(data_dir)
    assert store.sessions() == []
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_wipe_asks_and_refuses_without_a_terminal(data_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert cli.main(["wipe"]) == 2
    assert "--yes" in capsys.readouterr().err


def test_recorder_wipe_carries_on(data_dir, clock):
    rec = SessionRecorder(data_dir, make_plan([("eye_closure", 1, {})], MARKER), wall=Wall(clock),
                          affected_side=Side.LEFT)
    run_session(rec, clock)
    rec.wipe()
    assert scan_for(data_dir, MARKER.encode()) == []
    run_session(rec, clock)
    rec.stop()
    conn = sqlite3.connect(database_path(data_dir))
    assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    conn.close()


def test_wipe_function_on_a_month(month, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(month[0], d)
    wipe(d)
    # the unit id stays (unit/unit-id); spool holds the session lock
    assert sorted(p.name for p in d.iterdir()) == ["records.sqlite3", "spool", "unit"]
    conn = sqlite3.connect(d / "records.sqlite3")
    assert conn.execute("SELECT count(*) FROM reps").fetchone() == (0,)
    conn.close()


def test_cli_export(month, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STATION_DATA", str(month[0]))
    assert cli.main(["export", "--out", str(tmp_path / "o")]) == 0
    assert "Export written" in capsys.readouterr().out
    (tmp_path / "f").write_text("x")
    assert cli.main(["export", "--out", str(tmp_path / "f")]) == 2
