"""Practice: what the patient does, as pure data and a state machine.

Theory of operation
-------------------
A *plan* (``plan``; the patterns are TOML files in ``patterns/``) lists the prescribed movement
patterns with their reps and pacing. The session engine (``session``) walks that plan as a
table of states x events with no I/O and no clock of its own: the caller passes ``now`` with
every event and follows the outputs it returns (``events``). The weekly check-in (``checkin``,
its vocabulary in ``checkin_events``) is a second engine in the same style: five standard
movements, three full tries each, repeats asked for by a quality gate. Every sentence the
patient reads or hears lives in ``words``; ``reminders`` decides, from plain times, when the
home screen gently suggests a session.

Nothing here imports pygame, mediapipe, cv2, picamera2 or gpiozero, and nothing here imports
another station package: practice is the bottom of the import order.
"""
