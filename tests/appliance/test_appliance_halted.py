"""The still screen: real pygame on the SDL dummy driver."""

from __future__ import annotations

import pygame

from station.appliance.halted import BACKGROUND, MESSAGE, draw_still
from station.cli import main


def _ink_rows(surface: pygame.Surface) -> list[int]:
    w, h = surface.get_size()
    return [
        y for y in range(h) if any(surface.get_at((x, y))[:3] != BACKGROUND for x in range(0, w, 2))
    ]


def test_draws_large_centred_text_at_kiosk_and_small_sizes():
    pygame.font.init()
    for size in ((800, 480), (320, 240)):
        surface = pygame.Surface(size)
        draw_still(surface)
        rows = _ink_rows(surface)
        assert rows, "nothing drawn"
        top, bottom = rows[0], rows[-1]
        h = size[1]
        assert abs((top + bottom) / 2 - h / 2) < h * 0.1  # vertically centred
        assert bottom - top > h * 0.3  # large type, several lines
        assert surface.get_at((2, 2))[:3] == BACKGROUND


def test_message_wording():
    assert MESSAGE == "Please return this unit to the clinic."


def test_cli_once_exits_cleanly():
    assert main(["halted", "--once"]) == 0
    pygame.display.quit()
