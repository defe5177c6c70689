"""The screen model: everything one kiosk frame shows, as plain data.

The UI loop builds a :class:`ScreenModel` from the engine's View, the tracker's LiveFeedback,
the record store's HomeInfo, the current notices and results; the drawing functions in
:mod:`station.kiosk.screens` are pure functions of it, so every screen renders without a loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pygame

from station.feedback import ClinicianInfo, HomeInfo, LiveFeedback, Notice, PatternResult, Side, TrackingStatus
from station.practice.events import State, View


@dataclass(frozen=True)
class ScreenModel:
    """One frame of the kiosk.

    ``screen`` is an engine state value (``home``, ``settle``, ... ``summary``) or one of the
    kiosk's own screens: ``info`` (clinician info), ``returned`` (please return the unit), ``checkin`` (the weekly
    check-in, drawn by :mod:`station.kiosk.checkin_screens`).
    """

    screen: str
    view: View | None = None
    feedback: LiveFeedback = field(default_factory=lambda: LiveFeedback(TrackingStatus.OFF))
    home: HomeInfo = field(default_factory=HomeInfo)
    notices: tuple[Notice, ...] = ()
    results: tuple[PatternResult, ...] = ()
    info: ClinicianInfo | None = None
    release_prompt: str = ""
    hold_fraction: float = 0.0  # how far the button is towards a long press (0..1)
    affected_side: Side | None = None  # the patient's own side: screens with the face need it
    t: float = 0.0  # seconds, only for gentle animation
    checkin: Any = None  # the weekly check-in's screen data (station.kiosk.checkin_run.CheckinScreen)

    def side(self) -> Side:
        """The affected side a screen with the face draws: none is a wiring bug, never a guess."""
        if self.affected_side is None:
            raise ValueError(f"the {self.screen} screen needs the patient's affected side")
        return self.affected_side


@dataclass(frozen=True)
class TextBlock:
    """One piece of text a render drew: where it landed, the box it was given, and its type."""

    text: str
    rect: pygame.Rect
    box: pygame.Rect
    role: str = "body"  # title | head | result | body | hint | small (see station.kiosk.theme)
    font_px: int = 0
    line_height_px: int = 0
    truncated: bool = False  # it did not fit and ends in an ellipsis (a layout bug)


def screen_of(view: View) -> str:
    """The screen name for an engine view."""
    return view.state.value if view.state is not State.PAUSED else "paused"
