"""The patient page's figures say what they count, and equal the PDF's (one function, two
readers): the issue's case of three sessions on one day, two of them not followed by a camera."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import provision_unit

from station.clinic import report
from station.clinic.export import _read_all, export_bundle
from station.clinic.unit import read_secret
from station.desk import db, importer, patients, registry
from station.desk.app import create_app
from station.records.store import Store

ALIAS = "PT-FIG-3"


@pytest.fixture(scope="module")
def unit_records(tmp_path_factory):  # noqa: ANN201
    """A unit with three sessions on one day; the camera followed only the last."""
    from station.devtools.recordgen import generate

    root = tmp_path_factory.mktemp("figs")
    u = provision_unit(root)
    end = (datetime.now(UTC) - timedelta(days=1)).replace(hour=23, minute=0, second=0, microsecond=0)
    generate(u.data_dir, days=1, seed=5, sessions_per_day=(3, 3), synchronous="OFF", miss_rate=0.0,
             interrupt_rate=0.0, abandon_rate=0.0, end=end)
    store = Store.open(u.data_dir)
    ids = [r[0] for r in store.conn.execute("SELECT id FROM sessions ORDER BY started_utc")]
    assert len(ids) == 3
    for sid in ids[:2]:  # no camera: the tracker never ran in these
        store.conn.execute("UPDATE reps SET face_share=NULL, coactivation=NULL, eye_ratio=NULL, target_mm=NULL, "
                           "slow=NULL, small=NULL, quiet=NULL, released=NULL, quiet_mm=NULL WHERE session_id=?",
                           (sid,))
    store.conn.commit()
    rows = _read_all(store.conn)
    store.close()
    return u, rows, export_bundle(u.data_dir, root / "out")


@pytest.mark.slow
def test_the_figures_count_followed_sessions_and_days_of_the_loan(db_url: str, unit_records):
    u, rows, bundle = unit_records
    pdf = report.report_data(u.unit_id, rows["sessions"], rows["reps"], None, "2026-01-01T00:00:00Z").figures
    done = [r for r in rows["reps"] if r["status"] == "done"]
    followed = [r for r in done if r["face_share"] is not None]
    assert (pdf.sessions, pdf.sessions_followed) == (3, 1)
    assert (pdf.movements, pdf.movements_followed) == (len(done), len(followed)) and 0 < len(followed) < len(done)
    head = dict(pdf.headline())
    assert head["Sessions the camera followed"].startswith("1 of 3; the measures below count these only")
    assert head["Sessions a day"].startswith("3.0: 3 sessions over the 1 day with records")
    assert f"over the {len(followed)} followed movements" in head["Face tracked"]

    factory = db.open_db(db_url)
    with factory() as s, s.begin():
        registry.register_unit(s, "tech", u.unit_id, u.key_id, None)
        loan = registry.lend(s, "tech", u.unit_id, ALIAS, dt.date.today() + dt.timedelta(days=9))
        loan.lent_at = db.utcnow() - dt.timedelta(days=3)  # lent three days before today
    assert importer.import_path(factory, bundle, "tech", read_secret(u.key_file)).status == "imported"
    with factory() as s:
        page, *_ = patients.build(s, ALIAS, full=False)  # counted in the database
        api, *_ = patients.build(s, ALIAS, full=True)  # row by row, as the PDF
    for f in (page.figures, api.figures):
        assert (f.sessions, f.sessions_followed, f.movements, f.movements_followed) == \
            (3, 1, len(done), len(followed))
        assert f.days == 4 and f.period_words == "days of the loan"
    assert page.figures.headline(3) == api.figures.headline(3)
    assert page.figures.first_last() == api.figures.first_last()
    assert dict(page.figures.headline(3))["Sessions a day"] == \
        "0.8: 3 sessions over the 4 days of the loan (prescribed: 3)"
    assert page.qualities == api.qualities and page.face_share == api.face_share
    assert sorted(f.face_share) == pytest.approx(sorted(r["face_share"] for r in followed), abs=1e-4)


@pytest.mark.slow
def test_the_page_names_patterns_and_links_its_pdf(sqlite_url: str, unit_records):
    u, _rows, bundle = unit_records
    factory = db.open_db(sqlite_url)
    with factory() as s, s.begin():
        registry.register_unit(s, "tech", u.unit_id, u.key_id, None)
        registry.lend(s, "tech", u.unit_id, ALIAS, dt.date.today() + dt.timedelta(days=9))
        text = (Path(__file__).resolve().parents[2] / "examples" / "prescriptions" / "gentle-start.toml").read_bytes()
        registry.save_prescription(s, "therapist", text.replace(b"EXAMPLE-01", ALIAS.encode()))
    importer.import_path(factory, bundle, "tech", read_secret(u.key_file))
    client = create_app(factory).test_client()
    html = client.get(f"/patients/{ALIAS}").get_data(as_text=True)
    assert "Gentle eye closure x" in html and "eye_closure x" not in html
    assert "Sessions the camera followed" in html and f"/patients/{ALIAS}/report.pdf" in html
    pdf = client.get(f"/patients/{ALIAS}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert f"/Count {1 + len(report.CHART_ORDER)}".encode() in pdf.data


def test_points_at_the_limits_are_never_on_the_frame(unit_records):
    """Coactivation 0.0 and the tallest target stay inside the axes; one day is one square."""
    from matplotlib.figure import Figure

    _u, rows, _bundle = unit_records
    data = report.report_data("ms-x", rows["sessions"], rows["reps"], None, "2026-01-01T00:00:00Z")
    data.coactivation = {"small_smile": [(data.first_day, 0.0, 3)]}
    ax = Figure().add_subplot()
    report.CHARTS["coactivation"][2](ax, data)
    low, high = ax.get_ylim()
    assert low < 0.0 and high > 1.0
    ax = Figure().add_subplot()
    report.CHARTS["target"][2](ax, data)
    top = max(v for pts in data.target_mm.values() for _d, v, _n in pts)
    assert ax.get_ylim()[1] > top
    ax = Figure().add_subplot()
    report.draw_calendar(ax, data)
    assert ax.get_aspect() == 1.0  # a single day's square is square
