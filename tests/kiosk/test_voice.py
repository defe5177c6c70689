"""Spoken guidance: which cue at which moment, espeak-ng renders, clinic recordings, silence."""

from __future__ import annotations

import io
import logging
import wave
from pathlib import Path

import numpy as np
import pygame
import pytest
from wav_helpers import wav_bytes

from station.clinic.recordings import check_recording
from station.config import Settings
from station.feedback import PatternResult
from station.kiosk.app import Station
from station.kiosk.services import NullRecorder, Services
from station.kiosk.voice import (
    LEAD_IN_S,
    Cue,
    Voice,
    cue_for,
    espeak_path,
    plan_cues,
    write_cues,
)
from station.practice import words
from station.practice.events import Event, State, Timing
from station.practice.plan import default_plan, library, make_plan, release_prompts
from station.practice.session import Engine, intro_duration

needs_espeak = pytest.mark.skipif(espeak_path() is None, reason="espeak-ng is not installed")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return data[:, 0].astype(float) / 32768, w.getframerate()


# ---- which cue when ----------------------------------------------------------------------------


def test_cue_names_cover_pattern_phase_and_language():
    cues = plan_cues(default_plan())
    ids = [c.id for c in cues]
    assert len(ids) == len(set(ids))
    assert "small_smile_move_en" in ids and "eye_closure_intro_en" in ids
    assert {"session_settle_en", "session_paused_en", "session_summary_en"} <= set(ids)
    assert sum(i.startswith("session_break") for i in ids) == len(release_prompts())
    assert all(c.text.strip() for c in cues)
    intro = next(c for c in cues if c.id == "small_smile_intro_en")
    assert intro.text == words.intro_text(library()["small_smile"])


def test_every_phase_of_a_session_has_its_cue():
    plan = default_plan()
    eng = Engine(plan, Timing())
    outs = eng.handle(Event.SHORT_PRESS, 0.0)
    t = 0.0
    while eng.state is not State.SUMMARY:
        t += 0.25
        outs += eng.tick(t)
    spoken = [c.id for c in (cue_for(o, plan, release_prompts()[0]) for o in outs) if c]
    assert spoken[0] == "session_settle_en" and spoken[1] == "eye_closure_intro_en"
    assert spoken[2:6] == [f"eye_closure_{p}_en" for p in ("move", "hold", "release", "rest")]
    assert spoken.count("small_smile_move_en") == 3 and spoken[-1] == "session_summary_en"
    assert "session_break1_en" in spoken


# ---- espeak-ng ---------------------------------------------------------------------------------


@needs_espeak
def test_every_cue_renders_into_a_non_silent_wav_that_fits_its_phase(tmp_path):
    plan = make_plan([(pid, 1, {}) for pid in sorted(library())], source="test")
    voice = Voice(tmp_path)
    files = write_cues(plan, tmp_path / "out", voice)
    assert len(files) == len(plan_cues(plan)) and (tmp_path / "out" / "cues.json").is_file()
    timing = Timing()
    for cue in plan_cues(plan):
        samples, rate = read_wav(tmp_path / "out" / cue.filename)
        seconds = len(samples) / rate
        rms = float(np.sqrt(np.mean(samples ** 2)))
        assert rms > 0.02 and float(np.max(np.abs(samples))) > 0.3, cue.id  # clearly audible
        assert 0.5 < seconds, cue.id
        # spoken within its phase, after the tone's lead-in
        if cue.scope in library():
            p = library()[cue.scope]
            room = intro_duration(p, timing) if cue.phase == "intro" else p.pacing.of(cue.phase)
            assert seconds + LEAD_IN_S < room, (cue.id, seconds, room)
        elif cue.phase == "settle":
            assert seconds + LEAD_IN_S < timing.settle_s
        elif cue.phase.startswith("break"):
            assert seconds + LEAD_IN_S < timing.break_s
    # rendered once: a second run uses the cache
    assert voice.prepare(plan_cues(plan)) == 0


def test_without_espeak_the_station_is_silent_and_says_so_once(tmp_path, caplog):
    played: list = []
    voice = Voice(tmp_path, espeak=None, player=played.append)
    with caplog.at_level(logging.INFO, logger="station.kiosk.voice"):
        voice.start(default_plan())
        voice.say(Cue("small_smile", "move", "Smile slowly, just a little."))
        voice.stop()
    assert played == [] and voice.said == ["small_smile_move_en"]
    assert sum("espeak-ng is not installed" in r.message for r in caplog.records) == 1
    with pytest.raises(FileNotFoundError):
        write_cues(default_plan(), tmp_path / "out", voice)


# ---- clinic recordings ---------------------------------------------------------------------------


def test_recording_checks():
    assert check_recording(wav_bytes(2.0)) is None
    assert check_recording(wav_bytes(2.0, rate=44100, channels=2)) is None
    assert check_recording(b"ID3" + b"\0" * 100) == "not a WAV file"
    assert "16-bit" in check_recording(wav_bytes(1.0, width=1))
    assert "s long" in check_recording(wav_bytes(0.1))
    assert "s long" in check_recording(wav_bytes(41.0, rate=8000))
    assert check_recording(wav_bytes(1.0, amp=0.0)) == "silent"
    assert "MiB" in check_recording(b"RIFF" + b"\0" * (5 * 1024 * 1024))
    truncated = wav_bytes(2.0)[:-8000]
    assert check_recording(truncated) is not None


def test_a_recording_replaces_the_rendered_cue_and_a_bad_one_does_not(tmp_path):
    (tmp_path / "voice").mkdir()
    (tmp_path / "voice" / "small_smile_move_en.wav").write_bytes(wav_bytes(2.0))
    (tmp_path / "voice" / "small_smile_hold_en.wav").write_bytes(b"RIFF....WAVEjunk")
    played: list = []
    voice = Voice(tmp_path, espeak=None, player=played.append)
    move = Cue("small_smile", "move", "Smile slowly, just a little.")
    hold = Cue("small_smile", "hold", "Hold it lightly.")
    assert voice.recording(move) == tmp_path / "voice" / "small_smile_move_en.wav"
    assert voice.recording(hold) is None
    voice.say(move)
    voice.say(hold)
    assert played == [[tmp_path / "voice" / "small_smile_move_en.wav"]]


# ---- in the kiosk ----------------------------------------------------------------------------------


class Spoken:
    def __init__(self) -> None:
        self.files: list[list[Path]] = []

    def __call__(self, files: list[Path]) -> None:
        self.files.append(files)


class Presses:
    """A button that presses when told (no GPIO, no real time)."""

    def __init__(self) -> None:
        self.queue: list = []

    def poll(self, now: float) -> list:
        out, self.queue = self.queue, []
        return out

    def held_for(self, now: float) -> float:
        return 0.0

    def close(self) -> None:
        pass


def test_a_whole_session_can_be_followed_by_ear(tmp_path, clock):
    """Eyes closed: each phase change says what to do next, the summary says the results."""
    from station.kiosk.button import ShortPress

    pygame.init()
    (tmp_path / "voice").mkdir()
    for cue in plan_cues(default_plan()):  # recordings stand in for espeak-ng here
        (tmp_path / "voice" / cue.filename).write_bytes(wav_bytes(0.6))
    spoken = Spoken()
    voice = Voice(tmp_path, espeak=None, player=spoken, background=False)
    button = Presses()
    recorder = NullRecorder()
    recorder.pattern_results = lambda: [PatternResult(0, "Your mouth stayed quiet in 3 of 3.", 3, 3)]
    station = Station(Settings(), services=Services(voice=voice, recorder=recorder), clock=clock,
                      buttons=[button])
    station.start()
    try:
        for _ in range(3):  # start, pause in settle, resume
            button.queue.append(ShortPress())
            clock.advance(0.5)
            station.step(clock())
        while station.engine.state is not State.SUMMARY:
            clock.advance(0.25)
            station.step(clock())
    finally:
        station.stop()
    said = voice.said
    assert said[:3] == ["session_settle_en", "session_paused_en", "session_settle_en"]  # resumed
    assert said.index("eye_closure_intro_en") < said.index("eye_closure_move_en") < said.index("small_smile_intro_en")
    assert said.count("eye_closure_release_en") == 3 and said.count("small_smile_rest_en") == 3
    assert said.count("session_break1_en") + said.count("session_break2_en") == 2
    assert said[-2:] == ["session_summary_en", "session_results_en"]
    # every cue was played from its recording; the results (a sentence with numbers) need espeak-ng
    assert spoken.files[-1] == [tmp_path / "voice" / "session_summary_en.wav"]
    assert len(spoken.files) == len(said) - 1


def test_voice_off_in_the_settings_says_nothing(tmp_path):
    from station.config import load_settings_text

    settings, problems = load_settings_text("[audio]\nvoice = false\nvoice_volume = 0.4\n")
    assert not problems and settings.audio.voice is False and settings.audio.voice_volume == 0.4
    from station.kiosk.wiring import make_voice

    voice = make_voice(settings, tmp_path)
    assert not voice.enabled
    voice.say(Cue("session", "settle", "x"))
    assert voice.said == []
    _, problems = load_settings_text("[audio]\nvoice_volume = 3\n")
    assert problems and problems[0].key == "audio.voice_volume"


def test_background_worker_and_real_mixer_playback(tmp_path):
    """The default player on the dummy audio device: a reserved channel, lead-in, volume."""
    (tmp_path / "voice").mkdir()
    (tmp_path / "voice" / "session_settle_en.wav").write_bytes(wav_bytes(1.0))
    pygame.mixer.init(frequency=44100, size=-16, channels=2, buffer=1024)
    try:
        voice = Voice(tmp_path, espeak=None, volume=0.6)
        voice.start(default_plan())
        voice.say(Cue("session", "settle", words.SAY_SETTLE))  # a recording: plays at once
        voice.stop()
        assert voice._channel is not None and voice._channel.get_busy()
        sound = voice._channel.get_sound()
        assert sound.get_length() == pytest.approx(1.0 + LEAD_IN_S, abs=0.02)
        assert sound.get_volume() == pytest.approx(0.6, abs=0.01)
    finally:
        pygame.mixer.quit()


def test_parts_are_joined_into_one_sound_after_the_lead_in():
    from station.kiosk.voice import joined

    one = joined([wav_bytes(1.0), wav_bytes(0.5), wav_bytes(0.5, rate=44100)], lead_in_s=0.5)
    with wave.open(io.BytesIO(one)) as w:
        seconds = w.getnframes() / w.getframerate()
        head = np.frombuffer(w.readframes(int(0.5 * 16000)), dtype="<i2")
    assert seconds == pytest.approx(0.5 + 1.0 + 0.4 + 0.5, abs=0.01)  # the 44.1 kHz part left out
    assert not head.any()  # silence first, so the tone is heard before the words
