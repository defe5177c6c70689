"""Unit settings: one TOML file, a default for everything, never fatal.

A unit reads ``/etc/station/station.toml`` (or ``--config``). Every key has a default. A bad
value is reported as a :class:`Problem` naming the key, what was found and what is allowed;
the default is used instead and the kiosk still starts. Unknown keys are reported too (a
typo should not silently do nothing). Every key is declared once in :data:`SETTINGS_FIELDS`
(a :class:`station.errors.Field`: kind, bounds, choices), and one checker holds each value to
it, as it does for a prescription and a stick request.

>>> s, problems = load_settings_text('[button]\\npin = 99\\n')
>>> s.button.pin, problems[0].key
(17, 'button.pin')
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from station.errors import CHOICE, FLAG, INT, REAL, TEXT, Field, Problem
from station.feedback import Side
from station.files import read_limited
from station.paths import find_data_dir, resolve_data_dir

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("/etc/station/station.toml")


@dataclass(frozen=True)
class DisplaySettings:
    """How the kiosk window is shown."""

    fullscreen: bool = True
    width: int = 800
    height: int = 480
    fps: int = 30


@dataclass(frozen=True)
class ButtonSettings:
    """The one physical button (BCM numbering)."""

    pin: int = 17
    hold_time: float = 1.5  # seconds held for a long press
    bounce_time: float = 0.05
    info_hold_time: float = 5.0  # held this long at home: clinician info screen


@dataclass(frozen=True)
class AudioSettings:
    """Soft tones at phase changes, and the spoken guidance after them."""

    enabled: bool = True
    volume: float = 0.5
    voice: bool = True  # say what to do (espeak-ng, or the clinic's recordings)
    voice_volume: float = 0.7  # speech peaks near full scale: about as loud as the tones at 0.5


@dataclass(frozen=True)
class PatientSettings:
    """Per-patient defaults (a prescription overrides them)."""

    affected_side: Side = Side.LEFT  # anatomical: the patient's own left

    def __post_init__(self) -> None:
        # the one place the settings' side becomes a Side (the file's checks allow only the two)
        object.__setattr__(self, "affected_side", Side(self.affected_side))


@dataclass(frozen=True)
class CameraSettings:
    """Where frames come from and how the camera is mounted."""

    source: str = "auto"  # auto | picamera | webcam | file
    index: int = 0
    file: str = ""
    width: int = 640
    height: int = 480
    fps: int = 30
    rotation: int = 0  # 0, 90, 180, 270
    hflip: bool = False
    vflip: bool = False


@dataclass(frozen=True)
class TrackingSettings:
    """Face tracking and feedback."""

    enabled: bool = True
    blendshapes: bool = False
    max_turn_rad: float = 0.15  # frames turned or nodded further from the calibrated pose are not scored
    calibration_frames: int = 24


@dataclass(frozen=True)
class SessionSettings:
    """Pacing that is not part of a pattern."""

    settle_s: float = 8.0
    settle_max_s: float = 40.0
    intro_s: float = 0.0  # 0: each intro as long as its words need; else fixed seconds
    intro_wpm: float = 110.0  # reading pace the intro allows for (words a minute): slow, older eyes
    intro_touch_s: float = 5.0  # added when the intro asks to place a hand
    intro_look_s: float = 1.5  # added: to look up and find the text
    intro_min_s: float = 8.0
    intro_max_s: float = 30.0  # a short press continues earlier
    break_s: float = 20.0
    pause_timeout_s: float = 600.0


@dataclass(frozen=True)
class Settings:
    """All unit settings. ``data_dir`` empty means: STATION_DATA, else the platform default."""

    display: DisplaySettings = field(default_factory=DisplaySettings)
    button: ButtonSettings = field(default_factory=ButtonSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    patient: PatientSettings = field(default_factory=PatientSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    data_dir: str = ""


def _int(name: str, lo: int, hi: int) -> Field:
    return Field(name, INT, lo=lo, hi=hi)


def _num(name: str, lo: float, hi: float) -> Field:
    return Field(name, REAL, lo=lo, hi=hi)


def _flag(name: str) -> Field:
    return Field(name, FLAG)


def _one_of(name: str, *choices: Any) -> Field:
    return Field(name, CHOICE, choices=choices)


def _text(name: str) -> Field:
    return Field(name, TEXT, max_len=4095)


#: Every settings key, declared once per ``[section]`` (kind and bounds; the defaults are the
#: dataclasses above). A value that breaks its field keeps the default and is a Problem.
SETTINGS_FIELDS: dict[str, tuple[Field, ...]] = {
    "display": (_flag("fullscreen"), _int("width", 160, 7680), _int("height", 120, 4320),
                _int("fps", 5, 120)),
    "button": (_int("pin", 2, 27), _num("hold_time", 0.5, 5.0), _num("bounce_time", 0.0, 0.5),
               _num("info_hold_time", 2.0, 20.0)),
    "audio": (_flag("enabled"), _num("volume", 0.0, 1.0), _flag("voice"), _num("voice_volume", 0.0, 1.0)),
    "patient": (_one_of("affected_side", "left", "right"),),
    "camera": (_one_of("source", "auto", "picamera", "webcam", "file"), _int("index", 0, 16),
               _text("file"), _int("width", 160, 1920), _int("height", 120, 1080), _int("fps", 5, 60),
               _one_of("rotation", 0, 90, 180, 270), _flag("hflip"), _flag("vflip")),
    "tracking": (_flag("enabled"), _flag("blendshapes"), _num("max_turn_rad", 0.03, 0.3),
                 _int("calibration_frames", 24, 300)),
    "session": (_num("settle_s", 3.0, 30.0), _num("settle_max_s", 10.0, 120.0),
                _num("intro_s", 0.0, 30.0), _num("intro_wpm", 40.0, 250.0),
                _num("intro_touch_s", 0.0, 20.0), _num("intro_look_s", 0.0, 10.0),
                _num("intro_min_s", 2.0, 30.0), _num("intro_max_s", 8.0, 90.0),
                _num("break_s", 5.0, 120.0), _num("pause_timeout_s", 60.0, 3600.0)),
    "data": (_text("dir"),),
}
#: section -> key -> field (the same declaration, looked up by name)
RULES: dict[str, dict[str, Field]] = {
    section: {f.name: f for f in fields} for section, fields in SETTINGS_FIELDS.items()
}

_SECTION_TYPES = {
    "display": DisplaySettings,
    "button": ButtonSettings,
    "audio": AudioSettings,
    "patient": PatientSettings,
    "camera": CameraSettings,
    "tracking": TrackingSettings,
    "session": SessionSettings,
}


def _line_of(text: str, section: str, key: str) -> int | None:
    """Best-effort line number of ``key`` inside ``[section]`` (tomllib gives none)."""
    current = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line.strip("[] ")
        elif current == section and line.split("=", 1)[0].strip() == key:
            return n
    return None


def load_settings_text(text: str) -> tuple[Settings, list[Problem]]:
    """Parse settings from TOML text; returns the settings and every problem found."""
    problems: list[Problem] = []
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors add is fine
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return Settings(), [Problem("settings file", f"not valid TOML ({exc})", "TOML text")]
    except RecursionError:
        return Settings(), [Problem("settings file", "values nested too deeply", "a flat TOML file")]
    except ValueError as exc:  # e.g. a number with thousands of digits
        return Settings(), [Problem("settings file", f"unreadable TOML ({str(exc)[:80]})",
                                    "TOML text with small numbers")]
    sections: dict[str, dict[str, Any]] = {}
    for section, body in raw.items():
        if section not in RULES:
            problems.append(Problem(section, "an unknown section", ", ".join(sorted(RULES))))
            continue
        if not isinstance(body, dict):
            problems.append(Problem(section, repr(body), "a [section] table"))
            continue
        good: dict[str, Any] = {}
        for key, value in body.items():
            rule = RULES[section].get(key)
            if rule is None:
                problems.append(
                    Problem(f"{section}.{key}", "an unknown key", ", ".join(sorted(RULES[section])),
                            _line_of(text, section, key))
                )
                continue
            if rule.check(value):
                good[key] = value
            else:
                problems.append(Problem(f"{section}.{key}", repr(value), rule.allowed(),
                                        _line_of(text, section, key)))
        sections[section] = good
    kwargs: dict[str, Any] = {}
    for section, cls in _SECTION_TYPES.items():
        body = sections.get(section, {})
        # TOML writes 2 for 2.0: a whole number given for a float setting becomes a float
        floats = {f.name for f in dataclasses.fields(cls) if isinstance(f.default, float)}
        kwargs[section] = cls(**{k: float(v) if k in floats else v for k, v in body.items()})
    kwargs["data_dir"] = sections.get("data", {}).get("dir", "")
    settings = Settings(**kwargs)
    if settings.session.settle_max_s < settings.session.settle_s:
        problems.append(Problem("session.settle_max_s", repr(settings.session.settle_max_s),
                                f"at least session.settle_s ({settings.session.settle_s:g})"))
        settings = dataclasses.replace(settings, session=dataclasses.replace(
            settings.session, settle_max_s=SessionSettings.settle_max_s))
    return settings, problems


def load_settings(path: str | os.PathLike[str] | None = None,
                  log_problems: bool = True) -> tuple[Settings, list[Problem]]:
    """Load the unit settings file; a missing default file is fine, an unreadable one a problem.

    Every problem is also logged, so a technician finds it in the journal.
    """
    explicit = path is not None
    p = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        if not p.exists():
            if explicit:
                problems = [Problem("settings file", f"no file at {p}", "an existing file")]
                _log(problems, log_problems)
                return Settings(), problems
            return Settings(), []
        text = read_limited(p, MAX_SETTINGS_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL in the path
        problems = [Problem(f"settings file {str(p)[:200]!r}", f"unreadable ({exc})",
                            f"a regular UTF-8 TOML file up to {MAX_SETTINGS_BYTES // 1024} KiB")]
        _log(problems, log_problems)
        return Settings(), problems
    settings, problems = load_settings_text(text)
    _log(problems, log_problems)
    return settings, problems


MAX_SETTINGS_BYTES = 256 * 1024


def _log(problems: list[Problem], enabled: bool = True) -> None:
    for pr in problems if enabled else ():
        log.warning("settings: %s; using the default", pr)


# ---------------------------------------------------------------- the one command context
#
# ``station.cli.main`` loads the settings file once and builds a :class:`CommandContext`,
# which every command reads through :func:`context_of`. So every command finds the data
# folder the same way (``--data-dir``, then ``STATION_DATA``, then the settings file's
# ``[data] dir``, then the platform default: see :mod:`station.paths`), and the kiosk, the
# stick job, the desk and the clinic tools always act on the same folder. The folder is made
# on first use only, so a command that never needs it (``prescription check``) never makes it.


@dataclass
class CommandContext:
    """What every command gets: the settings (and their problems), the data folder, -v."""

    settings: Settings
    problems: list[Problem]
    data_dir_option: str | None = None
    verbose: bool = False
    _data_dir: Path | None = field(default=None, repr=False)

    @property
    def data_dir_found(self) -> Path:
        """The data folder the order picks, without making it."""
        return find_data_dir(self.data_dir_option, self.settings.data_dir)

    @property
    def data_dir(self) -> Path:
        """The data folder, made if missing (a UsageError when a given one cannot be made)."""
        if self._data_dir is None:
            self._data_dir = resolve_data_dir(self.data_dir_option, self.settings.data_dir)
        return self._data_dir


def build_context(config: str | None = None, data_dir: str | None = None,
                  verbose: bool = False) -> CommandContext:
    """Load the settings file ``config`` (``--config``; None: the default) and make the context
    with the ``--data-dir`` and ``-v`` given."""
    settings, problems = load_settings(config)
    return CommandContext(settings, problems, data_dir, verbose)


def context_of(args: argparse.Namespace) -> CommandContext:
    """The context ``cli.main`` put on ``args`` (built here for a caller that did not)."""
    ctx = getattr(args, "ctx", None)
    if not isinstance(ctx, CommandContext):  # parsed by ``build_parser``: the global options are there
        ctx = build_context(args.config, args.data_dir, args.verbose)
        args.ctx = ctx
    return ctx
