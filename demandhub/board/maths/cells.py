"""Building-block cells: what a measure stores for one month, and how months pool.

A :class:`Cell` keeps the sums a value is computed from, never the value alone:

* unit ``"count"``: ``num`` is the count; ``den`` and ``sumsq`` are None.
* unit ``"percent"``: ``num`` is the numerator and ``den`` the denominator; value = 100 * num / den.
* unit ``"minutes"`` (a mean): ``num`` is the sum of the values in minutes, ``den`` the number of
  records and ``sumsq`` the sum of squared values; value = num / den.
* unit ``"level"`` (a stock read at a point in time, e.g. a queue's depth at the month-end
  snapshot): a month is ONE observation, built with :meth:`Cell.level` as
  ``Cell(num=x, den=1, sumsq=x*x)``. Pooled over a period, ``num`` is the sum of the monthly
  levels, ``den`` the number of months and ``sumsq`` the sum of their squares; value = num / den,
  the mean month's level (never a sum of levels, which means nothing for a stock). The sums give
  the monthly values' mean and variance for the label tests.

Pooling over a period adds cells (Σnum / Σden), so a period's rate is never an average of monthly
rates. A month with no data is absent (None) and stays null; it is never a zero cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from demandhub.board.maths.months import YearMonth

Unit = Literal["count", "percent", "minutes", "level"]
UNITS: tuple[Unit, ...] = ("count", "percent", "minutes", "level")
Series = Mapping[YearMonth, "Cell | None"]


def _add_optional(a: float | None, b: float | None, what: str, strict: bool) -> float | None:
    if a is None and b is None:
        return None
    if a is None or b is None:
        if strict:
            raise ValueError(f"cannot pool a cell with a {what} and one without")
        return None
    return a + b


@dataclass(frozen=True)
class Cell:
    """Sums for one month or one pooled period (see the module docstring for the meaning)."""

    num: float
    den: float | None = None
    sumsq: float | None = None

    @classmethod
    def level(cls, value: float) -> Cell:
        """One month of a ``"level"`` measure: the level ``value`` as one observation."""
        x = float(value)
        return cls(num=x, den=1.0, sumsq=x * x)

    def __add__(self, other: Cell) -> Cell:
        """Pool two cells. Denominators must be both present or both absent; a missing sum of
        squares on either side makes the pooled one None (the mean stays, its variance is lost)."""
        if not isinstance(other, Cell):
            return NotImplemented
        return Cell(
            num=self.num + other.num,
            den=_add_optional(self.den, other.den, "denominator", strict=True),
            sumsq=_add_optional(self.sumsq, other.sumsq, "sum of squares", strict=False),
        )

    def value(self, unit: Unit) -> float | None:
        """The measure's value for this cell, or None when it is undefined (zero denominator)."""
        if unit == "count":
            return float(self.num)
        if self.den is None:
            raise ValueError(f"a {unit} cell needs a denominator")
        if self.den == 0:
            return None
        if unit == "percent":
            return 100.0 * self.num / self.den
        if unit in ("minutes", "level"):
            return self.num / self.den
        raise ValueError(f"unknown unit {unit!r}")

    def as_dict(self) -> dict[str, float | None]:
        """Plain numbers for JSON."""
        return {"num": self.num, "den": self.den, "sumsq": self.sumsq}


def pool(cells: Iterable[Cell]) -> Cell | None:
    """Sum cells; None when there are none.

    The same sums, in the same order, as adding the cells one by one with ``+`` (so the same
    floats and the same error for a cell with a denominator pooled with one without), without
    building a cell for every partial sum."""
    it = iter(cells)
    first = next(it, None)
    if first is None:
        return None
    num, den, sumsq = first.num, first.den, first.sumsq
    count = 1
    for cell in it:
        count += 1
        num = num + cell.num
        den = _add_optional(den, cell.den, "denominator", strict=True)
        sumsq = _add_optional(sumsq, cell.sumsq, "sum of squares", strict=False)
    return first if count == 1 else Cell(num=num, den=den, sumsq=sumsq)


def value_of(cell: Cell | None, unit: Unit) -> float | None:
    """``cell.value(unit)``, with None for a null cell."""
    return None if cell is None else cell.value(unit)
