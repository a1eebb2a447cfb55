"""England and Wales bank holidays and the first working day of a month.

The regular bank holidays are computed: New Year's Day, Good Friday, Easter Monday, the early May
bank holiday (first Monday of May), the spring bank holiday (last Monday of May), the summer bank
holiday (last Monday of August), Christmas Day and Boxing Day. When New Year's Day, Christmas Day
or Boxing Day falls at a weekend, the substitute day is the next weekday that is not already a
holiday (a weekday Boxing Day keeps its date, so a Sunday Christmas moves to the Tuesday). Easter Sunday is computed with the anonymous Gregorian algorithm (Meeus/Jones/Butcher).

Royal proclamations move or add days now and then; the known ones are in :data:`MOVED` and
:data:`EXTRA` (extend them when a new one is proclaimed).
"""

from __future__ import annotations

from datetime import date, timedelta

MOVED: dict[date, date] = {
    date(1995, 5, 1): date(1995, 5, 8),  # VE Day 50th anniversary
    date(2002, 5, 27): date(2002, 6, 4),  # Golden Jubilee: spring holiday moved
    date(2012, 5, 28): date(2012, 6, 4),  # Diamond Jubilee: spring holiday moved
    date(2020, 5, 4): date(2020, 5, 8),  # VE Day 75th anniversary
    date(2022, 5, 30): date(2022, 6, 2),  # Platinum Jubilee: spring holiday moved
}
"""Regular holidays moved by proclamation: regular date -> actual date."""

EXTRA: frozenset[date] = frozenset(
    {
        date(1999, 12, 31),  # Millennium
        date(2002, 6, 3),  # Golden Jubilee
        date(2011, 4, 29),  # Royal wedding
        date(2012, 6, 5),  # Diamond Jubilee
        date(2022, 6, 3),  # Platinum Jubilee
        date(2022, 9, 19),  # State funeral of Queen Elizabeth II
        date(2023, 5, 8),  # Coronation of King Charles III
    }
)
"""One-off bank holidays."""


def easter_sunday(year: int) -> date:
    """Easter Sunday (Gregorian), by the anonymous Gregorian algorithm."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _first_monday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=last.weekday())


def _substitute(day: date, taken: set[date]) -> date:
    """``day`` if it is a weekday, else the next weekday not in ``taken``."""
    if day.weekday() < 5:
        return day
    probe = day
    while probe.weekday() >= 5 or probe in taken:
        probe += timedelta(days=1)
    return probe


def bank_holidays(year: int) -> frozenset[date]:
    """England and Wales bank holidays of ``year`` (see the module docstring)."""
    easter = easter_sunday(year)
    regular = {
        easter - timedelta(days=2),
        easter + timedelta(days=1),
        _first_monday(year, 5),
        _last_monday(year, 5),
        _last_monday(year, 8),
    }
    days = {MOVED.get(d, d) for d in regular}
    days.add(_substitute(date(year, 1, 1), days))
    boxing = date(year, 12, 26)
    if boxing.weekday() < 5:
        days.add(boxing)  # a weekday Boxing Day stays put; Christmas Day's substitute moves past it
    days.add(_substitute(date(year, 12, 25), days))
    days.add(_substitute(boxing, days))
    days.update(d for d in EXTRA if d.year == year)
    return frozenset(days)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a bank holiday."""
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def first_working_day(year: int, month: int) -> date:
    """The first working day of a month."""
    day = date(year, month, 1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def is_first_working_day(day: date) -> bool:
    """Whether ``day`` is the first working day of its month."""
    return day == first_working_day(day.year, day.month)
