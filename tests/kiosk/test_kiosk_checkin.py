"""The weekly check-in in the kiosk loop, without a camera: offered when due, the button's two
meanings on home, pause and break, nothing measured without a face, kept through a refusing disk,
no clinic stick job in the middle of it. (The real landmarker end to end is in
tests/acceptance/test_checkin_on_the_kiosk.py.)"""

from __future__ import annotations

import copy
import sqlite3
from datetime import UTC, datetime, timedelta

import pygame
import pytest
from checkin_helpers import store_checkins
from rx_helpers import VALID, dumps

from station.clinic import prescription as rx
from station.config import Settings
from station.kiosk import checkin_run
from station.kiosk.app import Station
from station.kiosk.button import ScriptedButton
from station.kiosk.checkin_run import Checkins
from station.kiosk.services import Services
from station.paths import database_path
from station.practice import words
from station.practice.checkin import QUICK_TIMING, Phase, Status
from station.practice.events import State

FRAME = 0.1


class Rig:
    def __init__(self, clock, data_dir, every_days=7, **kw) -> None:  # noqa: ANN001
        pygame.init()
        self.clock = clock
        self.settings = Settings()
        self.button = ScriptedButton(self.settings.button.hold_time, clock)
        self.checkins = Checkins(data_dir, every_days, timing=QUICK_TIMING)
        self.station = Station(self.settings, None, Services(checkin=self.checkins, **kw), clock=clock,
                               buttons=[self.button], surface=pygame.Surface((800, 480)))
        self.station.step(clock())

    def press(self, seconds: float = 0.2) -> None:
        self.button.press_for(self.clock() + FRAME, seconds)
        self.frames(seconds + 3 * FRAME)

    def frames(self, seconds: float) -> None:
        end = self.clock() + seconds
        while self.clock() < end - 1e-9:
            self.clock.advance(FRAME)
            self.station.step(self.clock())

    def texts(self) -> list[str]:
        return [b.text for b in self.station.last_blocks]


def test_home_offers_it_when_due_and_a_press_starts_it(clock, data_dir):
    rig = Rig(clock, data_dir)
    assert rig.station.home.checkin == "due"
    assert words.CHECKIN_DUE in rig.texts() and words.CHECKIN_HOME_PRACTISE in rig.texts()
    rig.press()
    run = rig.station.checkin_run
    assert run is not None and run.phase is Phase.SETTLE
    assert rig.station.engine.state is State.HOME  # practice did not start
    assert rig.station.screen_model(clock()).screen == "checkin"
    # no camera, no face: nothing to measure, said plainly, and stored as such
    rig.frames(QUICK_TIMING.settle_s + QUICK_TIMING.settle_max_s + 1)
    assert run.phase is Phase.SUMMARY and run.engine.status is Status.NO_BASELINE
    assert words.CHECKIN_NO_BASELINE in rig.texts()
    rig.press()
    assert rig.station.checkin_run is None
    rig.frames(0.5)
    assert rig.station.home.checkin == "due"  # nothing was measured: still due
    db = sqlite3.connect(database_path(data_dir))
    assert db.execute("SELECT status, movements_complete FROM checkins").fetchall() == [("no_baseline", 0)]


def test_a_hold_on_home_practises_instead(clock, data_dir):
    rig = Rig(clock, data_dir)
    rig.press(rig.settings.button.hold_time + 0.3)
    assert rig.station.checkin_run is None and rig.station.engine.state is State.SETTLE


@pytest.mark.parametrize("every", [None, 7])
def test_no_offer_without_an_interval_or_once_done(clock, data_dir, every):
    if every:
        store_checkins(data_dir, [0.5], start=datetime.now(UTC) - timedelta(days=2))
    rig = Rig(clock, data_dir, every_days=every)
    assert rig.station.home.checkin == ("done" if every else "")
    assert words.CHECKIN_DUE not in rig.texts()
    assert (words.CHECKIN_HOME_DONE in rig.texts()) is bool(every)
    rig.press()
    assert rig.station.checkin_run is None and rig.station.engine.state is State.SETTLE


def test_due_again_after_the_interval(clock, data_dir):
    store_checkins(data_dir, [0.5], start=datetime.now(UTC) - timedelta(days=8))
    assert Rig(clock, data_dir).station.home.checkin == "due"


def test_pause_and_break_work_as_in_practice(clock, data_dir):
    rig = Rig(clock, data_dir)
    rig.press()
    run = rig.station.checkin_run
    rig.press()  # pause in settle
    assert run.phase is Phase.PAUSED and words.PAUSED_TITLE in rig.texts()
    rig.frames(10)
    rig.press()
    assert run.phase is Phase.SETTLE
    rig.press(rig.settings.button.hold_time + 0.3)  # a release break
    assert run.phase is Phase.BREAK and words.BREAK_TITLE in rig.texts()
    rig.press(rig.settings.button.hold_time + 0.3)  # ended early
    assert run.phase is Phase.SETTLE


def test_a_refusing_disk_keeps_the_checkin_and_it_lands_later(clock, data_dir, monkeypatch):
    real = checkin_run.records.save
    calls = {"n": 0}

    def full(conn, pending):  # noqa: ANN001, ANN202
        calls["n"] += 1
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(checkin_run.records, "save", full)
    rig = Rig(clock, data_dir)
    rig.press()
    rig.frames(QUICK_TIMING.settle_s + QUICK_TIMING.settle_max_s + 1)
    rig.press()  # home
    rig.frames(1.0)
    assert calls["n"] >= 1 and rig.checkins.pending_count == 1
    assert words.CHECKIN_NOT_SAVED in [n.text for n in rig.station.notices.values()]
    monkeypatch.setattr(checkin_run.records, "save", real)
    rig.station._home_at = None  # the next home refresh (once a minute) tries again
    rig.frames(0.5)
    assert rig.checkins.pending_count == 0
    assert words.CHECKIN_NOT_SAVED not in [n.text for n in rig.station.notices.values()]
    db = sqlite3.connect(database_path(data_dir))
    assert db.execute("SELECT count(*) FROM checkins").fetchone()[0] == 1


def test_no_clinic_stick_job_starts_during_a_checkin(clock, data_dir):
    from station.kiosk.housekeeping import Housekeeping

    chores = Housekeeping(data_dir, rx.Prescription())
    started = []
    chores._jobs_waiting = lambda: True  # type: ignore[method-assign]
    chores._start_job = lambda: started.append(1)  # type: ignore[method-assign]
    rig = Rig(clock, data_dir, chores=chores)
    started.clear()
    rig.press()
    assert rig.station.checkin_run is not None
    rig.frames(3.0)
    assert started == []


def test_the_unit_wiring_reads_the_interval_and_autoplay_never_checks_in(clock, data_dir):
    from station.kiosk.wiring import SourceChoice, build_station

    doc = copy.deepcopy(VALID)
    doc["session"]["checkin_every_days"] = 7
    assert rx.apply_bytes(data_dir, dumps(doc).encode()).ok
    pygame.init()
    st = build_station(SourceChoice(demo=True, tracking=False), Settings(), data_dir, clock=clock)
    try:
        assert st.checkins.every_days == 7
        st.step(clock())
        assert st.home.checkin == "due"
    finally:
        st.stop()


def test_every_checkin_sentence_is_rendered_ahead(tmp_path):
    from station.kiosk.voice import Voice, espeak_path

    if espeak_path() is None:
        pytest.skip("espeak-ng is absent: apt-get install espeak-ng")
    voice = Voice(tmp_path, player=lambda files: None, background=False)
    voice.prepare_later(checkin_run.all_sentences())
    wavs = list((tmp_path / "voice-cache").iterdir())
    assert len(wavs) == len({t for _n, t in checkin_run.all_sentences()})
    for name, text in checkin_run.all_sentences():
        assert text and len(text) < 200, name


def test_station_voice_writes_the_checkin_cues_when_prescribed(data_dir, tmp_path):
    import json

    from station.cli import main
    from station.kiosk.voice import espeak_path

    if espeak_path() is None:
        pytest.skip("espeak-ng is absent: apt-get install espeak-ng")
    doc = copy.deepcopy(VALID)
    doc["session"]["checkin_every_days"] = 7
    assert rx.apply_bytes(data_dir, dumps(doc).encode()).ok
    assert main(["voice", "--out", str(tmp_path / "cues")]) == 0
    ids = {c["id"] for c in json.loads((tmp_path / "cues" / "cues.json").read_text())}
    assert {"session_checkin_open_smile_intro_en", "session_checkin_repeat_turned_en"} <= ids
    assert (tmp_path / "cues" / "session_checkin_summary_en.wav").stat().st_size > 1000


def test_a_kiosk_stopped_mid_checkin_keeps_it_as_abandoned(clock, data_dir):
    rig = Rig(clock, data_dir)
    rig.press()
    rig.frames(1.0)
    rig.station.stop()
    db = sqlite3.connect(database_path(data_dir))
    assert db.execute("SELECT status FROM checkins").fetchall() == [("abandoned",)]
    assert Rig(clock, data_dir).station.home.checkin == "due"  # an abandoned check-in is not done


def test_the_voice_says_why_it_moves_on_after_the_last_repeat():
    from station.practice.checkin import CheckinEngine, Event, PhaseStarted, TryEnded

    eng = CheckinEngine(QUICK_TIMING)
    said = []

    def follow(outs):  # noqa: ANN001, ANN202 - as the kiosk's run does: say, then answer the try
        moving_on = any(type(o).__name__ == "TryRejected" and not o.repeat for o in outs)
        said.extend(checkin_run.say_for(o, eng, "turned", moving_on) for o in outs if isinstance(o, PhaseStarted))
        for o in outs:
            if isinstance(o, TryEnded):  # every try of the brow lift is turned
                follow(eng.handle(Event.TRY_BAD if o.movement_index == 0 else Event.TRY_OK, o.at, "turned"))

    follow(eng.handle(Event.SHORT_PRESS, 0.0) + eng.handle(Event.CALIBRATED, 1.0))
    while eng.phase is not Phase.SUMMARY:
        follow(eng.tick(eng.next_deadline()))
    names = [s[0] for s in said if s]
    assert names.count("checkin_repeat_turned") == QUICK_TIMING.max_repeats
    intro = next(s for s in said if s and s[0] == "checkin_moving_on_eye_closure_intro")
    assert intro[1].startswith(words.CHECKIN_MOVING_ON)
    end = [s for s in said if s and s[0].startswith("checkin_summary")]  # said at the end too
    assert end == [("checkin_summary_incomplete", f"{words.CHECKIN_INCOMPLETE} {words.CHECKIN_SAY_DONE}")]
    assert eng.progress[0].complete is False and all(p.complete for p in eng.progress[1:])


def _spoken_checkin(timing):  # noqa: ANN001, ANN202
    """(cue name, sentence, seconds until the next cue) of a whole check-in at ``timing``, with
    one turned try (repeated), a pause and a break, followed as the kiosk's run follows it."""
    from station.practice.checkin import CheckinEngine, Event, TryEnded, TryRejected

    eng = CheckinEngine(timing)
    said: list[tuple[str, str, float]] = []
    state = {"turned": 0, "reason": ""}

    def follow(outs, now):  # noqa: ANN001, ANN202
        moving_on = False
        for o in outs:
            if isinstance(o, TryRejected):
                state["reason"], moving_on = o.reason, not o.repeat
            found = checkin_run.say_for(o, eng, state["reason"], moving_on)
            if found:
                said.append((*found, o.at))
        for o in outs:
            if isinstance(o, TryEnded):
                bad = o.movement_index == 2 and state["turned"] == 0
                state["turned"] += bad
                follow(eng.handle(Event.TRY_BAD if bad else Event.TRY_OK, o.at, "turned" if bad else ""), o.at)

    follow(eng.handle(Event.SHORT_PRESS, 0.0), 0.0)
    follow(eng.handle(Event.CALIBRATED, timing.settle_s), timing.settle_s)
    paused = broke = False
    while eng.phase not in (Phase.SUMMARY, Phase.HOME):
        t = eng.next_deadline()
        if not paused and eng.phase is Phase.HOLD and eng.view(t).movement_index == 1:
            paused = True  # a pause in the eye closure's hold, resumed 10 s later
            follow(eng.handle(Event.SHORT_PRESS, t - 1.0), t - 1.0)
            follow(eng.handle(Event.SHORT_PRESS, t + 9.0), t + 9.0)
            continue
        if not broke and eng.phase is Phase.REST and eng.view(t).movement_index == 3:
            broke = True  # a release break in the snarl's rest, held to its end
            follow(eng.handle(Event.LONG_PRESS, t - 0.5), t - 0.5)
            continue
        follow(eng.tick(t), t)
    ends = [s[2] for s in said[1:]] + [said[-1][2] + timing.summary_s]
    return [(n, text, end - at) for (n, text, at), end in zip(said, ends, strict=True)]


def test_the_voice_alone_guides_a_whole_checkin_and_every_line_fits_its_moment():
    """Followed with eyes closed: the voice says when it starts, each movement with its tries,
    when to hold, let go and rest, why a try is asked again, the pause and the break, and the
    end with what to do next; and no line is cut short by the next one (the voice cuts short
    whatever it is saying), measured on espeak-ng's own rendering."""
    import tempfile
    import wave
    from pathlib import Path

    from station.kiosk.voice import espeak_path, render
    from station.practice.checkin import CheckinTiming

    lines = _spoken_checkin(CheckinTiming())
    names = [n for n, _t, _d in lines]
    assert names[:2] == ["checkin_settle", "checkin_neutral"] and names[-1] == "checkin_summary"
    for mv in words.CHECKIN_MOVEMENTS:  # each movement introduced once, then three moves
        assert names.count(f"checkin_{mv}_intro") == 1, mv
    assert names.count("checkin_open_smile_move") == 4  # three tries and the turned one again
    assert names.count("checkin_hold") >= names.count("checkin_release") >= 16  # a pause cut one hold
    assert "checkin_repeat_turned" in names and "paused" in names and "checkin_break" in names
    i = names.index("paused")
    assert names[i + 1] == "checkin_eye_closure_move"  # on resume the try starts again, said
    assert "Press the button" in lines[-1][1] and "Press the button" in lines[i][1]
    if espeak_path() is None:
        pytest.skip("espeak-ng is absent: apt-get install espeak-ng")
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, text, _d in lines:
            if n not in seconds:
                with wave.open(str(render(text, Path(tmp) / f"{n}.wav"))) as w:
                    seconds[n] = w.getnframes() / w.getframerate()
    cut = [(n, round(seconds[n], 2), round(d, 2)) for n, _t, d in lines
           if seconds[n] > d and n != "paused"]  # a pause is resumed by the patient, not by time
    assert not cut, cut


def test_the_demo_patient_is_handed_the_checkins_view_each_step_and_none_at_the_end():
    """The check-in hands its view to the demo's tracking (``follow_checkin``), which keeps it
    for the simulated patient; once the check-in is over it hands None (the face at rest)."""
    from station.tracking.fakes.sources import DemoTracking, PhaseProbe

    probe = PhaseProbe()
    demo = DemoTracking(inner=None, probe=probe)  # type: ignore[arg-type]
    seen: list[object] = []

    def follow(view: object) -> None:
        seen.append(view)
        demo.follow_checkin(view)

    class Silent:  # no voice, no tones
        def __getattr__(self, _name: str) -> object:
            return lambda *_a, **_k: None

    run = checkin_run.CheckinRun("left", Settings(), None, Silent(), Silent(), lambda _r: None, QUICK_TIMING,
                                 on_view=follow)
    run.start(0.0)
    run.step(0.1)
    assert seen and seen[0] is not None and probe.checkin is seen[0]
    assert probe()[0] == seen[0].shown.value  # type: ignore[attr-defined]
    t = 0.1
    while not run.done and t < 600:
        t += 1.0
        run.step(t)
        if not run.done:
            run.press(False, t)  # no camera: the check-in ends at settle; a press leaves its summary
    run.step(t + 1.0)
    assert run.done and seen[-1] is None and probe.checkin is None
    assert probe()[0] == "home"
