"""The trend charts as drawn: axis from the first month with data, a legend, the rule that fired
named on its point, limits inside the axis's possible range, and no chart for a measure with no
data."""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.spc import control_chart
from demandhub.board.render.charts import NO_DATA, chart_note, draw_trend, trend_svg
from demandhub.board.report import TrendChart

pytestmark = pytest.mark.unit

AS_OF = YearMonth(2019, 3)
MONTHS = month_range(AS_OF - 35, AS_OF)


def _chart(unit: str, values: list[float | None], dens: list[float | None] | None = None) -> TrendChart:
    nums = None
    if dens is not None:
        nums = [None if v is None or d is None else v * d / 100 for v, d in zip(values, dens, strict=True)]
    spc = control_chart(unit, values, [m < AS_OF for m in MONTHS], nums, dens, min_baseline=12)
    c = None if spc is None else spc
    return TrendChart(
        "m", "Measure", unit, "Theme", AS_OF, MONTHS, tuple(values),
        None if c is None else c.centre[-1], None if c is None else c.lower[-1],
        None if c is None else c.upper[-1], spc,
    )  # fmt: skip


def _axes(chart: TrendChart):
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    draw_trend(ax, chart)
    return ax


def test_axis_starts_at_the_first_month_with_data_and_has_a_legend() -> None:
    values: list[float | None] = [None] * 10 + [10.0 + (i % 3) for i in range(26)]
    ax = _axes(_chart("level", values))
    labels = [t.get_text() for t in ax.get_xticklabels()]
    # The window opens Apr-16; the data, and the axis, at Feb-17.
    assert labels[:2] == ["Feb-17", "Apr-17"]
    assert ax.get_xlim() == (-0.5, 25.5)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["Month", "Centre", "Limits (XmR chart)"] and "Mar-19" in legend


def test_the_rule_that_fired_is_named_on_its_point() -> None:
    values: list[float | None] = [10.0 + (i % 2) for i in range(35)] + [30.0]
    ax = _axes(_chart("minutes", values))
    notes = [t for t in ax.texts if t.get_text() == "beyond limits"]
    assert len(notes) == 1 and notes[0].xy[0] == 35
    assert "Signal" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert "beyond limits" in trend_svg(_chart("minutes", values))  # text kept as text in the SVG


def test_percentage_axis_and_limits_never_leave_0_to_100() -> None:
    values: list[float | None] = [98.0, 100.0, 96.0] * 12
    chart = _chart("percent", values, dens=[50.0] * 36)
    assert chart.spc is not None and max(chart.spc.upper) == 100.0
    low, high = _axes(chart).get_ylim()
    assert low >= 0 and high <= 100


def test_count_limits_never_below_zero() -> None:
    values: list[float | None] = [0.0, 1.0, 2.0, 0.0] * 9
    chart = _chart("count", values)
    assert chart.spc is not None and min(chart.spc.lower) == 0.0
    assert _axes(chart).get_ylim()[0] >= 0


def test_a_measure_with_no_data_has_no_chart() -> None:
    chart = _chart("percent", [None] * 36, dens=[None] * 36)
    assert not chart.has_data and chart_note(chart) == NO_DATA
    ax = _axes(chart)
    assert not ax.axison and [t.get_text() for t in ax.texts] == [NO_DATA] and not ax.lines
