"""Stand-ins for a real camera: a simulated patient (a real face photo moved on cue) and
sample face media fetched by pinned hash (``samples``), through a helper process started before
the network guard and tried again with backoff (``fetch``), and where the demo's frames come
from (``sources``). They are frame sources like any other; the demo, the benches, the tests and
``station validate`` use them, the kiosk on a Pi never does.

``patient`` (the demo's simulated patient and the one-sided warps), ``scripted`` (a session
whose every rep does what a script says), ``render3d`` (real 3-D head turns of a face photo:
the face mesh rotated about a head centre and warped triangle by triangle), ``variants`` (the
validation set: blinks, one-sided narrowings, squeezes, turns, nods and sway, each rep with
its expected verdict), ``checkin_video`` (scripted check-ins: a real face with a known weaker
side, for the check-in's tests)."""
