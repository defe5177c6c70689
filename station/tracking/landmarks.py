"""The one place for MediaPipe Face Mesh landmark indices and the regions built from them.

Sides are the *subject's own* (MediaPipe's convention on an unmirrored frame): landmark 473 is
the centre of the subject's LEFT iris, which appears on the right of the raw camera image.
Everything else in the station refers to landmarks through the names defined here.

Region readings (see :mod:`station.tracking.metrics`) use these point sets:

========== ============================================ ==========================================
region      points (right / left)                        reading (signed mm from neutral)
========== ============================================ ==========================================
eye         upper lid 158,159,160 / 385,386,387;         palpebral fissure height (closing < 0)
            lower lid 144,145,153 / 373,374,380
brow        70,63,105,66,107 / 300,293,334,296,336       height above the iris centre line
mouth_corner 61 / 291                                    corner displacement (up and out > 0)
lips        61 / 291 against the facial midline          corner-to-midline width (pucker < 0)
nose_cheek  ala 129 + cheek 50 / ala 358 + cheek 280     rise toward the eye line
chin        lower lip 84 -> chin 148 / 314 -> 377         lower-lip-to-chin distance
========== ============================================ ==========================================
"""

from __future__ import annotations

N_LANDMARKS = 478

# Iris: centres and rings (ring order: towards the nose / up / away from the nose / down on the
# subject's right eye; horizontal pairs give the iris diameter).
IRIS_CENTER = {"right": 468, "left": 473}
IRIS_RING = {"right": (469, 470, 471, 472), "left": (474, 475, 476, 477)}
IRIS_HORIZONTAL = {"right": (469, 471), "left": (474, 476)}
IRIS_DIAMETER_MM = 11.7  # MediaPipe iris model documentation: 11.7 +/- 0.5 mm

# Points that do not move with facial expression: nasal midline and forehead. Each frame is
# registered to the neutral face on these (never on the iris or eye corners of that frame).
STABLE = (168, 6, 197, 195, 5, 4, 10, 151, 9, 8)
# Forehead points either side of the midline, added to the fit: the midline points alone are
# nearly collinear, and the detector bends the lower nose towards a one-sided smile, which
# tilts a midline-only fit. With these the other side's apparent mouth movement under a
# one-sided warp fell from 0.52 to 0.36 of the moving side on the hardest (turned) face.
STABLE_LATERAL = (109, 338, 67, 297, 103, 332, 54, 284)

# Midline points (lips and chin), shared by both sides.
UPPER_LIP_MID = 0
LOWER_LIP_MID = 17
INNER_UPPER_LIP = 13
INNER_LOWER_LIP = 14
CHIN_MID = 152

EYE_UPPER_LID = {"right": (158, 159, 160), "left": (385, 386, 387)}
EYE_LOWER_LID = {"right": (144, 145, 153), "left": (373, 374, 380)}
EYE_CORNERS = {"right": (33, 133), "left": (263, 362)}  # outer, inner
BROW = {"right": (70, 63, 105, 66, 107), "left": (300, 293, 334, 296, 336)}
MOUTH_CORNER = {"right": 61, "left": 291}
NOSE_CHEEK = {"right": (129, 50), "left": (358, 280)}  # nasal ala, cheek
CHIN_LIP = {"right": 84, "left": 314}  # lower lip, beside the midline
CHIN_POINT = {"right": 148, "left": 377}  # chin contour, beside 152

# For the warp ground truth and the eye window: the whole eye contour.
EYE_CONTOUR = {
    "right": (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    "left": (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
}

