"""Trend charts: a measure's last 36 months with its SPC control limits and the current month marked.

Drawn with matplotlib's object API on the Agg canvas (no pyplot state, no display). Null months are
gaps in the line. The centre line and the limits are the mean ± k·σ of the monthly values before the
as-of month (:func:`streams.domain.board.dashboard.control_limits`); a measure with too short a
history has no limits.
"""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from demandhub.board.report import TrendChart

UNIT_AXIS: dict[str, str] = {"count": "count", "percent": "%", "minutes": "minutes", "level": "level"}


def draw_trend(ax: Axes, chart: TrendChart, title_size: float = 8) -> None:
    """Draw ``chart`` on ``ax``."""
    xs = list(range(len(chart.months)))
    if all(v is None for v in chart.values):
        ax.text(0.5, 0.5, "no complete months", transform=ax.transAxes, ha="center", fontsize=8)
    ys = [float("nan") if v is None else v for v in chart.values]
    ax.plot(xs, ys, color="#1f4e79", linewidth=1.2, marker="o", markersize=2)
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
    ax.set_title(f"{chart.name} (to {chart.as_of.label()})", fontsize=title_size, loc="left")
    ax.grid(True, linewidth=0.3, alpha=0.5)


def trend_png(chart: TrendChart, width: float = 5.0, height: float = 2.2, dpi: int = 90) -> bytes:
    """One chart as PNG bytes."""
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    draw_trend(ax, chart)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.87, bottom=0.25)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
