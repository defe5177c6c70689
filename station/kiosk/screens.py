"""Every kiosk screen as a pure function of a :class:`~station.kiosk.view.ScreenModel`.

``render(surface, model)`` clears the surface, draws the screen and returns a
:class:`~station.kiosk.view.TextBlock` for every text it drew, so tests can check that no
text leaves the surface and that the main blocks do not overlap. Layout boxes are fractions
of the surface and type sizes scale with it, so the 800x480 design works at any size.

The kiosk is not a mirror: no camera frame is ever drawn. The pacing guide is a soft circle
that grows during *move*, stays during *hold*, shrinks during *release* and rests small.

``station screens --out DIR [--size WxH]`` renders every screen with sample data to PNG.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import pygame

from station.feedback import HomeInfo, LiveFeedback, Notice, PatternResult, RegionMeter, TrackingStatus
from station.kiosk import theme
from station.kiosk.text import draw_text
from station.kiosk.view import ClinicianInfo, ScreenModel, TextBlock
from station.practice import words
from station.practice.events import State, View

log = logging.getLogger(__name__)

Color = tuple[int, int, int]


class _Canvas:
    """A surface plus its scale and the list of texts drawn on it."""

    def __init__(self, surface: pygame.Surface) -> None:
        self.s = surface
        self.w, self.h = surface.get_size()
        self.u = min(self.w / theme.DESIGN_SIZE[0], self.h / theme.DESIGN_SIZE[1])
        self.blocks: list[TextBlock] = []

    def box(self, x: float, y: float, w: float, h: float) -> pygame.Rect:
        """A rectangle from fractions of the surface."""
        w_, h_ = self.w, self.h
        return pygame.Rect(round(x * w_), round(y * h_), round(w * w_), round(h * h_))

    def px(self, design_px: float) -> int:
        return max(1, round(design_px * self.u))

    def text(self, text: str, box: pygame.Rect, size: float, color: Color = theme.TEXT,
             align: str = "left", valign: str = "top", max_lines: int = 0) -> None:
        rect = draw_text(self.s, text, box, self.px(size), color, align, valign,
                         min_size=max(theme.MIN_TEXT, self.px(theme.MIN_TEXT)),
                         max_lines=max_lines)
        if rect is not None:
            self.blocks.append(TextBlock(text, rect, box.copy()))


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


def _guide(c: _Canvas, area: pygame.Rect, size: float, color: Color = theme.TEAL) -> None:
    """The soft pacing circle: a faint full-size ring and a filled disc of the current size."""
    r_max = max(4, min(area.w, area.h) // 2 - c.px(6))
    r_min = max(3, r_max // 4)
    r = round(r_min + (r_max - r_min) * size)
    centre = area.center
    pygame.draw.circle(c.s, theme.PANEL, centre, r_max)
    pygame.draw.circle(c.s, theme.TEAL_SOFT, centre, r_max, max(1, c.px(3)))
    # soft edge: a few rings fading into the panel
    for i, k in enumerate((0.35, 0.6, 1.0)):
        col = tuple(round(theme.PANEL[j] + (color[j] - theme.PANEL[j]) * k) for j in range(3))
        pygame.draw.circle(c.s, col, centre, max(2, r - i * c.px(4)))


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
    area = c.box(0.03, 0.855, 0.94, 0.105)
    attention = notice.level == "attention"
    pygame.draw.rect(c.s, theme.AMBER_BG if attention else theme.PANEL, area,
                     border_radius=c.px(10))
    pygame.draw.rect(c.s, theme.AMBER if attention else theme.TEAL_SOFT, area, max(1, c.px(2)),
                     border_radius=c.px(10))
    inner = area.inflate(-c.px(24), -c.px(8))
    c.text(notice.text, inner, theme.SMALL, theme.AMBER if attention else theme.TEXT,
           align="center", valign="middle")


def _meter(c: _Canvas, area: pygame.Rect, m: RegionMeter) -> None:
    """One meter: a label line and a bar. Target: teal; quiet: sage, soft amber on warning."""
    name = words.REGION_NAMES.get(m.region, m.region)
    if m.role == "target":
        label, color = f"{name}: {m.hint or words.TARGET_LABEL}", theme.TEAL
    else:
        label = f"{name}: let it soften" if m.warning else f"{name}: stays quiet"
        color = theme.AMBER if m.warning else theme.SAGE
    label_box = pygame.Rect(area.x, area.y, area.w, area.h * 55 // 100)
    c.text(label, label_box, theme.SMALL, theme.AMBER if m.warning else theme.DIM,
           valign="bottom")
    bar = pygame.Rect(area.x, area.y + area.h * 62 // 100, area.w, max(4, area.h * 28 // 100))
    pygame.draw.rect(c.s, theme.TRACK, bar, border_radius=bar.h // 2)
    if m.gentle_to > m.gentle_from:  # the gentle zone, marked; the bar never fills past it
        zone = pygame.Rect(bar.x + round(bar.w * m.gentle_from), bar.y,
                           max(1, round(bar.w * (m.gentle_to - m.gentle_from))), bar.h)
        pygame.draw.rect(c.s, theme.TEAL_SOFT, zone, max(1, c.px(2)), border_radius=bar.h // 2)
    fill = bar.copy()
    fill.w = round(bar.w * min(1.0, max(0.0, m.level)))
    if fill.w > 0:
        pygame.draw.rect(c.s, color, fill, border_radius=bar.h // 2)


def _meters(c: _Canvas, area: pygame.Rect, fb: LiveFeedback, quiet_hint: str) -> None:
    """The status line and the region meters; without meters, the quiet hint in words."""
    top = area.y
    if fb.message:
        line = pygame.Rect(area.x, top, area.w, area.h * 18 // 100)
        c.text(fb.message, line, theme.SMALL, theme.AMBER, valign="middle")
        top = line.bottom + area.h * 4 // 100  # a little air between the message and the rest
    rest = pygame.Rect(area.x, top, area.w, area.bottom - top)
    meters = sorted(fb.meters, key=lambda m: m.role != "target")[:4]
    if not meters:
        c.text(quiet_hint, rest, theme.BODY, theme.DIM)
        return
    each = rest.h // max(3, len(meters))
    for i, m in enumerate(meters):
        _meter(c, pygame.Rect(rest.x, rest.y + i * each, rest.w, each), m)


def _seconds(s: float) -> str:
    n = max(0, math.ceil(s - 1e-9))
    return "1 second" if n == 1 else f"{n} seconds"


def _fmt_s(s: float) -> str:
    return f"{max(0, math.ceil(s - 1e-9))} s"


# ---- screens -----------------------------------------------------------------------------


def _home(c: _Canvas, m: ScreenModel) -> None:
    h = m.home
    c.text("Ready to practise", c.box(0.06, 0.06, 0.88, 0.15), theme.TITLE, align="center",
           valign="middle")
    c.text("Press the button to start.", c.box(0.06, 0.22, 0.88, 0.1), theme.HEAD, theme.TEAL,
           align="center", valign="middle")
    if h.reminder:
        c.text(h.reminder, c.box(0.06, 0.33, 0.88, 0.08), theme.SMALL, theme.AMBER,
               align="center", valign="middle")
    c.text(_progress_sentence(h), c.box(0.06, 0.43, 0.88, 0.08), theme.BODY,
           align="center", valign="middle")
    if h.trend_sentences:
        c.text("\n".join(h.trend_sentences[:3]), c.box(0.08, 0.52, 0.84, 0.15), theme.SMALL,
               theme.DIM, align="center")
    if h.therapist_message:
        panel = c.box(0.06, 0.685, 0.88, 0.155)
        pygame.draw.rect(c.s, theme.PANEL, panel, border_radius=c.px(10))
        c.text(f"From your therapist: {h.therapist_message}", panel.inflate(-c.px(24), -c.px(10)),
               theme.SMALL, align="center", valign="middle")


def _progress_sentence(h: HomeInfo) -> str:
    """Sessions today and this week, in words."""
    if h.sessions_week <= 0 and h.sessions_today <= 0:
        return "No practice yet this week. Two minutes is enough."

    def n(k: int) -> str:
        return "1 session" if k == 1 else f"{k} sessions"

    return f"Today: {n(h.sessions_today)}. This week: {n(h.sessions_week)}."


def _columns(c: _Canvas) -> tuple[pygame.Rect, float]:
    """The guide area on the left; returns it and the x fraction where the text column starts."""
    return c.box(0.03, 0.12, 0.42, 0.72), 0.49


def _top_line(c: _Canvas, left: str, right: str) -> None:
    c.text(left, c.box(0.03, 0.015, 0.62, 0.085), theme.SMALL, theme.DIM, valign="middle")
    c.text(right, c.box(0.66, 0.015, 0.31, 0.085), theme.SMALL, theme.DIM, align="right",
           valign="middle")


def _settle(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    area, x = _columns(c)
    _guide(c, area, guide_size("settle", 0.0, m.t))
    _top_line(c, "Getting ready", "")
    c.text("Relax your face and look at the screen.", c.box(x, 0.14, 0.97 - x, 0.32), theme.HEAD)
    status = m.feedback.message
    if v is not None and v.waiting_for_calibration and not status:
        status = "Still getting ready. Keep your face relaxed."
    if status:
        c.text(status, c.box(x, 0.5, 0.97 - x, 0.16), theme.SMALL, theme.DIM)
    if v is not None:
        c.text(_seconds(v.phase_remaining_s), c.box(x, 0.7, 0.97 - x, 0.1), theme.SMALL,
               theme.DIM)


def _intro(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    p = v.pattern if v else None
    area, x = _columns(c)
    _guide(c, area, 0.0)
    n = (v.pattern_index or 0) + 1 if v else 1
    _top_line(c, f"Pattern {n} of {v.pattern_count if v else 1}",
              _fmt_s(v.phase_remaining_s) if v else "")
    if p is None:
        return
    c.text(p.name, c.box(x, 0.12, 0.97 - x, 0.16), theme.HEAD)
    c.text(p.intro, c.box(x, 0.29, 0.97 - x, 0.2), theme.BODY)
    c.text(p.touch_hint, c.box(x, 0.5, 0.97 - x, 0.16), theme.SMALL, theme.TEAL)
    c.text(p.quiet_hint, c.box(x, 0.67, 0.97 - x, 0.16), theme.SMALL, theme.DIM)


def _rep(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    assert v is not None
    phase = v.state.value
    area, x = _columns(c)
    _guide(c, area, guide_size(phase, v.phase_fraction, m.t))
    p = v.pattern
    reps = f"Rep {(v.rep or 0) + 1} of {v.reps}" if v.reps else ""
    _top_line(c, p.name if p else "", reps)
    c.text(words.PHASE_WORDS.get(phase, phase), c.box(x, 0.12, 0.82 - x, 0.13), theme.TITLE,
           valign="middle", max_lines=1)
    c.text(_fmt_s(v.phase_remaining_s), c.box(0.83, 0.12, 0.14, 0.13), theme.HEAD, theme.DIM,
           align="right", valign="middle", max_lines=1)
    heading = words.PHASE_WORDS.get(phase, phase)
    if p is not None and p.text(phase).strip(" .").lower() != heading.lower():
        c.text(p.text(phase), c.box(x, 0.26, 0.97 - x, 0.14), theme.BODY)
    _meters(c, c.box(x, 0.42, 0.97 - x, 0.42), m.feedback, p.quiet_hint if p else "")
    _hold_hint(c, m)


def _hold_hint(c: _Canvas, m: ScreenModel) -> None:
    """While the button is held: a small ring filling towards the long press."""
    if m.hold_fraction <= 0.0:
        return
    r = c.px(14)
    centre = (c.px(8) + r, c.h - c.px(40) - r)
    pygame.draw.circle(c.s, theme.TRACK, centre, r, max(1, c.px(4)))
    rect = pygame.Rect(0, 0, 2 * r, 2 * r)
    rect.center = centre
    end = math.pi / 2
    start = end - 2 * math.pi * min(1.0, m.hold_fraction)
    pygame.draw.arc(c.s, theme.TEAL, rect, start, end, max(1, c.px(4)))


def _break(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    area, x = _columns(c)
    _guide(c, area, guide_size("break", 0.0, m.t), theme.SAGE)
    _top_line(c, "You asked for a break" if v and v.break_requested else "Time to release", "")
    c.text("Release break", c.box(x, 0.12, 0.97 - x, 0.14), theme.TITLE, valign="middle",
           max_lines=1)
    prompt = f"{m.feedback.release_note} {m.release_prompt}".strip()
    c.text(prompt, c.box(x, 0.28, 0.97 - x, 0.26), theme.BODY)
    if v is not None:
        c.text(f"{_seconds(v.phase_remaining_s)} left", c.box(x, 0.56, 0.97 - x, 0.1),
               theme.SMALL, theme.DIM)
    c.text("Hold the button to end the break.", c.box(x, 0.68, 0.97 - x, 0.14), theme.SMALL,
           theme.TEAL)
    _hold_hint(c, m)


def _paused(c: _Canvas, m: ScreenModel) -> None:
    c.text("Paused.", c.box(0.06, 0.14, 0.88, 0.2), theme.TITLE, align="center", valign="middle")
    c.text("Press the button to go on.", c.box(0.06, 0.38, 0.88, 0.14), theme.HEAD, theme.TEAL,
           align="center", valign="middle")
    c.text("Hold the button to take a release break.", c.box(0.06, 0.56, 0.88, 0.1), theme.SMALL,
           theme.DIM, align="center", valign="middle")
    _hold_hint(c, m)


def _summary(c: _Canvas, m: ScreenModel) -> None:
    v = m.view
    done = v.counters.reps_done if v else 0
    c.text("Well done.", c.box(0.06, 0.05, 0.88, 0.15), theme.TITLE, align="center",
           valign="middle")
    moves = "1 slow movement" if done == 1 else f"{done} slow movements"
    c.text(f"You did {moves}.", c.box(0.06, 0.21, 0.88, 0.1), theme.BODY, align="center",
           valign="middle")
    sentences = [r.sentence for r in m.results if r.sentence][:4]
    if sentences:
        c.text("\n".join(sentences), c.box(0.08, 0.33, 0.84, 0.36), theme.SMALL, theme.DIM,
               align="center")
    c.text("Press the button to finish.", c.box(0.06, 0.71, 0.88, 0.12), theme.HEAD, theme.TEAL,
           align="center", valign="middle")


def _info(c: _Canvas, m: ScreenModel) -> None:
    i = m.info or ClinicianInfo()
    c.text("Unit information", c.box(0.04, 0.03, 0.92, 0.1), theme.HEAD, valign="middle")
    rows = [
        ("Unit", i.unit_id or "unknown"),
        ("Version", i.version or "unknown"),
        ("Face model", i.model_sha256[:16] + "..." if i.model_sha256 else "not installed"),
        ("Camera", i.camera or "unknown"),
        ("Free storage", i.free_storage or "unknown"),
        ("Prescription", i.prescription or "default plan"),
        ("Last export", i.last_export or "never"),
        *i.extra,
    ][:9]
    top, bottom = 0.15, 0.84
    each = (bottom - top) / max(7, len(rows))
    for n, (label, value) in enumerate(rows):
        y = top + n * each
        c.text(label, c.box(0.04, y, 0.26, each * 0.95), theme.SMALL, theme.DIM, valign="middle")
        c.text(value, c.box(0.31, y, 0.65, each * 0.95), theme.SMALL, valign="middle")
    c.text("Press the button to close.", c.box(0.04, 0.86, 0.92, 0.1), theme.SMALL, theme.TEAL,
           align="center", valign="middle")


def _returned(c: _Canvas, m: ScreenModel) -> None:
    c.text("Please return this unit to the clinic.", c.box(0.08, 0.2, 0.84, 0.34), theme.TITLE,
           align="center", valign="middle")
    c.text("Thank you for practising.", c.box(0.08, 0.6, 0.84, 0.12), theme.BODY, theme.DIM,
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
    from station.practice.plan import default_plan, release_prompts
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
        trend_sentences=("Your eye stayed quieter this week than last week.",
                         "Your smiles are a little smoother."),
        therapist_message="Slow and small is right. See you on the 14th.",
        reminder="It is time for your afternoon practice.",
    )
    tracking = LiveFeedback(TrackingStatus.TRACKING, (
        RegionMeter("mouth_corner", "target", 0.55, 1.2),
        RegionMeter("eye", "quiet", 0.12, 0.1),
        RegionMeter("brow", "quiet", 0.08, 0.05),
    ), "", True)
    warning = LiveFeedback(TrackingStatus.TRACKING, (
        RegionMeter("eye", "target", 0.7, 2.1),
        RegionMeter("mouth_corner", "quiet", 0.62, 0.9, warning=True),
        RegionMeter("lips", "quiet", 0.2, 0.2),
    ), "", True)
    lost = LiveFeedback(TrackingStatus.NO_FACE, (), "I can't see your face. Keep going by the guide.")
    prompts = release_prompts()
    results = (
        PatternResult(0, "Your mouth stayed quiet in 2 of 3 eye closures.", 2, 3),
        PatternResult(1, "Your eye stayed quiet in all 3 smiles.", 3, 3),
    )
    info = ClinicianInfo(
        unit_id="station-0042", version="0.1.0",
        model_sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
        camera="Pi camera, 640x480 at 30 fps", free_storage="27.4 GB free of 29.1 GB",
        prescription="Gentle eye closure x3, Small closed-lip smile x3 (default plan)",
        last_export="never",
    )
    cam = Notice(words.CAMERA_MISSING, "attention", "camera")
    disk = Notice(words.STORAGE_FULL, "attention", "storage")
    model_missing = Notice(words.MODEL_MISSING, "attention", "model")
    stuck = Notice(words.BUTTON_STUCK, "attention", "button")
    calib = LiveFeedback(TrackingStatus.CALIBRATING, (), "Hold still for a moment while I learn your face.")
    return {
        "01_home": ScreenModel("home", home=home),
        "02_home_first_day": ScreenModel("home"),
        "03_home_model_missing": ScreenModel("home", home=home, notices=(model_missing,)),
        "04_settle": ScreenModel("settle", views["settle"], calib, t=2.0),
        "05_intro": ScreenModel("intro", views["intro"]),
        "06_move": ScreenModel("move", views["move"], tracking),
        "07_hold": ScreenModel("hold", views["hold"], tracking, hold_fraction=0.4),
        "08_hold_quiet_warning": ScreenModel("hold", views["hold"], warning),
        "09_release": ScreenModel("release", views["release"]),
        "10_rest_face_lost": ScreenModel("rest", views["rest"], lost),
        "11_move_camera_missing": ScreenModel("move", views["move"],
                                              LiveFeedback(TrackingStatus.NO_CAMERA), notices=(cam,)),
        "12_break": ScreenModel("break", views["break"], release_prompt=prompts[0], t=3.0),
        "13_break_requested": ScreenModel("break", views["break_requested"],
                                          release_prompt=prompts[1], t=5.0),
        "14_paused": ScreenModel("paused", views["paused"]),
        "15_summary": ScreenModel("summary", views["summary"], results=results),
        "16_summary_storage_full": ScreenModel("summary", views["summary"], notices=(disk,)),
        "17_info": ScreenModel("info", info=info),
        "18_returned": ScreenModel("returned"),
        "19_home_button_stuck": ScreenModel("home", home=home, notices=(stuck,)),
    }


def render_all(out: Path, size: tuple[int, int]) -> list[Path]:
    """Render every sample screen at ``size`` into ``out`` as PNG; returns the files."""
    pygame.font.init()
    out.mkdir(parents=True, exist_ok=True)
    surface = pygame.Surface(size)
    files = []
    for name, model in sample_models().items():
        render(surface, model)
        path = out / f"{name}_{size[0]}x{size[1]}.png"
        pygame.image.save(surface, str(path))
        files.append(path)
    return files
