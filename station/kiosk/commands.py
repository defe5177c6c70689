"""Command-line entry points of the kiosk: ``station run``, ``station demo`` and ``station screens``."""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from station.config import Settings
from station.kiosk.app import Clock
from station.kiosk.autoplay import Autoplay, VirtualClock
from station.kiosk.button import Button, ButtonUnavailable, KeyboardButton, open_gpio_button
from station.kiosk.native_log import capture_native_stderr
from station.kiosk.screens import render_all
from station.practice.events import SessionStatus, State

log = logging.getLogger(__name__)


def _load(args: argparse.Namespace) -> tuple[Settings, Path]:
    from station.config import context_of

    ctx = context_of(args)
    return ctx.settings, ctx.data_dir


def _open_display(size: tuple[int, int], fullscreen: bool) -> Any:
    import pygame

    pygame.init()
    pygame.display.set_caption("Mirror-station")
    if fullscreen:
        surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
        pygame.mouse.set_visible(False)
    else:
        surface = pygame.display.set_mode(size)
    log.info("display %s, %dx%d", pygame.display.get_driver(), *surface.get_size())
    return surface


def cmd_run(args: argparse.Namespace) -> int:
    """``station run``: full screen, GPIO button (keyboard if no GPIO), unit settings."""
    capture_native_stderr()
    settings, data_dir = _load(args)
    d = settings.display
    surface = _open_display((d.width, d.height), d.fullscreen)
    clock: Clock = time.monotonic
    keyboard = KeyboardButton(settings.button.hold_time, clock)
    buttons: list[Button] = []
    try:
        buttons.append(open_gpio_button(settings.button.pin, settings.button.hold_time,
                                        settings.button.bounce_time, clock))
    except ButtonUnavailable as exc:
        log.warning("%s; using the keyboard space bar as the button", exc)
    from station.kiosk.wiring import UNIT_CAMERA, build_station

    station = build_station(UNIT_CAMERA, settings, data_dir, clock=clock, buttons=buttons,
                            keyboard=keyboard, surface=surface)
    station.run()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``station demo``: windowed, keyboard as the button; ``--headless --autoplay --speed X``."""
    from station.errors import UsageError

    capture_native_stderr()  # ALSA, OpenCV and mediapipe chatter: debug log lines, not the terminal

    speed = float(args.speed)
    if not 0.1 <= speed <= 1000:
        raise UsageError(f"--speed must be between 0.1 and 1000, got {speed:g}")
    if args.headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ["SDL_AUDIODRIVER"] = "dummy"
    settings, data_dir = _load(args)
    settings = replace(settings, display=replace(settings.display, fullscreen=False))
    size = tuple(args.size) if args.size else (settings.display.width, settings.display.height)
    surface = _open_display(size, fullscreen=False)
    virtual = args.headless and args.autoplay
    if virtual:
        vclock = VirtualClock(1000.0)
        clock: Clock = vclock
    else:
        t0 = time.monotonic()
        clock = (lambda: t0 + (time.monotonic() - t0) * speed) if speed != 1.0 else time.monotonic
    keyboard = KeyboardButton(settings.button.hold_time, clock)
    from station.kiosk.wiring import SourceChoice, build_station

    source = SourceChoice(demo=True, video=args.video, camera=args.camera, tracking=not args.no_tracking)
    station = build_station(source, settings, data_dir, clock=clock, keyboard=keyboard,
                            surface=surface, exit_after_summary=args.autoplay)
    def preparing() -> bool:  # the demo's media are being fetched (autoplay waits at home)
        return bool(getattr(station.services.tracking, "preparing", False))

    if args.autoplay:
        station.buttons.insert(0, Autoplay(station.engine, settings.button.hold_time,
                                           preparing=preparing))
        station.checkins.set_every_days(None)  # autoplay plays a practice session, never a check-in
    # An autoplay session must end: give up after three times its planned length (frames
    # spent waiting for the media at home do not count).
    limit = None
    if args.autoplay:
        planned = station.engine.planned_s + station.timing.break_s + 60
        limit = int(3 * planned * settings.display.fps / speed) + 100
    counted = [0]

    def on_frame() -> None:
        if args.autoplay and preparing() and station.engine.state is State.HOME:
            time.sleep(0.02)
            return
        if virtual:
            vclock.advance(speed / settings.display.fps)
        counted[0] += 1
        if limit is not None and counted[0] >= limit:
            station.running = False

    station.run(paced=not virtual, on_frame=on_frame)
    if args.autoplay:
        c = station.engine.counters
        done = c.status is SessionStatus.COMPLETE and station.engine.state is State.HOME
        log.info("autoplay: %s, %d reps, %d breaks requested, %d pauses, %d frames",
                 c.status.value if c.status else "unfinished", c.reps_done, c.breaks_requested, c.pauses,
                 station.frames)
        return 0 if done else 1
    return 0


def cmd_screens(args: argparse.Namespace) -> int:
    """``station screens --out DIR [--size WxH]``."""
    from station.errors import UsageError

    out = Path(args.out)
    try:
        files = render_all(out, tuple(args.size))
    except OSError as exc:
        raise UsageError(f"cannot write screens to {out}: {exc}") from exc
    print(f"wrote {len(files)} screens to {out}")
    return 0


def cmd_voice(args: argparse.Namespace) -> int:
    """``station voice --out DIR``: every cue the current plan can speak, as WAV, for listening
    (and the weekly check-in's, when the prescription schedules one).

    Clinic recordings are written as they are; the rest are rendered with espeak-ng (exit 1
    with a plain message when it is not installed).
    """
    from station.clinic.prescription import load_active
    from station.errors import UsageError
    from station.kiosk.checkin_run import all_sentences
    from station.kiosk.voice import Cue, Voice, espeak_path, write_cues

    settings, data_dir = _load(args)
    voice = Voice(data_dir, enabled=True)
    out = Path(args.out)
    rx = load_active(data_dir)
    checkin = [Cue("session", name, text) for name, text in all_sentences()] if rx.checkin_every_days else []
    try:
        files = write_cues(rx.plan(), out, voice, checkin)
    except FileNotFoundError as exc:
        print(f"station voice: {exc} (install the espeak-ng package)")
        return 1
    except OSError as exc:
        raise UsageError(f"cannot write the cues to {out}: {exc}") from exc
    engine = "espeak-ng" if espeak_path() else "recordings only"
    print(f"wrote {len(files)} cues to {out} ({engine}; list in cues.json)")
    return 0

