"""The loan cycle as a state machine: which action a unit's state allows, and where it leads.

Like the practice engine (:mod:`station.practice.session`), the whole behaviour is one table,
:data:`TABLE` (state x action -> next state), with no I/O: :mod:`.registry` asks
:func:`check` before it changes a row, the pages show only the actions :func:`allowed`
returns, and anything else (a stale page, a hand-made POST) is refused with the sentence in
:data:`WHY_NOT`, before anything is written.

A unit goes round::

    at_clinic/ready --lend--> lent --write lending stick--> out (with the patient)
        --record the return (writes the return stick)--> returned
        --import its records | discard them (named, with a reason)--> records_in
        --wipe confirmed by the unit's result file on the return stick--> ready

So a unit can be lent again only when the previous patient's records were exported and
imported (or discarded by a named person with a reason, in the audit log) and the unit itself
said on the return stick that it holds no patient records: a button cannot say it for the unit.
The return stick may be written again while the unit is back (a lost stick, a failed wipe);
a prescription belongs to an alias, not to a unit, so prescribing is allowed in every state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# states (Unit.state)
AT_CLINIC, LENT, OUT, RETURNED, RECORDS_IN, READY = (
    "at_clinic", "lent", "out", "returned", "records_in", "ready")
STATES = (AT_CLINIC, LENT, OUT, RETURNED, RECORDS_IN, READY)
STATE_WORDS = {
    AT_CLINIC: "new, ready for its first loan",
    LENT: "lent: write its lending stick",
    OUT: "with the patient",
    RETURNED: "back: its records are not imported yet",
    RECORDS_IN: "back: records imported, wipe not confirmed yet",
    READY: "wiped and ready",
}

# actions
PRESCRIBE, LEND, LEND_STICK, RETURN, RETURN_STICK, IMPORT, DISCARD, CONFIRM_WIPE = (
    "prescribe", "lend", "lend_stick", "return", "return_stick", "import", "discard", "wipe")
ACTION_WORDS = {  # "Cannot <words>: <why>."
    PRESCRIBE: "write a prescription for unit {unit}",
    LEND: "lend unit {unit}",
    LEND_STICK: "write a lending stick for unit {unit}",
    RETURN: "record the return of unit {unit}",
    RETURN_STICK: "write a return stick for unit {unit}",
    IMPORT: "import the records of unit {unit}",
    DISCARD: "discard the records of unit {unit}",
    CONFIRM_WIPE: "confirm the wipe of unit {unit}",
}

#: state -> action -> next state. Whatever is not here is refused.
TABLE: dict[str, dict[str, str]] = {
    AT_CLINIC: {PRESCRIBE: AT_CLINIC, LEND: LENT},
    LENT: {PRESCRIBE: LENT, LEND_STICK: OUT, RETURN: RETURNED},
    OUT: {PRESCRIBE: OUT, LEND_STICK: OUT, RETURN: RETURNED},
    RETURNED: {PRESCRIBE: RETURNED, RETURN_STICK: RETURNED, IMPORT: RECORDS_IN, DISCARD: RECORDS_IN},
    RECORDS_IN: {PRESCRIBE: RECORDS_IN, RETURN_STICK: RECORDS_IN, CONFIRM_WIPE: READY},
    READY: {PRESCRIBE: READY, LEND: LENT},
}

#: (state, action) -> why not, for every refusal a page could meet; :func:`why_not` falls back
#: to a sentence built from the words above.
WHY_NOT: dict[tuple[str, str], str] = {
    (RETURNED, LEND): "the previous patient's records are still on it: import them from the "
                      "return stick (or discard them with a reason), then confirm the wipe",
    (RECORDS_IN, LEND): "the unit has not confirmed the wipe yet: read its result from the "
                        "return stick first",
    (LENT, LEND): "it is lent already: record its return first",
    (OUT, LEND): "it is with a patient: record its return first",
    (AT_CLINIC, RETURN): "it is not lent",
    (READY, RETURN): "it is not lent",
    (RETURNED, RETURN): "its return is recorded already",
    (RECORDS_IN, RETURN): "its return is recorded already",
    (RETURNED, CONFIRM_WIPE): "its records are not imported yet: import them from the return "
                              "stick (or discard them with a reason) first",
    (LENT, CONFIRM_WIPE): "it is lent: record its return and write the return stick first",
    (OUT, CONFIRM_WIPE): "it is with a patient: record its return and write the return stick first",
    (AT_CLINIC, CONFIRM_WIPE): "it was never lent, so there is no wipe to confirm",
    (READY, CONFIRM_WIPE): "its wipe is confirmed already",
    (RECORDS_IN, IMPORT): "its records are in already",
    (RECORDS_IN, DISCARD): "its records are in already",
    (AT_CLINIC, LEND_STICK): "it is not lent: lend it first",
    (READY, LEND_STICK): "it is not lent: lend it first",
    (RETURNED, LEND_STICK): "it is back from its loan: a lending stick would mix two patients",
    (RECORDS_IN, LEND_STICK): "it is back from its loan: a lending stick would mix two patients",
}


class Refused(ValueError):
    """The action is not allowed in the unit's state; the message is one plain sentence."""


def why_not(state: str, action: str, unit_id: str = "this unit") -> str:
    """The sentence that refuses ``action`` in ``state``."""
    reason = WHY_NOT.get((state, action))
    if reason is None:
        reason = f"it is {STATE_WORDS.get(state, state).split(':')[0]}"
    what = ACTION_WORDS.get(action, action + " unit {unit}").format(unit=unit_id)
    return f"Cannot {what}: {reason}. Nothing was changed."


def check(state: str, action: str, unit_id: str = "this unit") -> str:
    """The state after ``action`` in ``state``; raises :class:`Refused` when the table has none."""
    nxt = TABLE.get(state, {}).get(action)
    if nxt is None:
        raise Refused(why_not(state, action, unit_id))
    return nxt


def allowed(state: str) -> list[str]:
    """The actions a page may offer in ``state``, in table order."""
    return list(TABLE.get(state, {}))


# ---------------------------------------------------------------- the unit's result file

#: sentences the unit's stick flow writes (station.clinic.stick) that the desk reads back
COPIED_RE = re.compile(r"Records copied and checked \((\d+) files, folder ([A-Za-z0-9][A-Za-z0-9._-]{0,119})\)\.")
WIPED_LINE = "This unit holds no patient records now."


@dataclass(frozen=True)
class StickResult:
    """What a unit's ``result-<unit>.txt`` says it did with a return stick."""

    export_folder: str | None  # the bundle folder it copied to the stick and checked
    wiped: bool  # it said it holds no patient records now

    @classmethod
    def parse(cls, text: str) -> StickResult:
        """Read the status lines (never trusted beyond these two facts)."""
        folder = None
        wiped = False
        for line in text.splitlines():
            line = line.strip()
            if m := COPIED_RE.fullmatch(line):
                folder = m.group(2)
            elif line == WIPED_LINE:
                wiped = True
        return cls(folder, wiped)
