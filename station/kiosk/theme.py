"""Colours, type sizes and the plain words of the kiosk, in one place.

Calm colours: a soft dark blue background, warm off-white text, teal for the guide, a soft
amber for anything to notice. Never red. Sizes are given for the 800x480 design and scaled.
"""

from __future__ import annotations

from station.practice.plan import REGION_NOUN

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

REGION_NAMES: dict[str, str] = {r: noun.capitalize() for r, noun in REGION_NOUN.items()}

PHASE_WORDS: dict[str, str] = {
    "move": "Move slowly",
    "hold": "Hold",
    "release": "Let go slowly",
    "rest": "Rest",
}

# Notices the kiosk itself raises (other parts bring their own station.feedback.Notice).
CAMERA_MISSING = "Camera not available. Keep going by the guide."
MODEL_MISSING = "Face tracking is not set up. Keep going by the guide. The clinic can fix this."
STORAGE_FULL = "Storage is full. Your practice still counts. Please tell the clinic."
BUTTON_STUCK = "The button seems stuck. Check that nothing is pressing on it."
SERVICE_FAILED = "Something went wrong in the background. Keep going by the guide."
TRACKING_FAILED = "Face tracking stopped. Keep going by the guide."
RECORDS_FAILED = "Practice could not be saved just now. Keep going. Please tell the clinic."
