"""A bundle fuzzer: one changed cell, key or file of a signed bundle, on SQLite and PostgreSQL.

Whatever hypothesis puts there, the import either succeeds or refuses with one plain sentence
(never another exception, never a partial write), and the patient's page and JSON API still
answer with strict JSON afterwards. The example count is modest: CI has two cores.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers import counts, import_bundle, practise, provision_unit, resign
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from station.clinic import prescription as rx
from station.clinic import unit
from station.clinic.export import export_bundle
from station.desk import db, importer, registry
from station.desk.app import create_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prescriptions"
ALIAS = "PT-FUZZ-01"
NASTY = ["", " ", "nan", "NaN", "inf", "-Infinity", "1e400", "-0", "1_000", "0x10", str(2**31), str(2**63),
         "-" + str(2**63), "\x00", "a\x00b", "garbage", "2026-13-45T10:00:00.000Z", "0001-01-01T00:00:00.000Z",
         "9999-12-31T23:59:59.999Z", "2026-02-30T00:00:00Z", "$\\frac{$", "<script>", "a" * 300, "PT-VICTIM-99",
         "a/b", "../x", "\ufeff", "1,2", '"', "\r\n", "true", "yes", "2", "-1", "1.5", "é", "\u202e"]
TEXT = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), st.integers().map(str),
                 st.floats().map(repr))
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                    max_leaves=8)


@pytest.fixture(scope="module")
def made(tmp_path_factory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("fuzz")
    u = provision_unit(root, "ms-fuzz01")
    text = (EXAMPLES / "gentle-start.toml").read_text().replace("EXAMPLE-01", ALIAS)
    assert rx.apply_bytes(u.data_dir, text.encode()).ok
    practise(u.data_dir, days=2)
    return u, export_bundle(u.data_dir, root / "out"), unit.read_secret(u.key_file)


def _csv_edit(folder: Path, name: str, row: int, column: int, value: str) -> None:
    text = (folder / name).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    r = 1 + row % max(1, len(rows) - 1) if len(rows) > 1 else 0
    rows[r][column % len(rows[r])] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    (folder / name).write_text(out.getvalue(), encoding="utf-8")


def _json_edit(folder: Path, name: str, key: str, value: object) -> None:
    obj = json.loads((folder / name).read_text())
    if not isinstance(obj, dict):
        return
    obj[key] = value
    (folder / name).write_text(json.dumps(obj))


EDITS = st.one_of(
    st.tuples(st.just("csv"), st.sampled_from(["sessions.csv", "reps.csv"]), st.integers(0, 50),
              st.integers(0, 60), TEXT),
    st.tuples(st.just("json"), st.just("unit.json"),
              st.sampled_from(["unit_id", "patient_alias", "exported_utc", "affected_side", "counts"]), JSON),
    st.tuples(st.just("json"), st.just("manifest.json"),
              st.sampled_from(["format", "unit_id", "created_utc", "key_id", "files"]), JSON),
    st.tuples(st.just("bytes"), st.sampled_from(["sessions.csv", "reps.csv", "unit.json", "prescription.toml"]),
              st.binary(max_size=64)),
)


def _apply(folder: Path, edit: tuple) -> None:
    try:
        _edit(folder, edit)
    except (ValueError, IndexError):  # an earlier edit broke the file for this one: keep it broken
        pass


def _edit(folder: Path, edit: tuple) -> None:
    if edit[0] == "csv":
        _csv_edit(folder, *edit[1:])
    elif edit[0] == "json":
        _json_edit(folder, *edit[1:])
    else:
        path = folder / edit[1]
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] + edit[2] + data[len(data) // 2:])


@pytest.mark.slow
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(EDITS, min_size=1, max_size=3))
def test_fuzzed_bundles_import_or_refuse_plainly(db_url, made, edits):
    u, path, secret = made
    factory = db.open_db(db_url)
    with factory() as s, s.begin():
        if s.get(db.Unit, u.unit_id) is None:
            registry.register_unit(s, "tester", u.unit_id, "0123456789abcdef", None)
            registry.lend(s, "tester", u.unit_id, ALIAS, dt.date.today() + dt.timedelta(days=30))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "b"
        shutil.copytree(path, folder)
        for edit in edits:
            _apply(folder, edit)
        if all(e[1] != "manifest.json" for e in edits):
            resign(folder, u.key_file)
        else:  # a changed manifest, signed as it is (its own hashes may now lie)
            from station.clinic.export import SIGNATURE, sign_manifest

            (folder / SIGNATURE).write_bytes(sign_manifest(secret, (folder / "manifest.json").read_bytes()))
        before = counts(factory)
        try:
            result = import_bundle(factory, folder, secret)
            assert result.status in ("imported", "already")
        except importer.BundleRefused as exc:
            message = str(exc)
            assert message.endswith(".") and "\n" not in message and "Traceback" not in message
            assert counts(factory) == before
    c = create_app(factory, None).test_client()
    assert c.get(f"/patients/{ALIAS}").status_code in (200, 404)
    api = c.get(f"/api/patients/{ALIAS}")
    assert api.status_code in (200, 404)
    if api.status_code == 200:
        json.loads(api.get_data(as_text=True), parse_constant=lambda name: pytest.fail(f"API said {name}"))
