"""A restarted live feed continues with new ids; file runs keep their seed-determined ids."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from schemas.events import parse_event
from streams.sources.simulator import SimConfig, simulate, simulate_live
from streams.sources.simulator.live import new_run_id

pytestmark = pytest.mark.unit

CONFIG = SimConfig(start=date(2000, 1, 1), days=1, scale=0.2, seed=1)
REFERENCE_FIELDS = ("incident_id", "crime_id", "online_report_id")


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def time(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def live_run(start: datetime, n: int = 400, run: str = "") -> list[dict[str, Any]]:
    clock = FakeClock(start)
    config = CONFIG.model_copy(update={"run": run})
    feed = simulate_live(config, speed=600.0, now_fn=clock.time, sleep_fn=clock.sleep)
    return [next(feed) for _ in range(n)]


def ids(events: Iterable[dict[str, Any]]) -> tuple[set[tuple[str, str]], set[str]]:
    """``(source, id)`` of every event, and every entity id (subjects and references in data)."""
    keys, entities = set(), set()
    for e in events:
        keys.add((e["source"], e["id"]))
        entities.add(e["subject"])
        entities.update(str(e["data"][f]) for f in REFERENCE_FIELDS if e["data"].get(f))
    return keys, entities


def test_a_restarted_live_feed_mints_ids_disjoint_from_the_previous_run() -> None:
    start = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    first = live_run(start)
    second = live_run(start + timedelta(minutes=3))  # the demo restarted on the same data directory
    keys1, entities1 = ids(first)
    keys2, entities2 = ids(second)
    assert len(keys1) == len(first) and len(keys2) == len(second)
    assert keys1.isdisjoint(keys2)
    assert entities1.isdisjoint(entities2)
    for event in first[:50] + second[:50]:
        parse_event(event)  # run ids keep ids inside the contract's id pattern


def test_two_live_feeds_started_in_the_same_millisecond_do_not_collide() -> None:
    start = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    a, b = new_run_id(start, "aaaa"), new_run_id(start, "bbbb")
    keys_a, entities_a = ids(live_run(start, 200, run=a))
    keys_b, entities_b = ids(live_run(start, 200, run=b))
    assert keys_a.isdisjoint(keys_b) and entities_a.isdisjoint(entities_b)
    minted = {new_run_id(start) for _ in range(5)}  # what simulate_live mints when none is given
    assert len(minted) == 5 and all(r.startswith(new_run_id(start, "")) for r in minted)


def test_the_run_id_is_in_every_id_of_a_live_feed() -> None:
    events = live_run(datetime(2026, 12, 5, 10, 0, tzinfo=UTC), 100, run="r1")
    for e in events:
        assert e["id"].startswith("cambs-r1-") and e["subject"].startswith("cambs-r1-")


def test_file_runs_keep_their_seed_determined_ids() -> None:
    """`demandhub simulate --seed S --out F` is deterministic: no run id, same ids every time."""
    first = [(e["id"], e["subject"]) for e in simulate(CONFIG)]
    again = [(e["id"], e["subject"]) for e in simulate(CONFIG)]
    assert first == again
    assert all(re.fullmatch(r"cambs-[a-z]\d+", i) and re.fullmatch(r"cambs-[A-Z]\d+", s) for i, s in first)
