"""The soak's memory verdict: the warm-up ends when the history cache is full (never before the first
twelfth, never after a twelfth before the half), and the highest RSS of the second half is compared
with the highest of the ten minutes after the warm-up."""

from __future__ import annotations

from typing import Any

import pytest

from bench.soak import _verdicts

pytestmark = pytest.mark.unit

MIB = 1024
RUN = 7200.0  # two hours: a twelfth is 600 s


def _samples(rss_mib: dict[float, float], cache: dict[float, int] | None = None) -> list[dict[str, Any]]:
    """A sample every 30 s; ``rss_mib`` and ``cache`` hold values from the time given on."""

    def at(table: dict[float, Any], t: float) -> Any:
        return table[max(k for k in table if k <= t)]

    out = []
    for i in range(int(RUN / 30) + 1):
        t = i * 30.0
        out.append(
            {
                "t": t,
                "producing": True,
                "ledger": i,
                "group_lag": 0,
                "rss_kib": int(at(rss_mib, t) * MIB),
                "history_cache_events": at(cache, t) if cache else None,
            }
        )
    return out


def test_the_warm_up_ends_when_the_history_cache_is_full() -> None:
    # RSS climbs while the cache fills (to minute 30), then stays flat apart from one spike.
    rss = {0: 400, 600: 600, 1200: 630, 1800: 660, 5400: 700, 5430: 660}
    cache = {0: 0, 600: 5_000, 1200: 9_000, 1800: 9_990}
    v = _verdicts(_samples(rss, cache), RUN, cache_bound=10_000)
    assert v["history_cache_full_at_s"] == 1800
    assert v["rss_baseline_at_s"] == 1800
    assert v["rss_baseline_kib"] == 660 * MIB
    assert v["rss_peak_second_half_kib"] == 700 * MIB
    assert v["rss_growth"] == pytest.approx(700 / 660)
    assert v["memory_flat"]
    assert v["rss_growth_from_first_twelfth"] == pytest.approx(700 / 600)


def test_a_growth_after_the_cache_is_full_fails() -> None:
    rss = {0: 400, 600: 600, 3600: 640, 5400: 700}
    cache = {0: 0, 600: 10_000}
    v = _verdicts(_samples(rss, cache), RUN, cache_bound=10_000)
    assert v["rss_baseline_at_s"] == 600  # full by minute 10: the warm-up is the first twelfth
    assert v["rss_baseline_kib"] == 600 * MIB
    assert v["rss_growth"] == pytest.approx(700 / 600)
    assert not v["memory_flat"]


def test_a_cache_that_never_fills_ends_the_warm_up_a_twelfth_before_the_half() -> None:
    rss = {0: 400, 600: 600, 3000: 640, 3600: 650}
    v = _verdicts(_samples(rss, {0: 100}), RUN, cache_bound=10_000)
    assert v["history_cache_full_at_s"] is None
    assert v["rss_baseline_at_s"] == 3000
    assert v["rss_baseline_kib"] == 640 * MIB
    assert v["rss_growth"] == pytest.approx(650 / 640)
    # a worker that reports no cache gauge at all is judged the same way
    assert _verdicts(_samples(rss), RUN, cache_bound=10_000)["rss_baseline_at_s"] == 3000
