"""Every sentence the patient reads or hears, in one place (ready for a second language).

Rules for these words: short plain sentences, no jargon, nothing that needs a keyboard, and an
error always says what to do next. Feedback praises *small, slow, quiet and released*, never
bigger or stronger. Other modules import these names; they never write patient text of their
own. Log lines and clinician-facing text are not patient words and stay with their code.
"""

from __future__ import annotations

# How the patient hears each face region named.
REGION_NOUN: dict[str, str] = {
    "eye": "eye",
    "brow": "brow",
    "mouth_corner": "mouth corner",
    "lips": "lips",
    "nose_cheek": "nose and cheek",
    "chin": "chin",
}
REGION_NAMES: dict[str, str] = {r: noun.capitalize() for r, noun in REGION_NOUN.items()}

PHASE_WORDS: dict[str, str] = {
    "move": "Move slowly",
    "hold": "Hold",
    "release": "Let go slowly",
    "rest": "Rest",
}

RESTING_FACE_TAKEN = "Thank you. That's your resting face."

# ---- notices (calm banners) -------------------------------------------------------------------

CAMERA_MISSING = "Camera not available. Keep going by the guide."
MODEL_MISSING = "Face tracking is not set up. Keep going by the guide. The clinic can fix this."
BUTTON_STUCK = "The button seems stuck. Check that nothing is pressing on it."
SERVICE_FAILED = "Something went wrong in the background. Keep going by the guide."
TRACKING_FAILED = "Face tracking stopped. Keep going by the guide."
RECORDS_FAILED = "Practice could not be saved just now. Keep going. Please tell the clinic."
STORAGE_FULL = "Storage is full. Your practice still counts today, but please tell the clinic."
STORAGE_OK = "Storage has room again. Your practice is saved."
RECORDS_CORRUPT = "The old records file could not be read. It was kept for the clinic and a new one was started."
