"""The therapist's charts: one module draws them for the PDF report and for the clinic desk.

Readable in black-and-white print: every series has its own line style and marker, bars are
told apart by hatching, shading is grey only, fonts are large, titles plain, and each page
says in one sentence what it shows and which way is better. matplotlib is imported lazily
(only ``station export`` and the desk need it) with the Agg backend.

:func:`report_data` (in :mod:`.figures`, re-exported here) turns record rows into per-day numbers
and the figures every page states (pure); the ``draw_*`` functions
draw one chart into a matplotlib Axes; :func:`render_pdf` lays them out as A4 pages with the
patient alias, affected side, prescription and export date on every page, and
:func:`chart_svg` renders one chart as SVG text for a web page. Rows are dicts with the column
names of the unit's store and export CSVs, so the desk feeds imported rows through the same
code. Charts mark prescription changes with a dashed vertical line, break their lines over
days without practice, show whole numbers on count axes, and never repeat a date label.
"""

from __future__ import annotations

import io
import math
import statistics
import textwrap
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from station.clinic.figures import QUALITIES, Daily, ReportData
from station.clinic.figures import quiet_region as quiet_region  # re-exported: the desk's import uses it
from station.clinic.figures import report_data as report_data  # re-exported: export and desk call it
from station.practice.plan import REGIONS, library
from station.practice.words import REGION_NOUN

CALENDAR_WEEKS = 16  # the calendar shows at most this many recent weeks
MAX_WEEK_LABELS = 12
STYLES: tuple[tuple[Any, str, str], ...] = (  # (line style, marker, grey)
    ("-", "o", "0.0"),
    ("--", "s", "0.35"),
    (":", "^", "0.0"),
    ("-.", "D", "0.5"),
    ((0, (5, 1)), "v", "0.2"),
    ((0, (1, 1)), "P", "0.45"),
)
HATCHES = ("", "//", "..", "xx", "\\\\", "oo")

def pattern_name(pid: str) -> str:
    """A pattern's plain name (its id when unknown)."""
    p = library().get(pid)
    return p.name if p else pid


_FIELD_WORDS = {"target_minutes": "minutes a session", "sessions_per_day": "sessions a day",
                "reminder_times": "reminder times", "quiet_start": "quiet from", "quiet_end": "quiet until",
                "move_s": "move s", "hold_s": "hold s", "release_s": "release s", "rest_s": "rest s",
                "gentle_max_mm": "gentle up to mm"}


def plain_words(text: str) -> str:
    """Staff read titles, not internal ids: "eye_closure x4" -> "Gentle eye closure x4"."""
    import re

    words = {**{pid: p.name for pid, p in library().items()}, **_FIELD_WORDS}
    return re.sub(r"\b(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")\b",
                  lambda m: words[m.group(1)], text)


# ---------------------------------------------------------------- charts (one Axes each)


def _mpl() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    return matplotlib


def _date_axis(ax: Any, first: date | None, last: date | None) -> None:
    """Day labels as '03 Mar', at most about ten, never the same day twice."""
    from matplotlib import dates as mdates

    if first is not None and last is not None:
        span = (last - first).days
        pad = timedelta(days=max(1, span // 40, (7 - span) // 2))  # a day's bar is never a wall
        ax.set_xlim(first - pad, last + pad)
        if span <= 10:  # one tick per day: an auto locator would put several on one day
            ax.set_xticks([first + timedelta(days=i) for i in range(span + 1)])
        else:
            ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_ha("right")


def _mark_changes(ax: Any, data: ReportData) -> None:
    for i, day in enumerate(data.changes):
        ax.axvline(day, color="black", linewidth=1.2, linestyle=(0, (4, 3)),
                   label="prescription changed" if i == 0 else None)


def _with_gaps(pts: Sequence[tuple[date, float]], max_gap_days: int) -> tuple[list[Any], list[float]]:
    """Points with a break (NaN) wherever practice stopped for more than ``max_gap_days``."""
    xs: list[Any] = []
    ys: list[float] = []
    for i, (x, y) in enumerate(pts):
        if i and (x - pts[i - 1][0]).days > max_gap_days:
            xs.append(pts[i - 1][0] + timedelta(days=1))
            ys.append(float("nan"))
        xs.append(x)
        ys.append(y)
    return xs, ys


def no_data(ax: Any, text: str = "No measured reps in this period.") -> None:
    """Say so in the middle of an empty chart."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=16, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_series(ax: Any, data: ReportData, series: Daily, ylabel: str,
                ylim: tuple[float, float | None] | None = None, reference: float | None = None,
                reference_label: str = "same as other side") -> None:
    """One line per pattern (weekly medians over long periods), changes marked, gaps broken."""
    if not series:
        no_data(ax)
        return
    many = max(len(v) for v in series.values()) > 45
    for i, pid in enumerate(sorted(series)):
        pts = series[pid]
        ls, marker, grey = STYLES[i % len(STYLES)]
        face = "white" if i % 2 else grey
        if many:
            if not data.web:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle="none", marker=marker,
                        color=grey, markersize=3, markerfacecolor=face, markeredgewidth=0.6)
            weeks: dict[date, list[float]] = defaultdict(list)
            for day, value, _n in pts:
                weeks[day - timedelta(days=day.weekday()) + timedelta(days=3)].append(value)
            xs, ys = _with_gaps([(x, statistics.median(weeks[x])) for x in sorted(weeks)], 7)
            ax.plot(xs, ys, linestyle=ls, marker=marker, color=grey, linewidth=2.6, markersize=8,
                    markerfacecolor=face, label=pattern_name(pid))
        else:
            xs, ys = _with_gaps([(p[0], p[1]) for p in pts], 1)
            ax.plot(xs, ys, linestyle=ls, marker=marker, color=grey, linewidth=2.2, markersize=7,
                    markerfacecolor=face, label=pattern_name(pid))
    if reference is not None:
        ax.axhline(reference, color="black", linewidth=1, linestyle=(0, (2, 4)))
        ax.annotate(f" {reference_label}", (0, reference), xycoords=("axes fraction", "data"),
                    va="bottom", fontsize=11)
    _mark_changes(ax, data)
    if ylim:  # room around the limits: a point at 0.0 or at the top is never on the frame
        lo, hi = ylim
        if hi is None:
            hi = max(p[1] for pts in series.values() for p in pts) * 1.1 or 1.0
        pad = 0.05 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)
    else:
        ax.margins(y=0.1)
    ax.set_ylabel(ylabel)
    ax.grid(color="0.85")
    ax.legend(loc="best", frameon=True, edgecolor="black", fontsize=11)
    _date_axis(ax, data.first_day, data.last_day)


def draw_practice(ax: Any, data: ReportData) -> None:
    """Sessions per day (weekly means over long periods) against the prescribed sessions a day."""
    from matplotlib.ticker import MaxNLocator

    if not data.sessions_per_day or data.first_day is None or data.last_day is None:
        no_data(ax, "No sessions recorded.")
        return
    span = (data.last_day - data.first_day).days
    if span > 60:
        weeks: dict[date, int] = defaultdict(int)
        for day, n in data.sessions_per_day.items():
            weeks[day - timedelta(days=day.weekday())] += n
        xs = sorted(weeks)
        ax.bar([x + timedelta(days=3) for x in xs], [weeks[x] / 7 for x in xs], width=6,
               color="0.8", edgecolor="black", label="sessions a day (week average)")
    else:
        days = [data.first_day + timedelta(days=i) for i in range(span + 1)]
        ax.bar(days, [data.sessions_per_day.get(d, 0) for d in days], width=0.8, color="0.8",
               edgecolor="black", label="sessions started")
    if data.prescribed_per_day:
        ax.axhline(data.prescribed_per_day, color="black", linewidth=2,
                   label=f"prescribed: {data.prescribed_per_day} a day")
    _mark_changes(ax, data)
    top = max([*data.sessions_per_day.values(), data.prescribed_per_day or 0, 1])
    ax.set_ylim(0, top * 1.25)  # the prescribed line and the tallest day never sit on the frame
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("sessions a day")
    ax.grid(axis="y", color="0.85")
    ax.legend(loc="upper left", frameon=True, edgecolor="black", fontsize=11)
    _date_axis(ax, data.first_day, data.last_day)


def draw_breaks(ax: Any, data: ReportData) -> None:
    """Scheduled and asked-for release breaks per week (whole numbers, readable week labels)."""
    from matplotlib.ticker import MaxNLocator

    if not data.breaks_per_week:
        no_data(ax, "No release breaks recorded.")
        return
    weeks = sorted(data.breaks_per_week)
    xs = list(range(len(weeks)))
    ax.bar([x - 0.2 for x in xs], [data.breaks_per_week[w][0] for w in weeks], width=0.4,
           color="white", edgecolor="black", hatch="..", label="scheduled")
    ax.bar([x + 0.2 for x in xs], [data.breaks_per_week[w][1] for w in weeks], width=0.4,
           color="0.35", edgecolor="black", hatch="//", label="asked for")
    ax.set_xlim(-0.7, max(len(weeks), 4) - 0.3)  # one week is one bar, not the whole width
    step = max(1, math.ceil(len(weeks) / MAX_WEEK_LABELS))
    ax.set_xticks(xs[::step], [f"{w:%d %b}" for w in weeks][::step], rotation=30, ha="right")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("week starting")
    ax.set_ylabel("breaks")
    ax.grid(axis="y", color="0.85")
    ax.legend(loc="upper right", frameon=True, edgecolor="black", fontsize=11)


def draw_quiet_moved(ax: Any, data: ReportData) -> None:
    """How often each quiet region was the one that moved."""
    from matplotlib.ticker import MaxNLocator

    if not data.quiet_moved:
        no_data(ax, "No quiet region moved past its threshold.")
        return
    regions = [r for r in REGIONS if r in data.quiet_moved]
    ax.barh([REGION_NOUN[r] for r in regions], [data.quiet_moved[r] for r in regions],
            color="0.7", edgecolor="black", hatch="//")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("movements in which it moved most")
    ax.grid(axis="x", color="0.85")


def draw_qualities(ax: Any, data: ReportData) -> None:
    """Per pattern: the share of judged movements that were slow, small, quiet and released."""
    measured = {p: qs for p, qs in data.qualities.items() if any(n for _y, n in qs.values())}
    if not measured:
        no_data(ax, "Slow, small, quiet and released: not measured in these records.")
        return
    pids = sorted(measured)
    width = 0.8 / len(QUALITIES)
    for j, q in enumerate(QUALITIES):
        xs, ys = [], []
        for i, pid in enumerate(pids):
            yes, n = measured[pid][q]
            if n:
                xs.append(i - 0.4 + width * (j + 0.5))
                ys.append(100.0 * yes / n)
        bars = ax.bar(xs, ys, width=width, color=str(0.25 + 0.2 * j), edgecolor="black",
                      hatch=HATCHES[j % len(HATCHES)], label=q)
        ax.bar_label(bars, fmt="%.0f", fontsize=9, padding=1)  # a 0% bar is still seen
    ax.set_xticks(range(len(pids)), [pattern_name(p) for p in pids], rotation=15, ha="right")
    ax.set_ylim(0, 130)  # the legend sits above the 100% line, never over a bar
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("% of movements")
    ax.grid(axis="y", color="0.85")
    ax.legend(loc="upper center", ncols=4, frameon=True, edgecolor="black", fontsize=10)


def draw_tracking(ax: Any, data: ReportData) -> None:
    """Share of each movement's frames in which the face was tracked (median per day)."""
    if not data.face_share:
        no_data(ax, "No tracking numbers recorded.")
        return
    draw_series(ax, data, {"tracked": [(d, 100.0 * v, n) for d, v, n in data.face_share]},
                "% of frames with the face tracked", ylim=(0, 105))
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()


#: chart name -> (title, one sentence saying what it shows and which way is better, drawer)
CHARTS: dict[str, tuple[str, str, Callable[[Any, ReportData], None]]] = {
    "calendar": ("Practice sessions per day",
                 f"One square a day of the period (at most the last {CALENDAR_WEEKS} weeks); the number is "
                 "how many sessions were started. Hatched squares, if any, are days without practice.",
                 lambda ax, d: draw_calendar(ax, d)),
    "practice": ("Practice against the prescription",
                 "Sessions started each day; the line is the prescribed number a day.",
                 draw_practice),
    "qualities": ("Slow, small, quiet and released",
                  "Share of movements judged slow, small, quiet and released, per pattern. "
                  "Higher is better.", draw_qualities),
    "coactivation": ("Did the quiet muscles stay quiet?",
                     "Coactivation = movement of the regions that should stay still, divided by "
                     "all movement (median per day, followed movements). Lower is better.",
                     lambda ax, d: draw_series(ax, d, d.coactivation,
                                               "coactivation (0 = only the target moved)",
                                               ylim=(0.0, 1.0))),
    "quiet_moved": ("Which quiet region moved",
                    "In movements where a region that should stay quiet moved past its "
                    "threshold, which one moved most.", draw_quiet_moved),
    "target": ("How much did the target move?",
               "Peak movement of each pattern's target region on the affected side (median per "
               "day). Small, steady movement is the aim; bigger is not better.",
               lambda ax, d: draw_series(ax, d, d.target_mm, "target movement (mm)",
                                         ylim=(0.0, None))),
    "eye_ratio": ("Eye narrowing during mouth movements",
                  "Affected-side eye opening divided by the other side's during mouth movements "
                  "(ocular synkinesis ratio). 1.0 = both eyes equally open; closer to 1.0 is "
                  "better.", lambda ax, d: draw_series(ax, d, d.eye_ratio,
                                                       "eye opening, affected / other side",
                                                       reference=1.0)),
    "tracking": ("Tracking quality",
                 "Share of each followed movement's frames in which the face was found and scored "
                 "(median per day); sessions the camera did not follow are not counted. Low values "
                 "make the other charts less certain.",
                 draw_tracking),
    "breaks": ("Release breaks taken",
               "Release breaks per week: those the plan scheduled after each pattern, and those "
               "the patient asked for with a long press. Asking for breaks is good: a relaxed "
               "face moves more smoothly.", draw_breaks),
}


#: the charts of the desk's patient page and of the PDF (after its summary page), in this order
CHART_ORDER = ("calendar", "practice", "qualities", "coactivation", "quiet_moved", "target", "eye_ratio",
               "tracking", "breaks")


def chart_svg(name: str, data: ReportData, size: tuple[float, float] = (9.0, 3.6)) -> str:
    """One chart of :data:`CHARTS` as SVG text (text kept as text, for a web page)."""
    mpl = _mpl()
    from matplotlib.figure import Figure

    params = {"font.size": 11, "axes.prop_cycle": mpl.cycler(color=["black"]),
              "svg.fonttype": "none", "hatch.linewidth": 0.8}
    with mpl.rc_context(params):
        fig = Figure(figsize=size)
        # fixed margins: a layout engine would draw the whole figure twice
        left = 0.15 if name == "quiet_moved" else 0.085  # region names need the room
        ax = fig.add_axes((left, 0.2, 0.98 - left, 0.76))
        data.web = True
        try:
            CHARTS[name][2](ax, data)
        finally:
            data.web = False
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg"):]


# ---------------------------------------------------------------- the PDF


def header(data: ReportData) -> str:
    """Whose records, which side, what was prescribed and when they were exported."""
    alias = data.alias or "no alias (no prescription on the unit)"
    side = f"{data.affected_side} side affected" if data.affected_side else "affected side not set"
    rx = plain_words(data.prescription) if data.prescription else "standard gentle plan (nothing prescribed)"
    return f"Patient {alias}; {side}; exported {data.generated[:10]}. Prescription: {rx}"


def render_pdf(data: ReportData, path: Path, png_dir: Path | None = None) -> int:
    """Draw the report into ``path`` (and each page as PNG into ``png_dir``); returns pages."""
    import logging

    # the PDF backend subsets fonts with fontTools, which logs ~160 INFO lines per report
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    mpl = _mpl()
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    params = {
        "font.size": 14, "axes.titlesize": 18, "axes.labelsize": 15, "xtick.labelsize": 13,
        "ytick.labelsize": 13, "legend.fontsize": 13, "figure.titlesize": 22,
        "axes.prop_cycle": mpl.cycler(color=["black"]), "hatch.linewidth": 0.8,
        "pdf.fonttype": 42,
    }
    pages = []
    with mpl.rc_context(params):
        pages.append(_page_summary(plt, data))
        for name in CHART_ORDER:  # the same charts, in the same order, as the desk's page
            if name == "calendar":
                pages.append(_page_calendar(plt, data))
                continue
            if name == "qualities":
                pages.append(_page_qualities(plt, data))
                continue
            title, note, draw = CHARTS[name]
            series = {"coactivation": data.coactivation, "target": data.target_mm, "eye_ratio": data.eye_ratio}
            if max((len(v) for v in series.get(name, {}).values()), default=0) > 45:
                note += " Over many weeks: small dots are days, the lines join weekly medians."
            pages.append(_page(plt, data, title, note, draw))
        if data.checkins is not None and data.checkins.checkins:  # the weekly check-in's pages
            from station.clinic import checkin_figures

            pages += checkin_figures.pdf_pages(plt, data.checkins, header(data))
        meta = {"Title": f"Mirror-station practice report, unit {data.unit_id}",
                "Creator": "Mirror-station"}
        with PdfPages(path, metadata=meta) as pdf:
            for n, fig in enumerate(pages, 1):
                fig.text(0.98, 0.015, f"unit {data.unit_id} - page {n} of {len(pages)}",
                         ha="right", fontsize=11)
                pdf.savefig(fig)
                if png_dir is not None:
                    png_dir.mkdir(parents=True, exist_ok=True)
                    fig.savefig(png_dir / f"page{n}.png", dpi=80)
                plt.close(fig)
    return len(pages)


def _figure(plt: Any, data: ReportData, title: str, note: str) -> tuple[Any, Any]:
    fig = plt.figure(figsize=(11.69, 8.27))  # A4 landscape
    fig.suptitle(title, x=0.06, ha="left", y=0.965, fontweight="bold")
    fig.text(0.06, 0.905, textwrap.fill(header(data), 110), ha="left", va="top", fontsize=12,
             style="italic")
    fig.text(0.06, 0.84, textwrap.fill(note, 100), ha="left", va="top", fontsize=14)
    ax = fig.add_axes((0.10, 0.17, 0.86, 0.56))
    ax.set_axisbelow(True)
    return fig, ax


def _page(plt: Any, data: ReportData, title: str, note: str,
          draw: Callable[[Any, ReportData], None]) -> Any:
    fig, ax = _figure(plt, data, title, note)
    if draw is draw_quiet_moved:  # region names need the room
        ax.set_position((0.16, 0.17, 0.80, 0.56))
    draw(ax, data)
    return fig


def _period(data: ReportData) -> str:
    if not data.first_day or not data.last_day:
        return "no sessions recorded"
    return f"{data.first_day:%d %b %Y} to {data.last_day:%d %b %Y}"


def _page_calendar(plt: Any, data: ReportData) -> Any:
    first, last = data.figures.first or data.first_day, data.figures.last or data.last_day
    blank = bool(first and last and any(
        not data.sessions_per_day.get(first + timedelta(days=i)) for i in range((last - first).days + 1)))
    note = (f"Each square is one of the {data.figures.period_words}; the number is how many sessions "
            "were started that day." + (" Hatched squares are days without practice." if blank else ""))
    fig, ax = _figure(plt, data, "Practice sessions per day", note)
    draw_calendar(ax, data)
    return fig


def draw_calendar(ax: Any, data: ReportData) -> None:
    """One square a day of the period (the last weeks), the number of sessions in it."""
    first, last = data.figures.first or data.first_day, data.figures.last or data.last_day
    if not first or not last or not data.sessions_per_day:
        no_data(ax, "No sessions recorded.")
        return
    last_week = last - timedelta(days=last.weekday())
    first_week = max(first - timedelta(days=first.weekday()), last_week - timedelta(weeks=CALENDAR_WEEKS - 1))
    n_weeks = (last_week - first_week).days // 7 + 1
    top = max(data.sessions_per_day.values() or [1])
    from matplotlib.patches import Rectangle

    for w in range(n_weeks):
        for d in range(7):
            day = first_week + timedelta(weeks=w, days=d)
            y = n_weeks - 1 - w
            if day < first or day > last:
                continue
            count = data.sessions_per_day.get(day, 0)
            if count:
                grey = 1.0 - 0.55 * count / top
                ax.add_patch(Rectangle((d, y), 0.94, 0.9, facecolor=str(grey), edgecolor="black"))
                ax.text(d + 0.47, y + 0.45, str(count), ha="center", va="center",
                        fontsize=15 if n_weeks <= 10 else 12, fontweight="bold")
            else:
                ax.add_patch(Rectangle((d, y), 0.94, 0.9, facecolor="white", edgecolor="black",
                                       hatch="///"))
    ax.set_xlim(-0.1, 7)
    ax.set_ylim(-0.1, n_weeks)
    if n_weeks <= 3:  # a day is a square, never a tall bar (the page is wider than a few weeks)
        ax.set_aspect("equal", anchor="NW")
    ax.set_xticks([i + 0.47 for i in range(7)], ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_yticks([n_weeks - 1 - w + 0.45 for w in range(n_weeks)],
                  [f"{first_week + timedelta(weeks=w):%d %b}" for w in range(n_weeks)])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_ylabel("week starting")


def quality_rows(data: ReportData) -> list[tuple[str, list[str]]]:
    """(pattern name, a cell per quality): the table of the desk page and the PDF."""
    rows = []
    for pid, qs in sorted(data.qualities.items(), key=lambda kv: pattern_name(kv[0])):
        cells = []
        for q in QUALITIES:
            yes, n = qs[q]
            cells.append(f"{100 * yes / n:.0f}% of {n}" if n else "not measured")
        rows.append((pattern_name(pid), cells))
    return rows


def _table(ax: Any, labels: Sequence[str], rows: Sequence[Sequence[Any]], size: int = 13,
           widths: Sequence[float] | None = None, height: float = 1.55) -> None:
    ax.axis("off")
    if not rows:
        return
    cells = [["not measured" if v is None else str(v) for v in r] for r in rows]
    table = ax.table(cellText=cells, colLabels=list(labels), loc="upper left", cellLoc="left",
                     colLoc="left", edges="horizontal", colWidths=list(widths) if widths else None)
    table.auto_set_font_size(False)
    table.set_fontsize(size)
    table.scale(1, height)
    for (row, _col), cell in table.get_celld().items():
        if row == 0:
            cell.set_text_props(fontweight="bold")


def _page_summary(plt: Any, data: ReportData) -> Any:
    note = ("Every figure says what it counts. A session is followed when the camera tracked the "
            "face in it; the measures of the face count followed sessions only.")
    fig, ax = _figure(plt, data, "Summary", note)
    ax.remove()
    f = data.figures
    _table(fig.add_axes((0.06, 0.50, 0.9, 0.28)), ["", "whole period"], f.headline(data.prescribed_per_day),
           size=12, widths=(0.3, 0.7), height=1.35)
    weeks = f.first_last()
    if len(f.weeks) > 1:
        fig.text(0.06, 0.455, f"First week: {weeks[0][1]}; last week: {weeks[0][2]}.", fontsize=12)
        _table(fig.add_axes((0.06, 0.05, 0.9, 0.39)), ["first week and last week", "first", "last"],
               weeks[1:], size=11, widths=(0.6, 0.2, 0.2), height=1.25)
    elif weeks:
        fig.text(0.06, 0.455, "One week of records: no first and last week to compare.", fontsize=12)
    return fig


def _page_qualities(plt: Any, data: ReportData) -> Any:
    title, note, draw = CHARTS["qualities"]
    fig, ax = _figure(plt, data, title, note + " Counted in followed sessions only.")
    ax.set_position((0.10, 0.42, 0.86, 0.36))
    draw(ax, data)
    _table(fig.add_axes((0.06, 0.04, 0.9, 0.26)), ["pattern", *QUALITIES],
           [(name, *cells) for name, cells in quality_rows(data)], widths=(0.28, 0.18, 0.18, 0.18, 0.18))
    return fig
