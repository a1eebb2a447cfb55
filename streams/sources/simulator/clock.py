"""Time helpers on integer milliseconds since the Unix epoch (UTC): formatting, local calendar.

Every instant inside the simulator is an ``int`` of milliseconds, so durations are exact and equal the
differences of the emitted ``time`` fields (which carry millisecond precision).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
_EPOCH_DAY0 = date(1970, 1, 1)
_DAY_PREFIX: dict[int, str] = {}
_MINUTE_PREFIX: dict[int, str] = {}


def to_ms(value: datetime) -> int:
    """A timezone-aware datetime as epoch milliseconds (truncated to the millisecond)."""
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * DAY + delta.seconds * SECOND + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def iso(ms: int) -> str:
    """Epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (fast: cached per-minute prefixes)."""
    minute, rem = divmod(ms, MINUTE)
    prefix = _MINUTE_PREFIX.get(minute)
    if prefix is None:
        day, rem_min = divmod(minute, 1440)
        date_part = _DAY_PREFIX.get(day)
        if date_part is None:
            date_part = _DAY_PREFIX[day] = (_EPOCH_DAY0 + timedelta(days=day)).isoformat() + "T"
        h, m = divmod(rem_min, 60)
        prefix = f"{date_part}{h:02d}:{m:02d}:"
        if len(_MINUTE_PREFIX) > 100_000:
            _MINUTE_PREFIX.clear()
        _MINUTE_PREFIX[minute] = prefix
    s, milli = divmod(rem, SECOND)
    return f"{prefix}{s:02d}.{milli:03d}Z"


def local_midnight_ms(day: date) -> int:
    """Local (Europe/London) midnight at the start of ``day``, in epoch milliseconds."""
    return to_ms(datetime(day.year, day.month, day.day, tzinfo=LONDON))


def local_hour_info(hour_start_ms: int) -> tuple[int, int, int, float]:
    """(local hour 0-23, weekday 0=Mon, month 1-12, fractional year) of a UTC hour slot."""
    local = from_ms(hour_start_ms).astimezone(LONDON)
    year_frac = local.year + (local.timetuple().tm_yday - 1) / 365.25
    return local.hour, local.weekday(), local.month, year_frac


class MonthIndex:
    """Maps instants to their Europe/London calendar month ``"YYYY-MM"`` by bisection."""

    def __init__(self, first_ms: int, last_ms: int) -> None:
        start = from_ms(first_ms).astimezone(LONDON)
        year, month = start.year, start.month
        self._edges: list[int] = []
        self._labels: list[str] = []
        while True:
            edge = to_ms(datetime(year, month, 1, tzinfo=LONDON))
            self._edges.append(edge)
            self._labels.append(f"{year:04d}-{month:02d}")
            if edge > last_ms:
                break
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def label(self, ms: int) -> str:
        """The local month containing ``ms`` (must lie within the index's range)."""
        i = bisect_right(self._edges, ms) - 1
        if i < 0 or i >= len(self._labels) - 1:
            raise ValueError(f"instant {ms} outside the month index")
        return self._labels[i]


def local_day_start(ms: int) -> int:
    """Local midnight at or before ``ms``."""
    return local_midnight_ms(from_ms(ms).astimezone(LONDON).date())


def next_local_midnight(ms: int) -> int:
    """The first local midnight strictly after ``ms``."""
    return local_midnight_ms(from_ms(ms).astimezone(LONDON).date() + timedelta(days=1))
