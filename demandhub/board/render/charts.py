"""Trend charts: a measure's last months as a control chart that suits its unit, with the rules
that fired named on their points.

The chart and its limits are computed in :mod:`demandhub.board.maths.spc` (XmR for means and
levels, p-chart with per-month limits for percentages, c- or u-chart for counts; Laney's p′/u′ when
the data are over-dispersed; limits clipped to the unit's possible range). This module only draws:
the monthly values from the first month with data, the centre line, the control limits (stepped
when they change month by month), each signalling month marked and the rule that fired on it
named beside it, the as-of month marked, and a legend. A measure with no data has no chart: the
figure says "no data".

Drawn with matplotlib's object API (no pyplot state, no display) as SVG: the HTML page embeds it and
the PDF engine draws it as vectors, so the charts print at any resolution. Null months are gaps in
the line.
"""

from __future__ import annotations

import io
import math

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from demandhub.board.maths.spc import possible_range
from demandhub.board.report import TrendChart

UNIT_AXIS: dict[str, str] = {"count": "count", "percent": "%", "minutes": "minutes", "level": "level"}
LINE = "#1f4e79"
CENTRE = "#595959"
LIMIT = "#c00000"
SIGNAL = "#c00000"
CURRENT = "#ff8c00"
NO_DATA = "no data"
SHORT_RULE: dict[str, str] = {
    "beyond limits": "beyond limits",
    "run of 8": "run of 8",
    "trend of 6": "trend of 6",
}


def chart_title(chart: TrendChart) -> str:
    """``"<measure> (to Mon-YY)"``."""
    return f"{chart.name} (to {chart.as_of.label()})"


def chart_note(chart: TrendChart) -> str:
    """One line naming the chart and its rules, e.g. ``"p-chart; limits from the 36 months before
    Mar-19"``, or why there is none."""
    if not chart.has_data:
        return NO_DATA
    if chart.spc is None:
        return "too few months for control limits"
    return f"{chart.spc.name}, 3σ limits from the months before {chart.as_of.label()}"


def _first_with_data(chart: TrendChart) -> int:
    return next((i for i, v in enumerate(chart.values) if v is not None), len(chart.values))


def _no_data(ax: Axes) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, NO_DATA, transform=ax.transAxes, ha="center", va="center", fontsize=9, color=CENTRE)


def draw_trend(ax: Axes, chart: TrendChart, title_size: float | None = 8) -> None:
    """Draw ``chart`` on ``ax`` (no title when ``title_size`` is None: the page captions it)."""
    if title_size is not None:
        ax.set_title(chart_title(chart), fontsize=title_size, loc="left", pad=12)
    if not chart.has_data:
        _no_data(ax)
        return
    k = _first_with_data(chart)
    months = chart.months[k:]
    ys = [math.nan if v is None else v for v in chart.values[k:]]
    xs = list(range(len(months)))
    handles: list[Line2D] = []
    (line,) = ax.plot(xs, ys, color=LINE, linewidth=1.1, label="Month")
    handles.append(line)
    # A month with no neighbour draws no line: mark it (one path, not a marker per month, keeps the
    # SVG small enough for the PDF engine to draw quickly).
    alone = [
        i
        for i, v in enumerate(ys)
        if v == v and all(not (0 <= j < len(ys)) or ys[j] != ys[j] for j in (i - 1, i + 1))
    ]
    if alone:
        ax.plot([xs[i] for i in alone], [ys[i] for i in alone], "o", color=LINE, markersize=2)
    spc = chart.spc
    if spc is not None:
        centre, lower, upper = spc.centre[k:], spc.lower[k:], spc.upper[k:]
        steps = len(set(lower)) > 1 or len(set(upper)) > 1 or len(set(centre)) > 1
        drawstyle = "steps-mid" if steps else "default"
        (c,) = ax.plot(xs, centre, color=CENTRE, linewidth=0.8, label="Centre", drawstyle=drawstyle)
        (lim,) = ax.plot(
            xs,
            upper,
            color=LIMIT,
            linewidth=0.8,
            linestyle="--",
            label=f"Limits ({spc.name})",
            clip_on=False,
            zorder=3,
            drawstyle=drawstyle,
        )
        ax.plot(
            xs,
            lower,
            color=LIMIT,
            linewidth=0.8,
            linestyle="--",
            clip_on=False,
            zorder=3,
            drawstyle=drawstyle,
        )
        handles += [c, lim]
        flagged = [i for i, s in enumerate(spc.signals[k:]) if s]
        if flagged:
            (sig,) = ax.plot(
                [xs[i] for i in flagged],
                [ys[i] for i in flagged],
                "o",
                markersize=3.2,
                markerfacecolor="white",
                markeredgecolor=SIGNAL,
                markeredgewidth=1.0,
                label="Signal",
                zorder=4,
            )
            handles.append(sig)
        for i, rules in enumerate(spc.fired[k:]):
            if rules:
                ax.annotate(
                    ", ".join(SHORT_RULE[r] for r in rules),
                    (xs[i], ys[i]),
                    xytext=(0, 5 if ys[i] >= centre[i] else -5),
                    textcoords="offset points",
                    ha="right" if xs[i] > 0.8 * len(xs) else "left" if xs[i] < 0.2 * len(xs) else "center",
                    va="bottom" if ys[i] >= centre[i] else "top",
                    fontsize=4.5,
                    color=SIGNAL,
                    zorder=6,
                )
    if chart.values[-1] is not None:
        (cur,) = ax.plot(
            [xs[-1]],
            [ys[-1]],
            marker="o",
            markersize=5,
            linestyle="none",
            color=CURRENT,
            zorder=5,
            label=chart.as_of.label(),
        )
        handles.append(cur)
    low, high = possible_range(chart.unit)
    bottom, top = ax.get_ylim()
    pad = 0.12 * (top - bottom) if spc is not None and any(spc.fired[k:]) else 0.0
    top, bottom = top + pad, bottom - pad
    ax.set_ylim(max(bottom, low), top if high is None else min(top, high))
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ticks = [i for i, m in enumerate(months) if m.month in (1, 4, 7, 10)]
    if not ticks or ticks[0] >= 2:
        ticks.insert(0, 0)  # the first month with data is labelled
    ax.set_xticks(ticks, [months[i].label() for i in ticks], fontsize=5.5, rotation=45)
    ax.tick_params(axis="y", labelsize=5.5)
    ax.set_ylabel(UNIT_AXIS.get(chart.unit, chart.unit), fontsize=6)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=len(handles),
        fontsize=5,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.0,
        borderaxespad=0.2,
    )


def trend_svg(chart: TrendChart, width: float = 4.2, height: float = 2.1) -> str:
    """One chart, untitled (the page captions it), as an SVG document (text kept as text; the same
    chart gives the same bytes)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasSVG(fig)
    ax = fig.add_subplot(1, 1, 1)
    draw_trend(ax, chart, title_size=None)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.88, bottom=0.22)
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": chart.measure_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return buf.getvalue()
