"""The record schema: one declaration matches the store, the export and the parser."""

from __future__ import annotations

import io
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.records import schema
from station.records.store import REP_COLUMNS, SESSION_COLUMNS, STATS_COLUMNS, Store


def test_the_migrated_store_has_exactly_the_schemas_columns(data_dir):
    store = Store.open(data_dir)
    try:
        for table, cols in (("reps", REP_COLUMNS), ("sessions", SESSION_COLUMNS)):
            found = [r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")]
            assert sorted(found) == sorted(cols), table
    finally:
        store.close()
    assert STATS_COLUMNS[0] == "target_region" and "gentle_max_mm" in STATS_COLUMNS
    assert "ended_utc" not in STATS_COLUMNS and set(STATS_COLUMNS) < set(REP_COLUMNS)


def test_csv_headers_come_from_the_schema():
    from station.clinic.export import REP_EXPORT_COLUMNS, SESSION_COLUMNS

    assert REP_EXPORT_COLUMNS[:6] == ("id", "session_id", "pattern_index", "pattern_id", "rep", "status")
    assert "quiet_eye_mm" in REP_EXPORT_COLUMNS and "quiet_mm" not in REP_EXPORT_COLUMNS
    assert SESSION_COLUMNS == schema.columns(schema.SESSION, schema.CSV)


def _read(text: str, record=schema.REP, limit: int = 10):  # noqa: ANN001, ANN202
    return list(schema.RowReader(record, "reps.csv", io.BytesIO(text.encode("utf-8")), limit))


GOOD = ("id,session_id,pattern_index,pattern_id,rep,status,ended_utc,coactivation,slow\r\n"
        "s1-0-0-0,s1,0,small_smile,0,done,2026-03-01T09:30:00.000Z,0.2500,1\r\n")


def test_a_good_row_is_typed_and_missing_optional_columns_are_unknown():
    [row] = _read(GOOD)
    assert row["rep"] == 0 and row["coactivation"] == 0.25 and row["slow"] is True
    assert row["target_mm"] is None and row["released"] is None


def test_a_byte_order_mark_is_accepted():
    assert len(_read("\ufeff" + GOOD)) == 1


@pytest.mark.parametrize("column, value, found", [
    ("ended_utc", "garbage", "'garbage'"),
    ("ended_utc", "9999-12-31T23:59:59.999Z", "'9999"),
    ("rep", str(2**31), str(2**31)),
    ("coactivation", "nan", "'nan'"),
    ("coactivation", "1e400", "'1e400'"),
    ("pattern_id", "$\\frac{$", "frac"),
    ("pattern_id", "a\x00b", "a NUL byte"),
    ("status", "", "nothing"),
])
def test_a_bad_cell_names_file_row_and_field(column, value, found):
    header, row = GOOD.splitlines()
    cells = row.split(",")
    cells[header.split(",").index(column)] = value
    with pytest.raises(schema.RecordError) as err:
        _read(header + "\r\n" + ",".join(cells) + "\r\n")
    text = str(err.value)
    assert text.startswith(f"reps.csv row 1, {column}: found ") and found in text and "allowed" in text


def test_rows_past_the_limit_are_refused():
    header, row = GOOD.splitlines()
    with pytest.raises(schema.RecordError, match="more than 3 rows"):
        _read(header + "\r\n" + (row + "\r\n") * 4, limit=3)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_cell_the_export_writes_is_one_the_parser_reads(v):
    for f in schema.REP:
        if f.kind == schema.REAL and schema.CSV in f.places:
            cell = schema.cell(f, v)
            parsed = schema.parse_value(f, str(cell), "reps.csv row 1")
            assert parsed is None or (math.isfinite(parsed) and f.lo <= parsed <= f.hi)


def test_finite_makes_json_safe():
    assert schema.finite({"a": [float("nan"), 1.0, (float("inf"),)], "b": "x"}) == {"a": [None, 1.0, [None]],
                                                                                     "b": "x"}
