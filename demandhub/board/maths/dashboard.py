"""The dashboard row: the board's 12 columns for one measure and one month.

Columns (DOMAIN 5.1), for the measure's as-of month m = pack month - ``as_of_lag_months``:

* ``current`` m; ``minus_1y`` / ``minus_2y`` / ``minus_3y`` the same month 1, 2, 3 years earlier;
* ``fytd`` the financial year's first month .. m; ``fytd_minus_1y`` the same span a year earlier;
* ``rolling_12`` m-11..m; ``baseline`` m-23..m-12 by default (or a fixed period);
* ``v1y`` label: m against the mean month of the baseline; ``v3y`` label: m against the mean month
  of m-47..m-12 (configurable); ``perf_v_benchmark`` label: rolling 12 against the baseline;
* ``msf`` an imported peer figure, passed in (None when there is none).

Counts are summed, ratios pooled (Σnum/Σden) and means taken over the underlying records. A level
(a stock such as a queue's month-end depth) is never summed: a period's value is the mean of its
months' levels (e.g. the rolling 12 column is the mean month-end depth over the rolling year). The
mean month of a count is its total over the months pooled; of a ratio, the pooled ratio; of a
mean, the pooled mean; of a level, the same mean of the monthly levels. With
``require_complete_periods`` (the default) a period with any null month is null.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from demandhub.board.maths.cells import UNITS, Cell, Unit, pool
from demandhub.board.maths.format import fmt_value
from demandhub.board.maths.months import YearMonth, fytd_months, month_range
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.stats import Comparison, compare_cells, spc_test

Polarity = Literal["higher_is_better", "lower_is_better", "neutral"]
POLARITIES: tuple[Polarity, ...] = ("higher_is_better", "lower_is_better", "neutral")

VALUE_COLUMNS: tuple[str, ...] = (
    "current",
    "minus_1y",
    "minus_2y",
    "minus_3y",
    "fytd",
    "fytd_minus_1y",
    "rolling_12",
    "baseline",
)
LABEL_COLUMNS: tuple[str, ...] = ("v1y", "v3y", "perf_v_benchmark")
COLUMNS: tuple[str, ...] = (
    "current",
    "minus_1y",
    "minus_2y",
    "minus_3y",
    "v1y",
    "v3y",
    "fytd",
    "fytd_minus_1y",
    "rolling_12",
    "baseline",
    "perf_v_benchmark",
    "msf",
)


@dataclass(frozen=True)
class MeasureSpec:
    """A dashboard measure. ``noun`` (plural, e.g. "crimes") is used by the narrative for counts
    and levels. ``decimals`` is how many decimal places a count's or level's figures print with
    (0: whole numbers; days lost per person take 2); percentages and minutes keep their formats."""

    id: str
    name: str
    unit: Unit
    polarity: Polarity
    theme: str
    as_of_lag_months: int = 0
    noun: str | None = None
    decimals: int = 0

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}")
        if self.polarity not in POLARITIES:
            raise ValueError(f"unknown polarity {self.polarity!r}")
        if self.as_of_lag_months < 0:
            raise ValueError("as_of_lag_months must be >= 0")
        if not 0 <= self.decimals <= 4:
            raise ValueError("decimals must be between 0 and 4")
        if self.decimals and self.unit not in ("count", "level"):
            raise ValueError("decimals apply to count and level measures only")

    def as_of(self, month: YearMonth) -> YearMonth:
        """The measure's own as-of month in the pack for ``month``."""
        return month - self.as_of_lag_months


def span_header(months: tuple[YearMonth, ...]) -> str:
    """``"Mar-19"`` for one month, ``"Apr-18 to Mar-19"`` for a span."""
    if not months:
        return ""
    if len(months) == 1:
        return months[0].label()
    return f"{months[0].label()} to {months[-1].label()}"


@dataclass(frozen=True)
class PeriodValue:
    """A value column: the months it covers, the pooled cell and the value (None when null)."""

    months: tuple[YearMonth, ...]
    cell: Cell | None
    value: float | None
    missing: tuple[YearMonth, ...]

    @property
    def exposure(self) -> int:
        """Number of months pooled into ``cell``."""
        return 0 if self.cell is None else len(self.months) - len(self.missing)

    def header(self) -> str:
        """The real months covered, e.g. ``"Apr-18 to Mar-19"``."""
        return span_header(self.months)

    def cells_dict(self) -> dict[str, Any]:
        """Numerator, denominator and months for the pack's ``cells`` block."""
        cell = self.cell.as_dict() if self.cell is not None else {"num": None, "den": None}
        return {
            **cell,
            "from": str(self.months[0]) if self.months else None,
            "to": str(self.months[-1]) if self.months else None,
            "months_pooled": self.exposure,
            "missing": [str(m) for m in self.missing],
        }


@dataclass(frozen=True)
class LabelColumn:
    """A label column: the comparison and the two sides it was made on.

    ``subject_value`` and ``reference_value`` are what was compared: mean months for the statistical
    tests (a count's total over its months, a ratio's pooled value, a level's mean of its monthly
    levels), or the current month's value
    and the SPC centre line (the mean of the monthly values).
    """

    comparison: Comparison
    subject: PeriodValue
    reference: PeriodValue
    subject_value: float | None
    reference_value: float | None

    @property
    def label(self) -> str:
        return self.comparison.label

    def header(self) -> str:
        return f"{self.subject.header()} v {self.reference.header()}"

    def cells_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.cells_dict(),
            "reference": self.reference.cells_dict(),
            "subject_value": self.subject_value,
            "reference_value": self.reference_value,
            "statistic": self.comparison.statistic,
            "reason": self.comparison.reason,
            "dispersion": self.comparison.dispersion,
        }


@dataclass(frozen=True)
class DashboardRow:
    """The 12 columns of one measure for its as-of month."""

    measure: MeasureSpec
    as_of: YearMonth
    current: PeriodValue
    minus_1y: PeriodValue
    minus_2y: PeriodValue
    minus_3y: PeriodValue
    v1y: LabelColumn
    v3y: LabelColumn
    fytd: PeriodValue
    fytd_minus_1y: PeriodValue
    rolling_12: PeriodValue
    baseline: PeriodValue
    perf_v_benchmark: LabelColumn
    msf: float | None

    def value_columns(self) -> dict[str, PeriodValue]:
        return {name: getattr(self, name) for name in VALUE_COLUMNS}

    def label_columns(self) -> dict[str, LabelColumn]:
        return {name: getattr(self, name) for name in LABEL_COLUMNS}

    def headers(self) -> dict[str, str | None]:
        """Column headers with the real months; MSF has none (its period is the peer source's)."""
        out: dict[str, str | None] = {}
        for name in COLUMNS:
            column = getattr(self, name)
            out[name] = None if name == "msf" else column.header()
        return out


def period_value(
    series: Mapping[YearMonth, Cell | None],
    months: tuple[YearMonth, ...],
    unit: Unit,
    rules: BoardRules,
) -> PeriodValue:
    """Pool ``series`` over ``months``; null if no month has data, or any is null and periods
    must be complete."""
    missing = tuple(m for m in months if series.get(m) is None)
    if missing and (rules.require_complete_periods or len(missing) == len(months)):
        return PeriodValue(months, None, None, missing)
    cell = pool(c for m in months if (c := series.get(m)) is not None)
    value = None if cell is None else cell.value(unit)
    return PeriodValue(months, cell, value, missing)


def mean_month(period: PeriodValue, unit: Unit) -> float | None:
    """A count's total over the months pooled; a ratio's or mean's pooled value; a level's mean
    of its monthly levels (which is already the period's value, see :mod:`cells`)."""
    if period.cell is None:
        return None
    if unit == "count":
        return period.cell.num / period.exposure
    return period.value


def baseline_months(as_of: YearMonth, rules: BoardRules) -> tuple[YearMonth, ...]:
    """The baseline period for ``as_of``: rolling offsets or the fixed period."""
    if rules.baseline == "fixed":
        assert rules.baseline_from is not None and rules.baseline_to is not None
        return month_range(YearMonth.from_str(rules.baseline_from), YearMonth.from_str(rules.baseline_to))
    return month_range(as_of - rules.baseline_from_offset, as_of - rules.baseline_to_offset)


def v3y_months(as_of: YearMonth, rules: BoardRules) -> tuple[YearMonth, ...]:
    """The Current v 3yr avg reference window: m-47..m-12 by default; with
    ``v3y_window = "same_month"`` the same calendar month of the three prior years."""
    if rules.v3y_window == "same_month":
        return (as_of - 36, as_of - 24, as_of - 12)
    return month_range(as_of - rules.v3y_from_offset, as_of - rules.v3y_to_offset)


def rolling_12_months(as_of: YearMonth) -> tuple[YearMonth, ...]:
    return month_range(as_of - 11, as_of)


@dataclass(frozen=True)
class ControlLimits:
    """SPC limits from the ``months`` before the as-of month (nulls skipped)."""

    months: tuple[YearMonth, ...]
    values: tuple[float, ...]
    mean: float
    sigma: float
    lower: float
    upper: float


def spc_window(as_of: YearMonth, rules: BoardRules) -> tuple[YearMonth, ...]:
    """The ``spc_months`` months before ``as_of``."""
    return month_range(as_of - rules.spc_months, as_of - 1)


def _monthly_values(
    series: Mapping[YearMonth, Cell | None], months: tuple[YearMonth, ...], unit: Unit
) -> tuple[float, ...]:
    values = (c.value(unit) for m in months if (c := series.get(m)) is not None)
    return tuple(v for v in values if v is not None)


def control_limits(
    series: Mapping[YearMonth, Cell | None], unit: Unit, as_of: YearMonth, rules: BoardRules
) -> ControlLimits | None:
    """Mean ± spc_k·σ (sample SD) of the monthly values before ``as_of``; None if too few."""
    months = spc_window(as_of, rules)
    values = _monthly_values(series, months, unit)
    if len(values) < max(rules.spc_min_months, 2):
        return None
    mean = sum(values) / len(values)
    sigma = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return ControlLimits(months, values, mean, sigma, mean - rules.spc_k * sigma, mean + rules.spc_k * sigma)


def _within_min_effect(a: float, b: float, rules: BoardRules) -> str | None:
    diff = abs(a - b)
    if rules.min_effect_abs is not None and diff <= rules.min_effect_abs:
        return f"difference within the minimum effect of {rules.min_effect_abs}"
    if rules.min_effect_rel is not None and diff <= rules.min_effect_rel * abs(b):
        return f"difference within the minimum effect of {rules.min_effect_rel:.0%} of the reference"
    return None


def _floor(
    comparison: Comparison,
    a: float | None,
    b: float | None,
    unit: Unit,
    rules: BoardRules,
    decimals: int = 0,
) -> Comparison:
    """Higher / Lower becomes Comparable when, with ``min_effect = "printed"`` (the default), the
    two compared values print the same (to the measure's ``decimals``), or when they differ by no
    more than ``min_effect_abs`` or ``min_effect_rel`` of the reference (each off unless set)."""
    if comparison.label not in ("Higher", "Lower") or a is None or b is None:
        return comparison
    reason: str | None = None
    if rules.min_effect == "printed" and fmt_value(a, unit, decimals) == fmt_value(b, unit, decimals):
        reason = "equal when rounded as printed"
    else:
        reason = _within_min_effect(a, b, rules)
    if reason is None:
        return comparison
    return Comparison(
        "Comparable",
        comparison.test,
        comparison.p_value,
        comparison.statistic,
        reason,
        comparison.dispersion,
    )


def _stat_label(
    series: Mapping[YearMonth, Cell | None],
    unit: Unit,
    subject: PeriodValue,
    reference: PeriodValue,
    rules: BoardRules,
    decimals: int = 0,
) -> LabelColumn:
    monthly = tuple(c for m in reference.months if (c := series.get(m)) is not None)
    comparison = compare_cells(
        unit, subject.cell, subject.exposure, reference.cell, reference.exposure, rules, monthly
    )
    a, b = mean_month(subject, unit), mean_month(reference, unit)
    return LabelColumn(_floor(comparison, a, b, unit, rules, decimals), subject, reference, a, b)


def _spc_label(
    series: Mapping[YearMonth, Cell | None],
    unit: Unit,
    subject: PeriodValue,
    reference_period: PeriodValue,
    rules: BoardRules,
    decimals: int = 0,
) -> LabelColumn:
    # The control limits come from the label's own reference window (v1y: the baseline months,
    # v3y: its window), so the two labels judge the month against different histories.
    window = reference_period.months
    history = _monthly_values(series, window, unit)
    comparison = spc_test(subject.value, history, rules)
    reference = PeriodValue(window, None, None, tuple(m for m in window if series.get(m) is None))
    centre = sum(history) / len(history) if history else None
    comparison = _floor(comparison, subject.value, centre, unit, rules, decimals)
    return LabelColumn(comparison, subject, reference, subject.value, centre)


def _single_month_label(
    series: Mapping[YearMonth, Cell | None],
    unit: Unit,
    subject: PeriodValue,
    reference: PeriodValue,
    rules: BoardRules,
    decimals: int = 0,
) -> LabelColumn:
    if rules.label_method == "spc":
        return _spc_label(series, unit, subject, reference, rules, decimals)
    return _stat_label(series, unit, subject, reference, rules, decimals)


def compute_row(
    measure: MeasureSpec,
    series: Mapping[YearMonth, Cell | None],
    month: YearMonth,
    rules: BoardRules,
    msf: float | None = None,
) -> DashboardRow:
    """The dashboard row of ``measure`` in the pack for ``month`` (as-of = month - lag).

    ``series`` maps months to cells; an absent or None month is null. Pure: no I/O.
    """
    as_of = measure.as_of(month)
    unit, dp = measure.unit, measure.decimals

    def pv(months: tuple[YearMonth, ...]) -> PeriodValue:
        return period_value(series, months, unit, rules)

    current = pv((as_of,))
    fytd = fytd_months(as_of, rules.fy_start_month)
    rolling, baseline = pv(rolling_12_months(as_of)), pv(baseline_months(as_of, rules))
    return DashboardRow(
        measure=measure,
        as_of=as_of,
        current=current,
        minus_1y=pv((as_of - 12,)),
        minus_2y=pv((as_of - 24,)),
        minus_3y=pv((as_of - 36,)),
        v1y=_single_month_label(series, unit, current, baseline, rules, dp),
        v3y=_single_month_label(series, unit, current, pv(v3y_months(as_of, rules)), rules, dp),
        fytd=pv(fytd),
        fytd_minus_1y=pv(tuple(m - 12 for m in fytd)),
        rolling_12=rolling,
        baseline=baseline,
        perf_v_benchmark=_stat_label(series, unit, rolling, baseline, rules, dp),
        msf=msf,
    )


__all__ = [
    "COLUMNS",
    "LABEL_COLUMNS",
    "VALUE_COLUMNS",
    "Comparison",
    "ControlLimits",
    "DashboardRow",
    "LabelColumn",
    "MeasureSpec",
    "PeriodValue",
    "compute_row",
    "control_limits",
]
