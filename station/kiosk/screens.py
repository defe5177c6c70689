"""Every kiosk screen as a pure function of a :class:`~station.kiosk.view.ScreenModel`.

``render(surface, model)`` clears the surface, draws the screen and returns a
:class:`~station.kiosk.view.TextBlock` for every text it drew (with its role, font size and
line height), so tests can check that no text leaves the surface, that the main blocks do not
overlap and that nothing is too small to read. Layout boxes are fractions of the surface and
type sizes scale with it, never below the floors in :mod:`station.kiosk.theme`.

The kiosk is not a mirror: no camera frame is ever drawn. The pacing guide is a soft circle
that grows during *move*, stays during *hold*, shrinks during *release* and rests small; a
simple face (:mod:`station.kiosk.face_pictogram`) inside it shows what moves and what stays
quiet. Every sentence comes from :mod:`station.practice.words`.

``station screens --out DIR [--size WxH]`` renders every screen with sample data to PNG and
writes ``DIR/texts.json``: one object per text drawn.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pygame

from station.feedback import (
    ClinicianInfo,
    HomeInfo,
    LiveFeedback,
    Notice,
    PatternResult,
    RegionMeter,
    Side,
    TrackingStatus,
)
from station.kiosk import checkin_screens, theme
from station.kiosk.face_pictogram import draw_face, screen_sign
from station.kiosk.text import draw_text
from station.kiosk.view import ScreenModel, TextBlock
from station.practice import words
from station.practice.events import State, View
from station.practice.plan import Pattern

log = logging.getLogger(__name__)

Color = tuple[int, int, int]


class _Canvas:
    """A surface plus its scale and the list of texts drawn on it."""

    def __init__(self, surface: pygame.Surface) -> None:
        self.s = surface
        self.w, self.h = surface.get_size()
        self.u = min(self.w / theme.DESIGN_SIZE[0], self.h / theme.DESIGN_SIZE[1])
        self.blocks: list[TextBlock] = []
        self.min_px = max(theme.FLOOR_TEXT, round(theme.MIN_TEXT * self.u))

    def box(self, x: float, y: float, w: float, h: float) -> pygame.Rect:
        """A rectangle from fractions of the surface."""
        w_, h_ = self.w, self.h
        return pygame.Rect(round(x * w_), round(y * h_), round(w * w_), round(h * h_))

    def px(self, design_px: float) -> int:
        return max(1, round(design_px * self.u))

    def text(self, text: str, box: pygame.Rect, role: str = "body", color: Color = theme.TEXT,
             align: str = "left", valign: str = "top", max_lines: int = 0,
             bold: bool | None = None) -> None:
        """Draw ``text`` in ``role`` (see theme.ROLES) fitted into ``box``; remember it."""
        design, role_bold = theme.ROLES[role]
        size = max(self.px(design), self.min_px)
        drawn = draw_text(self.s, text, box, size, color, align, valign, min_size=self.min_px,
                          max_lines=max_lines, bold=role_bold if bold is None else bold)
        if drawn is not None:
            rect, fitted = drawn
            self.blocks.append(TextBlock(text, rect, box.copy(), role, fitted.size, fitted.line_h,
                                         fitted.truncated))


# ---- building blocks ---------------------------------------------------------------------


def _ease(x: float) -> float:
    """Smooth 0..1 (slow start, slow end), so the guide never jerks."""
    x = min(1.0, max(0.0, x))
    return 0.5 - 0.5 * math.cos(math.pi * x)


def guide_size(phase: str, fraction: float, t: float = 0.0) -> float:
    """How big the pacing shape is (0 = rest size, 1 = full) for ``phase`` at ``fraction``."""
    if phase == "move":
        return _ease(fraction)
    if phase == "hold":
        return 1.0
    if phase == "release":
        return 1.0 - _ease(fraction)
    if phase in ("break", "settle"):  # slow breathing, 8 s a breath
        return 0.25 + 0.2 * (0.5 - 0.5 * math.cos(2 * math.pi * t / 8.0))
    return 0.0


def _mix(a: Color, b: Color, k: float) -> Color:
    return tuple(round(a[j] + (b[j] - a[j]) * k) for j in range(3))  # type: ignore[return-value]


def _guide(c: _Canvas, area: pygame.Rect, size: float, color: Color = theme.TEAL,
           inner: float = 0.25) -> pygame.Rect:
    """The soft pacing circle: a faint full-size ring and a filled disc of the current size.

    ``inner`` is the rest size as a share of the full radius (larger when a face sits inside).
    Returns the square the full circle fills.
    """
    r_max = max(4, min(area.w, area.h) // 2 - c.px(6))
    r_min = max(3, round(r_max * inner))
    r = round(r_min + (r_max - r_min) * size)
    centre = area.center
    pygame.draw.circle(c.s, theme.PANEL, centre, r_max)
    pygame.draw.circle(c.s, theme.TEAL_SOFT, centre, r_max, max(1, c.px(3)))
    for i, k in enumerate((0.35, 0.6, 1.0)):  # soft edge: rings fading into the panel
        pygame.draw.circle(c.s, _mix(theme.PANEL, color, k), centre, max(2, r - i * c.px(4)))
    square = pygame.Rect(0, 0, 2 * r_max, 2 * r_max)
    square.center = centre
    return square


def _face(c: _Canvas, box: pygame.Rect, p: Pattern | None, side: Side,
          fb: LiveFeedback | None = None) -> None:
    """The face pictogram for pattern ``p``; the live meters light the same regions."""
    if p is None:
        return
    warnings = frozenset(m.region for m in (fb.meters if fb else ()) if m.warning)
    level = max((m.level for m in (fb.meters if fb else ()) if m.role == "target"), default=1.0)
    draw_face(c.s, box, p.target, p.quiet, side, warnings, 0.4 + 0.6 * level)


def _side_labels(c: _Canvas, left_box: pygame.Rect, right_box: pygame.Rect, side: Side) -> None:
    """'Left' and 'Right' under the face as the patient sees it; the affected side in teal."""
    for name, word in ((Side.LEFT, words.LEFT_WORD), (Side.RIGHT, words.RIGHT_WORD)):
        box = left_box if screen_sign(name) < 0 else right_box
        lit = name == side
        c.text(word, box, "small", theme.TEAL if lit else theme.DIM,
               align="left" if box is left_box else "right", valign="middle", bold=lit)


def _progress(c: _Canvas, fraction: float) -> None:
    """Session progress: a thin bar along the bottom edge."""
    bar = c.box(0.03, 0.975, 0.94, 0.014)
    bar.h = max(3, bar.h)
    bar.bottom = min(bar.bottom, c.h - 1)
    pygame.draw.rect(c.s, theme.TRACK, bar, border_radius=bar.h // 2)
    fill = bar.copy()
    fill.w = round(bar.w * min(1.0, max(0.0, fraction)))
    if fill.w > 0:
        pygame.draw.rect(c.s, theme.TEAL, fill, border_radius=bar.h // 2)


def _banner(c: _Canvas, notices: tuple[Notice, ...]) -> None:
    """The most important notice as a calm banner near the bottom (never red)."""
    if not notices:
        return
    notice = max(notices, key=lambda n: n.level == "attention")
    area = c.box(0.02, 0.82, 0.96, 0.15)
    attention = notice.level == "attention"
    pygame.draw.rect(c.s, theme.AMBER_BG if attention else theme.PANEL, area,
                     border_radius=c.px(10))
    pygame.draw.rect(c.s, theme.AMBER if attention else theme.TEAL_SOFT, area, max(1, c.px(2)),
                     border_radius=c.px(10))
    inner = area.inflate(-c.px(20), -2)
    c.text(notice.text, inner, "small", theme.AMBER if attention else theme.TEXT,
           align="center", valign="middle")


def _meter(c: _Canvas, area: pygame.Rect, m: RegionMeter) -> None:
    """One meter: a label line and a bar. Target: teal; quiet: sage, soft amber on warning."""
    name = words.REGION_NAMES.get(m.region, m.region)
    if m.role == "target":
        hint = m.hint or words.TARGET_LABEL
        label, color = f"{name}: {hint[:1].lower()}{hint[1:]}", theme.TEAL
    else:
        template = words.METER_QUIET_WARNING if m.warning else words.METER_QUIET
        label = template.format(region=name)
        color = theme.AMBER if m.warning else theme.SAGE
    label_box = pygame.Rect(area.x, area.y, area.w, area.h * 62 // 100)
    c.text(label, label_box, "hint", theme.AMBER if m.warning else theme.DIM, valign="bottom",
           max_lines=1)
    bar = pygame.Rect(area.x, area.y + area.h * 68 // 100, area.w, max(4, area.h * 22 // 100))
    pygame.draw.rect(c.s, theme.TRACK, bar, border_radius=bar.h // 2)
    zoned = m.gentle_to > m.gentle_from
    if zoned:  # the gentle zone: a lighter band on the track; the bar never fills past it
        zone = pygame.Rect(bar.x + round(bar.w * m.gentle_from), bar.y,
                           max(1, round(bar.w * (m.gentle_to - m.gentle_from))), bar.h)
        pygame.draw.rect(c.s, _mix(theme.TRACK, theme.TEAL, 0.35), zone, border_radius=bar.h // 2)
    fill = bar.copy()
    fill.w = round(bar.w * min(1.0, max(0.0, m.level)))
    if fill.w > 0:
        pygame.draw.rect(c.s, color, fill, border_radius=bar.h // 2)
    if zoned:  # ticks at both ends of the zone, above and below the bar, seen over the fill
        for edge in (m.gentle_from, m.gentle_to):
            tx = bar.x + round(bar.w * edge)
            pygame.draw.line(c.s, theme.TEXT, (tx, bar.y - c.px(4)), (tx, bar.bottom + c.px(3)),
                             max(1, c.px(2)))


def _meters(c: _Canvas, area: pygame.Rect, fb: LiveFeedback, quiet_hint: str) -> None:
    """The status line and the region meters; without meters, the quiet hint in words."""
    top = area.y
    if fb.message:
        line = pygame.Rect(area.x, top, area.w, area.h * 40 // 100)
        c.text(fb.message, line, "hint", theme.AMBER, valign="middle")
        top = line.bottom + area.h * 4 // 100  # a little air between the message and the rest
    rest = pygame.Rect(area.x, top, area.w, area.bottom - top)
    meters = sorted(fb.meters, key=lambda m: m.role != "target")[:2 if fb.message else 3]
    if not meters:
        c.text(quiet_hint, rest, "body", theme.DIM)
        return
    each = rest.h // max(3, len(meters))
    for i, m in enumerate(meters):
        _meter(c, pygame.Rect(rest.x, rest.y + i * each, rest.w, each), m)


def _fmt_s(s: float) -> str:
    return f"{max(0, math.ceil(s - 1e-9))} s"


# ---- screens -----------------------------------------------------------------------------


def _home(c: _Canvas, m: ScreenModel) -> None:
    h = m.home
    c.text(words.HOME_TITLE, c.box(0.05, 0.03, 0.9, 0.15), "title", align="center",
           valign="middle", max_lines=1)
    y = checkin_screens.home_offer(sys.modules[__name__], c, h.checkin)  # the start line, or the check-in's
    if h.reminder:
        c.text(h.reminder, c.box(0.05, y, 0.9, 0.085), "hint", theme.AMBER, align="center",
               valign="middle")
        y += 0.09
    c.text(words.sessions_sentence(h.sessions_today, h.sessions_week),
           c.box(0.05, y, 0.9, 0.095), "body", align="center", valign="middle")
    y += 0.10
    bottom = 0.81 if not h.therapist_message else 0.645
    if h.trend_sentences and bottom - y > 0.08:
        c.text("\n".join(h.trend_sentences[:2]), c.box(0.05, y, 0.9, bottom - y), "hint",
               theme.DIM, align="center")
    if h.therapist_message:  # ends above the notice banner (0.82)
        panel = c.box(0.04, 0.65, 0.92, 0.16)
        pygame.draw.rect(c.s, theme.PANEL, panel, border_radius=c.px(10))
        c.text(words.FROM_THERAPIST.format(message=h.therapist_message),
               panel.inflate(-c.px(20), -c.px(4)), "hint", align="center", valign="middle")


def _columns(c: _Canvas) -> tuple[pygame.Rect, float]:
    """The guide area on the left; returns it and the x fraction where the text column starts."""
    return c.box(0.02, 0.12, 0.43, 0.7), 0.48


def _top_line(c: _Canvas, left: str, right: str) -> None:
    c.text(left, c.box(0.03, 0.01, 0.6, 0.1), "small", theme.DIM, valign="middle", max_lines=1)
    c.text(right, c.box(0.64, 0.01, 0.33, 0.1), "small", theme.DIM, align="right",
           valign="middle", max_lines=1)


def _settle(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    area, x = _columns(c)
    _guide(c, area, guide_size("settle", 0.0, m.t))
    _top_line(c, words.SETTLE_TITLE, "")
    c.text(words.SETTLE_TEXT, c.box(x, 0.13, 0.97 - x, 0.34), "head")
    status = m.feedback.message
    if v is not None and v.waiting_for_calibration and not status:
        status = words.SETTLE_WAITING
    if status and status.strip().lower() != words.SETTLE_TEXT.lower():
        c.text(status, c.box(x, 0.5, 0.97 - x, 0.2), "hint", theme.DIM)
    if v is not None and not v.waiting_for_calibration:  # waiting has no end time to count to
        c.text(words.seconds(v.phase_remaining_s), c.box(x, 0.72, 0.97 - x, 0.1), "small",
               theme.DIM)


def _intro(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    p = v.pattern if v else None
    n = (v.pattern_index or 0) + 1 if v else 1
    _top_line(c, words.exercise_of(n, v.pattern_count if v else 1), "")
    face, side = c.box(0.03, 0.12, 0.41, 0.6), m.side()
    _face(c, face, p, side)
    _side_labels(c, c.box(0.03, 0.72, 0.2, 0.09), c.box(0.24, 0.72, 0.2, 0.09), side)
    if p is None:
        return
    x = 0.48
    c.text(p.name, c.box(x, 0.12, 0.97 - x, 0.15), "head", max_lines=2)
    c.text(p.intro, c.box(x, 0.28, 0.97 - x, 0.22), "body")
    c.text(p.touch_hint, c.box(x, 0.51, 0.97 - x, 0.15), "hint", theme.TEAL)
    c.text(words.intro_continue(v.phase_remaining_s if v else 0.0), c.box(x, 0.67, 0.97 - x, 0.15),
           "small", theme.DIM)


def _rep(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    assert v is not None
    phase = v.state.value
    area, x = _columns(c)
    circle = _guide(c, area, guide_size(phase, v.phase_fraction, m.t), inner=0.74)
    p = v.pattern
    side = m.side()
    _face(c, circle.inflate(-circle.w * 30 // 100, -circle.h * 30 // 100), p, side, m.feedback)
    _side_labels(c, c.box(0.02, 0.11, 0.12, 0.08), c.box(0.33, 0.11, 0.12, 0.08), side)
    moves = words.movement_of((v.rep or 0) + 1, v.reps) if v.reps else ""
    _top_line(c, p.name if p else "", moves)
    heading = words.PHASE_WORDS.get(phase, phase)
    c.text(heading, c.box(x, 0.12, 0.83 - x, 0.14), "title", valign="middle", max_lines=1)
    c.text(_fmt_s(v.phase_remaining_s), c.box(0.84, 0.12, 0.13, 0.14), "head", theme.DIM,
           align="right", valign="middle", max_lines=1)
    if p is not None and p.text(phase).strip(" .").lower() != heading.lower():
        c.text(p.text(phase), c.box(x, 0.27, 0.97 - x, 0.17), "body")
    _meters(c, c.box(x, 0.44, 0.97 - x, 0.38), m.feedback, p.quiet_hint if p else "")
    _hold_hint(c, m, area)


def _hold_hint(c: _Canvas, m: ScreenModel, area: pygame.Rect | None = None) -> None:
    """While the button is held: a thick ring filling towards the long press.

    It goes round the pacing guide (``area``: the guide's column), or low in the middle on
    screens without one, so it never covers the title, the instructions or the meters."""
    if m.hold_fraction <= 0.0:
        return
    if area is None:
        area = c.box(0.36, 0.67, 0.28, 0.15)
    thick = max(4, min(c.px(16), min(area.w, area.h) // 7))
    r = max(thick + 4, min(area.w, area.h) // 2 - thick // 2)
    centre = area.center
    pygame.draw.circle(c.s, theme.TRACK, centre, r, thick)
    rect = pygame.Rect(0, 0, 2 * r, 2 * r)
    rect.center = centre
    end = math.pi / 2
    start = end - 2 * math.pi * min(1.0, m.hold_fraction)
    for dr in range(0, thick, max(1, thick // 6)):  # a solid thick arc (pygame arcs leave gaps)
        pygame.draw.arc(c.s, theme.TEAL, rect.inflate(-2 * dr, -2 * dr), start, end, max(2, thick // 5))


def _break(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    area, x = c.box(0.02, 0.13, 0.32, 0.62), 0.37  # a smaller guide: the break has more to say
    _guide(c, area, guide_size("break", 0.0, m.t), theme.SAGE)
    _top_line(c, words.BREAK_ASKED if v and v.break_requested else words.BREAK_DUE,
              words.seconds_left(v.phase_remaining_s) if v is not None else "")
    c.text(words.BREAK_TITLE, c.box(x, 0.12, 0.97 - x, 0.14), "title", valign="middle",
           max_lines=1)
    note = m.feedback.release_note  # the face stayed tight in the last movements
    if note:  # the note first, then the prompt; the end-of-break hint always shows
        c.text(note, c.box(x, 0.27, 0.97 - x, 0.22), "hint")
    c.text(m.release_prompt, c.box(x, 0.5 if note else 0.28, 0.97 - x, 0.175 if note else 0.3),
           "body")
    c.text(words.BREAK_END_HINT, c.box(x, 0.68 if note else 0.62, 0.97 - x, 0.14), "hint",
           theme.TEAL)
    _hold_hint(c, m, area)


def _paused(c: _Canvas, m: ScreenModel) -> None:
    c.text(words.PAUSED_TITLE, c.box(0.05, 0.12, 0.9, 0.2), "title", align="center",
           valign="middle")
    c.text(words.PAUSED_GO_ON, c.box(0.05, 0.36, 0.9, 0.14), "head", theme.TEAL, align="center",
           valign="middle")
    c.text(words.PAUSED_BREAK_HINT, c.box(0.05, 0.54, 0.9, 0.14), "hint", theme.DIM,
           align="center", valign="middle")
    _hold_hint(c, m)


def _summary(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    done = v.counters.reps_done if v else 0
    c.text(words.SUMMARY_TITLE, c.box(0.05, 0.03, 0.9, 0.14), "title", align="center",
           valign="middle", max_lines=1)
    c.text(words.movements_done(done), c.box(0.05, 0.17, 0.9, 0.1), "body", align="center",
           valign="middle")
    sentences = [r.sentence for r in m.results if r.sentence][:3]
    if sentences:
        c.text("\n".join(sentences), c.box(0.04, 0.28, 0.92, 0.43), "result", align="center",
               valign="middle")
    c.text(words.SUMMARY_FINISH, c.box(0.05, 0.72, 0.9, 0.1), "head", theme.TEAL,
           align="center", valign="middle")


def _info(c: _Canvas, m: ScreenModel) -> None:
    i = m.info or ClinicianInfo()
    c.text("Unit information", c.box(0.03, 0.01, 0.94, 0.1), "head", valign="middle")
    rows = [
        ("Unit", i.unit_id or "unknown"),
        ("Clinic key", i.clinic_key_id or "unknown"),
        ("Version", i.version or "unknown"),
        ("Face model", i.model_sha256[:16] + "..." if i.model_sha256 else "not installed"),
        ("Camera", i.camera or "unknown"),
        *i.extra,
        ("Plan", i.prescription or "standard plan"),
        ("Free storage", i.free_storage or "unknown"),
        ("Last export", i.last_export or "never"),
    ][:10]
    top, bottom = 0.115, 0.87
    tall = {"Plan"}  # the plan may need two lines
    each = (bottom - top) / max(8, len(rows) + len(tall))
    y = top
    for label, value in rows:
        h = each * (2 if label in tall else 1)
        c.text(label, c.box(0.03, y, 0.24, h * 0.96), "small", theme.DIM, valign="middle",
               max_lines=1)
        c.text(value, c.box(0.28, y, 0.69, h * 0.96), "small", valign="middle")
        y += h
    c.text(words.INFO_CLOSE, c.box(0.03, 0.875, 0.94, 0.1), "small", theme.TEAL,
           align="center", valign="middle")


def _returned(c: _Canvas, m: ScreenModel) -> None:
    c.text(words.RETURN_TITLE, c.box(0.06, 0.16, 0.88, 0.4), "title", align="center",
           valign="middle")
    c.text(words.RETURN_THANKS, c.box(0.06, 0.6, 0.88, 0.14), "body", theme.DIM,
           align="center", valign="middle")


SCREENS: dict[str, Callable[[_Canvas, ScreenModel], None]] = {
    "home": _home,
    "settle": _settle,
    "intro": _intro,
    "move": _rep,
    "hold": _rep,
    "release": _rep,
    "rest": _rep,
    "break": _break,
    "paused": _paused,
    "summary": _summary,
    "info": _info,
    "returned": _returned,
}

#: screens with the session progress bar along the bottom
_WITH_PROGRESS = {"settle", "intro", "move", "hold", "release", "rest", "break", "paused"}


def render(surface: pygame.Surface, model: ScreenModel) -> list[TextBlock]:
    """Draw ``model`` on ``surface``; returns every text drawn (rect and the box it had)."""
    c = _Canvas(surface)
    surface.fill(theme.BG)
    if model.screen == "checkin":
        checkin_screens.draw_checkin(sys.modules[__name__], c, model)
    else:
        SCREENS.get(model.screen, _home)(c, model)
    if model.screen in _WITH_PROGRESS and model.view is not None:
        _progress(c, model.view.session_fraction)
    if model.screen != "returned":
        _banner(c, model.notices)
    return c.blocks


# ---- sample data and ``station screens`` ---------------------------------------------------


def sample_models() -> dict[str, ScreenModel]:
    """Every screen with representative data, from a real engine walked with a fake clock."""
    from station.practice.events import Event, Timing
    from station.practice.plan import default_plan, library, release_prompts
    from station.practice.session import Engine

    eng = Engine(default_plan(), Timing())
    views: dict[str, View] = {}
    eng.handle(Event.SHORT_PRESS, 0.0)
    t = 0.0
    want = {"settle": 3.0, "intro": 1.0, "move": 2.2, "hold": 1.0, "release": 2.0, "rest": 0.5,
            "break": 6.0}
    while eng.state is not State.SUMMARY:
        st = eng.state.value
        if st in want and st not in views:
            views[st] = eng.view(t + want[st])
        t += 0.25
        eng.tick(t)
    views["summary"] = eng.view(t)
    eng2 = Engine(default_plan(), Timing())
    eng2.handle(Event.SHORT_PRESS, 0.0)
    t2 = 0.0
    while eng2.state is not State.HOLD:
        t2 += 0.25
        eng2.tick(t2)
    eng2.handle(Event.SHORT_PRESS, t2 + 1.0)
    views["paused"] = eng2.view(t2 + 5.0)
    eng2.handle(Event.LONG_PRESS, t2 + 6.0)
    views["break_requested"] = eng2.view(t2 + 9.0)

    home = HomeInfo(
        sessions_today=2, sessions_week=9,
        trend_sentences=(words.TREND_QUIET_IN.format(quiet="eye", q=4, n=5, many="smiles"),),
        therapist_message="Slow and small is right. See you on the 14th.",  # not patient words: the clinic's
        reminder=words.REMINDER_PROMPT,
    )
    # the sample session's first exercise is the gentle eye closure: eye target, mouth quiet
    tracking = LiveFeedback(TrackingStatus.TRACKING, (
        RegionMeter("eye", "target", 0.55, 2.4, gentle_from=0.3, gentle_to=0.8),
        RegionMeter("mouth_corner", "quiet", 0.12, 0.1),
        RegionMeter("lips", "quiet", 0.08, 0.05),
    ), "", True)
    warning = LiveFeedback(TrackingStatus.TRACKING, (
        RegionMeter("eye", "target", 0.8, 5.1, gentle_from=0.3, gentle_to=0.8, past_gentle=True,
                    hint=words.HINT_SMALLER),
        RegionMeter("mouth_corner", "quiet", 0.62, 0.9, warning=True),
        RegionMeter("lips", "quiet", 0.2, 0.2),
    ), "", True)
    lost = LiveFeedback(TrackingStatus.NO_FACE, (), words.FACE_NOT_IN_VIEW)
    prompts = release_prompts()
    results = (
        # not patient words: sample of words.pattern_result
        PatternResult(0, "Your mouth stayed soft in 2 of 3 eye closures. Nice and slow, nice and small.",
                      2, 3),
        # not patient words: sample of words.pattern_result
        PatternResult(1, "Your eye stayed soft in 3 of 3 smiles.", 3, 3),
    )
    info = ClinicianInfo(
        unit_id="station-0042", clinic_key_id="3f9a0c2d41b7e856", version="0.1.0",
        model_sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
        camera="Pi camera, working", free_storage="27.4 GB free of 29.1 GB",
        prescription="Gentle eye closure x3, Small closed-lip smile x3; 2 min, 3 a day; 2 reminders",
        last_export="never", extra=(("Affected side", "left (default, no prescription)"),),
    )
    cam = Notice(words.CAMERA_MISSING, "attention", "camera")
    disk = Notice(words.STORAGE_FULL, "attention", "storage")
    model_missing = Notice(words.MODEL_MISSING, "attention", "model")
    stuck = Notice(words.BUTTON_STUCK, "attention", "button")
    plan_notice = Notice(words.HOME_DEFAULT_PLAN, "info", "prescription")
    calib = LiveFeedback(TrackingStatus.CALIBRATING, (), words.KEEP_STILL)
    samples = {
        "01_home": ScreenModel("home", home=home),
        "02_home_first_day": ScreenModel("home"),
        "03_home_model_missing": ScreenModel("home", home=home, notices=(model_missing,)),
        "04_settle": ScreenModel("settle", views["settle"], calib, t=2.0),
        "05_intro": ScreenModel("intro", views["intro"]),
        "06_move": ScreenModel("move", views["move"], tracking),
        "07_hold": ScreenModel("hold", views["hold"], tracking, hold_fraction=0.4),
        "07b_intro_right_side": ScreenModel("intro", views["intro"], affected_side=Side.RIGHT),
        "08_hold_quiet_warning": ScreenModel("hold", views["hold"], warning),
        "09_release": ScreenModel("release", views["release"]),
        "10_rest_face_lost": ScreenModel("rest", views["rest"], lost),
        "10b_hold_turned": ScreenModel("hold", views["hold"],
                                       LiveFeedback(TrackingStatus.TURNED, (), words.TURN_BACK)),
        "11_move_camera_missing": ScreenModel("move", views["move"],
                                              LiveFeedback(TrackingStatus.NO_CAMERA), notices=(cam,)),
        "12_break": ScreenModel("break", views["break"], release_prompt=prompts[0], t=3.0),
        "12b_break_release_note": ScreenModel(
            "break", views["break"], LiveFeedback(TrackingStatus.TRACKING,
                                                  release_note=words.release_note(library()["small_smile"])),
            release_prompt=prompts[2], t=4.0),
        "13_break_requested": ScreenModel("break", views["break_requested"],
                                          release_prompt=prompts[1], t=5.0),
        "13b_break_held": ScreenModel("break", views["break_requested"], release_prompt=prompts[1],
                                      t=5.0, hold_fraction=0.6),
        "14_paused": ScreenModel("paused", views["paused"]),
        "14b_paused_held": ScreenModel("paused", views["paused"], hold_fraction=0.5),
        "15_summary": ScreenModel("summary", views["summary"], results=results),
        "16_summary_storage_full": ScreenModel("summary", views["summary"], notices=(disk,)),
        "17_info": ScreenModel("info", info=info),
        "18_returned": ScreenModel("returned"),
        "19_home_button_stuck": ScreenModel("home", home=home, notices=(stuck,)),
        "20_home_default_plan": ScreenModel("home", notices=(plan_notice,)),
        **_checkin_samples(home),
    }
    # a patient whose left side is affected, but where a sample says otherwise
    return {k: m if m.affected_side else replace(m, affected_side=Side.LEFT) for k, m in samples.items()}


def _checkin_samples(home: HomeInfo) -> dict[str, ScreenModel]:
    return checkin_screens.sample_models(home)


def render_all(out: Path, size: tuple[int, int]) -> list[Path]:
    """Render every sample screen at ``size`` into ``out`` as PNG, and ``out/texts.json``.

    ``texts.json`` is a list with one object per text drawn: screen, size, text, role,
    line_height_px, font_px, the rectangle and whether it fitted; the size tests read it.
    Returns the PNG files.
    """
    pygame.font.init()
    out.mkdir(parents=True, exist_ok=True)
    surface = pygame.Surface(size)
    files = []
    texts = []
    label = f"{size[0]}x{size[1]}"
    for name, model in sample_models().items():
        blocks = render(surface, model)
        path = out / f"{name}_{label}.png"
        pygame.image.save(surface, str(path))
        files.append(path)
        texts += [{"screen": name, "size": label, "text": b.text, "role": b.role,
                   "line_height_px": b.line_height_px, "font_px": b.font_px,
                   "rect": [b.rect.x, b.rect.y, b.rect.w, b.rect.h],
                   "box": [b.box.x, b.box.y, b.box.w, b.box.h], "truncated": b.truncated}
                  for b in blocks]
    (out / "texts.json").write_text(json.dumps(texts, indent=1) + "\n", encoding="utf-8")
    return files
