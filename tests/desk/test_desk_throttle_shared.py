"""The sign-in throttle holds across desks: its counts live in the database (SQLite and
PostgreSQL), so threads, separate desk processes and clinic computers sharing one registry all
count the same failures (D9 across processes)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import provision_unit
from sqlalchemy import select

from station.desk import auth, db, throttle
from station.desk.app import create_app

PASSWORD = "a long enough secret phrase"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def _failures(factory, kind: str, key: str) -> int:  # noqa: ANN001
    with factory() as s:
        return s.scalar(select(db.LoginFailure.failures).where(
            db.LoginFailure.kind == kind, db.LoginFailure.key == key)) or 0


def _token(client) -> str:  # noqa: ANN001
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _wrong(client) -> int:  # noqa: ANN001
    return client.post("/login", data={"name": "tech1", "password": "wrong wrong wrong",
                                       "csrf": _token(client)}).status_code


def test_two_desks_on_one_database_share_the_count(db_url: str, tmp_path: Path):
    factory = db.open_db(db_url)
    with factory() as s, s.begin():
        auth.add_user(s, "tech1", PASSWORD)
    u = provision_unit(tmp_path)
    first, second = create_app(factory, u.key_file), create_app(db.open_db(db_url), u.key_file)
    a, b = first.test_client(), second.test_client()
    codes = [_wrong(a) for _ in range(3)] + [_wrong(b) for _ in range(throttle.ADDRESS_FREE - 3)]
    assert codes == [401] * throttle.ADDRESS_FREE
    assert _wrong(b) == 429 and _wrong(a) == 429  # the guesser gains nothing by switching desks
    r = b.post("/login", data={"name": "tech1", "password": PASSWORD, "csrf": _token(b)})
    assert r.status_code == 429 and "Try again in" in r.get_data(as_text=True)
    assert _failures(factory, throttle.ADDRESS, "127.0.0.1") == throttle.ADDRESS_FREE


def test_an_account_is_blocked_for_every_desk_and_address(db_url: str):
    factory = db.open_db(db_url)
    clock = FakeClock()
    desks = [throttle.LoginThrottle(clock, store=factory), throttle.LoginThrottle(clock, store=db.open_db(db_url))]
    for i in range(throttle.ACCOUNT_FREE):
        desks[i % 2].failed(f"10.0.1.{i}", "Tech1 ")
    assert desks[0].wait_s("10.9.9.9", "tech1") > 0 and desks[1].wait_s("10.9.9.8", "TECH1") > 0
    assert desks[1].wait_s("10.9.9.9", "tech2") == 0
    clock.t += throttle.FIRST_WAIT_S + 1
    assert desks[0].wait_s("10.9.9.9", "tech1") == 0
    desks[1].failed("10.9.9.9", "tech1")
    assert desks[0].wait_s("10.9.9.7", "tech1") == pytest.approx(2 * throttle.FIRST_WAIT_S)  # it grows
    desks[0].succeeded("10.9.9.9", "tech1")
    assert desks[1].wait_s("10.9.9.9", "tech1") == 0


def test_a_day_without_failures_starts_again_and_rows_stay_bounded(sqlite_url: str, monkeypatch):
    factory = db.open_db(sqlite_url)
    clock = FakeClock()
    t = throttle.LoginThrottle(clock, store=factory)
    for _ in range(throttle.ADDRESS_FREE - 1):
        t.failed("10.0.0.5", "x")
    clock.t += throttle.FORGET_S + 1
    t.failed("10.0.0.5", "x")
    assert _failures(factory, throttle.ADDRESS, "10.0.0.5") == 1 and t.wait_s("10.0.0.5", "y") == 0
    monkeypatch.setattr(throttle, "MAX_KEYS", 5)
    for i in range(12):
        clock.t += 1
        t.failed(f"addr-{i}", f"name-{i}")
    assert len(t) <= 2 * 5
    assert _failures(factory, throttle.ADDRESS, "addr-11") == 1  # the newest stay


def test_concurrent_failures_from_threads_are_all_counted(db_url: str):
    factory = db.open_db(db_url)
    t = throttle.LoginThrottle(store=factory)

    def guess() -> None:
        for _ in range(5):
            t.failed("10.0.0.9", "tech1")

    threads = [threading.Thread(target=guess) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert _failures(factory, throttle.ACCOUNT, "tech1") == 30
    assert t.wait_s("10.0.0.1", "tech1") > 0


GUESSER = """
import sys
from station.desk import db, throttle
t = throttle.LoginThrottle(store=db.open_db(sys.argv[1]))
for i in range(int(sys.argv[2])):
    t.failed(f"10.0.2.{sys.argv[3]}", "tech1")
"""


def test_concurrent_failures_from_separate_desk_processes_are_all_counted(db_url: str):
    factory = db.open_db(db_url)  # migrated once, before the processes start
    procs = [subprocess.Popen([sys.executable, "-c", GUESSER, db_url, "4", str(n)]) for n in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert _failures(factory, throttle.ACCOUNT, "tech1") == 12
    assert throttle.LoginThrottle(store=factory).wait_s("10.0.9.9", "tech1") > 0
