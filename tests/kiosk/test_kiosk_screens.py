"""Every kiosk screen renders at three sizes with all text inside the surface and its box."""

from __future__ import annotations

import itertools

import pygame
import pytest

from station.feedback import HomeInfo, Notice
from station.kiosk import screens
from station.kiosk.screens import guide_size, render, sample_models
from station.kiosk.text import fit
from station.kiosk.view import ScreenModel
from station.practice.events import State

SIZES = [(800, 480), (480, 320), (1280, 720)]
MODELS = sample_models()


@pytest.fixture(scope="module", autouse=True)
def _pygame():
    pygame.init()
    yield


def test_a_screen_for_every_engine_state():
    names = {s.value for s in State if s is not State.PAUSED} | {"paused", "info", "returned"}
    assert names <= set(screens.SCREENS)
    shown = {m.screen for m in MODELS.values()}
    assert names <= shown


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(MODELS))
def test_screen_text_stays_on_the_surface(name, size):
    surface = pygame.Surface(size)
    blocks = render(surface, MODELS[name])
    assert blocks, "every screen says something"
    bounds = surface.get_rect()
    for b in blocks:
        assert bounds.contains(b.rect), (b.text, b.rect)
        assert b.box.contains(b.rect), (b.text, b.rect, b.box)
    for a, b in itertools.combinations(blocks, 2):
        assert not a.rect.colliderect(b.rect), (a.text, b.text)


def test_long_text_shrinks_and_still_fits():
    long_msg = " ".join(["Please practise slowly and gently every morning."] * 12)
    model = ScreenModel("home", home=HomeInfo(therapist_message=long_msg, reminder=long_msg),
                        notices=(Notice(long_msg, "attention"),))
    for size in SIZES:
        surface = pygame.Surface(size)
        for b in render(surface, model):
            assert surface.get_rect().contains(b.rect) and b.box.contains(b.rect)
    fitted = fit(long_msg, 200, 30, 40)
    assert fitted.size < 40 and fitted.truncated and fitted.lines[-1].endswith("...")


def test_warning_meter_is_amber_never_red():
    surface = pygame.Surface((800, 480))
    render(surface, MODELS["08_hold_quiet_warning"])
    grid = itertools.product(range(0, 800, 4), range(0, 480, 4))
    colours = {tuple(surface.get_at(xy))[:3] for xy in grid}
    assert (232, 178, 96) in colours  # the soft amber fill of the quiet meter that moved
    assert not any(r > 200 and g < 100 and b < 100 for r, g, b in colours)


def test_pacing_guide_grows_holds_shrinks_rests():
    assert guide_size("move", 0.0) == pytest.approx(0.0)
    assert guide_size("move", 0.5) == pytest.approx(0.5)
    assert guide_size("move", 1.0) == pytest.approx(1.0)
    assert guide_size("hold", 0.3) == 1.0
    assert guide_size("release", 0.0) == pytest.approx(1.0)
    assert guide_size("release", 1.0) == pytest.approx(0.0)
    assert guide_size("rest", 0.5) == 0.0
    grows = [guide_size("move", f / 10) for f in range(11)]
    assert grows == sorted(grows)
