"""The check-in's measures: millimetres per movement, never a grade (pure numpy, no I/O).

What is measured (see :mod:`station.practice.checkin` for the protocol):

* **per try**, over the steady part of the hold (after :data:`HOLD_SKIP_SHARE` of it), the
  median of each reading of :mod:`station.tracking.metrics` (signed mm from the neutral face,
  per side and region, raw, registered by the metrics' own registration):

  - *excursion* of the movement's region on the affected and the other side, in its own
    direction (:attr:`Movement.sign`), and their *ratio* affected / other (none when the
    other side moved less than :data:`MIN_OTHER_MM`: a ratio of two noises means nothing);
  - *co-movement* of every other region on the affected side, signed mm in that region's own
    direction (eye: fissure, closing < 0);
  - *eye narrowing* of the affected eye in % of its resting fissure (the published
    definition: fissure drop / resting fissure), for every movement but the eye closure.

  Blinks (both lids, briefly) are masked out of the eye and brow co-movement (a blink moves
  the brow landmarks too); the adapter :func:`blink_frames` is the one place that chooses the
  blink detector.
* **per movement**, the median over the accepted tries and their *spread* (max - min): a
  change between two check-ins is real only when it exceeds the patient's own spread
  (:func:`change_is_real`).
* **at rest** (the neutral rest), the side-to-side differences (affected - other) of eye
  fissure, brow height and mouth-corner height, in mm.

Before a try is measured, :func:`gate_try` checks it: face found, face frontal to the
calibrated pose, eyes found, enough scored frames. A try that fails is never measured: the
engine asks for it again.

No Sunnybrook, eFACE or House-Brackmann score is computed here or anywhere in the station:
no automated estimate of them is validated at the bedside, so the station reports the
millimetres they look at and leaves judgement to the clinician.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from station.feedback import SIDES, Side
from station.practice.checkin import (
    MOVEMENTS,
    CheckinTiming,
    Event,
    Movement,
    MovementDone,
    Output,
    Phase,
    PhaseStarted,
    TryEnded,
)
from station.practice.plan import REGIONS
from station.tracking import blinks
from station.tracking.face import FaceSample
from station.tracking.metrics import Baseline, MetricFrame, Metrics

HOLD_SKIP_SHARE = 0.25  # the first quarter of a hold is still arriving
MIN_OTHER_MM = 0.5  # below this the other side did not move: no ratio
GATE_TURN_RAD = 0.15  # ~8.6 deg from the calibrated pose (registration error grows with it)
GATE_TURNED_SHARE = 0.3  # more of the hold turned than this: "turned"
GATE_FACE_SHARE = 0.8  # of the try's frames
GATE_HOLD_COVER = 0.6  # scored frames must cover this share of the hold's steady part ...
GATE_BIN_S = 0.5  # ... counted in slices this long (each needs one good frame)
GATE_MIN_FRAMES = 3
GATE_BAD_EYES_SHARE = 0.3
EYE_MIN_FISSURE_MM = -1.0  # a fissure below this is not an eye the model found
EYE_MAX_FISSURE_FACTOR = 2.0  # nor one twice its resting height (+ 3 mm)

_RI = {r: i for i, r in enumerate(REGIONS)}
_EYE, _BROW = _RI["eye"], _RI["brow"]


def _side_rows(side: Side) -> tuple[int, int]:
    a = SIDES.index(side)
    return a, 1 - a


def blink_frames(t: np.ndarray, eye_affected: np.ndarray, eye_other: np.ndarray,
                 thr_affected: float, thr_other: float) -> np.ndarray:
    """Frames inside a blink or its margins: the station's one blink rule
    (:func:`station.tracking.blinks.blink_mask`, raw readings of both lids, the affected lid
    allowed to lag)."""
    eye = np.stack([np.asarray(eye_affected, dtype=np.float64),
                    np.asarray(eye_other, dtype=np.float64)], axis=1)
    return np.asarray(blinks.blink_mask(np.asarray(t, dtype=np.float64), eye,
                                        np.array([thr_affected, thr_other]), affected=0), dtype=bool)


# ---- one try's frames --------------------------------------------------------------------


@dataclass
class TryFrames:
    """The frames of one try (move, hold, release, rest), as the metrics made them."""

    movement: Movement
    try_index: int
    attempt: int
    hold_start: float
    hold_s: float
    t: list[float] = field(default_factory=list)
    phase: list[str] = field(default_factory=list)
    face: list[bool] = field(default_factory=list)
    scored: list[bool] = field(default_factory=list)
    turn: list[float] = field(default_factory=list)  # rad from the calibrated pose, NaN unknown
    reason: list[str] = field(default_factory=list)  # why the metrics did not score a frame
    readings: list[np.ndarray] = field(default_factory=list)  # (2, 6), NaN when none

    def add(self, t: float, phase: str, frame: MetricFrame, baseline: Baseline | None) -> None:
        """Keep one frame."""
        self.t.append(float(t))
        self.phase.append(phase)
        self.face.append(bool(frame.face))
        self.scored.append(bool(frame.scored))
        turn = float("nan")
        if frame.pose is not None and baseline is not None:
            turn = float(frame.pose.distance(baseline.pose))
        self.turn.append(turn)
        self.reason.append(frame.reason)
        r = frame.readings if frame.readings is not None else np.full((2, len(REGIONS)), np.nan)
        self.readings.append(np.asarray(r, dtype=np.float64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(t, phase, face, scored, turn, readings (n, 2, 6)) as arrays."""
        n = len(self.t)
        rd = np.stack(self.readings) if n else np.zeros((0, 2, len(REGIONS)))
        return (np.asarray(self.t), np.asarray(self.phase, dtype=object), np.asarray(self.face, bool),
                np.asarray(self.scored, bool), np.asarray(self.turn, dtype=np.float64), rd)

    def describe(self) -> dict[str, float]:
        """What the gate looked at, for the log: frames, face share, frames in the hold's steady
        part and how many of them were scored, the median frame interval (s)."""
        t, _phase, face, scored, _turn, _rd = self.arrays()
        steady = self.steady_hold()
        return {"frames": float(len(t)), "face_share": round(float(face.mean()), 2) if len(t) else 0.0,
                "steady": float(steady.sum()), "steady_scored": float((steady & scored).sum()),
                "dt": round(float(np.median(np.diff(t))), 3) if len(t) > 1 else 0.0}

    def steady_hold(self) -> np.ndarray:
        """Mask of the hold's steady part (after :data:`HOLD_SKIP_SHARE` of it)."""
        t, phase, *_ = self.arrays()
        steady: np.ndarray = (phase == "hold") & (t >= self.hold_start + HOLD_SKIP_SHARE * self.hold_s - 1e-9)
        return steady


def gate_try(tf: TryFrames, baseline: Baseline) -> tuple[bool, str]:
    """Is this try good enough to measure? (ok, reason): reason is one of ``no_face``,
    ``turned``, ``eyes``, ``frames`` (the words module has a sentence for each)."""
    t, _phase, face, scored, turn, rd = tf.arrays()
    if len(t) == 0 or face.mean() < GATE_FACE_SHARE:
        return False, "no_face"
    steady = tf.steady_hold()
    if not steady.any():
        return False, "frames"
    # turned: past the gate here, or past the metrics' own turn gate (which leaves it unscored)
    turned = (np.nan_to_num(turn, nan=0.0) > GATE_TURN_RAD) | (np.asarray(tf.reason, dtype=object) == "turned")
    seen = steady & face
    if seen.any() and turned[seen].mean() > GATE_TURNED_SHARE:
        return False, "turned"
    good = steady & scored & np.all(np.isfinite(rd.reshape(len(t), -1)), axis=1)
    fiss = baseline.fissure_mm()
    if good.any():
        abs_eye = rd[good][:, :, _EYE] + fiss[None, :]
        bad = (abs_eye < EYE_MIN_FISSURE_MM) | (abs_eye > EYE_MAX_FISSURE_FACTOR * fiss[None, :] + 3.0)
        if bad.any(axis=1).mean() > GATE_BAD_EYES_SHARE:
            return False, "eyes"
    # Cover in time, not in frames x the median interval: frames come irregularly (a loaded
    # tracker delivers bursts at 23 fps and gaps; 16 good frames spread over a 2.25 s steady
    # hold were refused as "frames" in the demo, try after try). The steady part is cut in
    # GATE_BIN_S slices; enough of them must hold a good frame.
    steady_start = tf.hold_start + HOLD_SKIP_SHARE * tf.hold_s
    steady_s = (1.0 - HOLD_SKIP_SHARE) * tf.hold_s
    bins = max(1, int(np.ceil(steady_s / GATE_BIN_S - 1e-9)))
    covered = len({min(int((x - steady_start) // GATE_BIN_S), bins - 1) for x in t[good]})
    if good.sum() < GATE_MIN_FRAMES or covered < GATE_HOLD_COVER * bins - 1e-9:
        return False, "frames"
    return True, ""


@dataclass(frozen=True)
class TryResult:
    """What one accepted try measured (mm; ratio and % unitless)."""

    movement: str
    try_index: int
    attempt: int
    affected_mm: float
    other_mm: float
    ratio: float | None
    comovement_mm: dict[str, float]
    eye_narrowing_pct: float | None
    frames: int
    blink_frames: int


def _med(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else float("nan")


def measure_try(tf: TryFrames, side: Side, baseline: Baseline) -> TryResult:
    """The medians of one try's steady hold (see the module docstring)."""
    t, _phase, _face, scored, _turn, rd = tf.arrays()
    a, o = _side_rows(side)
    mv = tf.movement
    col = _RI[mv.target]
    sel = tf.steady_hold() & scored
    thr = baseline.thresholds
    eye_a = np.where(scored, rd[:, a, _EYE], np.nan)
    eye_o = np.where(scored, rd[:, o, _EYE], np.nan)
    blink = blink_frames(t, eye_a, eye_o, float(thr[a, _EYE]), float(thr[o, _EYE])) \
        if mv.target != "eye" else np.zeros(len(t), dtype=bool)
    affected = mv.sign * _med(rd[sel, a, col])
    other = mv.sign * _med(rd[sel, o, col])
    ratio = affected / other if np.isfinite(other) and other >= MIN_OTHER_MM else None
    co: dict[str, float] = {}
    for region, j in _RI.items():
        if region == mv.target:
            continue
        keep = sel & ~blink if j in (_EYE, _BROW) else sel
        co[region] = _med(rd[keep, a, j])
    pct = None
    fiss = float(baseline.fissure_mm()[a])
    if mv.target != "eye" and fiss > 1.0 and np.isfinite(co["eye"]):
        pct = 100.0 * -co["eye"] / fiss
    return TryResult(mv.id, tf.try_index, tf.attempt, affected, other, ratio, co, pct,
                     int(sel.sum()), int((blink & sel).sum()))


# ---- per movement and at rest ------------------------------------------------------------


def _median_spread(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    v = [float(x) for x in values if x is not None and np.isfinite(x)]
    if not v:
        return None, None
    return float(np.median(v)), (float(max(v) - min(v)) if len(v) > 1 else None)


def summarize_movement(movement: Movement, tries: Sequence[TryResult], complete: bool) -> dict[str, Any]:
    """Median over the accepted tries, and their spread (max - min; None with one try)."""
    out: dict[str, Any] = {"movement": movement.id, "target": movement.target, "complete": complete,
                           "accepted": len(tries)}
    spread: dict[str, Any] = {}
    for key in ("affected_mm", "other_mm", "ratio", "eye_narrowing_pct"):
        out[key], spread[key] = _median_spread([getattr(r, key) for r in tries])
    co, co_spread = {}, {}
    for region in REGIONS:
        if region == movement.target:
            continue
        co[region], co_spread[region] = _median_spread([r.comovement_mm.get(region) for r in tries])
    out["comovement_mm"] = co
    spread["comovement_mm"] = co_spread
    out["spread"] = spread
    return out


def rest_measures(baseline: Baseline, rest: np.ndarray, side: Side) -> dict[str, Any]:
    """Side-to-side differences at rest (affected - other, mm) and the rest's own stillness.

    ``rest`` holds the neutral rest's readings (n, 2, 6), NaN where none. Fissure and brow
    height are the neutral face's plus the rest's median change; the mouth-corner height is
    the neutral face's, below the iris line (so a drooping corner has a negative difference).
    """
    a, o = _side_rows(side)
    rest = np.asarray(rest, dtype=np.float64).reshape(-1, 2, len(REGIONS))
    drift = np.array([[_med(rest[:, s, j]) if len(rest) else float("nan") for j in range(len(REGIONS))]
                      for s in range(2)])
    drift = np.nan_to_num(drift, nan=0.0)
    vals = np.asarray(baseline.values, dtype=np.float64)
    neutral = np.asarray(baseline.neutral_mm, dtype=np.float64)
    from station.tracking import landmarks as lm

    corner = {s: -float(neutral[lm.MOUTH_CORNER[s], 1]) for s in SIDES}

    def pair(aff: float, oth: float) -> dict[str, float]:
        return {"affected": round(aff, 3), "other": round(oth, 3), "difference": round(aff - oth, 3)}

    fiss = vals[:, _EYE] + drift[:, _EYE]
    brow = vals[:, _BROW] + drift[:, _BROW]
    spread = {}
    for j, region in enumerate(REGIONS):
        col = rest[:, a, j] if len(rest) else np.zeros(0)
        col = col[np.isfinite(col)]
        spread[region] = round(float(col.max() - col.min()), 3) if len(col) > 1 else None
    return {
        "eye_fissure_mm": pair(float(fiss[a]), float(fiss[o])),
        "brow_height_mm": pair(float(brow[a]), float(brow[o])),
        "mouth_corner_height_mm": pair(corner[SIDES[a]], corner[SIDES[o]]),
        "frames": int(np.isfinite(rest[:, a, _EYE]).sum()) if len(rest) else 0,
        "spread_mm": spread,
    }


def noise_band(*spreads: float | None) -> float | None:
    """The patient's own noise band for a measure: the largest spread of the check-ins compared."""
    known = [float(s) for s in spreads if s is not None]
    return max(known) if known else None


def change_is_real(before: float | None, after: float | None, band: float | None) -> bool | None:
    """True when ``after`` differs from ``before`` by more than the noise band (None: unknown)."""
    if before is None or after is None or band is None:
        return None
    return abs(after - before) > band


# ---- following a check-in ----------------------------------------------------------------


def _round(v: Any, nd: int = 3) -> Any:
    if isinstance(v, dict):
        return {k: _round(x, nd) for k, x in v.items()}
    if isinstance(v, list):
        return [_round(x, nd) for x in v]
    if isinstance(v, float):
        return round(v, nd) if np.isfinite(v) else None
    return v


class CheckinMeasures:
    """Follows a check-in: feeds the metrics, keeps each try's frames, judges and measures.

    The caller (the kiosk, ``station checkin replay``) passes every face sample to
    :meth:`frame` and every engine output to :meth:`follow`, and feeds the engine the events
    they return (CALIBRATED, and TRY_OK / TRY_BAD with the gate's reason).
    """

    def __init__(self, side: Side, metrics: Metrics | None = None,
                 timing: CheckinTiming | None = None,
                 movements: tuple[Movement, ...] = MOVEMENTS) -> None:
        self.side = side
        self.metrics = metrics or Metrics()
        self.timing = timing or CheckinTiming()
        self.movements = movements
        self._phase: Phase = Phase.HOME
        self._try: TryFrames | None = None
        self._rest: list[np.ndarray] = []
        self._told_calibrated = False
        self.tries: list[tuple[TryFrames, bool, str, TryResult | None]] = []
        self.completed: dict[int, bool] = {}

    def frame(self, sample: FaceSample) -> list[Event]:
        """One face sample: the metrics' frame goes to the try under way; events for the engine."""
        mf = self.metrics.update(sample)
        events: list[Event] = []
        if self.metrics.calibrated and not self._told_calibrated:
            self._told_calibrated = True
            events.append(Event.CALIBRATED)
        if self._phase is Phase.NEUTRAL and mf.readings is not None and mf.scored:
            self._rest.append(np.asarray(mf.readings, dtype=np.float64))
        if self._try is not None and self._phase in (Phase.MOVE, Phase.HOLD, Phase.RELEASE, Phase.REST):
            self._try.add(sample.t, self._phase.value, mf, self.metrics.baseline)
        return events

    def follow(self, outputs: Sequence[Output]) -> list[tuple[Event, str]]:
        """Engine outputs in; the verdicts the engine must hear (event, reason), in order."""
        verdicts: list[tuple[Event, str]] = []
        for o in outputs:
            if isinstance(o, PhaseStarted):
                self._phase = o.phase
                if o.phase is Phase.SETTLE:
                    self.metrics.start_calibration()
                    self._told_calibrated = False
                    self._rest.clear()
                elif o.phase is Phase.MOVE and o.movement_index is not None:
                    self._try = TryFrames(self.movements[o.movement_index], o.try_index or 0,
                                          o.attempt or 0, hold_start=o.at + self.timing.move_s,
                                          hold_s=self.timing.hold_s)
                elif o.phase is Phase.HOLD and self._try is not None:
                    self._try.hold_start = o.at
            elif isinstance(o, TryEnded):
                verdicts.append(self._judge())
            elif isinstance(o, MovementDone):
                self.completed[o.movement_index] = o.complete
        return verdicts

    def _judge(self) -> tuple[Event, str]:
        tf, self._try = self._try, None
        base = self.metrics.baseline
        if tf is None or base is None:
            return Event.TRY_BAD, "no_face"
        ok, reason = gate_try(tf, base)
        result = measure_try(tf, self.side, base) if ok else None
        self.tries.append((tf, ok, reason, result))
        return (Event.TRY_OK, "") if ok else (Event.TRY_BAD, reason)

    def result(self) -> dict[str, Any]:
        """``{"side", "rest", "movements": [...]}``: the check-in's numbers (JSON-able)."""
        base = self.metrics.baseline
        rest = rest_measures(base, np.array(self._rest), self.side) if base is not None else None
        movements = []
        for mi, mv in enumerate(self.movements):
            mine = [x for x in self.tries if x[0].movement.id == mv.id]
            accepted = [r for _tf, ok, _reason, r in mine if ok and r is not None]
            summary = summarize_movement(mv, accepted, self.completed.get(mi, False))
            summary["tries"] = [
                {"try": tf.try_index, "attempt": tf.attempt, "accepted": ok, "reason": reason or None,
                 **({} if r is None else {
                     "affected_mm": r.affected_mm, "other_mm": r.other_mm, "ratio": r.ratio,
                     "comovement_mm": r.comovement_mm, "eye_narrowing_pct": r.eye_narrowing_pct,
                     "frames": r.frames, "blink_frames": r.blink_frames})}
                for tf, ok, reason, r in mine]
            movements.append(_round(summary))
        return {"side": self.side, "rest": rest, "movements": movements}
