"""Every sentence the patient reads or hears, in one place (ready for a second language).

Rules for these words: short plain sentences, no jargon, nothing that needs a keyboard, and an
error always says what to do next. Feedback praises *small, slow, quiet and released*, never
bigger or stronger. Other modules import these names; they never write patient text of their
own. Log lines and clinician-facing text are not patient words and stay with their code.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from station.feedback import PatternResult, RepStats
from station.practice.plan import Pattern

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

# a release break's prompt when the plan has none of its own (station.practice.plan)
RELEASE_PROMPT_FALLBACK = "Massage your cheek gently."
# the home screen's gentle reminder at a prescribed time (station.practice.reminders)
REMINDER_PROMPT = "It's a good time for a short practice."

# the home screen's trend sentence per prescribed pattern (station.records.progress)
TREND_TRY = "Try a few slow {many} today: small, slow and quiet is the aim."
TREND_KEEP_GOING = "Keep going with {many}: small, slow and quiet is the aim."
TREND_QUIET_IN = "Your {quiet} stayed quiet in {q} of {n} {many} this week."
TREND_QUIETER = "Your {quiet} {has} stayed quieter during {many} this week than last."
TREND_MORE = "Your {quiet} moved a little more during {many} this week. Go slower and smaller."
TREND_SAME = "Your {quiet} {has} stayed about as quiet during {many} as last week. Keep going."

PHASE_WORDS: dict[str, str] = {
    "move": "Move slowly",
    "hold": "Hold",
    "release": "Let go slowly",
    "rest": "Rest",
}

RESTING_FACE_TAKEN = "Thank you. That's your resting face."

# ---- what the face tracking asks for (screen and voice) ---------------------------------------

NO_FACE_SEEN = "I can't see your face. Sit in front of the screen."
KEEP_STILL = "Keep your head still for a moment."
LOOK_STRAIGHT = "Look straight at the screen."
FACE_NOT_IN_VIEW = "Face not in view. Keep going by the guide."
# The head turned or nodded away from where it was at the start: those moments are not measured.
TURN_BACK = "Turn back towards the screen."
SAY_TURN_BACK = "Turn back towards the screen, and keep going."

# ---- notices (calm banners) -------------------------------------------------------------------

CAMERA_MISSING = "Camera not available. Keep going by the guide."
# the laptop demo only: its practice face is fetched once (station.tracking.fakes.fetch)
DEMO_MEDIA_FETCHING = "Getting the practice face ready. The first time takes a moment."
DEMO_MEDIA_FAILED = "The practice face could not be fetched. Keep going by the guide; it is tried again later."
MODEL_MISSING = "Face tracking is not set up. Keep going by the guide. The clinic can fix this."
BUTTON_STUCK = "The button seems stuck. Check that nothing is pressing on it."
SERVICE_FAILED = "Something went wrong in the background. Keep going by the guide."
TRACKING_FAILED = "Face tracking stopped. Keep going by the guide."
RECORDS_FAILED = "Practice could not be saved just now. Keep going. Please tell the clinic."
STORAGE_FULL = "Storage is full. Your practice still counts today, but please tell the clinic."
STORAGE_OK = "Storage has room again. Your practice is saved."
RECORDS_CORRUPT = "The old records file could not be read. It was kept for the clinic and a new one was started."
# the plan on the unit (station.clinic.prescription), shown on home
DEFAULT_PLAN_NOTICE = "No prescription yet. Playing the standard gentle practice."
BROKEN_PLAN_NOTICE = ("The practice plan on this unit could not be read. Playing the standard "
                      "gentle practice. Please tell your clinic.")
# the still screen after repeated crashes (station.appliance.halted)
HALTED_DETAIL = "It could not start. Your practice records are kept safe on it."
# the tracker's own words (station.tracking.tracker); a missing camera is CAMERA_MISSING
CAMERA_STARTING = "Starting the camera."
TRACKING_RESTARTING = "Face tracking stopped (the face model's process ended); it starts again by itself."

# ---- the clinic stick -------------------------------------------------------------------------
# Each step of a stick's work is shown on the unit's screen as it happens (a calm notice) and
# left on the stick for the clinic (station.clinic.stick, stickrequest, recordings, unit).

STICK_READING = "Reading the clinic stick. Please wait."
STICK_UNREADABLE = "The clinic stick could not be read. Please try again."
STICK_SAFE = "Safe to remove the stick."
STICK_WIPED = "This unit holds no patient records now."  # kept on home until the next patient
STICK_UNCHANGED = "Nothing on this unit was changed."
STICK_PULLED = f"The stick was taken out or could not be written. {STICK_UNCHANGED} Put the stick in again to finish."
STICK_FULL = (f"The stick is full. {STICK_UNCHANGED} Make room on the stick (or use a bigger one) "
              "and put it in again.")
STICK_READ_ONLY = f"The stick cannot be written (it is read-only). {STICK_UNCHANGED} Use a stick that can be written."
STICK_BAD_FOLDER = (f"The stick's station-clinic/export is not a folder. {STICK_UNCHANGED} Remove it "
                    "from the stick and put the stick in again.")
STICK_FOUND = "Clinic stick found. Checking it."
STICK_NOT_OPENED = "The stick could not be opened. It was ignored."
STICK_NO_REQUEST = "This stick has no clinic request. It was ignored."
STICK_CHECKED = "Stick checked: it is from this unit's clinic."
STICK_DAMAGED = "The clinic request on this stick is damaged. It was ignored."
STICK_WIPE_WITHOUT_EXPORT = "The clinic request asks to wipe without export. It was ignored."
STICK_NO_KEY = "This unit has no clinic key yet. The stick was ignored."
STICK_REQUEST_UNREADABLE = "The clinic request on this stick could not be read. It was ignored."
STICK_NOT_SIGNED = "This stick is not signed by this unit's clinic. It was ignored."
STICK_USED = "This stick was already used on this unit. It was ignored. Make a new stick to do it again."
STICK_OTHER_UNIT = "This stick was made for unit {made_for}, and this is unit {this_unit}. It was ignored."
STICK_RX_READING = "Reading the new prescription."
STICK_RX_UNREADABLE = "The new prescription could not be read."
STICK_RX_UNSIGNED = "The new prescription is not the one the clinic signed."
STICK_RX_FINE = "The new prescription is fine."
STICK_RX_PROBLEM = "The new prescription has a problem:"
STICK_RX_REFUSED = ("Nothing was done: the records and the current prescription stay on this "
                    "unit. Make a new stick with a good prescription.")
STICK_MIXING = ("This unit still holds another patient's prescription or records, so the new "
                "prescription was not taken and nothing was changed. Make a stick that copies the "
                "records and wipes the unit first, or bring the unit's own return stick.")
STICK_IN_SESSION = ("The station is in the middle of a practice session, so nothing was done. "
                    "Put the stick in again when the session has ended.")
STICK_NOTHING_TO_COPY = "This unit holds no patient records, so there was nothing to copy."
STICK_COPYING = "Copying the records to the stick."
STICK_CANNOT_EXPORT = "This unit cannot export yet (a software part is missing). Nothing was changed."
STICK_CHECKING_COPY = "Checking the copy on the stick."
STICK_COPIED = "Records copied and checked ({files} files, folder {folder})."
STICK_NOT_COPIED = "The records were not copied, so nothing was removed."
STICK_WIPING = "Removing the previous patient's records from this unit."
STICK_WIPE_UNFINISHED = "Removing the records did not finish. Put the stick in again to finish."
STICK_RX_ACTIVE = "The new prescription is active."
STICK_RX_NOT_APPLIED = "The new prescription could not be applied, so the current one stays."
STICK_VOICE_READING = "Reading the recorded voice cues."
STICK_VOICE_UNREADABLE = "The recorded voice cues could not be read, so the voice stays as it was."
STICK_VOICE_IN_USE = "Recorded voice cues in use: {copied} of {listed}."
STICK_DONE_RX_PROBLEM = "Finished, with a problem in the prescription."
STICK_DONE = "All done."
STICK_NOT_HANDLED = f"The stick could not be handled. Nothing was changed. {STICK_SAFE}"

# ---- practice quality: live hints and the sentence after each pattern ----------------------
# Kind and plain; bigger is never praised. After a pattern: the first thing to work on by
# priority (quiet, slow, small, released), then the next one or what held (slow, small): at most
# two short sentences; "well done" only when all four held.

HINT_SMALLER = "Smaller is plenty"
HINT_SLOWER = "Slower: follow the guide"
TARGET_LABEL = "small and slow"
CAMERA_COULD_NOT_FOLLOW = "The camera could not follow this one. Your practice still counts."

# pattern id -> (one, many), as a patient says them
PATTERN_NOUNS: dict[str, tuple[str, str]] = {
    "eye_closure": ("eye closure", "eye closures"),
    "small_smile": ("smile", "smiles"),
    "pucker": ("pucker", "puckers"),
    "ee": ("'ee'", "'ee' movements"),
    "brow_lift": ("brow lift", "brow lifts"),
    "snarl": ("nose wrinkle", "nose wrinkles"),
}
# Quiet regions named together ("mouth" for its corner and lips).
QUIET_NOUN: dict[str, str] = {**REGION_NOUN, "mouth_corner": "mouth", "lips": "mouth",
                              "nose_cheek": "nose"}
QUALITIES: tuple[str, ...] = ("quiet", "slow", "small", "released")


def pattern_nouns(pattern: Pattern) -> tuple[str, str]:
    """Singular and plural plain words for a pattern."""
    if pattern.id in PATTERN_NOUNS:
        return PATTERN_NOUNS[pattern.id]
    name = pattern.name.lower()
    return name, f"{name} movements"


def quiet_noun(pattern: Pattern) -> str:
    """The quiet regions in words, e.g. "eye and brow"."""
    nouns: list[str] = []
    for region in pattern.quiet:
        noun = QUIET_NOUN.get(region, region.replace("_", " "))
        if noun not in nouns:
            nouns.append(noun)
    if not nouns:
        return "face"
    return nouns[0] if len(nouns) == 1 else ", ".join(nouns[:-1]) + " and " + nouns[-1]


def release_note(pattern: Pattern) -> str:
    """For the release break when the face did not let go in the last reps."""
    return f"Your face stayed a little tight after the last {pattern_nouns(pattern)[1]}. " \
           "Let it go fully now."


def _flag(rep: RepStats, name: str) -> bool | None:
    value: bool | None = getattr(rep, name)
    if value is None and name == "quiet" and rep.gentle_max_mm is None:  # numbers from before
        # the quality model (no gentle range): quiet as the peaks say
        scored = rep.frames - rep.frames_gated
        if scored >= 5 and scored >= 0.3 * max(rep.frames, 1):
            return not rep.quiet_moved
    return value


def _first_advice(issue: str, who: str, q: int, count: str, one: str) -> str:
    if issue == "quiet":
        return f"Your {who} stayed soft in {q} of {count}."
    if issue == "slow":
        return f"Try moving even more slowly: the {one} arrived before the guide."
    if issue == "small":
        return f"Try an even smaller {one}: a little movement is plenty."
    return f"After each {one}, let your face go fully soft before the next."


def _next_advice(issue: str, one: str) -> str:
    if issue == "slow":
        return "Try moving even more slowly."
    if issue == "small":
        return f"Try an even smaller {one}."
    return "Let your face go fully soft after each one."


def _praise(flags: dict[str, list[bool]]) -> str:
    """What held, said kindly (only qualities judged and held in every rep)."""
    slow = bool(flags["slow"]) and all(flags["slow"])
    small = bool(flags["small"]) and all(flags["small"])
    if slow and small:
        return "Nice and slow, nice and small."
    return "Nice and slow." if slow else ("Nice and small." if small else "")


def pattern_result(pattern_index: int, pattern: Pattern, reps: Sequence[RepStats],
                   reps_done: int = 0) -> PatternResult:
    """What to say after a pattern (at most two short sentences), from its reps' qualities:
    the first thing to work on by priority (quiet, slow, small, released), then the next one,
    or, when that was the only one, what held (slow, small).

    >>> from station.practice.plan import library
    >>> pattern_result(0, library()["small_smile"], []).sentence
    ''
    """
    one, many = pattern_nouns(pattern)
    flags = {k: [f for f in (_flag(r, k) for r in reps) if f is not None] for k in QUALITIES}
    quiet = flags["quiet"]
    q, n = sum(quiet), len(quiet)
    issues = [k for k in QUALITIES if False in flags[k]]
    count = f"{n} {one if n == 1 else many}"
    who = quiet_noun(pattern)
    if not any(flags.values()):
        if reps:
            sentence = CAMERA_COULD_NOT_FOLLOW
        elif reps_done:
            sentence = f"You did {reps_done} slow {one if reps_done == 1 else many}."
        else:
            sentence = ""
    elif issues:
        sentence = _first_advice(issues[0], who, q, count, one)
        if len(issues) > 1:  # one quality must not hide the next piece of advice
            sentence += " " + _next_advice(issues[1], one)
        else:
            praise = _praise(flags)
            sentence += f" {praise}" if praise else ""
    elif all(flags.values()):  # every quality judged somewhere, and all held
        sentence = f"Your {who} stayed soft in {q} of {count}, slow and small each time."
    elif n:
        sentence = f"Your {who} stayed soft in {q} of {count}."
    else:
        sentence = f"You did {len(reps)} slow {one if len(reps) == 1 else many}."
    extra: dict[str, float] = {}
    coacts = sorted(r.coactivation for r in reps if r.coactivation is not None)
    if coacts:
        extra["coactivation_median"] = float(statistics.median(coacts))
    if reps:
        extra["target_mm_median"] = float(statistics.median(r.target_mm for r in reps))
    for k, v in flags.items():
        if v:
            extra[f"{k}_share"] = sum(v) / len(v)
    return PatternResult(pattern_index=pattern_index, sentence=sentence, reps_quiet=q,
                         reps_scored=n, extra=extra)

# ---- the screens ------------------------------------------------------------------------------
# Counting words: "Exercise 1 of 2" for a pattern, "Movement 2 of 3" for one movement. Never
# "rep" (a gym word, and strength is the wrong idea here) or "pattern".

HOME_TITLE = "Ready to practise"
HOME_START = "Press the button to start."
HOME_FIRST_WEEK = "No practice yet this week. Two minutes is enough."
HOME_DEFAULT_PLAN = "Your clinic has not set your exercises yet. You will do the standard gentle practice."
FROM_THERAPIST = "From your therapist: {message}"
SETTLE_TITLE = "Getting ready"
SETTLE_TEXT = "Relax your face and look at the screen."
SETTLE_WAITING = "Still getting ready. Keep your face relaxed."
INTRO_CONTINUE = "Starts by itself in {seconds}, or press the button."
BREAK_TITLE = "Release break"
BREAK_ASKED = "You asked for a break"
BREAK_DUE = "Time to let go"
BREAK_END_HINT = "Hold the button to end the break."
PAUSED_TITLE = "Paused"
PAUSED_GO_ON = "Press the button to go on."
PAUSED_BREAK_HINT = "Hold the button to take a release break."
SUMMARY_TITLE = "Well done."
SUMMARY_FINISH = "Press the button to finish."
RETURN_TITLE = "Please return this unit to the clinic."
RETURN_THANKS = "Thank you for practising."
INFO_CLOSE = "Press the button to close."
METER_QUIET = "{region}: stays quiet"
METER_QUIET_WARNING = "{region}: let it soften"
FACE_YOUR_LEFT = "your left"
FACE_YOUR_RIGHT = "your right"
LEFT_WORD = "Left"
RIGHT_WORD = "Right"


def exercise_of(n: int, total: int) -> str:
    """'Exercise 1 of 2' (n is 1-based)."""
    return f"Exercise {n} of {total}"


def movement_of(n: int, total: int) -> str:
    """'Movement 2 of 3' (n is 1-based)."""
    return f"Movement {n} of {total}"


def seconds(n: float) -> str:
    """'1 second', '5 seconds' (rounded up, never negative)."""
    import math

    k = max(0, math.ceil(n - 1e-9))
    return "1 second" if k == 1 else f"{k} seconds"


def intro_continue(n: float) -> str:
    """'Starts by itself in 5 seconds, or press the button.'"""
    return INTRO_CONTINUE.format(seconds=seconds(n))


def seconds_left(n: float) -> str:
    """'12 seconds left'."""
    return f"{seconds(n)} left"


def sessions_sentence(today: int, week: int) -> str:
    """Sessions today and this week, in words."""
    if week <= 0 and today <= 0:
        return HOME_FIRST_WEEK

    def n(k: int) -> str:
        return "1 session" if k == 1 else f"{k} sessions"

    return f"Today: {n(today)}. This week: {n(week)}."


def movements_done(done: int) -> str:
    """'You did 6 slow movements.'"""
    moves = "1 slow movement" if done == 1 else f"{done} slow movements"
    return f"You did {moves}."


# ---- the voice --------------------------------------------------------------------------------
# What the station says aloud (station.kiosk.voice speaks these; a clinic may replace any of
# them with a recording of its own, named by the same cue id). Pattern phase words come from
# the pattern's own data file; these are the sentences around them.

SAY_SETTLE = "Let's begin. Relax your face, and look at the screen for a moment."
SAY_INTRO = "{name}. {intro} {touch}"


def intro_text(pattern: Pattern) -> str:
    """What an intro says (and what its length is counted from): name, intro, touch hint."""
    return SAY_INTRO.format(name=pattern.name, intro=pattern.intro, touch=pattern.touch_hint).strip()
SAY_BREAK = "Release break. {prompt}"
SAY_PAUSED = "Paused. Press the button to go on."
SAY_SUMMARY = "Well done. That is the end of this practice."

# ---- the weekly check-in (station.practice.checkin) ---------------------------------------------
# Unlike practice, the check-in asks for a FULL movement, and says so. It never grades.

CHECKIN_TITLE = "Weekly check-in"
CHECKIN_OFFER = "Your weekly check-in is due. It takes about four minutes."
CHECKIN_FULL_NOTE = "Three times, the full movement."
CHECKIN_SETTLE = "Relax your face and look at the screen."
CHECKIN_NEUTRAL = "Keep your face relaxed and still."
CHECKIN_PHASES: dict[str, str] = {
    "move": "Move now",
    "hold": "Hold it",
    "release": "Let go",
    "rest": "Rest",
}
CHECKIN_MOVEMENTS: dict[str, tuple[str, str]] = {  # movement id -> (name, what to do)
    "brow_lift": ("Brow lift", "Raise both eyebrows as high as you can."),
    "eye_closure": ("Eye closure", "Close both eyes gently, all the way."),
    "open_smile": ("Open smile", "Smile as wide as you can, with your mouth open."),
    "snarl": ("Snarl", "Wrinkle your nose and lift your upper lip."),
    "lip_pucker": ("Lip pucker", "Push your lips forward, as if to say oo."),
}
CHECKIN_TRY = "Try {n} of {total}"
CHECKIN_REPEAT: dict[str, str] = {  # why a try is done again -> what to do
    "turned": "Let's do that one again. Face the screen straight on.",
    "no_face": "Let's do that one again. Stay in front of the screen, in good light.",
    "eyes": "Let's do that one again. Keep your eyes in view of the camera.",
    "frames": "Let's do that one again. Keep your face in view.",
}
CHECKIN_REPEAT_OTHER = "Let's do that one again."
CHECKIN_MOVING_ON = "We'll move on."
CHECKIN_NO_BASELINE = "The camera could not see your resting face. Please try the check-in later."
CHECKIN_DONE = "Thank you. Your check-in is done. Your clinic will look at it with you."


def checkin_intro(movement_id: str) -> str:
    """What the patient hears before a movement's three tries."""
    name, what = CHECKIN_MOVEMENTS[movement_id]
    return f"{name}. {what} {CHECKIN_FULL_NOTE}"


def checkin_repeat(reason: str) -> str:
    """The sentence that asks for a try again, for the gate's reason."""
    return CHECKIN_REPEAT.get(reason, CHECKIN_REPEAT_OTHER)


CHECKIN_FULL_SHORT = "This time: the full movement, not a small one."  # the screen's short form
CHECKIN_DUE = "Your weekly check-in is due."
CHECKIN_HOME_START = "Press the button to start it."
CHECKIN_HOME_PRACTISE = "To practise instead, hold the button."
CHECKIN_HOME_DONE = "Weekly check-in done. Thank you."
CHECKIN_INCOMPLETE = "Some movements were hard to see today. That is fine."
CHECKIN_NOT_SAVED = "The check-in could not be saved just now. It is tried again. Please tell the clinic."
CHECKIN_SAY_SETTLE = "Your weekly check-in. Relax, and face the screen."
CHECKIN_SAY_PHASES: dict[str, str] = {  # what the voice says as each part of a try starts
    "hold": "Hold it there.",
    "release": "And let go.",
    "rest": "Rest.",
}
# What the voice says as each try's move starts: a few words that fit in the move's 2 s (the
# introduction before the three tries has said the whole movement).
CHECKIN_SAY_MOVE: dict[str, str] = {
    "brow_lift": "Eyebrows up.",
    "eye_closure": "Eyes closed.",
    "open_smile": "Smile wide.",
    "snarl": "Snarl now.",
    "lip_pucker": "Lips forward.",
}
CHECKIN_SAY_DONE = f"{CHECKIN_DONE} Press the button to finish."


def checkin_movement_of(n: int, total: int) -> str:
    """'Check-in: movement 2 of 5' (n is 1-based)."""
    return f"{CHECKIN_TITLE}: movement {n} of {total}"


def checkin_try(n: int, total: int) -> str:
    """'Try 2 of 3' (n is 1-based)."""
    return CHECKIN_TRY.format(n=n, total=total)
