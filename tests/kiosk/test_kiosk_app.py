"""The Station loop driven by gpiozero mock pins and a fake clock (real pygame, dummy SDL)."""

from __future__ import annotations

import logging

import pygame
import pytest
from gpiozero.pins.mock import MockFactory

from station.config import Settings
from station.feedback import HomeInfo, LiveFeedback, Measured, Observation, PatternResult, TrackingStatus
from station.kiosk.app import Station
from station.kiosk.audio import Audio
from station.kiosk.button import GpioButton
from station.kiosk.services import Services
from station.practice import words  # noqa: E402
from station.practice.events import (
    ACTIVE,
    BreakEnded,
    BreakStarted,
    PatternDone,
    Paused,
    PhaseStarted,
    RepDone,
    RepInterrupted,
    Resumed,
    SessionFinished,
    SessionStarted,
    SettleEnded,
    State,
    SummaryDismissed,
)
from station.practice.session import intro_duration  # noqa: E402

FRAME = 1 / 30


class SpyAudio(Audio):
    """Real cue synthesis, but remembers what it played."""

    def __init__(self) -> None:
        super().__init__(0.5)
        self.played: list[str] = []

    def play(self, cue: str) -> None:
        self.played.append(cue)
        super().play(cue)


class Rig:
    """A station with a mock GPIO button, a fake clock and a real (dummy) display."""

    def __init__(self, clock, **kw) -> None:
        pygame.init()
        self.clock = clock
        self.factory = MockFactory()
        self.button = GpioButton(17, 1.5, 0.05, clock=clock, pin_factory=self.factory)
        self.pin = self.factory.pin(17)
        self.surface = pygame.display.set_mode((800, 480))
        self.audio = SpyAudio()
        parts = {k: kw.pop(k) for k in ("tracking", "recorder", "chores", "watchdog") if k in kw}
        self.station = Station(Settings(), None, Services(**parts), clock=clock, buttons=[self.button],
                               surface=self.surface, audio=self.audio, **kw)
        self.station.start()
        self.station.step(clock())

    @property
    def engine(self):
        return self.station.engine

    def frames(self, seconds: float) -> None:
        end = self.clock() + seconds
        while self.clock() < end - 1e-9:
            self.clock.advance(min(FRAME, end - self.clock()))
            self.station.step(self.clock())

    def press(self, seconds: float = 0.2) -> None:
        self.pin.drive_low()
        self.frames(seconds)
        self.pin.drive_high()
        self.station.step(self.clock())

    def until(self, pred, limit: float = 1000.0, frame: float = FRAME) -> None:
        start = self.clock()
        while not pred():
            self.clock.advance(frame)
            self.station.step(self.clock())
            assert self.clock() - start < limit, "condition never reached"

    def close(self) -> None:
        self.station.stop()


@pytest.fixture
def rig(clock):
    r = Rig(clock)
    yield r
    r.close()


def _name(o) -> str:
    if isinstance(o, PhaseStarted):
        return f"{o.phase.value}{'*' if o.requested else ''}"
    if isinstance(o, BreakStarted):
        return f"BreakStarted({o.requested})"
    if isinstance(o, BreakEnded):
        return f"BreakEnded({o.early})"
    return type(o).__name__


@pytest.mark.slow
def test_full_session_by_mock_pin_with_pause_and_requested_break(rig, clock):
    eng = rig.engine
    rig.press()  # start
    assert eng.state is State.SETTLE
    # pause in the middle of the first hold, wait, resume
    rig.until(lambda: eng.state is State.HOLD and eng.view(clock()).phase_elapsed_s >= 1.0)
    rig.press(0.2)
    assert eng.state is State.PAUSED
    assert rig.station.screen_model(clock()).screen == "paused"
    rig.frames(30.0)
    assert eng.state is State.PAUSED
    rig.press(0.2)
    assert eng.state is State.HOLD
    # a requested release break during the second pattern's second rep (long hold)
    rig.until(lambda: eng.state is State.MOVE and eng.view(clock()).pattern_index == 1
              and eng.view(clock()).rep == 1)
    rig.frames(0.3)
    rig.press(2.0)
    assert eng.state is State.BREAK and eng.view(clock()).break_requested
    rig.until(lambda: eng.state is State.SUMMARY)
    assert rig.station.screen_model(clock()).screen == "summary"
    rig.frames(3.0)
    rig.press()
    assert eng.state is State.HOME

    outs = list(rig.station.history)
    names = [_name(o) for o in outs]
    rep = ["move", "hold", "release", "rest", "RepDone"]  # a rep is done at the end of its rest
    first_rep = ["move", "hold", "Paused", "Resumed", "release", "rest", "RepDone"]
    pattern_end = ["break", "BreakStarted(False)", "BreakEnded(False)", "PatternDone"]
    expected = (
        ["SessionStarted", "settle", "SettleEnded", "intro"]
        + first_rep + rep + rep + pattern_end
        + ["intro"] + rep
        + ["move", "RepInterrupted", "break*", "BreakStarted(True)", "BreakEnded(False)"]
        + rep + rep + pattern_end
        + ["SessionFinished", "summary", "SummaryDismissed"]
    )
    assert names == expected

    # every phase lasted what the plan says, to the millisecond, pause time excluded
    plan_item = [it for it in eng.plan.items]
    starts = [o for o in outs if isinstance(o, PhaseStarted)]
    paused = sum(o.paused_s for o in outs if isinstance(o, Resumed))
    assert paused == pytest.approx(30.2, abs=1e-6)
    timing = rig.station.timing
    for a, b in zip(starts, starts[1:], strict=False):
        in_pause = sum(o.paused_s for o in outs if isinstance(o, Resumed) and a.at <= o.at <= b.at)
        took = b.at - a.at - in_pause
        interrupted = any(isinstance(o, RepInterrupted) and a.at <= o.at <= b.at for o in outs)
        if a.phase is State.SUMMARY or interrupted:
            continue
        if a.phase.value in ("move", "hold", "release", "rest"):
            planned = plan_item[a.pattern_index].pacing.of(a.phase.value)
        else:
            intro = intro_duration(plan_item[a.pattern_index].pattern, timing) if a.phase is State.INTRO else 0
            planned = {"settle": timing.settle_s, "intro": intro,
                       "break": timing.break_s}[a.phase.value]
        assert round(took, 3) == round(planned, 3), (a, took)
        assert a.duration_s == planned
    assert sum(isinstance(o, RepDone) for o in outs) == 6
    assert [o.status.value for o in outs if isinstance(o, SessionFinished)] == ["complete"]
    # a gentle cue at every phase change, the pause has its own
    assert rig.audio.played.count("move") == 7 and "break" in rig.audio.played
    assert "pause" in rig.audio.played and rig.audio.played[-1] == "summary"
    for cls in (SessionStarted, SettleEnded, Paused, PatternDone, SummaryDismissed):
        assert any(isinstance(o, cls) for o in outs)


def _valid(station: Station, now: float) -> None:
    eng = station.engine
    assert eng.state in set(State)
    view = eng.view(now)
    if eng.state is State.PAUSED:
        assert view.resume_state in ACTIVE
    if eng.state in ACTIVE:
        assert eng.next_deadline() is not None and eng.next_deadline() >= view.phase_elapsed_s
    assert 0.0 <= view.session_fraction <= 1.0
    assert station.last_blocks  # the screen was drawn


def test_twenty_presses_a_second_for_ten_seconds(rig, clock):
    rig.press()
    rig.until(lambda: rig.engine.state is State.MOVE)
    for _ in range(200):
        rig.pin.drive_low()
        clock.advance(0.025)
        rig.station.step(clock())
        rig.pin.drive_high()
        clock.advance(0.025)
        rig.station.step(clock())
        _valid(rig.station, clock())
    outs = list(rig.station.history)
    assert not any(isinstance(o, BreakStarted) and o.requested for o in outs)  # no long press
    pauses = [o for o in outs if isinstance(o, Paused | Resumed)]
    assert len(pauses) == 200
    assert all(isinstance(p, Paused if i % 2 == 0 else Resumed) for i, p in enumerate(pauses))


@pytest.mark.slow
def test_button_held_sixty_seconds_is_stuck_and_guiding_goes_on(rig, clock):
    rig.press()
    rig.until(lambda: rig.engine.state is State.MOVE)
    started = len(rig.station.history)
    rig.pin.drive_low()
    rig.frames(25.0)
    assert "button" in rig.station.notices
    assert rig.station.notices["button"].text == words.BUTTON_STUCK
    rig.frames(35.0)
    rig.pin.drive_high()
    rig.station.step(clock())
    _valid(rig.station, clock())
    assert "button" not in rig.station.notices
    outs = list(rig.station.history)[started:]
    assert not any(isinstance(o, BreakStarted | Paused) for o in outs[:1])
    assert not any(isinstance(o, BreakStarted) and o.requested for o in outs)
    assert sum(isinstance(o, RepDone) for o in outs) >= 3  # the guide kept going by time


@pytest.mark.slow
def test_one_long_hold_gives_exactly_one_break(rig, clock):
    rig.press()
    rig.until(lambda: rig.engine.state is State.MOVE)
    rig.press(10.0)  # long, but not stuck
    outs = list(rig.station.history)
    assert sum(isinstance(o, BreakStarted) and o.requested for o in outs) == 1
    assert rig.engine.state is State.BREAK


@pytest.mark.slow
@pytest.mark.parametrize("seconds", [0.2, 2.0])
def test_a_press_in_every_state(clock, seconds):
    targets = [State.HOME, State.SETTLE, State.INTRO, State.MOVE, State.HOLD, State.RELEASE,
               State.REST, State.BREAK, State.PAUSED, State.SUMMARY]
    for target in targets:
        r = Rig(clock)
        try:
            if target is not State.HOME:
                r.press()
            if target is State.PAUSED:
                r.until(lambda r=r: r.engine.state is State.MOVE, frame=0.25)
                r.press()
            r.until(lambda r=r, t=target: r.engine.state is t, frame=0.25)
            r.pin.drive_low()
            r.frames(seconds)
            assert r.engine.state is not State.HOME or target in (State.HOME, State.SUMMARY)
            r.pin.drive_high()
            r.station.step(clock())
            _valid(r.station, clock())
        finally:
            r.close()
    for mode in ("info", "returned"):
        r = Rig(clock)
        try:
            if mode == "info":
                r.press(6.0)
            else:
                r.station.show_returned()
            assert r.station.screen_model(clock()).screen == mode
            r.press(seconds)
            _valid(r.station, clock())
            assert r.engine.state is State.HOME
        finally:
            r.close()


def test_long_hold_at_home_opens_clinician_info_and_a_press_closes_it(rig, clock, caplog):
    with caplog.at_level(logging.INFO):
        rig.press(2.0)  # a long press at home is not for the engine: logged, ignored
    assert "ignored long_press in home" in caplog.text
    assert rig.station.mode == "session"
    rig.press(5.5)
    model = rig.station.screen_model(clock())
    assert model.screen == "info" and model.info is not None and model.info.version
    rig.press()
    assert rig.station.mode == "session" and rig.engine.state is State.HOME


class BrokenTracking:
    needs_calibration = False

    def __init__(self) -> None:
        self.calls = 0

    def start(self) -> None:
        raise RuntimeError("camera exploded")

    def poll(self, now, view):
        self.calls += 1
        raise RuntimeError("no frames")

    def follow(self, outputs):
        raise RuntimeError("also broken")

    def set_plan(self, plan, side) -> None:
        raise RuntimeError("no plans")

    def stop(self) -> None:
        raise RuntimeError("cannot stop")


class BrokenRecorder:
    def on_outputs(self, outputs, now, measured=None) -> None:
        raise OSError(28, "No space left on device")

    def home_info(self, now):
        raise OSError("database locked")

    def pattern_results(self):
        raise OSError("gone")

    def notices(self):
        return []

    def set_plan(self, plan, side) -> None:
        pass

    def stop(self) -> None:
        pass


@pytest.mark.slow
def test_failing_services_become_notices_and_the_guide_goes_on(clock, caplog):
    tracking = BrokenTracking()
    with caplog.at_level(logging.ERROR):
        r = Rig(clock, tracking=tracking, recorder=BrokenRecorder())
        r.press()
        r.until(lambda: r.engine.state is State.SUMMARY, frame=0.1)
        r.close()
    texts = {n.text for n in r.station.notices.values()}
    assert words.TRACKING_FAILED in texts and words.RECORDS_FAILED in texts
    assert tracking.calls > 100 and "no frames" in caplog.text
    assert caplog.text.count("tracking poll failed") == 1  # logged once, not every frame
    assert r.engine.counters.reps_done == 6


class GoodServices:
    """A tracking + recorder pair that behaves, to check the plumbing."""

    needs_calibration = True

    def __init__(self) -> None:
        self.outputs: list = []
        self.recorded: list = []
        self.beats = 0
        self.readies = 0
        self.state, self.since = State.HOME, 0.0

    def start(self) -> None:
        pass

    def poll(self, now, view):
        settled = self.state is State.SETTLE and now - self.since > 2
        seen = [Observation.CALIBRATED] if settled else []
        return LiveFeedback(TrackingStatus.NO_CAMERA if self.state is State.INTRO else "tracking"), seen

    def follow(self, outputs):
        for o in outputs:
            if isinstance(o, PhaseStarted):
                self.state, self.since = o.phase, o.at
        self.outputs.extend(outputs)
        return Measured()  # nothing measured: the results come from the store's numbers

    def on_outputs(self, outputs, now, measured=None) -> None:
        self.recorded.extend(outputs)

    def notices(self):
        return []

    def set_plan(self, plan, side) -> None:
        pass

    def heartbeat(self) -> None:
        self.beats += 1

    def ready(self) -> None:
        self.readies += 1

    def home_info(self, now):
        return HomeInfo(sessions_today=3)

    def pattern_results(self):
        return [PatternResult(0, "Your mouth stayed quiet.")]

    def stop(self) -> None:
        pass


@pytest.mark.slow
def test_services_plug_in_without_touching_the_loop(clock):
    svc = GoodServices()
    r = Rig(clock, tracking=svc, recorder=svc, watchdog=svc)
    assert r.station.timing.needs_calibration
    assert r.station.home.sessions_today == 3
    r.press()
    r.until(lambda: r.engine.state is State.INTRO)
    settle = [o for o in svc.outputs if isinstance(o, SettleEnded)]
    assert settle and settle[0].calibrated
    r.station.step(clock())
    assert words.CAMERA_MISSING in {n.text for n in r.station.notices.values()}
    r.until(lambda: r.engine.state is State.MOVE)
    r.station.step(clock())  # the tracking hears of the move in the step that began it
    assert "no_camera" not in r.station.notices  # cleared when the camera is back
    r.until(lambda: r.engine.state is State.SUMMARY)
    assert r.station.screen_model(clock()).results[0].sentence == "Your mouth stayed quiet."
    assert svc.readies == 1 and svc.beats == r.station.frames
    assert len(svc.recorded) == len(svc.outputs) > 40
    r.close()


def test_escape_quits_and_the_session_is_saved_as_interrupted(clock, data_dir):
    """Esc (or closing the window) ends the loop; stopping closes the open session as interrupted."""
    import sqlite3

    from station.paths import database_path
    from station.records.recorder import SessionRecorder

    recorder = SessionRecorder(data_dir, None, affected_side="left")
    r = Rig(clock, recorder=recorder)
    try:
        r.press()
        r.until(lambda: r.engine.state is State.MOVE)
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
        r.station.step(clock())
        assert r.station.running is False
    finally:
        r.close()
    with sqlite3.connect(database_path(data_dir)) as db:
        assert db.execute("SELECT status FROM sessions").fetchall() == [("interrupted",)]


class _NoCamera:
    """A tracking service whose camera is missing, optionally with its own sentence."""

    needs_calibration = False
    camera_kind = "none"

    def __init__(self, message: str = "") -> None:
        self.message = message

    def start(self):
        pass

    def poll(self, now, view):
        from station.feedback import LiveFeedback, TrackingStatus

        return LiveFeedback(TrackingStatus.NO_CAMERA, message=self.message), []

    def follow(self, outputs):
        return Measured()

    def set_plan(self, plan, side):
        pass

    def stop(self):
        pass


def test_camera_banner_only_while_practising_unless_the_tracking_has_its_own_words(clock):
    from station.practice import words as w
    from station.practice.events import Event

    st = Station(Settings(), None, Services(tracking=_NoCamera()), clock=clock)
    st.step(clock())
    assert "no_camera" not in st.notices  # home: the camera is not needed
    st._after(st.engine.handle(Event.SHORT_PRESS, clock()), clock())
    st.step(clock.advance(0.1))
    assert st.notices["no_camera"].text == w.CAMERA_MISSING  # practising: say it
    fetching = "Getting the practice face ready. The first time takes a moment."
    st2 = Station(Settings(), None, Services(tracking=_NoCamera(fetching)), clock=clock)
    st2.step(clock())
    assert st2.notices["no_camera"].text == fetching  # its own words, shown on home too
    assert st2.feedback.status is TrackingStatus.NO_CAMERA and st2.feedback.message == ""  # once
