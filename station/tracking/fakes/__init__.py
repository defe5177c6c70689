"""Stand-ins for a real camera: a simulated patient (a real face photo moved on cue) and
sample face media fetched by pinned hash (``samples``), through a helper process started before
the network guard and tried again with backoff (``fetch``), and where the demo's frames come
from (``sources``); ``checkin_video`` makes scripted check-ins (a real face with a known weaker
side) for the check-in's tests. They are frame sources like any other; the demo, the benches and the tests
use them, the kiosk on a Pi never does."""
