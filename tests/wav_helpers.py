"""Small WAV files made in memory, for the voice and clinic-recording tests."""

from __future__ import annotations

import io
import wave

import numpy as np


def wav_bytes(seconds: float = 1.0, rate: int = 16000, amp: float = 0.3, channels: int = 1,
              width: int = 2) -> bytes:
    """A WAV with a soft tone (or silence with amp=0)."""
    t = np.arange(int(seconds * rate)) / rate
    wave_ = (amp * 32767 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
    if channels == 2:
        wave_ = np.repeat(wave_[:, None], 2, axis=1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(wave_.tobytes() if width == 2 else (wave_ // 256 + 128).astype("u1").tobytes())
    return buf.getvalue()
