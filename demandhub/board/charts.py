"""Trend charts: a measure's last 36 months with its SPC control limits and the current month marked.

Drawn with matplotlib's object API (no pyplot state, no display) as SVG: the HTML page embeds it and
the PDF engine draws it as vectors, so the charts print at any resolution. Null months are
gaps in the line. The centre line and the limits are the mean ± k·σ of the monthly values before the
as-of month (:func:`streams.domain.board.dashboard.control_limits`); a measure with too short a
history has no limits.
"""

from __future__ import annotations

import io

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from demandhub.board.report import TrendChart

UNIT_AXIS: dict[str, str] = {"count": "count", "percent": "%", "minutes": "minutes", "level": "level"}


def chart_title(chart: TrendChart) -> str:
    """``"<measure> (to Mon-YY)"``."""
    return f"{chart.name} (to {chart.as_of.label()})"


def draw_trend(ax: Axes, chart: TrendChart, title_size: float | None = 8) -> None:
    """Draw ``chart`` on ``ax`` (no title when ``title_size`` is None: the page captions it)."""
    xs = list(range(len(chart.months)))
    if all(v is None for v in chart.values):
        ax.text(0.5, 0.5, "no complete months", transform=ax.transAxes, ha="center", fontsize=8)
    ys = [float("nan") if v is None else v for v in chart.values]
    ax.plot(xs, ys, color="#1f4e79", linewidth=1.2)
    # A month with no neighbour draws no line: mark it (one path, not a marker per month, keeps the
    # SVG small enough for the PDF engine to draw quickly).
    alone = [
        i
        for i, v in enumerate(ys)
        if v == v and all(not (0 <= j < len(ys)) or ys[j] != ys[j] for j in (i - 1, i + 1))
    ]
    if alone:
        ax.plot([xs[i] for i in alone], [ys[i] for i in alone], "o", color="#1f4e79", markersize=2)
    if chart.mean is not None and chart.lower is not None and chart.upper is not None:
        ax.axhline(chart.mean, color="#7f7f7f", linewidth=0.8, linestyle="-")
        ax.axhline(chart.upper, color="#c00000", linewidth=0.8, linestyle="--")
        ax.axhline(chart.lower, color="#c00000", linewidth=0.8, linestyle="--")
    last = chart.values[-1]
    if last is not None:
        ax.plot([xs[-1]], [last], marker="o", markersize=6, color="#ff8c00", zorder=5)
    ticks = [i for i, m in enumerate(chart.months) if m.month in (1, 4, 7, 10)]
    ax.set_xticks(ticks, [chart.months[i].label() for i in ticks], fontsize=6, rotation=45)
    ax.tick_params(axis="y", labelsize=6)
    ax.set_ylabel(UNIT_AXIS.get(chart.unit, chart.unit), fontsize=6)
    if title_size is not None:
        ax.set_title(chart_title(chart), fontsize=title_size, loc="left")
    ax.grid(True, linewidth=0.3, alpha=0.5)


def trend_svg(chart: TrendChart, width: float = 4.2, height: float = 1.9) -> str:
    """One chart, untitled (the page captions it), as an SVG document (text kept as text; the same
    chart gives the same bytes)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasSVG(fig)
    ax = fig.add_subplot(1, 1, 1)
    draw_trend(ax, chart, title_size=None)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.96, bottom=0.25)
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": chart.measure_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return buf.getvalue()
