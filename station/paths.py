"""Where the station keeps its data: one data directory.

Order: ``--data-dir``, then ``STATION_DATA``, then the settings file's ``[data] dir``, then
``/var/lib/station`` when it exists (a provisioned Pi), else the platform's user data folder
(``$XDG_DATA_HOME/station``, ``~/Library/Application Support/station``, ``%APPDATA%/station``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from station.errors import UsageError

log = logging.getLogger(__name__)

PI_DATA_DIR = Path("/var/lib/station")


def user_data_dir() -> Path:
    """The platform's per-user data folder for the station."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "station"
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", Path.home())) / "station"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "station"


def find_data_dir(cli_value: str | None = None, settings_value: str = "") -> Path:
    """The data directory the order above picks (not created)."""
    for candidate in (cli_value, os.environ.get("STATION_DATA"), settings_value):
        if candidate:
            return Path(candidate).expanduser()
    return PI_DATA_DIR if PI_DATA_DIR.is_dir() else user_data_dir()


def resolve_data_dir(cli_value: str | None = None, settings_value: str = "") -> Path:
    """Pick the data directory (see module docstring) and make sure it exists.

    A settings-file folder that cannot be made is logged and the next choice used (the kiosk
    must start); a folder given on the command line or in STATION_DATA that cannot be made is
    a :class:`~station.errors.UsageError` naming it.
    """
    path = find_data_dir(cli_value, settings_value)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        if cli_value or os.environ.get("STATION_DATA") or not settings_value:
            raise UsageError(f"the data folder {str(path)[:200]!r} cannot be made ({exc})") from None
        log.warning("settings: data.dir %r cannot be made (%s); using the default", str(path)[:200], exc)
        path = find_data_dir()
        path.mkdir(parents=True, exist_ok=True)
    return path


def model_path(data_dir: Path) -> Path:
    """Where the pinned face model lives inside the data directory."""
    return data_dir / "models" / "face_landmarker.task"


def database_path(data_dir: Path) -> Path:
    """The SQLite record store."""
    return data_dir / "records.sqlite3"
