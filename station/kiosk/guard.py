"""The kiosk's fault guard, applied once where the services are built.

A service that raises must never stop the guide: the exception becomes a log line (once a
minute per service and call at most) and a calm notice, and the loop goes on by time.
:func:`guard` wraps each service of :class:`~station.kiosk.services.Services` in a class that
implements the same Protocol and does exactly that, so :class:`~station.kiosk.app.Station`
calls its services as plain typed methods (``self.recorder.on_outputs(outs, now, measured)``)
and a reader can follow a button press to a stored row. A failing call answers with a value
that means "nothing": no feedback, nothing measured, no notices, the last home info.

:class:`Faults` keeps the count and writes the notice onto the board the loop shows (the
station's ``notices`` dict); a service that works again takes its notice away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from station.feedback import (
    NOTHING_MEASURED,
    ClinicianInfo,
    HomeInfo,
    LiveFeedback,
    Measured,
    Notice,
    Observation,
    PatternResult,
    Side,
    TrackingStatus,
)
from station.kiosk.services import (
    ChoresResult,
    ChoresService,
    InfoFacts,
    InfoProvider,
    RecorderService,
    Services,
    TrackingService,
    VoiceService,
    Watchdog,
)
from station.practice import words
from station.practice.events import Output, View
from station.practice.plan import Plan

log = logging.getLogger(__name__)

T = TypeVar("T")

_FAILED_TEXT = {"tracking": words.TRACKING_FAILED, "recorder": words.RECORDS_FAILED}
# Their trouble is logged only: no voice still leaves the tones, a button has its own notice.
_SILENT = frozenset({"heartbeat", "ready", "button", "voice"})
LOG_EVERY_S = 60.0


class Faults:
    """Counts failures per (service, call); shows a notice per failing service on ``board``."""

    def __init__(self, board: dict[str, Notice], clock: Callable[[], float] = time.monotonic) -> None:
        self.board = board
        self.clock = clock
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}
        self._failing: dict[str, set[str]] = {}

    def call(self, service: str, what: str, fn: Callable[[], T], default: T) -> T:
        """``fn()``, or ``default`` after logging and noticing the exception it raised."""
        try:
            result = fn()
        except Exception:  # noqa: BLE001 - the whole point: keep guiding
            self.failed(service, what)
            return default
        failing = self._failing.get(service)
        if failing and what in failing:
            failing.discard(what)
            if not failing:
                log.info("%s works again", service)
                self.board.pop(f"failed:{service}", None)
        return result

    def failed(self, service: str, what: str) -> None:
        """Log (once a minute per service and call at most) and show a calm notice.

        Call it from an ``except`` block: the log line carries the exception."""
        count, last = self._failures.get((service, what), (0, float("-inf")))
        now = self.clock()
        if count == 0 or now - last >= LOG_EVERY_S:
            log.exception("%s %s failed (%d times before); the kiosk goes on", service, what, count)
            last = now
        self._failures[(service, what)] = (count + 1, last)
        if service not in _SILENT:
            self._failing.setdefault(service, set()).add(what)
            key = f"failed:{service}"
            self.board[key] = Notice(_FAILED_TEXT.get(service, words.SERVICE_FAILED), "attention", key)


class GuardedTracking:
    """A :class:`~station.kiosk.services.TrackingService` whose failures are only noticed."""

    def __init__(self, inner: TrackingService, faults: Faults) -> None:
        self.inner, self._faults = inner, faults

    def _call(self, what: str, fn: Callable[[], T], default: T) -> T:
        return self._faults.call("tracking", what, fn, default)

    @property
    def needs_calibration(self) -> bool:
        """As the tracking says; False when it cannot say (guide by time)."""
        return self._call("needs_calibration", lambda: self.inner.needs_calibration, False)

    @property
    def camera_kind(self) -> str:
        """As the tracking says, else "unknown"."""
        return self._call("camera_kind", lambda: self.inner.camera_kind, "unknown")

    def start(self) -> None:
        """Start the camera and the model."""
        self._call("start", self.inner.start, None)

    def poll(self, now: float, view: View) -> tuple[LiveFeedback, list[Observation]]:
        """The meters and what was seen; tracking off and nothing seen when it fails."""
        off: tuple[LiveFeedback, list[Observation]] = (LiveFeedback(TrackingStatus.OFF), [])
        return self._call("poll", lambda: self.inner.poll(now, view), off)

    def follow(self, outputs: list[Output]) -> Measured:
        """What was measured at these outputs; nothing when it fails."""
        return self._call("follow", lambda: self.inner.follow(outputs), Measured())

    def set_plan(self, plan: Plan, affected_side: Side) -> None:
        """Measure ``plan`` from the next session."""
        self._call("set_plan", lambda: self.inner.set_plan(plan, affected_side), None)

    def stop(self) -> None:
        """Stop the camera and the model."""
        self._call("stop", self.inner.stop, None)


class GuardedRecorder:
    """A :class:`~station.kiosk.services.RecorderService` whose failures are only noticed."""

    def __init__(self, inner: RecorderService, faults: Faults) -> None:
        self.inner, self._faults = inner, faults
        self._home = HomeInfo()

    def _call(self, what: str, fn: Callable[[], T], default: T) -> T:
        return self._faults.call("recorder", what, fn, default)

    def on_outputs(self, outputs: list[Output], now: float, measured: Measured = NOTHING_MEASURED) -> None:
        """Keep the outputs and what was measured at them."""
        self._call("on_outputs", lambda: self.inner.on_outputs(outputs, now, measured), None)

    def home_info(self, now: float) -> HomeInfo:
        """The home screen's counts; the last ones read when the store cannot answer."""
        self._home = self._call("home_info", lambda: self.inner.home_info(now), self._home)
        return self._home

    def pattern_results(self) -> list[PatternResult]:
        """One sentence per pattern from the store's numbers; none when it cannot answer."""
        return self._call("pattern_results", self.inner.pattern_results, [])

    def notices(self) -> list[Notice]:
        """The store's own notices (storage full, room again)."""
        return self._call("notices", self.inner.notices, [])

    def set_plan(self, plan: Plan, affected_side: Side) -> None:
        """Record the next sessions under ``plan``."""
        self._call("set_plan", lambda: self.inner.set_plan(plan, affected_side), None)

    def wipe(self) -> None:
        """Wipe every patient record."""
        self._call("wipe", self.inner.wipe, None)

    @property
    def pending_rows(self) -> int:
        """Rows waiting in memory for room."""
        return self._call("pending_rows", lambda: self.inner.pending_rows, 0)

    def flush(self) -> bool:
        """Give waiting rows a try."""
        return self._call("flush", self.inner.flush, False)

    def stop(self) -> None:
        """Close the store."""
        self._call("stop", self.inner.stop, None)


class GuardedChores:
    """A :class:`~station.kiosk.services.ChoresService` whose failures are only noticed."""

    def __init__(self, inner: ChoresService, faults: Faults) -> None:
        self.inner, self._faults = inner, faults

    def _call(self, what: str, fn: Callable[[], T], default: T) -> T:
        return self._faults.call("housekeeping", what, fn, default)

    @property
    def busy(self) -> bool:
        """A clinic stick is being read."""
        return self._call("busy", lambda: self.inner.busy, False)

    @property
    def reminder_chime(self) -> bool:
        """A reminder asks for a chime."""
        return self._call("reminder_chime", lambda: self.inner.reminder_chime, False)

    def tick(self, practising: bool, now: float) -> ChoresResult:
        """One round of chores; nothing asked of the loop when it fails."""
        return self._call("tick", lambda: self.inner.tick(practising, now), ChoresResult())

    def home_info(self, info: HomeInfo) -> HomeInfo:
        """``info`` with the therapist's message and a reminder; unchanged when it fails."""
        return self._call("home_info", lambda: self.inner.home_info(info), info)

    def session_ended(self) -> None:
        """Remember when practice ended."""
        self._call("session_ended", self.inner.session_ended, None)


class GuardedVoice:
    """A :class:`~station.kiosk.services.VoiceService` whose failures are only logged."""

    def __init__(self, inner: VoiceService, faults: Faults) -> None:
        self.inner, self._faults = inner, faults

    def _call(self, what: str, fn: Callable[[], None]) -> None:
        self._faults.call("voice", what, fn, None)

    def start(self, plan: Plan) -> None:
        """Prepare the plan's cues."""
        self._call("start", lambda: self.inner.start(plan))

    def set_plan(self, plan: Plan) -> None:
        """Prepare a new plan's cues."""
        self._call("set_plan", lambda: self.inner.set_plan(plan))

    def follow(self, outputs: list[Output], plan: Plan, release_prompt: str = "",
               results: list[str] | tuple[str, ...] = ()) -> None:
        """Say what the outputs call for."""
        self._call("follow", lambda: self.inner.follow(outputs, plan, release_prompt, results))

    def hint(self, name: str, text: str) -> None:
        """Say a calm hint."""
        self._call("hint", lambda: self.inner.hint(name, text))

    def tick(self) -> None:
        """Play what is rendered."""
        self._call("tick", self.inner.tick)

    def stop(self) -> None:
        """Stop speaking."""
        self._call("stop", self.inner.stop)


class GuardedWatchdog:
    """A :class:`~station.kiosk.services.Watchdog` whose failures are only logged."""

    def __init__(self, inner: Watchdog, faults: Faults) -> None:
        self.inner, self._faults = inner, faults

    def heartbeat(self) -> None:
        """One heartbeat."""
        self._faults.call("heartbeat", "beat", self.inner.heartbeat, None)

    def ready(self) -> None:
        """The first frame is up."""
        self._faults.call("ready", "ready", self.inner.ready, None)


@dataclass(frozen=True)
class Guarded:
    """The services as the loop calls them: each behind the guard."""

    tracking: GuardedTracking
    recorder: GuardedRecorder
    chores: GuardedChores
    voice: GuardedVoice
    watchdog: GuardedWatchdog
    info: InfoProvider


def guard(services: Services, faults: Faults) -> Guarded:
    """Wrap every service of ``services`` once, all reporting to ``faults``."""
    provide = services.info

    def info(facts: InfoFacts) -> ClinicianInfo:
        return faults.call("info", "provide", lambda: provide(facts), ClinicianInfo())

    return Guarded(GuardedTracking(services.tracking, faults),
                   GuardedRecorder(services.recorder, faults), GuardedChores(services.chores, faults),
                   GuardedVoice(services.voice, faults), GuardedWatchdog(services.watchdog, faults), info)
