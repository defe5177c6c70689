"""Test helpers: a tiny TOML writer for prescription dicts, and a valid example."""

from __future__ import annotations

from typing import Any

VALID: dict[str, Any] = {
    "schema": 1,
    "message": "Small and slow. Feel the cheek, not the mirror.",
    "patient": {"alias": "P-0417", "affected_side": "left"},
    "session": {"target_minutes": 3, "sessions_per_day": 3},
    "reminders": {"times": ["09:00", "13:00", "18:30"], "quiet_start": "21:00",
                  "quiet_end": "08:00"},
    "pattern": [{"id": "eye_closure", "reps": 3}, {"id": "small_smile", "reps": 4, "hold_s": 5}],
}


def _str(s: str) -> str:
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def value(v: Any) -> str:
    """One TOML value (inline)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)  # inf, -inf, nan and 1e+20 are TOML too
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def _key(k: str) -> str:
    return k if k and all(c.isalnum() and c.isascii() or c in "-_" for c in k) else _str(k)


def dumps(doc: dict[str, Any]) -> str:
    """TOML text: scalars first, then [tables], then [[pattern]] arrays of tables."""
    lines, tables = [], []
    for k, v in doc.items():
        table_array = isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
        if isinstance(v, dict) or table_array:
            tables.append((k, v))
        else:
            lines.append(f"{_key(k)} = {value(v)}")
    for k, v in tables:
        bodies = [v] if isinstance(v, dict) else v
        for body in bodies:
            lines.append("")
            lines.append(f"[{_key(k)}]" if isinstance(v, dict) else f"[[{_key(k)}]]")
            for kk, vv in body.items():
                lines.append(f"{_key(kk)} = {value(vv)}")
    return "\n".join(lines) + "\n"
