"""Seeded, realistic practice records written through the real engine and the real store.

For tests and benchmarks: a patient practises several sessions most days, skips some days,
sometimes pauses, takes release breaks when asked and on their own, sometimes leaves a
session (abandoned) or loses power mid-session (interrupted, recovered on the next start).
Coactivation slowly falls (improves) over the weeks, the affected eye narrows a little less
during smiles and puckers. Every row goes through :class:`station.records.store.SessionRecorder`
fed by :class:`station.practice.session.Engine` outputs, exactly as on a unit.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from station.feedback import NOTHING_MEASURED, Calibration, Measured, RepStats, Side
from station.practice.events import REP_PHASES, Event, Output, RepDone, SettleEnded, State, Timing
from station.practice.plan import REGIONS, Pattern, Plan, default_plan, make_plan
from station.practice.session import Engine
from station.records.recorder import SessionRecorder

SIDE = Side.LEFT  # the generated patient's affected side
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"  # the pinned face model
MAX_STEPS = 100_000  # a session's loop turns: far more than any plan needs; past it the generator is stuck
PRESCRIBED_SOURCE = "prescription: smile, pucker, eye closure"


@dataclass
class GenSummary:
    """What the generator wrote (for assertions)."""

    sessions: int = 0
    complete: int = 0
    interrupted: int = 0
    abandoned: int = 0
    reps_done: int = 0
    requested_breaks: int = 0
    days_missed: int = 0
    first_day: str = ""
    last_day: str = ""
    rep_ids: list[str] = field(default_factory=list)


def prescribed_plan() -> Plan:
    """The plan a therapist prescribes half-way through a generated month."""
    return make_plan(
        [("small_smile", 4, {}), ("pucker", 3, {"hold_s": 4.0}), ("eye_closure", 3, {})],
        source=PRESCRIBED_SOURCE,
    )


def _rep_stats(rng: random.Random, plan: Plan, pi: int, rep: int, progress: float) -> RepStats:
    """Numbers a metrics module would produce for one rep, improving with ``progress`` 0..1."""
    pattern = plan.items[pi].pattern
    start_co = {"eye_closure": 0.34, "small_smile": 0.46, "pucker": 0.42}.get(pattern.id, 0.4)
    co_mean = start_co * (1.0 - 0.45 * progress)
    co = min(0.95, max(0.02, rng.gauss(co_mean, 0.07)))
    target = max(0.4, rng.gauss(3.0 + 0.4 * progress, 0.5))
    quiet_total = co * target / (1.0 - co)
    weights = [rng.uniform(0.5, 1.5) for _ in pattern.quiet]
    quiet = {r: quiet_total * w / sum(weights) for r, w in zip(pattern.quiet, weights, strict=True)}
    floors = dict.fromkeys(pattern.quiet, 0.35)
    eye_ratio = None
    if pattern.target != "eye":
        eye_ratio = min(1.05, max(0.4, rng.gauss(0.68 + 0.14 * progress, 0.05)))
    frames = int(rng.uniform(300, 340))
    gated = int(frames * rng.choice([0.0, 0.0, 0.02, 0.1]))
    series = []
    pacing = plan.items[pi].pacing
    dur = pacing.move_s + pacing.hold_s + pacing.release_s
    n = int(dur * 10)
    for k in range(n):
        t = k / 10.0
        shape = math.sin(math.pi * min(1.0, t / dur)) ** 2
        readings = {"left": dict.fromkeys(REGIONS, 0.0), "right": dict.fromkeys(REGIONS, 0.0)}
        readings["left"][pattern.target] = target * shape
        readings["right"][pattern.target] = target * 1.3 * shape
        for r, mm in quiet.items():
            readings["left"][r] = mm * shape + rng.gauss(0, 0.05)
        series.append((t, readings))
    return RepStats(
        pattern_id=pattern.id, pattern_index=pi, rep=rep, target_region=pattern.target,
        target_mm=target, target_other_side_mm=target * 1.3, target_pct_of_other=100 / 1.3,
        quiet_mm=quiet, quiet_floor_mm=floors, coactivation=co, face_share=1 - gated / frames,
        frames=frames, frames_gated=gated, eye_ratio=eye_ratio, series=tuple(series),
        **_quality(pattern, quiet, floors, target, progress, f"{pi}-{rep}-{progress:.6f}"),
    )


def _quality(pattern: Pattern, quiet: dict[str, float], floors: dict[str, float], target: float,
             progress: float, seed: str) -> dict:
    """Practice-quality fields consistent with the numbers (own random stream: the main one,
    and so the generated sessions, stay as they were)."""
    q = random.Random(seed)
    excess = max(0.0, *(mm - floors[r] for r, mm in quiet.items()))
    t80 = max(0.05, q.gauss(0.55 + 0.25 * progress, 0.2))
    residual = max(0.0, q.gauss(0.4 - 0.2 * progress, 0.25))
    return {"slow": t80 >= 0.4, "small": target <= pattern.gentle_max_mm, "quiet": excess <= 0.0,
            "released": residual <= 0.6, "t80_share": t80, "target_peak_mm": target,
            "quiet_excess_mm": excess, "residual_mm": residual,
            "gentle_max_mm": pattern.gentle_max_mm}


def _run_session(
    rec: SessionRecorder, plan: Plan, rng: random.Random, mono: float, progress: float,
    ending: str, summary: GenSummary,
) -> float:
    """Drive one session through the engine; returns the monotonic time at its end."""
    eng = Engine(plan, Timing())
    t = mono
    outs = eng.handle(Event.SHORT_PRESS, t)
    rec.on_outputs(outs, t)
    cut_at = t + rng.uniform(20, eng.planned_s * 0.8) if ending == "interrupted" else None
    paused_for_good = ending == "abandoned"
    pause_at = t + rng.uniform(15, 60) if paused_for_good or rng.random() < 0.15 else None
    break_at = t + rng.uniform(20, 80) if rng.random() < 0.3 else None
    calibration = Calibration(0.11 + rng.gauss(0, 0.005), {r: 0.3 + rng.uniform(0, 0.1) for r in REGIONS}, 30)

    def _measure(outs: list[Output]) -> Measured:
        """What the tracking would have measured at the outputs: rep numbers, calibration."""
        reps = []
        settled = None
        for o in outs:
            match o:
                case RepDone():
                    reps.append(_rep_stats(rng, plan, o.pattern_index, o.rep, progress))
                    summary.reps_done += 1
                case SettleEnded():
                    settled = calibration
        return Measured(tuple(reps), settled)

    for _ in range(MAX_STEPS):
        if eng.state is State.HOME:
            return t
        deadline = eng.next_deadline()
        assert deadline is not None
        nxt = min(x for x in (deadline, cut_at, pause_at, break_at) if x is not None)
        if cut_at is not None and nxt == cut_at:
            return cut_at  # power cut: nothing more reaches the store
        t = max(t, nxt)
        if pause_at is not None and nxt == pause_at:
            pause_at = None
            outs = eng.handle(Event.SHORT_PRESS, t)
            rec.on_outputs(outs, t)
            if not paused_for_good and eng.state is State.PAUSED:
                t += rng.uniform(5, 60)
                outs = eng.handle(Event.SHORT_PRESS, t)
                rec.on_outputs(outs, t)
            continue
        if break_at is not None and nxt == break_at:
            break_at = None
            if eng.state in REP_PHASES:
                summary.requested_breaks += 1
                outs = eng.handle(Event.LONG_PRESS, t)
                rec.on_outputs(outs, t, _measure(outs))  # a break taken in rest ends that rep as done
            continue
        outs = eng.tick(t)
        if not outs and eng.next_deadline() == deadline:
            t = math.nextafter(t, math.inf)  # a deadline the engine did not take at t: never spin on it
            continue
        rec.on_outputs(outs, t, _measure(outs))
        if eng.state is State.SUMMARY:
            t += rng.uniform(3, 10)
            outs = eng.handle(Event.SHORT_PRESS, t)
            rec.on_outputs(outs, t)
    raise RuntimeError(f"a generated session did not end after {MAX_STEPS} steps (in {eng.state.value})")


def generate(
    data_dir: Path,
    days: int = 30,
    seed: int = 7,
    sessions_per_day: tuple[int, int] = (2, 5),
    end: datetime | None = None,
    synchronous: str = "FULL",
    miss_rate: float = 0.12,
    interrupt_rate: float = 0.05,
    abandon_rate: float = 0.03,
    switch_plan: bool = True,
) -> GenSummary:
    """Write ``days`` of practice ending at ``end`` (default: now) into ``data_dir``."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    first = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    summary = GenSummary(first_day=first.date().isoformat(), last_day=end.date().isoformat())
    clock: dict[str, Any] = {"wall0": first, "mono0": 5000.0, "mono": 5000.0}

    def wall() -> datetime:
        return clock["wall0"] + timedelta(seconds=clock["mono"] - clock["mono0"])

    def boot(plan: Plan) -> SessionRecorder:
        """The kiosk starting: a recorder opened fresh (it recovers a power-cut session)."""
        return SessionRecorder(data_dir, plan, affected_side=SIDE, wall=wall, synchronous=synchronous,
                               model_sha256=MODEL_SHA256)

    mono = 5000.0
    rec: SessionRecorder | None = None
    for day in range(days):
        plan = prescribed_plan() if switch_plan and day >= days // 2 else default_plan()
        progress = day / max(1, days - 1)
        if rng.random() < miss_rate and 0 < day < days - 1:
            summary.days_missed += 1
            continue
        lo, hi = sessions_per_day
        n = rng.randint(lo, hi)
        # The unit stays on between days (opening a year-long store checks all of it: a boot
        # a day would cost more than the practice); it boots again after a power cut.
        if rec is None:
            rec = boot(plan)
        elif rec.plan is not plan:
            rec.set_plan(plan, SIDE)
        hours = sorted(rng.uniform(7.5, 21.5) for _ in range(n))
        for h in hours:
            start_wall = first + timedelta(days=day, hours=h)
            if start_wall > end:
                break
            mono += 3600.0
            clock.update(wall0=start_wall, mono0=mono, mono=mono)
            roll = rng.random()
            ending = ("interrupted" if roll < interrupt_rate else
                      "abandoned" if roll < interrupt_rate + abandon_rate else "complete")

            mono_end = _drive(rec, plan, rng, mono, progress, ending, summary, clock)
            summary.sessions += 1
            setattr(summary, ending, getattr(summary, ending) + 1)
            mono = mono_end
            if ending == "interrupted":
                if rec.store is not None:
                    rec.store.close()  # power cut: no clean stop
                rec = boot(plan)
    if rec is not None:
        rec.stop()
    return summary


def _drive(
    rec: SessionRecorder, plan: Plan, rng: random.Random, mono: float, progress: float,
    ending: str, summary: GenSummary, clock: dict[str, Any],
) -> float:
    """Run a session while keeping the fake wall clock in step with the engine's time."""
    orig = rec.on_outputs

    def on_outputs(outputs: Sequence[Output], now: float, measured: Measured = NOTHING_MEASURED) -> None:
        clock["mono"] = now
        orig(outputs, now, measured)

    rec.on_outputs = on_outputs  # type: ignore[method-assign]
    try:
        return _run_session(rec, plan, rng, mono, progress, ending, summary)
    finally:
        del rec.on_outputs
