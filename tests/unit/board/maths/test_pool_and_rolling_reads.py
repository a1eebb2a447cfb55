"""Pooling and the rolling "since" search do less work for the same figures.

``pool`` must give exactly what adding the cells one by one gives (the same floats, the same error
for a denominator pooled with none); the "highest since" sentence must compute a rolling 12 month
value only for the months it reads (back to the last month as extreme), not for all of history."""

from __future__ import annotations

from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demandhub.board.maths import narrative as nv
from demandhub.board.maths.cells import Cell, pool
from demandhub.board.maths.dashboard import MeasureSpec
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.rules import BoardRules

pytestmark = pytest.mark.unit

FLOATS = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
CELLS = st.builds(Cell, FLOATS, st.one_of(st.none(), FLOATS), st.one_of(st.none(), FLOATS))


@given(st.lists(CELLS, max_size=30))
def test_pool_is_adding_one_by_one(cells: list[Cell]) -> None:
    try:
        expected: Cell | None = reduce(lambda a, b: a + b, cells) if cells else None
    except ValueError as error:
        with pytest.raises(ValueError, match=str(error)):
            pool(cells)
        return
    got = pool(iter(cells))
    assert got == expected
    if expected is not None:
        assert (got is None) is False and repr(got) == repr(expected)


def test_pool_of_one_cell_is_that_cell_and_of_none_is_none() -> None:
    cell = Cell(3.0, 4.0, 5.0)
    assert pool([cell]) is cell
    assert pool([]) is None


CRIME = MeasureSpec("crime_all", "All crime", "count", "lower_is_better", "Victims", 0, "crimes")


def test_rolling_since_reads_only_the_months_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ten years at 110 a month, a low year at 50, a year at 100 ending with 130: the rolling total
    # to December 2024 (1230) is the highest since January 2023 (11 x 110 + 50 = 1260), 23 months back of 12 years.
    last = YearMonth(2024, 12)
    series: dict[YearMonth, Cell | None] = {m: Cell(110.0) for m in month_range(YearMonth(2013, 1), last)}
    for m in month_range(YearMonth(2023, 1), YearMonth(2023, 12)):
        series[m] = Cell(50.0)
    for m in month_range(YearMonth(2024, 1), last):
        series[m] = Cell(100.0)
    series[last] = Cell(130.0)
    read: list[YearMonth] = []
    rolling = nv._rolling

    def counting(s: nv.SeriesMap, month: YearMonth, unit: str, rules: BoardRules) -> nv.PeriodValue:
        read.append(month)
        return rolling(s, month, unit, rules)  # type: ignore[arg-type]

    monkeypatch.setattr(nv, "_rolling", counting)
    sentence = nv.t4_rolling_high_since(CRIME, series, last, BoardRules())
    assert sentence is not None and sentence.text.endswith("highest since January 2023.")
    assert len(read) == len(set(read)) == 24
