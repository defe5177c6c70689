"""Bad input, and how it is named: the errors every package may raise, and the declared fields.

:class:`UsageError` means bad input from the user (a file, an option): the command line prints
its message as one plain line and exits 2. Domain code raises it without knowing about the
command line, which only catches it.

A file a person or another machine wrote (the unit settings, a prescription, a stick request,
a bundle's rows and manifest) is checked against a declaration: a tuple of :class:`Field`
(name, kind, bounds, required, pattern, choices), held to it by one checker (:meth:`Field.check`
for one typed TOML or JSON value, :func:`check_table` for a table of them), and every value that
breaks it becomes a :class:`Problem`: the key, what was found, what is allowed, the line where
known. The record schema (:mod:`station.records.schema`) declares its rows with the same
:class:`Field` and adds where each column lives and a parser of CSV text.

>>> side = Field("affected_side", CHOICE, required=True, choices=("left", "right"))
>>> side.check("left"), side.check("Left"), side.allowed()
(True, False, "one of 'left', 'right'")
>>> good, bad = check_table((Field("reps", INT, required=True, lo=1, hi=10),), {"reps": 11})
>>> good, bad
({}, [('reps', '11', 'a whole number from 1 to 10')])
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TEXT, INT, REAL, FLAG, CHOICE, LIST = "text", "int", "real", "flag", "choice", "list"


class UsageError(Exception):
    """Bad input from the user: printed as one plain line, exit code 2."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a settings, prescription or record file, in plain words."""

    key: str
    found: str
    allowed: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.key}{where}: found {self.found}, allowed {self.allowed}"


@dataclass(frozen=True)
class Field:
    """One declared value: its kind, bounds and whether it must be there.

    Kinds: ``INT`` (an integer, never a bool or a float, from ``lo`` to ``hi``), ``REAL`` (an
    integer or a finite float from ``lo`` to ``hi``), ``FLAG`` (true or false), ``CHOICE`` (one
    of ``choices``, of the same type), ``TEXT`` (a string of at most ``max_len`` characters,
    without NUL, matching ``pattern``, printable when ``printable``), ``LIST`` (at most
    ``max_len`` items, each held to ``item``). ``says`` replaces the kind's own words for what
    is allowed.
    """

    name: str
    kind: str
    required: bool = False
    max_len: int = 0
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] = ()
    pattern: re.Pattern[str] | None = None
    printable: bool = False
    says: str = ""
    item: Field | None = None
    unique: str = ""  # LIST: what is allowed when an item repeats (empty: repeats are fine)

    def allowed(self) -> str:
        """What this field accepts, in words (for a :class:`Problem`)."""
        if self.says:
            return self.says
        if self.kind == INT:
            return f"a whole number from {self.lo:g} to {self.hi:g}"
        if self.kind == REAL:
            return f"a number from {self.lo:g} to {self.hi:g}"
        if self.kind == FLAG:
            return "true or false"
        if self.kind == CHOICE:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == LIST:
            return f"a list of at most {self.max_len} items"
        return "a text value"

    def check(self, v: Any) -> bool:
        """True when ``v`` (a typed TOML or JSON value) is what this field allows; for a LIST,
        only the list itself (its items are held to ``item``)."""
        kind = self.kind
        if kind in (INT, REAL):
            if isinstance(v, bool) or not isinstance(v, int if kind == INT else int | float):
                return False
            if isinstance(v, float) and not math.isfinite(v):
                return False
            return self.lo <= v <= self.hi  # type: ignore[operator]  # compared before any float()
        if kind == FLAG:
            return isinstance(v, bool)
        if kind == CHOICE:
            return v in self.choices and isinstance(v, type(self.choices[0])) and not isinstance(v, bool)
        if kind == LIST:
            return isinstance(v, list) and len(v) <= self.max_len
        return (isinstance(v, str) and len(v) <= self.max_len and "\x00" not in v
                and (self.pattern is None or self.pattern.fullmatch(v) is not None)
                and (not self.printable or v.isprintable()))


def short(v: Any) -> str:
    """A found value as a message shows it: its repr, cut at 60 characters; a huge integer by
    its number of digits (never printed whole)."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10**60:
        return f"a number with {len(str(abs(v)))} digits" if abs(v) < 10**4000 else "a huge number"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


#: (key, found, allowed) of one value that breaks its field
Broken = tuple[str, str, str]


def check_list(f: Field, v: Any, shown: Callable[[Any], str] = short) -> tuple[list[Any], list[Broken]]:
    """The items of a LIST value that pass ``f.item`` (each once when ``f.unique``), and what broke."""
    if not f.check(v):
        return [], [(f.name, shown(v), f.allowed())]
    good: list[Any] = []
    broken: list[Broken] = []
    item = f.item if f.item is not None else Field(f.name, TEXT, max_len=4096)
    for x in v:
        if not item.check(x):
            broken.append((f.name, shown(x), item.allowed()))
        elif f.unique and x in good:
            broken.append((f.name, f"{x!r} twice", f.unique))
        else:
            good.append(x)
    return good, broken


def check_table(fields: Sequence[Field], body: Mapping[str, Any],
                shown: Callable[[Any], str] = short) -> tuple[dict[str, Any], list[Broken]]:
    """Every declared field of ``body``, in declared order: the values that pass (a missing
    optional field is left out), and (key, found, allowed) for each that does not. Keys that
    are not declared are the caller's to name (:func:`unknown_keys`)."""
    good: dict[str, Any] = {}
    broken: list[Broken] = []
    for f in fields:
        if f.name not in body:
            if f.required:
                broken.append((f.name, "nothing", f.allowed()))
            continue
        v = body[f.name]
        if f.kind == LIST:
            items, bad = check_list(f, v, shown)
            broken += bad
            if f.check(v):
                good[f.name] = items
        elif f.check(v):
            good[f.name] = v
        else:
            broken.append((f.name, shown(v), f.allowed()))
    return good, broken


def names(fields: Iterable[Field]) -> set[str]:
    """The declared keys."""
    return {f.name for f in fields}


def unknown_keys(fields: Iterable[Field], body: Mapping[str, Any]) -> list[str]:
    """The keys of ``body`` no field declares, in the file's order."""
    known = names(fields)
    return [str(k) for k in body if k not in known]
