"""Practice quality of one rep: slow, small, quiet and released (pure numpy, no I/O).

Theory of operation
-------------------
The retraining material asks four things of every movement, on the affected side: **slow**
(the brain needs time to learn), **small** (gentle precision; strength makes synkinesis
worse), **quiet** (the unhelpful muscles stay off) and **released** (a tight face cannot move
smoothly). :func:`judge` turns one rep's readings (signed mm from the session's neutral face,
see :mod:`station.tracking.metrics`) into those four flags and the numbers behind them.
Movement is measured on the smoothed readings (a one-pole filter of 0.06 s: one-frame jitter
damped, nothing stretched), blinks are found on the raw ones; the live meters do exactly the
same. Each flag is True, False, or None when it cannot be judged (too few scored frames, no
baseline, nothing moved): never a guess.

*Any frame rate from 5 to 30 fps* (a Pi 4 tracks at about 5-10). No rule counts frames: a
frame stands for one frame interval of time. "Held for" ``HELD_S`` (0.2 s) is one frame at
5 fps, two at 7 and 10, three at 15 and six at 30, so a 0.3 s narrowing always spans it; the
80 % time is interpolated between frames; the step window is the whole number of frame
intervals nearest 0.3 s; a phase is judged only when its scored frames cover
:data:`MIN_SCORED_S` (and :data:`MIN_SHARE` of the phase, and at least :data:`MIN_FRAMES`
frames), the end of rest when they cover :data:`MIN_END_S`. Before, "held" meant 0.25 s (two
frames at 5 fps, so a 0.3 s narrowing was missed half the time) and blinks were timed on the
smoothed reading, where the frame rate decided the verdict (at 7 fps 3 frames = 0.43 s
passed, 4 frames = 0.57 s failed).

*The target in its own direction.* Each pattern names the reading that shows its movement and
the sign of that movement (pattern data, :class:`QualitySpec`): smile = mouth-corner
excursion up and out (+), "ee" = the corner's outward position (the ``lips`` width, +),
pucker = lips narrow (``lips`` -), eye closure = the fissure closes (``eye`` -), brow lift =
brow up (+), snarl = ala and cheek up (+). Movement the other way (lips widening in a
pucker, an eye opening wider) is not the target and never fills the target meter.

**slow** -- the pacing guide grows evenly through the move phase, so a patient following it
reaches 80 % of the rep's peak at about 0.8 of the move phase. ``t80_share`` is the time from
the start of move until the target first reaches 80 % of its peak (peak over move and hold),
as a share of the move phase (both measured on the frames' own clock: first move frame to
first hold frame); more than 1 means the peak came during hold (slow, fine).
80 % rather than 100 % because the last few tenths of a millimetre of a plateau are noise.
A rep is *not slow* when ``t80_share < SLOW_MIN_T80`` (0.4: the movement arrived more than
twice as fast as the guide; the issue's example "80 % within the first quarter" is well
inside that), or when it has a *sudden step*: more than ``STEP_MAX_SHARE`` (half) of the peak
gained within ``STEP_WINDOW_S`` (0.3 s), which catches a patient who waits and then jumps to
the peak late in the phase. Even following, the guide gains 7.5 % of the peak in 0.3 s of a
4 s move. Not judged (None) when the peak stays within the target's noise threshold (there is
no movement whose pace could be judged) or when too few move frames were scored.

**small** -- ``target_peak_mm`` (the largest directional target level held for at least
``HELD_S``) is at most the pattern's ``gentle_max_mm``. Each pattern file sets a default (the
reasoning is in the pattern files: about half of a full-strength movement); a prescription
may tune it within ``[GENTLE_MIN_MM, gentle_limit_mm]``.

**quiet** -- every quiet region's movement (absolute reading, any direction), *held for at
least* ``HELD_S`` (0.2 s, so a one-frame flicker at 7 fps and up is not a movement), stays within
its threshold (``max(k x noise, floor)`` from calibration) through move, hold and release.
``quiet_excess_mm`` is the largest excess over a threshold. Blinks are excluded first:

*A blink is not the eye joining in.* People blink 10-20 times a minute; a blink closes both
lids for 0.04-0.33 s. Ocular synkinesis is the affected eye narrowing *with the movement*, for
as long as the movement lasts, usually on that side only. Blinks are found by
:func:`station.tracking.blinks.detect_blinks` on the *raw* eye readings of both lids, the
affected lid allowed to close 0.1 s later and reopen 0.2 s later, judged on the closure
itself (at most 0.5 s, whatever the frame rate); see that module for the rule and the
measurements. Through each blink and 0.12 s either side, the **eye and the brow** readings
are ignored: a blink moves both (on real video the brow moved a median 0.8-0.9 mm during
blinks against 0.2 mm in windows without one; before, the brow was never masked and a masked
eye still left "brow moved"). Nothing else is masked. So: a blink alone stays quiet, in any
phase, at any rate; the affected eye narrowing alone counts, also with the other eye blinking
inside it (a lid that narrows before the other's blink is narrowing, not blinking, and a
narrowing longer than the blink still shows outside it); a two-eyed squeeze longer than a
blink counts. The same mask applies where the eye is the target (eye closure): a blink during
rest is not a failed release.

**released** -- at the end of the rep (the last ``RELEASE_WINDOW_S`` of rest), the median
absolute reading of the target (its region and its directional reading) and of every quiet
region is back within that region's threshold. Median over a window, blinks excluded, so a
blink or one noisy frame does not decide it; ``residual_mm`` is the largest of those medians
(raw mm; released means each is within its own threshold). None when the scored frames of
that window cover less than :data:`MIN_END_S`.

Live (:class:`station.tracking.blinks.BlinkStream`, :func:`gentle_scale`,
:func:`ahead_of_guide`): the same rules, one frame at a time. The live eye and brow meters
hide a blink as the verdict does; a narrowing shows on the meter no later than it starts to
count in the verdict, so a rep the meter showed as quiet is not reported otherwise. The
target meter's scale puts the gentle zone's end at :data:`GENTLE_LEVEL`
of the bar and never fills further (past it the meter says "smaller"); "slower" shows when,
during move, the target is further along than the guide allows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from station.practice.plan import GENTLE_MIN_MM, REGIONS
from station.tracking.blinks import blink_mask, detect_blinks, frame_interval

__all__ = ["GENTLE_MIN_MM", "Quality", "QualitySpec", "judge"]

SLOW_MIN_T80 = 0.4
STEP_WINDOW_S = 0.3
STEP_MAX_SHARE = 0.5
# Held for at least this long (frames x frame interval): one frame at 5 fps, two at 7 and
# 10 fps, three at 15, six at 30. A 0.3 s narrowing always spans that at any of those rates.
HELD_S = 0.2
RELEASE_WINDOW_S = 0.6
# A phase is judged only when its scored frames cover at least MIN_SCORED_S (frames x frame
# interval) and MIN_SHARE of its frames; the end of rest when they cover MIN_END_S.
MIN_SCORED_S = 1.0
MIN_SHARE = 0.3
MIN_END_S = 0.3
MIN_FRAMES = 5  # and never on fewer frames than this (5 fps: 1 s)
MIN_END_FRAMES = 2
# Live: the target meter's bar shows the gentle zone ending at this share of the bar.
GENTLE_LEVEL = 0.8
# Live: "slower" when, at fraction f of move, the target exceeds its threshold plus
# (f + AHEAD_MARGIN) x gentle_max: clearly ahead of an even rise to the gentle range's end.
AHEAD_MARGIN = 0.25
_COL = {r: i for i, r in enumerate(REGIONS)}
_EYE = _COL["eye"]
# What a blink moves (measured, see station.tracking.blinks): eye and brow, both sides.
BLINK_REGIONS = ("eye", "brow")
MOVE, HOLD, RELEASE, REST = "move", "hold", "release", "rest"


@dataclass(frozen=True)
class QualitySpec:
    """What a pattern asks for: target reading and direction, quiet regions, gentle range."""

    target: str  # the region the meter names
    reading: str  # the reading column that shows the movement in its own direction
    sign: float  # +1 or -1: which way of ``reading`` is the movement
    quiet: tuple[str, ...]
    gentle_max_mm: float
    move_s: float = 4.0

    @classmethod
    def of(cls, pattern: object, move_s: float | None = None) -> QualitySpec:
        """From a :class:`station.practice.plan.Pattern` (and its prescribed move time)."""
        return cls(target=pattern.target, reading=pattern.target_reading,  # type: ignore[attr-defined]
                   sign=float(pattern.target_sign), quiet=tuple(pattern.quiet),  # type: ignore[attr-defined]
                   gentle_max_mm=float(pattern.gentle_max_mm),  # type: ignore[attr-defined]
                   move_s=float(move_s if move_s is not None else pattern.pacing.move_s))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Quality:
    """One rep's four qualities and the numbers behind them (None: not judgeable)."""

    slow: bool | None = None
    small: bool | None = None
    quiet: bool | None = None
    released: bool | None = None
    t80_share: float | None = None
    target_peak_mm: float | None = None
    quiet_excess_mm: float | None = None
    residual_mm: float | None = None
    step_share: float | None = None  # largest gain within STEP_WINDOW_S, share of the peak
    blinks: int = 0
    quiet_mm: dict[str, float] | None = None  # held peak per quiet region, blinks excluded


# ---- building blocks (each works on plain arrays; NaN = frame not scored) ------------------


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True as (first, last) index pairs."""
    out: list[tuple[int, int]] = []
    start = None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        elif not m and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


_frame_dt = frame_interval


def held_peak(t: np.ndarray, x: np.ndarray, hold_s: float = HELD_S) -> float | None:
    """The largest level ``x`` stayed at or above for at least ``hold_s`` (NaN frames break it).

    None when no stretch of valid frames is that long.
    """
    t = np.asarray(t, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    dt = _frame_dt(t)
    best: float | None = None
    for a, b in runs(np.isfinite(x)):
        seg_t, seg_x = t[a:b + 1], x[a:b + 1]
        if seg_t[-1] - seg_t[0] + dt < hold_s - 1e-9:
            continue
        j = 0
        for i in range(len(seg_t)):
            while j < i and seg_t[i] - seg_t[j + 1] + dt >= hold_s - 1e-9:
                j += 1  # the shortest window ending at i that still spans hold_s
            if seg_t[i] - seg_t[j] + dt < hold_s - 1e-9:
                continue
            level = float(seg_x[j:i + 1].min())
            best = level if best is None else max(best, level)
    return best


def t80_share(t: np.ndarray, d: np.ndarray, move_start: float, move_s: float,
              peak: float) -> float | None:
    """Time from ``move_start`` until ``d`` first reaches 80 % of ``peak``, over ``move_s``."""
    if peak <= 0 or move_s <= 0:
        return None
    level = 0.8 * peak
    hit = np.nonzero(np.nan_to_num(d, nan=-np.inf) >= level)[0]
    if len(hit) == 0:
        return None
    k = int(hit[0])
    at = float(t[k])
    if k > 0 and math.isfinite(d[k - 1]) and d[k] > d[k - 1]:
        # between frames: where the rise crossed 80 % (the frame rate does not decide it)
        at = float(t[k - 1] + (level - d[k - 1]) / (d[k] - d[k - 1]) * (t[k] - t[k - 1]))
    return max(0.0, at - move_start) / move_s


def step_share(t: np.ndarray, d: np.ndarray, peak: float, window_s: float = STEP_WINDOW_S) -> float:
    """Largest gain of ``d`` within ``window_s``, as a share of ``peak`` (0 when flat)."""
    if peak <= 0:
        return 0.0
    best = 0.0
    valid = np.isfinite(d)
    # The window in whole frame intervals nearest to window_s (5 fps: 0.4 s, 7: 0.29, 30: 0.3).
    reach = window_s + 0.5 * _frame_dt(t)
    for i in range(len(t)):
        if not valid[i]:
            continue
        lo = (t >= t[i] - reach + 1e-9) & (t <= t[i]) & valid
        if lo.any():
            best = max(best, float(d[i] - d[lo].min()))
    return best / peak


# ---- the judge ---------------------------------------------------------------------------


def judge(t: Sequence[float], phases: Sequence[str], readings: np.ndarray, side: int,
          spec: QualitySpec, thresholds: np.ndarray, move_start: float | None = None,
          frames: dict[str, int] | None = None, raw: np.ndarray | None = None) -> Quality:
    """The four qualities of one rep.

    ``t`` (seconds), ``phases`` (``move``/``hold``/``release``/``rest`` per frame) and
    ``readings`` ((n, 2, 6) smoothed mm, NaN rows for frames not scored) cover the rep;
    ``raw`` the same frames unsmoothed (blinks are found on these; by default ``readings``);
    ``side`` is the affected row. ``frames`` counts every frame per phase (scored or not) so
    that a rep mostly unseen is not judged; by default the given frames.
    """
    t = np.asarray(t, dtype=np.float64)
    ph = np.asarray([str(getattr(p, "value", p)) for p in phases])
    r = np.asarray(readings, dtype=np.float64).reshape(len(t), 2, len(REGIONS))
    if len(t) == 0:
        return Quality()
    raw_r = r if raw is None else np.asarray(raw, dtype=np.float64).reshape(r.shape)
    thr = np.asarray(thresholds, dtype=np.float64)
    scored = np.isfinite(r[:, side, :]).all(axis=1)
    counts = frames or {p: int((ph == p).sum()) for p in (MOVE, HOLD, RELEASE, REST)}
    dt = _frame_dt(t)

    def enough(sel: np.ndarray, phase_names: Sequence[str]) -> bool:
        n = int((sel & scored).sum())
        total = sum(counts.get(p, 0) for p in phase_names)
        return n >= MIN_FRAMES and n * dt >= MIN_SCORED_S - 1e-9 and n >= MIN_SHARE * max(total, 1)

    # Blinks from the raw readings of both lids (the affected one may lag); eye and brow are
    # masked through each blink and its margins, on the same rule as the live meter.
    eye_raw = raw_r[:, :, _EYE]
    n_blinks = len(detect_blinks(t, eye_raw, thr[:, _EYE], side))
    blink = blink_mask(t, eye_raw, thr[:, _EYE], side)

    def column(region: str, sel: np.ndarray, signed: float | None = None) -> np.ndarray:
        x = r[:, side, _COL[region]].copy()
        x = signed * x if signed is not None else np.abs(x)
        if region in BLINK_REGIONS:
            x[blink] = np.nan
        x[~sel] = np.nan
        return x

    active = np.isin(ph, (MOVE, HOLD))
    moving = np.isin(ph, (MOVE, HOLD, RELEASE))
    move = ph == MOVE

    # small: directional target peak over move and hold
    d = column(spec.reading, active, spec.sign)
    peak = held_peak(t, d) if enough(active, (MOVE, HOLD)) else None
    small = None if peak is None else bool(peak <= spec.gentle_max_mm)
    t_thr = float(thr[side, _COL[spec.reading]])

    # slow: when the target got most of the way there, and whether it jumped
    slow = share = step = None
    if peak is not None and peak > t_thr and enough(move, (MOVE,)):
        # Timed on the frames' own clock: from the first move frame to the first hold frame
        # (the engine's clock may run at another speed, e.g. a sped-up demo).
        start = float(move_start) if move_start is not None else float(t[move][0])
        span = spec.move_s
        hold_t = t[ph == HOLD]
        if move_start is None and len(hold_t) and hold_t[0] > start:
            span = float(hold_t[0]) - start
        share = t80_share(t, d, start, span, peak)
        step = step_share(t, d, peak)
        if share is not None:
            slow = bool(share >= SLOW_MIN_T80 and step <= STEP_MAX_SHARE)

    # quiet: held movement of each quiet region, blinks excluded
    quiet = excess = None
    quiet_mm: dict[str, float] | None = None
    if enough(moving, (MOVE, HOLD, RELEASE)):
        quiet_mm = {}
        excess = 0.0
        for region in spec.quiet:
            level = held_peak(t, column(region, moving))
            level = 0.0 if level is None else max(0.0, level)
            quiet_mm[region] = level
            excess = max(excess, level - float(thr[side, _COL[region]]))
        quiet = bool(excess <= 0.0)
        excess = max(0.0, excess)

    # released: the end of the rep (rest) is back near neutral, blinks excluded
    released = residual = None
    end_sel = t >= t[-1] - RELEASE_WINDOW_S + 1e-9
    end_sel &= ph == (REST if (ph == REST).any() else RELEASE)
    regions = dict.fromkeys((spec.target, spec.reading, *spec.quiet))
    def end_enough(n: int) -> bool:
        return n >= MIN_END_FRAMES and n * dt >= MIN_END_S - 1e-9

    if end_enough(int((end_sel & scored).sum())):
        worst, ok = 0.0, True
        for region in regions:
            x = column(region, end_sel)
            x = x[np.isfinite(x)]
            if not end_enough(len(x)):
                continue
            med = float(np.median(x))
            worst = max(worst, med)
            ok = ok and med <= float(thr[side, _COL[region]])
        released, residual = ok, worst

    return Quality(slow=slow, small=small, quiet=quiet, released=released, t80_share=share,
                   target_peak_mm=peak, quiet_excess_mm=excess, residual_mm=residual,
                   step_share=step, blinks=n_blinks, quiet_mm=quiet_mm)


# ---- live --------------------------------------------------------------------------------


def gentle_scale(gentle_max_mm: float) -> float:
    """Millimetres that fill the target bar: the gentle range ends at GENTLE_LEVEL of it."""
    return max(gentle_max_mm, 1e-6) / GENTLE_LEVEL


def ahead_of_guide(target_mm: float, threshold_mm: float, move_fraction: float,
                   gentle_max_mm: float) -> bool:
    """During move: is the target clearly further along than the guide allows?"""
    return target_mm > threshold_mm + (move_fraction + AHEAD_MARGIN) * gentle_max_mm
