"""The prescription form: form fields to the unit's TOML and back, errors mapped to fields.

The form never validates by itself: it writes what was typed into a prescription file and
hands it to the unit's own validator (:func:`station.clinic.prescription.validate_bytes`), then puts
each problem next to the field it came from, in the validator's words. So the desk can never
accept what a unit would refuse, nor refuse what it would accept. The validator's warnings (a
session much longer or shorter than its target, an alias that looks like a name, reminders in
quiet hours) are shown before anything is saved; saving again accepts them, in the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tomli_w

from station.clinic import prescription as rx
from station.config import Problem
from station.practice.events import Timing
from station.practice.plan import Pattern, library, make_plan
from station.practice.session import Engine
from station.practice.words import REGION_NOUN

PACING = tuple(rx.PACING_BOUNDS)
GENTLE = "gentle_max_mm"  # the top of a pattern's gentle range (the validator bounds it)
FIELD_OF = {
    "patient.alias": "alias", "patient.affected_side": "affected_side",
    "session.target_minutes": "target_minutes", "session.sessions_per_day": "sessions_per_day",
    "session.checkin_every_days": "checkin_every_days",
    "reminders.times": "reminder_times", "reminders.quiet_start": "quiet_start",
    "reminders.quiet_end": "quiet_end", "message": "message", "pattern": "patterns",
}


@dataclass(frozen=True)
class PatternChoice:
    """One pattern on the form, with its plain description."""

    pattern: Pattern

    @property
    def description(self) -> str:
        """What the patient does and what stays quiet, in plain words."""
        p = self.pattern
        quiet = ", ".join(REGION_NOUN[r] for r in p.quiet)
        return f"{p.intro} Moves the {REGION_NOUN[p.target]}; keeps the {quiet} quiet."


def choices() -> list[PatternChoice]:
    """Every pattern of the library, in a stable order."""
    order = ["eye_closure", "small_smile", "pucker", "ee", "brow_lift", "snarl"]
    lib = library()
    ids = [i for i in order if i in lib] + sorted(set(lib) - set(order))
    return [PatternChoice(lib[i]) for i in ids]


MAX_NUMBER_CHARS = 15  # longer "numbers" go to the validator as text, which it names as wrong
Value = int | float | str


def _value(text: str) -> Value:
    """A form entry as a TOML value: a number when it reads as one, else a string (a number
    of thousands of digits is text, cut short: the validator names it, nothing overflows)."""
    t = text.strip()
    if len(t) > MAX_NUMBER_CHARS:
        return t[:MAX_NUMBER_CHARS] + "..." if len(t) > 40 else t
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", t):
        return float(t)
    return t


def to_data(form: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(the prescription's tables, pattern ids in file order) for what the form holds: what
    was typed, as typed (stripped), numbers where they read as numbers; nothing is judged."""
    doc: dict[str, Any] = {"schema": 1}
    if form.get("message", "").strip():
        doc["message"] = form["message"].strip()
    doc["patient"] = {"alias": form.get("alias", "").strip(), "affected_side": form.get("affected_side", "")}
    doc["session"] = {key: _value(form[key]) for key in ("target_minutes", "sessions_per_day", "checkin_every_days")
                      if form.get(key, "").strip()}
    reminders: dict[str, Any] = {"times": [t for t in re.split(r"[\s,;]+", form.get("reminder_times", "")) if t]}
    reminders |= {key: form[key].strip() for key in ("quiet_start", "quiet_end") if form.get(key, "").strip()}
    doc["reminders"] = reminders
    ids, patterns = [], []
    for c in choices():
        pid = c.pattern.id
        if not form.get(f"use_{pid}"):
            continue
        ids.append(pid)
        reps = form.get(f"{pid}_reps", "").strip()
        table: dict[str, Value] = {"id": pid, "reps": _value(reps) if reps else 3}
        table |= {key: _value(v) for key in (*PACING, GENTLE) if (v := form.get(f"{pid}_{key}", "").strip())}
        patterns.append(table)
    if patterns:
        doc["pattern"] = patterns
    return doc, ids


def to_toml(form: Mapping[str, str]) -> tuple[str, list[str]]:
    """(TOML text, pattern ids in file order) for what the form holds, written by tomli-w:
    any text a technician types (quotes, newlines, any script) is a TOML string that reads
    back as typed, so the validator judges the content, never a quoting accident."""
    doc, ids = to_data(form)
    return tomli_w.dumps(doc), ids


def field_errors(problems: list[Problem], ids: list[str]) -> dict[str, str]:
    """Problem -> form field name -> message in the validator's own words."""
    errors: dict[str, str] = {}
    for p in problems:
        name = FIELD_OF.get(p.key)
        m = re.fullmatch(r"pattern\[(\d+)\]\.?(\w*)", p.key)
        if m and int(m.group(1)) <= len(ids):
            pid = ids[int(m.group(1)) - 1]
            name = f"{pid}_{m.group(2)}" if m.group(2) else f"use_{pid}"
        name = name or "form"
        text = f"found {p.found}; allowed: {p.allowed}"
        errors[name] = f"{errors[name]} / {text}" if name in errors else text
    return errors


def from_toml(text: str) -> dict[str, str]:
    """Form fields for a stored (valid) prescription, to edit it."""
    d = tomllib.loads(text)
    patient, session, rem = d.get("patient", {}), d.get("session", {}), d.get("reminders", {})
    form = {"alias": patient.get("alias", ""), "affected_side": patient.get("affected_side", ""),
            "message": d.get("message", ""),
            "target_minutes": f"{session.get('target_minutes', 2):g}",
            "sessions_per_day": str(session.get("sessions_per_day", 3)),
            "checkin_every_days": str(session.get("checkin_every_days", "")),
            "reminder_times": ", ".join(rem.get("times", [])),
            "quiet_start": rem.get("quiet_start", ""), "quiet_end": rem.get("quiet_end", "")}
    for p in d.get("pattern", []):
        pid = p["id"]
        form[f"use_{pid}"] = "on"
        form[f"{pid}_reps"] = str(p.get("reps", ""))
        for key in (*PACING, GENTLE):
            if key in p:
                form[f"{pid}_{key}"] = f"{p[key]:g}"
    return form


def new_form(alias: str = "") -> dict[str, str]:
    """A blank form: only what is saved as it stands is filled in (the unit's defaults for
    the session and a gentle pair of patterns); examples are placeholders, never values."""
    form = {"alias": alias, "sessions_per_day": str(rx.Prescription.sessions_per_day),
            "use_eye_closure": "on", "use_small_smile": "on"}
    minutes = preview_minutes(form) or rx.Prescription.target_minutes
    return {**form, "target_minutes": f"{max(1, round(minutes))}"}  # the target the patterns take


def warnings_token(warnings: list[str]) -> str:
    """What the form carries once its warnings were shown (so a second save accepts these,
    and only these: a change that brings another warning shows it again)."""
    return hashlib.sha256("\n".join(warnings).encode("utf-8")).hexdigest()[:20] if warnings else ""


def warnings_accepted(warnings: list[str], token: str) -> bool:
    """True when there are no warnings, or the technician saw exactly these and saved again."""
    return not warnings or hmac.compare_digest(token, warnings_token(warnings))


def timing() -> Timing:
    """The session pieces outside the patterns (settling in, introductions, breaks)."""
    return Timing()


def preview_minutes(form: Mapping[str, str]) -> float | None:
    """The session's length as the unit will play it (the engine's own schedule, word-based
    introductions included), from whatever parses on the form; None when nothing does."""
    entries = []
    for c in choices():
        pid = c.pattern.id
        if not form.get(f"use_{pid}"):
            continue
        try:
            reps = int(form.get(f"{pid}_reps", "").strip() or 3)
            overrides = {k: float(v) for k in PACING if (v := form.get(f"{pid}_{k}", "").strip())}
        except ValueError:
            return None
        if not (0 < reps <= 100 and all(0 < v <= 600 for v in overrides.values())):
            return None
        entries.append((pid, reps, overrides))
    if not entries:
        return None
    return Engine(make_plan(entries, "preview"), timing()).planned_s / 60.0


def intro_seconds() -> dict[str, float]:
    """Each pattern's introduction length (for the page's live preview of the length)."""
    t = timing()
    out = {}
    for c in choices():
        p = c.pattern
        one = Engine(make_plan([(p.id, 1, {})], "preview"), t).planned_s
        out[p.id] = one - t.settle_s - t.break_s - p.pacing.rep_s
    return out
