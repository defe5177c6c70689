"""Tracking: from camera frames to millimetres on the affected side, and per-rep scores.

Theory of operation
-------------------
Pure half (no pygame, mediapipe, cv2, picamera2 or gpiozero): ``face`` (a face sample: 478
landmarks, time, pose), ``landmarks`` (index tables and regions), ``filters`` (when a face
counts as found, and a smoother that does not depend on the frame rate), ``metrics`` (region readings
in mm against this session's neutral baseline, each frame registered to it in 3-D and gated by
its turn from the calibrated pose), ``posedrift`` (what a head turn still adds to the
readings after registration, learned from this session's rest frames), ``blinks`` (blinks
found on the raw readings of both lids, the one rule for the verdict and the live meters),
``quality`` (slow, small, quiet, released),
``scoring`` (live meters and per-rep results) and ``checkin`` (the weekly check-in's millimetres:
excursion, ratio, co-movement, eye narrowing, rest differences, repeat spread; never a grade).

Adapter half, each wrapping one library: ``camera`` (picamera2, an OpenCV webcam or video
file), ``tracker`` (the FaceLandmarker fed from its own thread, latest frame wins), ``sandbox``
(the model in a process of its own: frames in through shared memory, landmarks back through a
pipe) with ``nonet`` (that process's seccomp filters: no socket of any family, no io_uring, no
other syscall ABI, and no file writes once the model is loaded) and ``model`` (the pinned face
model, whose checked bytes are what the sandboxed process loads). mediapipe is imported only
inside the sandboxed process. ``live`` joins them into the kiosk's tracking service. ``fakes``
holds the simulated patient and the sample media: camera sources like any other, used by the
demo, the benches and the tests, never by ``station run``.

``commands`` holds ``station model fetch`` and ``station model verify``.

Imports: practice only (plus the top-level seam modules).
"""
