"""Mirror-station: a bedside synkinesis retraining appliance.

The package is grouped by domain, one folder each; imports flow one way, in this order:

``station`` top level  the seams: ``errors``, ``paths``, ``files``, ``config``, ``feedback``
``practice``   patterns and plans, the session engine and its events, every patient sentence
``tracking``   frames to millimetres and per-rep scores (pure), camera / tracker / model adapters
``records``    the SQLite record store, the recorder, progress, wipe
``clinic``     prescription validator, unit identity, clinic stick, export bundle, PDF report
``appliance``  systemd watchdog, self-check, the still "please return" screen
``kiosk``      the pygame loop, its service Protocols and wiring, screens, button, sound
``desk``       the clinic's web app: units, loans, prescriptions, bundle import, patient pages
``devtools``   benchmarks, offline tracking, record generator (never imported by the kiosk)
``cli``        the parser and a table of each package's ``commands``

``practice``, ``records`` and the pure half of ``tracking`` import no pygame, mediapipe, cv2,
gpiozero or picamera2. ``tests/test_architecture.py`` checks these rules.
"""

__version__ = "0.1.0"
