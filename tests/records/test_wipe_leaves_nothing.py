"""After ``station wipe --yes`` no byte of the data folder tells anything about the previous
patient: not the alias, the prescription's hash, its patterns, reminder times or message."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rx_helpers import VALID, dumps
from wav_helpers import wav_bytes

from station.cli import main
from station.clinic import prescription as rx
from station.clinic import unit
from station.devtools.recordgen import generate


def _traces(data: bytes) -> list[bytes]:
    doc = VALID
    words = [doc["patient"]["alias"], hashlib.sha256(data).hexdigest(), doc["message"],
             *(p["id"] for p in doc["pattern"]), *doc["reminders"]["times"], doc["reminders"]["quiet_start"],
             '"affected_side"']
    return [w.encode() for w in words]


def test_wipe_leaves_no_trace_of_the_patient_anywhere(data_dir: Path):
    unit.provision(data_dir, bytes(range(32)), "ms-wipe01")
    data = dumps(VALID).encode()
    first = dict(VALID, message="An earlier plan.")
    assert rx.apply_bytes(data_dir, dumps(first).encode(), 1_700_000_000).ok
    assert rx.apply_bytes(data_dir, data, 1_700_100_000).ok  # the log now holds a change entry
    generate(data_dir, days=2, seed=1, sessions_per_day=(1, 2), synchronous="OFF", miss_rate=0.0)
    voice = data_dir / "voice"
    voice.mkdir()
    (voice / "small_smile_move_en.wav").write_bytes(wav_bytes(1.0))
    before = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    traces = _traces(data)
    assert all(t in before for t in traces[:2])  # the check below can see them

    assert main(["wipe", "--yes"]) == 0

    left = {}
    for p in sorted(data_dir.rglob("*")):
        name = str(p.relative_to(data_dir)).encode()
        body = p.read_bytes() if p.is_file() and not p.is_symlink() else b""
        found = [t.decode() for t in traces if t in body or t in name]
        if found:
            left[str(p.relative_to(data_dir))] = found
    assert left == {}
    assert unit.get_unit_id(data_dir) == "ms-wipe01"  # unit property stays
    assert unit.find_secret(data_dir) == bytes(range(32))
    assert not (data_dir / rx.LOG_NAME).exists()
