"""The face pictogram: per pattern and affected side, the right region is lit on the right side."""

from __future__ import annotations

import pygame
import pytest

from station.kiosk import theme
from station.kiosk.face_pictogram import draw_face, screen_sign
from station.practice.plan import library

PATTERNS = sorted(library())


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("pid", PATTERNS)
def test_target_lit_and_quiet_outlined_on_the_affected_side(pid, side):
    p = library()[pid]
    surface = pygame.Surface((400, 400))
    surface.fill(theme.BG)
    box = pygame.Rect(50, 50, 300, 300)
    marks = draw_face(surface, box, p.target, p.quiet, side)
    assert marks[p.target].style == "target"
    assert {r for r, m in marks.items() if m.style == "quiet"} == set(p.quiet)
    # mirror view: the patient's left is drawn on the screen's left
    for region, m in marks.items():
        assert m.side == side
        if region in (p.target, *p.quiet):
            assert (m.centre[0] - box.centerx) * screen_sign(side) > 0, region
    # the glow is really there, and the mirrored spot on the other side is not lit
    m = marks[p.target]
    mirrored = (2 * box.centerx - m.centre[0], m.centre[1])
    assert _lit_share(surface, m.centre, m.radius) > 0.5
    assert _lit_share(surface, mirrored, m.radius) < 0.05


def _lit_share(surface: pygame.Surface, centre: tuple[int, int], radius: int) -> float:
    """Share of the disc's pixels in the teal glow (green well above red; no other colour is)."""
    cx, cy = centre
    pts = [(cx + dx, cy + dy) for dx in range(-radius, radius + 1) for dy in range(-radius, radius + 1)
           if dx * dx + dy * dy <= radius * radius]
    lit = 0
    for xy in pts:
        r, g, _b = surface.get_at(xy)[:3]
        lit += g - r > 70
    return lit / len(pts)


def test_screen_sign_mirror_convention():
    assert screen_sign("left") == -1 and screen_sign("right") == 1


def test_quiet_region_warning_is_amber():
    p = library()["small_smile"]
    surface = pygame.Surface((300, 300))
    marks = draw_face(surface, surface.get_rect(), p.target, p.quiet, "left", frozenset({"eye"}))
    assert marks["eye"].style == "warning" and marks["brow"].style == "quiet"
    cx, cy = marks["eye"].centre
    ring = [surface.get_at((cx + dx, cy))[:3] for dx in range(-marks["eye"].radius - 2, 0)]
    assert theme.AMBER in ring


def test_intro_screen_labels_the_lit_side():
    from station.kiosk.screens import render, sample_models

    models = sample_models()
    for name, side in (("05_intro", "left"), ("07b_intro_right_side", "right")):
        surface = pygame.Surface((800, 480))
        blocks = render(surface, models[name])
        labels = {b.text: b for b in blocks if b.text in ("Left", "Right")}
        assert set(labels) == {"Left", "Right"}
        assert labels["Left"].rect.centerx < labels["Right"].rect.centerx  # mirror view
        lit = labels[side.capitalize()]
        assert surface.get_at((lit.rect.x + 2, lit.rect.centery))[:3] in _colours_near(surface, lit.rect)


def _colours_near(surface: pygame.Surface, rect: pygame.Rect) -> set[tuple[int, int, int]]:
    got = {surface.get_at((x, y))[:3] for x in range(rect.left, rect.right) for y in range(rect.top, rect.bottom)}
    assert theme.TEAL in got  # the affected side's word is teal
    return got


@pytest.mark.parametrize("target", ["brow", "eye", "mouth_corner", "lips", "nose_cheek"])
def test_the_checkin_lights_the_movement_on_both_sides(target):
    """A check-in asks for the full movement of the whole face: no side is singled out."""
    surface = pygame.Surface((400, 400))
    surface.fill(theme.BG)
    box = pygame.Rect(50, 50, 300, 300)
    m = draw_face(surface, box, target, (), "left", both_sides=True)[target]
    mirrored = (2 * box.centerx - m.centre[0], m.centre[1])
    assert _lit_share(surface, m.centre, m.radius) > 0.5
    assert _lit_share(surface, mirrored, m.radius) > 0.5
