"""The therapist's charts: one module draws them for the PDF report and for the clinic desk.

Readable in black-and-white print: every series has its own line style and marker, bars are
told apart by hatching, shading is grey only, fonts are large, titles plain, and each page
says in one sentence what it shows and which way is better. matplotlib is imported lazily
(only ``station export`` and the desk need it) with the Agg backend.

:func:`report_data` turns record rows into per-day numbers (pure); the ``draw_*`` functions
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from pathlib import Path
from typing import Any

from station.practice.plan import REGIONS, library
from station.practice.words import REGION_NOUN
from station.records import schema
from station.records.progress import local_date

CALENDAR_WEEKS = 16  # the calendar shows at most this many recent weeks
MAX_WEEK_LABELS = 12
QUALITIES = ("slow", "small", "quiet", "released")
STYLES: tuple[tuple[Any, str, str], ...] = (  # (line style, marker, grey)
    ("-", "o", "0.0"),
    ("--", "s", "0.35"),
    (":", "^", "0.0"),
    ("-.", "D", "0.5"),
    ((0, (5, 1)), "v", "0.2"),
    ((0, (1, 1)), "P", "0.45"),
)
HATCHES = ("", "//", "..", "xx", "\\\\", "oo")

Daily = dict[str, list[tuple[date, float, int]]]


@dataclass
class ReportData:
    """Per-day numbers the charts draw (all derived from the records)."""

    unit_id: str
    first_day: date | None
    last_day: date | None
    generated: str
    alias: str = ""
    affected_side: str = ""
    prescription: str = ""
    sessions_by_status: dict[str, int] = field(default_factory=dict)
    reps_done: int = 0
    sessions_per_day: dict[date, int] = field(default_factory=dict)
    prescribed_per_day: int | None = None
    # pattern id -> [(day, median, n)]
    coactivation: Daily = field(default_factory=dict)
    target_mm: Daily = field(default_factory=dict)
    eye_ratio: Daily = field(default_factory=dict)
    face_share: list[tuple[date, float, int]] = field(default_factory=list)
    # week start (Monday) -> (scheduled breaks, requested breaks)
    breaks_per_week: dict[date, tuple[int, int]] = field(default_factory=dict)
    # days on which the prescribed plan changed (marked on every dated chart)
    changes: list[date] = field(default_factory=list)
    # region -> reps in which it was the quiet region that moved most
    quiet_moved: dict[str, int] = field(default_factory=dict)
    # pattern id -> quality -> (yes, judged); judged == 0 means "not measured"
    qualities: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    # drawing for a web page: over long periods only the weekly lines (no daily dots)
    web: bool = False


def _daily(values: Mapping[tuple[str, date], list[float]]) -> Daily:
    out: Daily = defaultdict(list)
    for (pid, day), vals in sorted(values.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        out[pid].append((day, statistics.median(vals), len(vals)))
    return dict(out)


_num = schema.as_float  # the record schema's readers: one way to read a stored value
_flag = schema.as_flag
quiet_region = schema.quiet_region


def report_data(
    unit_id: str,
    sessions: Sequence[Mapping[str, Any]],
    reps: Sequence[Mapping[str, Any]],
    break_events: Sequence[Mapping[str, Any]] | None,
    generated: str,
    tz: tzinfo | None = None,
    *,
    alias: str = "",
    affected_side: str = "",
    prescription: str = "",
    prescribed_per_day: int | None = None,
    changes: Sequence[date] | None = None,
) -> ReportData:
    """Aggregate rows (dict-like, column names as in the store) into per-day numbers.

    ``break_events``: the store's ``break_started`` events; None takes the per-session
    ``breaks_scheduled``/``breaks_requested`` counts instead (as the export CSV has them).
    ``changes``: days the prescription changed; None finds them in the sessions' plans.
    """
    data = ReportData(unit_id, None, None, generated, alias=alias, affected_side=affected_side,
                      prescription=prescription, prescribed_per_day=prescribed_per_day)
    days: list[date] = []
    weeks: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    found_changes: list[date] = []
    last_plan: Any = None
    for s in sessions:
        day = local_date(s["started_utc"], tz).date()
        days.append(day)
        data.sessions_by_status[s["status"]] = data.sessions_by_status.get(s["status"], 0) + 1
        data.sessions_per_day[day] = data.sessions_per_day.get(day, 0) + 1
        plan = s.get("plan_json") or s.get("plan_source")
        if plan and last_plan is not None and plan != last_plan and (
                not found_changes or found_changes[-1] != day):
            found_changes.append(day)
        last_plan = plan or last_plan
        if break_events is None:
            week = day - timedelta(days=day.weekday())
            weeks[week][0] += int(_num(s.get("breaks_scheduled")) or 0)
            weeks[week][1] += int(_num(s.get("breaks_requested")) or 0)
    data.changes = sorted(changes) if changes is not None else found_changes
    if days:
        data.first_day, data.last_day = min(days), max(days)
    co: dict[tuple[str, date], list[float]] = defaultdict(list)
    tgt: dict[tuple[str, date], list[float]] = defaultdict(list)
    eye: dict[tuple[str, date], list[float]] = defaultdict(list)
    face: dict[date, list[float]] = defaultdict(list)
    moved: dict[str, int] = defaultdict(int)
    quals: dict[str, dict[str, list[int]]] = defaultdict(lambda: {q: [0, 0] for q in QUALITIES})
    for r in reps:
        if r["status"] != "done":
            continue
        data.reps_done += 1
        pid = r["pattern_id"] or "?"
        day = local_date(r["ended_utc"], tz).date()
        if (v := _num(r.get("coactivation"))) is not None:
            co[(pid, day)].append(v)
        if (v := _num(r.get("target_mm"))) is not None:
            tgt[(pid, day)].append(v)
        if (v := _num(r.get("eye_ratio"))) is not None and (r.get("target_region") or "") != "eye":
            eye[(pid, day)].append(v)
        if (v := _num(r.get("face_share"))) is not None:
            face[day].append(v)
        if (region := quiet_region(r)) is not None:
            moved[region] += 1
        judged = quals[pid]  # every practised pattern gets a row, "not measured" if need be
        for q in QUALITIES:
            flag = _flag(r.get(q))
            if flag is not None:
                judged[q][1] += 1
                judged[q][0] += int(flag)
    data.coactivation, data.target_mm, data.eye_ratio = _daily(co), _daily(tgt), _daily(eye)
    data.face_share = _daily({("all", d): v for d, v in face.items()}).get("all", [])
    data.quiet_moved = dict(moved)
    data.qualities = {p: {q: (v[0], v[1]) for q, v in qs.items()} for p, qs in quals.items()}
    for e in break_events or ():
        day = local_date(e["at_utc"], tz).date()
        week = day - timedelta(days=day.weekday())
        weeks[week][1 if e["requested"] else 0] += 1
    data.breaks_per_week = {w: (v[0], v[1]) for w, v in sorted(weeks.items())}
    return data


def pattern_name(pid: str) -> str:
    """A pattern's plain name (its id when unknown)."""
    p = library().get(pid)
    return p.name if p else pid


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
        pad = timedelta(days=max(1, span // 40))
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
    if ylim:
        ax.set_ylim(*ylim)
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
    step = max(1, math.ceil(len(weeks) / MAX_WEEK_LABELS))
    ax.set_xticks(xs[::step], [f"{w:%d %b}" for w in weeks][::step], rotation=30, ha="right")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("week starting")
    ax.set_ylabel("breaks")
    ax.grid(axis="y", color="0.85")
    ax.legend(loc="upper left", frameon=True, edgecolor="black", fontsize=11)


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
        ax.bar(xs, ys, width=width, color=str(0.25 + 0.2 * j), edgecolor="black",
               hatch=HATCHES[j % len(HATCHES)], label=q)
    ax.set_xticks(range(len(pids)), [pattern_name(p) for p in pids], rotation=15, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of movements")
    ax.grid(axis="y", color="0.85")
    ax.legend(loc="lower left", ncols=4, frameon=True, edgecolor="black", fontsize=10)


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
    "practice": ("Practice against the prescription",
                 "Sessions started each day; the line is the prescribed number a day.",
                 draw_practice),
    "qualities": ("Slow, small, quiet and released",
                  "Share of movements judged slow, small, quiet and released, per pattern. "
                  "Higher is better.", draw_qualities),
    "coactivation": ("Did the quiet muscles stay quiet?",
                     "Coactivation = movement of the regions that should stay still, divided by "
                     "all movement (median per day). Lower is better.",
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
                 "Share of each movement's frames in which the face was found and scored "
                 "(median per day). Low values make the other charts less certain.",
                 draw_tracking),
    "breaks": ("Release breaks taken",
               "Release breaks per week: those the plan scheduled after each pattern, and those "
               "the patient asked for with a long press. Asking for breaks is good: a relaxed "
               "face moves more smoothly.", draw_breaks),
}


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
    rx = data.prescription or "standard gentle plan (nothing prescribed)"
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
        pages.append(_page_calendar(plt, data))
        span = (data.last_day - data.first_day).days if data.first_day and data.last_day else 0
        if span > 7 * CALENDAR_WEEKS:
            pages.append(_page(plt, data, "Practice sessions per week",
                               "Sessions started in each week of the whole period (the calendar "
                               f"on the first page shows the last {CALENDAR_WEEKS} weeks); the "
                               "line is the prescribed number a day.", draw_practice))
        for name in ("coactivation", "target", "eye_ratio", "breaks"):
            title, note, draw = CHARTS[name]
            many = name != "breaks" and max(
                (len(v) for v in getattr(data, {"target": "target_mm"}.get(name, name)).values()),
                default=0) > 45
            if many:
                note += " Over many weeks: small dots are days, the lines join weekly medians."
            pages.append(_page(plt, data, title, note, draw))
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
    draw(ax, data)
    return fig


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
    fig, ax = _figure(plt, data, "Practice sessions per day", note)
    if not data.first_day or not data.last_day:
        no_data(ax, "No sessions recorded.")
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
