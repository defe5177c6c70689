"""Clinic-recorded voice cues on the stick: signed, checked, copied; a bad file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clinic_helpers import UNIT, fake_export, fake_wipe
from rx_helpers import VALID, dumps
from wav_helpers import wav_bytes

from station.cli import main
from station.clinic import prescription as rx
from station.clinic import stick as clinic
from station.clinic import unit
from station.clinic.recordings import check_name
from station.kiosk.voice import Cue, Voice


@pytest.fixture
def secret() -> bytes:
    return bytes(range(32))


@pytest.fixture
def unit_data(data_dir: Path, secret: bytes) -> Path:
    unit.provision(data_dir, secret, UNIT)
    return data_dir


def run(stick: Path, data: Path) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = clinic.run_stick(stick, data, fake_export, fake_wipe, lines.append)
    return code, lines


def recordings(tmp_path: Path) -> Path:
    d = tmp_path / "recorded"
    d.mkdir()
    (d / "small_smile_move_en.wav").write_bytes(wav_bytes(2.0))
    (d / "small_smile_hold_en.wav").write_bytes(wav_bytes(1.5, rate=44100, channels=2))
    return d


def test_recorded_cues_arrive_with_the_prescription_and_are_spoken(unit_data, tmp_path, secret):
    f = tmp_path / "rx.toml"
    f.write_text(dumps(VALID))
    stick = tmp_path / "stick"
    stick.mkdir()
    req = clinic.make_stick(stick, secret, UNIT, f, voice_dir=recordings(tmp_path))
    assert [name for name, _ in req.voice] == ["small_smile_hold_en.wav", "small_smile_move_en.wav"]
    signed = json.loads((stick / "station-clinic" / "request.json").read_text())
    assert set(signed["voice"]) == {"small_smile_hold_en.wav", "small_smile_move_en.wav"}
    code, lines = run(stick, unit_data)
    assert code == 0, lines
    assert "Recorded voice cues in use: 2 of 2." in lines
    got = unit_data / "voice" / "small_smile_move_en.wav"
    assert got.read_bytes() == wav_bytes(2.0)
    played: list = []
    voice = Voice(unit_data, espeak=None, player=played.append)
    voice.say(Cue("small_smile", "move", "Smile slowly, just a little."))
    assert played == [[got]]


def test_a_bad_recording_is_refused_and_the_good_ones_still_arrive(unit_data, tmp_path, secret):
    stick = tmp_path / "stick"
    stick.mkdir()
    clinic.make_stick(stick, secret, UNIT, voice_dir=recordings(tmp_path))
    folder = stick / "station-clinic" / "voice"
    # after signing, one file is swapped for an MP3-like file and one for a silent WAV
    (folder / "small_smile_hold_en.wav").write_bytes(b"ID3" + b"\0" * 2000)
    code, lines = run(stick, unit_data)
    assert code == 0
    assert "  small_smile_hold_en.wav is not the file the clinic signed; not used." in lines
    assert "Recorded voice cues in use: 1 of 2." in lines
    assert sorted(p.name for p in (unit_data / "voice").iterdir()) == ["small_smile_move_en.wav"]


def test_a_signed_but_invalid_recording_is_refused_on_the_unit(unit_data, tmp_path, secret):
    """A stick made by other tools (signed, but never checked by make-stick)."""
    stick = tmp_path / "stick"
    stick.mkdir()
    clinic.make_stick(stick, secret, UNIT, voice_dir=recordings(tmp_path))
    folder = stick / "station-clinic"
    silent = wav_bytes(1.0, amp=0.0)
    (folder / "voice" / "small_smile_hold_en.wav").write_bytes(silent)
    req = json.loads((folder / "request.json").read_text())
    import hashlib

    req["voice"]["small_smile_hold_en.wav"] = hashlib.sha256(silent).hexdigest()
    payload = json.dumps(req).encode()
    (folder / "request.json").write_bytes(payload)
    (folder / "request.sig").write_text(clinic.sign(secret, payload) + "\n")
    code, lines = run(stick, unit_data)
    assert "  small_smile_hold_en.wav cannot be used: silent." in lines
    assert not (unit_data / "voice" / "small_smile_hold_en.wav").exists()
    assert (unit_data / "voice" / "small_smile_move_en.wav").exists()


def test_make_stick_refuses_bad_recordings_before_anything_is_written(tmp_path, secret, capsys):
    d = tmp_path / "recorded"
    d.mkdir()
    (d / "small_smile_move_en.wav").write_bytes(wav_bytes(0.1))  # too short
    stick = tmp_path / "stick"
    stick.mkdir()
    with pytest.raises(ValueError, match="small_smile_move_en.wav cannot be used"):
        clinic.make_stick(stick, secret, UNIT, voice_dir=d)
    assert not (stick / "station-clinic" / "request.json").exists()
    (d / "small_smile_move_en.wav").write_bytes(wav_bytes(1.0))
    (d / "../evil.wav").resolve().write_bytes(wav_bytes(1.0))
    (d / "Smile.WAV.wav").write_bytes(wav_bytes(1.0))
    with pytest.raises(ValueError, match="not a cue name"):
        clinic.make_stick(stick, secret, UNIT, voice_dir=d)
    key = tmp_path / "clinic.key"
    unit.write_secret(key, secret)
    (d / "Smile.WAV.wav").unlink()
    code = main(["clinic", "make-stick", str(stick), "--secret-file", str(key), "--unit", UNIT,
                 "--voice", str(d)])
    assert code == 0 and "Stick ready" in capsys.readouterr().out


def test_a_request_naming_a_path_is_damaged(unit_data, tmp_path, secret):
    assert check_name("../unit/secret.wav") and check_name("a/b_en.wav") and not check_name("pucker_hold_en.wav")
    stick = tmp_path / "stick"
    stick.mkdir()
    clinic.make_stick(stick, secret, UNIT)
    folder = stick / "station-clinic"
    req = json.loads((folder / "request.json").read_text())
    req["voice"] = {"../../unit/x_en.wav": "0" * 64}
    payload = json.dumps(req).encode()
    (folder / "request.json").write_bytes(payload)
    (folder / "request.sig").write_text(clinic.sign(secret, payload) + "\n")
    code, lines = run(stick, unit_data)
    assert code == 2 and "damaged" in " ".join(lines)
    assert not (unit_data / "voice").exists()
    assert rx.load_active(unit_data).source == "default"
