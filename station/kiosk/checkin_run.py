"""The weekly check-in in the kiosk: offered on home when due, run with the practice's own parts.

Theory of operation
-------------------
:class:`Checkins` is the kiosk's check-in service (``Services.checkin``). It knows the
prescription's interval (``checkin_every_days``; None: no check-in) and asks the record store
when the last completed check-in was, so the home screen can say *due* or *done*
(:meth:`Checkins.home_state`). When it is due, a short press on home starts the check-in and a
long press practises instead (:mod:`station.kiosk.app` routes the button).

:class:`CheckinRun` is one check-in under way. It drives the check-in engine
(:mod:`station.practice.checkin`) with the kiosk's clock and button, reads the *same* tracker
as practice (the newest sample, once), feeds it to the check-in's measures
(:mod:`station.tracking.checkin`, its own metrics and neutral baseline), and answers every
try with the quality gate's verdict: a turned, unseen or blurred try is asked for again, never
stored. Tones, the voice (espeak-ng cues through :class:`station.kiosk.voice.Voice`) and the
pictogram are the practice's; the words are :mod:`station.practice.words`' and say that this
time the movement is a full one. When the check-in ends, its numbers become rows
(:mod:`station.records.checkins`) written in one transaction; a write that fails is kept in
memory and tried again from home until it lands. Numbers only: no frame is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from station import __version__
from station.config import Settings
from station.feedback import Side
from station.practice import words
from station.practice.checkin import (
    CheckinEngine,
    CheckinFinished,
    CheckinTiming,
    CheckinView,
    Event,
    Output,
    Paused,
    Phase,
    PhaseStarted,
    Resumed,
    Status,
    SummaryDismissed,
    TryRejected,
)
from station.practice.events import State
from station.records import checkins as records
from station.tracking.checkin import GATE_TURN_RAD, CheckinMeasures
from station.tracking.metrics import Metrics

log = logging.getLogger(__name__)

#: tracker states in which no sample will come (guide by time; the check-in ends at settle)
_NO_FRAMES = ("no_camera", "no_model")
_TONE_OF = {Phase.SETTLE: State.SETTLE, Phase.NEUTRAL: State.SETTLE, Phase.INTRO: State.INTRO,
            Phase.MOVE: State.MOVE, Phase.HOLD: State.HOLD, Phase.RELEASE: State.RELEASE,
            Phase.REST: State.REST, Phase.BREAK: State.BREAK, Phase.SUMMARY: State.SUMMARY}


@dataclass(frozen=True)
class CheckinScreen:
    """What the check-in screen shows (pure data for :mod:`station.kiosk.checkin_screens`)."""

    view: CheckinView
    message: str = ""  # the tracker's own words (no face, keep still...)
    repeat_reason: str = ""  # why the try is asked again (the gate's reason)
    status: Status | None = None
    incomplete: int = 0  # movements that could not be measured


def say_for(out: Output, engine: CheckinEngine, reason: str = "",
            moving_on: bool = False) -> tuple[str, str] | None:
    """(cue name, sentence) the voice says for a check-in output, or None (``moving_on``: the
    last movement could not be measured, said before the next one's introduction)."""
    if isinstance(out, Paused):
        return "paused", words.SAY_PAUSED
    if isinstance(out, Resumed) and out.phase in (Phase.SETTLE, Phase.BREAK):
        # these go on where they were (no new phase starts): say again what they ask, for a
        # patient who follows with eyes closed
        return say_for(PhaseStarted(out.at, out.phase, None, None, None, 0.0), engine)
    if not isinstance(out, PhaseStarted):
        return None
    mv = engine.movements[out.movement_index].id if out.movement_index is not None else None
    ph = out.phase
    if ph is Phase.SETTLE:
        return "checkin_settle", words.CHECKIN_SAY_SETTLE
    if ph is Phase.NEUTRAL:
        return "checkin_neutral", words.CHECKIN_NEUTRAL
    if ph is Phase.INTRO and mv and moving_on:
        return f"checkin_moving_on_{mv}_intro", f"{words.CHECKIN_MOVING_ON} {words.checkin_intro(mv)}"
    if ph is Phase.INTRO and mv:
        return f"checkin_{mv}_intro", words.checkin_intro(mv)
    if ph is Phase.MOVE and mv:
        return f"checkin_{mv}_move", words.CHECKIN_SAY_MOVE[mv]
    if ph.value in words.CHECKIN_SAY_PHASES:
        return f"checkin_{ph.value}", words.CHECKIN_SAY_PHASES[ph.value]
    if ph is Phase.REPEAT:
        return f"checkin_repeat_{reason or 'other'}", words.checkin_repeat(reason)
    if ph is Phase.BREAK:
        return "checkin_break", words.SAY_BREAK.format(prompt=words.CHECKIN_NEUTRAL)
    if ph is Phase.SUMMARY and any(p.complete is False for p in engine.progress):
        return "checkin_summary_incomplete", f"{words.CHECKIN_INCOMPLETE} {words.CHECKIN_SAY_DONE}"
    if ph is Phase.SUMMARY:
        return "checkin_summary", words.CHECKIN_SAY_DONE
    return None


def all_sentences() -> list[tuple[str, str]]:
    """Every (cue name, sentence) a check-in can say (rendered ahead, like a plan's cues)."""
    out = [("checkin_settle", words.CHECKIN_SAY_SETTLE), ("checkin_neutral", words.CHECKIN_NEUTRAL),
           ("checkin_summary", words.CHECKIN_SAY_DONE),
           ("checkin_summary_incomplete", f"{words.CHECKIN_INCOMPLETE} {words.CHECKIN_SAY_DONE}"),
           ("paused", words.SAY_PAUSED),
           ("checkin_break", words.SAY_BREAK.format(prompt=words.CHECKIN_NEUTRAL))]
    for mv in words.CHECKIN_MOVEMENTS:
        out += [(f"checkin_{mv}_intro", words.checkin_intro(mv)), (f"checkin_{mv}_move", words.CHECKIN_SAY_MOVE[mv]),
                (f"checkin_moving_on_{mv}_intro", f"{words.CHECKIN_MOVING_ON} {words.checkin_intro(mv)}")]
    out += [(f"checkin_{k}", v) for k, v in words.CHECKIN_SAY_PHASES.items()]
    out += [(f"checkin_repeat_{k}", words.checkin_repeat(k)) for k in (*words.CHECKIN_REPEAT, "other")]
    return out


class CheckinRun:
    """One check-in under way in the kiosk loop (see the module docstring)."""

    def __init__(self, side: str, settings: Settings, tracker: Any, voice: Any, audio: Any,
                 on_finished: Callable[[CheckinRun], None], timing: CheckinTiming | None = None,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_view: Callable[[Any], None] | None = None) -> None:
        self.side = side
        self.timing = timing or CheckinTiming()
        self.engine = CheckinEngine(self.timing)
        self.measures = CheckinMeasures(Side(side), Metrics.from_settings(settings.tracking), self.timing)
        self.tracker, self.voice, self.audio = tracker, voice, audio
        self.on_finished = on_finished
        self.wall = wall
        self.on_view = on_view  # the demo's simulated patient follows the check-in's view
        self.started_utc = ""
        self.ended_utc: str | None = None
        self.history: list[Output] = []
        self.message = ""
        self.reason = ""
        self.done = False  # back at home: the kiosk drops this run
        self._seq = -1
        self._lags: list[float] = []  # how old each sample was when the loop took it (s)

    # -- the loop calls these --------------------------------------------------------------

    def start(self, now: float) -> None:
        """The patient pressed the button on home: begin (tracker awake)."""
        self.started_utc = records_utc(self.wall())
        if self.tracker is not None:
            self.tracker.set_idle(False)
        self._follow(self.engine.handle(Event.SHORT_PRESS, now), now)

    def press(self, long: bool, now: float) -> None:
        """A button press (pause / resume / continue / break, as in practice)."""
        self._follow(self.engine.handle(Event.LONG_PRESS if long else Event.SHORT_PRESS, now), now)

    def step(self, now: float) -> None:
        """Time, then the newest face sample (once), then what they caused."""
        self._follow(self.engine.tick(now), now)
        if self.on_view is not None:
            self.on_view(None if self.done else self.engine.view(now))
        if self.done:
            return
        state = self.tracker.latest() if self.tracker is not None else None
        if state is None or state.status.value in _NO_FRAMES or state.sample is None:
            self.message = ""
            if self.engine.phase is Phase.SETTLE and (state is None or state.status.value in _NO_FRAMES):
                self._follow(self.engine.handle(Event.CALIBRATION_UNAVAILABLE, now), now)
            if self.engine.face_visible and state is not None and state.status.value in _NO_FRAMES:
                self._follow(self.engine.handle(Event.FACE_LOST, now), now)
            return
        if state.seq == self._seq:
            return
        self._seq = state.seq
        self._lags = (self._lags + [now - state.sample.t])[-50:]
        events = self.measures.frame(state.sample)
        frame = self.measures.metrics
        calibrating = self.engine.phase is Phase.SETTLE and not frame.calibrated
        self.message = (frame.calibrator.message if calibrating else "") or ""
        seen = Event.FACE_FOUND if state.sample.face else Event.FACE_LOST
        base = frame.baseline
        if not state.sample.face and not self.message:
            self.message = words.NO_FACE_SEEN
        elif base is not None and state.sample.pose is not None and \
                state.sample.pose.distance(base.pose) > GATE_TURN_RAD:
            self.message = words.TURN_BACK  # the gate's own limit: said before the try is lost
        self._follow(self.engine.handle(seen, now), now)
        for ev in events:
            self._follow(self.engine.handle(ev, now), now)

    def _latency(self) -> float:
        """Median of the latest samples' age when the loop took them (s)."""
        return float(sorted(self._lags)[len(self._lags) // 2]) if self._lags else 0.0

    def screen(self, now: float) -> CheckinScreen:
        """The screen's data at ``now``."""
        incomplete = sum(1 for p in self.engine.progress if p.complete is False)
        return CheckinScreen(self.engine.view(now), self.message, self.reason, self.engine.status,
                             incomplete)

    @property
    def phase(self) -> Phase:
        """The engine's phase."""
        return self.engine.phase

    # -- following the engine --------------------------------------------------------------

    def _follow(self, outs: list[Output], now: float) -> None:
        if not outs:
            return
        self.history += outs
        tone: Any = None
        said: tuple[str, str] | None = None
        finished: CheckinFinished | None = None
        moving_on = False
        for o in outs:
            if isinstance(o, TryRejected):
                self.reason = o.reason
                moving_on = not o.repeat  # no repeats left: the check-in goes on without it
            if isinstance(o, PhaseStarted):
                tone = _TONE_OF.get(o.phase, tone)
                if o.phase is Phase.MOVE:
                    self.reason = ""
            elif isinstance(o, Paused):
                tone = "pause"
            found = say_for(o, self.engine, self.reason, moving_on)
            said = found or said
            if isinstance(o, CheckinFinished):
                finished = o
            elif isinstance(o, SummaryDismissed):
                self.done = True
        if tone == "pause":
            _safe(self.audio.play, "pause")
        elif tone is not None:
            _safe(self.audio.play_phase, tone)
        if said is not None and self.voice is not None:
            _safe(self.voice.hint, *said)
        verdicts = self.measures.follow(outs)  # the last movement's end is known before the rows
        if finished is not None:
            self.ended_utc = records_utc(self.wall())
            if self.tracker is not None:
                self.tracker.set_idle(True)
            self.on_finished(self)
            if finished.status is Status.ABANDONED:
                self.done = True
        for event, reason in verdicts:
            if event is Event.TRY_BAD and self.measures.tries:
                tf = self.measures.tries[-1][0]
                log.info("check-in: %s try %d asked again (%s): %s, tracker latency median %.2f s",
                         tf.movement.id, tf.try_index + 1, reason, tf.describe(), self._latency())
            self._follow(self.engine.handle(event, now, reason), now)

    def pending(self) -> records.PendingCheckin:
        """The check-in's rows (numbers only), as far as it went."""
        status = self.engine.status.value if self.engine.status is not None else Status.ABANDONED.value
        repeats = {mv.id: p.repeats for mv, p in zip(self.engine.movements, self.engine.progress, strict=True)}
        return records.rows_from_result(
            self.measures.result(), checkin_id=f"ci-{self.started_utc.replace(':', '').replace('-', '')}",
            started_utc=self.started_utc, ended_utc=self.ended_utc, status=status, repeats=repeats,
            software_version=__version__, model_sha256=None)


def records_utc(when: datetime) -> str:
    """A wall-clock time as the store writes it."""
    from station.records.store import utc_iso

    return utc_iso(when)


def _safe(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - sound trouble never stops the check-in
        log.debug("check-in sound failed", exc_info=True)


class NullCheckins:
    """No check-in prescribed (or no store): home offers none."""

    every_days: int | None = None
    pending_count = 0

    def home_state(self) -> str:
        """Nothing to offer."""
        return ""

    def begin(self, station: Any, now: float) -> CheckinRun | None:
        """Nothing to start."""
        return None

    def set_every_days(self, days: int | None) -> None:
        """Ignored: without a store nothing can be kept."""

    def retry(self) -> bool:
        """Nothing waits."""
        return True

    def cut_short(self, run: CheckinRun) -> None:
        """Nothing to keep."""


class Checkins:
    """The kiosk's check-in service: due or done, start one, keep its rows until they land."""

    def __init__(self, data_dir: Path, every_days: int | None, timing: CheckinTiming | None = None,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.data_dir = data_dir
        self.every_days = every_days
        self.timing = timing
        self.wall = wall
        self._pending: list[records.PendingCheckin] = []
        self._last: tuple[date | None] | None = None  # the last completed check-in's day, once read
        self.notice = ""  # a calm sentence for the kiosk while rows wait

    @property
    def pending_count(self) -> int:
        """Check-ins held in memory because the store refused them."""
        return len(self._pending)

    def set_every_days(self, days: int | None) -> None:
        """A new prescription's interval (None: no check-in); the records are read again (after
        a clinic stick, a wipe may have removed the last patient's)."""
        self.every_days = days
        self._last = None

    def last_done(self) -> date | None:
        """The local day of the last completed check-in (None: never, or unreadable); read from
        the store once, then kept (the kiosk itself is the only writer)."""
        import sqlite3

        from station.paths import database_path
        from station.records.store import connect

        if any(p.checkin["status"] == "complete" for p in self._pending):
            return self.wall().astimezone().date()
        if self._last is None:
            day = None
            if database_path(self.data_dir).exists():
                try:
                    conn = connect(database_path(self.data_dir))
                    try:
                        day = records.local_day(records.last_done_utc(conn))
                    finally:
                        conn.close()
                except sqlite3.Error:  # no check-in table yet, or a damaged file: none done
                    log.warning("last check-in not readable; offering one", exc_info=True)
            self._last = (day,)
        return self._last[0]

    def home_state(self) -> str:
        """``"due"``, ``"done"`` or ``""`` (no check-in prescribed) for the home screen."""
        if not self.every_days:
            return ""
        self.retry()
        today = self.wall().astimezone().date()
        return "due" if records.is_due(self.every_days, self.last_done(), today) else "done"

    def begin(self, station: Any, now: float) -> CheckinRun:
        """A new check-in for ``station`` (its side, settings, tracker, voice and tones): the
        services as built (``station.services``), not the loop's guarded wrappers."""
        services = station.services
        tracker = getattr(services.tracking, "tracker", None)
        run = CheckinRun(station.settings.patient.affected_side, station.settings, tracker, services.voice,
                         station.audio, self._finished, self.timing, self.wall,
                         on_view=getattr(services.tracking, "follow_checkin", None))
        prepare = getattr(services.voice, "prepare_later", None)
        if prepare is not None:
            _safe(prepare, all_sentences())
        run.start(now)
        return run

    def cut_short(self, run: CheckinRun) -> None:
        """The kiosk stops mid check-in: keep what it measured, as abandoned (never as done)."""
        if run.ended_utc is not None:
            return  # finished and kept already
        run.ended_utc = records_utc(self.wall())
        self._finished(run)

    def _finished(self, run: CheckinRun) -> None:
        self._pending.append(run.pending())
        self.retry()

    def retry(self) -> bool:
        """Write what waits (oldest first); True when nothing waits any more."""
        from station.records.store import Store

        while self._pending:
            try:
                store = Store.open(self.data_dir, recover=False)
                try:
                    records.save(store.conn, self._pending[0])
                finally:
                    store.close()
            except Exception:  # noqa: BLE001 - kept in memory, tried again from home
                log.exception("check-in not saved yet (%d waiting)", len(self._pending))
                self.notice = words.CHECKIN_NOT_SAVED
                return False
            self._pending.pop(0)
            self._last = None  # read again: the saved check-in may be the last one done
        self.notice = ""
        return True
