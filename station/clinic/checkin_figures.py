"""The weekly check-in's figures: one place for the desk's page and the PDF, never a grade.

Each completed check-in (:mod:`station.records.checkins`) has, per standard movement, the
median of three tries and their spread (max - min). This module turns those rows into

* per movement, the **trend over the loan** of the ratio (affected / other side) and of each
  co-movement on the affected side (mm), each point drawn with its **noise band**: the spread
  of that day's three tries around the median, so a change is real only when it leaves the band
  (:func:`station.tracking.checkin.change_is_real`);
* the **first and latest check-in side by side** (:func:`first_latest`), with the largest spread of
  the two as the band, and the rest's side-to-side differences.

Every figure is labelled :data:`LABEL`. **No Sunnybrook, eFACE or House-Brackmann score is
computed or shown** (:data:`NO_SCORE` says why, on the page and in the PDF). Rows are dicts with
the record schema's column names (the unit's store, or the desk's tables), so both read them the
same way. matplotlib is imported lazily (Agg), as in :mod:`station.clinic.report`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import Any

from station.practice.checkin_events import MOVEMENTS
from station.practice.plan import REGIONS
from station.practice.words import REGION_NOUN
from station.records import schema
from station.records.progress import local_date

LABEL = "Device measurement for clinician review"
NO_SCORE = ("No Sunnybrook, eFACE or House-Brackmann score is computed or shown: no automated estimate "
            "of those grades is validated at the bedside, so the unit reports the millimetres they look "
            "at and the judgement stays with the clinician.")
NAMES: dict[str, str] = {"brow_lift": "Brow lift", "eye_closure": "Gentle eye closure",
                         "open_smile": "Open-mouth smile", "snarl": "Snarl", "lip_pucker": "Lip pucker"}
REST_WORDS = {"eye_fissure": "eye opening (fissure height)", "brow_height": "brow height",
              "mouth_corner_height": "mouth corner height"}
SIGNS = ("Signs: each region in its own direction on the affected side. Eye: opening, so negative is "
         "narrower; brow: height, positive is raised; mouth corner: excursion, positive is out and up; "
         "lips: corner to midline, negative is narrower; nose and cheek: positive is raised; chin: lower "
         "lip to chin, positive is longer.")
CHANGE_WORDS = {True: "more than the band", False: "inside the band"}
STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v"), ((0, (1, 1)), "P"))


@dataclass(frozen=True)
class Point:
    """One check-in's value (median of its tries) and its noise band (the tries' spread)."""

    day: date
    value: float
    band: float | None


@dataclass
class Trend:
    """One movement over the loan: its ratio and each co-movement on the affected side."""

    movement: str
    target: str
    ratio: list[Point] = field(default_factory=list)
    co: dict[str, list[Point]] = field(default_factory=dict)


@dataclass
class CheckinData:
    """The check-ins of one patient (completed ones, oldest first) and their trends."""

    checkins: list[dict[str, Any]] = field(default_factory=list)
    movements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # check-in id -> rows
    trends: dict[str, Trend] = field(default_factory=dict)
    attempted: int = 0  # every check-in row, completed or not

    @property
    def first(self) -> dict[str, Any] | None:
        return self.checkins[0] if self.checkins else None

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.checkins[-1] if self.checkins else None


def _f(v: Any) -> float | None:
    return schema.as_float(v)


def compute(checkins: Sequence[Mapping[str, Any]], movements: Sequence[Mapping[str, Any]],
            tz: tzinfo | None = None, key: str = "id") -> CheckinData:
    """Rows to figures: ``key`` names a check-in's id column in ``checkins`` (``id`` on the
    unit, ``uid`` on the desk); each movement row names it in ``checkin_id``."""
    done = sorted((dict(c) for c in checkins if c.get("status") == "complete"), key=lambda c: c["started_utc"])
    data = CheckinData(checkins=done, attempted=len(checkins))
    by: dict[str, list[dict[str, Any]]] = {}
    for m in movements:
        by.setdefault(str(m["checkin_id"]), []).append(dict(m))
    for c in done:
        cid = str(c[key])
        data.movements[cid] = by.get(cid, [])
        day = local_date(c["started_utc"], tz).date()
        for m in data.movements[cid]:
            mv = m["movement"]
            trend = data.trends.setdefault(mv, Trend(mv, m.get("target_region") or ""))
            if (r := _f(m.get("ratio"))) is not None:
                trend.ratio.append(Point(day, r, _f(m.get("ratio_spread"))))
            for region in REGIONS:
                if (v := _f(m.get(f"co_{region}_mm"))) is not None:
                    trend.co.setdefault(region, []).append(Point(day, v, _f(m.get(f"co_{region}_spread_mm"))))
    data.trends = {m.id: data.trends[m.id] for m in MOVEMENTS if m.id in data.trends}
    return data


def _row(data: CheckinData, which: dict[str, Any] | None, key: str) -> dict[str, dict[str, Any]]:
    if which is None:
        return {}
    return {m["movement"]: m for m in data.movements.get(str(which[key]), [])}


def _fmt(v: float | None, unit: str) -> str | None:
    if v is None:
        return None
    return f"{v:.2f}" if unit == "" else f"{v:.1f} {unit}" if unit == "%" else f"{v:.2f} {unit}"


def change(first: float | None, latest: float | None, band: float | None, unit: str) -> str | None:
    """'+0.40, more than the band' (latest - first, and whether it leaves the patient's own noise
    band: only then is it a change); None when either is not measured or only one check-in."""
    if first is None or latest is None:
        return None
    d = latest - first
    text = f"{d:+.2f}" if unit == "" else f"{d:+.1f} {unit}" if unit == "%" else f"{d:+.2f} {unit}"
    return text if band is None else f"{text}, {CHANGE_WORDS[abs(d) > band]}"


def first_latest(data: CheckinData, key: str = "id") -> list[tuple[str, str | None, str | None, str | None]]:
    """(measure, first check-in, latest check-in, noise band) rows; None: not measured."""
    return [r[:4] for r in first_latest_change(data, key)]


def first_latest_change(data: CheckinData, key: str = "id") -> list[
        tuple[str, str | None, str | None, str | None, str | None]]:
    """(measure, first, latest, noise band, change) rows: the change is latest - first and says
    whether it leaves the band (None: not measured, or the first is the latest)."""
    a, b = _row(data, data.first, key), _row(data, data.latest, key)
    rows: list[tuple[str, str | None, str | None, str | None, str | None]] = []
    one = len(data.checkins) < 2

    def add(label: str, col: str, spread: str, unit: str, mv: str) -> None:
        x, y = a.get(mv, {}), b.get(mv, {})
        bands = [s for s in (_f(x.get(spread)), _f(y.get(spread))) if s is not None]
        band = max(bands) if bands else None
        va, vb = _f(x.get(col)), _f(y.get(col))
        rows.append((label, _fmt(va, unit), _fmt(vb, unit), _fmt(band, unit),
                     None if one else change(va, vb, band, unit)))

    for m in MOVEMENTS:
        name = NAMES[m.id]
        add(f"{name}: ratio affected / other side", "ratio", "ratio_spread", "", m.id)
        add(f"{name}: affected side, mm", "affected_mm", "affected_spread_mm", "mm", m.id)
        add(f"{name}: other side, mm", "other_mm", "other_spread_mm", "mm", m.id)
        if m.target != "eye":
            add(f"{name}: eye narrowing, % of resting opening", "eye_narrowing_pct", "eye_narrowing_spread_pct",
                "%", m.id)
        for region in REGIONS:
            if region != m.target:
                add(f"{name}: {REGION_NOUN[region]} co-movement, mm", f"co_{region}_mm",
                    f"co_{region}_spread_mm", "mm", m.id)
    return rows


def rest_rows(data: CheckinData) -> list[tuple[str, str | None, str | None]]:
    """(measure, first, latest): the rest's side-to-side differences (affected - other, mm)."""
    out = []
    for name, words in REST_WORDS.items():
        col = f"rest_{name}_diff_mm"
        a = _f(data.first.get(col)) if data.first else None
        b = _f(data.latest.get(col)) if data.latest else None
        out.append((f"At rest: {words}, affected minus other side", _fmt(a, "mm"), _fmt(b, "mm")))
    return out


# ---------------------------------------------------------------- drawing


def _mpl() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    return matplotlib


def _series(ax: Any, pts: list[Point], style: tuple[Any, str], label: str) -> None:
    xs = [p.day for p in pts]
    ys = [p.value for p in pts]
    ax.plot(xs, ys, linestyle=style[0], marker=style[1], color="black", label=label, markersize=6)
    lo = [p.value - (p.band or 0.0) / 2 for p in pts]
    hi = [p.value + (p.band or 0.0) / 2 for p in pts]
    if any(p.band for p in pts):
        ax.fill_between(xs, lo, hi, color="0.8", alpha=0.6, linewidth=0)
        ax.errorbar(xs, ys, yerr=[[p.band / 2 if p.band else 0 for p in pts]] * 2, fmt="none", ecolor="0.3",
                    capsize=4, linewidth=1)


def draw_movement(axes: tuple[Any, Any], trend: Trend) -> None:
    """The ratio (left) and the co-movements (right) of one movement over the check-ins."""
    from matplotlib import dates as mdates

    ax_r, ax_c = axes
    if trend.ratio:
        _series(ax_r, trend.ratio, STYLES[0], "ratio (median of 3 tries)")
        ax_r.axhline(1.0, color="0.4", linewidth=1, linestyle=(0, (2, 2)), label="same as other side")
    else:
        ax_r.text(0.5, 0.5, "other side moved too little for a ratio", ha="center", va="center",
                  transform=ax_r.transAxes, fontsize=10)
    ax_r.set_ylabel("affected / other side")
    ax_r.set_title("Ratio of the movement", fontsize=11)
    for i, (region, pts) in enumerate(sorted(trend.co.items())):
        _series(ax_c, pts, STYLES[(i + 1) % len(STYLES)], REGION_NOUN[region])
    ax_c.axhline(0.0, color="0.4", linewidth=1)
    ax_c.set_ylabel("mm on the affected side")
    ax_c.set_title("Co-movement of the other regions", fontsize=11)
    for ax in axes:
        ax.grid(True, color="0.85")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=2, maxticks=6))
        for lab in ax.get_xticklabels():
            lab.set_rotation(30)
            lab.set_ha("right")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")


def chart_svg(trend: Trend, size: tuple[float, float] = (10.0, 3.8)) -> str:
    """One movement's two charts as SVG text (text kept as text), labelled :data:`LABEL`."""
    mpl = _mpl()
    from matplotlib.figure import Figure

    with mpl.rc_context({"font.size": 10, "svg.fonttype": "none"}):
        fig = Figure(figsize=size)
        axes = (fig.add_axes((0.07, 0.22, 0.38, 0.62)), fig.add_axes((0.57, 0.22, 0.41, 0.62)))
        draw_movement(axes, trend)
        fig.text(0.01, 0.96, f"{NAMES.get(trend.movement, trend.movement)}: {LABEL.lower()}", fontsize=11,
                 va="top", fontweight="bold")
        fig.text(0.99, 0.02, "band: spread of the three tries (a change inside it is noise)", ha="right",
                 fontsize=8, style="italic")
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def pdf_pages(plt: Any, data: CheckinData, header: str, key: str = "id") -> list[Any]:
    """The check-in's A4 pages for the PDF report: first and latest side by side, then one
    page per movement's trend; each labelled :data:`LABEL`, the first saying :data:`NO_SCORE`."""
    import textwrap

    pages = []
    fig = plt.figure(figsize=(11.69, 8.27))
    fig.suptitle(f"Weekly check-in: first and latest ({LABEL.lower()})", x=0.06, ha="left", y=0.965,
                 fontweight="bold", fontsize=16)
    n = len(data.checkins)
    intro = (f"{n} completed check-in{'s' if n != 1 else ''} ({data.attempted} started). "
             f"{NO_SCORE}")
    fig.text(0.06, 0.92, textwrap.fill(header, 120), fontsize=10, style="italic", va="top")
    fig.text(0.06, 0.87, textwrap.fill(intro, 120), fontsize=10, va="top")
    rows = [(label, a or "not measured", b or "not measured", band or "-", ch or "-")
            for label, a, b, band, ch in first_latest_change(data, key)
            if "co-movement" not in label] + [(label, a or "-", b or "-", "-", "-") for label, a, b in rest_rows(data)]
    first = data.first["started_utc"][:10] if data.first else "-"
    latest = data.latest["started_utc"][:10] if data.latest else "-"
    ax = fig.add_axes((0.06, 0.04, 0.9, 0.74))
    ax.axis("off")
    table = ax.table(cellText=[list(r) for r in rows], colLabels=["measure", f"first ({first})",
                                                                  f"latest ({latest})", "noise band",
                                                                  "change (latest - first)"],
                     loc="upper left", cellLoc="left", colWidths=[0.43, 0.12, 0.12, 0.1, 0.23])
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.15)
    pages.append(fig)
    for trend in data.trends.values():
        fig = plt.figure(figsize=(11.69, 8.27))
        fig.suptitle(f"Check-in trend: {NAMES.get(trend.movement, trend.movement)} ({LABEL.lower()})", x=0.06,
                     ha="left", y=0.965, fontweight="bold", fontsize=16)
        fig.text(0.06, 0.92, textwrap.fill(header, 120), fontsize=10, style="italic", va="top")
        fig.text(0.06, 0.87, textwrap.fill(
            "Each point is the median of three tries; the grey band and bars are their spread, the "
            "patient's own noise: a change smaller than the band is not a change. " + SIGNS + " "
            + NO_SCORE, 120),
            fontsize=10, va="top")
        axes = (fig.add_axes((0.08, 0.12, 0.38, 0.58)), fig.add_axes((0.57, 0.12, 0.40, 0.58)))
        draw_movement(axes, trend)
        pages.append(fig)
    return pages
