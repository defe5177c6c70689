"""Fuzzers for the unit's other hostile inputs: settings files and signed stick requests.

Settings: any bytes give settings (defaults where wrong) and problems that each name a key or
the file, never an exception. Signed requests (signed with the real clinic key, so they pass
the signature and reach the parser): each ends in exit 0, 1 or 2 with plain lines, never a
traceback, and a refused request changes nothing on the unit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rx_helpers import VALID, dumps

from station import config
from station.clinic import prescription as rx
from station.clinic import stick as clinic
from station.clinic import unit

pytestmark = pytest.mark.slow  # hypothesis over every input: the fast lane leaves it out

UNIT = "ms-unit01"
SECRET = bytes(range(32))
KEYS = sorted(f"{s}.{k}" for s, body in config.RULES.items() for k in body)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
toml_scalars = st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=30),
                         st.integers(min_value=10**300, max_value=10**400))


@st.composite
def settings_texts(draw: st.DrawFn) -> str:
    """Mostly well-formed settings with hostile values, sometimes raw garbage."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(max_size=200))
    lines = []
    for key in draw(st.lists(st.sampled_from(KEYS + ["display.bogus", "nope.x"]), max_size=6,
                             unique=True)):
        section, name = key.split(".")
        v = draw(toml_scalars)
        value = json.dumps(v) if not isinstance(v, float) or v == v and abs(v) != float("inf") \
            else "nan"
        lines.append(f"[{section}]\n{name} = {value}")
    return "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(text=settings_texts())
def test_settings_never_raise_and_name_what_is_wrong(text: str):
    s, problems = config.load_settings_text(text)
    assert isinstance(s, config.Settings)
    for p in problems:
        assert p.key and p.found and p.allowed


REQUEST_KEYS = ["format", "unit", "key_id", "nonce", "created", "actions", "prescription_sha256"]


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    base = {"format": 1, "unit": UNIT, "key_id": unit.key_id(SECRET), "nonce": "ab" * 16,
            "created": "2026-05-04T10:20:00Z", "actions": ["export"], "prescription_sha256": None}
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    doc = dict(base)
    for key in draw(st.lists(st.sampled_from(REQUEST_KEYS), max_size=3, unique=True)):
        doc[key] = draw(st.one_of(json_values, st.sampled_from(
            [True, 1.0, "1", ["export", "wipe_after_export"], ["wipe_after_export"],
             ["import_prescription", "export"], "f" * 64, UNIT.upper()])))
    if kind == 3:
        doc = [doc] * draw(st.integers(1, 3))
    return json.dumps(doc).encode()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=requests())
def test_signed_requests_end_plainly_and_refusals_change_nothing(tmp_path_factory, payload: bytes):
    base = tmp_path_factory.mktemp("req")
    data, stick = base / "data", base / "stick"
    unit.provision(data, SECRET, UNIT)
    assert rx.apply_bytes(data, dumps(VALID).encode()).ok
    folder = stick / clinic.STICK_FOLDER
    folder.mkdir(parents=True)
    (folder / clinic.REQUEST).write_bytes(payload)
    (folder / clinic.SIGNATURE).write_text(clinic.sign(SECRET, payload))
    before = rx.active_path(data).read_bytes()
    wiped: list[Path] = []

    def export(d: Path, out: Path) -> Path:
        b = out / "b"
        b.mkdir()
        (b / "x.csv").write_text("x\n")
        return b

    lines: list[str] = []
    code = clinic.run_stick(stick, data, export, wiped.append, lines.append)
    assert code in (0, 1, 2) and lines[-1] == clinic.SAFE
    assert all(isinstance(ln, str) and "Traceback" not in ln for ln in lines)
    if code == 2:  # refused: nothing happened
        assert not wiped and rx.active_path(data).read_bytes() == before
