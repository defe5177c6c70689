"""The therapist's prescription: which patterns a unit plays, how, and when to remind.

A prescription is one small TOML file (``schema = 1``). It names the patient only by a
pseudonymous alias (there is no name field, and unknown keys are refused), the affected side
(the patient's own), the enabled patterns with reps and pacing within safe bounds, a session
length target, suggested sessions per day, reminder times, quiet hours and an optional short
message shown on the home screen. Example::

    schema = 1
    message = "Small and slow. Feel the cheek, not the mirror."

    [patient]
    alias = "P-0417"
    affected_side = "left"

    [session]
    target_minutes = 3
    sessions_per_day = 3
    checkin_every_days = 7   # optional: the weekly check-in (absent: none)

    [reminders]
    times = ["09:00", "13:00", "18:30"]
    quiet_start = "21:00"
    quiet_end = "08:00"

    [[pattern]]
    id = "eye_closure"
    reps = 3

    [[pattern]]
    id = "small_smile"
    reps = 4
    hold_s = 5
    gentle_max_mm = 4.0    # the gentle range's end (mm), within the pattern's safe bounds

Validation never raises: :func:`validate_bytes` returns every :class:`~station.config.Problem`
(key, line where known, what was found, what is allowed). Applying writes the validated bytes
atomically into the data directory; an invalid file changes nothing. :func:`load_active` never
crashes: a missing or damaged stored prescription falls back to the default plan with a notice.

>>> r = validate_bytes(b'schema = 1\\n[patient]\\nalias = "A1"\\nname = "x"\\n')
>>> [p.key for p in r.problems][:2]
['patient.name', 'patient.affected_side']
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import logging
import os
import re
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from station.errors import CHOICE, INT, LIST, REAL, TEXT, Field, Problem, check_table, names
from station.errors import short as _short
from station.feedback import Notice, Side
from station.files import atomic_write, read_limited
from station.practice import words
from station.practice.events import Timing
from station.practice.plan import GENTLE_MIN_MM, Plan, default_plan, library, make_plan
from station.practice.reminders import clock_minutes, in_quiet_hours

log = logging.getLogger(__name__)

SCHEMA = 1
MAX_BYTES = 64 * 1024
ACTIVE_NAME = "prescription.toml"
LOG_NAME = "prescription-log.jsonl"

# Safe bounds (seconds / counts). A therapist may tune inside them, never outside.
PACING_BOUNDS: dict[str, tuple[float, float]] = {
    "move_s": (2.0, 8.0),
    "hold_s": (2.0, 10.0),
    "release_s": (2.0, 8.0),
    "rest_s": (1.0, 10.0),
}
REPS_BOUNDS = (1, 10)
TARGET_MINUTES_BOUNDS = (1.0, 15.0)
MAX_PLANNED_MINUTES = 15.0  # a hard bound on one session's planned length
#: What the kiosk font (pygame's bundled FreeSans) draws: Basic Latin, Latin-1, Latin
#: Extended-A and common punctuation (a test checks the font covers every one of them).
DRAWABLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x20, 0x7E), (0xA0, 0x17F), (0x2013, 0x2014), (0x2018, 0x201A), (0x201C, 0x201E), (0x2022, 0x2022),
    (0x2026, 0x2026), (0x20AC, 0x20AC),
)
SESSIONS_PER_DAY_BOUNDS = (1, 8)
CHECKIN_EVERY_DAYS_BOUNDS = (1, 60)  # the check-in's interval (days); absent: no check-in
MAX_REMINDERS = 8
MAX_MESSAGE_CHARS = 160
ALIAS_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
TIME_RE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")

# ---------------------------------------------------------------- the declaration
#
# Every value of the file, declared once (station.errors.Field: kind, bounds, pattern,
# required); one checker (station.errors.check_table) holds each table to its fields. What
# stays code is what crosses fields: the tables themselves, a pattern named twice, quiet hours
# given by halves, the gentle range's end (each pattern's own limit) and the message's glyphs.

CLOCK = Field("time", TEXT, max_len=5, pattern=TIME_RE, says='a time of day like "09:30" (24-hour)')
TOP_FIELDS: tuple[Field, ...] = (
    Field("schema", CHOICE, required=True, choices=(SCHEMA,), says=f"schema = {SCHEMA}"),
    Field("message", TEXT, max_len=MAX_MESSAGE_CHARS, printable=True,
          says=f"one line of printable text, at most {MAX_MESSAGE_CHARS} characters"),
)
PATIENT_FIELDS: tuple[Field, ...] = (
    Field("alias", TEXT, required=True, max_len=32, pattern=ALIAS_RE,
          says="a pseudonymous code of 1-32 letters, digits, - or _ (never a name)"),
    Field("affected_side", CHOICE, required=True, choices=("left", "right"),
          says="'left' or 'right' (the patient's own side)"),
)
SESSION_FIELDS: tuple[Field, ...] = (
    Field("target_minutes", REAL, lo=TARGET_MINUTES_BOUNDS[0], hi=TARGET_MINUTES_BOUNDS[1]),
    Field("sessions_per_day", INT, lo=SESSIONS_PER_DAY_BOUNDS[0], hi=SESSIONS_PER_DAY_BOUNDS[1]),
    Field("checkin_every_days", INT, lo=CHECKIN_EVERY_DAYS_BOUNDS[0], hi=CHECKIN_EVERY_DAYS_BOUNDS[1]),
)
REMINDER_FIELDS: tuple[Field, ...] = (
    Field("times", LIST, max_len=MAX_REMINDERS, item=CLOCK, unique="each time once",
          says=f'a list of at most {MAX_REMINDERS} times like "09:30"'),
    replace(CLOCK, name="quiet_start"),
    replace(CLOCK, name="quiet_end"),
)
PATTERN_ID = Field("id", CHOICE, required=True)  # choices: the pattern library, when checked
PATTERN_FIELDS: tuple[Field, ...] = (
    Field("reps", INT, required=True, lo=REPS_BOUNDS[0], hi=REPS_BOUNDS[1]),
    *(Field(key, REAL, lo=lo, hi=hi) for key, (lo, hi) in PACING_BOUNDS.items()),
)
GENTLE_MAX = Field("gentle_max_mm", REAL, lo=GENTLE_MIN_MM)  # hi: the pattern's own limit

TABLES = ("patient", "session", "reminders", "pattern")
TOP_KEYS = names(TOP_FIELDS) | set(TABLES)
PATIENT_KEYS = names(PATIENT_FIELDS)
SESSION_KEYS = names(SESSION_FIELDS)
REMINDER_KEYS = names(REMINDER_FIELDS)
PATTERN_KEYS = names((PATTERN_ID, *PATTERN_FIELDS, GENTLE_MAX))


@dataclass(frozen=True)
class PatternEntry:
    """One prescribed pattern: id, reps and the pacing overrides actually given."""

    id: str
    reps: int
    overrides: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Prescription:
    """A validated prescription (or the default one when none is stored).

    ``affected_side`` is None for the default: the unit settings decide then.
    ``notice`` is set when the kiosk should tell the patient something about it.
    """

    alias: str = ""
    affected_side: Side | None = None
    patterns: tuple[PatternEntry, ...] = ()
    target_minutes: float = 2.0
    sessions_per_day: int = 3
    checkin_every_days: int | None = None  # None: no check-in prescribed
    reminder_times: tuple[str, ...] = ()
    quiet_start: str | None = None
    quiet_end: str | None = None
    message: str = ""
    source: str = "default"  # "default" | "prescription"
    sha256: str = ""
    notice: Notice | None = None

    def plan(self) -> Plan:
        """The session plan this prescription plays."""
        if not self.patterns:
            return default_plan()
        return make_plan([(p.id, p.reps, dict(p.overrides)) for p in self.patterns], self.source)

    def summary(self) -> str:
        """One plain line for the clinician screen (no alias: the screen may be seen)."""
        if self.source == "default":
            return "No prescription: standard gentle plan."  # not patient words: the clinician info screen
        pats = ", ".join(f"{p.id} x{p.reps}" for p in self.patterns)
        side = self.affected_side or "?"
        checkin = f"; check-in every {self.checkin_every_days} d" if self.checkin_every_days else ""
        return (f"{side} side; {pats}; {self.target_minutes:g} min, "
                f"{self.sessions_per_day}/day; {len(self.reminder_times)} reminders{checkin}")


@dataclass
class Validation:
    """Outcome of checking a prescription file."""

    prescription: Prescription | None
    problems: list[Problem]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        """True when the file can be applied."""
        return self.prescription is not None and not self.problems


class _Lines:
    """Best-effort line numbers (tomllib reports none for values)."""

    def __init__(self, text: str) -> None:
        self.index: dict[tuple[str, str], int] = {}
        table, n_pattern = "", 0
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if line.startswith("[["):
                name = line.strip("[] ")
                if name == "pattern":
                    n_pattern += 1
                    table = f"pattern[{n_pattern}]"
                else:
                    table = name
                self.index.setdefault((table, ""), n)
            elif line.startswith("["):
                table = line.split("]", 1)[0].strip("[ ")
                self.index.setdefault((table, ""), n)
            elif "=" in line and not line.startswith("#"):
                key = line.split("=", 1)[0].strip().strip('"')
                self.index.setdefault((table, key), n)

    def of(self, table: str, key: str = "") -> int | None:
        # an unknown top-level *table* (``[[patterns]]``) has a header line, not a key line
        header = self.index.get((key, "")) if not table and key else None
        return self.index.get((table, key)) or header or self.index.get((table, ""))


class _Checker:
    def __init__(self, text: str) -> None:
        self.lines = _Lines(text)
        self.problems: list[Problem] = []

    def add(self, table: str, key: str, found: str, allowed: str) -> None:
        name = f"{table}.{key}" if table and key else (table or key)
        self.problems.append(Problem(name, found, allowed, self.lines.of(table, key)))

    def unknown(self, table: str, body: dict[str, Any], allowed: set[str]) -> None:
        for key in body:
            if key not in allowed:
                v = body[key]
                kind = "table" if isinstance(v, dict) or (
                    isinstance(v, list) and v and all(isinstance(x, dict) for x in v)) else "key"
                close = difflib.get_close_matches(str(key).lower(), sorted(allowed), n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.add(table, str(key), f"an unknown {kind}{hint}", ", ".join(sorted(allowed)))

    def fields(self, table: str, declared: tuple[Field, ...], body: dict[str, Any]) -> dict[str, Any]:
        """The values of ``body`` its declared fields allow; a Problem for each one that breaks."""
        good, broken = check_table(declared, body)
        for key, found, allowed in broken:
            self.add(table, key, found, allowed)
        return good

    def table(self, raw: dict[str, Any], key: str, required: bool) -> dict[str, Any] | None:
        if key not in raw:
            if required:
                self.add(key, "", "no [" + key + "] table", f"a [{key}] table")
            return None
        v = raw[key]
        if not isinstance(v, dict):
            self.add(key, "", _short(v), f"a [{key}] table")
            return None
        return v


def undrawable(text: str) -> list[str]:
    """The characters of ``text`` the kiosk font cannot draw (each once, in order)."""
    out: list[str] = []
    for ch in text:
        if not any(lo <= ord(ch) <= hi for lo, hi in DRAWABLE_RANGES) and ch not in out:
            out.append(ch)
    return out


_NAME_PARTS = re.compile(r"[A-Z][a-z]+|[a-z]+|[A-Z]+")


def looks_like_name(alias: str) -> bool:
    """True for an alias that reads like a person's name ("JohnSmith", "john_smith", "Smith"):
    letters only (words joined by capitals, - or _), no digit. A warning, never a refusal:
    some codes are words."""
    if any(ch.isdigit() for ch in alias) or len(alias) < 3:
        return False
    words = [w for part in re.split(r"[-_]", alias) for w in _NAME_PARTS.findall(part)]
    return bool(words) and all(len(w) >= 2 and not w.isupper() for w in words)


def validate_bytes(data: bytes) -> Validation:
    """Check raw file bytes; never raises. Size, encoding and TOML are checked first."""
    if len(data) > MAX_BYTES:
        return Validation(None, [Problem("prescription file", f"{len(data)} bytes",
                                         f"at most {MAX_BYTES // 1024} KiB")], [])
    if b"\x00" in data:
        return Validation(None, [Problem("prescription file", "binary data (NUL bytes)",
                                         "a UTF-8 TOML text file")], [])
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")  # a BOM (some editors add one) is fine
    except UnicodeDecodeError as exc:
        return Validation(None, [Problem("prescription file", f"bytes that are not UTF-8 "
                                         f"(at byte {exc.start})", "a UTF-8 TOML text file")], [])
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        return Validation(None, [Problem("prescription file", f"broken TOML ({exc})",
                                         "valid TOML", int(m.group(1)) if m else None)], [])
    except (RecursionError, ValueError) as exc:  # pathological nesting, a 5,000-digit number
        return Validation(None, [_unparsable(text, exc)], [])
    return _validate_doc(raw, text, hashlib.sha256(data).hexdigest())


_HUGE_NUMBER = re.compile(r"^\s*([A-Za-z0-9_.\"'-]+)\s*=\s*[+-]?[0-9_]{300,}", re.M)


def _unparsable(text: str, exc: BaseException) -> Problem:
    """A problem for TOML that Python's parser gives up on, naming the key when it can."""
    m = _HUGE_NUMBER.search(text)
    if m:
        line = text.count("\n", 0, m.start()) + 1
        return Problem(m.group(1).strip("\"'"), "a number with thousands of digits",
                       "a small number (see the allowed range for this key)", line)
    if isinstance(exc, RecursionError):
        return Problem("prescription file", "values nested too deeply", "a flat TOML file")
    return Problem("prescription file", f"unreadable TOML ({str(exc)[:80]})", "valid TOML")


def _validate_doc(raw: dict[str, Any], text: str, digest: str) -> Validation:
    c = _Checker(text)
    warnings: list[str] = []
    c.unknown("", raw, TOP_KEYS)
    top = c.fields("", TOP_FIELDS, raw)
    message = top.get("message", "")
    if bad := undrawable(message):
        c.add("", "message", "characters the unit's screen cannot show: " + " ".join(
              f"U+{ord(ch):04X}" for ch in bad[:5]), "letters, digits and punctuation of "
              "Western European languages (no emoji)")
        message = ""

    alias, side = "", None
    patient = c.table(raw, "patient", required=True)
    if patient is not None:
        c.unknown("patient", patient, PATIENT_KEYS)
        who = c.fields("patient", PATIENT_FIELDS, patient)
        alias, side = who.get("alias", ""), who.get("affected_side")
        if alias and looks_like_name(alias):
            warnings.append(f"the alias {alias!r} looks like a person's name: an alias is a code "
                            "such as P-0417, never a name")

    sess = c.table(raw, "session", required=False)
    good = {}
    if sess is not None:
        c.unknown("session", sess, SESSION_KEYS)
        good = c.fields("session", SESSION_FIELDS, sess)
    target, per_day = float(good.get("target_minutes", 2.0)), int(good.get("sessions_per_day", 3))
    checkin_days: int | None = good.get("checkin_every_days")

    times: list[str] = []
    quiet: dict[str, str | None] = {"quiet_start": None, "quiet_end": None}
    rem = c.table(raw, "reminders", required=False)
    if rem is not None:
        c.unknown("reminders", rem, REMINDER_KEYS)
        good = c.fields("reminders", REMINDER_FIELDS, rem)
        times = good.get("times", [])
        quiet = {key: good.get(key) for key in quiet}
        if (quiet["quiet_start"] is None) != (quiet["quiet_end"] is None) and not any(
            p.key.startswith("reminders.quiet") for p in c.problems
        ):
            c.add("reminders", "quiet_end" if quiet["quiet_start"] else "quiet_start",
                  "nothing", "both quiet_start and quiet_end, or neither")
        if quiet["quiet_start"] is not None and quiet["quiet_start"] == quiet["quiet_end"]:
            c.add("reminders", "quiet_end", f"{quiet['quiet_end']!r}, the same as quiet_start",
                  "a different time from quiet_start (or leave both out for no quiet hours)")
        for t in times:
            if in_quiet_hours(clock_minutes(t), quiet["quiet_start"], quiet["quiet_end"]):
                warnings.append(f"reminder {t} falls in quiet hours and will not show")

    entries: list[PatternEntry] = []
    pats = raw.get("pattern")
    lib = library()
    pattern_id = replace(PATTERN_ID, choices=tuple(sorted(lib)), says="one of " + ", ".join(sorted(lib)))
    if not isinstance(pats, list) or not pats or len(pats) > len(lib):
        c.add("pattern", "", "no [[pattern]] tables" if pats is None else _short(pats),
              f"1 to {len(lib)} [[pattern]] tables")
    else:
        for i, body in enumerate(pats, 1):
            table = f"pattern[{i}]"
            if not isinstance(body, dict):
                c.add(table, "", _short(body), "a [[pattern]] table")
                continue
            c.unknown(table, body, PATTERN_KEYS)
            pid = c.fields(table, (pattern_id,), body).get("id")
            if pid is not None and any(e.id == pid for e in entries):
                c.add(table, "id", f"{pid!r} again", "each pattern once")
                pid = None
            # the gentle range: from GENTLE_MIN_MM to the pattern's own limit
            gentle = (replace(GENTLE_MAX, hi=lib[pid].gentle_limit_mm),) if pid is not None else ()
            values = c.fields(table, PATTERN_FIELDS + gentle, body)
            overrides = {k: float(v) for k, v in values.items() if k != "reps"}
            if pid is not None and "reps" in values:
                entries.append(PatternEntry(pid, int(values["reps"]), overrides))

    if c.problems:
        return Validation(None, c.problems, warnings)
    assert isinstance(alias, str) and isinstance(side, str)  # else one of the problems above
    rx = Prescription(
        alias=alias, affected_side=Side(side), patterns=tuple(entries), target_minutes=target,
        sessions_per_day=per_day, checkin_every_days=checkin_days,
        reminder_times=tuple(sorted(times)),
        quiet_start=quiet["quiet_start"], quiet_end=quiet["quiet_end"], message=message,
        source="prescription", sha256=digest,
    )
    from station.practice.session import Engine  # intros last as long as their words need

    planned = Engine(rx.plan(), Timing()).planned_s / 60.0
    if planned > MAX_PLANNED_MINUTES:
        c.add("pattern", "", f"patterns that take about {planned:.0f} min",
              f"a session of at most {MAX_PLANNED_MINUTES:g} min (fewer reps or patterns)")
        return Validation(None, c.problems, warnings)
    if planned > target * 1.25:
        warnings.append(f"the patterns take about {planned:.1f} min, longer than the "
                        f"{target:g} min target")
    elif planned < target * 0.5:
        warnings.append(f"the patterns take about {planned:.1f} min, well under the "
                        f"{target:g} min target")
    if len(times) > per_day:
        warnings.append(f"{len(times)} reminders for {per_day} sessions a day")
    return Validation(rx, [], warnings)


def validate_file(path: Path) -> Validation:
    """Check a prescription file on disk (size checked before reading it all)."""
    try:
        data = read_limited(path, MAX_BYTES)
    except OSError as exc:
        reason = exc.strerror if exc.strerror else str(exc)
        if exc.errno == errno.ELOOP:  # a symlink under O_NOFOLLOW
            reason = "a symbolic link"
        allowed = f"a regular UTF-8 TOML file up to {MAX_BYTES // 1024} KiB"
        return Validation(None, [Problem("prescription file", f"unreadable ({reason})", allowed)],
                          [])
    return validate_bytes(data)


def active_path(data_dir: Path) -> Path:
    """Where the applied prescription lives."""
    return data_dir / ACTIVE_NAME


def _changes(old: Prescription, new: Prescription) -> list[str]:
    """What changed, without the alias or message text (the log outlives a patient)."""
    out = []
    if old.alias != new.alias:
        out.append("patient changed")
    if old.affected_side != new.affected_side:
        out.append(f"affected side {old.affected_side} -> {new.affected_side}")
    o = {p.id: p for p in old.patterns}
    n = {p.id: p for p in new.patterns}
    for pid in n.keys() - o.keys():
        out.append(f"added {pid} x{n[pid].reps}")
    for pid in o.keys() - n.keys():
        out.append(f"removed {pid}")
    for pid in o.keys() & n.keys():
        if o[pid] != n[pid]:
            out.append(f"changed {pid}: reps {o[pid].reps} -> {n[pid].reps}, "
                       f"pacing {o[pid].overrides} -> {n[pid].overrides}")
    for attr in ("target_minutes", "sessions_per_day", "checkin_every_days", "reminder_times",
                 "quiet_start", "quiet_end"):
        if getattr(old, attr) != getattr(new, attr):
            out.append(f"{attr} {getattr(old, attr)} -> {getattr(new, attr)}")
    if old.message != new.message:
        out.append("message changed")
    return sorted(out) or ["no change"]


def apply_bytes(data_dir: Path, data: bytes, now: float | None = None) -> Validation:
    """Validate ``data`` and, only when valid, make it the active prescription (atomically)."""
    result = validate_bytes(data)
    if not result.ok:
        log.warning("prescription refused: %s", "; ".join(map(str, result.problems)))
        return result
    assert result.prescription is not None
    old = load_active(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(active_path(data_dir), data)
    changes = _changes(old, result.prescription)
    entry = {"time": time.time() if now is None else now, "sha256": result.prescription.sha256,
             "changes": changes}
    with open(data_dir / LOG_NAME, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())
    log.info("prescription applied: %s", "; ".join(changes))
    return result


def clear_active(data_dir: Path) -> None:
    """Remove the active prescription (after a wipe): the unit plays the default plan again."""
    active_path(data_dir).unlink(missing_ok=True)


DEFAULT_NOTICE = words.DEFAULT_PLAN_NOTICE
BROKEN_NOTICE = words.BROKEN_PLAN_NOTICE


def load_active(data_dir: Path) -> Prescription:
    """The prescription the kiosk plays; never raises (falls back to the default plan)."""
    path = active_path(data_dir)
    try:
        if not os.path.lexists(path):
            return Prescription(notice=Notice(DEFAULT_NOTICE, "info", "prescription"))
        result = validate_file(path)
    except Exception:  # noqa: BLE001 - the kiosk must keep going whatever is on disk
        log.exception("reading the stored prescription failed")
        result = Validation(None, [Problem("prescription file", "an error", "readable")], [])
    if result.ok and result.prescription is not None:
        return result.prescription
    log.warning("stored prescription unusable: %s", "; ".join(map(str, result.problems)))
    return Prescription(notice=Notice(BROKEN_NOTICE, "attention", "prescription"))
