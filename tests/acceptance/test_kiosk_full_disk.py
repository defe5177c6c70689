"""Full disk seen from the patient's side: the kiosk keeps guiding and says so once, calmly."""

from __future__ import annotations

from pathlib import Path

from recording import FlakyConnection, Wall

from station.clinic.prescription import load_active
from station.config import Settings
from station.feedback import Side
from station.kiosk.app import Station
from station.kiosk.button import ScriptedButton
from station.kiosk.housekeeping import Housekeeping
from station.kiosk.services import Services
from station.practice import words  # noqa: E402
from station.practice.events import SessionFinished, SessionStatus, State
from station.practice.plan import default_plan
from station.records.recorder import SessionRecorder


def test_full_disk_warns_once_on_screen_and_the_session_completes(data_dir: Path, clock):
    plan = default_plan()
    wrappers: list[FlakyConnection] = []

    def wrap(conn):
        wrappers.append(FlakyConnection(conn))
        return wrappers[-1]

    rec = SessionRecorder(data_dir, plan, wall=Wall(clock), connection_factory=wrap, affected_side=Side.LEFT)
    settings = Settings()
    button = ScriptedButton(settings.button.hold_time, clock)
    station = Station(settings, plan, Services(recorder=rec, chores=Housekeeping(data_dir, load_active(data_dir), rec)),
                      clock=clock, buttons=[button])
    wrappers[0].full = True  # the SD card is full from the start
    button.press_for(clock() + 0.1, 0.2)
    outs, shown = [], []
    for _ in range(3000):
        clock.advance(0.1)
        outs += station.step(clock())
        shown += [n.text for n in station.notices.values() if n.text == words.STORAGE_FULL]
        if station.engine.state is State.SUMMARY:
            break
    assert any(isinstance(o, SessionFinished) and o.status is SessionStatus.COMPLETE for o in outs)
    assert shown and words.STORAGE_FULL in [n.text for n in station.notices.values()]
    assert rec.storage_full and rec.pending_rows > 0 and wrappers[0].failures > 0
    wrappers[0].full = False  # space again: the held rows land
    button.press_for(clock() + 0.1, 0.2)  # dismiss the summary
    for _ in range(30):
        clock.advance(0.1)
        station.step(clock())
    assert rec.pending_rows == 0
    assert rec.home_info(clock()).sessions_today == 1  # the whole session landed
    rec.stop()
