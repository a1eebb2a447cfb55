"""The seasonal demand forecast: same weekday and time of day, today's level, error on held-back days."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from streams.domain.forecast import (
    SLOT,
    backtest,
    band,
    forecast,
    hourly,
    level,
    slot_start,
    slots,
    weeks_ago,
)

pytestmark = pytest.mark.unit
TZ = "Europe/London"


def test_weeks_ago_keeps_local_time_across_a_clock_change() -> None:
    # Sunday 2024-04-07 09:00 BST is 08:00 UTC; four weeks earlier (10 March) 09:00 GMT is 09:00 UTC
    slot = datetime(2024, 4, 7, 8, 0, tzinfo=UTC)
    assert weeks_ago(slot, 4, TZ) == datetime(2024, 3, 10, 9, 0, tzinfo=UTC)
    assert weeks_ago(slot, 1, TZ) == datetime(2024, 3, 31, 8, 0, tzinfo=UTC)


def test_slots() -> None:
    t = datetime(2024, 6, 3, 10, 7, 31, tzinfo=UTC)
    assert slot_start(t) == datetime(2024, 6, 3, 10, 0, tzinfo=UTC)
    assert len(slots(t, t + timedelta(hours=1))) == 5


def test_band_from_same_weekdays_and_missing_history() -> None:
    slot = datetime(2024, 6, 28, 21, 0, tzinfo=UTC)
    history = {weeks_ago(slot, k, TZ): v for k, v in ((1, 10.0), (2, 14.0), (3, 12.0), (4, 100.0))}
    four = band(history, slot, 3, TZ, None)
    assert four is not None and four.expected == pytest.approx(12.0) and four.weeks == 3
    assert four.low < 12.0 < four.high
    # history that starts two weeks ago: older weeks are not read as zero
    two = band(history, slot, 3, TZ, weeks_ago(slot, 2, TZ))
    assert two is not None and two.weeks == 2 and two.expected == pytest.approx(12.0)
    assert band(history, slot, 3, TZ, slot) is None
    # a week with no row at all inside the history counts as zero contacts
    sparse = band({weeks_ago(slot, 1, TZ): 8.0}, slot, 2, TZ, weeks_ago(slot, 2, TZ))
    assert sparse is not None and sparse.expected == pytest.approx(4.0)


def test_level_sees_demand_running_above_normal_and_shrinks_small_samples() -> None:
    slot = datetime(2024, 6, 28, 9, 0, tzinfo=UTC)
    base = [band({weeks_ago(slot + SLOT * i, 1, TZ): 50.0}, slot + SLOT * i, 1, TZ, None) for i in range(8)]
    actual = {slot + SLOT * i: 60.0 for i in range(8)}
    assert level(actual, base) == pytest.approx((480 + 20) / (400 + 20))
    few = [band({weeks_ago(slot, 1, TZ): 1.0}, slot, 1, TZ, None)]
    assert level({slot: 3.0}, few) == pytest.approx(23 / 21)


def seasonal_series(start: date, days: int, boost_from: datetime | None = None) -> dict[datetime, float]:
    """Poisson counts with a daily shape and a weekday effect; optionally 30 % up from an instant."""
    rng = random.Random(7)
    out: dict[datetime, float] = {}
    t = datetime(start.year, start.month, start.day, tzinfo=UTC)
    end = t + timedelta(days=days)
    while t < end:
        hour = t.hour + t.minute / 60
        rate = 6 + 5 * (1 if 8 <= hour < 20 else 0) + (3 if t.weekday() == 4 else 0)
        if boost_from is not None and t >= boost_from:
            rate *= 1.3
        # Poisson by inversion (small rates)
        k, p, u = 0, pow(2.718281828459045, -rate), rng.random()
        s = p
        while u > s:
            k += 1
            p *= rate / k
            s += p
        out[t] = float(k)
        t += SLOT
    return out


def test_forecast_follows_todays_level() -> None:
    boost = datetime(2024, 6, 28, 0, 0, tzinfo=UTC)
    history = seasonal_series(date(2024, 5, 1), 59, boost_from=boost)
    now = datetime(2024, 6, 28, 10, 5, tzinfo=UTC)
    seen = {t: v for t, v in history.items() if t < slot_start(now)}
    start = datetime(2024, 5, 1, tzinfo=UTC)
    factor, ahead = forecast(seen, now, 4, 4, TZ, start)
    assert 1.1 < factor < 1.5
    assert len(ahead) == 16 and all(f is not None for f in ahead)
    assert ahead[0] is not None and ahead[0].start == datetime(2024, 6, 28, 10, 15, tzinfo=UTC)
    hours = hourly(ahead)
    assert len(hours) == 4
    plain = sum(f.expected for f in ahead if f is not None) / factor
    assert sum(v for _, v in hours) == pytest.approx(plain * factor)


def test_backtest_reports_errors_and_beats_last_week() -> None:
    history = seasonal_series(date(2024, 5, 1), 56)
    held = [date(2024, 6, 19) + timedelta(days=i) for i in range(7)]
    result = backtest(history, held, 4, TZ, datetime(2024, 5, 1, tzinfo=UTC), origins_every_hours=4)
    assert result.forecasts == 42 and result.hours == 42 * 4
    assert 0 < result.wape_model < result.wape_naive
    assert 0.6 < result.band_coverage <= 1.0
