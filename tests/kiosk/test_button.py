"""The button: pure classifier, gpiozero MockFactory pins and the keyboard, with a fake clock."""

from __future__ import annotations

import random

import pygame
import pytest
from gpiozero.pins.mock import MockFactory

from station.kiosk.button import (
    STUCK_AFTER_S,
    GpioButton,
    KeyboardButton,
    LongPress,
    PressClassifier,
    ShortPress,
    Stuck,
    Unstuck,
)


def test_classifier_short_long_and_boundary():
    c = PressClassifier(hold_time=1.5)
    c.press(0.0)
    assert c.release(0.3) == ShortPress()
    c.press(1.0)
    assert c.release(2.4999) == ShortPress()
    c.press(3.0)
    assert c.release(4.5) == LongPress(1.5)
    assert c.release(5.0) is None  # an up without a down does nothing


def test_classifier_one_event_per_hold_and_stuck():
    c = PressClassifier(hold_time=1.5, stuck_after=20.0)
    c.press(0.0)
    c.press(0.5)  # a second down without an up is ignored
    assert c.poll(10.0) is None
    assert c.poll(20.0) == Stuck(20.0)
    assert c.poll(40.0) is None  # reported once
    assert c.release(60.0) == Unstuck(60.0)
    assert not c.is_down and c.held_for(61.0) == 0.0


def test_classifier_random_sequences_never_more_than_one_event_per_hold():
    rng = random.Random(7)
    c = PressClassifier(1.5, 20.0)
    t, holds, events = 0.0, 0, 0
    for _ in range(5000):
        t += rng.choice([0.001, 0.05, 0.5, 1.6, 25.0])
        if rng.random() < 0.5:
            holds += not c.is_down
            c.press(t)
        else:
            ev = c.release(t)
            events += ev is not None and not isinstance(ev, Stuck)
    assert 0 < events <= holds


@pytest.fixture
def pin_button(clock):
    factory = MockFactory()
    button = GpioButton(17, hold_time=1.5, bounce_time=0.05, clock=clock, pin_factory=factory)
    yield factory.pin(17), button
    button.close()


def test_gpio_short_and_long(pin_button, clock):
    pin, button = pin_button
    pin.drive_low()
    clock.advance(0.2)
    pin.drive_high()
    assert button.poll(clock()) == [ShortPress()]
    pin.drive_low()
    clock.advance(1.0)
    assert button.poll(clock()) == [] and button.held_for(clock()) == pytest.approx(1.0)
    clock.advance(0.8)
    pin.drive_high()
    [ev] = button.poll(clock())
    assert isinstance(ev, LongPress) and ev.duration == pytest.approx(1.8)


def test_gpio_twenty_presses_a_second(pin_button, clock):
    pin, button = pin_button
    events = []
    for _ in range(200):
        pin.drive_low()
        clock.advance(0.025)
        pin.drive_high()
        clock.advance(0.025)
        events += button.poll(clock())
    assert events == [ShortPress()] * 200


def test_gpio_held_sixty_seconds_is_stuck_not_a_press(pin_button, clock):
    pin, button = pin_button
    pin.drive_low()
    events = []
    for _ in range(600):
        clock.advance(0.1)
        events += button.poll(clock())
    pin.drive_high()
    events += button.poll(clock())
    assert [type(e) for e in events] == [Stuck, Unstuck]
    assert events[0].held_s == pytest.approx(STUCK_AFTER_S, abs=0.11)


def test_keyboard_space_uses_the_same_grammar(clock):
    pygame.init()
    kb = KeyboardButton(1.5, clock)
    kb.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    clock.advance(2.0)
    kb.handle_event(pygame.event.Event(pygame.KEYUP, key=pygame.K_SPACE))
    kb.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a))  # other keys: nothing
    kb.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    clock.advance(0.1)
    kb.handle_event(pygame.event.Event(pygame.KEYUP, key=pygame.K_SPACE))
    assert kb.poll(clock()) == [LongPress(pytest.approx(2.0)), ShortPress()]
