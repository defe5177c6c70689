"""The demo's simulated patient: a real face photo that moves in step with the session."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

from station.tracking.fakes.patient import load_patient  # noqa: E402
from station.tracking.tracker import Landmarker  # noqa: E402

pytestmark = [pytest.mark.tracking, pytest.mark.slow]


def test_simulated_patient_moves_the_affected_side_on_cue(model_file, media, clock):
    phase = {"now": ("home", None, None, 0.0)}
    patient = load_patient(model_file, "left", lambda: phase["now"], clock=clock)
    rest = patient.read()
    assert rest is not None and rest.rgb.flags["C_CONTIGUOUS"]
    assert patient.read() is None  # paced: no new frame until the clock moves
    clock.advance(0.05)
    phase["now"] = ("hold", "eye", 0, 0.5)
    closed = patient.read()
    assert closed is not None and not np.array_equal(closed.rgb, rest.rgb)
    with Landmarker(model_file) as lm:
        for i in range(12):
            a = lm.detect(rest.rgb, i * 0.1)
        for i in range(12, 24):
            b = lm.detect(closed.rgb, i * 0.1)

    def gap(s, up, low):
        return float(s.landmarks[low, 1] - s.landmarks[up, 1])

    # subject's left eye (386/374) closes much more than the right (159/145)
    left = gap(a, 386, 374) - gap(b, 386, 374)
    right = gap(a, 159, 145) - gap(b, 159, 145)
    assert left > 1.0 and left > 3 * abs(right)


def test_simulated_patient_follows_a_weekly_checkin(model_file, media, clock):
    """In a check-in the demo's patient makes the standard movement asked for, on both sides,
    the affected side weaker (the probe names the check-in's movement)."""
    from station.practice.checkin import CheckinEngine, Event, Phase
    from station.tracking.fakes.sources import PhaseProbe

    engine = CheckinEngine()
    probe = PhaseProbe()
    engine.handle(Event.SHORT_PRESS, clock())
    engine.handle(Event.CALIBRATED, clock())
    while not (engine.phase is Phase.HOLD and engine.view(clock()).movement.id == "lip_pucker"):
        clock.advance(engine.next_deadline() - clock())
        for o in engine.tick(clock()):
            if type(o).__name__ == "TryEnded":
                engine.handle(Event.TRY_OK, clock())
    clock.advance(0.5)
    probe.checkin = engine.view(clock())  # as the check-in hands it over each frame
    assert probe() == ("hold", "checkin:lip_pucker", 0, pytest.approx(0.5 / engine.timing.hold_s))
    from station.tracking.fakes.checkin_video import follow_checkins

    patient = follow_checkins(load_patient(model_file, "left", probe, clock=clock))
    held = patient.read()
    probe.checkin = None  # the check-in over: home, the face at rest
    clock.advance(0.1)
    rest = patient.read()
    assert held is not None and rest is not None and not np.array_equal(held.rgb, rest.rgb)
    with Landmarker(model_file) as lm:
        for i in range(12):
            a = lm.detect(rest.rgb, i * 0.1)
        for i in range(12, 24):
            b = lm.detect(held.rgb, i * 0.1)
    # both mouth corners (61 right, 291 left) move towards the midline, the left (affected) less
    right = float(b.landmarks[61, 0] - a.landmarks[61, 0])
    left = float(a.landmarks[291, 0] - b.landmarks[291, 0])
    assert right > 1.0 and 0.0 < left < right, (left, right)
