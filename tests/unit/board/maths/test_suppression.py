"""Small-count suppression of the public tables: no hidden value can be worked out from totals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demandhub.board.maths.suppression import Key, make_grid, recoverable, suppress

pytestmark = pytest.mark.unit


def lines(rows: int, cols: int, row_totals: bool, col_totals: bool) -> list[tuple[list[Key], Key | None]]:
    """Every row and column of the published table with its total key (None when not published)."""
    out: list[tuple[list[Key], Key | None]] = []
    for r in range(rows):
        out.append(([("cell", r, c) for c in range(cols)], ("row_total", r, 0) if row_totals else None))
    for c in range(cols):
        out.append(([("cell", r, c) for r in range(rows)], ("col_total", 0, c) if col_totals else None))
    if row_totals and col_totals:
        out.append(([("row_total", r, 0) for r in range(rows)], ("grand", 0, 0)))
        out.append(([("col_total", 0, c) for c in range(cols)], ("grand", 0, 0)))
    return out


def recover_by_totals(
    values: dict[Key, int], hidden: set[Key], eqs: list[tuple[list[Key], Key | None]]
) -> dict[Key, int]:
    """What an outsider gets by subtracting visible cells from visible totals, repeated until
    nothing more follows (also using totals worked out on the way)."""
    known = {k: v for k, v in values.items() if k not in hidden}
    found: dict[Key, int] = {}
    progress = True
    while progress:
        progress = False
        for parts, total in eqs:
            if total is None:
                continue
            unknown = [k for k in [*parts, total] if k not in known]
            if len(unknown) != 1:
                continue
            k = unknown[0]
            if k == total:
                known[k] = sum(known[p] for p in parts)
            else:
                known[k] = known[total] - sum(known[p] for p in parts if p != k)
            found[k] = known[k]
            progress = True
    return found


grids = st.integers(1, 5).flatmap(
    lambda rows: st.integers(1, 5).flatmap(
        lambda cols: st.tuples(
            st.lists(
                st.lists(st.one_of(st.integers(0, 6), st.integers(0, 60)), min_size=cols, max_size=cols),
                min_size=rows,
                max_size=rows,
            ),
            st.booleans(),
            st.booleans(),
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(grids, st.integers(2, 10))
def test_no_suppressed_value_is_recoverable_from_any_row_or_column_total(
    spec: tuple[list[list[int]], bool, bool], threshold: int
) -> None:
    values, row_totals, col_totals = spec
    grid = make_grid(values, row_totals, col_totals)
    published = grid.published()
    hidden = suppress(grid, threshold)
    # every small count is hidden (primary suppression) ...
    assert {k for k, v in published.items() if 0 < v < threshold} <= hidden
    # ... and none of the hidden values follows from a row or column total, even step by step
    rows, cols = grid.shape
    assert recover_by_totals(published, hidden, lines(rows, cols, row_totals, col_totals)) == {}
    # ... nor from any combination of the totals (exact linear algebra)
    assert recoverable(grid, hidden) == set()


def test_a_lone_small_cell_in_a_row_gets_a_partner() -> None:
    grid = make_grid([[3, 40, 50], [20, 30, 60]], row_totals=True, col_totals=True)
    hidden = suppress(grid, 5)
    assert ("cell", 0, 0) in hidden
    assert len([k for k in hidden if k[0] == "cell"]) >= 4  # a rectangle: two rows, two columns
    assert recoverable(grid, hidden) == set()


def test_primary_suppression_alone_would_leak() -> None:
    grid = make_grid([[3, 40, 50], [20, 30, 60]], row_totals=True, col_totals=True)
    assert recoverable(grid, {("cell", 0, 0)}) == {("cell", 0, 0)}


def test_zero_and_large_counts_are_shown() -> None:
    grid = make_grid([[0, 40], [20, 30]], row_totals=True, col_totals=True)
    assert suppress(grid, 5) == set()
