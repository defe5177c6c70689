"""The weekly check-in's screens, drawn with the practice's own pieces (guide, face, words).

:func:`draw_checkin` draws one frame of a check-in from ``ScreenModel.checkin`` (a
:class:`station.kiosk.checkin_run.CheckinScreen`), in the practice's style
(:mod:`station.kiosk.screens`): the soft pacing circle that grows in *move*, stays in *hold*
and shrinks in *release*, the face pictogram with the moving region lit on *both* sides (a
check-in asks for the full movement of the whole face, so no side is singled out), a calm
heading and the seconds left. What differs is said in
words: this time the movement is a full one, and a try the camera could not see well is asked
for again. :func:`home_offer` draws the home screen's check-in line (due: the offer; done: a
quiet thank you). No camera frame is ever drawn; every sentence is :mod:`station.practice.words`'.

The practice's drawing pieces come in as ``k`` (the :mod:`station.kiosk.screens` module, which
calls these functions), so the imports flow one way: screens uses this module, never the reverse.
"""

from __future__ import annotations

from typing import Any

import pygame

from station.kiosk import theme
from station.kiosk.face_pictogram import draw_face
from station.kiosk.view import ScreenModel
from station.practice import words
from station.practice.checkin import Phase, Status


def _face_box(circle: pygame.Rect) -> pygame.Rect:
    """The face inside the pacing circle (as in practice)."""
    return circle.inflate(-circle.w * 30 // 100, -circle.h * 30 // 100)


_TRY = (Phase.MOVE, Phase.HOLD, Phase.RELEASE, Phase.REST, Phase.JUDGE)


def home_offer(k: Any, c: Any, state: str) -> float:
    """The home screen's check-in line(s) under the title; returns where the next line goes."""
    if state == "due":
        panel = c.box(0.04, 0.17, 0.92, 0.305)
        pygame.draw.rect(c.s, theme.PANEL, panel, border_radius=c.px(10))
        c.text(words.CHECKIN_DUE, c.box(0.07, 0.175, 0.86, 0.14), "body", align="center", valign="middle")
        c.text(words.CHECKIN_HOME_START, c.box(0.07, 0.315, 0.86, 0.08), "head", theme.TEAL,
               align="center", valign="middle", max_lines=1)
        c.text(words.CHECKIN_HOME_PRACTISE, c.box(0.07, 0.395, 0.86, 0.075), "hint", theme.DIM,
               align="center", valign="middle", max_lines=1)
        return 0.49
    c.text(words.HOME_START, c.box(0.05, 0.18, 0.9, 0.12), "head", theme.TEAL, align="center",
           valign="middle")
    if state == "done":
        c.text(words.CHECKIN_HOME_DONE, c.box(0.05, 0.30, 0.9, 0.08), "hint", theme.SAGE,
               align="center", valign="middle", max_lines=1)
        return 0.385
    return 0.30


def _fraction(ck: object) -> float:
    v = ck.view  # type: ignore[attr-defined]
    if v.movement_index is None:
        return 0.0
    done = v.movement_index + ((v.try_index or 0) / max(1, v.tries))
    return float(min(1.0, done / max(1, v.movement_count)))


def draw_checkin(k: Any, c: Any, m: ScreenModel) -> None:
    """One frame of the check-in (``m.checkin`` holds its data)."""
    ck = m.checkin
    v = ck.view
    shown = v.shown
    if v.phase is Phase.PAUSED:
        k._paused(c, m)
    elif shown in (Phase.SETTLE, Phase.NEUTRAL):
        _still(k, c, m, shown)
    elif shown is Phase.INTRO:
        _intro(k, c, m)
    elif shown in _TRY:
        _try(k, c, m, Phase.REST if shown is Phase.JUDGE else shown)
    elif shown is Phase.REPEAT:
        _repeat(k, c, m)
    elif shown is Phase.BREAK:
        _break(k, c, m)
    elif shown is Phase.SUMMARY:
        _summary(k, c, m)
    if shown not in (Phase.SUMMARY, Phase.HOME):
        k._progress(c, _fraction(ck))


def _left(v: object) -> float:
    return float(max(0.0, v.duration_s - v.elapsed_s))  # type: ignore[attr-defined]


def _still(k: Any, c: Any, m: ScreenModel, phase: Phase) -> None:
    ck, v = m.checkin, m.checkin.view
    area, x = c.box(0.02, 0.12, 0.43, 0.7), 0.48
    k._guide(c, area, k.guide_size("settle", 0.0, m.t) if phase is Phase.SETTLE else 0.0)
    k._top_line(c, words.CHECKIN_TITLE, "")
    text = words.CHECKIN_SETTLE if phase is Phase.SETTLE else words.CHECKIN_NEUTRAL
    c.text(text, c.box(x, 0.13, 0.97 - x, 0.34), "head")
    status = ck.message or (words.SETTLE_WAITING if v.waiting_for_calibration else "")
    if status and status.strip(" .").lower() != text.strip(" .").lower():  # never the same line twice
        c.text(status, c.box(x, 0.5, 0.97 - x, 0.2), "hint", theme.AMBER if not v.face_visible else theme.DIM)
    if not v.waiting_for_calibration:
        c.text(words.seconds(_left(v)), c.box(x, 0.72, 0.97 - x, 0.1), "small", theme.DIM)


def _intro(k: Any, c: Any, m: ScreenModel) -> None:
    v = m.checkin.view
    mv = v.movement
    n = (v.movement_index or 0) + 1
    k._top_line(c, words.checkin_movement_of(n, v.movement_count), "")
    draw_face(c.s, c.box(0.03, 0.14, 0.41, 0.66), mv.target if mv else None, (), m.side(), both_sides=True)
    if mv is None:
        return
    name, what = words.CHECKIN_MOVEMENTS[mv.id]
    x = 0.48
    c.text(name, c.box(x, 0.12, 0.97 - x, 0.13), "head", max_lines=1)
    c.text(what, c.box(x, 0.26, 0.97 - x, 0.2), "body")
    c.text(words.CHECKIN_FULL_SHORT, c.box(x, 0.47, 0.97 - x, 0.18), "hint", theme.TEAL)
    c.text(words.intro_continue(_left(v)), c.box(x, 0.66, 0.97 - x, 0.16), "small", theme.DIM)


def _try(k: Any, c: Any, m: ScreenModel, phase: Phase) -> None:
    ck, v = m.checkin, m.checkin.view
    mv = v.movement
    area, x = c.box(0.02, 0.12, 0.43, 0.7), 0.48
    fraction = v.elapsed_s / v.duration_s if v.duration_s > 0 else 0.0
    circle = k._guide(c, area, k.guide_size(phase.value, fraction, m.t), inner=0.74)
    if mv is not None:
        draw_face(c.s, _face_box(circle), mv.target, (), m.side(), both_sides=True)
    name, what = words.CHECKIN_MOVEMENTS[mv.id] if mv is not None else ("", "")
    k._top_line(c, name, words.checkin_try((v.try_index or 0) + 1, v.tries))
    c.text(words.CHECKIN_PHASES.get(phase.value, ""), c.box(x, 0.12, 0.83 - x, 0.14), "title",
           valign="middle", max_lines=1)
    c.text(k._fmt_s(_left(v)), c.box(0.84, 0.12, 0.13, 0.14), "head", theme.DIM, align="right",
           valign="middle", max_lines=1)
    if phase in (Phase.MOVE, Phase.HOLD):
        c.text(what, c.box(x, 0.28, 0.97 - x, 0.2), "body")
    if ck.message:  # what the camera needs comes before the reminder
        c.text(ck.message, c.box(x, 0.49, 0.97 - x, 0.25), "hint", theme.AMBER)
    elif phase in (Phase.MOVE, Phase.HOLD):
        c.text(words.CHECKIN_FULL_SHORT, c.box(x, 0.49, 0.97 - x, 0.21), "hint", theme.TEAL)
    k._hold_hint(c, m, area)


def _repeat(k: Any, c: Any, m: ScreenModel) -> None:
    ck, v = m.checkin, m.checkin.view
    mv = v.movement
    area, x = c.box(0.02, 0.12, 0.43, 0.7), 0.48
    circle = k._guide(c, area, 0.0, theme.SAGE, inner=0.74)
    if mv is not None:
        draw_face(c.s, _face_box(circle), mv.target, (), m.side(), both_sides=True)
    name = words.CHECKIN_MOVEMENTS[mv.id][0] if mv is not None else ""
    k._top_line(c, name, words.checkin_try((v.try_index or 0) + 1, v.tries))
    c.text(words.checkin_repeat(ck.repeat_reason), c.box(x, 0.13, 0.97 - x, 0.45), "head")
    c.text(words.seconds(_left(v)), c.box(x, 0.62, 0.97 - x, 0.1), "small", theme.DIM)


def _break(k: Any, c: Any, m: ScreenModel) -> None:
    v = m.checkin.view
    area, x = c.box(0.02, 0.13, 0.32, 0.62), 0.37
    k._guide(c, area, k.guide_size("break", 0.0, m.t), theme.SAGE)
    k._top_line(c, words.CHECKIN_TITLE, words.seconds_left(_left(v)))
    c.text(words.BREAK_TITLE, c.box(x, 0.12, 0.97 - x, 0.14), "title", valign="middle", max_lines=1)
    c.text(words.CHECKIN_NEUTRAL, c.box(x, 0.28, 0.97 - x, 0.3), "body")
    c.text(words.BREAK_END_HINT, c.box(x, 0.62, 0.97 - x, 0.14), "hint", theme.TEAL)
    k._hold_hint(c, m, area)


def _summary(k: Any, c: Any, m: ScreenModel) -> None:
    ck = m.checkin
    c.text(words.CHECKIN_TITLE, c.box(0.05, 0.03, 0.9, 0.14), "title", align="center", valign="middle",
           max_lines=1)
    text = words.CHECKIN_NO_BASELINE if ck.status is Status.NO_BASELINE else words.CHECKIN_DONE
    c.text(text, c.box(0.06, 0.2, 0.88, 0.26), "body", align="center", valign="middle")
    if ck.incomplete and ck.status is Status.COMPLETE:
        c.text(words.CHECKIN_INCOMPLETE, c.box(0.06, 0.47, 0.88, 0.15), "hint", theme.DIM, align="center",
               valign="middle")
    c.text(words.SUMMARY_FINISH, c.box(0.05, 0.66, 0.9, 0.12), "head", theme.TEAL, align="center",
           valign="middle")


def sample_models(home: object) -> dict[str, ScreenModel]:
    """The check-in's screens with representative data (a real check-in engine walked with a
    fake clock), for ``station screens`` and the layout tests."""
    from dataclasses import replace

    from station.kiosk.checkin_run import CheckinScreen
    from station.practice.checkin import CheckinEngine, Event, TryEnded

    eng = CheckinEngine()
    views: dict[str, object] = {}
    eng.handle(Event.SHORT_PRESS, 0.0)
    t, rejected = 0.0, False
    want = {Phase.SETTLE: 2.0, Phase.NEUTRAL: 2.0, Phase.INTRO: 1.0, Phase.MOVE: 1.2, Phase.HOLD: 1.0,
            Phase.RELEASE: 1.0, Phase.REST: 0.5, Phase.REPEAT: 1.0}
    while eng.phase is not Phase.SUMMARY and t < 600:
        if eng.phase in want and eng.phase.value not in views and (eng.view(t).movement_index or 0) >= 2 \
                or eng.phase in (Phase.SETTLE, Phase.NEUTRAL) and eng.phase.value not in views:
            views[eng.phase.value] = eng.view(t + want[eng.phase])
        t += 0.25
        if t == 3.0:
            eng.handle(Event.CALIBRATED, t)
        for o in eng.tick(t):
            if isinstance(o, TryEnded):
                bad = o.movement_index == 2 and not rejected
                rejected = rejected or bad
                eng.handle(Event.TRY_BAD if bad else Event.TRY_OK, t, "turned" if bad else "")
    views["summary"] = eng.view(t)
    paused = CheckinEngine()
    paused.handle(Event.SHORT_PRESS, 0.0)
    paused.handle(Event.SHORT_PRESS, 1.0)
    views["paused"] = paused.view(2.0)
    blank = CheckinEngine().view(0.0)
    base = replace(home, reminder="") if home is not None else None  # type: ignore[type-var]

    def m(name: str, **kw: object) -> ScreenModel:
        v = views.get(name, blank)
        return ScreenModel("checkin", checkin=CheckinScreen(v, **kw), t=2.0)  # type: ignore[arg-type]

    out = {
        "21_home_checkin_due": ScreenModel("home", home=replace(base, checkin="due")),  # type: ignore[type-var,arg-type]
        "22_home_checkin_done": ScreenModel("home", home=replace(base, checkin="done")),  # type: ignore[type-var,arg-type]
        "23_checkin_settle": m("settle", message=words.CHECKIN_NEUTRAL),
        "24_checkin_neutral": m("neutral"),
        "25_checkin_intro": m("intro"),
        "26_checkin_move": m("move"),
        "27_checkin_hold": m("hold"),
        "27b_checkin_hold_no_face": m("hold", message=words.NO_FACE_SEEN),
        "28_checkin_release": m("release"),
        "29_checkin_repeat": m("repeat", repeat_reason="turned"),
        "30_checkin_paused": m("paused"),
        "31_checkin_summary": m("summary", status=Status.COMPLETE),
        "31b_checkin_summary_incomplete": m("summary", status=Status.COMPLETE, incomplete=1),
        "32_checkin_no_baseline": m("summary", status=Status.NO_BASELINE),
    }
    return out
