"""Practice quality on hand-made series: each measure, both blink directions, the live meter
past the gentle range, the sentence priority, the prescription's gentle range, the engine's rep
end and the records' quality columns. Pure: no camera, no model, fake time only."""

from __future__ import annotations

import numpy as np
import pytest

from station.clinic.export import REP_EXPORT_COLUMNS
from station.clinic.prescription import validate_bytes
from station.feedback import RepStats, Side, TrackingStatus
from station.practice import words
from station.practice.events import Event, RepDone, State, Timing
from station.practice.plan import REGIONS, library, make_plan
from station.practice.session import Engine
from station.records.store import REP_COLUMNS, SCHEMA_VERSION
from station.tracking import quality as Q
from station.tracking.blinks import LID_TOL_S, BlinkStream
from station.tracking.metrics import FLOORS_MM, MetricFrame, region_index, side_index
from station.tracking.scoring import live_feedback, spec_for

FPS = 15.0
SMILE = spec_for("small_smile", "mouth_corner", ["eye", "brow"])  # gentle_max 5 mm
THR = np.array([[FLOORS_MM[r] for r in REGIONS]] * 2)
PACING = {"move": 4.0, "hold": 3.0, "release": 4.0, "rest": 2.0}


class Rep:
    """One rep as a hand-made series: 15 fps, move 4 s, hold 3 s, release 4 s, rest 2 s."""

    def __init__(self, side: str = "left") -> None:
        self.side = side_index(side)
        self.other = 1 - self.side
        self.t, self.phase, self.frac = [], [], []
        t = 0.0
        for phase, dur in PACING.items():
            n = int(round(dur * FPS))
            for i in range(n):
                self.t.append(t + i / FPS)
                self.phase.append(phase)
                self.frac.append(i / n)
            t += dur
        self.t = np.array(self.t)
        self.frac = np.array(self.frac)
        self.r = np.zeros((len(self.t), 2, 6))

    def mask(self, phase: str) -> np.ndarray:
        return np.array([p == phase for p in self.phase])

    def follow(self, region: str, peak: float, side: int | None = None, fast: bool = False,
               keep: float = 0.0) -> Rep:
        """``region`` follows the guide up to ``peak`` (optionally fast, or not letting go)."""
        s = self.side if side is None else side
        c = region_index(region)
        move, hold, rel, rest = (self.mask(p) for p in PACING)
        up = np.minimum(1.0, self.frac / 0.1) if fast else self.frac
        self.r[move, s, c] = peak * up[move]
        self.r[hold, s, c] = peak
        self.r[rel, s, c] = peak * (1.0 - (1.0 - keep) * self.frac[rel])
        self.r[rest, s, c] = peak * keep
        return self

    def blink(self, at: float, dur: float = 0.25, depth: float = 6.0, eyes: str = "both") -> Rep:
        sel = (self.t >= at) & (self.t < at + dur)
        rows = {"both": (self.side, self.other), "affected": (self.side,), "other": (self.other,)}
        for s in rows[eyes]:
            self.r[sel, s, 0] = np.minimum(self.r[sel, s, 0], -depth)
        return self

    def judge(self, spec: Q.QualitySpec = SMILE) -> Q.Quality:
        return Q.judge(self.t, self.phase, self.r, self.side, spec, THR, move_start=0.0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_good_rep_holds_all_four(side):
    q = Rep(side).follow("mouth_corner", 3.0).judge()
    assert (q.slow, q.small, q.quiet, q.released) == (True, True, True, True)
    assert q.t80_share == pytest.approx(0.8, abs=0.03)
    assert q.target_peak_mm == pytest.approx(3.0) and q.quiet_excess_mm == 0.0
    assert q.residual_mm == pytest.approx(0.0) and q.blinks == 0


def test_slow_fast_and_step():
    fast = Rep().follow("mouth_corner", 3.0, fast=True).judge()
    assert fast.slow is False and fast.t80_share < 0.1 and fast.small and fast.quiet
    # waits, then jumps to the peak late in move: t80 looks slow, the step says otherwise
    step = Rep().follow("mouth_corner", 3.0)
    move = step.mask("move")
    step.r[move, 0, 2] = np.where(step.frac[move] < 0.7, 0.0, 3.0)
    q = step.judge()
    assert q.t80_share >= Q.SLOW_MIN_T80 and q.step_share > Q.STEP_MAX_SHARE and q.slow is False
    # a slower patient whose peak comes in hold is slow (t80 > 1 of move)
    late = Rep().follow("mouth_corner", 1.5)
    late.r[late.mask("hold"), 0, 2] = 1.5 + 1.5 * late.frac[late.mask("hold")]
    q = late.judge()
    assert q.slow is True and q.t80_share > 1.0
    # nothing moved: the pace cannot be judged
    assert Rep().judge().slow is None


def test_small_counts_only_the_patterns_own_direction():
    assert Rep().follow("mouth_corner", 7.0).judge().small is False
    assert Rep().follow("mouth_corner", 4.9).judge().small is True
    pucker = Q.QualitySpec.of(library()["pucker"])
    widened = Rep().follow("lips", 6.0).judge(pucker)  # lips widen: not a pucker at all
    assert widened.target_peak_mm <= 0.0 and widened.small is True and widened.slow is None
    narrowed = Rep().follow("lips", -6.0).judge(pucker)
    assert narrowed.target_peak_mm == pytest.approx(6.0) and narrowed.small is False
    closure = Q.QualitySpec.of(library()["eye_closure"])
    wider = Rep().follow("eye", 2.0).judge(closure)  # the eye opens wider: not a closure
    assert wider.target_peak_mm <= 0.0 and wider.slow is None
    closed = Rep().follow("eye", -8.0).judge(closure)
    assert closed.small is True and closed.slow is True and closed.target_peak_mm == pytest.approx(8.0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_blink_is_not_the_eye_joining_in(side):
    rep = Rep(side).follow("mouth_corner", 3.0)
    for at in (1.0, 5.0, 9.0, 12.0):  # in move, hold, release and rest
        rep.blink(at)
    q = rep.judge()
    assert q.blinks == 4 and q.quiet is True and q.released is True and q.quiet_mm["eye"] < 0.6
    # without the mask the eye would have looked 6 mm closed
    assert Q.held_peak(rep.t, np.abs(rep.r[:, side_index(side), 0])) > 5.0


@pytest.mark.parametrize("side", ["left", "right"])
def test_sustained_narrowing_of_the_affected_eye_counts(side):
    s = side_index(side)
    one_sided = Rep(side).follow("mouth_corner", 3.0).follow("eye", -1.5, side=s)
    q = one_sided.judge()
    assert q.quiet is False and q.quiet_excess_mm == pytest.approx(0.9, abs=0.05)
    # the same narrowing with blinks on top still counts (outside the blinks it shows)
    q = one_sided.blink(2.0).blink(6.0).judge()
    assert q.quiet is False and q.blinks == 2 and q.quiet_excess_mm == pytest.approx(0.9, abs=0.05)
    # both eyes squeezed for longer than any blink: still the eye joining in
    squint = Rep(side).follow("mouth_corner", 3.0)
    squint.blink(4.0, dur=1.5, depth=2.0)
    assert squint.judge().quiet is False and squint.judge().blinks == 0
    # a one-eyed wink of the *other* eye is not this side's movement at all
    wink = Rep(side).follow("mouth_corner", 3.0).blink(5.0, eyes="other")
    assert wink.judge().quiet is True
    # one frame of landmark flicker is not a movement (held for 0.25 s)
    flick = Rep(side).follow("mouth_corner", 3.0)
    flick.r[40, s, 0] = -3.0
    assert flick.judge().quiet is True


def test_released_and_blinks_in_an_eye_closures_rest():
    tight = Rep().follow("mouth_corner", 3.0, keep=0.5).judge()
    assert tight.released is False and tight.residual_mm == pytest.approx(1.5)
    assert (tight.slow, tight.small, tight.quiet) == (True, True, True)
    closure = Q.QualitySpec.of(library()["eye_closure"])
    rep = Rep().follow("eye", -8.0, side=0).follow("eye", -8.0, side=1)  # both eyes close
    rep.blink(12.6, depth=7.0)  # a blink in the last part of rest
    q = rep.judge(closure)
    assert q.released is True and q.residual_mm < 0.6
    # a quiet region still tight at the end of rest is not released either
    cheek = Rep().follow("mouth_corner", 3.0).follow("brow", 1.2, keep=1.0).judge()
    assert cheek.released is False and cheek.quiet is False


def test_not_judgeable_is_none():
    rep = Rep().follow("mouth_corner", 3.0)
    rep.r[:] = np.nan  # no scored frame
    q = rep.judge()
    assert (q.slow, q.small, q.quiet, q.released) == (None, None, None, None)
    assert Q.judge([], [], np.zeros((0, 2, 6)), 0, SMILE, THR) == Q.Quality()
    # the end of rest unseen: released unknown, the rest still judged
    rep = Rep().follow("mouth_corner", 3.0)
    rep.r[rep.t > 12.0] = np.nan
    q = rep.judge()
    assert q.released is None and q.quiet is True and q.slow is True


# ---- live ---------------------------------------------------------------------------------


class _Base:
    """A stand-in baseline: the floors as thresholds."""

    thresholds = THR


def _live(t: float, values: dict, move: float | None = None, blink: BlinkStream | None = None):
    arr = np.zeros((2, 6))
    for (side, region), v in values.items():
        arr[side_index(side), region_index(region)] = v
    frame = MetricFrame(t=t, face=True, scored=True, status=TrackingStatus.TRACKING, readings=arr, smoothed=arr)
    return live_feedback(frame, "mouth_corner", ["eye", "brow"], Side.LEFT, _Base(), spec=SMILE,
                         move_fraction=move, blink=blink)


def test_target_meter_never_fills_past_the_gentle_zone():
    levels = []
    for mm in (1.0, 3.0, 4.9, 5.5, 8.0, 12.0):
        m = _live(0.0, {("left", "mouth_corner"): mm}).meters[0]
        levels.append(m.level)
        assert m.gentle_to == Q.GENTLE_LEVEL and 0 < m.gentle_from < m.gentle_to
        assert m.past_gentle == (mm > 5.0)
        assert m.hint == (words.HINT_SMALLER if mm > 5.0 else "")
    assert levels[:3] == sorted(levels[:3]) and levels[2] < Q.GENTLE_LEVEL
    assert levels[3:] == [Q.GENTLE_LEVEL] * 3  # bigger never fills further
    # the other direction (corner pulled down) is not the movement asked for
    assert _live(0.0, {("left", "mouth_corner"): -4.0}).meters[0].level == 0.0


def test_slower_when_the_target_runs_ahead_of_the_guide():
    ahead = _live(0.0, {("left", "mouth_corner"): 3.5}, move=0.15).meters[0]
    assert ahead.hint == words.HINT_SLOWER and not ahead.past_gentle
    following = _live(0.0, {("left", "mouth_corner"): 3.5}, move=0.75).meters[0]
    assert following.hint == ""
    assert _live(0.0, {("left", "mouth_corner"): 3.5}).meters[0].hint == ""  # not in move


def test_quiet_meter_ignores_a_blink_but_not_a_squint():
    blink = BlinkStream(side_index("left"))
    closed = {("left", "eye"): -6.0, ("right", "eye"): -6.0}
    seen = [_live(t, closed, blink=blink).meters[1] for t in np.arange(0.0, 0.45, 1 / FPS)]
    assert not any(m.warning for m in seen) and all(m.mm == 0.0 for m in seen)
    later = _live(0.6, closed, blink=blink).meters[1]  # longer than a blink: shown
    assert later.warning
    one_eye = _live(1.0, {("left", "eye"): -1.5}, blink=blink).meters[1]
    assert one_eye.warning  # the affected eye alone is never a blink
    # the lids of a blink do not move in the same frame: the leading and trailing frame of the
    # affected eye alone are ignored, a narrowing that stays shows after LID_TOL_S
    fresh = BlinkStream(side_index("left"))
    assert not _live(0.0, {("left", "eye"): -3.0}, blink=fresh).meters[1].warning
    assert not _live(0.07, closed, blink=fresh).meters[1].warning
    assert not _live(0.15, {("left", "eye"): -3.0}, blink=fresh).meters[1].warning
    assert not _live(0.40, {}, blink=fresh).meters[1].warning
    # at 30 fps the affected lid alone is held back for LID_TOL_S (it may be a frame ahead of
    # a blink), then shown; at 5 fps that one frame already counts in the verdict: shown at once
    steady = BlinkStream(side_index("left"))
    for t in np.arange(0.0, 1.0, 1 / 30):
        _live(t, {}, blink=steady)
    warned = [(t, _live(t, {("left", "eye"): -1.5}, blink=steady).meters[1].warning)
              for t in 1.0 + np.arange(6) / 30]
    assert [w for _, w in warned] == [t - 1.0 >= LID_TOL_S - 1e-9 for t, _ in warned]
    slow = BlinkStream(side_index("left"))
    for t in np.arange(0.0, 1.0, 0.2):
        _live(t, {}, blink=slow)
    assert _live(1.0, {("left", "eye"): -1.5}, blink=slow).meters[1].warning


# ---- sentences, prescription, engine, records ----------------------------------------------


def _stats(slow=True, small=True, quiet=True, released=True) -> RepStats:
    return RepStats(pattern_id="small_smile", pattern_index=0, rep=0, target_region="mouth_corner",
                    target_mm=3.0, target_other_side_mm=3.0, target_pct_of_other=100.0,
                    quiet_mm={"eye": 0.1}, quiet_floor_mm={"eye": 0.6}, coactivation=0.0,
                    face_share=1.0, frames=100, frames_gated=0, slow=slow, small=small,
                    quiet=quiet, released=released, gentle_max_mm=5.0)


def test_advice_by_priority_and_never_more_than_two_sentences():
    smile = library()["small_smile"]

    def say(*reps):
        return words.pattern_result(0, smile, list(reps)).sentence

    everything = _stats(slow=False, small=False, quiet=False, released=False)
    # one failing quality does not hide the next piece of advice
    assert say(_stats(), everything) == \
        "Your eye and brow stayed soft in 1 of 2 smiles. Try moving even more slowly."
    assert say(_stats(), _stats(slow=False, small=False, released=False)) == \
        "Try moving even more slowly: the smile arrived before the guide. Try an even smaller smile."
    assert say(_stats(small=False, released=False)) == \
        "Try an even smaller smile: a little movement is plenty. " \
        "Let your face go fully soft after each one."
    # the only thing to work on, and what held, said kindly
    assert say(_stats(released=False)) == \
        "After each smile, let your face go fully soft before the next. Nice and slow, nice and small."
    assert say(_stats(quiet=False), _stats()) == \
        "Your eye and brow stayed soft in 1 of 2 smiles. Nice and slow, nice and small."
    assert say(_stats(quiet=False, small=None)) == \
        "Your eye and brow stayed soft in 0 of 1 smile. Nice and slow."
    assert say(_stats(), _stats()) == "Your eye and brow stayed soft in 2 of 2 smiles, slow and small each time."
    # unknown is never praised: with slow never judged, no "well done"
    assert say(_stats(slow=None)) == "Your eye and brow stayed soft in 1 of 1 smile."
    nothing = _stats(None, None, None, None)
    assert say(nothing) == words.CAMERA_COULD_NOT_FOLLOW
    assert words.pattern_result(0, library()["ee"], [], reps_done=2).sentence == \
        "You did 2 slow 'ee' movements."
    for reps in ([everything], [_stats(), everything], [_stats(quiet=False, released=False)]):
        assert say(*reps).count(".") <= 2


def test_prescription_gentle_range_within_safe_bounds():
    def rx(value):
        return validate_bytes(f'schema = 1\n[patient]\nalias = "A1"\naffected_side = "left"\n'
                              f'[[pattern]]\nid = "small_smile"\nreps = 3\ngentle_max_mm = {value}\n'
                              .encode())

    ok = rx(4.0)
    assert ok.prescription is not None
    item = ok.prescription.plan().items[0]
    assert item.pattern.gentle_max_mm == 4.0 and item.pacing == library()["small_smile"].pacing
    for bad in (0.5, 9.0):  # below the quiet floors / beyond the pattern's limit (8 mm)
        problems = rx(bad).problems
        assert [p.key for p in problems] == ["pattern[1].gentle_max_mm"], problems
    plan = make_plan([("pucker", 2, {"gentle_max_mm": 3.0, "move_s": 6.0})], "test")
    assert plan.items[0].pattern.gentle_max_mm == 3.0 and plan.items[0].pacing.move_s == 6.0
    for p in library().values():
        assert 1.0 <= p.gentle_max_mm <= p.gentle_limit_mm and p.target_sign in (1.0, -1.0)
    assert library()["small_smile"].gentle_max_mm == 5.0


def test_a_rep_ends_after_its_rest():
    eng = Engine(make_plan([("small_smile", 2, {})], "test"), Timing(settle_s=1, intro_s=1))
    outs = eng.handle(Event.SHORT_PRESS, 0.0) + eng.tick(2.0)  # settle, intro -> move at 2.0
    outs += eng.tick(2.0 + 4 + 3 + 4 + 1.0)  # in the first rest
    assert not any(isinstance(o, RepDone) for o in outs) and eng.state is State.REST
    done = eng.tick(2.0 + 13.0)
    assert [o.at for o in done if isinstance(o, RepDone)] == [15.0]
    # a break taken in rest ends that rep as done (only the rest is cut short)
    eng.tick(15.0 + 12.0)
    assert eng.state is State.REST
    brk = eng.handle(Event.LONG_PRESS, 27.5)
    assert [type(o).__name__ for o in brk][:2] == ["RepDone", "PatternDone"]
    assert eng.counters.reps_done == 2 and eng.state is State.BREAK


def test_quality_columns_in_the_records_and_the_export():
    names = ("slow", "small", "quiet", "released", "t80_share", "target_peak_mm",
             "quiet_excess_mm", "residual_mm")
    assert SCHEMA_VERSION >= 3
    assert set(names) <= set(REP_COLUMNS) and set(names) <= set(REP_EXPORT_COLUMNS)
