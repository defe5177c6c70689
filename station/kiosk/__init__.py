"""The pygame kiosk: screen models, pure drawing functions and the UI loop.

``view``     the screen-model dataclass (everything one frame shows, as plain data)
``screens``  pure drawing: ``render(surface, model)`` for every screen; ``station screens``
``face_pictogram``  the vector face: target lit, quiet regions ringed (mirror view)
``text``     wrapping and shrink-to-fit text in the shipped font (``fonts/``, OFL)
``theme``    colours, type roles and sizes (the words live in ``station.practice.words``)
``audio``    the phase tones; ``voice`` the spoken guidance (espeak-ng cache, clinic recordings)
``native_log``  C libraries' stderr to the debug log
``services``  the Protocols the loop talks to, their null stand-ins, the chores' result value
``guard``    the fault guard: each service wrapped once, an exception becomes a calm notice
``app``      the :class:`~station.kiosk.app.Station` loop
``wiring``   builds the real services the loop plugs in (records, tracking, clinic chores)
``housekeeping``  once-a-second chores: clinic sticks, reminders, storage notices
``button``   the GPIO button and the keyboard as a button (short and long presses, a stuck button)
``autoplay``  the demo's self-pressing button (``--autoplay``)
``commands``  ``station run``, ``station demo`` and ``station screens``
``checkin_run``  the weekly check-in in the loop: offered on home when due, run, stored
``checkin_screens``  the check-in's screens in the practice's style
"""

import os as _os

_os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # no pygame banner on the terminal
