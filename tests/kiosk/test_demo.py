"""The commands: ``station screens`` writes PNGs; the headless autoplay demo runs a session."""

from __future__ import annotations

import logging

import pygame
import pytest

from station.cli import main


def test_station_screens_writes_pngs(tmp_path):
    out = tmp_path / "screens"
    assert main(["screens", "--out", str(out), "--size", "480x320"]) == 0
    files = sorted(out.glob("*.png"))
    assert len(files) >= 18
    img = pygame.image.load(str(files[0]))
    assert img.get_size() == (480, 320)


@pytest.mark.slow
def test_demo_headless_autoplay_runs_a_whole_session(data_dir, caplog):
    with caplog.at_level(logging.INFO):
        assert main(["demo", "--headless", "--autoplay", "--speed", "20"]) == 0
    line = [r.getMessage() for r in caplog.records if r.getMessage().startswith("autoplay:")][0]
    assert "complete, 6 reps, 1 breaks requested, 1 pauses" in line


def test_demo_rejects_a_silly_speed(data_dir, capsys):
    assert main(["demo", "--headless", "--autoplay", "--speed", "0"]) == 2
    assert "--speed" in capsys.readouterr().err
