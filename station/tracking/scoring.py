"""From metrics frames to what the patient sees and what the record keeps (pure, no I/O).

* :func:`live_feedback`: the meters for right now (one target meter, one per quiet region).
* :class:`RepScorer`: collects one rep's frames (move, hold, release, rest) -> :class:`RepStats`,
  with the rep's practice quality (slow, small, quiet, released; :mod:`station.tracking.quality`).
* :func:`pattern_result`: one plain sentence after a pattern (the words are in
  :mod:`station.practice.words`).

The target meter never rewards bigger: it fills with the movement in the pattern's own
direction up to the end of the pattern's gentle range (a marked zone) and no further; past it
the meter says "smaller". During move it says "slower" when the target runs ahead of the
guide. Quiet meters ignore blinks (a brief closure of both lids, found on the raw readings by
:mod:`station.tracking.blinks`, the same rule the rep's verdict uses): eye and brow, whose
readings a blink moves. Both the live meters and the verdict measure movement on the smoothed
readings (tau 0.06 s: one-frame jitter damped, nothing stretched) and find blinks on the raw.

Definitions (affected side only, unless said otherwise):

* movement of a region = absolute smoothed reading (mm from neutral), whatever its direction;
  the peak is taken over the rep's scored frames (move, hold, release).
* a quiet region *moved* when its movement held for 0.25 s, blinks excluded, exceeds its
  threshold ``max(k x noise, floor)`` (:attr:`station.tracking.metrics.Baseline.thresholds`);
  ``quiet_mm`` holds those levels.
* coactivation = q / (q + t), where q is the largest quiet-region excess over its threshold
  (peak - threshold, at least 0) and t the target's peak movement. 0 means the quiet regions
  stayed within their noise, values towards 1 mean quiet regions moved as much as the target
  or more. None when no frame was scored or nothing moved at all (q + t < 0.05 mm).
* eye_ratio = affected / unaffected palpebral fissure height (mm) at the scored frame of the
  rep's largest target movement (the Auto-eFACE idea: fissures at peak expression); None
  when it cannot be measured.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from station.feedback import LiveFeedback, PatternResult, Readings, RegionMeter, RepStats, Side, TrackingStatus
from station.practice import words
from station.practice.events import REP_PHASES, State
from station.practice.plan import Pattern, library
from station.tracking import quality as Q
from station.tracking.blinks import BlinkStream
from station.tracking.metrics import (
    MSG_FACE_LOST,
    MSG_TURNED,
    Baseline,
    MetricFrame,
    region_index,
    to_dict,
)

SERIES_HZ = 10.0
MIN_MOVED_MM = 0.05
SCORED_PHASES = frozenset({State.MOVE, State.HOLD, State.RELEASE})  # the classic numbers
# Generic direction when a region is the target of no known pattern (eye, lips: closing and
# narrowing are the movements; everything else rises).
_DEFAULT_SIGN = {"eye": -1.0, "lips": -1.0}


def spec_for(pattern_id: str, target: str, quiet: Sequence[str],
             move_s: float | None = None) -> Q.QualitySpec:
    """The quality spec of a library pattern, or a generic one for ``target``."""
    pattern = library().get(pattern_id)
    if pattern is not None and pattern.target == target:
        return Q.QualitySpec.of(pattern, move_s)
    return Q.QualitySpec(target=target, reading=target, sign=_DEFAULT_SIGN.get(target, 1.0),
                         quiet=tuple(quiet), gentle_max_mm=5.0, move_s=move_s or 4.0)


def live_feedback(frame: MetricFrame, target: str, quiet: Sequence[str], side: Side,
                  baseline: Baseline | None, calibrating_message: str = "", *,
                  spec: Q.QualitySpec | None = None, move_fraction: float | None = None,
                  blink: BlinkStream | None = None) -> LiveFeedback:
    """Meters for one frame: a calm target meter and one meter per quiet region.

    ``side`` is the patient's affected side (their own left or right, whatever the image
    shows). The target meter fills with the movement in the pattern's direction (``spec``)
    up to the end of its gentle zone, never further; ``move_fraction`` (during move only)
    lets it say "slower" when the target runs ahead of the guide. A quiet meter warns when
    its region moves beyond its threshold; with ``blink`` (fed the raw eye readings, as the
    rep's verdict is) the eye and brow meters ignore blinks.
    """
    if frame.status is TrackingStatus.CALIBRATING or baseline is None:
        msg = calibrating_message or frame.message or words.SETTLE_TEXT
        status = TrackingStatus.NO_FACE if frame.status is TrackingStatus.NO_FACE else TrackingStatus.CALIBRATING
        return LiveFeedback(status=status, message=msg, scoring=False)
    if frame.status is TrackingStatus.NO_FACE:
        return LiveFeedback(status=TrackingStatus.NO_FACE, message=MSG_FACE_LOST, scoring=False)
    if frame.status is TrackingStatus.TURNED:
        return LiveFeedback(status=TrackingStatus.TURNED, message=MSG_TURNED, scoring=False)
    if frame.smoothed is None:  # landmarks jumped (a hand over the face): pause scoring
        return LiveFeedback(status=TrackingStatus.TRACKING, message=MSG_FACE_LOST, scoring=False)
    spec = spec or spec_for("", target, quiet)
    s = side.row
    thr = baseline.thresholds
    sm = frame.smoothed
    meters = []
    # The target: its own direction only, on a scale whose gentle zone ends at GENTLE_LEVEL.
    r_idx = region_index(spec.reading)
    t_dir = max(0.0, spec.sign * float(sm[s, r_idx]))
    t_thr = float(thr[s, r_idx])
    scale = Q.gentle_scale(spec.gentle_max_mm)
    past = t_dir > spec.gentle_max_mm
    level = min(t_dir / scale, Q.GENTLE_LEVEL) if t_dir > t_thr else 0.0  # noise shows nothing
    hint = ""
    if past:
        hint = words.HINT_SMALLER
    elif move_fraction is not None and Q.ahead_of_guide(t_dir, t_thr, move_fraction,
                                                         spec.gentle_max_mm):
        hint = words.HINT_SLOWER
    meters.append(RegionMeter(region=target, role="target", level=level, mm=t_dir,
                              gentle_from=min(t_thr / scale, Q.GENTLE_LEVEL),
                              gentle_to=Q.GENTLE_LEVEL, past_gentle=past, hint=hint))
    e = region_index("eye")
    raw = frame.readings if frame.readings is not None else sm
    in_blink = blink is not None and blink.update(frame.t, raw[:, e], thr[:, e])
    for region in quiet:
        q = region_index(region)
        mm = abs(float(sm[s, q]))
        if region in Q.BLINK_REGIONS and in_blink:
            mm = 0.0  # a blink is not the eye (or the brow over it) joining in
        level = float(np.clip(mm / (2.0 * thr[s, q]), 0.0, 1.0))
        meters.append(RegionMeter(region=region, role="quiet", level=level, mm=mm,
                                  warning=bool(mm > thr[s, q])))
    return LiveFeedback(status=TrackingStatus.TRACKING, meters=tuple(meters), scoring=frame.scored)


class RepScorer:
    """Collects one rep's frames and returns its :class:`RepStats` (affected side).

    Feed every frame from the start of *move* to the end of *rest* with its phase. The classic
    numbers (peaks, coactivation, series) use move, hold and release; the practice quality
    uses the whole rep (release is judged at the end of rest). Frames that are not scored (no
    face, turned, settling, landmark jump) count as gated.
    """

    def __init__(self, pattern_id: str, pattern_index: int, rep: int, target: str,
                 quiet: Sequence[str], side: Side, baseline: Baseline | None, *,
                 spec: Q.QualitySpec | None = None) -> None:
        self.pattern_id, self.pattern_index, self.rep = pattern_id, pattern_index, rep
        self.target, self.quiet, self.side = target, tuple(quiet), side
        self.baseline = baseline
        self.spec = spec or spec_for(pattern_id, target, quiet)
        self.frames = 0
        self.face_frames = 0
        self.scored = 0
        self._peak = np.zeros((2, 6))
        self._ratio_at_peak: float | None = None
        self._target_peak = -1.0
        self._series: list[tuple[float, Readings]] = []
        self._t0: float | None = None
        self._last_series_t = -1e9
        # the whole rep, for the quality judge
        self._t: list[float] = []
        self._phase: list[str] = []
        self._readings: list[np.ndarray] = []
        self._raw: list[np.ndarray] = []
        self._counts: dict[str, int] = {}
        self._move_start: float | None = None

    def begin(self, phase: State, at: float) -> None:
        """A phase of this rep started at ``at`` (on the frames' clock); the move start times the
        pace (without it, the first move frame does)."""
        if phase is State.MOVE and self._move_start is None:
            self._move_start = at

    def add(self, frame: MetricFrame, phase: State = State.MOVE) -> None:
        """Take one frame of this rep, seen during ``phase``."""
        if phase not in REP_PHASES:
            return
        scored = frame.scored and frame.smoothed is not None and self.baseline is not None
        self._counts[phase.value] = self._counts.get(phase.value, 0) + 1
        self._t.append(frame.t)
        self._phase.append(phase.value)
        self._readings.append(frame.smoothed if scored and frame.smoothed is not None else np.full((2, 6), np.nan))
        raw = frame.readings if frame.readings is not None else frame.smoothed
        self._raw.append(raw if scored and raw is not None else np.full((2, 6), np.nan))
        if phase not in SCORED_PHASES:
            return
        if self._t0 is None:
            self._t0 = frame.t
        self.frames += 1
        self.face_frames += int(frame.face)
        if not scored:
            return
        assert frame.smoothed is not None and self.baseline is not None
        self.scored += 1
        sm = frame.smoothed
        self._peak = np.maximum(self._peak, np.abs(sm))
        # Eye narrowing is judged at the moment of the rep's largest target movement
        # (Auto-eFACE compares fissures at peak expression; a mean over the rep dilutes it).
        fissure = self.baseline.fissure_mm() + sm[:, 0]
        a, o = fissure[self.side.row], fissure[self.side.other.row]
        t_now = abs(float(sm[self.side.row, region_index(self.target)]))
        if o > 0.5 and t_now > self._target_peak:
            self._target_peak = t_now
            self._ratio_at_peak = float(a / o)
        t = frame.t - self._t0
        if t - self._last_series_t >= 1.0 / SERIES_HZ - 1e-6:
            self._last_series_t = t
            self._series.append((round(t, 3), to_dict(np.round(sm, 3))))

    def quality(self) -> Q.Quality:
        """The rep's practice quality so far (None where it cannot be judged)."""
        if self.baseline is None or not self._t:
            return Q.Quality()
        return Q.judge(self._t, self._phase, np.stack(self._readings), self.side.row,
                       self.spec, self.baseline.thresholds, self._move_start, self._counts,
                       raw=np.stack(self._raw))

    def result(self) -> RepStats:
        """The rep's numbers (zeros and None where nothing could be measured)."""
        s, o = self.side.row, self.side.other.row
        ti = region_index(self.target)
        base = self.baseline
        thr = base.thresholds if base is not None else np.zeros((2, 6))
        have = self.scored > 0
        target_mm = float(self._peak[s, ti]) if have else 0.0
        other_mm = float(self._peak[o, ti]) if have else 0.0
        pct = target_mm / other_mm * 100.0 if have and other_mm >= thr[o, ti] > 0 else None
        qual = self.quality()
        quiet_mm = {r: float(self._peak[s, region_index(r)]) if have else 0.0 for r in self.quiet}
        if qual.quiet_mm is not None:  # held movement with blinks excluded
            quiet_mm = dict(qual.quiet_mm)
        floors = {r: float(thr[s, region_index(r)]) for r in self.quiet}
        excess = max((max(0.0, quiet_mm[r] - floors[r]) for r in self.quiet), default=0.0)
        coact = None
        if have and excess + target_mm >= MIN_MOVED_MM:
            coact = excess / (excess + target_mm)
        return RepStats(
            pattern_id=self.pattern_id, pattern_index=self.pattern_index, rep=self.rep,
            target_region=self.target, target_mm=target_mm, target_other_side_mm=other_mm,
            target_pct_of_other=pct, quiet_mm=quiet_mm, quiet_floor_mm=floors,
            coactivation=coact,
            face_share=self.face_frames / self.frames if self.frames else 0.0,
            frames=self.frames, frames_gated=self.frames - self.scored,
            eye_ratio=self._ratio_at_peak,
            series=tuple(self._series),
            slow=qual.slow, small=qual.small, quiet=qual.quiet, released=qual.released,
            t80_share=qual.t80_share, target_peak_mm=qual.target_peak_mm,
            quiet_excess_mm=qual.quiet_excess_mm, residual_mm=qual.residual_mm,
            gentle_max_mm=self.spec.gentle_max_mm, blinks=qual.blinks,
        )


def rep_was_scored(stats: RepStats, min_share: float = 0.3, min_frames: int = 5) -> bool:
    """True when enough of the rep's frames were scored to judge it."""
    scored = stats.frames - stats.frames_gated
    return scored >= min_frames and scored >= min_share * max(stats.frames, 1)


def pattern_result(pattern_index: int, pattern: Pattern | str, quiet: Sequence[str] = (),
                   reps: Sequence[RepStats] = ()) -> PatternResult:
    """One plain sentence after a pattern (see :func:`station.practice.words.pattern_result`)."""
    if isinstance(pattern, str):
        pattern = library()[pattern]
    return words.pattern_result(pattern_index, pattern, reps)
