"""The kiosk's services, as the loop sees them: one Protocol each, with a null implementation.

Theory of operation
-------------------
:class:`~station.kiosk.app.Station` is the loop; everything else plugs in through
:class:`Services`, built in one place (:mod:`station.kiosk.wiring`) for ``station run`` and
``station demo``, and by hand in tests. Each real service implements its Protocol below and
each null service stands in when the real one is missing, so the loop never asks what a
service can do. Data flows one way: the engine's outputs go to the tracking, which answers
with what it measured at those edges (``follow`` returns a :class:`~station.feedback.Measured`:
a rep's numbers, the baseline, a pattern's sentence); the outputs and the measurements go
together to the recorder. Between outputs the tracking reads the engine's
:class:`~station.practice.events.View` (``poll``); its observations come back to the loop,
which turns them into engine events. The chores are told the facts they need (is a practice
under way, the time) and answer with a :class:`ChoresResult` the loop applies; they never call
back into the loop.

The loop calls every service as a plain method: :func:`station.kiosk.guard.guard` wraps each
one once, when the station is built, in a class of the same Protocol that turns an exception
into a log line and a calm notice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from station import __version__
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
from station.practice.events import Output, View
from station.practice.plan import Plan


@dataclass(frozen=True)
class ClearNotice:
    """Take the notice with ``key`` off the screen."""

    key: str


NoticeChange = Notice | ClearNotice  # shown (replacing one of the same key) or cleared, in order


@dataclass(frozen=True)
class NewPlan:
    """A new prescription's plan, played from the next session."""

    plan: Plan
    affected_side: Side | None  # None: the unit's own setting stays
    checkin_every_days: int | None = None


@dataclass(frozen=True)
class ChoresResult:
    """What one round of chores asks of the loop: notices to show or clear, a new plan."""

    notices: tuple[NoticeChange, ...] = ()
    plan: NewPlan | None = None


class TrackingService(Protocol):
    """Face tracking: frames in, meters and observations out; follows the session's outputs."""

    @property
    def needs_calibration(self) -> bool:
        """The session waits in settle for a calibration (read-only)."""

    @property
    def camera_kind(self) -> str:
        """Pi camera, webcam, video file, simulated patient, none (read-only)."""

    def start(self) -> None: ...

    def poll(self, now: float, view: View) -> tuple[LiveFeedback, list[Observation]]: ...

    def follow(self, outputs: list[Output]) -> Measured: ...

    def set_plan(self, plan: Plan, affected_side: Side) -> None: ...

    def stop(self) -> None: ...


class VoiceService(Protocol):
    """Spoken guidance after the phase tones (:mod:`station.kiosk.voice`)."""

    def start(self, plan: Plan) -> None: ...

    def set_plan(self, plan: Plan) -> None: ...

    def follow(self, outputs: list[Output], plan: Plan, release_prompt: str = "",
               results: list[str] | tuple[str, ...] = ()) -> None: ...

    def hint(self, name: str, text: str) -> None: ...

    def tick(self) -> None: ...

    def stop(self) -> None: ...


class RecorderService(Protocol):
    """The record store: keeps the output stream, answers with home info and results."""

    def on_outputs(self, outputs: list[Output], now: float, measured: Measured = ...) -> None: ...

    def home_info(self, now: float) -> HomeInfo: ...

    def pattern_results(self) -> list[PatternResult]: ...

    def notices(self) -> list[Notice]: ...

    def set_plan(self, plan: Plan, affected_side: Side) -> None: ...

    def wipe(self) -> None: ...

    @property
    def pending_rows(self) -> int: ...

    def flush(self) -> bool: ...

    def stop(self) -> None: ...


class ChoresService(Protocol):
    """Once-a-second chores outside a session (clinic sticks, reminders, notices)."""

    @property
    def busy(self) -> bool:
        """A clinic stick is being read: a practice starts after it (read-only)."""

    @property
    def reminder_chime(self) -> bool:
        """A reminder is due and asks for a chime (read-only)."""

    def tick(self, practising: bool, now: float) -> ChoresResult: ...

    def home_info(self, info: HomeInfo) -> HomeInfo: ...

    def session_ended(self) -> None: ...


class Watchdog(Protocol):
    """The systemd watchdog: a heartbeat every loop, ready once the first frame is up."""

    def heartbeat(self) -> None: ...

    def ready(self) -> None: ...


@dataclass(frozen=True)
class InfoFacts:
    """What the loop knows that the clinician info screen shows."""

    status: TrackingStatus
    camera_kind: str
    plan: Plan
    affected_side: Side


InfoProvider = Callable[[InfoFacts], ClinicianInfo]


class NullTracking:
    """No tracking: the station guides by time alone."""

    needs_calibration = False
    camera_kind = "none"

    def start(self) -> None:
        """Nothing to start."""

    def poll(self, now: float, view: View) -> tuple[LiveFeedback, list[Observation]]:
        """Always 'off', nothing seen."""
        return LiveFeedback(TrackingStatus.OFF), []

    def follow(self, outputs: list[Output]) -> Measured:
        """Nothing measured."""
        return Measured()

    def set_plan(self, plan: Plan, affected_side: Side) -> None:
        """Nothing to measure."""

    def stop(self) -> None:
        """Nothing to stop."""


class NullRecorder:
    """No record store: nothing kept, an empty home screen.

    ``data_dir``: where a clinic stick's wipe still removes patient files when the store
    itself could not be opened.
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir

    def on_outputs(self, outputs: list[Output], now: float, measured: Measured = NOTHING_MEASURED) -> None:
        """Nothing recorded."""

    def home_info(self, now: float) -> HomeInfo:
        """No history."""
        return HomeInfo()

    def pattern_results(self) -> list[PatternResult]:
        """No results without measurements."""
        return []

    def notices(self) -> list[Notice]:
        """Nothing to tell."""
        return []

    def set_plan(self, plan: Plan, affected_side: Side) -> None:
        """Nothing to keep."""

    def wipe(self) -> None:
        """No store open, but a clinic wipe still removes the patient files on disk."""
        if self.data_dir is not None:
            from station.records.wipe import wipe

            wipe(self.data_dir)

    @property
    def pending_rows(self) -> int:
        """Nothing waits for room."""
        return 0

    def flush(self) -> bool:
        """Nothing to write."""
        return True

    def stop(self) -> None:
        """Nothing to close."""


class NullVoice:
    """No voice: the tones and the screen guide."""

    def start(self, plan: Plan) -> None:
        """Nothing to prepare."""

    def set_plan(self, plan: Plan) -> None:
        """Nothing to prepare."""

    def follow(self, outputs: list[Output], plan: Plan, release_prompt: str = "",
               results: list[str] | tuple[str, ...] = ()) -> None:
        """Nothing said."""

    def hint(self, name: str, text: str) -> None:
        """Nothing said."""

    def tick(self) -> None:
        """Nothing to play."""

    def stop(self) -> None:
        """Nothing to stop."""


class NullChores:
    """No chores (tests, a bare station)."""

    busy = False
    reminder_chime = False

    def tick(self, practising: bool, now: float) -> ChoresResult:
        """Nothing to do."""
        return ChoresResult()

    def home_info(self, info: HomeInfo) -> HomeInfo:
        """Home info unchanged."""
        return info

    def session_ended(self) -> None:
        """Nothing to remember."""


class NullWatchdog:
    """Not run by systemd: no heartbeats to send."""

    def heartbeat(self) -> None:
        """No-op."""

    def ready(self) -> None:
        """No-op."""


def bare_info(facts: InfoFacts) -> ClinicianInfo:
    """The info screen of a station built without the unit's wiring: the software only."""
    return ClinicianInfo(version=__version__)


@dataclass
class Services:
    """Everything the kiosk loop talks to besides the engine, the buttons and the screen."""

    tracking: TrackingService = field(default_factory=NullTracking)
    recorder: RecorderService = field(default_factory=NullRecorder)
    chores: ChoresService = field(default_factory=NullChores)
    watchdog: Watchdog = field(default_factory=NullWatchdog)
    info: InfoProvider = bare_info
    voice: VoiceService = field(default_factory=NullVoice)
    checkin: Any = field(default_factory=lambda: _null_checkins())


def _null_checkins() -> Any:
    """No check-in offered (the weekly check-in service is in :mod:`station.kiosk.checkin_run`)."""
    from station.kiosk.checkin_run import NullCheckins

    return NullCheckins()
