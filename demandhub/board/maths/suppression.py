"""Small-count suppression for published tables (pure; no I/O).

A :class:`Grid` is a table of counts: interior cells ``values[r][c]``, and the totals it publishes
beside them: a total per row (only when the columns partition the row, e.g. answer-time bands), a
total per column (the areas add up to the force) and the grand total when both are present.

:func:`suppress` hides every published count below ``threshold`` that is not zero (primary
suppression, shown as "fewer than <threshold>"), then hides further interior cells (secondary
suppression) until no hidden value can be worked out exactly from the published ones: the hidden
values form the unknowns of the linear system "each row adds up to its total, each column to its
total"; a hidden value is recoverable exactly when every solution of the homogeneous system is zero
there. While some hidden value is recoverable, the smallest visible interior cell sharing a row or
column with it is hidden as well (ties: first row, then first column). Totals are hidden only by
the primary rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

Key = tuple[str, int, int]
"""("cell", row, col), ("row_total", row, 0), ("col_total", 0, col) or ("grand", 0, 0)."""


@dataclass(frozen=True)
class Grid:
    """Counts to publish (module docstring)."""

    values: tuple[tuple[int, ...], ...]
    row_totals: bool
    col_totals: bool

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.values), len(self.values[0]) if self.values else 0

    def row_total(self, r: int) -> int:
        return sum(self.values[r])

    def col_total(self, c: int) -> int:
        return sum(row[c] for row in self.values)

    def grand(self) -> int:
        return sum(sum(row) for row in self.values)

    def published(self) -> dict[Key, int]:
        """Every published count by key."""
        rows, cols = self.shape
        out: dict[Key, int] = {("cell", r, c): self.values[r][c] for r in range(rows) for c in range(cols)}
        if self.row_totals:
            out.update({("row_total", r, 0): self.row_total(r) for r in range(rows)})
        if self.col_totals:
            out.update({("col_total", 0, c): self.col_total(c) for c in range(cols)})
        if self.row_totals and self.col_totals:
            out[("grand", 0, 0)] = self.grand()
        return out

    def equations(self) -> list[list[tuple[Key, int]]]:
        """Each linear identity among published counts, as (key, coefficient) terms summing to 0."""
        rows, cols = self.shape
        eqs: list[list[tuple[Key, int]]] = []
        if self.row_totals:
            for r in range(rows):
                eqs.append([*((("cell", r, c), 1) for c in range(cols)), (("row_total", r, 0), -1)])
        if self.col_totals:
            for c in range(cols):
                eqs.append([*((("cell", r, c), 1) for r in range(rows)), (("col_total", 0, c), -1)])
        if self.row_totals and self.col_totals:
            eqs.append([*((("row_total", r, 0), 1) for r in range(rows)), (("grand", 0, 0), -1)])
            eqs.append([*((("col_total", 0, c), 1) for c in range(cols)), (("grand", 0, 0), -1)])
        return eqs


def make_grid(values: Sequence[Sequence[int]], row_totals: bool, col_totals: bool) -> Grid:
    rows = tuple(tuple(int(v) for v in row) for row in values)
    if any(v < 0 for row in rows for v in row):
        raise ValueError("counts are never negative")
    if len({len(r) for r in rows}) > 1:
        raise ValueError("every row needs the same number of columns")
    return Grid(rows, row_totals, col_totals)


def _null_space_support(grid: Grid, hidden: set[Key]) -> set[Key]:
    """Hidden keys that some solution of the homogeneous system moves (i.e. NOT recoverable).

    Exact rational Gaussian elimination over the hidden unknowns (tables are small)."""
    order = sorted(hidden)
    index = {k: i for i, k in enumerate(order)}
    matrix: list[list[Fraction]] = []
    for eq in grid.equations():
        row = [Fraction(0)] * len(order)
        for key, coef in eq:
            if key in index:
                row[index[key]] += coef
        if any(row):
            matrix.append(row)
    # reduced row echelon form
    pivots: list[int] = []
    r = 0
    for c in range(len(order)):
        pivot = next((i for i in range(r, len(matrix)) if matrix[i][c] != 0), None)
        if pivot is None:
            continue
        matrix[r], matrix[pivot] = matrix[pivot], matrix[r]
        lead = matrix[r][c]
        matrix[r] = [x / lead for x in matrix[r]]
        for i in range(len(matrix)):
            if i != r and matrix[i][c] != 0:
                f = matrix[i][c]
                matrix[i] = [a - f * b for a, b in zip(matrix[i], matrix[r], strict=True)]
        pivots.append(c)
        r += 1
        if r == len(matrix):
            break
    free = [c for c in range(len(order)) if c not in pivots]
    moving: set[int] = set(free)
    for i, pc in enumerate(pivots):
        if any(matrix[i][f] != 0 for f in free):
            moving.add(pc)
    return {order[i] for i in moving}


def recoverable(grid: Grid, hidden: set[Key]) -> set[Key]:
    """Hidden keys whose value follows exactly from the published ones."""
    if not hidden:
        return set()
    return hidden - _null_space_support(grid, hidden)


def _shares_line(a: Key, b: Key) -> bool:
    kind_a, ra, ca = a
    if kind_a == "cell":
        return b[0] == "cell" and (b[1] == ra or b[2] == ca)
    if kind_a == "row_total":
        return b[0] == "cell" and b[1] == ra
    if kind_a == "col_total":
        return b[0] == "cell" and b[2] == ca
    return b[0] == "cell"


def suppress(grid: Grid, threshold: int) -> set[Key]:
    """The keys to hide (module docstring). ``threshold`` <= 1 hides nothing."""
    published = grid.published()
    hidden = {k for k, v in published.items() if 0 < v < threshold}
    while True:
        exposed = sorted(recoverable(grid, hidden))
        if not exposed:
            return hidden
        target = exposed[0]
        candidates = [k for k in published if k[0] == "cell" and k not in hidden and _shares_line(target, k)]
        if not candidates:
            candidates = [k for k in published if k[0] == "cell" and k not in hidden]
        if not candidates:  # everything interior is hidden already: hide the totals too
            candidates = [k for k in published if k not in hidden]
        hidden.add(min(candidates, key=lambda k: (published[k], k[1], k[2])))
