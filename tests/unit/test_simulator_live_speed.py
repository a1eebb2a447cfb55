"""Live feed speed and scenarios: speed compresses arrivals and keeps every duration real; the peak
scenario opens on a Friday night already under way (queues built, abandons, incidents past target)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from streams.sources.simulator import SimConfig, simulate_live
from streams.sources.simulator.scenarios import PEAK, SCENARIOS

pytestmark = pytest.mark.unit
CONFIG = SimConfig(start=date(2000, 1, 1), days=1, scale=0.5, seed=4)
START = datetime(2024, 6, 12, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in London


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self.slept = 0.0

    def time(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += timedelta(seconds=seconds)


def until(feed: Iterator[dict[str, Any]], clock: FakeClock, end: datetime) -> list[dict[str, Any]]:
    """Events stamped before ``end``; each one's ``slept`` is what the feed had slept when it came."""
    out = []
    for event in feed:
        if datetime.fromisoformat(event["time"]) >= end:
            break
        out.append({**event, "slept": clock.slept})
    return out


def stamps(events: list[dict[str, Any]], etype: str) -> dict[str, datetime]:
    return {e["subject"]: datetime.fromisoformat(e["time"]) for e in events if e["type"] == etype}


def run(speed: float, minutes: int = 60) -> list[dict[str, Any]]:
    clock = FakeClock(START)
    feed = simulate_live(CONFIG, speed=speed, now_fn=clock.time, sleep_fn=clock.sleep)
    return until(feed, clock, START + timedelta(minutes=minutes))


def test_speed_compresses_arrivals_and_keeps_durations_real() -> None:
    slow, fast = run(1.0), run(10.0)
    offered_slow = len(stamps(slow, "call.offered.v1"))
    offered_fast = len(stamps(fast, "call.offered.v1"))
    assert offered_fast > 5 * max(1, offered_slow)  # ten times the arrivals per wall-clock hour
    # handling keeps its real length: 999 calls last minutes from answer to end, not seconds
    answered = stamps(fast, "call.answered.v1")
    ended = stamps(fast, "call.ended.v1")
    handled = [(ended[c] - answered[c]).total_seconds() for c in answered if c in ended]
    assert len(handled) > 20
    assert median(handled) > 120  # the simulator's 999 and 101 handle times: medians 200-240 s


def test_speed_and_scale_are_bounded() -> None:
    with pytest.raises(ValueError, match="at most"):
        next(simulate_live(CONFIG.model_copy(update={"scale": 200.0}), speed=10.0))


def test_peak_scenario_opens_on_a_friday_night_under_way() -> None:
    assert SCENARIOS["peak"] is PEAK
    clock = FakeClock(START)
    feed = simulate_live(CONFIG, speed=4.0, now_fn=clock.time, sleep_fn=clock.sleep, scenario=PEAK)
    warm = until(feed, clock, START)  # everything stamped before "now"
    assert warm and all(e["slept"] == 0 for e in warm)  # the warm-up is emitted at once
    first = min(datetime.fromisoformat(e["time"]) for e in warm)
    assert first >= START - timedelta(minutes=PEAK.warmup_minutes)
    assert first < START - timedelta(minutes=PEAK.warmup_minutes - 2)
    # the simulated calendar was a Friday at 21:30 local: stamps are mapped onto now, one to one
    local = PEAK.calendar_start(START).astimezone(ZoneInfo("Europe/London"))
    assert (local.weekday(), local.hour, local.minute) == (4, 21, 30)
    assert PEAK.calendar_start(START) < START
    abandoned = stamps(warm, "call.abandoned.v1")
    assert len(abandoned) >= 3  # under-staffed: callers give up
    queued = {e["subject"]: datetime.fromisoformat(e["time"]) for e in warm if e["type"] == "call.queued.v1"}
    answered = stamps(warm, "call.answered.v1")
    waits = [(answered[c] - queued[c]).total_seconds() for c in answered if c in queued]
    assert max(waits) > 30  # queues have built
    graded = {e["subject"]: e["data"]["grade"] for e in warm if e["type"] == "incident.graded.v1"}
    created = stamps(warm, "incident.created.v1")
    arrived = stamps(warm, "incident.resource_arrived.v1")
    late = [
        i
        for i, grade in graded.items()
        if grade == "IMMEDIATE"
        and i in created
        and START - created[i] > timedelta(minutes=20)
        and i not in arrived
    ]
    assert late  # immediate incidents past their 15-20 minute target, unattended, when the page opens


def test_up_and_simulate_offer_every_scenario() -> None:
    from demandhub.cli import SCENARIO_NAMES, build_parser

    assert set(SCENARIO_NAMES) == set(SCENARIOS)
    parser = build_parser()
    assert parser.parse_args(["up", "--scenario", "peak"]).scenario == "peak"
    assert parser.parse_args(["up"]).scenario == "normal"
    assert parser.parse_args(["simulate", "--live", "--scenario", "peak"]).scenario == "peak"
