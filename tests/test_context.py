"""Every command resolves the data folder the same way: the settings file's ``[data] dir``
counts for the stick job, the clinic tools and the desk as it does for the kiosk."""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import json
from pathlib import Path

import pytest

from station.cli import build_parser, main
from station.clinic import unit
from station.clinic.stick import STICK_FOLDER
from station.config import context_of

ROOT = Path(__file__).resolve().parents[1]
RX = ROOT / "examples" / "prescriptions" / "gentle-start.toml"
ALIAS = "EXAMPLE-01"  # the alias in RX


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """A settings file whose ``[data] dir`` names the data folder; STATION_DATA unset and the
    platform default pointed elsewhere, so only the settings file can lead to the folder."""
    monkeypatch.delenv("STATION_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "platform-default"))
    monkeypatch.setattr("station.paths.PI_DATA_DIR", tmp_path / "no-pi")
    data = tmp_path / "configured-data"
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[data]\ndir = "{data}"\n')
    key = tmp_path / "clinic.key"
    unit.write_secret(key, unit.new_secret())
    return cfg, data, key


def _run(cfg: Path, *argv: str) -> int:
    return main(["--config", str(cfg), *argv])


@pytest.mark.slow
def test_every_data_command_uses_the_settings_data_dir(configured, tmp_path: Path, capsys):
    cfg, data, key = configured
    default = tmp_path / "platform-default" / "station"
    assert _run(cfg, "clinic", "provision", "--secret-file", str(key), "--unit", "ms-ctx01") == 0
    assert (data / "unit" / "clinic.key").is_file() and unit.get_unit_id(data) == "ms-ctx01"

    assert _run(cfg, "prescribe", str(RX)) == 0
    assert (data / "prescription.toml").is_file()

    stick = tmp_path / "stick"
    stick.mkdir()
    # no --secret-file and no --unit: the key and the id come from the configured folder
    assert _run(cfg, "clinic", "make-stick", str(stick), "--prescription", str(RX)) == 0, capsys.readouterr()
    nonce = json.loads((stick / STICK_FOLDER / "request.json").read_text())["nonce"]

    assert _run(cfg, "usb-sync", str(stick), "--direct") == 0, capsys.readouterr()
    assert unit.nonce_used(data, nonce)

    assert _run(cfg, "export", "--out", str(tmp_path / "out")) == 0
    assert _run(cfg, "wipe", "--yes") == 0

    if all(importlib.util.find_spec(m) for m in ("flask", "sqlalchemy", "alembic", "argon2")):
        _desk_uses_the_settings_data_dir(cfg, data, tmp_path, stick, key, capsys)
    assert not default.exists(), "a command used the platform default instead of [data] dir"


def _desk_uses_the_settings_data_dir(cfg: Path, data: Path, tmp_path: Path, stick: Path, key: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The desk's commands (on the clinic computer; absent on the Pi line) use the same folder."""
    pw = tmp_path / "pw"
    pw.write_text("a long enough secret phrase\n")
    assert _run(cfg, "desk", "user", "add", "tech1", "--password-file", str(pw)) == 0
    assert (data / "desk.sqlite3").is_file()
    from station.desk import db, registry

    factory = db.open_db(db.default_url(data))  # the unit registered at the configured desk
    with factory() as s, s.begin():
        registry.register_unit(s, "test", "ms-ctx01", unit.key_id(unit.read_secret(key)), None)
        registry.lend(s, "test", "ms-ctx01", ALIAS, dt.date.today() + dt.timedelta(days=28))
    assert _run(cfg, "desk", "import", str(stick)) == 0, capsys.readouterr()

    args = build_parser().parse_args(["--config", str(cfg), "desk", "serve"])
    from station.desk.commands import _key_file

    assert _key_file(args) == unit.key_path(data)


def test_context_is_built_once_and_makes_the_folder_only_when_used(configured):
    cfg, data, _key = configured
    args = build_parser().parse_args(["--config", str(cfg), "prescription", "check", str(RX)])
    ctx = context_of(args)
    assert context_of(args) is ctx
    assert ctx.data_dir_found == data and not data.exists()
    assert ctx.data_dir == data and data.is_dir()


def test_no_command_module_finds_the_data_folder_by_itself():
    """Only station.config (the context) calls the settings loader and the data-folder resolvers."""
    own = {"load_settings", "resolve_data_dir", "find_data_dir"}
    offenders = []
    for path in sorted((ROOT / "station").rglob("commands.py")) + [ROOT / "station" / "cli.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in own:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert offenders == []
