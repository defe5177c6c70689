"""A clinic stick asking for export and wipe arrives in the middle of a session (issue 10, A).

End to end on the real kiosk loop (``build_station`` as ``station run`` builds it: the
prescribed plan, the SQLite store, the clinic chores; a fake clock and the autoplay button, no
camera). The stick is made with the real stick code. First ``station usb-sync --direct`` runs in
a real second process and is refused while the kiosk holds the session lock; then the stick
goes through the spool exactly as ``station usb-sync`` hands it to a live kiosk
(:func:`station.clinic.spool.hand_off`), whose waiting is the kiosk's own frames. Every session
survives: the ones that ended before, and the one in progress when the stick arrived, are whole
in the verified bundle; the session after the wipe is in the unit's store.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from lifecycle_helpers import ALIAS_A, SHORT, practise, prescription_file, start_kiosk

from station.clinic import prescription as rx
from station.clinic import spool, unit
from station.clinic import stick as clinic
from station.clinic.export import verify_bundle
from station.kiosk.app import Station
from station.kiosk.autoplay import Autoplay
from station.practice.events import State

pytestmark = pytest.mark.slow  # the fast lane (-m "not slow") leaves this module out

FRAME = 0.1  # fake seconds per kiosk frame
PLANNED_REPS = sum(p["reps"] for p in SHORT)
REPO = Path(__file__).resolve().parents[2]

#: the moment the stick goes in, as a condition on the running session
MOMENTS: dict[str, Callable[[Station], bool]] = {
    "settling": lambda st: st.engine.state is State.SETTLE,
    "mid-hold": lambda st: st.engine.state is State.HOLD and st.engine.view(st.clock()).rep == 1,
    "paused": lambda st: st.engine.state is State.PAUSED,
    "release-break": lambda st: st.engine.state is State.BREAK,
}


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _bundles(stick: Path) -> list[Path]:
    export = stick / clinic.STICK_FOLDER / clinic.EXPORT_FOLDER
    return sorted(p for p in export.iterdir() if not p.name.startswith(".")) if export.is_dir() else []


def _store_sessions(station: Station) -> dict[str, str]:
    """Session id -> status, as the kiosk's store holds them now."""
    return {r["id"]: r["status"] for r in station.services.recorder.store.sessions()}  # type: ignore[attr-defined]


def _direct_usb_sync(data_dir: Path, stick: Path) -> subprocess.CompletedProcess[str]:
    """``station usb-sync --direct`` in its own process, as udev would start it."""
    return subprocess.run(
        [sys.executable, "-m", "station", "--data-dir", str(data_dir), "usb-sync", "--direct",
         str(stick)], capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_stick_mid_session_waits_then_every_session_survives(
        data_dir: Path, tmp_path: Path, clock, moment: str):
    secret = unit.new_secret()
    unit_id = unit.provision(data_dir, secret, "ms-mid001")
    assert rx.apply_bytes(data_dir, prescription_file(tmp_path, "a", ALIAS_A, "left").read_bytes()).ok
    station = start_kiosk(data_dir, clock)
    recorder = station.services.recorder
    ended_before = [practise(station, clock) for _ in range(2)]

    # a third session starts; the stick goes in at the chosen moment of it
    auto = Autoplay(station.engine, station.settings.button.hold_time)
    station.buttons.insert(0, auto)
    for _ in range(5000):
        station.step(clock.advance(FRAME))
        if station.engine.state is not State.HOME and MOMENTS[moment](station):
            break
    else:
        pytest.fail(f"the session never reached {moment}")
    running = recorder.session_id
    assert running is not None and running not in ended_before
    stick = tmp_path / "stick"
    stick.mkdir()
    req = clinic.make_stick(stick, secret, unit_id, wipe_after_export=True)

    # usb-sync --direct from another process is refused while the kiosk practises
    r = _direct_usb_sync(data_dir, stick)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "middle of a practice session" in r.stdout and "Traceback" not in r.stderr
    assert not unit.nonce_used(data_dir, req.nonce) and _bundles(stick) == []
    assert set(_store_sessions(station)) == {*ended_before, running}

    # usb-sync's ordinary path: a spool job for the live kiosk; its waiting is kiosk frames
    taken: list[tuple[State, str | None]] = []
    real_start = station.services.chores._start_job

    def start_job() -> object:
        taken.append((station.engine.state, recorder.session_id))
        return real_start()

    station.services.chores._start_job = start_job  # type: ignore[method-assign]
    waited_mid_session = {"frames": 0}

    def kiosk_frames(seconds: float) -> None:
        """hand_off's pause between two looks at the status file: the kiosk runs meanwhile."""
        for _ in range(max(1, round(seconds / FRAME))):
            if station.engine.state not in (State.HOME, State.SUMMARY):
                # practising: the job waits, untouched, in the spool
                assert list(spool.spool_dir(data_dir).glob("job-*.json")), "job taken mid-session"
                assert not list(spool.spool_dir(data_dir).glob("job-*.status"))
                waited_mid_session["frames"] += 1
            station.step(clock.advance(FRAME))
        if clock() > 20_000:
            raise AssertionError("the kiosk never finished the stick job")

    shown: list[str] = []
    code = spool.hand_off(data_dir, stick, shown.append, sleep=kiosk_frames)
    worker = station.services.chores._worker
    if worker is not None:
        worker.join(timeout=120)
    for _ in range(20):  # the kiosk drains the last lines and reloads the prescription
        station.step(clock.advance(FRAME))
    station.buttons.remove(auto)

    assert code == 0, shown
    assert "practice session" in shown[0]  # usb-sync told the clinic why it waits
    assert "This unit holds no patient records now." in shown and shown[-1] == clinic.SAFE
    assert waited_mid_session["frames"] > 0
    # the kiosk took the job only at the summary or at home, with no session running
    assert len(taken) == 1 and taken[0][0] in (State.HOME, State.SUMMARY) and taken[0][1] is None
    assert unit.nonce_used(data_dir, req.nonce)
    assert not any(key.startswith("failed:") for key in station.notices)

    # the bundle holds the sessions that ended before and the interrupted-by-nothing one, whole
    [bundle] = _bundles(stick)
    assert verify_bundle(bundle) == []
    exported = {r["id"]: r["status"] for r in _csv(bundle / "sessions.csv")}
    assert exported == dict.fromkeys([*ended_before, running], "complete")
    done = [r for r in _csv(bundle / "reps.csv") if r["status"] == "done"]
    assert sum(r["session_id"] == running for r in done) == PLANNED_REPS
    assert all(sum(r["session_id"] == s for r in done) == PLANNED_REPS for s in ended_before)
    assert json.loads((bundle / "unit.json").read_text())["patient_alias"] == ALIAS_A

    # the unit is wiped, and the kiosk goes on recording into the fresh store
    assert _store_sessions(station) == {}
    assert station.services.chores.prescription.source == "default"
    after = practise(station, clock)
    assert _store_sessions(station) == {after: "complete"}
    assert {*exported, after} == {*ended_before, running, after}  # every session, somewhere
    station.stop()
    assert not list(spool.spool_dir(data_dir).glob("job-*"))
