"""The record generator ends for every seed, even when a deadline tick does nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from station.devtools.recordgen import generate
from station.practice.events import State
from station.practice.session import Engine


def test_the_generator_never_spins_on_a_deadline_the_engine_did_not_take(tmp_path, monkeypatch):
    # generate(days=200, seed=7) once hung after 548 sessions: a pause deadline that floating
    # point put a hair before the engine's own test. Here a tick exactly at a pause deadline is
    # always ignored (that float trap, for every pause).
    real = Engine.tick
    ignored: set[int] = set()

    def stubborn(self, t):  # noqa: ANN001, ANN202
        if self.state is State.PAUSED and t == self.next_deadline():
            ignored.add(id(self))
            return []
        return real(self, t)

    monkeypatch.setattr(Engine, "tick", stubborn)
    summary = generate(tmp_path, days=2, seed=7, abandon_rate=1.0, interrupt_rate=0.0, miss_rate=0.0,
                       synchronous="OFF", end=datetime(2026, 3, 2, 20, tzinfo=UTC))
    assert summary.sessions > 0 and summary.abandoned == summary.sessions and ignored
