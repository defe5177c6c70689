"""A button that presses by itself, for ``station demo --autoplay`` and the benches.

It runs a whole session the way a patient might: start, pause in the first hold and resume,
one requested release break, dismiss the summary. Never used by ``station run``."""

from __future__ import annotations

import time
from collections.abc import Callable

from station.kiosk.button import ButtonEvent, ScriptedButton
from station.practice.events import State
from station.practice.session import Engine


class Autoplay:
    """A button that presses by itself: start, pause in the first hold and resume, one requested
    release break in a later rep, dismiss the summary. Times are station-clock seconds."""

    def __init__(self, engine: Engine, hold_time: float = 1.5,
                 preparing: Callable[[], bool] = lambda: False, wait_s: float = 300.0) -> None:
        self.engine = engine
        # As a patient would: wait at home while the demo's media are being fetched (up to
        # ``wait_s`` real seconds), so the session is tracked from its start.
        self.preparing = preparing
        self._wait_until = time.monotonic() + wait_s
        self.hold_time = hold_time
        self.inner = ScriptedButton(hold_time, clock=lambda: 0.0)
        self.stage = "start"
        self._since = 0.0
        last = len(engine.plan.items) - 1
        self.break_at = (last, min(1, engine.plan.items[last].reps - 1))

    def poll(self, now: float) -> list[ButtonEvent]:
        """Decide the next press from the engine state, then report due presses."""
        if not self.inner.busy:
            self._decide(now)
        return self.inner.poll(now)

    def _decide(self, now: float) -> None:
        e = self.engine
        view = e.view(now)
        short, long_ = 0.2, self.hold_time + 0.3
        if self.stage == "start" and e.state is State.HOME:
            if self.preparing() and time.monotonic() < self._wait_until:
                return
            self.inner.press_for(now, short)
            self.stage = "pause"
        elif self.stage == "pause" and e.state is State.HOLD and view.phase_elapsed_s >= 1.0:
            self.inner.press_for(now, short)
            self.stage, self._since = "resume", now
        elif self.stage == "resume" and e.state is State.PAUSED and now - self._since >= 3.0:
            self.inner.press_for(now, short)
            self.stage = "break"
        elif (self.stage == "break" and e.state in (State.MOVE, State.HOLD, State.RELEASE)
              and (view.pattern_index, view.rep) == self.break_at):
            self.inner.press_for(now, long_)
            self.stage = "summary"
        elif self.stage == "summary" and e.state is State.SUMMARY:
            if not self._since or self._since < e.counters.finished_at:
                self._since = now
            if now - self._since >= 2.0:
                self.inner.press_for(now, short)
                self.stage = "done"

    def held_for(self, now: float) -> float:
        """How long the simulated press has been held."""
        return self.inner.held_for(now)

    def close(self) -> None:
        """Nothing to close."""


class VirtualClock:
    """A clock that moves only when told (headless autoplay: independent of machine speed)."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        """Move time on."""
        self.t += seconds
