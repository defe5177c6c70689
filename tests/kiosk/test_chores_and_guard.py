"""The chores answer with data the loop applies; each service sits behind one fault guard.

No drawing, a fake clock: the station's loop is stepped by hand.
"""

from __future__ import annotations

import logging

from station.config import Settings
from station.feedback import HomeInfo, Notice, Side
from station.kiosk.app import Station
from station.kiosk.guard import Faults, GuardedRecorder
from station.kiosk.services import ChoresResult, ClearNotice, NewPlan, NullChores, NullRecorder, Services
from station.practice import words
from station.practice.events import Event, State, Timing
from station.practice.plan import make_plan


class ScriptedChores(NullChores):
    """Chores that answer the next tick with a prepared result, and note what they were told."""

    def __init__(self) -> None:
        self.next = ChoresResult()
        self.told: list[bool] = []

    def tick(self, practising: bool, now: float) -> ChoresResult:
        self.told.append(practising)
        out, self.next = self.next, ChoresResult()
        return out


def _station(clock, chores) -> Station:  # noqa: ANN001
    st = Station(Settings(), make_plan([("eye_closure", 1, {})], source="test"),
                 Services(chores=chores), clock=clock)
    st.timing = Timing(settle_s=1, intro_s=1, break_s=1)
    st.engine = type(st.engine)(st.plan, st.timing)
    return st


def test_chores_notices_are_applied_in_order_and_a_plan_waits_for_home(clock):
    chores = ScriptedChores()
    st = _station(clock, chores)
    chores.next = ChoresResult((Notice("one", key="stick"), Notice("gone soon", key="wiped"),
                                ClearNotice("wiped")))
    st.step(clock())
    assert [n.text for n in st.notices.values()] == ["one"] and chores.told == [False]

    st.engine.handle(Event.SHORT_PRESS, clock())  # a session: the chores hear it is under way
    while st.engine.state is not State.SUMMARY:
        st.step(clock.advance(1.0))
    assert chores.told[-2] is True
    new = make_plan([("small_smile", 2, {})], source="prescription")
    chores.next = ChoresResult(plan=NewPlan(new, Side.RIGHT, 7))
    st.step(clock.advance(1.0))
    assert st.engine.state is State.SUMMARY and st.plan.items[0].pattern.id == "eye_closure"
    st.engine.handle(Event.SHORT_PRESS, clock())  # the summary dismissed: home
    st.step(clock.advance(1.0))
    assert st.plan is new and st.settings.patient.affected_side is Side.RIGHT


class FlakyRecorder(NullRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    def home_info(self, now: float) -> HomeInfo:
        if self.broken:
            raise OSError("database locked")
        return HomeInfo(sessions_today=2)


def test_a_failing_service_is_noticed_once_and_cleared_when_it_works_again(caplog):
    board: dict[str, Notice] = {}
    inner = FlakyRecorder()
    rec = GuardedRecorder(inner, Faults(board))
    assert rec.home_info(0.0).sessions_today == 2
    inner.broken = True
    with caplog.at_level(logging.ERROR):
        for t in range(5):
            assert rec.home_info(float(t)).sessions_today == 2  # the last good answer, not a crash
    assert caplog.text.count("recorder home_info failed") == 1
    assert board["failed:recorder"].text == words.RECORDS_FAILED
    inner.broken = False
    rec.home_info(6.0)
    assert "failed:recorder" not in board
