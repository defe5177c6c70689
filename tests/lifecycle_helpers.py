"""Test helpers: the kiosk as ``station run`` builds it (no camera), a whole practised session,
and a prescription file, for the end-to-end runs in ``tests/acceptance``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rx_helpers import VALID, dumps

from station.config import Settings
from station.feedback import Measured, RepStats
from station.kiosk.app import Station
from station.kiosk.autoplay import Autoplay
from station.kiosk.services import NullTracking
from station.kiosk.wiring import SourceChoice, build_station
from station.practice.events import Output, RepDone, SessionStarted, SessionStatus, State
from station.records.recorder import SessionRecorder

FRAME = 0.1  # seconds of fake time per loop step
ALIAS_A = "PT-ALPHA-7731"
SHORT = [{"id": "eye_closure", "reps": 2}, {"id": "small_smile", "reps": 2, "hold_s": 3}]


def start_kiosk(data_dir: Path, clock: Any) -> Station:
    """The kiosk as ``station run`` builds it (prescription, records, chores), no camera."""
    station = build_station(SourceChoice(tracking=False), Settings(), data_dir, clock=clock)
    assert isinstance(station.services.recorder, SessionRecorder)
    station.tracking.inner = MeasuringTracking(station)  # behind the same fault guard
    station.start()
    return station


class MeasuringTracking(NullTracking):
    """No camera, but each rep's numbers are measured at its RepDone as a tracker would."""

    def __init__(self, station: Station) -> None:
        self.station, self.n = station, 0

    def follow(self, outputs: list[Output]) -> Measured:
        reps: list[RepStats] = []
        for o in outputs:
            if isinstance(o, RepDone):
                self.n += 1
                reps.append(rep_stats(self.station, o, self.n))
        return Measured(tuple(reps))


def rep_stats(station: Station, out: RepDone, n: int) -> RepStats:
    """Plausible per-rep numbers (what the tracker would hand the recorder)."""
    p = station.plan.items[out.pattern_index].pattern
    return RepStats(
        pattern_id=p.id, pattern_index=out.pattern_index, rep=out.rep, target_region=p.target,
        target_mm=2.0 + 0.1 * n, target_other_side_mm=4.0, target_pct_of_other=50.0 + n,
        quiet_mm=dict.fromkeys(p.quiet, 0.3), quiet_floor_mm=dict.fromkeys(p.quiet, 0.5),
        coactivation=0.12, face_share=1.0, frames=60, frames_gated=2,
        series=((0.0, {"left": {p.target: 0.0}, "right": {p.target: 0.0}}),
                (0.1, {"left": {p.target: 0.4}, "right": {p.target: 0.9}})),
    )


def practise(station: Station, clock: Any, marker: str | None = None) -> str:
    """One whole session with the autoplay button (start, pause, break, summary); its id."""
    recorder = station.services.recorder
    assert isinstance(recorder, SessionRecorder)
    auto = Autoplay(station.engine, station.settings.button.hold_time)
    station.buttons.insert(0, auto)
    session_id = None
    try:
        for _n in range(20_000):
            for out in station.step(clock.advance(FRAME)):
                if isinstance(out, SessionStarted):
                    session_id = recorder.session_id
                    if marker:
                        recorder.note(clock(), "clinic_note", marker)
            if auto.stage == "done" and station.engine.state is State.HOME:
                break
        else:
            pytest.fail("the session did not finish")
    finally:
        station.buttons.remove(auto)
    assert session_id is not None and station.engine.counters.status is SessionStatus.COMPLETE
    return session_id


def prescription_file(tmp_path: Path, name: str, alias: str, side: str, **extra: Any) -> Path:
    """A valid prescription for ``alias`` playing :data:`SHORT`, written to ``tmp_path``."""
    path = tmp_path / f"{name}.toml"
    path.write_text(dumps(dict(VALID, patient={"alias": alias, "affected_side": side},
                               pattern=SHORT, **extra)))
    return path
