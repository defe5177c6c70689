"""Hostile voice files and planted links: make-stick never writes through a symlink it did not
make, and a damaged WAV is refused in words, never a RuntimeError (on a unit the stick flow
still finishes: nonce used, result file, "Safe to remove the stick.")."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from clinic_helpers import UNIT, fake_export, fake_wipe
from rx_helpers import VALID, dumps
from wav_helpers import wav_bytes

from station.cli import main
from station.clinic import stick as clinic
from station.clinic import unit
from station.clinic.recordings import check_recording


def _chunk(cid: bytes, body: bytes, size: int | None = None) -> bytes:
    return cid + struct.pack("<I", len(body) if size is None else size) + body + (b"\0" if len(body) % 2 else b"")


def _riff(*chunks: bytes, riff_size: int | None = None) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


FMT = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
PCM = wav_bytes(1.0)[44:]

HOSTILE = {
    "fmt size 0xFFFFFFF0": _riff(_chunk(b"fmt ", FMT, 0xFFFFFFF0), _chunk(b"data", PCM)),
    "odd chunk past the RIFF end": _riff(_chunk(b"fmt ", FMT), _chunk(b"LIST", b"abc", 0x7FFFFFF1),
                                         _chunk(b"data", PCM)),
    "data size past the end": _riff(_chunk(b"fmt ", FMT), _chunk(b"data", PCM, 0xFFFFFFF0)),
    "truncated chunk header": _riff(_chunk(b"fmt ", FMT), b"dat"),
    "no fmt": _riff(_chunk(b"data", PCM)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_damaged_wavs_are_refused_in_words(name: str):
    reason = check_recording(HOSTILE[name])
    assert isinstance(reason, str) and reason, name


def test_a_good_wav_still_passes():
    assert check_recording(wav_bytes(1.0)) is None
    # streaming recorders leave the RIFF size too large: the parts inside still fit
    assert check_recording(_riff(_chunk(b"fmt ", FMT), _chunk(b"data", PCM), riff_size=0xFFFFFFF0)) is None
    assert check_recording(_riff(_chunk(b"fmt ", FMT), _chunk(b"LIST", b"odd"), _chunk(b"data", PCM))) is None
    assert check_recording(wav_bytes(1.0, rate=44100, channels=2)) is None


def test_make_stick_refuses_a_damaged_wav_with_exit_2(tmp_path: Path, capsys):
    key = tmp_path / "clinic.key"
    unit.write_secret(key, bytes(range(32)))
    voice = tmp_path / "recorded"
    voice.mkdir()
    (voice / "small_smile_move_en.wav").write_bytes(HOSTILE["fmt size 0xFFFFFFF0"])
    stick = tmp_path / "stick"
    stick.mkdir()
    code = main(["clinic", "make-stick", str(stick), "--secret-file", str(key), "--unit", UNIT,
                 "--voice", str(voice)])
    assert code == 2
    assert "small_smile_move_en.wav cannot be used" in capsys.readouterr().err


def test_on_a_unit_a_signed_damaged_wav_still_lets_the_stick_finish(data_dir: Path, tmp_path: Path):
    secret = bytes(range(32))
    unit.provision(data_dir, secret, UNIT)
    stick = tmp_path / "stick"
    stick.mkdir()
    rx_file = tmp_path / "rx.toml"
    rx_file.write_text(dumps(VALID))
    good = tmp_path / "recorded"
    good.mkdir()
    (good / "small_smile_move_en.wav").write_bytes(wav_bytes(1.0))
    clinic.make_stick(stick, secret, UNIT, rx_file, voice_dir=good)
    # the clinic signed a file it should not have: re-sign the request for the damaged bytes
    import hashlib

    bad = HOSTILE["odd chunk past the RIFF end"]
    folder = stick / clinic.STICK_FOLDER
    (folder / "voice" / "small_smile_move_en.wav").write_bytes(bad)
    req = json.loads((folder / clinic.REQUEST).read_text())
    req["voice"] = {"small_smile_move_en.wav": hashlib.sha256(bad).hexdigest()}
    payload = json.dumps(req, indent=1).encode()
    (folder / clinic.REQUEST).write_bytes(payload)
    (folder / clinic.SIGNATURE).write_text(clinic.sign(secret, payload) + "\n")
    lines: list[str] = []
    code = clinic.run_stick(stick, data_dir, fake_export, fake_wipe, lines.append)
    assert code == 0, lines
    assert lines[-1] == clinic.SAFE
    assert any("small_smile_move_en.wav cannot be used" in line for line in lines)
    assert unit.nonce_used(data_dir, req["nonce"])
    result = (folder / f"result-{UNIT}.txt").read_text()
    assert clinic.SAFE in result


def _make(tmp_path: Path, stick: Path) -> None:
    voice = tmp_path / "recorded"
    voice.mkdir(exist_ok=True)
    (voice / "small_smile_move_en.wav").write_bytes(wav_bytes(1.0))
    (voice / "small_smile_hold_en.wav").write_bytes(wav_bytes(1.2))
    clinic.make_stick(stick, bytes(range(32)), UNIT, voice_dir=voice)


def test_a_planted_cue_symlink_is_never_written_through(tmp_path: Path):
    stick = tmp_path / "stick"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    cue_dir = stick / clinic.STICK_FOLDER / "voice"
    cue_dir.mkdir(parents=True)
    (cue_dir / "small_smile_move_en.wav").symlink_to(victim)
    (cue_dir / "small_smile_hold_en.wav").symlink_to(tmp_path / "created-through-link.wav")
    _make(tmp_path, stick)
    assert victim.read_text() == "precious"
    assert not (tmp_path / "created-through-link.wav").exists()
    for name in ("small_smile_move_en.wav", "small_smile_hold_en.wav"):
        path = cue_dir / name
        assert not path.is_symlink() and path.read_bytes()[:4] == b"RIFF"


def test_a_symlinked_voice_folder_sends_nothing_elsewhere(tmp_path: Path):
    stick = tmp_path / "stick"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (stick / clinic.STICK_FOLDER).mkdir(parents=True)
    (stick / clinic.STICK_FOLDER / "voice").symlink_to(elsewhere)
    _make(tmp_path, stick)
    assert list(elsewhere.iterdir()) == []
    voice = stick / clinic.STICK_FOLDER / "voice"
    assert voice.is_dir() and not voice.is_symlink()
    assert sorted(p.name for p in voice.iterdir()) == ["small_smile_hold_en.wav", "small_smile_move_en.wav"]
