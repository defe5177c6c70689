"""Mirror-station: a bedside synkinesis retraining appliance.

The package is a functional core with thin adapters around it:

core (no pygame, mediapipe, picamera2 or gpiozero imports):
    ``plan``      patterns and plans, as data
    ``session``   the guided-session state machine (sans-I/O, no clock of its own)
    ``metrics``   per-side region readings in millimetres
    ``records``   the SQLite record store
    ``config``    unit settings

adapters (each wraps one real library):
    ``camera``    frame sources (picamera2, OpenCV webcam or video file)
    ``tracker``   MediaPipe FaceLandmarker on its own thread
    ``button``    gpiozero button and keyboard, both posting the same press events
    ``audio``     synthesized cues through pygame.mixer
    ``kiosk``     the pygame screens and the UI loop
"""

__version__ = "0.1.0"
