"""Tracking: from camera frames to millimetres on the affected side, and per-rep scores.

Theory of operation
-------------------
Pure half (no pygame, mediapipe, cv2, picamera2 or gpiozero): ``face`` (a face sample: 478
landmarks, time, pose), ``landmarks`` (index tables and regions), ``metrics`` (region readings
in mm against this session's neutral baseline) ``scoring`` (live meters and per-rep
results) and ``checkin`` (the weekly check-in's millimetres: excursion, ratio, co-movement, eye
narrowing, rest differences, repeat spread; never a grade).

Adapter half, each wrapping one library: ``camera`` (picamera2, an OpenCV webcam or video
file), ``tracker`` (MediaPipe FaceLandmarker on its own thread, latest frame wins) and ``model``
(the pinned face model). ``live`` joins them into the kiosk's tracking service. ``fakes``
holds the simulated patient and the sample media: camera sources like any other, used by the
demo, the benches and the tests, never by ``station run``.

Imports: practice only (plus the top-level seam modules).
"""
