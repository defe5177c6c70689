"""Shared fixtures: headless SDL, pinned media and the pinned face model, a fake clock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Real pygame on the dummy drivers; set before anything imports pygame.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

REPO = Path(__file__).resolve().parent.parent


def _cache_root() -> Path:
    root = Path(os.environ.get("STATION_TEST_CACHE", REPO / ".cache"))
    root.mkdir(parents=True, exist_ok=True)
    return root


os.environ.setdefault("STATION_MEDIA_CACHE", str(_cache_root() / "media"))


@pytest.fixture(scope="session")
def media():
    """``media("video/single_face.mp4")`` -> verified path (fetched by pinned hash if needed)."""
    from station.tracking.fakes.samples import sample_path

    return sample_path


@pytest.fixture(scope="session")
def model_file() -> Path:
    """The pinned face model, fetched once per machine into the test cache."""
    from station.tracking.model import fetch

    dest = _cache_root() / "models" / "face_landmarker.task"
    fetch(dest)
    return dest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory, also exported as STATION_DATA."""
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("STATION_DATA", str(d))
    return d


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
