"""The record schema: a session row and a rep row written down once, with types and bounds.

Theory of operation
-------------------
A rep and a session travel through four places: the unit's SQLite store, the export CSVs, the
clinic desk's tables and the charts. Each row is declared here once, as a tuple of
:class:`Field` (name, kind, length, range, whether it is required, and in which places it
lives). From that one declaration come the store's insert columns (``columns(REP, STORE)``), the
CSV headers (``columns(REP, CSV)``), the desk's columns (``station.desk.db`` builds its
SQLAlchemy columns with :func:`desk_columns`), the export's cell writer (:func:`cell`) and the
one parser that reads a CSV row back (:class:`RowReader`, used by the desk's import), plus the
lenient readers the report uses on rows that are already typed (:func:`as_float`,
:func:`as_flag`, :func:`quiet_region`). A test checks the store's migrated tables against it.

Bounds are physical, not clinical: a face moves a few millimetres, so ±1000 mm can only be a
bug or an attack; shares lie in 0..1; counts and indexes stay far below 2**31 (PostgreSQL's
INTEGER); every number must be finite; times are UTC ISO 8601 between 2000 and 2100 (a unit
without a clock may be years off, but never far enough to overflow a date); texts have the
desk column's length, a pattern of allowed characters, and never a NUL byte. A row that breaks
any of it is refused with one plain sentence naming the file, the row and the field.

Why no schema library: the unit is a Raspberry Pi whose two numpy lines (1.x for mediapipe
0.10.18, 2.x for 1.2) already pin most of its wheels; msgspec (small, fast, aarch64 wheels) or
pydantic v2 (heavier, a Rust core) would add a compiled dependency to the kiosk for rows that
arrive as CSV text anyway, where their fast JSON paths do not apply, and their lax string-to-
number conversion and error texts would still need wrapping to give our own found/allowed
messages. A frozen dataclass per field and about a hundred lines of checks do the job with the
standard library, identically on both lines.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from station.config import Problem
from station.practice.plan import REGIONS

STORE, CSV, DESK = "store", "csv", "desk"
ALL = frozenset({STORE, CSV, DESK})
TEXT, INT, REAL, FLAG, UTC_TIME, CHOICE = "text", "int", "real", "flag", "utc", "choice"

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
PATTERN_ID_RE = re.compile(r"[a-z][a-z0-9_]*")
HEX64_RE = re.compile(r"[0-9a-f]{64}")
PRINTABLE_RE = re.compile(r"[^\x00-\x1f\x7f]*")
UTC_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
INT_RE = re.compile(r"-?\d{1,12}")
FIRST_UTC = datetime(2000, 1, 1, tzinfo=UTC)
LAST_UTC = datetime(2100, 1, 1, tzinfo=UTC)
TRUE, FALSE = ("1", "true", "yes"), ("0", "false", "no")
MAX_COLUMNS = 200  # a header wider than this is not a station export


@dataclass(frozen=True)
class Field:
    """One column: its kind, bounds and the places it lives in."""

    name: str
    kind: str
    required: bool = False
    max_len: int = 0  # text: characters (also the desk column's length, unless ``long``)
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    places: frozenset[str] = ALL
    desk_name: str = ""  # the desk's column name when it differs
    long: bool = False  # a desk Text column (no length of its own)
    stats: bool = False  # a rep number the tracking fills in (the recorder's stats columns)

    def allowed(self) -> str:
        """What this field accepts, in words (for a refusal)."""
        if self.kind == INT:
            return f"a whole number from {self.lo:g} to {self.hi:g}"
        if self.kind == REAL:
            return f"a finite number from {self.lo:g} to {self.hi:g}"
        if self.kind == FLAG:
            return "1 or 0 (or empty)"
        if self.kind == UTC_TIME:
            return "a UTC time like 2026-03-01T09:30:00.000Z in the years 2000-2099"
        if self.kind == CHOICE:
            return "one of " + ", ".join(self.choices)
        return f"text of at most {self.max_len} characters" + (" (letters, digits, _ . : -)"
                                                               if self.pattern is not None else "")


def _mm(name: str, places: frozenset[str] = ALL, **kw: Any) -> Field:
    return Field(name, REAL, lo=-1000.0, hi=1000.0, places=places, **kw)


def _share(name: str, places: frozenset[str] = ALL, **kw: Any) -> Field:
    return Field(name, REAL, lo=0.0, hi=1.0, places=places, **kw)


def _count(name: str, places: frozenset[str] = ALL, required: bool = True, **kw: Any) -> Field:
    return Field(name, INT, required=required, lo=0, hi=10_000_000, places=places, **kw)


STORE_CSV = frozenset({STORE, CSV})
CSV_DESK = frozenset({CSV, DESK})
ONLY_STORE, ONLY_CSV, ONLY_DESK = frozenset({STORE}), frozenset({CSV}), frozenset({DESK})
QUALITY_FLAGS = ("slow", "small", "quiet", "released")
STATUSES = ("open", "complete", "interrupted", "abandoned")
REP_STATUSES = ("done", "interrupted")

#: One practice session (the store's ``sessions`` table, ``sessions.csv``, the desk's sessions).
SESSION: tuple[Field, ...] = (
    Field("id", TEXT, required=True, max_len=64, pattern=ID_RE, desk_name="uid"),
    Field("started_utc", UTC_TIME, required=True, max_len=32),
    Field("started_mono", REAL, required=True, lo=-1e12, hi=1e12, places=ONLY_STORE),
    Field("ended_utc", UTC_TIME, max_len=32, places=STORE_CSV),
    Field("ended_mono", REAL, lo=-1e12, hi=1e12, places=ONLY_STORE),
    Field("status", CHOICE, required=True, max_len=16, choices=STATUSES),
    Field("duration_s", REAL, lo=0.0, hi=7 * 86400.0, places=CSV_DESK),
    Field("planned_s", REAL, lo=0.0, hi=86400.0),
    Field("plan_source", TEXT, max_len=500, pattern=PRINTABLE_RE, long=True),
    Field("plan_json", TEXT, max_len=65536, places=ONLY_STORE),
    Field("affected_side", CHOICE, max_len=8, choices=("left", "right")),
    _count("reps_done", CSV_DESK),
    _count("reps_interrupted", ONLY_CSV),
    _count("breaks_scheduled", CSV_DESK),
    _count("breaks_requested", CSV_DESK),
    _count("pauses", CSV_DESK),
    Field("software_version", TEXT, max_len=64, pattern=PRINTABLE_RE, places=STORE_CSV),
    Field("model_sha256", TEXT, max_len=64, pattern=HEX64_RE, places=STORE_CSV),
)

#: One movement (the store's ``reps`` table, ``reps.csv``, the desk's reps).
REP: tuple[Field, ...] = (
    Field("id", TEXT, required=True, max_len=64, pattern=ID_RE, desk_name="uid"),
    Field("session_id", TEXT, required=True, max_len=64, pattern=ID_RE, places=STORE_CSV),
    Field("pattern_index", INT, required=True, lo=0, hi=1000, places=STORE_CSV),
    Field("pattern_id", TEXT, max_len=32, pattern=PATTERN_ID_RE),
    Field("rep", INT, required=True, lo=0, hi=1000),
    Field("status", CHOICE, required=True, max_len=16, choices=REP_STATUSES),
    Field("started_mono", REAL, lo=-1e12, hi=1e12, places=ONLY_STORE),
    Field("ended_mono", REAL, required=True, lo=-1e12, hi=1e12, places=ONLY_STORE),
    Field("ended_utc", UTC_TIME, required=True, max_len=32),
    Field("duration_s", REAL, lo=0.0, hi=86400.0, places=CSV_DESK),
    Field("target_region", CHOICE, max_len=16, choices=REGIONS, stats=True),
    _mm("target_mm", stats=True),
    _mm("target_other_side_mm", STORE_CSV, stats=True),
    Field("target_pct_of_other", REAL, lo=-1e9, hi=1e9, places=STORE_CSV, stats=True),
    Field("quiet_mm", TEXT, max_len=2000, places=ONLY_STORE, stats=True),
    Field("quiet_floor_mm", TEXT, max_len=2000, places=ONLY_STORE, stats=True),
    Field("coactivation", REAL, lo=-1.0, hi=2.0, stats=True),
    Field("eye_ratio", REAL, lo=0.0, hi=1000.0, stats=True),
    Field("quiet_moved", FLAG, stats=True),
    _mm("quiet_max_mm", stats=True),
    *(_mm(f"quiet_{r}_mm", ONLY_CSV) for r in REGIONS),
    *(_mm(f"floor_{r}_mm", ONLY_CSV) for r in REGIONS),
    Field("quiet_region", CHOICE, max_len=16, choices=REGIONS, places=ONLY_DESK),
    _share("face_share", stats=True),
    _count("frames", STORE_CSV, required=False, stats=True),
    _count("frames_gated", STORE_CSV, required=False, stats=True),
    *(Field(q, FLAG, stats=True) for q in QUALITY_FLAGS),
    Field("t80_share", REAL, lo=0.0, hi=100.0, stats=True),
    _mm("target_peak_mm", stats=True),
    _mm("quiet_excess_mm", stats=True),
    _mm("residual_mm", stats=True),
    _mm("gentle_max_mm", STORE_CSV, stats=True),
)


def columns(record: tuple[Field, ...], place: str, *, stats: bool = False) -> tuple[str, ...]:
    """The names of ``record``'s fields in ``place`` (STORE, CSV or DESK), in order."""
    return tuple(f.name for f in record if place in f.places and (f.stats or not stats))


def field(record: tuple[Field, ...], name: str) -> Field:
    """The field called ``name``."""
    return next(f for f in record if f.name == name)


# ---------------------------------------------------------------- writing (the unit's export)


def cell(f: Field, value: Any) -> str | int:
    """One CSV cell for ``value``: floats with 4 decimals; unknown, non-finite or out-of-range
    numbers as an empty cell (a unit's own bundle always passes the desk's checks)."""
    if value is None:
        return ""
    if f.kind == REAL:
        v = float(value)
        if not math.isfinite(v) or not (f.lo <= v <= f.hi):  # type: ignore[operator]
            return ""
        return f"{v:.4f}"
    if f.kind in (INT, FLAG):
        v = int(value)
        return v if f.kind == FLAG or f.lo <= v <= f.hi else ""  # type: ignore[operator]
    text: str = value
    return text


# ---------------------------------------------------------------- reading (the one parser)


class RecordError(ValueError):
    """A row or file breaks the schema; ``str()`` is one plain sentence naming where."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _shown(text: str) -> str:
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


class _Bad(Exception):
    """A value a field refuses (``found``: what to call it, else the value itself)."""

    def __init__(self, found: str | None = None) -> None:
        super().__init__(found)
        self.found = found


def _int(f: Field, text: str) -> int:
    if not INT_RE.fullmatch(text):
        raise _Bad
    v = int(text)
    if not f.lo <= v <= f.hi:  # type: ignore[operator]
        raise _Bad
    return v


def _real(f: Field, text: str) -> float:
    # float() also takes " 1", "1_0", "nan", "inf" and non-ASCII digits: refuse those after it
    try:
        v = float(text)
    except ValueError:
        raise _Bad from None
    if not (math.isfinite(v) and f.lo <= v <= f.hi  # type: ignore[operator]
            and text.isascii() and "_" not in text and text == text.strip()):
        raise _Bad
    return v


def _flag(f: Field, text: str) -> bool:
    low = text.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise _Bad


def _utc(f: Field, text: str) -> str:
    if not UTC_RE.fullmatch(text):
        raise _Bad
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Bad from None
    if not FIRST_UTC <= when < LAST_UTC:
        raise _Bad
    return text


def _choice(f: Field, text: str) -> str:
    if text not in f.choices:
        raise _Bad
    return text


def _text(f: Field, text: str) -> str:
    if len(text) > f.max_len or (f.pattern is not None and not f.pattern.fullmatch(text)):
        raise _Bad
    if "\x00" in text:
        raise _Bad("a NUL byte")
    return text


_PARSE = {INT: _int, REAL: _real, FLAG: _flag, UTC_TIME: _utc, CHOICE: _choice, TEXT: _text}


def parse_value(f: Field, text: str, where: str) -> Any:
    """``text`` (a CSV cell or JSON string) as ``f``'s type, or RecordError naming ``where``."""
    if not text:
        if f.required:
            raise RecordError(Problem(f"{where}, {f.name}", "nothing", f.allowed()))
        return None
    try:
        return _PARSE[f.kind](f, text)
    except _Bad as bad:
        found = bad.found or ("a NUL byte" if "\x00" in text else _shown(text))
        raise RecordError(Problem(f"{where}, {f.name}", found, f.allowed())) from None


def parse_mapping(record: tuple[Field, ...], row: Mapping[str, Any], where: str,
                  place: str = CSV) -> dict[str, Any]:
    """A dict of strings (or JSON scalars) checked field by field into typed values."""
    out: dict[str, Any] = {}
    for f in record:
        if place not in f.places:
            continue
        raw = row.get(f.name)
        if raw is None:
            text = ""
        elif isinstance(raw, bool) and f.kind == FLAG:
            text = "1" if raw else "0"
        elif isinstance(raw, str):
            text = raw
        elif isinstance(raw, int | float) and not isinstance(raw, bool) and f.kind in (INT, REAL):
            text = (format(raw, ".12g") if math.isfinite(raw) else "nan") if isinstance(raw, float) \
                else str(raw)
        else:
            raise RecordError(Problem(f"{where}, {f.name}", f"a {type(raw).__name__}", f.allowed()))
        out[f.name] = parse_value(f, text, where)
    return out


class RowReader:
    """Streams typed rows out of one CSV file of ``record`` rows, checking every cell.

    A UTF-8 byte-order mark (Excel's "CSV UTF-8") is accepted. The header must name every
    required column; unknown columns are ignored; optional columns that are absent read as
    unknown (None), so older bundles without newer columns still read. ``limit`` caps the
    rows: more is refused as soon as the row past it is seen.
    """

    def __init__(self, record: tuple[Field, ...], name: str, stream: IO[bytes], limit: int) -> None:
        self.record = tuple(f for f in record if CSV in f.places)
        self.name = name
        self.limit = limit
        self.rows = 0
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
        self._reader = csv.reader(text, strict=True)
        try:
            header = next(self._reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise RecordError(Problem(f"{name} header", _why(exc), "a CSV header in UTF-8")) from None
        if not header:
            raise RecordError(Problem(f"{name} header", "nothing", "the column names of a station export"))
        if len(header) > MAX_COLUMNS or len(set(header)) != len(header):
            raise RecordError(Problem(f"{name} header", f"{len(header)} columns, some repeated or too many",
                                      f"each column once, at most {MAX_COLUMNS}"))
        index = {h: i for i, h in enumerate(header)}
        missing = [f.name for f in self.record if f.required and f.name not in index]
        if missing:
            raise RecordError(Problem(f"{name} header", f"no column {missing[0]}",
                                      "every column a station export writes"))
        self._cols = [(f, index.get(f.name)) for f in self.record]
        self._width = len(header)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            try:
                cells = next(self._reader, None)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise RecordError(Problem(f"{self.name} row {self.rows + 1}", _why(exc),
                                          "CSV text in UTF-8")) from None
            if cells is None:
                return
            if not cells:
                continue  # a blank line
            self.rows += 1
            where = f"{self.name} row {self.rows}"
            if self.rows > self.limit:
                raise RecordError(Problem(self.name, f"more than {self.limit} rows",
                                          f"at most {self.limit} (a year of practice at the most a "
                                          "prescription allows)"))
            if len(cells) != self._width:
                raise RecordError(Problem(where, f"{len(cells)} cells", f"{self._width}, one per column"))
            out: dict[str, Any] = {}
            for f, i in self._cols:
                text = cells[i] if i is not None else ""
                if text:  # the parser inlined for speed (a year is ~400,000 cells, read twice)
                    try:
                        out[f.name] = _PARSE[f.kind](f, text)
                    except _Bad:
                        parse_value(f, text, where)  # raises, with the plain message
                elif f.required:
                    parse_value(f, text, where)
                else:
                    out[f.name] = None
            yield out


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "bytes that are not UTF-8"
    return f"broken CSV ({str(exc)[:60]})"


# ---------------------------------------------------------------- lenient readers (typed rows)


def as_float(v: Any) -> float | None:
    """A stored or imported number, or None when unknown or not finite (charts and report)."""
    if v is None or v == "" or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def as_flag(v: Any) -> bool | None:
    """A stored or imported yes/no (1/0, true/false), None when unknown."""
    if v is None or v == "":
        return None
    if isinstance(v, str):
        low = v.strip().lower()
        return True if low in TRUE else False if low in FALSE else None
    return bool(v)


def quiet_region(rep: Mapping[str, Any]) -> str | None:
    """The quiet region that moved furthest past its floor in one rep (None: none did)."""
    if "quiet_region" in rep:
        return rep["quiet_region"] or None
    if as_flag(rep.get("quiet_moved")) is False:
        return None
    best, excess = None, 0.0
    for r in REGIONS:
        mm, floor = as_float(rep.get(f"quiet_{r}_mm")), as_float(rep.get(f"floor_{r}_mm"))
        if mm is not None and floor is not None and mm - floor > excess:
            best, excess = r, mm - floor
    return best


def finite(obj: Any) -> Any:
    """``obj`` (dicts, lists, tuples, scalars) with every NaN or infinity as None: what a JSON
    answer may carry (``NaN`` and ``Infinity`` are not JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj
