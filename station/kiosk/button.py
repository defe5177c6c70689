"""The one button: GPIO (gpiozero) on the Pi, the space bar on a laptop, same grammar.

A short press starts, pauses, resumes and dismisses; a long press (held >= ``hold_time``)
takes a release break or ends one. Both sources feed the same pure :class:`PressClassifier`,
which turns press/release times into at most ONE event per hold, decided on release
(gpiozero's FAQ pattern "flag in when_held, act in when_released", with the duration taken
from the injected clock so tests drive it with a fake clock and no sleeping).

A hold longer than :data:`STUCK_AFTER_S` is not a press any more: something is lying on the
button or the wiring is faulty. The classifier reports :class:`Stuck` once (the kiosk shows a
plain notice) and the eventual release gives :class:`Unstuck` and no action.

gpiozero calls back on its own threads; :class:`GpioButton` only puts timestamped edges into
a thread-safe queue that the UI loop drains with :meth:`GpioButton.poll`.
"""

from __future__ import annotations

import logging
import queue
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: A hold this long (seconds) is treated as a stuck button, not a press.
STUCK_AFTER_S = 20.0

Clock = Callable[[], float]


@dataclass(frozen=True)
class ShortPress:
    """Pressed and released before ``hold_time``."""


@dataclass(frozen=True)
class LongPress:
    """Held for at least ``hold_time``; ``duration`` lets the app spot a very long hold."""

    duration: float


@dataclass(frozen=True)
class Stuck:
    """The button has been down longer than the stuck limit (reported once per hold)."""

    held_s: float


@dataclass(frozen=True)
class Unstuck:
    """A stuck button came back up: no action, just clear the notice."""

    held_s: float


ButtonEvent = ShortPress | LongPress | Stuck | Unstuck


class PressClassifier:
    """Pure press/release -> event logic with explicit times (no clock, no threads)."""

    def __init__(self, hold_time: float = 1.5, stuck_after: float = STUCK_AFTER_S) -> None:
        self.hold_time = hold_time
        self.stuck_after = max(stuck_after, hold_time)
        self._down_at: float | None = None
        self._stuck = False

    @property
    def is_down(self) -> bool:
        """True while the button is held."""
        return self._down_at is not None

    def held_for(self, now: float) -> float:
        """Seconds the button has been held at ``now`` (0 when up)."""
        return 0.0 if self._down_at is None else max(0.0, now - self._down_at)

    def press(self, t: float) -> None:
        """The button went down at ``t``. A second down without an up is ignored."""
        if self._down_at is None:
            self._down_at = t
            self._stuck = False

    def poll(self, now: float) -> Stuck | None:
        """Call regularly: reports :class:`Stuck` once when a hold passes the stuck limit."""
        down = self._down_at
        if down is not None and not self._stuck and now - down >= self.stuck_after:
            self._stuck = True
            return Stuck(now - down)
        return None

    def release(self, t: float) -> ShortPress | LongPress | Unstuck | None:
        """The button came up at ``t``: the one event this hold produces (or None)."""
        if self._down_at is None:
            return None
        held = max(0.0, t - self._down_at)
        self._down_at = None
        if self._stuck or held >= self.stuck_after:
            self._stuck = False
            return Unstuck(held)
        if held >= self.hold_time:
            return LongPress(held)
        return ShortPress()


class Button(Protocol):
    """What the UI loop needs from a button source."""

    def poll(self, now: float) -> list[ButtonEvent]:
        """Events since the last poll, in order."""
        ...

    def held_for(self, now: float) -> float:
        """Seconds the button is currently held (for a 'keep holding' hint)."""
        ...

    def close(self) -> None:
        """Release the hardware."""
        ...


class _EdgeButton:
    """Shared part: a queue of (kind, t) edges fed into a classifier on the UI thread."""

    def __init__(self, hold_time: float, clock: Clock, stuck_after: float = STUCK_AFTER_S) -> None:
        self.clock = clock
        self.classifier = PressClassifier(hold_time, stuck_after)
        self._edges: queue.SimpleQueue[tuple[str, float]] = queue.SimpleQueue()

    def _edge(self, kind: str) -> None:
        self._edges.put((kind, self.clock()))

    def poll(self, now: float) -> list[ButtonEvent]:
        """Drain the edges queued since the last call and classify them."""
        out: list[ButtonEvent] = []
        while True:
            try:
                kind, t = self._edges.get_nowait()
            except queue.Empty:
                break
            if kind == "down":
                self.classifier.press(t)
            else:
                stuck = self.classifier.poll(t)
                if stuck:
                    out.append(stuck)
                ev = self.classifier.release(t)
                if ev is not None:
                    out.append(ev)
        stuck = self.classifier.poll(now)
        if stuck:
            out.append(stuck)
        return out

    def held_for(self, now: float) -> float:
        """Seconds held at ``now``."""
        return self.classifier.held_for(now)

    def close(self) -> None:
        """Nothing to release."""


class ButtonUnavailable(RuntimeError):
    """No GPIO here (no pin factory, no permission): use the keyboard instead."""


class GpioButton(_EdgeButton):
    """A gpiozero ``Button`` on a BCM pin, pulled up, wired to ground when pressed.

    The pin factory is gpiozero's seam: tests (and this example) use its ``MockFactory``.

    >>> from gpiozero.pins.mock import MockFactory
    >>> now = [0.0]
    >>> button = GpioButton(17, hold_time=1.5, clock=lambda: now[0], pin_factory=MockFactory())
    >>> pin = button.pin
    >>> pin.drive_low(); now[0] = 0.3; pin.drive_high()
    >>> button.poll(now[0])
    [ShortPress()]
    >>> pin.drive_low(); now[0] = 2.5; pin.drive_high()
    >>> button.poll(now[0])
    [LongPress(duration=2.2)]
    >>> button.close()
    """

    def __init__(
        self,
        pin: int = 17,
        hold_time: float = 1.5,
        bounce_time: float | None = 0.05,
        clock: Clock | None = None,
        pin_factory: Any = None,
        stuck_after: float = STUCK_AFTER_S,
    ) -> None:
        import time

        super().__init__(hold_time, clock or time.monotonic, stuck_after)
        # gpiozero warns once per pin library it cannot load; one log line each is enough.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                from gpiozero import Button as _Button

                self._button = _Button(
                    pin, pull_up=True, bounce_time=bounce_time or None, hold_time=hold_time,
                    pin_factory=pin_factory,
                )
            except Exception as exc:  # noqa: BLE001 - BadPinFactory, permissions, missing chip
                raise ButtonUnavailable(f"GPIO button on pin {pin} not available: {exc}") from exc
            finally:
                for w in caught:
                    log.info("gpiozero: %s", w.message)
        # Runs on gpiozero's threads: only queue timestamped edges.
        self._button.when_pressed = lambda: self._edge("down")
        self._button.when_released = lambda: self._edge("up")

    @property
    def pin(self) -> Any:
        """The gpiozero pin (a mock pin in tests: ``drive_low()`` presses)."""
        return self._button.pin

    def close(self) -> None:
        """Release the pin."""
        try:
            self._button.close()
        except Exception:  # noqa: BLE001 - closing must never take the kiosk down
            log.exception("closing the GPIO button failed")


class KeyboardButton(_EdgeButton):
    """The space bar as the button (laptop demo): feed it pygame key events."""

    def __init__(self, hold_time: float = 1.5, clock: Clock | None = None,
                 stuck_after: float = STUCK_AFTER_S) -> None:
        import time

        super().__init__(hold_time, clock or time.monotonic, stuck_after)

    def handle_event(self, event: Any) -> None:
        """Take a pygame event; space KEYDOWN/KEYUP become button edges."""
        import pygame

        if event.type in (pygame.KEYDOWN, pygame.KEYUP) and event.key == pygame.K_SPACE:
            self._edge("down" if event.type == pygame.KEYDOWN else "up")


class ScriptedButton(_EdgeButton):
    """Presses decided by a script (autoplay): ``press_for(seconds)`` queues a whole press."""

    def __init__(self, hold_time: float = 1.5, clock: Clock | None = None) -> None:
        import time

        super().__init__(hold_time, clock or time.monotonic)
        self._planned: list[tuple[float, str]] = []

    def press_for(self, start: float, seconds: float) -> None:
        """Schedule a press at ``start`` released ``seconds`` later (engine time)."""
        self._planned += [(start, "down"), (start + seconds, "up")]

    @property
    def busy(self) -> bool:
        """True while a scheduled press has not finished."""
        return bool(self._planned) or self.classifier.is_down

    def poll(self, now: float) -> list[ButtonEvent]:
        """Release scheduled edges that are due, then classify them."""
        while self._planned and self._planned[0][0] <= now:
            t, kind = self._planned.pop(0)
            self._edges.put((kind, t))
        return super().poll(now)


def open_gpio_button(pin: int, hold_time: float, bounce_time: float,
                     clock: Clock | None = None) -> GpioButton:
    """The real GPIO button; raises :class:`ButtonUnavailable` on a machine without GPIO."""
    return GpioButton(pin, hold_time, bounce_time, clock)
