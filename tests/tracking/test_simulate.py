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
