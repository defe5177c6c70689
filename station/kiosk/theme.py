"""Colours and type sizes of the kiosk, in one place (its words are in station.practice.words).

Calm colours: a soft dark blue background, warm off-white text, teal for the guide, a soft
amber for anything to notice. Never red. Sizes are given for the 800x480 design and scaled.
"""

from __future__ import annotations

DESIGN_SIZE: tuple[int, int] = (800, 480)

BG = (20, 44, 62)
PANEL = (30, 62, 82)
TRACK = (44, 80, 100)
TEXT = (244, 236, 220)
DIM = (184, 196, 196)
TEAL = (96, 182, 172)
TEAL_SOFT = (62, 128, 128)
SAGE = (150, 182, 168)
AMBER = (232, 178, 96)
AMBER_BG = (84, 66, 44)

# Type sizes at 800x480 (pixels); scaled by min(w/800, h/480).
TITLE = 60
HEAD = 42
BODY = 33
SMALL = 26
MIN_TEXT = 11
