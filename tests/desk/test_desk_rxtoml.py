"""The prescription form's TOML, written by tomli-w: what is written reads back as the same
data, whatever was typed (quotes, backslashes, newlines, control characters, any script), so
the unit's validator always judges the content and never a quoting accident."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.clinic import prescription as rx
from station.desk import db, rxform
from station.desk.app import create_app

HOSTILE = ['say "hi"', "it's", "back\\slash \\n \\u0041", "two\nlines", "tab\tand\rreturn", '"""', "'''",
           "ü ñ 漢字 Ελληνικά العربية", "smile 🙂", "\x00\x01\x1f\x7f", '[patient]\nalias = "X"',
           '" \nmessage = "injected', "#not a comment", "\u2028\u2029\ufeff", "a" * 5000]


def _form(text: str) -> dict[str, str]:
    return {"alias": "P-0417", "affected_side": "left", "message": text, "target_minutes": "2",
            "reminder_times": "09:00, 13:00", "quiet_start": text, "quiet_end": "08:00",
            "use_eye_closure": "on", "eye_closure_reps": "4", "eye_closure_move_s": "2.5"}


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_reads_back_as_typed(text: str):
    form = _form(text)
    written, ids = rxform.to_toml(form)
    back = tomllib.loads(written)
    assert back == rxform.to_data(form)[0]
    assert back.get("message", "") == text.strip() and back["reminders"]["quiet_start"] == text.strip()
    assert back["patient"] == {"alias": "P-0417", "affected_side": "left"}
    assert back["pattern"] == [{"id": "eye_closure", "reps": 4, "move_s": 2.5}] and ids == ["eye_closure"]
    # the validator reads the file: whatever it says is about the values, never broken TOML
    problems = rx.validate_bytes(written.encode("utf-8")).problems
    assert all(p.key != "prescription file" for p in problems), problems


def test_an_alias_cannot_smuggle_in_a_table():
    form = {**_form("hello"), "alias": 'P-1"\n[session]\ntarget_minutes = 60\n#'}
    back = tomllib.loads(rxform.to_toml(form)[0])
    assert back["patient"]["alias"] == form["alias"].strip() and back["session"] == {"target_minutes": 2}
    assert "patient.alias" in {p.key for p in rx.validate_bytes(rxform.to_toml(form)[0].encode()).problems}


@pytest.mark.parametrize(("typed", "value"), [("2", 2), ("+3", 3), ("-0", 0), ("2.5", 2.5), ("1e1", 10.0),
                                              (".5", 0.5), ("1e400", float("inf")), ("two", "two"),
                                              ("1" * 16, "1" * 16), ("9" * 50, "9" * 15 + "..."), ("nan", "nan")])
def test_numbers_are_numbers_and_the_rest_is_text_for_the_validator(typed: str, value: object):
    back = tomllib.loads(rxform.to_toml({**_form("m"), "sessions_per_day": typed})[0])
    assert back["session"]["sessions_per_day"] == value


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)  # a browser sends no lone surrogate


@settings(max_examples=150, deadline=None)
@given(message=TEXT, alias=TEXT, quiet=TEXT, times=TEXT, number=TEXT, reps=TEXT)
def test_any_form_reads_back_as_the_data_written(message, alias, quiet, times, number, reps):
    form = {**_form(message), "alias": alias, "quiet_end": quiet, "reminder_times": times,
            "target_minutes": number, "eye_closure_reps": reps, "use_small_smile": "on", "small_smile_hold_s": number}
    written, _ids = rxform.to_toml(form)
    assert tomllib.loads(written) == rxform.to_data(form)[0]


def test_a_saved_prescription_round_trips_through_the_form(sqlite_url: str, tmp_path: Path):
    """Typed through the desk's form: a message in several scripts with quotes is saved,
    stored as written, and the edit form shows it again exactly; an emoji the unit cannot
    draw is refused by the validator in its own words (before, it broke the TOML)."""
    factory = db.open_db(sqlite_url)
    c = create_app(factory).test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/prescribe").get_data(as_text=True)).group(1)
    message = 'Lächeln, "ruhig" \\ doucement, ça va'
    form = {**_form(message), "quiet_start": "21:00", "csrf": token}
    r = c.post("/prescribe", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    with factory() as s:
        stored = s.query(db.Prescription).one().toml
    assert tomllib.loads(stored)["message"] == message
    assert rxform.from_toml(stored)["message"] == message
    page = c.get("/prescribe?alias=P-0417").get_data(as_text=True)
    assert 'value="Lächeln, &#34;ruhig&#34; \\ doucement, ça va"' in page
    refused = c.post("/prescribe", data={**form, "message": "smile 🙂"})
    assert refused.status_code == 400 and "cannot show" in refused.get_data(as_text=True)
