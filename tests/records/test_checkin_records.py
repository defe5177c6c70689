"""Check-in records: the migration, rows from a result, one transaction, read back, due dates."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from checkin_helpers import result, store_checkins

from station.records import checkins, schema
from station.records.store import CHECKIN_COLUMNS, CHECKIN_MOVEMENT_COLUMNS, Store


def test_the_migrated_store_has_the_schemas_checkin_columns(data_dir):
    store = Store.open(data_dir)
    try:
        for table, cols in (("checkins", CHECKIN_COLUMNS), ("checkin_movements", CHECKIN_MOVEMENT_COLUMNS)):
            found = [r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")]
            assert sorted(found) == sorted(cols), table
    finally:
        store.close()


def test_rows_from_a_result_hold_the_numbers_and_nothing_out_of_bounds():
    res = result(ratio=0.6, narrowing=25.0)
    res["movements"][0]["ratio"] = 1e9  # a ratio of two noises: outside the field's bounds
    res["movements"][1]["affected_mm"] = float("nan")
    p = checkins.rows_from_result(res, checkin_id="ci-1", started_utc="2026-03-01T09:00:00.000Z",
                                  ended_utc="2026-03-01T09:04:00.000Z", status="complete",
                                  repeats={"snarl": 2})
    assert p.checkin["movements_complete"] == 5 and p.checkin["affected_side"] == "left"
    assert p.checkin["rest_eye_fissure_diff_mm"] == pytest.approx(-0.7)
    assert p.checkin["rest_frames"] == 140
    by = {m["movement"]: m for m in p.movements}
    assert by["brow_lift"]["ratio"] is None and by["eye_closure"]["affected_mm"] is None
    assert by["open_smile"]["ratio"] == pytest.approx(0.6)
    assert by["open_smile"]["eye_narrowing_pct"] == pytest.approx(25.0)
    assert by["open_smile"]["co_mouth_corner_mm"] is None  # the moving region is not co-movement
    assert by["open_smile"]["co_eye_mm"] == pytest.approx(-0.3)
    assert by["open_smile"]["co_eye_spread_mm"] == pytest.approx(0.05)
    assert by["snarl"]["repeats"] == 2 and by["lip_pucker"]["repeats"] == 0
    for row in [p.checkin, *p.movements]:  # numbers and codes only
        for k, v in row.items():
            assert v is None or isinstance(v, int | float) or k in (
                "id", "checkin_id", "started_utc", "ended_utc", "status", "affected_side", "movement",
                "target_region", "software_version", "model_sha256"), k


def test_saved_whole_and_read_back_oldest_first(data_dir):
    ids = store_checkins(data_dir, [0.4, 0.5, 0.7])
    store = Store.open(data_dir)
    try:
        cis, mvs = checkins.read_all(store.conn)
        assert [c["id"] for c in cis] == ids
        assert len(mvs) == 15 and {m["checkin_id"] for m in mvs} == set(ids)
        assert [m["ratio"] for m in checkins.movements_of(mvs, ids[2])] == pytest.approx([0.7] * 5)
        assert checkins.last_done_utc(store.conn) == cis[-1]["started_utc"]
    finally:
        store.close()


def test_a_failed_write_leaves_nothing_and_a_retry_stores_it_once(data_dir):
    store = Store.open(data_dir)
    p = checkins.rows_from_result(result(), checkin_id="ci-x", started_utc="2026-03-01T09:00:00.000Z",
                                  ended_utc=None, status="complete")
    store.conn.execute("CREATE TEMP TRIGGER boom BEFORE INSERT ON checkin_movements "
                       "WHEN NEW.movement = 'snarl' BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    try:
        with pytest.raises(sqlite3.DatabaseError):
            checkins.save(store.conn, p)
        assert store.conn.execute("SELECT count(*) FROM checkins").fetchone()[0] == 0
        assert store.conn.execute("SELECT count(*) FROM checkin_movements").fetchone()[0] == 0
        store.conn.execute("DROP TRIGGER boom")
        checkins.save(store.conn, p)
        checkins.save(store.conn, p)  # a retry after an unknown COMMIT outcome: still once
        assert store.conn.execute("SELECT count(*) FROM checkins").fetchone()[0] == 1
        assert store.conn.execute("SELECT count(*) FROM checkin_movements").fetchone()[0] == 5
    finally:
        store.close()


def test_a_committed_checkin_survives_a_reopen_without_close(data_dir):
    store = Store.open(data_dir)
    p = checkins.rows_from_result(result(), checkin_id="ci-y", started_utc="2026-03-01T09:00:00.000Z",
                                  ended_utc=None, status="complete")
    checkins.save(store.conn, p)
    # a second connection (as after a restart) sees the committed rows (WAL, synchronous=FULL)
    again = Store.open(data_dir)
    try:
        assert again.conn.execute("SELECT count(*) FROM checkin_movements").fetchone()[0] == 5
        assert again.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        again.close()
        store.close()


@pytest.mark.parametrize(("every", "last", "today", "due"), [
    (None, None, date(2026, 3, 1), False),
    (7, None, date(2026, 3, 1), True),
    (7, date(2026, 3, 1), date(2026, 3, 7), False),
    (7, date(2026, 3, 1), date(2026, 3, 8), True),
    (1, date(2026, 3, 1), date(2026, 3, 1), False),
    (1, date(2026, 3, 1), date(2026, 3, 2), True),
])
def test_due_by_calendar_days(every, last, today, due):
    assert checkins.is_due(every, last, today) is due


def test_checkin_movement_ids_are_the_engines_movements():
    from station.practice.checkin import MOVEMENTS

    assert schema.field(schema.CHECKIN_MOVEMENT, "movement").choices == tuple(m.id for m in MOVEMENTS)
