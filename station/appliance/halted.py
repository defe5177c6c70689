"""``station halted``: the still screen shown when the kiosk cannot keep running.

systemd starts it (``station-halted.service``) once ``station.service`` has failed too often in
a row, so a broken unit shows one calm message instead of flashing through restarts. It draws
once, then only waits; nothing is read or written. If no display can be opened it writes the
same words to the console (its standard output is tty1).
"""

from __future__ import annotations

import logging
import os
import sys
import time

from station.practice import words

log = logging.getLogger(__name__)

MESSAGE = words.RETURN_TITLE
DETAIL = words.HALTED_DETAIL
BACKGROUND = (22, 36, 52)  # calm dark blue
FOREGROUND = (236, 240, 244)
SOFT = (170, 186, 200)


def _wrap(font: object, text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and font.size(lines[-1] + " " + word)[0] <= width:  # type: ignore[attr-defined]
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def draw_still(surface: object) -> None:
    """Draw the still screen onto a pygame surface (large, centred, calm)."""
    import pygame

    assert isinstance(surface, pygame.Surface)
    w, h = surface.get_size()
    surface.fill(BACKGROUND)
    if not pygame.font.get_init():
        pygame.font.init()
    big = pygame.font.Font(None, max(24, h // 7))
    small = pygame.font.Font(None, max(18, h // 14))
    margin = w // 10
    blocks = [(line, big, FOREGROUND) for line in _wrap(big, MESSAGE, w - 2 * margin)]
    blocks += [(line, small, SOFT) for line in _wrap(small, DETAIL, w - 2 * margin)]
    gap = h // 30
    total = sum(f.get_linesize() for _, f, _ in blocks) + gap
    y = (h - total) // 2
    for i, (line, font, colour) in enumerate(blocks):
        if i and font is small and blocks[i - 1][1] is big:
            y += gap
        img = font.render(line, True, colour)
        surface.blit(img, ((w - img.get_width()) // 2, y))
        y += font.get_linesize()


def show(once: bool = False) -> int:
    """Open the display full screen, draw, then wait for ever (or return at once with ``once``)."""
    from station.appliance.watchdog import Notifier

    notifier = Notifier.from_env()
    try:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        pygame.display.init()
        if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
            screen = pygame.display.set_mode((800, 480))
        else:
            pygame.mouse.set_visible(False)
            screen = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
        draw_still(screen)
        pygame.display.flip()
    except Exception as exc:  # noqa: BLE001 - no display: fall back to the console
        log.warning("still screen: no display (%s); writing to the console", exc)
        print(f"\n\n    {MESSAGE}\n    {DETAIL}\n", flush=True)
        pygame = None  # type: ignore[assignment]
    log.error("station halted: the kiosk failed repeatedly; showing the return-to-clinic screen")
    notifier.ready()
    if once:
        return 0
    while True:  # redraw now and then: a console switch or screen blank may have cleared it
        time.sleep(5)
        if pygame is not None:
            pygame.event.pump()
            draw_still(screen)
            pygame.display.flip()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(show())
