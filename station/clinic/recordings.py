"""Clinic-recorded voice cues: what a recording must be to replace a spoken cue on a unit.

A therapist's own voice is what patients know, so a clinic may record any cue the station
speaks (``station voice --out DIR`` lists them, one ``<pattern>_<phase>_<lang>.wav`` each) and
send the recordings on the clinic stick with the prescription. Like the prescription they are
checked before anything is kept: the name must be a cue name, the file an uncompressed 16-bit
PCM WAV, mono or stereo, at a common sample rate, 0.3 to 40 seconds long, at most 4 MiB, and
not silent. Accepted files go to ``<data dir>/voice/``; the kiosk checks them again before it
plays one (:mod:`station.kiosk.voice`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from station.files import atomic_write, open_dir_at, read_limited, write_new_at
from station.practice import words

OVERRIDE_DIR = "voice"
MAX_RECORDING_BYTES = 4 * 1024 * 1024
MAX_RECORDINGS = 64
MIN_RECORDING_S = 0.3
MAX_RECORDING_S = 40.0
RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}_[a-z]{2}\.wav")


def check_recording(data: bytes) -> str | None:
    """Why a clinic recording cannot be used (None when it can): a short plain reason.

    Accepted: an uncompressed PCM WAV, 16-bit, mono or stereo, a common sample rate, between
    0.3 and 40 seconds, at most 4 MiB, not silent.
    """
    if len(data) > MAX_RECORDING_BYTES:
        return f"larger than {MAX_RECORDING_BYTES // (1024 * 1024)} MiB"
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return "not a WAV file"
    damaged = _chunk_problem(data)
    if damaged:
        return damaged
    try:
        with wave.open(io.BytesIO(data)) as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            pcm = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        return f"not a plain PCM WAV file ({exc})"
    except (RuntimeError, ValueError, OverflowError, struct.error, MemoryError):
        return "a damaged WAV file"
    if width != 2 or channels not in (1, 2) or rate not in RATES:
        return f"{channels} channel(s), {8 * width}-bit, {rate} Hz: use 16-bit mono or stereo PCM"
    seconds = frames / rate
    if not MIN_RECORDING_S <= seconds <= MAX_RECORDING_S:
        return f"{seconds:.1f} s long: use {MIN_RECORDING_S:g} to {MAX_RECORDING_S:g} s"
    if len(pcm) < frames * channels * width:
        return "shorter than its header says"
    samples = np.frombuffer(pcm[: frames * channels * width], dtype="<i2")
    if samples.size == 0 or int(np.max(np.abs(samples.astype(np.int32)))) < 328:  # -40 dBFS
        return "silent"
    return None


def _chunk_problem(data: bytes) -> str | None:
    """Walk the WAV's parts (RIFF chunks) before any WAV reader does: a part that runs past
    the end of the file (a size like 0xFFFFFFF0) is damage, named in words. A RIFF size larger
    than the file is tolerated (streaming recorders leave it so); the parts must still fit."""
    end = min(8 + struct.unpack_from("<I", data, 4)[0], len(data))
    pos, seen = 12, set()
    while pos + 8 <= end:
        cid = data[pos:pos + 4]
        size = struct.unpack_from("<I", data, pos + 4)[0]
        label = cid.decode("latin-1").strip() if cid.isascii() and cid.decode("ascii").isprintable() else "?"
        if pos + 8 + size > end:
            return f"a damaged WAV file (its '{label}' part runs past the end of the file)"
        seen.add(cid)
        pos += 8 + size + (size & 1)
    if b"fmt " not in seen or b"data" not in seen:
        return "not a plain PCM WAV file (no format or no sound part)"
    return None


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be a recording's file name (None when it can)."""
    if not NAME_RE.fullmatch(name):
        return "not a cue name (like small_smile_move_en.wav)"
    return None


def from_folder(folder: Path) -> dict[str, bytes]:
    """The clinic's recordings in ``folder`` (for a stick), checked so a bad one never reaches a
    unit; raises ValueError naming the file and what is wrong."""
    out: dict[str, bytes] = {}
    for path in sorted(folder.glob("*.wav")):
        data = read_limited(path, MAX_RECORDING_BYTES + 1)
        problem = check_name(path.name) or check_recording(data)
        if problem:
            raise ValueError(f"the recording {path.name} cannot be used: {problem}")
        out[path.name] = data
    if not out:
        raise ValueError(f"there are no .wav recordings in {folder}")
    if len(out) > MAX_RECORDINGS:
        raise ValueError(f"at most {MAX_RECORDINGS} recordings fit on one stick")
    return out


def import_listed(folder_fd: int, data_dir: Path, listed: tuple[tuple[str, str], ...],
                  say: Callable[[str], None]) -> int:
    """Copy the signed recordings (name, sha256) from the stick folder's ``voice/`` into
    ``<data dir>/voice/``: each read with a size limit, compared with its signed hash and
    checked; one that fails is named and skipped. Returns how many were copied."""
    say(words.STICK_VOICE_READING)
    try:
        voice_fd = os.open(OVERRIDE_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                           dir_fd=folder_fd)
    except OSError:
        say(words.STICK_VOICE_UNREADABLE)
        return 0
    dest = data_dir / OVERRIDE_DIR
    dest.mkdir(parents=True, exist_ok=True)
    copied = 0
    try:
        for name, digest in listed:
            if check_name(name):
                continue  # the request was checked already; never a path
            try:
                data = read_limited(name, MAX_RECORDING_BYTES + 1, dir_fd=voice_fd)
            except OSError:
                say(f"  {name} could not be read; not used.")
                continue
            if hashlib.sha256(data).hexdigest() != digest:
                say(f"  {name} is not the file the clinic signed; not used.")
                continue
            problem = check_recording(data)
            if problem:
                say(f"  {name} cannot be used: {problem}.")
                continue
            atomic_write(dest / name, data)
            copied += 1
    finally:
        os.close(voice_fd)
    say(words.STICK_VOICE_IN_USE.format(copied=copied, listed=len(listed)))
    return copied


def listed(recs: dict[str, bytes]) -> dict[str, str]:
    """The request's ``voice`` listing: file name -> sha256."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in recs.items()}


def listing_ok(listing: object) -> bool:
    """True when a request's ``voice`` listing is well formed (cue names, sha256 values)."""
    return (isinstance(listing, dict) and len(listing) <= MAX_RECORDINGS
            and all(isinstance(k, str) and check_name(k) is None and isinstance(v, str)
                    and re.fullmatch(r"[0-9a-f]{64}", v) is not None for k, v in listing.items()))


def write_folder(stick_folder: Path, recs: dict[str, bytes]) -> None:
    """Put the recordings into the stick folder's ``voice/`` (making a stick).

    A returned stick is hostile: a symlink planted as ``voice/`` or as a cue's file is
    removed and replaced, never followed, so nothing is written outside the stick folder.
    """
    if not recs:
        return
    top = open_dir_at(stick_folder)
    try:
        voice = open_dir_at(OVERRIDE_DIR, top, create=True, replace_link=True)
        try:
            for name, data in recs.items():
                if check_name(name):
                    raise ValueError(f"{name} is not a cue name")
                write_new_at(voice, name, data)
        finally:
            os.close(voice)
    finally:
        os.close(top)
