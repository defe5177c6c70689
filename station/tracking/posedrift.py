"""Pose drift: what a head turn still adds to the readings after 3-D registration (pure numpy).

Why it exists
-------------
:func:`station.tracking.metrics.register` removes a turn or nod exactly from rigid landmarks,
but the landmarker does not keep a turned face rigid. Measured on the three pinned faces
turned in 3-D (:mod:`station.tracking.fakes.render3d`) and tracked again: at a turn the
tracker itself reports as 0.1 rad, the tracked mouth corners lay 2.7 mm from where the turn
had put them in the image, the chin 4 mm, the brow 1.5 mm the other way, while the nose tip and
forehead lay within 0.3 mm. After registration that is up to 2.2 mm of "smile" on a face at
rest (up to 3 times the region's floor), growing about linearly with the turn; no rigid fit of
any depth scale removed it (z scaled by 0.5-2 made it worse). A patient who settles a little
turned would be told every rep that the face did not let go.

What it does
------------
At rest the face is neutral, so what the readings show at rest at a pose is what the pose
adds. :class:`PoseDrift` learns, per side and region, a drift ``B`` over the yaw and pitch
since calibration and their squares (never past the poses it has seen at rest) from the
frames the session calls rest (the intro, the rest at the end of each rep, breaks), and
:meth:`PoseDrift.correction` gives what to subtract from every reading (live meters and
verdicts alike: it is applied before smoothing); the mouth corner is corrected as a vector.
Measured on the turned faces above with a full smile, at a turn or nod the tracker
calls 0.1 rad (largest over three faces, both directions and both sides), taking away what
the same pose reads at rest changed the error to: eye 0.80 -> 0.27 mm, brow 0.71 -> 0.41,
nose/cheek 1.24 -> 0.41, chin 2.08 -> 0.47 (all within their floors), lips 2.09 -> 0.89, and
the smiling mouth corner itself 2.28 -> 1.50 mm (the landmarker bends a turned smile too).

Guards, so that it never excuses what the patient did:

* **No intercept.** At the calibrated pose the correction is zero by construction: a patient
  who does not turn is never corrected.
* **A prior towards no drift** worth :data:`PRIOR_FRAMES` frames at :data:`PRIOR_RAD`: the
  pose jitter of a still head (a few thousandths of a radian) teaches it nothing.
* **A rep never excuses itself.** Rest frames are held back (:meth:`observe`) and learned
  only when the next movement starts (:meth:`commit`), so a rep's own rest is judged before
  it is learned from; and a rest whose rep was judged not released is not learned at all
  (:meth:`discard`): with a swaying head every rest is at a pose of its own, and a tight
  rep's rest taught there made the next rep at that pose read 1.2 mm "not released".
* **Robust.** The fit is reweighted (Huber, :data:`HUBER_MM`), so a minority of rests that did
  not let go move it little; the eye and brow are not learned from a frame where either lid is
  narrowed past its threshold (a blink at rest is not drift).

Past the poses it has seen at rest
----------------------------------
The drift is never extrapolated there: it is not a line through the calibrated pose (a
tangent from rests at pitch 0 to +0.044 said an eye would read 0.16 mm wider at -0.05 rad; it
read 0.50 mm narrower). But what the turn adds there is not zero either: with a swaying head the
first reps come at poses no rest has reached yet, and one "portrait" rep read its mouth corner
0.87 mm out at the end of rest (pitch -0.05 rad, rests seen to -0.016), "not released" for a
face that had let go. So :meth:`PoseDrift.slack` says how much a reading there may still be
drift: :data:`UNSEEN_MM_PER_RAD` per region times how far (rad, yaw plus pitch) the pose lies
past the poses learned. :class:`station.tracking.metrics.Metrics` takes that much off each
reading's size (never past zero, never changing its sign) before smoothing, so the live meters
and every verdict read a movement only where it is larger than the drift that could be there.
The rates are the largest drift measured before correction at 0.1 rad (above: eye 0.80, brow
0.71, nose/cheek 1.24, chin 2.08, lips 2.09, mouth corner 2.28 mm, so 8-23 mm/rad). What it
costs: a movement made at a pose no rest has reached reads smaller by that much (a tight face
that keeps 1.8 mm of its smile at 0.035 rad past the rests still reads 1.0 mm, past the
0.7 mm floor). Nothing is discounted until the drift has learned a rest: the check-in, which
has no rests, is measured as before.

Only a turn is discounted, and the face's own movement moves the registered pose too: on a
still head a rep's smile carried it up to 0.029 rad past the rests (three faces, both sides).
Counting that as a turn took 0.36 mm off a big smile held at 4.26 mm, and a 4 mm gentle range
called it small. So while the face is not asked to rest, the first :data:`EXPRESSION_RAD` past
is not counted; at rest (where "released" is judged) the face is neutral and every bit past is
the head's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PoseDrift", "PRIOR_FRAMES", "PRIOR_RAD", "HUBER_MM", "UNSEEN_MM_PER_RAD",
           "EXPRESSION_RAD", "shrink"]

PRIOR_FRAMES = 10.0  # the prior weighs as much as this many frames ...
PRIOR_RAD = 0.02  # ... at this turn, all reading zero
HUBER_MM = 0.5  # residuals past this count linearly (robust to a rest that did not let go)
MAX_SAMPLES = 900  # learned rest frames kept (the newest): 90 s at 10 fps
_EYE, _BROW = 0, 1
# What a turn may add per radian past the poses learned, per region (eye, brow, mouth corner,
# lips, nose/cheek, chin): the largest drift measured before correction at 0.1 rad, see above.
UNSEEN_MM_PER_RAD = np.array([8.0, 7.1, 22.8, 20.9, 12.4, 20.8])
# How far the registered pose moves with the face's own movement while the head stays still
# (largest past the rests during a rep on a still head: 0.029 rad, three faces, both sides):
# not a turn, so not discounted while the face moves (see above).
EXPRESSION_RAD = 0.03
_N = 16  # learned values: the (2, 6) readings and the corners' (2, 2) moves


def _features(pose: np.ndarray) -> np.ndarray:
    """yaw, pitch, yaw^2, pitch^2: the drift is not symmetric (one face's eye read 0.7 mm at
    +0.06 rad and 0.3 mm at -0.06), so a line through zero cannot follow a swaying head."""
    return np.concatenate([pose, pose ** 2], axis=-1)


class PoseDrift:
    """Linear drift of each reading with the head's turn since calibration, learned at rest.

    >>> import numpy as np
    >>> d = PoseDrift()
    >>> for _ in range(50):
    ...     d.observe((0.1, 0.0), np.full((2, 6), 1.0), np.zeros((2, 2)), np.full((2, 6), 0.6))
    >>> round(float(d.correction((0.1, 0.0))[0][0, 3]), 2)  # nothing learned before commit
    0.0
    >>> d.commit()
    >>> round(float(d.correction((0.1, 0.0))[0][0, 3]), 2)
    1.0
    >>> float(d.correction((0.0, 0.0))[0][0, 3])  # the calibrated pose is never corrected
    0.0
    """

    def __init__(self) -> None:
        self._poses: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._pending_p: list[np.ndarray] = []
        self._pending_v: list[np.ndarray] = []
        self._b = np.zeros((_N, 4))  # the drift per learned value and feature
        self._lo = self._hi = np.zeros(2)  # the poses seen at rest: never extrapolated past

    def reset(self) -> None:
        """Forget everything (a new calibration: a new neutral face)."""
        self._poses.clear()
        self._vals.clear()
        self.discard()
        self._b[:] = 0.0
        self._lo = self._hi = np.zeros(2)

    def correction(self, pose: tuple[float, float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What the turn ``pose`` (yaw, pitch since calibration, rad) adds: to the readings
        ((2, 6) mm) and to each mouth corner's move ((2, 2) mm, out and up).

        The corner is corrected as a vector, before its signed length is taken: a turn shifts
        the corner sideways, and a signed length of a shifted move flips sign mid-smile (the
        reading jumped from -1.2 to +1.2 mm in one frame of a slow smile turned 0.1 rad)."""
        p = np.clip(np.asarray(pose, dtype=np.float64).reshape(2), self._lo, self._hi)
        c = self._b @ _features(p)
        return c[:12].reshape(2, 6), c[12:].reshape(2, 2)

    def slack(self, pose: tuple[float, float] | np.ndarray, rest: bool = True) -> np.ndarray:
        """How much of each reading (2, 6) mm at ``pose`` may still be drift: the pose's distance
        past the poses learned at rest (yaw plus pitch, rad) times :data:`UNSEEN_MM_PER_RAD`.
        Zero within those poses, and everywhere before anything is learned. While the face is
        not asked to rest (``rest`` false) its own movement moves the registered pose, so the
        first :data:`EXPRESSION_RAD` past is not counted as a turn.

        >>> import numpy as np
        >>> d = PoseDrift()
        >>> float(d.slack((0.05, 0.0)).max())  # nothing learned yet: nothing discounted
        0.0
        >>> for y in (0.0, 0.02):
        ...     d.observe((y, 0.0), np.zeros((2, 6)), np.zeros((2, 2)), np.full((2, 6), 0.6))
        >>> d.commit()
        >>> float(d.slack((0.01, 0.0)).max())  # within the poses seen at rest
        0.0
        >>> round(float(d.slack((0.05, 0.0))[0, 2]), 3)  # at rest, 0.03 rad past: mouth corner
        0.684
        >>> float(d.slack((0.04, 0.0), rest=False).max())  # a smile moves the pose that much
        0.0
        >>> round(float(d.slack((0.08, 0.0), rest=False)[0, 2]), 3)  # moving, 0.06 rad past
        0.684
        """
        if not self._poses:
            return np.zeros((2, 6))
        p = np.asarray(pose, dtype=np.float64).reshape(2)
        past = float(np.sum(np.maximum(self._lo - p, 0.0) + np.maximum(p - self._hi, 0.0)))
        if not rest:
            past = max(past - EXPRESSION_RAD, 0.0)
        return np.broadcast_to(UNSEEN_MM_PER_RAD * past, (2, 6)).copy()

    def observe(self, pose: tuple[float, float] | np.ndarray, readings: np.ndarray,
                corner: np.ndarray, thresholds: np.ndarray) -> None:
        """Hold back one rest frame's uncorrected readings (2, 6) and corner moves (2, 2) at
        ``pose``; learned at :meth:`commit`. Eye and brow are left out where a lid is
        narrowed (a blink)."""
        v = np.array(readings, dtype=np.float64).reshape(2, 6)
        c = np.asarray(corner, dtype=np.float64).reshape(4)
        if not (np.all(np.isfinite(v)) and np.all(np.isfinite(c))):
            return
        if bool((v[:, _EYE] < -np.asarray(thresholds)[:, _EYE]).any()):
            v[:, (_EYE, _BROW)] = np.nan
        self._pending_p.append(np.asarray(pose, dtype=np.float64).reshape(2))
        self._pending_v.append(np.r_[v.reshape(12), c])

    def discard(self) -> None:
        """Forget the rest frames held back so far: the rep they closed did not let go, so they
        were not a face at rest (learning them would excuse the next rep at that pose)."""
        self._pending_p.clear()
        self._pending_v.clear()

    def commit(self) -> None:
        """Learn the rest frames held back so far (call as a movement starts) and refit."""
        if not self._pending_p:
            return
        self._poses.extend(self._pending_p)
        self._vals.extend(self._pending_v)
        self._pending_p.clear()
        self._pending_v.clear()
        del self._poses[:-MAX_SAMPLES], self._vals[:-MAX_SAMPLES]
        self._fit()

    def _fit(self) -> None:
        poses = np.stack(self._poses)  # (n, 2)
        self._lo, self._hi = np.minimum(poses.min(axis=0), 0.0), np.maximum(poses.max(axis=0), 0.0)
        p = _features(poses)  # (n, 4)
        r = np.stack(self._vals)  # (n, 16), NaN = not learned
        valid = np.isfinite(r)
        r = np.where(valid, r, 0.0)
        prior = PRIOR_FRAMES * np.diag(_features(np.full(2, PRIOR_RAD)) ** 2)
        w = valid.astype(np.float64)
        b = np.zeros((_N, 4))
        for _ in range(3):  # iteratively reweighted least squares (Huber)
            a = np.einsum("ni,nk,nj->kij", p, w, p) + prior  # (16, 4, 4)
            rhs = np.einsum("ni,nk->ki", p, w * r)  # (16, 4)
            b = np.linalg.solve(a, rhs[..., None])[..., 0]
            res = np.abs(r - p @ b.T)
            w = valid * np.minimum(1.0, HUBER_MM / np.maximum(res, 1e-9))
        self._b = b


def shrink(readings: np.ndarray, slack: np.ndarray) -> np.ndarray:
    """``readings`` each made smaller by ``slack`` (mm), never past zero and never changing sign:
    what is left is what the drift that could be there does not explain.

    >>> import numpy as np
    >>> shrink(np.array([1.0, -1.0, 0.2]), np.array([0.3, 0.3, 0.3])).tolist()
    [0.7, -0.7, 0.0]
    """
    out: np.ndarray = np.sign(readings) * np.maximum(np.abs(readings) - slack, 0.0)
    return out
