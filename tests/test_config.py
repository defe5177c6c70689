"""Unit settings: one set of defaults, every problem named with its key, never a crash."""

from __future__ import annotations

from pathlib import Path

from station.config import SessionSettings, Settings, load_settings, load_settings_text
from station.practice.events import Timing


def test_no_file_means_the_defaults():
    settings, problems = load_settings_text("")
    assert settings == Settings() and problems == []


def test_a_good_file_is_read_section_by_section():
    settings, problems = load_settings_text(
        '[display]\nwidth = 480\nheight = 320\n[audio]\nvolume = 0.3\n[session]\nbreak_s = 30\n'
        '[patient]\naffected_side = "right"\n')
    assert problems == []
    assert (settings.display.width, settings.display.height) == (480, 320)
    assert settings.audio.volume == 0.3 and settings.session.break_s == 30.0
    assert isinstance(settings.session.break_s, float)  # a whole number becomes the field's float
    assert settings.patient.affected_side == "right"


def test_an_unknown_key_is_named_with_its_line_and_the_rest_still_applies():
    settings, problems = load_settings_text('[audio]\nvolume = 0.5\nvolum = 1\n')
    assert settings.audio.volume == 0.5
    assert [(p.key, p.line) for p in problems] == [("audio.volum", 3)]
    assert "volume" in problems[0].allowed


def test_a_value_out_of_range_keeps_the_default_and_says_what_is_allowed():
    settings, problems = load_settings_text('[session]\nsettle_s = 500\n')
    assert settings.session.settle_s == SessionSettings().settle_s
    assert problems[0].key == "session.settle_s" and "3 to 30" in problems[0].allowed


def test_settle_max_below_settle_is_a_problem_and_falls_back():
    settings, problems = load_settings_text('[session]\nsettle_s = 20\nsettle_max_s = 12\n')
    assert settings.session.settle_max_s >= settings.session.settle_s
    assert any(p.key == "session.settle_max_s" for p in problems)


def test_broken_toml_is_one_plain_problem():
    settings, problems = load_settings_text("[display\nwidth = ")
    assert settings == Settings() and len(problems) == 1 and "TOML" in problems[0].found


def test_an_explicit_missing_file_is_a_problem_not_a_crash(tmp_path: Path):
    settings, problems = load_settings(tmp_path / "nope.toml", log_problems=False)
    assert settings == Settings() and problems and "no file" in problems[0].found


def test_the_engine_takes_its_pacing_defaults_from_the_settings():
    s, t = SessionSettings(), Timing()
    assert (t.settle_s, t.settle_max_s, t.intro_s, t.break_s, t.pause_timeout_s) == (
        s.settle_s, s.settle_max_s, s.intro_s, s.break_s, s.pause_timeout_s)
    assert Timing.from_settings(SessionSettings(break_s=33.0), True).break_s == 33.0


def test_every_setting_is_declared_once_and_every_declared_key_is_a_setting():
    import dataclasses

    from station.config import RULES, SETTINGS_FIELDS, Settings

    sections = {f.name: f.type for f in dataclasses.fields(Settings) if f.name != "data_dir"}
    assert set(SETTINGS_FIELDS) == set(sections) | {"data"}
    for section, fields in SETTINGS_FIELDS.items():
        if section == "data":
            continue
        cls = type(getattr(Settings(), section))
        assert [f.name for f in fields] == [f.name for f in dataclasses.fields(cls)], section
        assert set(RULES[section]) == {f.name for f in fields}
        for f in fields:  # every default passes its own field
            assert f.check(getattr(cls(), f.name)), (section, f.name)


def test_a_bad_value_names_key_found_allowed_and_line():
    _, problems = load_settings_text('[camera]\nrotation = 45\nsource = "usb"\n[audio]\nvoice = 1\n')
    assert [str(p) for p in problems] == [
        "camera.rotation (line 2): found 45, allowed one of 0, 90, 180, 270",
        "camera.source (line 3): found 'usb', allowed one of 'auto', 'picamera', 'webcam', 'file'",
        "audio.voice (line 5): found 1, allowed true or false",
    ]
