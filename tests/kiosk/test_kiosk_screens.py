"""Every kiosk screen renders at three sizes with all text inside the surface and its box."""

from __future__ import annotations

import itertools

import pygame
import pytest

from station.feedback import HomeInfo, Notice
from station.kiosk import screens
from station.kiosk.screens import guide_size, render, sample_models
from station.kiosk.text import fit
from station.kiosk.view import ScreenModel
from station.practice.events import State

SIZES = [(800, 480), (480, 320), (1280, 720)]
MODELS = sample_models()


@pytest.fixture(scope="module", autouse=True)
def _pygame():
    pygame.init()
    yield


def test_a_screen_for_every_engine_state():
    names = {s.value for s in State if s is not State.PAUSED} | {"paused", "info", "returned"}
    assert names <= set(screens.SCREENS)
    shown = {m.screen for m in MODELS.values()}
    assert names <= shown


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(MODELS))
def test_screen_text_stays_on_the_surface(name, size):
    surface = pygame.Surface(size)
    blocks = render(surface, MODELS[name])
    assert blocks, "every screen says something"
    bounds = surface.get_rect()
    for b in blocks:
        assert bounds.contains(b.rect), (b.text, b.rect)
        assert b.box.contains(b.rect), (b.text, b.rect, b.box)
    for a, b in itertools.combinations(blocks, 2):
        assert not a.rect.colliderect(b.rect), (a.text, b.text)


def test_long_text_shrinks_and_still_fits():
    long_msg = " ".join(["Please practise slowly and gently every morning."] * 12)
    model = ScreenModel("home", home=HomeInfo(therapist_message=long_msg, reminder=long_msg),
                        notices=(Notice(long_msg, "attention"),))
    for size in SIZES:
        surface = pygame.Surface(size)
        for b in render(surface, model):
            assert surface.get_rect().contains(b.rect) and b.box.contains(b.rect)
    fitted = fit(long_msg, 200, 30, 40)
    assert fitted.size < 40 and fitted.truncated and fitted.lines[-1].endswith("...")


def test_warning_meter_is_amber_never_red():
    surface = pygame.Surface((800, 480))
    render(surface, MODELS["08_hold_quiet_warning"])
    grid = itertools.product(range(0, 800, 4), range(0, 480, 4))
    colours = {tuple(surface.get_at(xy))[:3] for xy in grid}
    assert (232, 178, 96) in colours  # the soft amber fill of the quiet meter that moved
    assert not any(r > 200 and g < 100 and b < 100 for r, g, b in colours)


def test_pacing_guide_grows_holds_shrinks_rests():
    assert guide_size("move", 0.0) == pytest.approx(0.0)
    assert guide_size("move", 0.5) == pytest.approx(0.5)
    assert guide_size("move", 1.0) == pytest.approx(1.0)
    assert guide_size("hold", 0.3) == 1.0
    assert guide_size("release", 0.0) == pytest.approx(1.0)
    assert guide_size("release", 1.0) == pytest.approx(0.0)
    assert guide_size("rest", 0.5) == 0.0
    grows = [guide_size("move", f / 10) for f in range(11)]
    assert grows == sorted(grows)


# ---- type sizes, read back from ``station screens``' texts.json --------------------------------


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    """texts.json of every sample screen at the three sizes (written by the real command)."""
    import json

    from station.cli import main

    out = {}
    for size in SIZES:
        d = tmp_path_factory.mktemp(f"screens{size[0]}")
        assert main(["screens", "--out", str(d), "--size", f"{size[0]}x{size[1]}"]) == 0
        out[size] = json.loads((d / "texts.json").read_text())
    return out


@pytest.mark.slow
def test_texts_json_lists_every_text_with_its_role_and_size(texts):
    rows = texts[(800, 480)]
    assert {r["screen"] for r in rows} == set(MODELS)
    for r in rows:
        assert r["size"] == "800x480" and r["text"].strip()
        assert r["role"] in ("title", "head", "result", "body", "hint", "small")
        assert r["line_height_px"] >= r["font_px"] > 0


def test_nothing_patients_read_is_small_at_800x480(texts):
    rows = texts[(800, 480)]
    assert min(r["line_height_px"] for r in rows) >= 26
    body = [r for r in rows if r["role"] == "body"]
    assert body and min(r["font_px"] for r in body) >= 30
    heads = [r["font_px"] for r in rows if r["role"] == "head"]
    results = [r for r in rows if r["role"] == "result"]
    assert results and all(r["screen"].startswith("15_summary") for r in results)
    # the results after a pattern are as prominent as the headings
    assert min(r["font_px"] for r in results) >= 0.9 * min(heads)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_text_overflows_or_is_cut_short(texts, size):
    for r in texts[size]:
        x, y, w, h = r["rect"]
        bx, by, bw, bh = r["box"]
        assert 0 <= x and 0 <= y and x + w <= size[0] and y + h <= size[1], r
        assert bx <= x and by <= y and x + w <= bx + bw and y + h <= by + bh, r
        assert not r["truncated"], r
        assert r["font_px"] >= 18, r


def test_small_panel_keeps_a_floor(texts):
    assert min(r["line_height_px"] for r in texts[(480, 320)]) >= 18
    assert min(r["font_px"] for r in texts[(480, 320)]) >= 18


def test_font_is_the_shipped_one_with_a_real_bold_and_its_licence():
    from pathlib import Path

    from station.kiosk import text

    regular, bold = Path(text.font_file(False)), Path(text.font_file(True))
    assert regular.is_file() and bold.is_file() and regular != bold
    assert "Open Font License" in (regular.parent / "OFL.txt").read_text()
    # a real bold face: different outlines, not the regular one emboldened by SDL
    assert text.font(30, True).style_name == "Bold" and text.font(30).style_name == "Regular"
    assert text.font(30).name == "Atkinson Hyperlegible"
    assert text.font(30, True).size("quiet smile")[0] != text.font(30).size("quiet smile")[0]


def test_no_jargon_on_any_screen(texts):
    import re

    for r in texts[(800, 480)]:
        assert not re.search(r"\b(rep|reps|pattern)\b", r["text"], re.I), r
    move = [r["text"] for r in texts[(800, 480)] if r["screen"] == "06_move"]
    assert "Movement 1 of 3" in move
    assert "Exercise 1 of 2" in [r["text"] for r in texts[(800, 480)] if r["screen"] == "05_intro"]


@pytest.mark.parametrize("size", [(800, 480), (480, 320)])
@pytest.mark.parametrize("name", ["07_hold", "13b_break_held", "14b_paused_held"])
def test_long_press_ring_shows_and_covers_no_text(name, size):
    """The ring is drawn (it changes a good patch of pixels, some teal), and none of the
    pixels it changes lies inside a title, an instruction or a meter label."""
    import dataclasses

    import numpy as np

    held = MODELS[name]
    assert held.hold_fraction > 0
    with_ring, without = pygame.Surface(size), pygame.Surface(size)
    blocks = render(with_ring, held)
    render(without, dataclasses.replace(held, hold_fraction=0.0))
    a = pygame.surfarray.array3d(with_ring).astype(int)
    b = pygame.surfarray.array3d(without).astype(int)
    changed = np.abs(a - b).sum(axis=2) > 0
    assert changed.sum() > 0.003 * size[0] * size[1]
    assert (np.all(a[changed] == theme_teal(), axis=1)).any()
    for blk in blocks:
        if blk.role == "small":  # the side labels and the top line sit beside the guide
            continue
        r = blk.rect
        assert not changed[r.left:r.right, r.top:r.bottom].any(), (name, blk.text)


def theme_teal():
    from station.kiosk import theme

    return theme.TEAL


def test_settle_never_shows_one_sentence_twice():
    from station.practice import words

    model = MODELS["04_settle"]
    same = ScreenModel("settle", model.view, type(model.feedback)(model.feedback.status, (), words.SETTLE_TEXT))
    blocks = render(pygame.Surface((800, 480)), same)
    assert [b.text for b in blocks].count(words.SETTLE_TEXT) == 1
