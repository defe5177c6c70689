"""Text that always fits its box: wrap at word boundaries, shrink if needed, never overflow.

:func:`draw_text` wraps ``text`` into ``box``, starting at ``size`` and shrinking step by step
down to ``min_size``; if it still does not fit, the last line that fits ends in an ellipsis.
It returns the rectangle actually covered, so a screen can report every text it drew and a test
can check that nothing runs off the surface. Fonts and fitted layouts are cached (the kiosk
redraws 30 times a second with mostly the same words).

The font is the one shipped in ``station/kiosk/fonts/`` (see :mod:`station.kiosk.theme`), in
its real regular and bold faces, so the kiosk looks the same on every machine and never
depends on system fonts or on synthetic bold.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import pygame

from station.kiosk import theme

_FONTS: dict[tuple[int, bool], pygame.font.Font] = {}
_FITS: dict[tuple[object, ...], Fitted] = {}
_GLYPHS: dict[tuple[object, ...], pygame.Surface] = {}
_CACHE_MAX = 1024


@cache
def font_file(bold: bool = False) -> str:
    """Path of the shipped TTF (regular or bold)."""
    name = theme.FONT_BOLD if bold else theme.FONT_REGULAR
    return str(resources.files("station.kiosk").joinpath("fonts", name))


def font(size: int, bold: bool = False) -> pygame.font.Font:
    """The kiosk font at ``size`` pixels, in its real regular or bold face."""
    size = max(6, int(size))
    f = _FONTS.get((size, bold))
    if f is None:
        if not pygame.font.get_init():
            pygame.font.init()
        f = pygame.font.Font(font_file(bold), size)
        _FONTS[(size, bold)] = f
    return f


@dataclass(frozen=True)
class Fitted:
    """A text laid out for a box: its lines, the font size used, the line height."""

    lines: tuple[str, ...]
    size: int
    line_h: int
    truncated: bool = False
    bold: bool = False


def _split_long(word: str, f: pygame.font.Font, width: int) -> list[str]:
    """Break a word wider than the box into pieces (rare: long ids, hashes)."""
    parts, cur = [], ""
    for ch in word:
        if cur and f.size(cur + ch)[0] > width:
            parts.append(cur)
            cur = ch
        else:
            cur += ch
    return parts + ([cur] if cur else [])


def wrap(text: str, f: pygame.font.Font, width: int) -> list[str]:
    """Greedy word wrap; explicit newlines start new lines."""
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for word in para.split():
            pieces = _split_long(word, f, width) if f.size(word)[0] > width else [word]
            for piece in pieces:
                trial = f"{cur} {piece}" if cur else piece
                if f.size(trial)[0] <= width or not cur:
                    cur = trial
                else:
                    lines.append(cur)
                    cur = piece
        lines.append(cur)
    return lines


def fit(text: str, width: int, height: int, size: int, min_size: int = theme.MIN_TEXT,
        max_lines: int = 0, bold: bool = False) -> Fitted:
    """Lay out ``text`` in a ``width`` x ``height`` box at the largest size that fits.

    ``max_lines`` (0 = any) prefers shrinking to wrapping, e.g. one-line headings.
    """
    key = (text, width, height, size, min_size, max_lines, bold)
    hit = _FITS.get(key)
    if hit is not None:
        return hit
    size = max(int(size), 1)
    min_size = min(min_size, size)
    while True:
        f = font(size, bold)
        lines = wrap(text, f, max(1, width))
        line_h = f.get_linesize()
        widest = max((f.size(ln)[0] for ln in lines), default=0)
        few = not max_lines or len(lines) <= max_lines
        if (widest <= width and len(lines) * line_h <= height and few) or size <= min_size:
            break
        size = max(min_size, int(size * 0.9))
    truncated = False
    fits_n = max(1, height // line_h) if line_h else 1
    if len(lines) > fits_n:
        lines = lines[:fits_n]
        truncated = True
    if truncated or widest > width:
        lines = [_ellipsize(ln, f, width) for ln in lines]
        if truncated:
            lines[-1] = _ellipsize(lines[-1] + " ...", f, width)
    result = Fitted(tuple(lines), size, line_h, truncated, bold)
    if len(_FITS) > _CACHE_MAX:
        _FITS.clear()
    _FITS[key] = result
    return result


def _ellipsize(line: str, f: pygame.font.Font, width: int) -> str:
    if f.size(line)[0] <= width:
        return line
    while line and f.size(line + "...")[0] > width:
        line = line[:-1]
    return line + "..." if line else ""


def _glyphs(line: str, size: int, color: tuple[int, int, int], bold: bool) -> pygame.Surface:
    key = (line, size, color, bold)
    surf = _GLYPHS.get(key)
    if surf is None:
        surf = font(size, bold).render(line, True, color)
        if len(_GLYPHS) > _CACHE_MAX:
            _GLYPHS.clear()
        _GLYPHS[key] = surf
    return surf


def draw_text(
    surface: pygame.Surface,
    text: str,
    box: pygame.Rect,
    size: int,
    color: tuple[int, int, int] = theme.TEXT,
    align: str = "left",
    valign: str = "top",
    min_size: int = theme.MIN_TEXT,
    max_lines: int = 0,
    bold: bool = False,
) -> tuple[pygame.Rect, Fitted] | None:
    """Draw ``text`` fitted into ``box``; returns the rectangle covered and the layout used
    (None for no text)."""
    if not text.strip() or box.w <= 0 or box.h <= 0:
        return None
    fitted = fit(text, box.w, box.h, size, min_size, max_lines, bold)
    total_h = len(fitted.lines) * fitted.line_h
    y = box.y
    if valign == "middle":
        y = box.y + (box.h - total_h) // 2
    elif valign == "bottom":
        y = box.bottom - total_h
    covered: pygame.Rect | None = None
    for line in fitted.lines:
        if line:
            glyphs = _glyphs(line, fitted.size, color, bold)
            r = glyphs.get_rect()
            r.y = y
            if align == "center":
                r.centerx = box.centerx
            elif align == "right":
                r.right = box.right
            else:
                r.x = box.x
            surface.blit(glyphs, r)
            covered = r.copy() if covered is None else covered.union(r)
        y += fitted.line_h
    return (covered, fitted) if covered is not None else None
