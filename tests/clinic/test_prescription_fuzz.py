"""Generated prescriptions: malformed ones never crash and never change the active file;
valid ones change exactly what they say."""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rx_helpers import VALID, dumps

from station.cli import main
from station.clinic import prescription as rx
from station.files import atomic_write
from station.practice.plan import library

pytestmark = pytest.mark.slow  # the fast lane (-m "not slow") leaves this module out

LIB = sorted(library())
ACTIVE_BYTES = dumps(VALID).encode()


@pytest.fixture(scope="module")
def unit_dir() -> Iterator[Path]:
    """One data dir with an active prescription, shared by every example (reset each time)."""
    d = Path(tempfile.mkdtemp(prefix="rxfuzz-"))
    data = d / "data"
    data.mkdir()
    assert rx.apply_bytes(data, ACTIVE_BYTES).ok
    yield d
    shutil.rmtree(d)


def _not_in(lo: float, hi: float, integer: bool) -> st.SearchStrategy[Any]:
    wrong_numbers = st.one_of(
        st.integers(max_value=int(lo) - 1), st.integers(min_value=int(hi) + 1),
        st.floats(max_value=lo, exclude_max=True), st.floats(min_value=hi, exclude_min=True),
        st.just(float("nan")), st.just(float("inf")),
    )
    wrong_types = st.one_of(st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=3))
    if integer:
        wrong_numbers = st.one_of(wrong_numbers, st.floats(min_value=lo, max_value=hi))
    return st.one_of(wrong_numbers, wrong_types)


key_names = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid document with one thing made wrong; returns (key the message must name, doc)."""
    doc = copy.deepcopy(VALID)
    n = len(doc["pattern"])
    i = draw(st.integers(0, n - 1))
    kind = draw(st.sampled_from([
        "name", "unknown_top", "unknown_pattern_key", "reps", "pacing", "pattern_id", "side",
        "alias", "schema", "message", "times", "quiet", "target", "per_day", "no_patient",
        "no_patterns", "table_type", "dup_pattern",
    ]))
    if kind == "name":
        doc["patient"]["name"] = draw(st.text(max_size=20))
        return "patient.name", doc
    if kind == "unknown_top":
        k = draw(key_names.filter(lambda k: k not in rx.TOP_KEYS))
        doc[k] = draw(st.one_of(st.integers(), st.text(max_size=5)))
        return k, doc
    if kind == "unknown_pattern_key":
        k = draw(key_names.filter(lambda k: k not in rx.PATTERN_KEYS))
        doc["pattern"][i][k] = 1
        return f"pattern[{i + 1}].{k}", doc
    if kind == "reps":
        doc["pattern"][i]["reps"] = draw(_not_in(1, 10, True))
        return f"pattern[{i + 1}].reps", doc
    if kind == "pacing":
        key = draw(st.sampled_from(sorted(rx.PACING_BOUNDS)))
        doc["pattern"][i][key] = draw(_not_in(*rx.PACING_BOUNDS[key], False))
        return f"pattern[{i + 1}].{key}", doc
    if kind == "pattern_id":
        doc["pattern"][i]["id"] = draw(st.one_of(st.text(max_size=12).filter(
            lambda s: s not in LIB), st.integers()))
        return f"pattern[{i + 1}].id", doc
    if kind == "dup_pattern":
        doc["pattern"][1]["id"] = doc["pattern"][0]["id"]
        return "pattern[2].id", doc
    if kind == "side":
        doc["patient"]["affected_side"] = draw(st.one_of(
            st.text(max_size=6).filter(lambda s: s not in ("left", "right")), st.integers()))
        return "patient.affected_side", doc
    if kind == "alias":
        doc["patient"]["alias"] = draw(st.one_of(
            st.just(""), st.just("Jane Doe"), st.text(min_size=33, max_size=40),
            st.text(max_size=5).map(lambda s: s + " x"), st.integers(), st.booleans()))
        return "patient.alias", doc
    if kind == "schema":
        doc["schema"] = draw(st.one_of(st.integers().filter(lambda v: v != 1), st.text(max_size=3),
                                       st.just(True)))
        return "schema", doc
    if kind == "message":
        doc["message"] = draw(st.one_of(
            st.text(min_size=161, max_size=300),
            st.text(max_size=20).map(lambda s: s + "\n" + s),
            st.text(max_size=10).map(lambda s: s + "\x07"), st.integers()))
        return "message", doc
    if kind == "times":
        doc["reminders"]["times"] = draw(st.one_of(
            st.lists(st.just("10:00"), min_size=9, max_size=12).map(
                lambda xs: [f"{h:02d}:00" for h in range(len(xs))]),
            st.lists(st.from_regex(r"[0-9]{1,3}:[0-9]{1,3}", fullmatch=True).filter(
                lambda s: not rx.TIME_RE.fullmatch(s)), min_size=1, max_size=3),
            st.just(["09:00", "09:00"]), st.integers(), st.just("09:00")))
        return "reminders.times", doc
    if kind == "quiet":
        doc["reminders"]["quiet_start"] = draw(st.one_of(
            st.just("24:00"), st.just("7pm"), st.integers(), st.just("")))
        return "reminders.quiet_start", doc
    if kind == "target":
        doc["session"]["target_minutes"] = draw(_not_in(1, 15, False))
        return "session.target_minutes", doc
    if kind == "per_day":
        doc["session"]["sessions_per_day"] = draw(_not_in(1, 8, True))
        return "session.sessions_per_day", doc
    if kind == "no_patient":
        del doc["patient"]
        return "patient", doc
    if kind == "no_patterns":
        doc["pattern"] = draw(st.sampled_from([[], "eye_closure", 3]))
        return "pattern", doc
    # table_type
    table = draw(st.sampled_from(["patient", "session", "reminders"]))
    doc[table] = draw(st.one_of(st.integers(), st.text(max_size=4), st.booleans()))
    return table, doc


BROKEN_FRAGMENTS = ["[[[", "key = ", '"open = 1', "= 1", "a = [1,", "x = 1\nx = 2", "[patient]",
                    "[session]"]


@st.composite
def bad_bytes(draw: st.DrawFn) -> bytes:
    """Files broken below the level of keys: huge, binary, wrong encoding, broken TOML."""
    kind = draw(st.sampled_from(["huge", "binary", "latin1", "utf16", "broken", "empty"]))
    text = dumps(VALID)
    if kind == "huge":
        return (text + "#" * (rx.MAX_BYTES + draw(st.integers(0, 5000)))).encode()
    if kind == "binary":
        blob = draw(st.binary(max_size=200))
        at = draw(st.integers(0, len(blob)))
        return blob[:at] + b"\x00" + blob[at:]
    if kind == "latin1":
        doc = copy.deepcopy(VALID)
        doc["message"] = draw(st.text(alphabet="éàüßñ", min_size=1, max_size=10))
        return dumps(doc).encode("latin-1")
    if kind == "utf16":
        return text.encode("utf-16")
    if kind == "empty":
        return b""
    lines = text.splitlines()
    at = draw(st.integers(0, len(lines)))
    # a duplicate section or key is broken TOML too
    frag = draw(st.sampled_from(BROKEN_FRAGMENTS))
    if frag in ("[patient]", "[session]"):
        lines.append(frag)
    else:
        lines.insert(at, frag)
    return ("\n".join(lines) + "\n").encode()


def _assert_refused_and_unchanged(unit_dir: Path, payload: bytes) -> list:
    data = unit_dir / "data"
    result = rx.validate_bytes(payload)
    assert not result.ok and result.problems
    f = unit_dir / "new.toml"
    f.write_bytes(payload)
    assert main(["--data-dir", str(data), "prescription", "check", str(f)]) == 2
    assert main(["--data-dir", str(data), "prescribe", str(f)]) == 2
    assert rx.apply_bytes(data, payload).ok is False
    assert rx.active_path(data).read_bytes() == ACTIVE_BYTES
    assert rx.load_active(data).alias == VALID["patient"]["alias"]
    return result.problems


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated())
def test_malformed_keys_are_named_and_change_nothing(unit_dir: Path, case):
    key, doc = case
    problems = _assert_refused_and_unchanged(unit_dir, dumps(doc).encode())
    assert key in [p.key for p in problems], (key, [str(p) for p in problems])
    for p in problems:
        assert p.found and p.allowed


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=bad_bytes())
def test_broken_files_are_refused_and_change_nothing(unit_dir: Path, payload: bytes):
    problems = _assert_refused_and_unchanged(unit_dir, payload)
    assert any(p.key in ("prescription file", "schema", "patient", "pattern") for p in problems)


@st.composite
def valid_docs(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.sampled_from(LIB), min_size=1, max_size=len(LIB), unique=True))
    patterns = []
    for pid in ids:
        # at most about 18 reps in all, so even the slowest pacing fits the 15-minute bound
        entry: dict[str, Any] = {"id": pid, "reps": draw(st.integers(1, min(10, 18 // len(ids))))}
        for key, (lo, hi) in rx.PACING_BOUNDS.items():
            if draw(st.booleans()):
                entry[key] = draw(st.one_of(st.integers(int(lo), int(hi)),
                                            st.floats(lo, hi, allow_nan=False)))
        patterns.append(entry)
    times = draw(st.lists(st.tuples(st.integers(0, 23), st.integers(0, 59)), max_size=8,
                          unique=True))
    doc: dict[str, Any] = {
        "schema": 1,
        "patient": {"alias": draw(st.from_regex(rx.ALIAS_RE, fullmatch=True)),
                    "affected_side": draw(st.sampled_from(["left", "right"]))},
        "session": {"target_minutes": draw(st.integers(1, 15)),
                    "sessions_per_day": draw(st.integers(1, 8))},
        "reminders": {"times": [f"{h:02d}:{m:02d}" for h, m in times]},
        "pattern": patterns,
    }
    if draw(st.booleans()):
        # printable text: letters, numbers, punctuation and plain spaces (a no-break space
        # is not printable to Python and is refused with a message, tested above)
        # ... and only what the kiosk font can draw (the rest is refused, tested elsewhere)
        doc["message"] = draw(st.text(st.characters(codec="utf-8", categories=["L", "N", "P"],
                                                    include_characters=" ").filter(
                                                        lambda c: not rx.undrawable(c)),
                                      max_size=rx.MAX_MESSAGE_CHARS))
    return doc


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=valid_docs())
def test_valid_prescriptions_change_exactly_what_they_say(unit_dir: Path, doc):
    data = unit_dir / "data"
    payload = dumps(doc).encode()
    result = rx.apply_bytes(data, payload)
    try:
        assert result.ok, [str(p) for p in result.problems]
        active = rx.load_active(data)
        assert rx.active_path(data).read_bytes() == payload
        assert active.alias == doc["patient"]["alias"]
        assert active.affected_side == doc["patient"]["affected_side"]
        assert active.message == doc.get("message", "")
        assert active.reminder_times == tuple(sorted(doc["reminders"]["times"]))
        plan = active.plan()
        assert [it.pattern.id for it in plan.items] == [p["id"] for p in doc["pattern"]]
        for item, entry in zip(plan.items, doc["pattern"], strict=True):
            assert item.reps == entry["reps"]
            for key in rx.PACING_BOUNDS:
                expected = entry.get(key, getattr(library()[entry["id"]].pacing, key))
                assert getattr(item.pacing, key) == pytest.approx(expected)
    finally:
        atomic_write(rx.active_path(data), ACTIVE_BYTES)
