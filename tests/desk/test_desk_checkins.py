"""The weekly check-in on the desk: export, import (SQLite and PostgreSQL), the patient's page, the API."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from checkin_helpers import store_checkins
from helpers import counts, practise, provision_unit, resign
from sqlalchemy import func, select

from station.clinic import prescription as rx
from station.clinic import unit
from station.clinic.export import MANIFEST, export_bundle
from station.desk import db, importer, registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prescriptions"
ALIAS = "PT-CHK-01"
RATIOS = [0.4, 0.5, 0.65, 0.8]


@pytest.fixture(scope="module")
def made(tmp_path_factory):  # noqa: ANN201
    """A unit with a few days of practice and four weekly check-ins, and its signed bundle."""
    root = tmp_path_factory.mktemp("unit")
    u = provision_unit(root)
    text = (EXAMPLES / "eye-focused.toml").read_text().replace("EXAMPLE-02", ALIAS)
    assert rx.apply_bytes(u.data_dir, text.encode()).ok
    practise(u.data_dir, days=2)
    ids = store_checkins(u.data_dir, RATIOS)
    return u, export_bundle(u.data_dir, root / "out"), ids


def _ready(url: str, unit_id: str):  # noqa: ANN202
    factory = db.open_db(url)
    with factory() as s, s.begin():
        registry.register_unit(s, "tester", unit_id, "0123456789abcdef", None)
        registry.lend(s, "tester", unit_id, ALIAS, dt.date.today() + dt.timedelta(days=30))
    return factory


def test_the_bundle_carries_the_checkins_signed(made):
    _u, path, ids = made
    manifest = json.loads((path / MANIFEST).read_text())
    names = {e["name"] for e in manifest["files"]}
    assert {"checkins.csv", "checkin_movements.csv"} <= names
    lines = (path / "checkins.csv").read_text().splitlines()
    assert len(lines) == 1 + len(ids) and lines[0].startswith("id,started_utc,ended_utc,status")
    assert len((path / "checkin_movements.csv").read_text().splitlines()) == 1 + 5 * len(ids)


def test_import_stores_checkins_once_on_both_engines(db_url: str, made):
    u, path, ids = made
    factory = _ready(db_url, u.unit_id)
    secret = unit.read_secret(u.key_file)
    first = importer.import_path(factory, path, "tech", secret)
    assert first.status == "imported"
    with factory() as s:
        cis = s.scalars(select(db.Checkin).order_by(db.Checkin.started_utc)).all()
        assert [c.uid for c in cis] == ids and {c.alias for c in cis} == {ALIAS}
        assert cis[0].rest_eye_fissure_diff_mm == pytest.approx(-0.7)
        mvs = s.scalars(select(db.CheckinMovement).where(db.CheckinMovement.checkin_id == cis[-1].id)).all()
        assert sorted(m.movement for m in mvs) == sorted(
            ["brow_lift", "eye_closure", "open_smile", "snarl", "lip_pucker"])
        smile = next(m for m in mvs if m.movement == "open_smile")
        assert smile.ratio == pytest.approx(RATIOS[-1]) and smile.ratio_spread == pytest.approx(0.0125)
        assert smile.complete is True and smile.co_mouth_corner_mm is None
        assert next(m for m in mvs if m.movement == "snarl").repeats == 1
        audit = s.scalars(select(db.Audit.what).where(db.Audit.action == "import")).one()
        assert f"{len(ids)} check-ins" in audit
    after = counts(factory)
    assert importer.import_path(factory, path, "tech", secret).status == "already"
    assert counts(factory) == after
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(db.CheckinMovement)) == 5 * len(ids)


@pytest.mark.parametrize(("file", "edit", "why"), [
    ("checkin_movements.csv", lambda t: t.replace(",open_smile,", ",grin,", 1), "one of brow_lift"),
    ("checkin_movements.csv", lambda t: t.replace("0.8000", "1e400", 1), "finite number"),
    ("checkins.csv", lambda t: t.replace(",complete,", ",graded,", 1), "status"),
    ("checkin_movements.csv", lambda t: t.replace("ci-", "zz-", 2), "checkin_id"),
])
def test_a_bad_checkin_row_refuses_the_whole_bundle(sqlite_url: str, made, tmp_path: Path, file, edit, why):
    u, path, _ids = made
    copy = tmp_path / path.name
    shutil.copytree(path, copy)
    (copy / file).write_text(edit((copy / file).read_text()))
    resign(copy, u.key_file)
    factory = _ready(sqlite_url, u.unit_id)
    before = counts(factory)
    with pytest.raises(importer.BundleRefused, match=why):
        importer.import_path(factory, copy, "tech", unit.read_secret(u.key_file))
    assert counts(factory) == before
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(db.Checkin)) == 0


def test_an_older_bundle_without_checkins_still_imports(sqlite_url: str, made, tmp_path: Path):
    u, path, _ids = made
    copy = tmp_path / path.name
    shutil.copytree(path, copy)
    for name in ("checkins.csv", "checkin_movements.csv"):
        (copy / name).unlink()
    m = json.loads((copy / MANIFEST).read_text())
    m["files"] = [e for e in m["files"] if not e["name"].startswith("checkin")]
    (copy / MANIFEST).write_text(json.dumps(m))
    resign(copy, u.key_file)
    factory = _ready(sqlite_url, u.unit_id)
    assert importer.import_path(factory, copy, "tech", unit.read_secret(u.key_file)).status == "imported"
    # one of the pair alone is refused
    copy2 = tmp_path / "half"
    shutil.copytree(path, copy2)
    (copy2 / "checkin_movements.csv").unlink()
    m = json.loads((copy2 / MANIFEST).read_text())
    m["files"] = [e for e in m["files"] if e["name"] != "checkin_movements.csv"]
    (copy2 / MANIFEST).write_text(json.dumps(m))
    resign(copy2, u.key_file)
    with pytest.raises(importer.BundleRefused, match="partner"):
        importer.import_path(_ready(f"sqlite:///{tmp_path / 'b.sqlite3'}", u.unit_id), copy2, "tech",
                             unit.read_secret(u.key_file))


def _served(db_url: str, made):  # noqa: ANN202
    from station.desk.app import create_app

    u, path, ids = made
    factory = _ready(db_url, u.unit_id)
    assert importer.import_path(factory, path, "tech", unit.read_secret(u.key_file)).status == "imported"
    return create_app(factory, u.key_file).test_client(), factory, ids


def test_the_patient_page_shows_the_checkins_labelled_and_never_a_grade(db_url: str, made):
    c, _factory, ids = _served(db_url, made)
    page = c.get(f"/patients/{ALIAS}").get_data(as_text=True)
    from station.clinic import checkin_figures as cf

    assert 'id="checkins"' in page and cf.NO_SCORE in page
    assert page.count(cf.LABEL.lower()) >= 1 + 5  # the table and every movement's chart
    for mv in ("brow_lift", "eye_closure", "open_smile", "snarl", "lip_pucker"):
        assert f'id="checkin-{mv}"' in page
    assert f"{len(ids)} completed check-ins" in page
    # first and latest side by side: the smile's ratio went 0.40 -> 0.80, its band shown
    assert "<td>Open-mouth smile: ratio affected / other side</td><td>0.40</td><td>0.80</td><td>0.01</td>" in page
    assert "At rest: eye opening (fissure height), affected minus other side" in page
    text = page.lower()
    for word in ("sunnybrook", "eface", "house-brackmann"):  # named only in the sentence that says why not
        assert text.count(word) == cf.NO_SCORE.lower().count(word), word
    assert "grade:" not in text and "score:" not in text


def test_the_pdf_has_the_checkin_pages(sqlite_url: str, made, tmp_path: Path):
    from matplotlib import pyplot as plt

    from station.clinic import checkin_figures as cf
    from station.clinic import report
    from station.desk import patients

    c, factory, ids = _served(sqlite_url, made)
    r = c.get(f"/patients/{ALIAS}/report.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF-")
    with factory() as s:
        data, _sessions, _reps = patients.build(s, ALIAS, full=False)
    assert [p.value for p in data.checkins.trends["open_smile"].ratio] == pytest.approx(RATIOS)
    with_checkins = report.render_pdf(data, tmp_path / "a.pdf")
    data.checkins = None
    assert with_checkins == report.render_pdf(data, tmp_path / "b.pdf") + 1 + 5  # first/latest + a page a movement
    with factory() as s:
        ck = cf.compute(*patients.checkin_rows(s, ALIAS))
    figs = cf.pdf_pages(plt, ck, "header")
    try:
        texts = [" ".join(t.get_text() for t in f.texts) + " " + (f._suptitle.get_text() if f._suptitle else "")
                 for f in figs]
    finally:
        for f in figs:
            plt.close(f)
    assert all(cf.LABEL.lower() in t for t in texts)
    assert "No Sunnybrook, eFACE or House-Brackmann score" in texts[0].replace("\n", " ")
    assert f"{len(ids)} completed check-ins" in texts[0]


def _walk(obj, path=""):  # noqa: ANN001, ANN202
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, f"{path}[]")
    else:
        yield path, obj


def test_the_fhir_bundle_of_observations(sqlite_url: str, made):
    from station.desk import fhir

    c, _factory, ids = _served(sqlite_url, made)
    r = c.get(f"/api/patients/{ALIAS}/checkins.fhir.json")
    assert r.status_code == 200 and r.mimetype == "application/fhir+json"
    doc = json.loads(r.data)
    assert doc["resourceType"] == "Bundle" and doc["type"] == "collection" and "total" not in doc
    obs = [e["resource"] for e in doc["entry"]]
    assert all(e["fullUrl"] == f"urn:uuid:{e['resource']['id']}" for e in doc["entry"])
    assert len({o["id"] for o in obs}) == len(obs)
    known = {x["code"]: x for x in fhir.codes()}
    per_checkin = 3 + 5 * 3 + 4 + 5 * 5  # rest; ratio, affected, other; eye narrowing (not in eye closure); co
    assert len(obs) == per_checkin * len(ids)
    for o in obs:
        assert o["resourceType"] == "Observation" and o["status"] == "final"
        (coding,) = o["code"]["coding"]
        assert coding["system"] == fhir.SYSTEM and coding["code"] in known
        q = o["valueQuantity"]
        assert q["system"] == "http://unitsofmeasure.org" and q["code"] == q["unit"] == known[coding["code"]]["unit"]
        assert isinstance(q["value"], int | float)
        assert o["device"]["identifier"]["value"] == made[0].unit_id and "Mirror-station" in o["device"]["display"]
        assert o["method"]["coding"][0]["code"] == "device-checkin"
        assert o["effectiveDateTime"].endswith("Z") and o["effectiveDateTime"][:4] >= "2000"
        assert o["subject"]["identifier"]["value"] == ALIAS
        assert o["note"] == [{"text": "Device measurement for clinician review"}]
    smile = [o for o in obs if o["code"]["coding"][0]["code"] == "open_smile.ratio"]
    assert [o["valueQuantity"]["value"] for o in smile] == pytest.approx(RATIOS)
    assert smile[0]["valueQuantity"]["unit"] == "1" and smile[0]["component"][0]["valueQuantity"]["value"] == 0.0125
    pct = next(o for o in obs if o["code"]["coding"][0]["code"] == "open_smile.eye-narrowing-pct")
    assert pct["valueQuantity"]["unit"] == "%"
    assert not any(o["code"]["coding"][0]["code"].startswith("eye_closure.eye-narrowing") for o in obs)
    # numbers and codes only: every leaf is a number or a string from a small, known set of shapes
    allowed = re.compile(r"(urn:uuid:[0-9a-f-]+(:alias)?|[0-9a-f-]{36}|http://[\w./-]+|[a-z_.-]+|mm|%|1|"
                         r"\d{4}-\d{2}-\d{2}T[\d:.]+Z|Observation|Bundle|collection|final|exam|Exam|"
                         + re.escape(ALIAS) + "|" + re.escape(made[0].unit_id) + r"|Mirror-station unit [\w-]+|"
                         r"Device measurement for clinician review|[A-Z][\w -]*: [\w ,%/()-]+|"
                         + re.escape(fhir.METHOD[1]) + "|" + re.escape(fhir.SPREAD[1]) + ")")
    for path, leaf in _walk(doc):
        assert isinstance(leaf, int | float) or (isinstance(leaf, str) and allowed.fullmatch(leaf)), (path, leaf)
    text = r.data.decode().lower()
    assert not any(w in text for w in ("sunnybrook", "eface", "house-brackmann", "grade", "score"))


def test_the_fhir_route_needs_a_login_and_a_known_alias(sqlite_url: str, made):
    from station.desk import auth

    c, factory, _ids = _served(sqlite_url, made)
    assert c.get("/api/patients/NOBODY-1/checkins.fhir.json").status_code == 404
    with factory() as s, s.begin():
        auth.add_user(s, "clinician", "a long enough passphrase 42")
    assert c.get(f"/api/patients/{ALIAS}/checkins.fhir.json").status_code == 401


def test_the_readme_documents_every_fhir_code():
    from station.desk import fhir

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert fhir.SYSTEM in readme
    for c in fhir.codes():
        assert f"| `{c['code']}` | {c['display']} |" in readme, c["code"]
