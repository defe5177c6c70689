"""The shipped example prescriptions validate, and ``prescription check`` points at typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.cli import main
from station.clinic import prescription as rx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prescriptions"


@pytest.mark.parametrize("name", ["gentle-start.toml", "eye-focused.toml", "mouth-focused.toml"])
def test_examples_validate_without_notes(name: str, capsys):
    result = rx.validate_file(EXAMPLES / name)
    assert result.ok, result.problems
    assert result.warnings == []
    assert main(["prescription", "check", str(EXAMPLES / name)]) == 0
    assert "valid." in capsys.readouterr().out


def test_examples_cover_the_three_starts():
    sides = {p.name: rx.validate_file(p).prescription for p in EXAMPLES.glob("*.toml")}
    assert set(sides) == {"gentle-start.toml", "eye-focused.toml", "mouth-focused.toml"}
    eye = sides["eye-focused.toml"]
    mouth = sides["mouth-focused.toml"]
    # eye-focused: mouth movements that keep the eye quiet; mouth-focused: the reverse
    lib = rx.library()
    assert all("eye" in lib[p.id].quiet for p in eye.patterns if p.id != "eye_closure")
    assert any("mouth_corner" in lib[p.id].quiet for p in mouth.patterns)


def test_unknown_table_gets_line_and_did_you_mean(tmp_path: Path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('schema = 1\n\n[patient]\nalias = "P-1"\naffected_side = "left"\n\n'
                   '[[patterns]]\nid = "eye_closure"\nreps = 3\n\n[sesion]\ntarget_minutes = 2\n')
    assert main(["prescription", "check", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "patterns (line 7): found an unknown table (did you mean 'pattern'?)" in out
    assert "sesion (line 11): found an unknown table (did you mean 'session'?)" in out


def test_unknown_key_in_a_pattern_gets_did_you_mean():
    r = rx.validate_bytes(b'schema = 1\n[patient]\nalias = "A1"\naffected_side = "left"\n'
                          b'[[pattern]]\nid = "eye_closure"\nrep = 3\n')
    by_key = {p.key: p for p in r.problems}
    assert by_key["pattern[1].rep"].found == "an unknown key (did you mean 'reps'?)"
    assert by_key["pattern[1].rep"].line == 7


def test_desk_extra_installed():
    """Says plainly, as a skip, when the desk's own tests were left out (no desk extra)."""
    for mod in ("flask", "flask_wtf", "tomli_w", "sqlalchemy", "alembic", "argon2", "waitress"):
        pytest.importorskip(mod, reason="the clinic desk extra is not installed (pip install '.[desk]')")
    from station.desk.app import create_app

    assert callable(create_app)


@pytest.mark.parametrize("alias", ["JohnSmith", "john_smith", "Smith", "anna-maria"])
def test_an_alias_that_looks_like_a_name_is_warned_not_refused(alias: str):
    text = (EXAMPLES / "gentle-start.toml").read_text().replace("EXAMPLE-01", alias)
    result = rx.validate_bytes(text.encode())
    assert result.ok and any("looks like a person's name" in w for w in result.warnings)


@pytest.mark.parametrize("alias", ["P-0417", "PT-DESK-01", "EXAMPLE-01", "AB", "XYZ7"])
def test_codes_are_not_taken_for_names(alias: str):
    assert not rx.looks_like_name(alias)
