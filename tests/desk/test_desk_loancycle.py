"""The loan cycle's state machine: its table, and a whole cycle with a real unit and its sticks
on SQLite and PostgreSQL, every out-of-order action refused with nothing changed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from helpers import counts, practise, provision_unit
from sqlalchemy import select

from station.cli import main
from station.clinic import prescription as rx
from station.clinic.unit import read_secret
from station.desk import db, loans, registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prescriptions"
ALIAS, NEXT = "PT-CYCLE-1", "PT-CYCLE-2"


def test_the_table_refuses_in_plain_words():
    for state in loans.STATES:
        for action in loans.ACTION_WORDS:
            if action in loans.TABLE[state]:
                assert loans.check(state, action) in loans.STATES
                continue
            with pytest.raises(loans.Refused) as exc:
                loans.check(state, action, "ms-x1")
            text = str(exc.value)
            assert text.startswith("Cannot ") and "unit ms-x1" in text and text.endswith("Nothing was changed.")
    # lendable only when new or wiped, and the wipe only after the records are in
    assert [s for s in loans.STATES if loans.LEND in loans.TABLE[s]] == [loans.AT_CLINIC, loans.READY]
    assert [s for s in loans.STATES if loans.CONFIRM_WIPE in loans.TABLE[s]] == [loans.RECORDS_IN]
    assert set(loans.STATE_WORDS) == set(loans.TABLE)


def test_result_file_parsing():
    text = ("Clinic stick found. Checking it.\nRecords copied and checked (7 files, folder ms-1-20260101-101010).\n"
            "Removing the previous patient's records from this unit.\nThis unit holds no patient records now.\n")
    assert loans.StickResult.parse(text) == loans.StickResult("ms-1-20260101-101010", True)
    assert loans.StickResult.parse("Records copied and checked (1 files, folder ../x).") == \
        loans.StickResult(None, False)


def _sync(u, stick: Path) -> int:  # noqa: ANN001
    return main(["--data-dir", str(u.data_dir), "usb-sync", str(stick), "--direct"])


def _refused(factory, fn, match: str) -> None:  # noqa: ANN001
    """``fn(session)`` is refused with ``match`` and changes no row."""
    before = counts(factory)
    with factory() as s:
        with pytest.raises(registry.DeskError, match=match) as exc:
            fn(s)
        s.rollback()
    assert str(exc.value).endswith("Nothing was changed.") or "Nothing was changed" in str(exc.value)
    assert counts(factory) == before


def _state(factory, unit_id: str) -> str:  # noqa: ANN001
    with factory() as s:
        return s.get(db.Unit, unit_id).state


@pytest.mark.slow
def test_a_whole_cycle_with_every_out_of_order_action_refused(db_url: str, tmp_path: Path):
    u = provision_unit(tmp_path)
    factory = db.open_db(db_url)
    stick = tmp_path / "stick"
    stick.mkdir()
    due = dt.date.today() + dt.timedelta(days=30)
    text = (EXAMPLES / "gentle-start.toml").read_bytes()
    with factory() as s, s.begin():
        registry.register_unit(s, "tech", u.unit_id, u.key_id, u.key_id)
        registry.save_prescription(s, "therapist", text.replace(b"EXAMPLE-01", ALIAS.encode()))
        registry.save_prescription(s, "therapist", text.replace(b"EXAMPLE-01", NEXT.encode()))
        loan = registry.lend(s, "tech", u.unit_id, ALIAS, due)
    loan_id = loan.id
    _refused(factory, lambda s: registry.lend(s, "tech", u.unit_id, NEXT, due), "lent already")
    _refused(factory, lambda s: registry.confirm_wipe(s, "tech", u.unit_id, stick), "record its return")
    with factory() as s, s.begin():
        registry.write_stick(s, "tech", loan_id, stick, u.key_file, "lend")
    assert _state(factory, u.unit_id) == loans.OUT
    assert _sync(u, stick) == 0 and rx.load_active(u.data_dir).alias == ALIAS
    practise(u.data_dir, days=2)

    # the return needs its stick; a wipe needs the records in and the unit's own word
    _refused(factory, lambda s: registry.record_return(s, "tech", loan_id, "", u.key_file),
             "folder of the mounted stick")
    _refused(factory, lambda s: registry.record_return(s, "tech", loan_id, tmp_path / "nowhere", u.key_file),
             "is not a folder")
    with factory() as s, s.begin():
        registry.record_return(s, "tech", loan_id, stick, u.key_file)
    assert _state(factory, u.unit_id) == loans.RETURNED
    _refused(factory, lambda s: registry.lend(s, "tech", u.unit_id, NEXT, due), "records are still on it")
    _refused(factory, lambda s: registry.write_stick(s, "tech", loan_id, stick, u.key_file, "lend"),
             "would mix two patients")
    _refused(factory, lambda s: registry.confirm_wipe(s, "tech", u.unit_id, stick), "not imported yet")
    secret = read_secret(u.key_file)
    _refused(factory, lambda s: registry.import_return(s, factory, "tech", u.unit_id, stick, secret),
             "no result file")
    assert _sync(u, stick) == 0  # the unit exports, then wipes, and leaves its result file
    with factory() as s, s.begin():
        text = registry.import_return(s, factory, "tech", u.unit_id, stick, secret)
    assert "imported" in text and "wiped and ready" in text
    assert _state(factory, u.unit_id) == loans.READY
    from station.desk.app import create_app

    api = create_app(factory).test_client().get("/api/units").get_json()
    assert api[0]["state"] == loans.READY and api[0]["allowed"] == [loans.PRESCRIBE, loans.LEND]
    with factory() as s:
        done = s.get(db.Loan, loan_id)
        assert done.records == "imported" and done.wiped_at is not None
        assert s.scalar(select(db.PracticeSession.id).where(db.PracticeSession.alias == ALIAS).limit(1))
        actions = [a.action for a in s.scalars(select(db.Audit).order_by(db.Audit.id))]
    assert actions[-5:] == ["stick", "return", "import", "records", "wiped"]
    with factory() as s, s.begin():
        nxt = registry.lend(s, "tech", u.unit_id, NEXT, due)
    assert nxt.alias == NEXT


@pytest.mark.slow
def test_discarded_records_still_need_the_units_word(db_url: str, tmp_path: Path):
    u = provision_unit(tmp_path)
    factory = db.open_db(db_url)
    stick = tmp_path / "stick"
    stick.mkdir()
    with factory() as s, s.begin():
        registry.register_unit(s, "tech", u.unit_id, u.key_id, u.key_id)
        loan = registry.lend(s, "tech", u.unit_id, ALIAS, dt.date.today())
        registry.record_return(s, "tech", loan.id, stick, u.key_file)
    _refused(factory, lambda s: registry.discard_records(s, "tech", u.unit_id, "", "stick lost in the post"),
             "Give your name")
    _refused(factory, lambda s: registry.discard_records(s, "tech", u.unit_id, "Tech One", "x"), "Say why")
    with factory() as s, s.begin():
        registry.discard_records(s, "tech", u.unit_id, "Tech One", "the stick was lost in the post")
    assert _state(factory, u.unit_id) == loans.RECORDS_IN
    _refused(factory, lambda s: registry.confirm_wipe(s, "tech", u.unit_id, stick), "no result file")
    old = stick / "station-clinic" / "request.json"
    with factory() as s, s.begin():  # a new return stick: the first was "lost"
        registry.write_stick(s, "tech", loan.id, stick, u.key_file, "return")
    assert old.exists()
    assert _sync(u, stick) == 0
    with factory() as s, s.begin():
        assert "wiped and ready" in registry.confirm_wipe(s, "tech", u.unit_id, stick)
        audit = s.scalars(select(db.Audit.what).where(db.Audit.action == "discard")).one()
    assert "Tech One" in audit and "lost in the post" in audit
