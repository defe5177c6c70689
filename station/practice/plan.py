"""Movement patterns and practice plans, as data.

A *pattern* is one gentle movement: which region on the affected side should move (the
target), which should stay quiet, what to say in each phase, a touch hint, and default pacing.
Patterns live as TOML files in ``station/practice/patterns/``; code never hard-codes one. A *plan* is an
ordered list of patterns, each with a number of reps and its pacing. The default plan is the
conservative one a unit plays before a therapist prescribes anything: gentle eye closure and a
small closed-lip smile, about two minutes in all.

>>> plan = default_plan()
>>> [item.pattern.id for item in plan.items]
['eye_closure', 'small_smile']
>>> 100 < plan.duration_s(settle_s=8, intro_s=4, break_s=20) < 160
True
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

REGIONS: tuple[str, ...] = ("eye", "brow", "mouth_corner", "lips", "nose_cheek", "chin")
PHASES: tuple[str, ...] = ("move", "hold", "release", "rest")
# A gentle range narrower than this (mm) would sit inside the readings' quiet floors.
GENTLE_MIN_MM = 1.0

#: Plain nouns for the regions, for patient sentences ("Your eye stayed quiet ...").


@dataclass(frozen=True)
class Pacing:
    """Seconds for each phase of one rep."""

    move_s: float = 4.0
    hold_s: float = 3.0
    release_s: float = 4.0
    rest_s: float = 2.0

    def of(self, phase: str) -> float:
        """Duration of ``phase`` (one of :data:`PHASES`)."""
        return float(getattr(self, f"{phase}_s"))

    @property
    def rep_s(self) -> float:
        """One whole rep."""
        return self.move_s + self.hold_s + self.release_s + self.rest_s


@dataclass(frozen=True)
class Pattern:
    """One movement pattern from the library."""

    id: str
    name: str
    target: str
    quiet: tuple[str, ...]
    touch_hint: str
    intro: str
    move: str
    hold: str
    release: str
    rest: str
    quiet_hint: str
    pacing: Pacing
    # Practice quality (see station.tracking.quality): the reading that shows this movement in
    # its own direction and the sign of that movement, and the gentle range's end (mm), which a
    # prescription may tune between GENTLE_MIN_MM and ``gentle_limit_mm``.
    target_reading: str = ""
    target_sign: float = 1.0
    gentle_max_mm: float = 5.0
    gentle_limit_mm: float = 8.0

    def text(self, phase: str) -> str:
        """The plain sentence shown (and meant) during ``phase``."""
        return str(getattr(self, phase))


@dataclass(frozen=True)
class PlanItem:
    """A pattern as prescribed: how many reps, at what pace."""

    pattern: Pattern
    reps: int
    pacing: Pacing


@dataclass(frozen=True)
class Plan:
    """What one session plays, in order."""

    items: tuple[PlanItem, ...]
    source: str = "default"

    def duration_s(self, settle_s: float, intro_s: float, break_s: float) -> float:
        """Planned length of a whole session with no pauses or extra breaks."""
        return settle_s + sum(intro_s + it.reps * it.pacing.rep_s + break_s for it in self.items)


class PatternError(ValueError):
    """A pattern file in the package is malformed (a packaging bug, not user input)."""


def _pattern_from_dict(d: dict[str, Any]) -> Pattern:
    try:
        q = d["quality"]
        pacing = Pacing(**{k: float(v) for k, v in d["pacing"].items()})
        pattern = Pattern(
            id=d["id"], name=d["name"], target=d["target"], quiet=tuple(d["quiet"]),
            touch_hint=d["touch_hint"], intro=d["intro"], move=d["move"], hold=d["hold"],
            release=d["release"], rest=d["rest"], quiet_hint=d["quiet_hint"], pacing=pacing,
            target_reading=q.get("target_reading", d["target"]),
            target_sign=float(q.get("target_sign", 1.0)),
            gentle_max_mm=float(q["gentle_max_mm"]), gentle_limit_mm=float(q["gentle_limit_mm"]),
        )
    except (KeyError, TypeError) as exc:
        raise PatternError(f"pattern {d.get('id', '?')}: {exc}") from exc
    regions = (pattern.target, *pattern.quiet)
    if any(r not in REGIONS for r in regions) or pattern.target in pattern.quiet:
        raise PatternError(f"pattern {pattern.id}: bad regions {regions}")
    if pattern.target_reading not in REGIONS or pattern.target_sign not in (1.0, -1.0) or not (
            0 < pattern.gentle_max_mm <= pattern.gentle_limit_mm):
        raise PatternError(f"pattern {pattern.id}: bad [quality] table")
    return pattern


@cache
def library() -> dict[str, Pattern]:
    """Every pattern shipped with the station, by id."""
    out: dict[str, Pattern] = {}
    for entry in sorted(resources.files("station.practice.patterns").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            pattern = _pattern_from_dict(tomllib.loads(entry.read_text(encoding="utf-8")))
            out[pattern.id] = pattern
    return out


@cache
def release_prompts() -> tuple[str, ...]:
    """Massage / stretch prompts for release breaks, used in turn."""
    text = resources.files("station.practice").joinpath("release.toml").read_text(encoding="utf-8")
    return tuple(tomllib.loads(text)["prompts"])


DEFAULT_PLAN_PATTERNS: tuple[str, ...] = ("eye_closure", "small_smile")
DEFAULT_REPS = 3


def default_plan() -> Plan:
    """The conservative plan a unit plays before anything is prescribed."""
    lib = library()
    return Plan(
        items=tuple(
            PlanItem(lib[pid], DEFAULT_REPS, lib[pid].pacing) for pid in DEFAULT_PLAN_PATTERNS
        ),
        source="default",
    )


def make_plan(entries: list[tuple[str, int, dict[str, float]]], source: str) -> Plan:
    """Build a plan from (pattern id, reps, overrides) triples (already validated).

    Overrides are pacing (``move_s`` ...) and ``gentle_max_mm`` (the pattern's gentle range).
    """
    lib = library()
    items = []
    for pid, reps, overrides in entries:
        pacing = {k: v for k, v in overrides.items() if k != "gentle_max_mm"}
        pattern = lib[pid]
        if "gentle_max_mm" in overrides:
            pattern = replace(pattern, gentle_max_mm=float(overrides["gentle_max_mm"]))
        items.append(PlanItem(pattern, reps, replace(pattern.pacing, **pacing)))
    return Plan(items=tuple(items), source=source)
