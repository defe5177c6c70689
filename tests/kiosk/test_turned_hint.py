"""A head turned away from the calibrated pose: the screen says so at once, the voice says it
calmly once it has lasted, and never again within TURN_SAY_EVERY_S (no repeat every frame)."""

from __future__ import annotations

import pygame

from station.config import Settings
from station.feedback import LiveFeedback, TrackingStatus
from station.kiosk import app as A
from station.kiosk.app import Station
from station.kiosk.services import NullTracking, NullVoice, Services
from station.kiosk.view import ScreenModel
from station.practice import words
from station.practice.events import Event, State


class Turning(NullTracking):
    """Tracking that reports a turned head while ``turned`` is True."""

    turned = False

    def poll(self, now, view):
        if self.turned:
            return LiveFeedback(TrackingStatus.TURNED, message=words.TURN_BACK), []
        return LiveFeedback(TrackingStatus.TRACKING), []


class Hints(NullVoice):
    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    def hint(self, name: str, text: str) -> None:
        self.said.append((name, text))


def test_turned_hint_on_screen_and_spoken_calmly(clock):
    pygame.init()
    tracking, voice = Turning(), Hints()
    station = Station(Settings(), services=Services(tracking=tracking, voice=voice), clock=clock)
    station.start()
    try:
        station.engine.handle(Event.SHORT_PRESS, clock())
        while station.engine.state is not State.MOVE:
            clock.advance(0.25)
            station.step(clock())
        tracking.turned = True
        for _ in range(4):  # 1 s turned: shown, not yet spoken
            clock.advance(0.25)
            station.step(clock())
        model: ScreenModel = station.screen_model(clock())
        assert model.feedback.message == words.TURN_BACK and voice.said == []
        for _ in range(40):  # 10 more seconds: said once, not every frame
            clock.advance(0.25)
            station.step(clock())
        assert voice.said == [("turned", words.SAY_TURN_BACK)]
        tracking.turned = False
        clock.advance(0.25)
        station.step(clock())
        tracking.turned = True  # turned again soon after: still not repeated
        for _ in range(20):
            clock.advance(0.25)
            station.step(clock())
        assert len(voice.said) == 1
        for _ in range(int(A.TURN_SAY_EVERY_S / 0.25)):  # much later, still turned: once more
            clock.advance(0.25)
            station.step(clock())
        assert len(voice.said) == 2
    finally:
        station.stop()
