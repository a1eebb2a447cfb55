"""Board formatting: how figures and periods are printed.

Percentages to 1 dp, counts with thousands separators (whole numbers unless asked), minutes as
whole integers, levels (a month's level or a period's mean level) like counts, to the measure's
``decimals`` (0 unless the catalogue says otherwise: days lost per person print to 2), "n/a" for null
(never 0). Rounding is half away from zero on the shortest decimal
form of the number, so 72.45 prints as 72.5 (not banker's rounding, not binary artefacts).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from demandhub.board.maths.cells import Unit
from demandhub.board.maths.months import YearMonth

NA = "n/a"


def round_half_up(value: float, dp: int = 0) -> Decimal:
    """``value`` rounded half away from zero to ``dp`` decimal places."""
    quantum = Decimal(1).scaleb(-dp)
    return Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)


def fmt_count(value: float | None, dp: int = 0) -> str:
    """``1234`` -> ``"1,234"``; ``dp`` decimals for mean months when wanted."""
    if value is None:
        return NA
    return f"{round_half_up(value, dp):,.{dp}f}"


def fmt_percent(value: float | None, dp: int = 1, sign: bool = True) -> str:
    """``72.45`` -> ``"72.5%"`` (the value is already a percentage)."""
    if value is None:
        return NA
    text = f"{round_half_up(value, dp):,.{dp}f}"
    return f"{text}%" if sign else text


def fmt_minutes(value: float | None) -> str:
    """Minutes as a whole number: ``12.5`` -> ``"13"``."""
    if value is None:
        return NA
    return f"{round_half_up(value, 0):,.0f}"


def fmt_value(value: float | None, unit: Unit, decimals: int = 0) -> str:
    """Format a measure value by its unit; ``decimals`` is the measure's decimal places for counts
    and levels (percentages and minutes keep their own formats)."""
    if unit in ("count", "level"):
        return fmt_count(value, decimals)
    if unit == "percent":
        return fmt_percent(value)
    if unit == "minutes":
        return fmt_minutes(value)
    raise ValueError(f"unknown unit {unit!r}")


def fmt_pct_change(value: float | None) -> str:
    """A % change as a signed whole percent: ``4.6`` -> ``"+5%"``, ``-0.4`` -> ``"0%"``."""
    if value is None:
        return NA
    rounded = round_half_up(value, 0)
    if rounded == 0:
        return "0%"
    return f"{rounded:+,.0f}%"


def year_ending(month: YearMonth) -> str:
    """``"year ending March 2018"``."""
    return f"year ending {month.long()}"


def twelve_months_ending(month: YearMonth) -> str:
    """``"12 months ending November 2019"``."""
    return f"12 months ending {month.long()}"


def span_phrase(first: YearMonth, last: YearMonth) -> str:
    """``"January to November 2019"``, ``"November 2018 to October 2019"`` or ``"March 2019"``."""
    if first == last:
        return last.long()
    if first.year == last.year:
        return f"{first.month_name()} to {last.long()}"
    return f"{first.long()} to {last.long()}"


def ordinal(n: int) -> str:
    """``1`` -> ``"1st"``, ``12`` -> ``"12th"``, ``23`` -> ``"23rd"``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def join_names(names: list[str]) -> str:
    """``["A", "B", "C"]`` -> ``"A, B and C"``."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"
