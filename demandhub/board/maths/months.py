"""Calendar months and financial years for the board pack.

A :class:`YearMonth` is one calendar month. It is ordered, hashable and supports month arithmetic:
``ym + 3`` and ``ym - 12`` give months, ``later - earlier`` gives the number of months between them.
The financial year runs from ``start_month`` (April by default) for twelve months.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
DEFAULT_FY_START_MONTH = 4


@dataclass(frozen=True, eq=False)
class YearMonth:
    """One calendar month; ``month`` is 1..12.

    Equal, hashed and ordered as the tuple ``(year, month)``. A pack compares and hashes months
    hundreds of thousands of times, so the hash and the month index are computed once, and month
    arithmetic returns one shared instance per month (``from_index``)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")
        object.__setattr__(self, "_index", self.year * 12 + self.month - 1)
        object.__setattr__(self, "_hash", hash((self.year, self.month)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined,no-any-return]

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is YearMonth:
            return self._index == other._index  # type: ignore[attr-defined,no-any-return]
        return NotImplemented

    def __lt__(self, other: YearMonth) -> bool:
        if other.__class__ is YearMonth:
            return self._index < other._index  # type: ignore[attr-defined,no-any-return]
        return NotImplemented

    def __le__(self, other: YearMonth) -> bool:
        if other.__class__ is YearMonth:
            return self._index <= other._index  # type: ignore[attr-defined,no-any-return]
        return NotImplemented

    def __gt__(self, other: YearMonth) -> bool:
        if other.__class__ is YearMonth:
            return self._index > other._index  # type: ignore[attr-defined,no-any-return]
        return NotImplemented

    def __ge__(self, other: YearMonth) -> bool:
        if other.__class__ is YearMonth:
            return self._index >= other._index  # type: ignore[attr-defined,no-any-return]
        return NotImplemented

    @classmethod
    def from_str(cls, text: str) -> YearMonth:
        """Parse ``"YYYY-MM"``; raise ValueError on anything else."""
        match = _PATTERN.match(text.strip())
        if match is None:
            raise ValueError(f"expected YYYY-MM, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def from_index(cls, index: int) -> YearMonth:
        """Inverse of :attr:`index` (one shared instance per month)."""
        found = _BY_INDEX.get(index)
        if found is None:
            year, month0 = divmod(index, 12)
            found = _BY_INDEX.setdefault(index, YearMonth(year, month0 + 1))
        return found

    @property
    def index(self) -> int:
        """Months since year 0; consecutive months differ by one."""
        return self._index  # type: ignore[attr-defined,no-any-return]

    def __add__(self, months: int) -> YearMonth:
        if not isinstance(months, int):
            return NotImplemented
        return YearMonth.from_index(self._index + months)  # type: ignore[attr-defined]

    @overload
    def __sub__(self, other: int) -> YearMonth: ...

    @overload
    def __sub__(self, other: YearMonth) -> int: ...

    def __sub__(self, other: int | YearMonth) -> YearMonth | int:
        if isinstance(other, YearMonth):
            return self._index - other._index  # type: ignore[attr-defined,no-any-return]
        if isinstance(other, int):
            return YearMonth.from_index(self._index - other)  # type: ignore[attr-defined]
        return NotImplemented

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def label(self) -> str:
        """Dashboard header form, e.g. ``"Mar-19"``."""
        return f"{calendar.month_abbr[self.month]}-{self.year % 100:02d}"

    def month_name(self) -> str:
        """Full month name, e.g. ``"March"``."""
        return calendar.month_name[self.month]

    def long(self) -> str:
        """Prose form, e.g. ``"March 2019"``."""
        return f"{self.month_name()} {self.year}"


_BY_INDEX: dict[int, YearMonth] = {}
"""The months month arithmetic has made, by index (a month is immutable: one instance serves)."""


@lru_cache(maxsize=8192)
def month_range(first: YearMonth, last: YearMonth) -> tuple[YearMonth, ...]:
    """All months from ``first`` to ``last`` inclusive; empty when ``last < first`` (memoised: the
    narrative asks for the same rolling windows of every measure)."""
    return tuple(first + i for i in range(last - first + 1))


def fy_start(month: YearMonth, start_month: int = DEFAULT_FY_START_MONTH) -> YearMonth:
    """First month of the financial year containing ``month``."""
    year = month.year if month.month >= start_month else month.year - 1
    return YearMonth(year, start_month)


def fy_end(month: YearMonth, start_month: int = DEFAULT_FY_START_MONTH) -> YearMonth:
    """Last month of the financial year containing ``month``."""
    return fy_start(month, start_month) + 11


def fytd_months(month: YearMonth, start_month: int = DEFAULT_FY_START_MONTH) -> tuple[YearMonth, ...]:
    """Financial year to date: the financial year's first month through ``month``."""
    return month_range(fy_start(month, start_month), month)


def fy_label(month: YearMonth, start_month: int = DEFAULT_FY_START_MONTH) -> str:
    """Financial year name, e.g. ``"2018/19"``; a calendar-year FY (start 1) is ``"2019"``."""
    start = fy_start(month, start_month)
    if start_month == 1:
        return str(start.year)
    return f"{start.year}/{(start.year + 1) % 100:02d}"
