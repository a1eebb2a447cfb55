"""A measure's trend chart as the pack computes it: the monthly values of the chart window and its
control chart (:mod:`demandhub.board.maths.spc`), and the signals the chart names. Pure: no I/O.

The pack computes each chart once (:func:`measure_chart`); the drawn chart and the briefing's
summary both read that one object, so they cannot disagree.

Window: the ``chart_months`` months to the as-of month are shown; the limits come from the
``rules.spc_months`` months before the as-of month (:func:`~demandhub.board.maths.dashboard.spc_window`,
at least ``rules.spc_min_months`` of them non-null); the rules are judged on the shown months alone.
Counts use the days in each month as their exposure.

A signal (:class:`ChartSignal`) is a month on which a rule fires (the point the chart names the
rule on), with the direction of each rule: "beyond limits" up when above the upper limit, "run of
8" up when above the centre line, "trend of 6" up when rising.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.dashboard import MeasureSpec, spc_window
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.spc import ControlChart, Rule, control_chart

Direction = Literal["up", "down"]
SeriesMap = Mapping[YearMonth, Cell | None]


@dataclass(frozen=True)
class ChartSignal:
    """The rules that fire on ``month`` and the direction of each (same order)."""

    month: YearMonth
    rules: tuple[Rule, ...]
    directions: tuple[Direction, ...]

    @property
    def direction(self) -> Direction:
        """The direction of the first rule (beyond limits, then run of 8, then trend of 6)."""
        return self.directions[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "rules": [{"rule": r, "direction": d} for r, d in zip(self.rules, self.directions, strict=True)],
        }


@dataclass(frozen=True)
class MeasureChart:
    """One measure's chart: the shown months and values and the control chart (None when the
    baseline holds too few values); ``baseline`` is the first and last month the limits come from."""

    measure_id: str
    unit: str
    as_of: YearMonth
    months: tuple[YearMonth, ...]
    values: tuple[float | None, ...]
    spc: ControlChart | None
    baseline: tuple[YearMonth, YearMonth]

    def signals(self) -> tuple[ChartSignal, ...]:
        """Every shown month on which a rule fires, in month order."""
        if self.spc is None:
            return ()
        return tuple(
            ChartSignal(self.months[i], rules, tuple(_direction(self.spc, i, r) for r in rules))
            for i, rules in enumerate(self.spc.fired)
            if rules
        )

    @property
    def signal(self) -> ChartSignal | None:
        """The as-of month's signal, if a rule fires on it."""
        found = self.signals()
        return found[-1] if found and found[-1].month == self.as_of else None

    def as_dict(self) -> dict[str, Any] | None:
        """The chart in the pack JSON (null when there is no control chart)."""
        spc = self.spc
        if spc is None:
            return None
        signal = self.signal
        return {
            "chart": spc.kind,
            "name": spc.name,
            "months": len(self.months),
            "from": str(self.months[0]),
            "to": str(self.months[-1]),
            "baseline": {"from": str(self.baseline[0]), "to": str(self.baseline[1])},
            "sigma_z": spc.sigma_z,
            "centre": spc.centre[-1],
            "lower": spc.lower[-1],
            "upper": spc.upper[-1],
            "signal": None if signal is None else signal.as_dict(),
            "signals": [s.as_dict() for s in self.signals()],
        }


def _direction(spc: ControlChart, i: int, rule: Rule) -> Direction:
    value = spc.values[i]
    assert value is not None  # a rule fires only on a month with a value
    if rule == "beyond limits":
        return "up" if value > spc.upper[i] else "down"
    if rule == "run of 8":
        return "up" if value > spc.centre[i] else "down"
    before = spc.values[i - 1]
    assert before is not None
    return "up" if value > before else "down"


def measure_chart(
    measure: MeasureSpec, series: SeriesMap, as_of: YearMonth, rules: BoardRules, chart_months: int
) -> MeasureChart:
    """The chart of ``measure`` to ``as_of`` (module docstring)."""
    window = spc_window(as_of, rules)
    months = month_range(min(as_of - (chart_months - 1), window[0]), as_of)
    cells = [series.get(x) for x in months]
    values = tuple(None if c is None else c.value(measure.unit) for c in cells)
    in_window = set(window)
    spc = control_chart(
        measure.unit,
        values,
        [x in in_window for x in months],
        nums=[None if c is None else c.num for c in cells],
        dens=[None if c is None else c.den for c in cells],
        exposures=[float(calendar.monthrange(x.year, x.month)[1]) for x in months],
        min_baseline=rules.spc_min_months,
    )
    return MeasureChart(
        measure.id,
        measure.unit,
        as_of,
        tuple(months[-chart_months:]),
        values[-chart_months:],
        None if spc is None else spc.tail(chart_months),
        (window[0], window[-1]),
    )


__all__ = ["ChartSignal", "MeasureChart", "measure_chart"]
