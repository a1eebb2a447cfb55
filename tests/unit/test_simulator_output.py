"""Simulator output adapters (JSON Lines with byte-level faults) and the live, wall-clock feed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.events import parse_event, parse_event_json
from schemas.topics import TOPICS, topic_for_type
from streams.sources.simulator import Faults, SimConfig, simulate, simulate_live, write_jsonl
from streams.sources.simulator.output import MEGABYTE, topic_name_for

pytestmark = pytest.mark.unit

CONFIG = SimConfig(start=date(2020, 2, 3), days=2, scale=0.05, seed=9)


def test_jsonl_round_trips_every_event(tmp_path: Path) -> None:
    events = list(simulate(CONFIG))
    path = tmp_path / "events.jsonl"
    counts = write_jsonl(events, path)
    lines = path.read_bytes().splitlines()
    assert counts["events"] == len(events) == len(lines)
    assert [json.loads(line) for line in lines] == events
    for line in lines[:200]:
        parse_event_json(line)


def test_jsonl_byte_faults_are_invalid_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "faulty.jsonl"
    faults = Faults(malformed_rate=0.05, hostile_rate=0.02)
    counts = write_jsonl(simulate(CONFIG), path, faults, seed=1)
    assert counts["malformed_lines"] > 5 and counts["hostile_lines"] > 4
    lines = path.read_bytes().split(b"\n")[:-1]
    assert len(lines) == counts["events"] + counts["malformed_lines"] + counts["hostile_lines"]
    invalid = 0
    for line in lines:
        try:
            parse_event_json(line)
        except (ValidationError, ValueError):
            invalid += 1
    assert invalid == counts["malformed_lines"] + counts["hostile_lines"]
    assert any(len(line) > MEGABYTE for line in lines)
    with pytest.raises(UnicodeDecodeError):
        b"\n".join(lines).decode("utf-8")


def test_every_event_routes_to_its_topic_and_unknown_types_to_the_call_topic() -> None:
    for event in simulate(CONFIG):
        assert topic_name_for(event) == topic_for_type(event["type"]).name
    assert topic_name_for({"type": "spaceship.landed.v1"}) == TOPICS["call"].name
    assert topic_name_for({"type": 42}) == TOPICS["call"].name


class FakeClock:
    """A wall clock that only moves when the feed sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.slept = 0.0

    def time(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += timedelta(seconds=seconds)


def test_live_feed_stamps_events_with_the_wall_clock_and_paces_them() -> None:
    clock = FakeClock(datetime(2024, 6, 1, 12, 0, 7, 250000, tzinfo=UTC))
    start = clock.now
    config = SimConfig(start=date(2000, 1, 1), days=1, scale=0.2, seed=3)
    feed = simulate_live(config, speed=60.0, now_fn=clock.time, sleep_fn=clock.sleep)
    events = [next(feed) for _ in range(300)]
    for event in events:
        parse_event(event)
    stamps = [datetime.fromisoformat(e["time"]) for e in events]
    assert stamps == sorted(stamps)
    assert start <= stamps[0]
    # each event was released when the (fake) wall clock reached its stamp
    assert abs((clock.now - stamps[-1]).total_seconds()) < 0.002
    assert clock.slept > 0
    offered = [e for e in events if e["type"] == "call.offered.v1" and "bt_connect_time" in e["data"]]
    for e in offered:  # data times are mapped onto the same clock: BT connect precedes the offer
        assert datetime.fromisoformat(e["data"]["bt_connect_time"]) <= datetime.fromisoformat(e["time"])


def test_live_feed_rejects_a_non_positive_speed() -> None:
    with pytest.raises(ValueError):
        next(simulate_live(CONFIG, speed=0))
