"""Colours, type and sizes of the kiosk, in one place (its words are in station.practice.words).

Calm colours: a soft dark blue background, warm off-white text, teal for the guide, a soft
amber for anything to notice. Never red. Sizes are given for the 800x480 design and scaled by
``min(w/800, h/480)``, with floors so that small panels stay readable.

Type: Atkinson Hyperlegible (Braille Institute, SIL OFL 1.1, shipped with its licence in
``station/kiosk/fonts/``), designed for low-vision readers: distinct letter shapes (Il1, 0O),
open counters and real kerning. It has a true bold, so no text is ever synthetically emboldened.
Patient text is never smaller than :data:`MIN_TEXT` at 800x480 (a line height of about 33 px,
about 4.5 mm of capital height on a 7-inch panel at arm's length) nor :data:`FLOOR_TEXT` px on
any panel.
"""

from __future__ import annotations

DESIGN_SIZE: tuple[int, int] = (800, 480)

BG = (20, 44, 62)
PANEL = (30, 62, 82)
TRACK = (44, 80, 100)
TEXT = (244, 236, 220)
DIM = (196, 206, 204)  # secondary text: still high contrast on BG (about 9:1)
TEAL = (96, 182, 172)
TEAL_SOFT = (62, 128, 128)
SAGE = (150, 182, 168)
AMBER = (232, 178, 96)
AMBER_BG = (84, 66, 44)
FACE = (52, 88, 108)  # the pictogram's skin: a calm shape just lighter than the panel
FACE_LINE = (120, 150, 160)

FONT_REGULAR = "AtkinsonHyperlegible-Regular.ttf"
FONT_BOLD = "AtkinsonHyperlegible-Bold.ttf"

# Type sizes (font pixels) at 800x480. Line height is about 1.25 x the font size.
TITLE = 54  # bold: the one thing to do now
HEAD = 40  # bold: headings; also the results after a pattern and on the summary
RESULT = 38  # regular: result sentences, as prominent as the headings
BODY = 32  # regular: instructions
HINT = 28  # regular: touch hints, status lines, meter labels
SMALL = 26  # regular: the smallest patient text (top line, clinician rows)
MIN_TEXT = 26  # at 800x480 no patient text is smaller (shrinking to fit stops here)
FLOOR_TEXT = 18  # on any panel, no text is smaller than this many pixels

#: role -> (design size, bold)
ROLES: dict[str, tuple[int, bool]] = {
    "title": (TITLE, True),
    "head": (HEAD, True),
    "result": (RESULT, False),
    "body": (BODY, False),
    "hint": (HINT, False),
    "small": (SMALL, False),
}
