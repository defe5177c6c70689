"""Synthesized cues: distinct, soft, click-free; silent and logged without a device."""

from __future__ import annotations

import logging

import numpy as np
import pygame
import pytest

from station.kiosk.audio import CUE_NAMES, PEAK, PHASE_CUES, Audio, synth


def test_cues_are_distinct_bounded_and_fade_in_and_out():
    waves = {name: synth(name, 22050) for name in CUE_NAMES}
    for name, w in waves.items():
        assert 0.1 < len(w) / 22050 < 2.0, name
        assert np.max(np.abs(w)) == pytest.approx(PEAK, rel=1e-6)
        assert abs(w[0]) < 1e-3 and abs(w[-1]) < 1e-3, name  # starts and ends at silence
        assert np.max(np.abs(np.diff(w))) < 0.2, name  # no jump anywhere (no click)
    n = max(len(w) for w in waves.values())
    padded = {k: np.pad(w, (0, n - len(w))) / np.linalg.norm(w) for k, w in waves.items()}
    names = list(padded)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert abs(float(padded[a] @ padded[b])) < 0.9, (a, b)

    def pitch(w: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(w * np.hanning(len(w)), 1 << 15))
        return float(np.argmax(spec)) * 22050 / (1 << 15)

    move, release = waves["move"], waves["release"]
    q = len(move) // 4
    assert pitch(move[-q:]) > pitch(move[:q]) + 50  # rises
    assert pitch(release[-q:]) < pitch(release[:q]) - 50  # falls
    assert set(PHASE_CUES.values()) <= set(CUE_NAMES)


def test_audio_on_dummy_device_makes_every_sound():
    pygame.init()
    audio = Audio(volume=0.5)
    assert audio.start()
    assert set(audio.sounds) == set(CUE_NAMES)
    arr = pygame.sndarray.array(audio.sounds["move"])
    assert 0 < np.max(np.abs(arr)) <= 0.5 * PEAK * 32767 + 1
    audio.play_phase("hold")
    audio.play("no such cue")  # harmless
    audio.stop()


def test_no_audio_device_runs_silently_and_says_so(monkeypatch, caplog):
    def broken(*a, **k):
        raise pygame.error("no audio device")

    monkeypatch.setattr(pygame.mixer, "get_init", lambda: None)
    monkeypatch.setattr(pygame.mixer, "init", broken)
    audio = Audio()
    with caplog.at_level(logging.WARNING):
        assert audio.start() is False
    assert audio.sounds == {} and "runs silently" in caplog.text
    audio.play_phase("move")  # no-op, no exception


def test_volume_zero_and_disabled():
    assert Audio(enabled=False).start() is False
    assert Audio(volume=7).volume == 1.0
