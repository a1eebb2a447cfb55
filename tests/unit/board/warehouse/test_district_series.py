"""The narrative's district series: within the force's complete crime months every district and
offence group has a cell (a true zero where it had no crimes), and a district's cell is the float sum
of its groups' cells, whatever the rows the warehouse returns."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse import source
from schemas.definitions import Definitions

pytestmark = pytest.mark.unit

MONTHS = [YearMonth(2024, m) for m in range(1, 7)]
DEFS = Definitions()


def _expected(
    raw: dict[str, dict[str, dict[YearMonth, int]]], months: list[YearMonth]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The series as built cell by cell: float cells, zeros filled, districts summed in group order."""
    groups = {
        d: {g: {m: Cell(float(s.get(m, 0))) for m in months} for g, s in sorted(by.items())}
        for d, by in sorted(raw.items())
        if d
    }
    districts = {d: {m: Cell(sum(s[m].num for s in gs.values())) for m in months} for d, gs in groups.items()}
    return districts, groups


counts = st.dictionaries(st.sampled_from(MONTHS), st.integers(0, 5000), max_size=6)
raws = st.dictionaries(
    st.sampled_from(["", "north", "south", "east"]),
    st.dictionaries(st.sampled_from(["violence", "theft", "drugs"]), counts, min_size=1, max_size=3),
    max_size=4,
)


@given(raw=raws, last=st.integers(1, 6))
def test_district_series_fill_zeros_and_sum_groups(raw: dict[str, Any], last: int) -> None:
    months = MONTHS[:last]
    complete = {m: Cell(1.0) for m in months}
    asked: list[tuple[YearMonth, YearMonth]] = []

    def fake(wh: Any, force: str, first: YearMonth, to: YearMonth, defs: Definitions) -> Any:
        asked.append((first, to))
        return raw

    mp = pytest.MonkeyPatch()
    mp.setattr(source, "district_group_series", fake)
    try:
        districts, groups = source.district_series(None, "f", YearMonth(2023, 1), complete, DEFS)  # type: ignore[arg-type]
    finally:
        mp.undo()
    assert asked == [(months[0], months[-1])]
    want_districts, want_groups = _expected(raw, months)
    assert groups == want_groups
    assert districts == want_districts
    for series in [*districts.values(), *(s for gs in groups.values() for s in gs.values())]:
        assert all(type(cell.num) is float for cell in series.values())  # printed as 1.0, never 1


def test_no_complete_month_reads_nothing() -> None:
    assert source.district_series(None, "f", YearMonth(2023, 1), {}, DEFS) == ({}, {})  # type: ignore[arg-type]


def test_months_with_the_same_count_share_one_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten years of districts by offence group are mostly a few small counts: one (immutable) cell
    serves every month, group and district with that count, instead of a cell built for each."""
    raw = {
        "north": {"theft": {MONTHS[0]: 3, MONTHS[1]: 3}, "drugs": {MONTHS[1]: 0, MONTHS[2]: 3}},
        "south": {"theft": {MONTHS[0]: 3}},
    }
    monkeypatch.setattr(source, "district_group_series", lambda *args: raw)
    complete = {m: Cell(1.0) for m in MONTHS[:3]}
    districts, groups = source.district_series(None, "f", YearMonth(2023, 1), complete, DEFS)  # type: ignore[arg-type]
    threes = [
        groups["north"]["theft"][MONTHS[0]],
        groups["north"]["theft"][MONTHS[1]],
        groups["north"]["drugs"][MONTHS[2]],
        groups["south"]["theft"][MONTHS[0]],
        districts["north"][MONTHS[0]],
        districts["north"][MONTHS[2]],
        districts["south"][MONTHS[0]],
    ]
    assert all(cell is threes[0] for cell in threes) and threes[0] == Cell(3.0)
    assert groups["north"]["drugs"][MONTHS[0]] is groups["south"]["theft"][MONTHS[1]] == Cell(0.0)
