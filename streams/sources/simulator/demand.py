"""Demand profiles: expected arrivals per hour by series, from yearly volume, trend and seasonality.

Arrivals are a non-homogeneous Poisson process whose rate is constant within each local hour:

    rate(series, hour) = yearly(series, year) / 8766 * hour_of_day[h] * day_of_week[d] * season[m]

with each profile normalised to mean 1. Yearly volumes at scale 1 for Cambridgeshire in 2018 and their
trends (DOMAIN 3.8): 999 about 130k rising 4.5 %/year; 101 about 300k falling 6 %/year; web chat and
online reports follow logistic growth (web chat low tens of thousands, online reports a few thousand
rising past ten thousand within two years); self-initiated incidents about 30k.
"""

from __future__ import annotations

import math
from functools import lru_cache

from streams.sources.simulator.clock import local_hour_info

SERIES = ("999", "101", "webchat", "online", "self")
REFERENCE_YEAR = 2018.0
HOURS_PER_YEAR = 8766.0


def _norm(values: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(values) / len(values)
    return tuple(v / mean for v in values)


HOUR_OF_DAY: dict[str, tuple[float, ...]] = {
    "999": _norm(
        (
            *(0.95, 0.8, 0.65, 0.52, 0.42, 0.38, 0.42, 0.55, 0.75, 0.9, 1.0, 1.05),
            *(1.1, 1.1, 1.12, 1.2, 1.3, 1.4, 1.45, 1.45, 1.42, 1.38, 1.28, 1.12),
        )
    ),
    "101": _norm(
        (
            *(0.35, 0.2, 0.15, 0.12, 0.12, 0.15, 0.3, 0.7, 1.4, 1.8, 1.8, 1.7),
            *(1.6, 1.6, 1.6, 1.55, 1.5, 1.4, 1.3, 1.15, 1.0, 0.85, 0.65, 0.5),
        )
    ),
    "webchat": _norm(
        (
            *(0.3, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.7, 1.3, 1.6, 1.6, 1.6),
            *(1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.4, 1.2, 0.9, 0.6),
        )
    ),
    "online": _norm(
        (
            *(0.4, 0.25, 0.15, 0.1, 0.1, 0.15, 0.35, 0.7, 1.2, 1.4, 1.45, 1.45),
            *(1.45, 1.4, 1.4, 1.4, 1.4, 1.45, 1.5, 1.55, 1.55, 1.4, 1.1, 0.7),
        )
    ),
    "self": _norm(
        (
            *(1.2, 1.1, 0.9, 0.7, 0.5, 0.4, 0.5, 0.7, 0.9, 1.0, 1.0, 1.0),
            *(1.0, 1.0, 1.0, 1.0, 1.1, 1.1, 1.2, 1.3, 1.4, 1.4, 1.4, 1.3),
        )
    ),
}

DAY_OF_WEEK: dict[str, tuple[float, ...]] = {  # Monday first
    "999": _norm((0.95, 0.93, 0.94, 0.97, 1.06, 1.12, 1.03)),
    "101": _norm((1.15, 1.06, 1.03, 1.0, 1.0, 0.86, 0.9)),
    "webchat": _norm((1.12, 1.06, 1.04, 1.0, 0.98, 0.88, 0.92)),
    "online": _norm((1.1, 1.04, 1.02, 1.0, 0.98, 0.9, 0.96)),
    "self": _norm((0.95, 1.0, 1.0, 1.0, 1.05, 1.05, 0.95)),
}

SEASON: dict[str, tuple[float, ...]] = {  # January first
    "999": _norm((0.92, 0.9, 0.95, 0.98, 1.03, 1.07, 1.11, 1.09, 1.0, 0.99, 0.97, 0.99)),
    "101": _norm((0.98, 0.97, 1.0, 1.0, 1.02, 1.03, 1.05, 1.03, 1.0, 1.0, 0.98, 0.94)),
    "webchat": _norm((0.97, 0.97, 1.0, 1.0, 1.02, 1.03, 1.04, 1.03, 1.0, 1.0, 0.98, 0.96)),
    "online": _norm((0.95, 0.95, 1.0, 1.0, 1.03, 1.05, 1.06, 1.05, 1.0, 1.0, 0.97, 0.94)),
    "self": _norm((0.95, 0.95, 1.0, 1.0, 1.02, 1.05, 1.06, 1.05, 1.0, 1.0, 0.97, 0.95)),
}

# ASB categories weigh more in summer (and around bonfire night) and fall year on year.
ASB_SEASON = _norm((0.72, 0.72, 0.88, 1.0, 1.15, 1.28, 1.38, 1.3, 1.05, 1.02, 0.88, 0.72))
ASB_TREND_PER_YEAR = 0.90


def yearly_volume(series: str, year: float) -> float:
    """Expected volume per year of ``series`` at scale 1 for Cambridgeshire, at fractional ``year``."""
    y = year - REFERENCE_YEAR
    if series == "999":
        return 130_000.0 * 1.045**y
    if series == "101":
        return 300_000.0 * 0.94**y
    if series == "webchat":
        return 50_000.0 / (1.0 + math.exp(-0.6 * (y - 2.0)))
    if series == "online":
        return 25_000.0 / (1.0 + math.exp(-0.9 * (y - 2.3)))
    if series == "self":
        return 30_000.0 * 0.99**y
    raise KeyError(series)


@lru_cache(maxsize=65_536)
def hourly_rates(hour_start_ms: int) -> dict[str, float]:
    """Expected arrivals of every series in the local hour starting at ``hour_start_ms`` (scale 1)."""
    hour, weekday, month, year = local_hour_info(hour_start_ms)
    return {
        s: yearly_volume(s, year)
        / HOURS_PER_YEAR
        * HOUR_OF_DAY[s][hour]
        * DAY_OF_WEEK[s][weekday]
        * SEASON[s][month - 1]
        for s in SERIES
    }


@lru_cache(maxsize=65_536)
def category_factors(hour_start_ms: int) -> tuple[float, float, float]:
    """(ASB weight factor, crime-share factor, immediate-share factor) for a local hour."""
    _, _, month, year = local_hour_info(hour_start_ms)
    y = year - REFERENCE_YEAR
    return ASB_SEASON[month - 1] * ASB_TREND_PER_YEAR**y, 1.012**y, 1.0 + 0.02 * y
