"""From metrics frames to what the patient sees and what the record keeps (pure, no I/O).

* :func:`live_feedback`: the meters for right now (one target meter, one per quiet region).
* :class:`RepScorer`: collects one rep's frames (move, hold, release) -> :class:`RepStats`.
* :func:`pattern_result`: one plain sentence after a pattern.

Definitions (affected side only, unless said otherwise):

* movement of a region = absolute smoothed reading (mm from neutral), whatever its direction;
  the peak is taken over the rep's scored frames.
* a quiet region *moved* when its peak exceeds its threshold ``max(k x noise, floor)``
  (:attr:`station.tracking.metrics.Baseline.thresholds`).
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

from station.feedback import LiveFeedback, PatternResult, RegionMeter, RepStats, TrackingStatus
from station.practice.words import REGION_NOUN
from station.tracking.metrics import (
    MSG_FACE_LOST,
    MSG_TURNED,
    Baseline,
    MetricFrame,
    region_index,
    side_index,
    to_dict,
)

# Movement (mm beyond the threshold) that fills the target meter: a gentle scale, so a small,
# slow movement already shows (effort 2-3 of 10 is the aim, bigger is not better).
TARGET_FULL_MM = 3.0
SERIES_HZ = 10.0
MIN_MOVED_MM = 0.05

# Plain nouns for the sentence after a pattern: (one, many).
PATTERN_NOUNS: dict[str, tuple[str, str]] = {
    "small_smile": ("smile", "smiles"),
    "eye_closure": ("eye closure", "eye closures"),
    "pucker": ("pucker", "puckers"),
    "ee": ('"ee"', '"ee"s'),
    "brow_lift": ("brow lift", "brow lifts"),
    "snarl": ("nose wrinkle", "nose wrinkles"),
}
# Quiet regions named together for the patient ("mouth" for corner and lips).
_QUIET_NOUN = {"mouth_corner": "mouth", "lips": "mouth", "eye": "eye", "brow": "brow",
               "nose_cheek": "nose", "chin": "chin"}


def other_side(side: str) -> str:
    """The unaffected side."""
    return "right" if side == "left" else "left"


def live_feedback(frame: MetricFrame, target: str, quiet: Sequence[str], side: str,
                  baseline: Baseline | None, calibrating_message: str = "") -> LiveFeedback:
    """Meters for one frame: a calm target meter and one meter per quiet region.

    ``side`` is the patient's affected side (their own left or right, whatever the image
    shows). A quiet meter warns when its region moves beyond its threshold.
    """
    if frame.status is TrackingStatus.CALIBRATING or baseline is None:
        msg = calibrating_message or frame.message or "Relax your face and look at the screen."
        status = TrackingStatus.NO_FACE if frame.status is TrackingStatus.NO_FACE else TrackingStatus.CALIBRATING
        return LiveFeedback(status=status, message=msg, scoring=False)
    if frame.status is TrackingStatus.NO_FACE:
        return LiveFeedback(status=TrackingStatus.NO_FACE, message=MSG_FACE_LOST, scoring=False)
    if frame.status is TrackingStatus.TURNED:
        return LiveFeedback(status=TrackingStatus.TURNED, message=MSG_TURNED, scoring=False)
    if frame.smoothed is None:  # landmarks jumped (a hand over the face): pause scoring
        return LiveFeedback(status=TrackingStatus.TRACKING, message=MSG_FACE_LOST, scoring=False)
    s = side_index(side)
    thr = baseline.thresholds
    meters = []
    t_idx = region_index(target)
    t_mm = abs(float(frame.smoothed[s, t_idx]))
    t_level = float(np.clip((t_mm - thr[s, t_idx]) / TARGET_FULL_MM, 0.0, 1.0)) ** 0.5
    meters.append(RegionMeter(region=target, role="target", level=t_level, mm=t_mm))
    for region in quiet:
        q = region_index(region)
        mm = abs(float(frame.smoothed[s, q]))
        level = float(np.clip(mm / (2.0 * thr[s, q]), 0.0, 1.0))
        meters.append(RegionMeter(region=region, role="quiet", level=level, mm=mm,
                                  warning=bool(mm > thr[s, q])))
    return LiveFeedback(status=TrackingStatus.TRACKING, meters=tuple(meters), scoring=frame.scored)


class RepScorer:
    """Collects one rep's frames and returns its :class:`RepStats` (affected side).

    Feed every frame from the start of *move* to the end of *hold* (or *release*). Frames
    that are not scored (no face, turned, settling, landmark jump) count as gated.
    """

    def __init__(self, pattern_id: str, pattern_index: int, rep: int, target: str,
                 quiet: Sequence[str], side: str, baseline: Baseline | None) -> None:
        self.pattern_id, self.pattern_index, self.rep = pattern_id, pattern_index, rep
        self.target, self.quiet, self.side = target, tuple(quiet), side
        self.baseline = baseline
        self.frames = 0
        self.face_frames = 0
        self.scored = 0
        self._peak = np.zeros((2, 6))
        self._ratio_at_peak: float | None = None
        self._target_peak = -1.0
        self._series: list[tuple[float, dict]] = []
        self._t0: float | None = None
        self._last_series_t = -1e9

    def add(self, frame: MetricFrame) -> None:
        """Take one frame of this rep."""
        if self._t0 is None:
            self._t0 = frame.t
        self.frames += 1
        self.face_frames += int(frame.face)
        if not frame.scored or frame.smoothed is None or self.baseline is None:
            return
        self.scored += 1
        sm = frame.smoothed
        self._peak = np.maximum(self._peak, np.abs(sm))
        # Eye narrowing is judged at the moment of the rep's largest target movement
        # (Auto-eFACE compares fissures at peak expression; a mean over the rep dilutes it).
        fissure = self.baseline.fissure_mm() + sm[:, 0]
        a, o = fissure[side_index(self.side)], fissure[side_index(other_side(self.side))]
        t_now = abs(float(sm[side_index(self.side), region_index(self.target)]))
        if o > 0.5 and t_now > self._target_peak:
            self._target_peak = t_now
            self._ratio_at_peak = float(a / o)
        t = frame.t - self._t0
        if t - self._last_series_t >= 1.0 / SERIES_HZ - 1e-6:
            self._last_series_t = t
            self._series.append((round(t, 3), to_dict(np.round(sm, 3))))

    def result(self) -> RepStats:
        """The rep's numbers (zeros and None where nothing could be measured)."""
        s, o = side_index(self.side), side_index(other_side(self.side))
        ti = region_index(self.target)
        base = self.baseline
        thr = base.thresholds if base is not None else np.zeros((2, 6))
        have = self.scored > 0
        target_mm = float(self._peak[s, ti]) if have else 0.0
        other_mm = float(self._peak[o, ti]) if have else 0.0
        pct = target_mm / other_mm * 100.0 if have and other_mm >= thr[o, ti] > 0 else None
        quiet_mm = {r: float(self._peak[s, region_index(r)]) if have else 0.0 for r in self.quiet}
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
        )


def rep_was_scored(stats: RepStats, min_share: float = 0.3, min_frames: int = 5) -> bool:
    """True when enough of the rep's frames were scored to judge it."""
    scored = stats.frames - stats.frames_gated
    return scored >= min_frames and scored >= min_share * max(stats.frames, 1)


def pattern_result(pattern_index: int, pattern_id: str, quiet: Sequence[str],
                   reps: Sequence[RepStats]) -> PatternResult:
    """One plain sentence after a pattern, e.g. 'Your eye stayed quiet in 4 of 5 smiles.'"""
    one, many = PATTERN_NOUNS.get(pattern_id, ("try", "tries"))
    scored = [r for r in reps if rep_was_scored(r)]
    quiet_reps = [r for r in scored if not r.quiet_moved]
    nouns: list[str] = []
    for region in quiet:
        noun = _QUIET_NOUN.get(region, REGION_NOUN.get(region, region))
        if noun not in nouns:
            nouns.append(noun)
    who = " and ".join(nouns) if nouns else "face"
    if not scored:
        sentence = "The camera could not follow this one. Your practice still counts."
    else:
        n = len(scored)
        sentence = f"Your {who} stayed quiet in {len(quiet_reps)} of {n} {one if n == 1 else many}."
    extra: dict[str, float] = {}
    coacts = [r.coactivation for r in scored if r.coactivation is not None]
    if coacts:
        extra["coactivation_median"] = float(np.median(coacts))
    if scored:
        extra["target_mm_median"] = float(np.median([r.target_mm for r in scored]))
    return PatternResult(pattern_index=pattern_index, sentence=sentence,
                         reps_quiet=len(quiet_reps), reps_scored=len(scored), extra=extra)
