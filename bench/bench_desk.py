"""Benchmark: the clinic desk with a year of records (6 sessions a day): import and patient page.

``python -m bench.bench_desk [--days 365] [--bundle DIR --key-file KEY]``. The records are generated through
the real engine and store (not timed), exported as a unit does it (not timed), then timed:
importing the bundle into a fresh SQLite desk (verify + parse + one transaction), and
rendering the patient page (queries, aggregation, eight SVG charts, the template) through the
desk application itself, first render after start (matplotlib warmed by one small chart).
Target: each under a second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from station.clinic import unit
from station.clinic.export import export_bundle
from station.clinic.report import CHART_ORDER, ReportData, chart_svg
from station.desk import db, importer, registry
from station.desk.app import create_app
from station.devtools.recordgen import generate

ALIAS = "BENCH-YEAR"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--bundle", help="use this export bundle instead of generating one")
    ap.add_argument("--key-file", help="the clinic key that signed --bundle")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-desk-"))
    if args.bundle:
        bundle = Path(args.bundle)
        secret = unit.read_secret(Path(args.key_file))
    else:
        data = root / "unit"
        secret = unit.new_secret()
        unit.provision(data, secret, "ms-bench01")  # a provisioned unit signs its export
        generate(data, days=args.days, seed=1, sessions_per_day=(6, 6), miss_rate=0.0,
                 end=datetime(2025, 12, 31, 21, 0, tzinfo=UTC), synchronous="OFF")
        bundle = export_bundle(data, root / "out")
    info = json.loads((bundle / "unit.json").read_text())
    factory = db.open_db(f"sqlite:///{root / 'desk.sqlite3'}")
    with factory() as s, s.begin():
        registry.register_unit(s, "bench", info["unit_id"], "0" * 16, None)
        registry.lend(s, "bench", info["unit_id"], ALIAS, dt.date.today() + dt.timedelta(days=1))
    mb = sum(p.stat().st_size for p in bundle.iterdir()) / 1e6
    t0 = time.perf_counter()
    res = importer.import_path(factory, bundle, "bench", secret)
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = importer.import_path(factory, bundle, "bench", secret)
    again_s = time.perf_counter() - t0
    chart_svg("practice", ReportData("", None, None, ""))  # matplotlib's one-time start
    client = create_app(factory).test_client()
    client.get("/")
    t0 = time.perf_counter()
    page = client.get(f"/patients/{ALIAS}")
    page_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    api = client.get(f"/api/patients/{ALIAS}")
    api_s = time.perf_counter() - t0
    assert res.status == "imported" and again.status == "already" and page.status_code == 200
    assert page.get_data().count(b"<svg") == len(CHART_ORDER) and api.status_code == 200
    print(f"{'what':40} {'value':>10}")
    print(f"{'bundle: sessions / MB':40} {res.sessions_added:>5} / {mb:.1f}")
    print(f"{'import (s, target < 1)':40} {import_s:>10.2f}")
    print(f"{'import again, nothing added (s)':40} {again_s:>10.2f}")
    print(f"{'patient page, 8 SVG charts (s, target < 1)':40} {page_s:>10.2f}")
    print(f"{'patient page size (kB)':40} {len(page.get_data()) / 1e3:>10.0f}")
    print(f"{'GET /api/patients/ALIAS (s)':40} {api_s:>10.2f}")


if __name__ == "__main__":
    main()
