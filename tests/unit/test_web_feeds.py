"""Feed health: healthy / quiet / silent against the source's expected arrival rate at this hour."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demandhub.web.feeds import (
    FeedMonitor,
    _History,
    expected_rate,
    expected_rates,
    feed_state,
    history_slots,
    silence_probability,
    silent_after_seconds,
)

pytestmark = pytest.mark.unit

QUIET, P = 120.0, 0.001


def test_a_busy_feed_is_silent_after_minutes_a_quiet_one_only_after_hours() -> None:
    # 999 telephony at a Friday-night peak: 600 events an hour; the same gap on a 3 am trickle
    assert feed_state(30, 600, QUIET, P) == "healthy"
    assert feed_state(5 * 60, 600, QUIET, P) == "silent"  # exp(-50): not chance
    assert feed_state(5 * 60, 2, QUIET, P) == "quiet"  # 2 an hour: 5 minutes of nothing is normal
    assert feed_state(3 * 3600, 2, QUIET, P) == "quiet"  # exp(-6) = 0.0025: unusual, not conclusive
    assert feed_state(4 * 3600, 2, QUIET, P) == "silent"  # exp(-8) = 0.00034
    assert silence_probability(4 * 3600, 2) < P < silence_probability(3 * 3600, 2)


def test_the_silent_threshold_is_about_seven_mean_gaps() -> None:
    after = silent_after_seconds(60, QUIET, P)  # one a minute
    assert after == pytest.approx(math.log(1000) * 60)
    assert feed_state(after - 1, 60, QUIET, P) == "quiet"
    assert feed_state(after, 60, QUIET, P) == "silent"


def test_an_unknown_rate_or_a_source_that_never_sends_is_never_silent() -> None:
    assert feed_state(10 * 3600, None, QUIET, P) == "quiet"
    assert feed_state(None, None, QUIET, P) == "quiet"
    assert feed_state(10 * 3600, 0.0, QUIET, P) == "quiet"
    assert feed_state(None, 30, QUIET, P) == "silent"  # expected, and nothing in two days


def test_a_very_busy_feed_needs_at_least_the_quiet_gap() -> None:
    assert feed_state(20, 50_000, QUIET, P) == "healthy"  # a pause of seconds is not an alarm


@given(
    gap=st.floats(min_value=0, max_value=1e6),
    longer=st.floats(min_value=0, max_value=1e6),
    rate=st.one_of(st.none(), st.floats(min_value=0, max_value=1e5)),
)
def test_a_longer_silence_never_looks_better(gap: float, longer: float, rate: float | None) -> None:
    order = {"healthy": 0, "quiet": 1, "silent": 2}
    assert order[feed_state(gap + longer, rate, QUIET, P)] >= order[feed_state(gap, rate, QUIET, P)]


def test_history_is_the_same_local_hour_of_the_same_weekday() -> None:
    now = datetime(2024, 11, 1, 21, 40, tzinfo=UTC)  # Friday 21:40 GMT
    slots = history_slots(now, "Europe/London", 3)
    assert slots[0] == datetime(2024, 10, 25, 20, 0, tzinfo=UTC)  # Friday 21:00 BST = 20:00 UTC
    assert slots[1] == datetime(2024, 10, 18, 20, 0, tzinfo=UTC)
    assert len(slots) == 3


def test_expected_rates_average_only_the_weeks_the_hub_heard_anything() -> None:
    counts = {("telephony", 1): 300, ("cad", 1): 40, ("telephony", 3): 100, ("cad", 2): 0}
    rates, weeks = expected_rates(counts, 4)
    assert weeks == 2  # week 2 and 4: the hub heard nothing at that hour (down), so they say nothing
    assert rates == {"telephony": 200.0, "cad": 20.0}
    assert expected_rates({}, 4) == ({}, 0)


def test_the_monitor_judges_at_the_clock_it_is_given() -> None:
    monitor = FeedMonitor(4, QUIET, P)
    now = datetime(2024, 6, 12, 11, 0, tzinfo=UTC)
    monitor._last = {"telephony": now, "athena": now}
    monitor._history = _History(history_slots(now, "Europe/London", 4)[0], {"telephony": 120.0}, 4)
    first = {i["source"]: i for i in monitor.section(now)["items"]}
    assert first["telephony"]["state"] == "healthy"
    assert first["cad"]["state"] == "quiet" and first["cad"]["expected_per_hour"] == 0.0
    assert first["athena"]["label"] == "athena"  # a source not in the list is shown under its name
    later = monitor.section(now.replace(minute=30))
    assert later["silent"] == ["telephony"]  # 30 minutes of nothing from a 2-a-minute feed


def test_with_no_past_weeks_the_rate_is_the_hour_before_the_last_event() -> None:
    assert expected_rate("telephony", {"telephony": 90.0}, 2, {"telephony": 400}) == (90.0, "history")
    assert expected_rate("chat", {"telephony": 90.0}, 2, {"chat": 12}) == (0.0, "history")  # none then
    assert expected_rate("telephony", {}, 0, {"telephony": 400}) == (400.0, "recent")
    assert expected_rate("cad", {}, 0, {}) == (None, None)
