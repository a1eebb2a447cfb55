"""Demand forecast per queue: a seasonal model on 15-minute slots, and its error on held-back weeks.

Pure functions, no I/O (stdlib only). Counts are keyed by the UTC start of a 15-minute slot.

The model ("same weekday, same time of day"):

- **band** of a slot: the counts of the same local time on the same weekday over the last ``weeks``
  weeks (local wall-clock arithmetic, so clock changes keep the time of day). Expected = their mean;
  the 80 % band is ``mean +/- 1.28 s`` with ``s`` the larger of their standard deviation and the
  Poisson spread ``sqrt(mean)``. Weeks before the history starts are left out, not read as zero.
- **level**: today's running ratio to normal, ``(actual + k) / (expected + k)`` over the last
  ``level_hours`` of complete slots (``k = LEVEL_PRIOR`` contacts shrink it towards 1 when little
  has been seen), clipped to [0.5, 2]. The forecast of the next hours is the band times the level,
  so a day running 20 % above normal is forecast 20 % above normal.

:func:`backtest` replays the model on held-back days (each forecast only sees earlier data) and
returns the weighted absolute percentage error of hourly totals, beside two baselines (the same
slot last week, and the seasonal mean without the level), and the 80 % band's coverage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SLOT = timedelta(minutes=15)
SLOTS_PER_HOUR = 4
BAND_Z = 1.2816  # central 80 %
LEVEL_PRIOR = 20.0
LEVEL_LIMITS = (0.5, 2.0)


@dataclass(frozen=True)
class SlotForecast:
    """Expected count of one 15-minute slot and its 80 % band; ``weeks`` past weeks behind it."""

    start: datetime
    expected: float
    low: float
    high: float
    weeks: int


def slot_start(instant: datetime) -> datetime:
    """The UTC start of the 15-minute slot holding ``instant``."""
    t = instant.astimezone(UTC)
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def slots(start: datetime, end: datetime) -> list[datetime]:
    """UTC slot starts from ``start``'s slot up to (not including) ``end``."""
    out, t = [], slot_start(start)
    while t < end:
        out.append(t)
        t += SLOT
    return out


def weeks_ago(slot: datetime, k: int, tz: str) -> datetime:
    """The same local wall-clock time ``k`` weeks before ``slot`` (UTC)."""
    zone = ZoneInfo(tz)
    local = slot.astimezone(zone).replace(tzinfo=None) - timedelta(weeks=k)
    return local.replace(tzinfo=zone).astimezone(UTC)


def band(
    history: Mapping[datetime, float],
    slot: datetime,
    weeks: int,
    tz: str,
    history_start: datetime | None,
) -> SlotForecast | None:
    """The seasonal expectation of ``slot`` from the last ``weeks`` same weekdays (None: no history)."""
    values = []
    for k in range(1, weeks + 1):
        past = weeks_ago(slot, k, tz)
        if history_start is not None and past < history_start:
            continue
        values.append(float(history.get(past, 0.0)))
    if not values:
        return None
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    spread = math.sqrt(max(var, mean))
    return SlotForecast(slot, mean, max(0.0, mean - BAND_Z * spread), mean + BAND_Z * spread, len(values))


def bands(
    history: Mapping[datetime, float],
    wanted: Sequence[datetime],
    weeks: int,
    tz: str,
    history_start: datetime | None,
) -> list[SlotForecast | None]:
    return [band(history, s, weeks, tz, history_start) for s in wanted]


def level(
    actual: Mapping[datetime, float], expected: Iterable[SlotForecast | None], prior: float = LEVEL_PRIOR
) -> float:
    """Ratio of what arrived to what was expected over ``expected``'s slots, shrunk towards 1."""
    got = want = 0.0
    for f in expected:
        if f is None:
            continue
        got += float(actual.get(f.start, 0.0))
        want += f.expected
    ratio = (got + prior) / (want + prior)
    return min(LEVEL_LIMITS[1], max(LEVEL_LIMITS[0], ratio))


def forecast(
    history: Mapping[datetime, float],
    now: datetime,
    horizon_hours: int,
    weeks: int,
    tz: str,
    history_start: datetime | None,
    level_hours: int = 3,
) -> tuple[float, list[SlotForecast | None]]:
    """(level, the next ``horizon_hours`` of slots from the slot after ``now``'s), each band scaled
    by today's level. ``history`` holds past counts including today's complete slots."""
    current = slot_start(now)
    recent = [current - SLOT * i for i in range(level_hours * SLOTS_PER_HOUR, 0, -1)]
    factor = level(history, bands(history, recent, weeks, tz, history_start))
    ahead = [current + SLOT * i for i in range(1, horizon_hours * SLOTS_PER_HOUR + 1)]
    out: list[SlotForecast | None] = []
    for f in bands(history, ahead, weeks, tz, history_start):
        out.append(
            None
            if f is None
            else SlotForecast(f.start, f.expected * factor, f.low * factor, f.high * factor, f.weeks)
        )
    return factor, out


def hourly(forecasts: Sequence[SlotForecast | None]) -> list[tuple[datetime, float]]:
    """Expected counts summed per hour of consecutive slots (``SLOTS_PER_HOUR`` at a time)."""
    out = []
    for i in range(0, len(forecasts) - SLOTS_PER_HOUR + 1, SLOTS_PER_HOUR):
        group = [f for f in forecasts[i : i + SLOTS_PER_HOUR] if f is not None]
        if len(group) < SLOTS_PER_HOUR:
            continue
        out.append((group[0].start, sum(f.expected for f in group)))
    return out


# -- error on held-back weeks -------------------------------------------------------------------------
@dataclass(frozen=True)
class BacktestResult:
    """Errors of hourly totals over the held-back days (WAPE: sum |error| / sum actual)."""

    forecasts: int  # forecast origins
    hours: int  # hourly totals compared
    actual_total: float
    wape_model: float  # seasonal band x today's level
    wape_seasonal: float  # seasonal band alone
    wape_naive: float  # same slot one week earlier
    band_coverage: float  # share of 15-minute counts inside the model's 80 % band


def backtest(
    history: Mapping[datetime, float],
    held_back: Sequence[date],
    weeks: int,
    tz: str,
    history_start: datetime,
    horizon_hours: int = 4,
    origins_every_hours: int = 1,
) -> BacktestResult:
    """Forecast every held-back day from origins every ``origins_every_hours`` (local midnight on),
    ``horizon_hours`` ahead, with only data before the origin, and compare hourly totals."""
    zone = ZoneInfo(tz)
    err_m = err_s = err_n = total = 0.0
    inside = counted = origins = hours = 0
    for day in held_back:
        midnight = datetime.combine(day, time(0), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
        origin = midnight
        while origin < end:
            seen = {t: v for t, v in history.items() if t < origin}
            _level, ahead = forecast(seen, origin - SLOT, horizon_hours, weeks, tz, history_start)
            plain = bands(seen, [f.start for f in ahead if f is not None], weeks, tz, history_start)
            if all(f is not None for f in ahead) and ahead:
                origins += 1
                for h in range(horizon_hours):
                    group = ahead[h * SLOTS_PER_HOUR : (h + 1) * SLOTS_PER_HOUR]
                    base = plain[h * SLOTS_PER_HOUR : (h + 1) * SLOTS_PER_HOUR]
                    actual = sum(float(history.get(f.start, 0.0)) for f in group if f is not None)
                    model = sum(f.expected for f in group if f is not None)
                    seasonal = sum(f.expected for f in base if f is not None)
                    naive = sum(
                        float(history.get(weeks_ago(f.start, 1, tz), 0.0)) for f in group if f is not None
                    )
                    err_m += abs(model - actual)
                    err_s += abs(seasonal - actual)
                    err_n += abs(naive - actual)
                    total += actual
                    hours += 1
                    for f in group:
                        if f is not None:
                            counted += 1
                            inside += f.low <= float(history.get(f.start, 0.0)) <= f.high
            origin += timedelta(hours=origins_every_hours)
    div = total or 1.0
    return BacktestResult(
        forecasts=origins,
        hours=hours,
        actual_total=total,
        wape_model=err_m / div,
        wape_seasonal=err_s / div,
        wape_naive=err_n / div,
        band_coverage=inside / counted if counted else 0.0,
    )
