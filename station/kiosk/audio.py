"""Soft audio cues, synthesized at start-up (numpy -> pygame.mixer), no sound files.

Each phase change has its own gentle cue so a session can be followed with the eyes closed
and a hand on the cheek: move rises softly, hold is one soft tone, release falls softly, rest
is low and quiet, a break is a gentle chime, the summary two notes. Every cue has a smooth
fade in and out (no clicks) and a peak well below full scale; ``volume`` scales them all.

Without an audio device (the mixer does not start) the station runs silently and says so once
in the log; :meth:`Audio.play` is then a no-op.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from station.practice.events import State

log = logging.getLogger(__name__)

RATE = 44100
PEAK = 0.35  # of full scale, before the volume setting
FADE_S = 0.015

#: phase (engine state value) -> cue name
PHASE_CUES: dict[State, str] = {
    State.SETTLE: "rest",
    State.INTRO: "intro",
    State.MOVE: "move",
    State.HOLD: "hold",
    State.RELEASE: "release",
    State.REST: "rest",
    State.BREAK: "break",
    State.SUMMARY: "summary",
}

CUE_NAMES: tuple[str, ...] = (
    "intro", "move", "hold", "release", "rest", "break", "summary", "pause",
)


def _tone(f0: float, f1: float, seconds: float, rate: int, decay: float = 0.0) -> np.ndarray:
    """A sine gliding from f0 to f1 Hz with a soft second partial and optional decay."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    freq = np.linspace(f0, f1, n)
    phase = 2 * np.pi * np.cumsum(freq) / rate
    wave = np.sin(phase) + 0.15 * np.sin(2 * phase)
    if decay:
        wave *= np.exp(-t * decay)
    return wave


def _fade(wave: np.ndarray, rate: int, fade_s: float = FADE_S) -> np.ndarray:
    """Raised-cosine fade in and out so the cue starts and ends at zero (no click)."""
    n = min(len(wave) // 2, max(2, int(fade_s * rate)))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, math.pi, n))
    out = wave.copy()
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def synth(name: str, rate: int = RATE) -> np.ndarray:
    """The cue ``name`` as float samples in [-PEAK, PEAK], mono."""
    gap = np.zeros(int(0.06 * rate))
    if name == "move":  # soft rising
        wave = _tone(392, 523, 0.55, rate)
    elif name == "hold":  # one soft tone
        wave = _tone(523, 523, 0.45, rate, decay=2.0)
    elif name == "release":  # soft falling
        wave = _tone(523, 392, 0.55, rate)
    elif name == "rest":  # low and quiet
        wave = 0.6 * _tone(262, 262, 0.5, rate, decay=3.0)
    elif name == "intro":
        wave = _tone(440, 440, 0.35, rate, decay=4.0)
    elif name == "pause":
        wave = 0.7 * _tone(349, 330, 0.3, rate, decay=4.0)
    elif name == "break":  # gentle chime: two partials, long decay
        n = int(1.4 * rate)
        t = np.arange(n) / rate
        wave = (np.sin(2 * np.pi * 659 * t) + 0.5 * np.sin(2 * np.pi * 988 * t)) * np.exp(-t * 2.5)
    elif name == "summary":  # two notes
        a = _fade(_tone(523, 523, 0.35, rate, decay=3.0), rate)
        b = _fade(_tone(659, 659, 0.5, rate, decay=2.5), rate)
        wave = np.concatenate([a, gap, b])
    else:
        raise KeyError(name)
    wave = _fade(wave, rate)
    peak = float(np.max(np.abs(wave))) or 1.0
    return wave / peak * PEAK


class Audio:
    """The cue player. ``start()`` once after pygame is up; ``play(cue)`` at phase changes."""

    def __init__(self, volume: float = 0.5, enabled: bool = True) -> None:
        self.volume = max(0.0, min(1.0, volume))
        self.enabled = enabled
        self.sounds: dict[str, object] = {}
        self.available = False

    def start(self) -> bool:
        """Open the mixer and synthesize every cue; False (logged once) when there is no sound."""
        if not self.enabled:
            log.info("audio cues are turned off in the settings")
            return False
        try:
            import pygame

            if not pygame.mixer.get_init():
                pygame.mixer.init(frequency=RATE, size=-16, channels=2, buffer=1024)
            mixer = pygame.mixer.get_init()
            if mixer is None:
                raise pygame.error("the mixer did not start")
            rate, _size, channels = mixer
            for name in CUE_NAMES:
                mono = synth(name, rate) * self.volume
                pcm = np.round(mono * 32767).astype(np.int16)
                data = np.ascontiguousarray(np.repeat(pcm[:, None], channels, axis=1))
                self.sounds[name] = pygame.sndarray.make_sound(data)
        except Exception as exc:  # noqa: BLE001 - no device, no driver: run silently
            log.warning("no audio device (%s): the station runs silently", exc)
            self.sounds = {}
            return False
        self.available = True
        return True

    def play(self, cue: str) -> None:
        """Play ``cue`` if sound is available; never raises."""
        sound = self.sounds.get(cue)
        if sound is None:
            return
        try:
            sound.play()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001
            log.debug("playing cue %s failed", cue, exc_info=True)

    def play_phase(self, phase: State) -> None:
        """The cue for a phase change."""
        cue = PHASE_CUES.get(phase)
        if cue:
            self.play(cue)

    def stop(self) -> None:
        """Close the mixer."""
        try:
            import pygame

            if pygame.mixer.get_init():
                pygame.mixer.quit()
        except Exception:  # noqa: BLE001
            log.debug("closing the mixer failed", exc_info=True)
