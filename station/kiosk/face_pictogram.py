"""A simple vector face that shows what to move and what to keep still (pygame primitives only).

No photo and no camera image: a calm oval with brows, eyes, nose and mouth. On the affected
side the pattern's *target* region glows teal, and each *quiet* region has a soft sage ring
(soft amber while the live meter says it joined in). The other side is drawn plainly.

Which way round
---------------
The face is drawn **as the patient sees themselves in a mirror**: the patient's own left is on
the *left* of the screen. The patient sits facing the screen with a hand on the cheek, so the
lit region is on the same side as the hand that touches it; drawn as another person would see
them (a photograph), a left palsy would light the right of the screen, which is exactly the
confusion to avoid. The sides are also labelled in words ("Left" / "Right", the affected one
highlighted) wherever the face is shown, so the picture never has to be decoded alone.

:func:`draw_face` returns where it put each region and how it drew it, so tests can check the
lit side per pattern and affected side without reading pixels back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pygame

from station.feedback import Side
from station.kiosk import theme

Color = tuple[int, int, int]

#: region -> (dx, dy, radius) as fractions of the head's half width / half height / half width;
#: dx is measured towards the side the region belongs to.
_SPOTS: dict[str, tuple[float, float, float]] = {
    "brow": (0.42, -0.40, 0.26),
    "eye": (0.42, -0.15, 0.21),
    "nose_cheek": (0.30, 0.14, 0.15),
    "mouth_corner": (0.44, 0.46, 0.14),
    "lips": (0.13, 0.48, 0.11),
    "chin": (0.14, 0.76, 0.13),
}
#: a quiet region's mark is an ellipse as flat as its feature (height / width): the brow's and
#: the eye's marks, stacked on one side, must not read as a pair of goggles
_FLAT: dict[str, float] = {"brow": 0.45, "eye": 0.55, "mouth_corner": 0.7, "lips": 0.6}


@dataclass(frozen=True)
class RegionMark:
    """How one region was drawn: ``style`` is ``target``, ``quiet``, ``warning`` or ``plain``."""

    region: str
    side: Side  # the subject's own side
    centre: tuple[int, int]
    radius: int
    style: str


def screen_sign(side: Side) -> int:
    """-1 when ``side`` is drawn on the screen's left (mirror view: the patient's left), else 1."""
    return -1 if side == "left" else 1


def region_closed(target: str | None, side: Side, affected: Side) -> bool:
    """Both eyes are drawn gently closed when closing them is the movement."""
    return target == "eye"


def _mix(a: Color, b: Color, k: float) -> Color:
    return tuple(round(a[i] + (b[i] - a[i]) * k) for i in range(3))  # type: ignore[return-value]


def draw_face(surface: pygame.Surface, box: pygame.Rect, target: str | None,
              quiet: tuple[str, ...], affected_side: Side,
              warnings: frozenset[str] = frozenset(), level: float = 1.0,
              both_sides: bool = False) -> dict[str, RegionMark]:
    """Draw the face fitted into ``box``; returns the marks of the affected side's regions.

    ``level`` (0..1) brightens the target's glow, so the live meter can light it too.
    ``both_sides``: the target glows on both sides and both are drawn alike (the weekly
    check-in asks for the full movement of the whole face, not of the affected side).
    """
    a = max(8, min(box.w // 2, round(box.h * 0.40)))  # half width of the head
    b = round(a * 1.22)  # half height
    cx, cy = box.centerx, box.centery
    width = max(2, round(a / 26))
    head = pygame.Rect(0, 0, 2 * a, 2 * b)
    head.center = (cx, cy)
    pygame.draw.ellipse(surface, theme.FACE, head)
    pygame.draw.ellipse(surface, theme.FACE_LINE, head, width)

    def at(side: Side, dx: float, dy: float) -> tuple[int, int]:
        return cx + screen_sign(side) * round(dx * a), cy + round(dy * b)

    marks: dict[str, RegionMark] = {}
    affected = Side(affected_side)  # a lost side fails here, never drawn as "left"
    # glows and rings first, so the features are drawn on top of them
    for region, (dx, dy, r) in _SPOTS.items():
        centre = at(affected, dx, dy)
        radius = max(3, round(r * a))
        if region == target:
            glow = _mix(theme.FACE, theme.TEAL, 0.45 + 0.55 * max(0.0, min(1.0, level)))
            for spot in (centre, at(affected.other, dx, dy)) if both_sides else (centre,):
                pygame.draw.circle(surface, _mix(theme.FACE, theme.TEAL, 0.35), spot,
                                   radius + max(2, radius // 3))
                pygame.draw.circle(surface, glow, spot, radius)
            style = "target"
        elif region in quiet:  # a soft filled patch with a firm edge, shaped like the feature
            warn = region in warnings
            col = theme.AMBER if warn else theme.SAGE
            patch = pygame.Rect(0, 0, 2 * radius, max(6, round(2 * radius * _FLAT.get(region, 1.0))))
            patch.center = centre
            pygame.draw.ellipse(surface, _mix(theme.FACE, col, 0.3), patch)
            pygame.draw.ellipse(surface, col, patch, max(2, width * (2 if warn else 1)))
            style = "warning" if warn else "quiet"
        else:
            style = "plain"
        marks[region] = RegionMark(region, affected, centre, radius, style)
    # the features, both sides: the affected side a little stronger
    for side in Side:
        s = screen_sign(side)
        col = theme.TEXT if side == affected or both_sides else theme.FACE_LINE
        stroke = max(2, round(a / 15))
        bx, by = at(side, 0.42, -0.40)
        brow = pygame.Rect(0, 0, round(0.48 * a), round(0.22 * b))
        brow.center = (bx, by + brow.h // 3)
        pygame.draw.arc(surface, col, brow, 0.5, 2.64, stroke)
        ex, ey = at(side, 0.42, -0.15)
        eye = pygame.Rect(0, 0, round(0.36 * a), round(0.13 * b))
        eye.center = (ex, ey)
        if region_closed(target, side, affected):  # the eye-closure pattern: a closed lid
            pygame.draw.arc(surface, col, eye.move(0, -eye.h // 2), math.pi + 0.3, 2 * math.pi - 0.3,
                            stroke)
        else:
            pygame.draw.ellipse(surface, col, eye, stroke)
            pygame.draw.circle(surface, col, (ex, ey), max(2, round(0.05 * a)))
        # the nose wing on this side
        nx, ny = at(side, 0.12, 0.24)
        wing = pygame.Rect(0, 0, round(0.16 * a), round(0.10 * b))
        wing.center = (nx, ny)
        pygame.draw.arc(surface, col, wing, math.pi / 2 if s < 0 else -math.pi / 2,
                        3 * math.pi / 2 if s < 0 else math.pi / 2, max(1, stroke - 1))
        # half of a gentle closed-lip mouth
        pts = [at(side, f * 0.40, 0.47 - 0.05 * f * f) for f in (0.0, 0.25, 0.5, 0.75, 1.0)]
        pygame.draw.lines(surface, col, False, pts, stroke)
    pygame.draw.line(surface, theme.FACE_LINE, (cx, cy - round(0.12 * b)), (cx, cy + round(0.20 * b)),
                     max(2, round(a / 24)))
    return marks
