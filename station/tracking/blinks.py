"""Blinks: recognised on the raw readings of both lids, with their real timing (pure numpy).

A blink is not the eye joining in. People blink 10-20 times a minute; a blink closes both
lids for 0.04-0.33 s (measured on real talking-face video: runs of frames in which both of the
landmarker's eye-blink blendshapes exceed 0.5). Ocular synkinesis is the affected eye
narrowing *with a movement*, for as long as it lasts. This module tells them apart, and it is
the one place that does: the rep's verdict (:mod:`station.tracking.quality`), the live eye
and brow meters (:class:`BlinkStream`) and the project's validation all call it.

How a blink is found (:func:`detect_blinks`)
--------------------------------------------
1. **Raw readings, both lids.** The input is each eye's *unsmoothed* fissure reading (mm from
   the neutral face, closing negative). A smoothed reading stretches a 0.34 s blink to
   0.33-0.67 s and lets the frame rate decide the rest; the raw one does not.
2. **Each lid's closure** is a run of frames narrowed past that eye's quiet threshold below
   its :func:`surround` (the level the lid returns to on both sides within a blink's
   length, so only brief closures count, measured from where the lid was); its
   *core* is where it is closed deeper than :data:`CORE_SHARE` of its own deepest point
   (never shallower than the threshold). The core's start and end are interpolated between
   frames at that level, so they are in seconds, not frames. A shallow synkinetic narrowing
   with a blink on top has the blink as its core; a deep narrowing (40 % of the lid) with a
   blink inside has the whole narrowing as its core, which starts before the blink.
3. **Both lids, the affected one allowed to lag.** A core of one eye pairs with a core of the
   other when they start and end together within :data:`LID_TOL_S` (the later edges within
   one frame interval where frames are further apart: an edge is only known to a frame);
   with ``affected`` given, that lid may close up to :data:`LAG_CLOSE_S` later and reopen up
   to :data:`LAG_OPEN_S` later than the other (after facial palsy the affected lid typically
   closes about 0.1 s later and opens 0.2 s later), but never more than :data:`LID_TOL_S`
   earlier, at any frame rate: a lid that narrows *before* the other one starts to blink is
   narrowing, not blinking. Both lids must close: the shallower at least :data:`BOTH_SHARE`
   of the deeper (the landmarker drags the other eye a little along with a one-sided
   narrowing). (At 5-10 fps a 0.3 s narrowing with a blink starting 0.15 s into
   it can share its frames with the blink and is then taken for one: measured in the tests.)
4. **Brief, judged on the closure itself.** The pair is a blink when the leading lid's core
   could have lasted at most :data:`BLINK_MAX_S`: its interpolated length minus one frame
   interval (the most the sampling can have added). So a 0.45 s blink is a blink at 5 fps and
   at 30 fps alike, and a two-eyed squeeze of 1.5 s never is.

What a blink moves (:func:`blink_mask`), measured on the three real talking-face videos
(12 blinks found, 43 windows of 0.15 s without one; largest change in the window from the
0.3 s before it, mm, median left/right): **eye** 4.2/4.0 in blinks vs 0.27/0.25 without;
**brow** 0.81/0.91 vs 0.24/0.17 (the brow points sit on the skin of the upper lid). The mouth
corner (2.1/1.7 vs 0.7/0.7), nose/cheek (1.0/0.9 vs 0.3/0.3) and chin (1.1/0.9 vs 0.6/0.6)
also changed, but in these videos blinks come with laughing and talking; masking them would
hide the targets and quiet regions of other patterns, and an eye narrowing alone (the warped
real faces of the tracking tests) leaves the mouth within its floor. So the mask covers eye and brow on both sides, from
:data:`BLINK_MARGIN_S` (and never less than one frame interval, :func:`mask_margin`) before
a blink's start to that long after its end, plus its reopening tail (:func:`in_tail`: the
landmarker brings a lid back over a few frames), and nothing else.

Measured recognition of real closures (both eye-blink blendshapes above 0.5 for at most
0.5 s; 9 in the three videos, the 5 s crying squeeze excluded), VIDEO-mode tracking of every
n-th frame: 8 of 9 at the videos' own 24-30 fps, 8 at 15 fps, 7 at 10, 7 at 7, 4 at 5 fps (at
5 fps only 3 of the 9 closures contain a frame at all). The rule it replaced (both *smoothed* readings
past the threshold for at most 0.5 s) recognised 1, 1, 1, 0 and 1 of them: laughing keeps
both eyes narrowed for longer than a blink. The misses are closures during laughter where
the landmarker shows one lid only, and a 7 fps blink in a 176x144 talking video whose
right lid, at its one closed frame, read 1.3 mm against a threshold of 1.5 mm (three times
that eye's calibration noise).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["Blink", "BlinkStream", "blink_mask", "detect_blinks", "BLINK_MAX_S",
           "BLINK_MARGIN_S", "LAG_CLOSE_S", "LAG_OPEN_S", "TAIL_MAX_S", "TAIL_RECOVER", "in_tail",
           "level_before", "tail_frames", "mask_margin"]

BLINK_MAX_S = 0.5  # longest closure that is still a blink (a long blink is ~0.45 s)
LAG_CLOSE_S = 0.1  # the affected lid may close this much later than the other ...
LAG_OPEN_S = 0.2  # ... and reopen this much later
LID_TOL_S = 0.1  # two lids start and end together within this (real video: up to 0.08 s apart)
CORE_SHARE = 0.35  # a closure's core: deeper than this share of its own deepest point
BLINK_MARGIN_S = 0.12  # masked before and after a blink (lids on their way, brow settling)
TAIL_MAX_S = 0.4  # ... and after it, while a lid is still reopening past its threshold (in_tail)
# Both lids close in a blink: the shallower at least this share of the deeper. The landmarker
# drags the other eye along with a one-sided narrowing (one face: 1.1 mm with 3.7 mm, 0.30),
# which paired the two as a "blink" and hid the narrowing; real blinks on video: 0.85-0.92.
BOTH_SHARE = 0.35
TAIL_RECOVER = 0.15  # reopening: at least this share of the closure gone since the frame before
STREAM_WINDOW_S = 1.8  # what the streaming detector keeps (a blink, its surround and margin)


@dataclass(frozen=True)
class Blink:
    """One blink: from the first lid's closing to the last lid's reopening, seconds."""

    start: float
    end: float


def frame_interval(t: np.ndarray) -> float:
    """The typical time between frames (median of the positive steps), 0 with fewer than two."""
    d = np.diff(np.asarray(t, dtype=np.float64))
    d = np.sort(d[d > 0])
    if not len(d):
        return 0.0
    k = len(d) // 2  # the median, without np.median's overhead (called every live frame)
    return float(d[k]) if len(d) % 2 else float(0.5 * (d[k - 1] + d[k]))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.zeros(len(mask) + 2, dtype=np.int8)
    edges[1:-1] = mask
    idx = np.flatnonzero(np.diff(edges))
    return list(zip(idx[::2], idx[1::2] - 1, strict=True))


def _edge(t: np.ndarray, x: np.ndarray, inside: int, outside: int, level: float,
          dt: float) -> float:
    """Time the reading crosses ``level`` between an inside and an outside frame."""
    if 0 <= outside < len(x) and math.isfinite(x[outside]) and x[outside] > level:
        a, b = x[outside], x[inside]
        f = (a - level) / (a - b) if a != b else 0.5
        return float(t[outside] + f * (t[inside] - t[outside]))
    return float(t[inside] + (0.5 * dt if outside > inside else -0.5 * dt))


def surround(t: np.ndarray, x: np.ndarray, window_s: float,
             where: np.ndarray | None = None) -> np.ndarray:
    """The level a lid comes back to on *both* sides within ``window_s``: for each frame the
    smaller of the highest reading in the window before it and in the window after it.

    A brief closure (shorter than the window) sits below its surround by its own depth;
    anything held longer than the window is its own surround, so a sustained narrowing or a
    squeeze never looks like a brief closure, and a blink on top of a narrowing (laughing,
    a synkinetic squint) is measured from the narrowing, not from neutral.
    """
    n = len(t)
    env = np.full(n, -np.inf)
    idx = np.arange(n) if where is None else np.flatnonzero(where)
    if n == 0 or len(idx) == 0:
        return np.asarray(x, dtype=np.float64).copy()
    lo = np.searchsorted(t, t[idx] - window_s - 1e-9, side="left")
    hi = np.searchsorted(t, t[idx] + window_s + 1e-9, side="right")
    y = np.where(np.isfinite(x), x, -np.inf)
    # highest reading in each frame's window before and after it (vectorised over frames)
    back = idx[:, None] - np.arange(int((idx - lo).max()) + 1)[None, :]
    ahead = idx[:, None] + np.arange(int((hi - idx).max()))[None, :]
    before = np.where(back >= lo[:, None], y[back.clip(0)], -np.inf).max(axis=1)
    after = np.where(ahead < hi[:, None], y[ahead.clip(max=n - 1)], -np.inf).max(axis=1)
    # Where the series ends within the window (the edge of a rep, the newest live frame),
    # that side is not known: the other side alone decides.
    cut_lo = t[idx] - window_s < t[0] - 1e-9
    cut_hi = t[idx] + window_s > t[-1] + 1e-9
    env[idx] = np.where(cut_hi & ~cut_lo, before,
                        np.where(cut_lo & ~cut_hi, after, np.minimum(before, after)))
    return np.where(np.isfinite(env) & np.isfinite(x), env, x)


def closures(t: np.ndarray, x: np.ndarray, threshold: float,
             dt: float | None = None) -> list[tuple[float, float]]:
    """One lid's closure cores as (start, end) seconds (see the module docstring); ``dt`` the
    frame interval when the caller has it."""
    t = np.asarray(t, dtype=np.float64)
    dt = frame_interval(t) if dt is None else dt
    raw = np.asarray(x, dtype=np.float64)
    # Only a frame below the highest reading by more than the threshold can be narrowed below
    # its surround; its neighbours are needed for the edges.
    top = np.nanmax(raw) if np.isfinite(raw).any() else 0.0
    maybe = raw < top - threshold  # NaN compares False
    maybe[:-1] |= maybe[1:].copy()
    maybe[1:] |= maybe[:-1].copy()
    x = raw - surround(t, raw, BLINK_MAX_S + dt, maybe)
    narrowed = x < -threshold  # NaN compares False: never narrowed
    out: list[tuple[float, float]] = []
    for a, b in _runs(narrowed):
        seg = x[a:b + 1]
        level = min(-threshold, CORE_SHARE * float(seg.min()))
        for ca, cb in _runs(seg <= level):
            i, j = a + ca, a + cb
            out.append((_edge(t, x, i, i - 1, level, dt), _edge(t, x, j, j + 1, level, dt)))
    return out


def pair_tolerance(dt: float) -> float:
    """How far apart two lids' closure edges may be and still be one blink: LID_TOL_S, or one
    frame interval when frames are further apart (an edge is only known to within a frame)."""
    return max(LID_TOL_S, dt) + 1e-6


def _pairs(lead: list[tuple[float, float]], lag: list[tuple[float, float]], tol: float,
           close: float, reopen: float, early: float,
           end_tol: float) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Pair each closure of the leading lid with one of the other lid's: starting from
    ``early`` before it to ``close`` + ``tol`` after it, and ending from ``end_tol`` before to
    ``reopen`` + ``end_tol`` after it."""
    out = []
    used: set[int] = set()
    for c in lead:
        best, best_k = None, -1
        for k, d in enumerate(lag):
            if k in used:
                continue
            ds, de = d[0] - c[0], d[1] - c[1]
            if -early <= ds <= close + tol and -end_tol <= de <= reopen + end_tol:
                score = abs(ds) + abs(de)
                if best is None or score < best:
                    best, best_k = score, k
        if best_k >= 0:
            used.add(best_k)
            out.append((c, lag[best_k]))
    return out


def detect_blinks(t: np.ndarray, eye_raw: np.ndarray, thresholds: np.ndarray,
                  affected: int | None = None) -> list[Blink]:
    """The blinks in a stretch of frames.

    ``t`` seconds (n,); ``eye_raw`` (n, 2) raw fissure readings in mm from neutral, columns
    left and right (rows of :data:`station.feedback.SIDES`), closing negative, NaN where not
    scored; ``thresholds`` (2,) the eyes' quiet thresholds; ``affected`` the column whose lid
    may lag (None: neither).
    """
    t = np.asarray(t, dtype=np.float64)
    eye = np.asarray(eye_raw, dtype=np.float64).reshape(len(t), 2)
    thr = np.asarray(thresholds, dtype=np.float64).reshape(2)
    if len(t) == 0:
        return []
    dt = frame_interval(t)
    tol = pair_tolerance(dt)
    # The leading lid first: without a closure of its own there is no pair, so no blink (a
    # one-sided narrowing costs one lid's search, not two: the live stream runs this per frame).
    first = 1 - int(affected) if affected is not None else 0
    cores: list[list[tuple[float, float]]] = [[], []]
    cores[first] = closures(t, eye[:, first], float(thr[first]), dt)
    if not cores[first]:
        return []
    cores[1 - first] = closures(t, eye[:, 1 - first], float(thr[1 - first]), dt)
    # Lids reopen less together than they close (real video: 0.17 s apart at 7 fps in one
    # blink): the ends get half a frame more.
    end_tol = tol + 0.5 * dt
    if affected is None:  # either lid may lead by the tolerance
        pairs = _pairs(cores[0], cores[1], tol, 0.0, 0.0, tol, end_tol)
    else:
        # the affected lid may lag, but never start more than LID_TOL_S before the other: a
        # lid that narrows earlier is not blinking (at any frame rate: both lids are sampled
        # in the same frames)
        other = 1 - int(affected)
        pairs = _pairs(cores[other], cores[int(affected)], tol, LAG_CLOSE_S, LAG_OPEN_S,
                       min(tol, LID_TOL_S + 1e-6), end_tol)
    lead_col, lag_col = (0, 1) if affected is None else (1 - int(affected), int(affected))
    blinks = []
    for lead, lag in pairs:
        length = (lead[1] - lead[0]) if affected is not None else min(lead[1] - lead[0],
                                                                      lag[1] - lag[0])
        depths = (_depth(t, eye[:, lead_col], lead), _depth(t, eye[:, lag_col], lag))
        if length - dt <= BLINK_MAX_S + 1e-9 and min(depths) >= BOTH_SHARE * max(depths):
            blinks.append(Blink(min(lead[0], lag[0]), max(lead[1], lag[1])))
    return sorted(blinks, key=lambda b: b.start)


def _depth(t: np.ndarray, x: np.ndarray, core: tuple[float, float]) -> float:
    """How far a lid closed in its core (mm, positive)."""
    sel = (t >= core[0] - 1e-9) & (t <= core[1] + 1e-9) & np.isfinite(x)
    return float(-x[sel].min()) if sel.any() else 0.0


def blink_mask(t: np.ndarray, eye_raw: np.ndarray, thresholds: np.ndarray,
               affected: int | None = None, margin_s: float = BLINK_MARGIN_S) -> np.ndarray:
    """True for each frame inside a blink, within ``margin_s`` of one, or in its reopening
    tail (:func:`in_tail`): mask eye and brow, both sides, there."""
    t = np.asarray(t, dtype=np.float64)
    e = np.asarray(eye_raw, dtype=np.float64).reshape(len(t), 2)
    thr = np.asarray(thresholds, dtype=np.float64).reshape(2)
    mask = np.zeros(len(t), dtype=bool)
    m = mask_margin(margin_s, frame_interval(t))
    for b in detect_blinks(t, e, thr, affected):
        mask |= (t >= b.start - m - 1e-9) & (t <= b.end + m + 1e-9)
        after, tail = tail_frames(t, e, thr, b, m)
        mask[after[:tail]] = True
    return mask


def tail_frames(t: np.ndarray, eye: np.ndarray, thresholds: np.ndarray, blink: Blink,
                margin: float) -> tuple[np.ndarray, int]:
    """The frames after ``blink``'s margin, and how many of them in a row are its reopening
    tail (:func:`in_tail`): the one rule for the rep's mask and the live stream."""
    after = np.flatnonzero(t > blink.end + margin + 1e-9)
    before = level_before(t, eye, blink, margin)
    n = 0
    for i in after:
        if i == 0 or not in_tail(float(t[i]), blink, eye[i], eye[i - 1], thresholds, before):
            break
        n += 1
    return after, n


def level_before(t: np.ndarray, eye: np.ndarray, blink: Blink, margin: float) -> np.ndarray:
    """Each lid's reading (2,) at the last frame before the blink's masked span (0 where not
    known): a lid already narrowed there was narrowing, not blinking (see :func:`in_tail`)."""
    k = int(np.searchsorted(t, blink.start - margin - 1e-9, side="left")) - 1
    if k < 0:
        return np.zeros(2)
    return np.nan_to_num(np.asarray(eye[k], dtype=np.float64), nan=0.0)


def reach_after(dt: float, margin: float) -> float:
    """How long after the last narrowed frame a blink can still mask a frame: the closure's
    edge (a frame), the lagging lid's later reopening (:data:`LAG_OPEN_S` and its tolerance),
    the margin, and a tail's frame. Past it the live stream skips the search (the bench's
    metrics p95: the search is most of a frame's cost while a lid has narrowed recently)."""
    tol = pair_tolerance(dt)
    return 2.0 * dt + LAG_OPEN_S + tol + 0.5 * dt + margin


def mask_margin(margin_s: float, dt: float) -> float:
    """The masked margin either side of a blink: ``margin_s``, and never less than one frame
    interval (a blink's edges are only known to a frame)."""
    return max(margin_s, dt)


def in_tail(t: float, blink: Blink, eye: np.ndarray, prev: np.ndarray, thresholds: np.ndarray,
            before: np.ndarray) -> bool:
    """Is a frame at ``t`` after ``blink`` still the lids reopening from it? Yes while a lid is
    still narrowed past its threshold and every such lid is reopening (at least
    :data:`TAIL_RECOVER` of its closure gone since the frame before, ``prev``), up to
    :data:`TAIL_MAX_S` after the blink.

    The landmarker (VIDEO mode) brings a closed lid back over the next frames, not at once:
    after a rendered blink that had fully reopened, the affected lid read 0.80 and 0.58 mm
    closed in the next two frames at 5 fps (0.2 and 0.4 s on), and 1.08, 0.72 and 0.56 mm at
    10 fps, against the eye's 0.6 mm floor; at 5 and 10 fps that tail alone made half the
    blink-only reps "not quiet" on two of the three pinned faces. Each of those frames had
    reopened by a third to a half of the frame before; a narrowing that goes on after a blink
    holds its depth, so it is not taken for a tail. A lid narrowed in the frame before counts
    as narrowed (see the comment below). ``before`` (:func:`level_before`): a lid is in the
    tail only while it is closed past where it was before the blink: a narrowing the blink
    fell inside (7 fps, one face: the affected lid 2.7 mm closed before the other eye's blink,
    4.1 in it, 2.6 after) lets go after the blink, and that letting go is the narrowing's own.
    Masked as a tail, it left one visible frame of a 1 s narrowing: "quiet"."""
    if t > blink.end + TAIL_MAX_S + 1e-9:
        return False
    # The frame a lid comes back over its threshold is still the tail: the smoothed reading a
    # rep is judged on carries part of the frame before (5 fps, one face: raw 1.44, then 0.59
    # mm closed against a 0.6 mm floor, smoothed 0.62: "not quiet" for one blink).
    narrowed = (eye < -thresholds) | (prev < -thresholds)  # NaN compares False
    if not bool(narrowed.any()):
        return False
    reopening = eye >= prev + TAIL_RECOVER * np.abs(prev)
    reopening &= eye < np.minimum(before, 0.0)  # still closed past its level before the blink
    return bool(np.all(reopening[narrowed]))


class BlinkStream:
    """The same blinks, one frame at a time, for the live meters.

    :meth:`update` returns True while this frame's eye and brow readings must not be shown as
    movement: inside a blink found so far (or its margin), or while a closure now under way
    can still turn out to be one (both lids closed for no longer than a blink, or one lid
    within the lag the other allows). A one-sided narrowing shows after :data:`LID_TOL_S`
    (plus :data:`LAG_CLOSE_S` for the affected lid); a squeeze shows once it is longer than a
    blink. The finished rep is judged on the whole series by :func:`detect_blinks`.
    """

    def __init__(self, affected: int | None = None, margin_s: float = BLINK_MARGIN_S) -> None:
        self.affected = affected
        self.margin_s = margin_s
        self._buf: deque[tuple[float, float, float]] = deque()
        self._last_narrow = -math.inf

    def reset(self) -> None:
        self._buf.clear()
        self._last_narrow = -math.inf

    def update(self, t: float, eye_raw: np.ndarray, thresholds: np.ndarray) -> bool:
        """Feed one frame's raw eye readings (2,) (NaN: not scored); True while in a blink."""
        e = np.asarray(eye_raw, dtype=np.float64).reshape(2)
        if self._buf and t <= self._buf[-1][0]:
            if t == self._buf[-1][0]:
                return False  # the same frame again
            self.reset()  # a new clock (a new source): start again
        thr = np.asarray(thresholds, dtype=np.float64).reshape(2)
        self._buf.append((float(t), float(e[0]), float(e[1])))
        if bool((e < -thr).any()):  # NaN compares False
            self._last_narrow = float(t)
        while self._buf and self._buf[0][0] < t - STREAM_WINDOW_S:
            self._buf.popleft()
        if self._last_narrow < self._buf[0][0]:
            return False  # no lid narrowed in the window: no blink to find (the usual frame)
        arr = np.array(self._buf)
        ts, eyes = arr[:, 0], arr[:, 1:]
        dt = frame_interval(ts)
        m = mask_margin(self.margin_s, dt)
        if t - self._last_narrow > reach_after(dt, m):
            return False  # every blink found would have ended, margin and all, before this frame
        for b in detect_blinks(ts, eyes, thr, self.affected):
            if b.start - m - 1e-9 <= t <= b.end + m + 1e-9:
                return True
            if t > b.end and self._tail_since(ts, eyes, thr, b, m):
                return True
        return self._pending(ts, eyes, thr)

    @staticmethod
    def _tail_since(ts: np.ndarray, eyes: np.ndarray, thr: np.ndarray, b: Blink, m: float) -> bool:
        """Every frame from the blink's margin to now is still its reopening tail."""
        after, tail = tail_frames(ts, eyes, thr, b, m)
        return tail == len(after)

    def _pending(self, ts: np.ndarray, eyes: np.ndarray, thr: np.ndarray) -> bool:
        """Could the closure under way at the last frame still be a blink?"""
        narrowed = eyes < -thr[None, :]  # NaN compares False
        now = narrowed[-1]
        if not now.any():
            return False
        dt = frame_interval(ts) or 0.0
        tol = pair_tolerance(dt)
        t: float = ts[-1]
        since = []
        for c in (0, 1):
            k = len(ts) - 1
            if now[c]:
                while k > 0 and narrowed[k - 1, c]:
                    k -= 1
                since.append(float(ts[k]))
            else:
                since.append(math.inf)
        start = min(since)
        if t - start - dt > BLINK_MAX_S:
            return False  # longer than any blink: a squeeze or a narrowing
        if now.all():
            return True
        lone = 0 if now[0] else 1
        if self.affected is None or lone != self.affected:
            # the other lid leads a blink: the affected one may still follow
            return t - since[lone] <= tol + (LAG_CLOSE_S if self.affected is not None else 0.0)
        # The affected lid alone: reopening late after the other lid's closure ...
        recent = ts[narrowed[:, 1 - lone]]
        if len(recent) and float(recent.max()) >= since[lone] - tol and \
                t - float(recent.max()) <= LAG_OPEN_S + tol:
            return True
        # ... or a frame ahead of the other lid (only where frames come faster than the lids'
        # tolerance; otherwise this frame counts in the verdict, so the meter shows it now).
        return t - since[lone] < LID_TOL_S - 1e-9 and dt < LID_TOL_S
