"""The therapist's PDF report: a few plain pages of charts made with matplotlib.

Readable in black-and-white print: every series has its own line style and marker, bars are
told apart by hatching, shading is grey only, fonts are large, titles plain, and each page
says in one sentence what it shows and which way is better. matplotlib is imported lazily
(only ``station export`` needs it) with the Agg backend.

:func:`report_data` turns record rows into per-day numbers (pure); :func:`render_pdf` draws.
"""

from __future__ import annotations

import statistics
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from pathlib import Path
from typing import Any

from station.practice.plan import library
from station.records.progress import local_date

CALENDAR_WEEKS = 16  # the calendar shows at most this many recent weeks
STYLES: tuple[tuple[str, str, str], ...] = (  # (line style, marker, grey)
    ("-", "o", "0.0"),
    ("--", "s", "0.35"),
    (":", "^", "0.0"),
    ("-.", "D", "0.5"),
    ((0, (5, 1)), "v", "0.2"),
    ((0, (1, 1)), "P", "0.45"),
)


@dataclass
class ReportData:
    """Per-day numbers the report draws (all derived from the records)."""

    unit_id: str
    first_day: date | None
    last_day: date | None
    generated: str
    sessions_by_status: dict[str, int] = field(default_factory=dict)
    reps_done: int = 0
    sessions_per_day: dict[date, int] = field(default_factory=dict)
    # pattern id -> [(day, median, n)]
    coactivation: dict[str, list[tuple[date, float, int]]] = field(default_factory=dict)
    target_mm: dict[str, list[tuple[date, float, int]]] = field(default_factory=dict)
    eye_ratio: dict[str, list[tuple[date, float, int]]] = field(default_factory=dict)
    # week start (Monday) -> (scheduled breaks, requested breaks)
    breaks_per_week: dict[date, tuple[int, int]] = field(default_factory=dict)


Daily = dict[str, list[tuple[date, float, int]]]


def _daily(values: Mapping[tuple[str, date], list[float]]) -> Daily:
    out: Daily = defaultdict(list)
    for (pid, day), vals in sorted(values.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        out[pid].append((day, statistics.median(vals), len(vals)))
    return dict(out)


def report_data(
    unit_id: str,
    sessions: Sequence[Mapping[str, Any]],
    reps: Sequence[Mapping[str, Any]],
    break_events: Sequence[Mapping[str, Any]],
    generated: str,
    tz: tzinfo | None = None,
) -> ReportData:
    """Aggregate rows (dict-like, column names as in the store) into per-day numbers."""
    data = ReportData(unit_id, None, None, generated)
    days: list[date] = []
    for s in sessions:
        day = local_date(s["started_utc"], tz).date()
        days.append(day)
        data.sessions_by_status[s["status"]] = data.sessions_by_status.get(s["status"], 0) + 1
        data.sessions_per_day[day] = data.sessions_per_day.get(day, 0) + 1
    if days:
        data.first_day, data.last_day = min(days), max(days)
    co: dict[tuple[str, date], list[float]] = defaultdict(list)
    tgt: dict[tuple[str, date], list[float]] = defaultdict(list)
    eye: dict[tuple[str, date], list[float]] = defaultdict(list)
    for r in reps:
        if r["status"] != "done":
            continue
        data.reps_done += 1
        pid = r["pattern_id"] or "?"
        day = local_date(r["ended_utc"], tz).date()
        if r["coactivation"] is not None:
            co[(pid, day)].append(float(r["coactivation"]))
        if r["target_mm"] is not None:
            tgt[(pid, day)].append(float(r["target_mm"]))
        if r["eye_ratio"] is not None and (r["target_region"] or "") != "eye":
            eye[(pid, day)].append(float(r["eye_ratio"]))
    data.coactivation, data.target_mm, data.eye_ratio = _daily(co), _daily(tgt), _daily(eye)
    weeks: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for e in break_events:
        day = local_date(e["at_utc"], tz).date()
        week = day - timedelta(days=day.weekday())
        weeks[week][1 if e["requested"] else 0] += 1
    data.breaks_per_week = {w: (v[0], v[1]) for w, v in sorted(weeks.items())}
    return data


def _pattern_name(pid: str) -> str:
    p = library().get(pid)
    return p.name if p else pid


def render_pdf(data: ReportData, path: Path, png_dir: Path | None = None) -> int:
    """Draw the report into ``path`` (and each page as PNG into ``png_dir``); returns pages."""
    import logging

    import matplotlib

    # the PDF backend subsets fonts with fontTools, which logs ~160 INFO lines per report
    logging.getLogger("fontTools").setLevel(logging.WARNING)

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    params = {
        "font.size": 14, "axes.titlesize": 18, "axes.labelsize": 15, "xtick.labelsize": 13,
        "ytick.labelsize": 13, "legend.fontsize": 13, "figure.titlesize": 22,
        "axes.prop_cycle": matplotlib.cycler(color=["black"]), "hatch.linewidth": 0.8,
        "pdf.fonttype": 42,
    }
    pages = []
    with matplotlib.rc_context(params):
        pages.append(_page_calendar(plt, data))
        span = (data.last_day - data.first_day).days if data.first_day and data.last_day else 0
        if span > 7 * CALENDAR_WEEKS:
            pages.append(_page_weekly(plt, data))
        pages.append(_page_series(
            plt, data, data.coactivation, "Did the quiet muscles stay quiet?",
            "coactivation (0 = only the target moved)",
            "Coactivation = movement of the regions that should stay still, divided by all "
            "movement (median per day). Lower is better.", ylim=(0.0, 1.0)))
        pages.append(_page_series(
            plt, data, data.target_mm, "How much did the target move?", "target movement (mm)",
            "Peak movement of each pattern's target region on the affected side (median per day). "
            "Small, steady movement is the aim; bigger is not better.", ylim=(0.0, None)))
        pages.append(_page_series(
            plt, data, data.eye_ratio, "Eye narrowing during mouth movements",
            "eye opening, affected / other side",
            "Affected-side eye opening divided by the other side's during smiles and puckers "
            "(the Auto-eFACE ocular synkinesis idea). 1.0 = both eyes equally open; "
            "closer to 1.0 is better.", ylim=None, reference=1.0))
        pages.append(_page_breaks(plt, data))
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


def _figure(plt: Any, title: str, note: str) -> tuple[Any, Any]:
    fig = plt.figure(figsize=(11.69, 8.27))  # A4 landscape
    fig.suptitle(title, x=0.06, ha="left", y=0.96, fontweight="bold")
    fig.text(0.06, 0.885, textwrap.fill(note, 100), ha="left", va="top", fontsize=14)
    ax = fig.add_axes((0.10, 0.17, 0.86, 0.61))
    ax.set_axisbelow(True)
    return fig, ax


def _date_axis(ax: Any) -> None:
    """Day labels as '03 Mar', slanted, no more than about ten of them."""
    from matplotlib import dates as mdates

    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_ha("right")


def _no_data(ax: Any, text: str = "No measured reps in this period.") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=18, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _period(data: ReportData) -> str:
    if not data.first_day or not data.last_day:
        return "no sessions recorded"
    return f"{data.first_day:%d %b %Y} to {data.last_day:%d %b %Y}"


def _page_calendar(plt: Any, data: ReportData) -> Any:
    st = data.sessions_by_status
    total = sum(st.values())
    practised = sum(1 for v in data.sessions_per_day.values() if v)
    span = ((data.last_day - data.first_day).days + 1) if data.first_day and data.last_day else 0
    note = (f"{_period(data)}. {total} sessions ({st.get('complete', 0)} complete, "
            f"{st.get('interrupted', 0)} interrupted, {st.get('abandoned', 0)} left early), "
            f"{data.reps_done} reps, practice on {practised} of {span} days. "
            "Each square is one day; the number is how many sessions were started. "
            "Hatched squares are days without practice.")
    fig, ax = _figure(plt, "Practice sessions per day", note)
    if not data.first_day or not data.last_day:
        _no_data(ax, "No sessions recorded.")
        return fig
    last_week = data.last_day - timedelta(days=data.last_day.weekday())
    first_week = max(data.first_day - timedelta(days=data.first_day.weekday()),
                     last_week - timedelta(weeks=CALENDAR_WEEKS - 1))
    n_weeks = (last_week - first_week).days // 7 + 1
    top = max(data.sessions_per_day.values() or [1])
    from matplotlib.patches import Rectangle

    for w in range(n_weeks):
        for d in range(7):
            day = first_week + timedelta(weeks=w, days=d)
            y = n_weeks - 1 - w
            if day < data.first_day or day > data.last_day:
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
    ax.set_xticks([i + 0.47 for i in range(7)], ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_yticks([n_weeks - 1 - w + 0.45 for w in range(n_weeks)],
                  [f"{first_week + timedelta(weeks=w):%d %b}" for w in range(n_weeks)])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_ylabel("week starting")
    return fig


def _page_weekly(plt: Any, data: ReportData) -> Any:
    fig, ax = _figure(plt, "Practice sessions per week",
                      "Sessions started in each week of the whole period (the calendar on the "
                      f"first page shows the last {CALENDAR_WEEKS} weeks).")
    weeks: dict[date, int] = defaultdict(int)
    for day, n in data.sessions_per_day.items():
        weeks[day - timedelta(days=day.weekday())] += n
    xs = sorted(weeks)
    ax.bar(xs, [weeks[x] for x in xs], width=6, color="0.75", edgecolor="black")
    ax.set_ylabel("sessions")
    ax.grid(axis="y", color="0.8")
    _date_axis(ax)
    return fig


def _page_series(
    plt: Any, data: ReportData, series: dict[str, list[tuple[date, float, int]]], title: str,
    ylabel: str, note: str, ylim: tuple[float, float | None] | None, reference: float | None = None,
) -> Any:
    many = max((len(v) for v in series.values()), default=0) > 45
    if many:
        note += " Over many weeks: small dots are days, the lines join weekly medians."
    fig, ax = _figure(plt, title, note)
    if not series:
        _no_data(ax)
        return fig
    for i, pid in enumerate(sorted(series)):
        pts = series[pid]
        ls, marker, grey = STYLES[i % len(STYLES)]
        face = "white" if i % 2 else grey
        if many:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle="none", marker=marker,
                    color=grey, markersize=3, markerfacecolor=face, markeredgewidth=0.6)
            weeks: dict[date, list[float]] = defaultdict(list)
            for day, value, _n in pts:
                weeks[day - timedelta(days=day.weekday()) + timedelta(days=3)].append(value)
            xs = sorted(weeks)
            ax.plot(xs, [statistics.median(weeks[x]) for x in xs], linestyle=ls, marker=marker,
                    color=grey, linewidth=2.6, markersize=9, markerfacecolor=face,
                    label=_pattern_name(pid))
        else:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle=ls, marker=marker,
                    color=grey, linewidth=2.2, markersize=8, markerfacecolor=face,
                    label=_pattern_name(pid))
    if reference is not None:
        ax.axhline(reference, color="black", linewidth=1, linestyle=(0, (2, 4)))
        ax.text(ax.get_xlim()[0], reference, " same as other side", va="bottom", fontsize=12)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.grid(color="0.85")
    ax.legend(loc="best", frameon=True, edgecolor="black")
    _date_axis(ax)
    return fig


def _page_breaks(plt: Any, data: ReportData) -> Any:
    fig, ax = _figure(plt, "Release breaks taken",
                      "Release breaks per week: those the plan scheduled after each pattern, and "
                      "those the patient asked for with a long press. Asking for breaks is good: "
                      "a relaxed face moves more smoothly.")
    if not data.breaks_per_week:
        _no_data(ax, "No release breaks recorded.")
        return fig
    weeks = sorted(data.breaks_per_week)
    sched = [data.breaks_per_week[w][0] for w in weeks]
    asked = [data.breaks_per_week[w][1] for w in weeks]
    xs = list(range(len(weeks)))
    ax.bar([x - 0.2 for x in xs], sched, width=0.4, color="white", edgecolor="black",
           hatch="..", label="scheduled")
    ax.bar([x + 0.2 for x in xs], asked, width=0.4, color="0.35", edgecolor="black",
           hatch="//", label="asked for")
    step = max(1, len(weeks) // 12)
    ax.set_xticks(xs[::step], [f"{w:%d %b}" for w in weeks][::step])
    ax.set_xlabel("week starting")
    ax.set_ylabel("breaks")
    ax.grid(axis="y", color="0.85")
    ax.legend(loc="upper left", frameon=True, edgecolor="black")
    return fig

