"""Gentle practice reminders: pure functions of the prescription, the time and the last session.

A reminder time ("HH:MM", local) is *due* from that time until a session is done or the window
(60 min) passes. A session that ended from half a window before the time counts too (someone
who practised at 08:45 is not reminded at 09:00). Each reminder time chimes at most once a day
(the kiosk remembers which slots chimed, see :class:`ReminderState`); inside quiet hours nothing
shows. The home screen shows :data:`PROMPT` while a reminder is due.

>>> import datetime as dt
>>> r = due(dt.datetime(2026, 5, 4, 9, 10), ("09:00",), None, None, None)
>>> r.text, r.slot
("It's a good time for a short practice.", '09:00')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from station.practice import words


class ReminderTimes(Protocol):
    """What reminders need of a prescription (``station.clinic.prescription.Prescription``)."""

    reminder_times: tuple[str, ...]
    quiet_start: str | None
    quiet_end: str | None


def clock_minutes(hhmm: str) -> int:
    """Minutes after midnight of an "HH:MM" time."""
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_quiet_hours(minute_of_day: int, start: str | None, end: str | None) -> bool:
    """True when ``minute_of_day`` falls in quiet hours (which may wrap past midnight)."""
    if not start or not end:
        return False
    s, e = clock_minutes(start), clock_minutes(end)
    if s == e:
        return False
    return s <= minute_of_day < e if s < e else minute_of_day >= s or minute_of_day < e

PROMPT = words.REMINDER_PROMPT
WINDOW = dt.timedelta(minutes=60)


@dataclass(frozen=True)
class Reminder:
    """A due reminder: the prompt, whether to play the soft chime now, and its slot."""

    text: str
    chime: bool
    slot: str  # "HH:MM"
    since: dt.datetime


def _slot_time(day: dt.date, hhmm: str, tz: dt.tzinfo | None) -> dt.datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m), tz)


def due(now: dt.datetime, times: tuple[str, ...], last_session_end: dt.datetime | None,
        quiet_start: str | None, quiet_end: str | None, chimed: frozenset[tuple[str, str]] = (
            frozenset()), window: dt.timedelta = WINDOW) -> Reminder | None:
    """The reminder due at ``now``, or None. ``chimed`` holds (date iso, slot) already chimed.

    A window reaching past midnight is honoured (a 23:30 slot is due at 00:10).
    """
    if in_quiet_hours(now.hour * 60 + now.minute, quiet_start, quiet_end):
        return None
    best: Reminder | None = None
    for day in (now.date() - dt.timedelta(days=1), now.date()):
        for slot in times:
            start = _slot_time(day, slot, now.tzinfo)
            if not start <= now < start + window:
                continue
            if last_session_end is not None and last_session_end >= start - window / 2:
                continue
            chime = (day.isoformat(), slot) not in chimed
            cand = Reminder(PROMPT, chime, slot, start)
            if best is None or cand.since > best.since:
                best = cand
    return best


@dataclass
class ReminderState:
    """The kiosk's memory of chimed slots, so each time chimes at most once a day.

    Call :meth:`check` from the home screen (e.g. once a second) with the current local time.
    """

    chimed: set[tuple[str, str]] = field(default_factory=set)

    def check(self, now: dt.datetime, prescription: ReminderTimes,
              last_session_end: dt.datetime | None) -> Reminder | None:
        """The reminder to show now (``chime`` True only the first time for its slot)."""
        r = due(now, prescription.reminder_times, last_session_end, prescription.quiet_start,
                prescription.quiet_end, frozenset(self.chimed))
        if r is not None and r.chime:
            self.chimed.add((r.since.date().isoformat(), r.slot))
        cutoff = (now - dt.timedelta(days=2)).date().isoformat()
        self.chimed = {c for c in self.chimed if c[0] >= cutoff}
        return r
