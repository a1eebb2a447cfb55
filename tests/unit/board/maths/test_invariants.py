"""Properties over random histories: the March invariant and nulls never becoming zero."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demandhub.board.maths.cells import Cell, Unit
from demandhub.board.maths.dashboard import MeasureSpec, PeriodValue, compute_row
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.rules import BoardRules

pytestmark = pytest.mark.unit

HISTORY_MONTHS = 60


def _cell(unit: Unit) -> st.SearchStrategy[Cell]:
    if unit == "count":
        return st.integers(0, 5000).map(Cell)
    if unit == "percent":
        return st.integers(1, 2000).flatmap(lambda d: st.integers(0, d).map(lambda x: Cell(x, d)))
    if unit == "level":
        return st.integers(0, 5000).map(Cell.level)
    return st.tuples(st.integers(1, 200), st.floats(0, 120), st.floats(0, 30)).map(
        lambda t: Cell(t[0] * t[1], t[0], (t[0] - 1) * t[2] ** 2 + t[0] * t[1] ** 2)
    )


@st.composite
def histories(draw: st.DrawFn, last: YearMonth) -> tuple[Unit, dict[YearMonth, Cell | None]]:
    unit: Unit = draw(st.sampled_from(["count", "percent", "minutes", "level"]))
    cells = draw(
        st.lists(st.one_of(st.none(), _cell(unit)), min_size=HISTORY_MONTHS, max_size=HISTORY_MONTHS)
    )
    first = last - (HISTORY_MONTHS - 1)
    # A null month is sometimes an explicit None and sometimes absent: both must read as null.
    return unit, {first + i: c for i, c in enumerate(cells) if c is not None or i % 2}


def _same(a: PeriodValue, b: PeriodValue) -> bool:
    return (a.months, a.cell, a.value, a.missing) == (b.months, b.cell, b.value, b.missing)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), year=st.integers(2000, 2040))
def test_march_fytd_equals_rolling_12_and_fytd_minus_1y_equals_baseline(
    data: st.DataObject, year: int
) -> None:
    month = YearMonth(year, 3)
    unit, series = data.draw(histories(month))
    measure = MeasureSpec("m", "M", unit, "neutral", "T")
    row = compute_row(measure, series, month, BoardRules())
    assert _same(row.fytd, row.rolling_12)
    assert _same(row.fytd_minus_1y, row.baseline)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), year=st.integers(2000, 2040), start=st.integers(1, 12))
def test_invariant_holds_for_any_financial_year_start(data: st.DataObject, year: int, start: int) -> None:
    month = YearMonth(year, start) - 1  # the last month of a financial year
    unit, series = data.draw(histories(month))
    rules = BoardRules(fy_start_month=start)
    row = compute_row(MeasureSpec("m", "M", unit, "neutral", "T"), series, month, rules)
    assert _same(row.fytd, row.rolling_12)
    assert _same(row.fytd_minus_1y, row.baseline)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), month_of_year=st.integers(1, 12))
def test_a_null_month_never_becomes_a_value(data: st.DataObject, month_of_year: int) -> None:
    month = YearMonth(2019, month_of_year)
    unit, series = data.draw(histories(month))
    row = compute_row(MeasureSpec("m", "M", unit, "neutral", "T"), series, month, BoardRules())
    for name, column in row.value_columns().items():
        has_null = any(series.get(m) is None for m in column.months)
        if has_null:
            assert column.value is None and column.cell is None, name
    for name, column in row.label_columns().items():
        if column.subject.cell is None or column.reference.cell is None:
            assert column.label == "n/a", name
