"""The command line's contract: every subcommand has a handler that imports, the global options
work before and after every subcommand, help pages say what each command does, ``station wipe``
never loads mediapipe, and the kiosk's frame source is the one the command chose."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from station.cli import build_parser
from station.config import Settings
from station.kiosk.services import NullTracking
from station.kiosk.wiring import UNIT_CAMERA, SourceChoice, make_tracking
from station.practice.plan import default_plan
from station.tracking.fakes.sources import DemoTracking

ROOT = Path(__file__).resolve().parents[1]

# every leaf subcommand: the fewest arguments it parses with, and the handler it must run
LEAVES: dict[str, tuple[list[str], str]] = {
    "run": ([], "station.kiosk.commands:cmd_run"),
    "demo": ([], "station.kiosk.commands:cmd_demo"),
    "screens": (["--out", "o"], "station.kiosk.commands:cmd_screens"),
    "voice": (["--out", "o"], "station.kiosk.commands:cmd_voice"),
    "model fetch": ([], "station.tracking.commands:cmd_fetch"),
    "model verify": ([], "station.tracking.commands:cmd_verify"),
    "track": (["v.mp4", "--json", "o.json"], "station.devtools.commands:cmd_track"),
    "replay": (["v.mp4", "--prescription", "rx.toml", "--json", "o.json"], "station.devtools.commands:cmd_replay"),
    "checkin replay": (["v.mp4", "--json", "o.json"], "station.devtools.commands:cmd_checkin_replay"),
    "bench": ([], "station.devtools.commands:cmd_bench"),
    "validate": (["--out", "o"], "station.devtools.commands:cmd_validate"),
    "export": (["--out", "o"], "station.clinic.commands:cmd_export"),
    "wipe": ([], "station.clinic.commands:cmd_wipe"),
    "prescription check": (["rx.toml"], "station.clinic.commands:cmd_check"),
    "prescribe": (["rx.toml"], "station.clinic.commands:cmd_prescribe"),
    "clinic make-stick": (["stick"], "station.clinic.commands:cmd_make_stick"),
    "clinic new-key": (["k.key"], "station.clinic.commands:cmd_new_key"),
    "clinic provision": (["--secret-file", "k.key"], "station.clinic.commands:cmd_provision"),
    "usb-sync": (["stick"], "station.clinic.commands:cmd_usb_sync"),
    "doctor": ([], "station.appliance.commands:cmd_doctor"),
    "halted": ([], "station.appliance.commands:cmd_halted"),
    "desk serve": ([], "station.desk.commands:cmd_serve"),
    "desk import": (["bundle"], "station.desk.commands:cmd_import"),
    "desk user add": (["tech1"], "station.desk.commands:cmd_user_add"),
}


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def _listed(help_text: str) -> dict[str, str]:
    """The subcommands a help page lists, with their one-line summaries."""
    rows: dict[str, str] = {}
    for m in re.finditer(r"^    ([a-z][a-z-]*) +(\S.*)$", help_text, re.M):
        rows[m.group(1)] = m.group(2)
    return rows


def _leaves(prefix: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Every leaf under ``prefix``, found through the help pages as a user finds them."""
    found: dict[str, str] = {}
    for name, summary in _listed(_help(prefix, capsys)).items():
        path = [*prefix, name]
        page = _help(path, capsys)
        assert f"\n\n{summary}\n\n" in page, f"station {' '.join(path)} --help"  # its description
        if re.search(r"^  ACTION$", page, re.M):
            found.update(_leaves(path, capsys))
        else:
            found[" ".join(path)] = summary
    return found


def test_help_pages_list_every_leaf_with_its_summary(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: the summaries compare whole
    leaves = _leaves([], capsys)
    assert sorted(leaves) == sorted(LEAVES)
    assert all(leaves.values()), [name for name, summary in leaves.items() if not summary]


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_every_leaf_runs_a_handler_that_imports(command):
    extra, handler = LEAVES[command]
    args = build_parser().parse_args([*command.split(), *extra])
    assert args.handler == handler
    module, func = handler.split(":")
    assert callable(getattr(importlib.import_module(module), func))


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_global_options_before_and_after_every_subcommand(command):
    parse = build_parser().parse_args
    words = [*command.split(), *LEAVES[command][0]]
    plain = parse(words)
    assert (plain.config, plain.data_dir, plain.verbose) == (None, None, False)
    before = parse(["--config", "a.toml", "--data-dir", "d1", "-v", *words])
    assert (before.config, before.data_dir, before.verbose) == ("a.toml", "d1", True)
    after = parse([*words, "--config", "b.toml", "--data-dir", "d2", "--verbose"])
    assert (after.config, after.data_dir, after.verbose) == ("b.toml", "d2", True)
    both = parse(["--config", "a.toml", "--data-dir", "d1", *words, "--config", "b.toml"])
    assert (both.config, both.data_dir) == ("b.toml", "d1")  # after wins; an option not repeated stays


def test_global_options_between_a_group_and_its_action():
    args = build_parser().parse_args(["--config", "a.toml", "desk", "--config", "b.toml", "user", "-v", "add", "n"])
    assert (args.config, args.verbose, args.handler) == ("b.toml", True, "station.desk.commands:cmd_user_add")


def test_wipe_never_loads_mediapipe(tmp_path: Path):
    code = ("import sys\nfrom station.cli import main\n"
            f"rc = main(['--data-dir', {str(tmp_path / 'data')!r}, 'wipe', '--yes'])\n"
            "print(rc, 'mediapipe' in sys.modules)\n")
    env = {**os.environ, "STATION_DATA": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=120)
    assert out.stdout.split()[-2:] == ["0", "False"], out.stderr[-2000:]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """What the tracking's source opener asks the camera module for (nothing is opened)."""
    calls: list[dict[str, object]] = []

    def fake_open(camera: object, **kw: object) -> str:
        calls.append(kw)
        return "frames"

    monkeypatch.setattr("station.tracking.camera.open_source", fake_open)
    monkeypatch.setattr("station.tracking.fakes.sources.open_source", fake_open)
    return calls


def test_make_tracking_takes_the_demo_source_from_the_explicit_choice(tmp_path, clock, opened):
    def make(source: SourceChoice):
        return make_tracking(source, Settings(), tmp_path, default_plan(), clock)

    clip = str(tmp_path / "clip.mp4")
    demo = make(SourceChoice(demo=True, video=clip))
    assert isinstance(demo, DemoTracking) and demo.fetcher is None
    demo.tracker._open_source()
    assert opened == [{"video": clip, "index": None}]

    opened.clear()
    webcam = make(SourceChoice(demo=True, camera=2))
    assert isinstance(webcam, DemoTracking)
    webcam.tracker._open_source()
    assert opened == [{"video": None, "index": 2}]

    opened.clear()
    unit = make(SourceChoice(video=clip, camera=2))  # not the demo: the unit's own camera
    assert not isinstance(unit, DemoTracking)
    unit.tracker._open_source()
    assert opened == [{}]
    assert UNIT_CAMERA == SourceChoice()

    assert isinstance(make(SourceChoice(demo=True, video=clip, tracking=False)), NullTracking)
