"""The UI loop: engine + buttons + sound + screens, one :meth:`Station.step` at a time.

:class:`Station` owns the session engine, an injectable clock, the button sources, the
display surface and the audio cues. Everything else is a service in
:class:`~station.kiosk.services.Services` (tracking, recorder, chores, watchdog, info), each
behind its Protocol with a null default, so the loop never changes when a service arrives.

One step is: chores (their :class:`~station.kiosk.services.ChoresResult` applied) -> buttons
-> engine -> the tracking follows the outputs and reads the engine's
:class:`~station.practice.events.View` (``poll``; its observations become engine events) ->
the outputs and what the tracking measured at them (:class:`~station.feedback.Measured`) to
the recorder -> sound and voice -> draw. Tests drive the station with a fake clock and no real
loop. Every service is called as a plain method: :mod:`station.kiosk.guard` wraps each one
once, here in the constructor, so an exception is logged and shown as a calm notice and the
kiosk keeps guiding by time. The real services are built in :mod:`station.kiosk.wiring`; the
commands that start the loop are in :mod:`station.kiosk.commands`.
"""

from __future__ import annotations

import collections
import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from station.config import Settings
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
from station.kiosk.audio import Audio
from station.kiosk.button import (
    Button,
    ButtonEvent,
    KeyboardButton,
    LongPress,
    ShortPress,
    Stuck,
    Unstuck,
)
from station.kiosk.guard import Faults, guard
from station.kiosk.services import ChoresResult, ClearNotice, InfoFacts, Services
from station.kiosk.view import ScreenModel, TextBlock, screen_of
from station.practice import words
from station.practice.events import (
    REP_PHASES,
    Event,
    Ignored,
    InvalidTime,
    Output,
    Paused,
    PhaseStarted,
    SessionFinished,
    SessionStarted,
    State,
    SummaryDismissed,
    Timing,
)
from station.practice.plan import Plan, default_plan, release_prompts
from station.practice.session import Engine

log = logging.getLogger(__name__)

Clock = Callable[[], float]
INFO_SCREEN_S = 120.0  # the clinician info screen closes by itself after this
HOME_REFRESH_S = 60.0
# A head turned away (not measured) is told in words at once and, calmly, in the voice once it
# has lasted TURN_SAY_AFTER_S, at most every TURN_SAY_EVERY_S (never every frame).
TURN_SAY_AFTER_S = 1.5
TURN_SAY_EVERY_S = 20.0
_PRACTICE = frozenset(REP_PHASES)


_EVENT_OF: dict[Observation, Event] = {
    Observation.FACE_FOUND: Event.FACE_FOUND,
    Observation.FACE_LOST: Event.FACE_LOST,
    Observation.CALIBRATED: Event.CALIBRATED,
    Observation.CALIBRATION_UNAVAILABLE: Event.CALIBRATION_UNAVAILABLE,
}
_STATUS_NOTICES = {TrackingStatus.NO_CAMERA: words.CAMERA_MISSING, TrackingStatus.NO_MODEL: words.MODEL_MISSING}


# ---- the loop ------------------------------------------------------------------------------


class Station:
    """One kiosk: call :meth:`step` with the time, or :meth:`run` to loop at the frame rate."""

    def __init__(
        self,
        settings: Settings | None = None,
        plan: Plan | None = None,
        services: Services | None = None,
        *,
        clock: Clock = time.monotonic,
        buttons: Iterable[Button] = (),
        keyboard: KeyboardButton | None = None,
        surface: Any = None,
        audio: Audio | None = None,
        exit_after_summary: bool = False,
    ) -> None:
        self.settings = settings or Settings()
        self.plan = plan or default_plan()
        self.clock = clock
        services = services or Services()
        self.services = services  # as built; the loop calls them through the guard below
        self.notices: dict[str, Notice] = {}
        self.faults = Faults(self.notices)
        guarded = guard(services, self.faults)
        self.tracking = guarded.tracking
        self.recorder = guarded.recorder
        self.housekeeping = guarded.chores
        self.watchdog = guarded.watchdog
        self.info_provider = guarded.info
        self.voice = guarded.voice
        self.checkins = services.checkin
        self.checkin_run: Any = None  # a weekly check-in under way (station.kiosk.checkin_run)
        self.timing = Timing.from_settings(self.settings.session, self.tracking.needs_calibration)
        self.engine = Engine(self.plan, self.timing)
        self.keyboard = keyboard
        self.buttons: list[Button] = list(buttons) + ([keyboard] if keyboard else [])
        self.surface = surface
        self.audio = audio or Audio(self.settings.audio.volume, self.settings.audio.enabled)
        self.exit_after_summary = exit_after_summary
        self._chores_at = float("-inf")

        self.running = True
        self.mode = "session"  # "session" | "info" | "returned"
        self.history: collections.deque[Output] = collections.deque(maxlen=10_000)
        self.feedback = LiveFeedback(TrackingStatus.OFF)
        self.home = HomeInfo()
        self.results: tuple[PatternResult, ...] = ()
        self.release_prompt = ""
        self.last_blocks: list[TextBlock] = []
        self.frames = 0
        self._prompts = itertools.cycle(release_prompts() or (words.RELEASE_PROMPT_FALLBACK,))
        self._info: ClinicianInfo | None = None
        self._info_opened_at = 0.0
        self._home_at: float | None = None
        self._last_now = float("-inf")
        self._started = False
        self._finished_pending = False
        self._measured: list[PatternResult] = []
        self._next_plan: tuple[Plan, Side | None] | None = None  # a stick's plan, from home on
        self._turned_since: float | None = None
        self._turn_said_at = float("-inf")

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start sound and services (tracking starts its camera here)."""
        if self._started:
            return
        self._started = True
        self.audio.start()
        self.voice.start(self.plan)
        self.tracking.start()

    def stop(self) -> None:
        """Stop services, sound and buttons; never raises."""
        if self.checkin_run is not None:  # what a check-in cut short measured is kept, as abandoned
            run = self.checkin_run
            self._call("checkin", "stop", lambda: self.checkins.cut_short(run))
            self.checkin_run = None
        self.tracking.stop()
        self.recorder.stop()
        for b in self.buttons:
            self._call("button", "close", b.close)
        self.voice.stop()
        self.audio.stop()

    def run(self, paced: bool = True, on_frame: Callable[[], None] | None = None,
            max_frames: int | None = None) -> None:
        """Loop until stopped: ``paced`` waits for the frame rate; ``on_frame`` after each step."""
        period = 1.0 / self.settings.display.fps
        self.start()
        next_at = time.monotonic()
        try:
            while self.running and (max_frames is None or self.frames < max_frames):
                self.step(self.clock())
                if on_frame is not None:
                    on_frame()
                if paced:
                    # Pace to a deadline, not a fixed sleep, so an oversleep is made up next
                    # frame; fallen far behind (a slow frame), start afresh rather than burst.
                    next_at += period
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    elif delay < -period:
                        next_at = time.monotonic()
        finally:
            self.stop()

    # -- one iteration ---------------------------------------------------------------------

    def step(self, now: float) -> list[Output]:
        """One loop iteration at ``now``; returns the engine outputs it caused."""
        now = max(now, self._last_now)  # a clock that stutters backwards must not crash us
        self._last_now = now
        self.watchdog.heartbeat()
        self._pump_pygame_events()
        if now - self._chores_at >= 1.0:
            self._chores_at = now
            practising = self.engine.state not in (State.HOME, State.SUMMARY) or self.checkin_run is not None
            self._apply(self.housekeeping.tick(practising, now))
        outs: list[Output] = []
        for button in self.buttons:
            for ev in self._call("button", "poll", functools.partial(button.poll, now)) or []:
                outs += self._on_button(ev, now)
        if self.checkin_run is not None:  # the check-in reads the tracker itself
            self._checkin_step(now)
        else:
            outs += self._engine(Event.TICK, now)
            if self.mode == "info" and now - self._info_opened_at >= INFO_SCREEN_S:
                self.mode = "session"
            # The tracking hears of this step's changes first, then reads the moment itself.
            measured = self.tracking.follow(self._real(outs))
            fb, seen = self.tracking.poll(now, self.engine.view(now))
            self._set_feedback(fb, now)
            for observation in seen:
                more = self._engine(_EVENT_OF[observation], now)
                measured += self.tracking.follow(self._real(more))
                outs += more
            self._after(outs, now, measured)
        self.voice.tick()
        self._draw(now)
        if self.frames == 0:
            self.watchdog.ready()
        self.frames += 1
        return outs

    # -- pieces ----------------------------------------------------------------------------

    def _engine(self, event: Event, now: float) -> list[Output]:
        try:
            return self.engine.handle(event, now)
        except InvalidTime:
            log.exception("engine refused time %s", now)
            return []

    def _pump_pygame_events(self) -> None:
        try:
            import pygame

            if not pygame.display.get_init():
                return
            for ev in pygame.event.get():
                if ev.type == pygame.QUIT or (ev.type == pygame.KEYDOWN and ev.key == pygame.K_ESCAPE):
                    self.running = False  # stop() closes a running session as interrupted
                elif self.keyboard is not None:
                    self.keyboard.handle_event(ev)
        except Exception:  # noqa: BLE001 - a broken event queue must not stop the guide
            log.debug("pygame event pump failed", exc_info=True)

    def _on_button(self, ev: ButtonEvent, now: float) -> list[Output]:
        if isinstance(ev, Stuck):
            log.warning("button held for %.0f s: treating it as stuck", ev.held_s)
            self.post_notice(Notice(words.BUTTON_STUCK, "attention", "button"))
            return []
        if isinstance(ev, Unstuck):
            log.info("button released after %.0f s", ev.held_s)
            self.clear_notice("button")
            return []
        if self.mode == "returned":
            return []
        if self.mode == "info":  # any press closes the info screen
            self.mode = "session"
            return []
        if self.checkin_run is not None:
            run = self.checkin_run
            self._call("checkin", "press", lambda: run.press(isinstance(ev, LongPress), now))
            return []
        if isinstance(ev, LongPress) and self.engine.state is State.HOME:
            if ev.duration >= self.settings.button.info_hold_time:
                self._open_info(now)
                return []
        if self.engine.state is State.HOME and self.housekeeping.busy:
            return []  # a clinic stick is being read: the practice starts after it
        if self.engine.state is State.HOME and self.home.checkin == "due":
            if isinstance(ev, ShortPress):  # the check-in is offered: the press starts it
                self._start_checkin(now)
                return []
            return self._engine(Event.SHORT_PRESS, now)  # a hold practises instead
        event = Event.LONG_PRESS if isinstance(ev, LongPress) else Event.SHORT_PRESS
        assert isinstance(ev, LongPress | ShortPress)
        return self._engine(event, now)

    def _open_info(self, now: float) -> None:
        self.mode = "info"
        self._info_opened_at = now
        self._info = self.clinician_info()

    def clinician_info(self) -> ClinicianInfo:
        """The clinician info screen's lines, from what the loop knows now."""
        return self.info_provider(InfoFacts(self.feedback.status, self.tracking.camera_kind,
                                            self.plan, self.settings.patient.affected_side))

    @staticmethod
    def _real(outs: list[Output]) -> list[Output]:
        """The outputs that happened (an ignored event is only for the log)."""
        return [o for o in outs if not isinstance(o, Ignored)]

    def _after(self, outs: list[Output], now: float, measured: Measured = NOTHING_MEASURED) -> None:
        """Follow what the engine did: log, sound, the record, results, voice, home info."""
        cue: State | str | None = None
        for o in outs:
            self.history.append(o)
            match o:
                case Ignored(state=state, event=event):
                    log.info("ignored %s in %s", event.value, state.value)
                case PhaseStarted(phase=phase):
                    cue = phase
                    if phase is State.BREAK:
                        self.release_prompt = next(self._prompts)
                case Paused():
                    cue = "pause"
                case SessionStarted():
                    self.results = ()
                    self._measured = []
                    self.clear_notice("default-plan")  # said once, on home, before the first session
                    self.clear_notice("wiped")  # "no patient records now" is no longer true
                case SessionFinished():
                    self._finished_pending = True
                    self.housekeeping.session_ended()
                case SummaryDismissed():
                    self._home_at = None
                    if self.exit_after_summary:
                        self.running = False
        if cue == "pause":
            self.audio.play("pause")
        elif isinstance(cue, State):
            self.audio.play_phase(cue)
        self._measured += measured.results
        real = self._real(outs)
        if real:  # one stream: the outputs and what was measured at them, kept together
            self.recorder.on_outputs(real, now, measured)
        if self._finished_pending:
            # One sentence per pattern: as measured, else from the store's own numbers.
            self._finished_pending = False
            self.results = tuple(self._measured or self.recorder.pattern_results())
        if real:  # spoken guidance after the tone (and the results once they are known)
            self.voice.follow(real, self.plan, self.release_prompt, [r.sentence for r in self.results])
        if self.engine.state is State.HOME and self._next_plan is not None:
            plan, side = self._next_plan
            self.set_plan(plan, side)
        if self.engine.state is State.HOME and (
            self._home_at is None or now - self._home_at >= HOME_REFRESH_S
        ):
            self._home_at = now
            info = self.housekeeping.home_info(self.recorder.home_info(now))
            if self.housekeeping.reminder_chime:
                self.audio.play("break")  # one soft chime when a reminder first shows
            state = self._call("checkin", "home_state", self.checkins.home_state)
            self.home = replace(info, checkin=state or "")
            if getattr(self.checkins, "notice", ""):
                self.post_notice(Notice(self.checkins.notice, "attention", "checkin-save"))
            else:
                self.clear_notice("checkin-save")

    def _apply(self, chores: ChoresResult) -> None:
        """What the chores asked for: notices shown and cleared in order, a new plan."""
        for change in chores.notices:
            match change:
                case Notice():
                    self.post_notice(change)
                case ClearNotice(key=key):
                    self.clear_notice(key)
        if chores.plan is not None:
            new = chores.plan
            self._next_plan = (new.plan, new.affected_side)
            self._call("checkin", "set_every_days", lambda: self.checkins.set_every_days(new.checkin_every_days))
            if self.engine.state is State.HOME:
                self.set_plan(new.plan, new.affected_side)

    def _set_feedback(self, fb: LiveFeedback, now: float = 0.0) -> None:
        """Keep the tracking's feedback; a missing camera or model becomes a calm banner.

        A missing camera is said only while practising (at home and on the summary the
        camera is not needed), unless the tracking has its own sentence for it (the demo's
        sample being fetched): that sentence is the banner's, not a second line. A face
        turned away during practice is said in the voice too, once it lasts, and not often."""
        if fb.status is TrackingStatus.TURNED and self.engine.state in _PRACTICE:
            if self._turned_since is None:
                self._turned_since = now
            if now - self._turned_since >= TURN_SAY_AFTER_S and \
                    now - self._turn_said_at >= TURN_SAY_EVERY_S:
                self._turn_said_at = now
                self.voice.hint("turned", words.SAY_TURN_BACK)
        else:
            self._turned_since = None
        at_rest = self.engine.state in (State.HOME, State.SUMMARY)
        for status, text in _STATUS_NOTICES.items():
            own = fb.message if fb.status is status else ""
            if fb.status is status and (own or status is not TrackingStatus.NO_CAMERA or not at_rest):
                # its own sentence (the demo's fetch) is calm news, not a fault
                self.post_notice(Notice(own or text, "info" if own else "attention", status.value))
            else:
                self.clear_notice(status.value)
        if fb.status in _STATUS_NOTICES and fb.message:
            fb = replace(fb, message="")
        self.feedback = fb

    def screen_model(self, now: float) -> ScreenModel:
        """What the screen shows at ``now`` (pure data)."""
        notices = tuple(self.notices.values())
        if self.mode == "returned":
            return ScreenModel("returned")
        if self.mode == "info":
            return ScreenModel("info", info=self._info, notices=notices)
        if self.checkin_run is not None:
            held = max((b.held_for(now) for b in self.buttons), default=0.0)
            return ScreenModel("checkin", notices=notices, t=now, checkin=self.checkin_run.screen(now),
                               affected_side=self.settings.patient.affected_side,
                               hold_fraction=min(1.0, held / self.settings.button.hold_time) if held > 0.2 else 0.0)
        view = self.engine.view(now)
        held = max((b.held_for(now) for b in self.buttons), default=0.0)
        hold_fraction = 0.0
        if view.state is not State.HOME and held > 0.2:
            hold_fraction = min(1.0, held / self.settings.button.hold_time)
        return ScreenModel(
            screen_of(view), view, self.feedback, self.home, notices, self.results,
            release_prompt=self.release_prompt, hold_fraction=hold_fraction, t=now,
            affected_side=self.settings.patient.affected_side,
        )

    def _draw(self, now: float) -> None:
        if self.surface is None:
            return
        try:
            import pygame

            from station.kiosk.screens import render

            self.last_blocks = render(self.surface, self.screen_model(now))
            if pygame.display.get_init() and pygame.display.get_surface() is self.surface:
                pygame.display.flip()
        except Exception:  # noqa: BLE001 - drawing trouble is logged, the guide goes on
            self.faults.failed("display", "draw")

    # -- the weekly check-in ---------------------------------------------------------------

    def _start_checkin(self, now: float) -> None:
        """Start the offered check-in (:mod:`station.kiosk.checkin_run`)."""
        self.checkin_run = self._call("checkin", "begin", lambda: self.checkins.begin(self, now))
        if self.checkin_run is not None:
            self.clear_notice("default-plan")
            self.clear_notice("wiped")

    def _checkin_step(self, now: float) -> None:
        run = self.checkin_run
        self._call("checkin", "step", lambda: run.step(now))
        if run.done or run is not self.checkin_run:
            self.checkin_run = None
            self._home_at = None  # home shows the check-in as done
            if self.exit_after_summary:
                self.running = False

    # -- notices and modes -----------------------------------------------------------------

    def set_plan(self, plan: Plan, affected_side: Side | None = None) -> None:
        """Play ``plan`` from the next session (only switched while at home)."""
        if self.engine.state is not State.HOME:
            log.warning("new plan ignored: a session is running")
            return
        if affected_side:
            self.settings = replace(self.settings, patient=replace(self.settings.patient,
                                                                   affected_side=affected_side))
        self.plan = plan
        self._next_plan = None
        self.engine = Engine(plan, self.timing)
        side = self.settings.patient.affected_side
        self.tracking.set_plan(plan, side)
        self.recorder.set_plan(plan, side)
        self.voice.set_plan(plan)
        self._home_at = None
        log.info("plan now: %s", ", ".join(f"{it.pattern.id} x{it.reps}" for it in plan.items))

    def post_notice(self, notice: Notice) -> None:
        """Show ``notice`` (replaces one with the same key). Call from the UI thread."""
        key = notice.key or notice.text
        if self.notices.get(key) != notice:
            self.notices[key] = notice

    def clear_notice(self, key: str) -> None:
        """Remove the notice with ``key`` if shown."""
        self.notices.pop(key, None)

    def show_returned(self, returned: bool = True) -> None:
        """Switch to (or leave) the still 'Please return this unit to the clinic.' screen."""
        self.mode = "returned" if returned else "session"

    # -- safety net ------------------------------------------------------------------------

    def _call(self, service: str, what: str, fn: Callable[[], Any]) -> Any:
        """A call to a part that is not a service (a button, the check-in): guarded the same way."""
        return self.faults.call(service, what, fn, None)
