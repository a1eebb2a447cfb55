"""The live document's shaping, change detection and cache, without a warehouse or a network."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from demandhub.settings import Settings
from demandhub.web.live import (
    LANE_SECTIONS,
    LiveCache,
    LiveLanes,
    LiveReaders,
    build_live_document,
    default_readers,
    fingerprint,
    incidents_section,
    queues_section,
)
from schemas.definitions import Definitions

pytestmark = pytest.mark.unit

NOW = datetime(2024, 6, 12, 11, 0, tzinfo=UTC)


def reader_queue(queue: str, waiting: int, sl: tuple[int, int], ab: tuple[int, int]) -> dict[str, Any]:
    """One item as ``live_queues`` returns it."""

    def ratio(num: int, den: int) -> dict[str, Any]:
        return {"num": num, "den": den, "percent": None if den == 0 else 100.0 * num / den}

    period = {
        "offered": ab[1],
        "answered": sl[1],
        "service_level": {"convention": "answered_basis", **ratio(*sl)},
        "abandoned": ab[0],
        "short_abandoned": 0,
        "abandonment_rate": ratio(*ab),
    }
    return {
        "queue": queue,
        "waiting": waiting,
        "longest_wait_seconds": 12.5 if waiting else None,
        "waiting_past_threshold": 1 if waiting else 0,
        "periods": {"last_15m": period, "last_60m": period, "today": period},
    }


def reader_incident(
    incident_id: str, grade: str, target_min: float, elapsed_min: float, now: datetime = NOW
) -> dict[str, Any]:
    """One item as ``live_open_incidents`` returns it (status left to the page to derive)."""
    return {
        "incident_id": incident_id,
        "grade": grade,
        "district": "Fenland",
        "area": "North",
        "urban_rural": "rural",
        "clock_start_at": now - timedelta(minutes=elapsed_min),
        "target_minutes": target_min,
        "minutes_elapsed": elapsed_min,
        "minutes_left": target_min - elapsed_min,
        "status": None,
    }


def test_queues_come_in_wallboard_order_with_rates_as_shares() -> None:
    raw = [
        reader_queue("webchat", 0, (0, 0), (0, 0)),
        reader_queue("x-crime-desk", 2, (1, 1), (0, 1)),
        reader_queue("999", 3, (9, 10), (1, 20)),
    ]
    settings = Settings()
    tiles = queues_section(raw, Definitions(), settings.service_level_targets, settings.abandonment_target)
    assert [t["queue"] for t in tiles] == ["999", "101-primary", "101-secondary", "webchat", "x-crime-desk"]
    q999 = tiles[0]
    assert (q999["waiting"], q999["longest_wait_seconds"], q999["threshold_seconds"]) == (3, 12.5, 10)
    window = q999["windows"]["last_15m"]
    assert (window["service_level"], window["sl_numerator"], window["sl_denominator"]) == (0.9, 9, 10)
    assert (window["abandonment"], window["abandoned"], window["abandon_denominator"]) == (0.05, 1, 20)
    # a queue the reader did not mention, and one with no calls: counts 0, rates null (never 0%)
    assert tiles[1]["waiting"] == 0 and tiles[1]["windows"]["today"]["service_level"] is None
    assert tiles[3]["windows"]["today"]["abandonment"] is None


def test_incident_status_follows_the_amber_share_and_the_target() -> None:
    raw = [
        reader_incident("ok", "IMMEDIATE", 15, 11),  # 11 / 15 = 73% < 75%
        reader_incident("amber", "IMMEDIATE", 15, 11.25),  # exactly 75%
        reader_incident("at-target", "PRIORITY", 60, 60),  # not yet past it
        reader_incident("red", "PRIORITY", 60, 61),
    ]
    section = incidents_section(raw, NOW, 0.75)
    by_id = {i["incident_id"]: i for i in section["items"]}
    assert {k: v["status"] for k, v in by_id.items()} == {
        "ok": "ok",
        "amber": "amber",
        "at-target": "amber",
        "red": "red",
    }
    assert [i["incident_id"] for i in section["items"]] == ["red", "at-target", "amber", "ok"]
    assert by_id["red"]["seconds_left"] == -60
    assert by_id["ok"]["amber_at_seconds_left"] == pytest.approx(225)  # a quarter of 15 minutes
    assert by_id["ok"]["target_at"] == NOW + timedelta(minutes=4)
    assert (section["open"], section["amber"], section["red"]) == (4, 2, 1)


def test_the_reader_status_wins_when_given() -> None:
    raw = [dict(reader_incident("x", "IMMEDIATE", 15, 1), status="red")]
    assert incidents_section(raw, NOW, 0.75)["items"][0]["status"] == "red"


def _rows(*args: Any) -> list[dict[str, Any]]:
    return []


def _section(*args: Any) -> dict[str, Any]:
    return {}


def _readers(queues: Any = _rows, incidents: Any = _rows, qa: Any = _section) -> LiveReaders:
    return LiveReaders(queues=queues, incidents=incidents, qa=qa, social=_section, feeds=_section)


def test_a_failing_reader_blanks_only_its_section() -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("warehouse down")

    readers = _readers(queues=lambda *a: [reader_queue("999", 1, (1, 1), (0, 1))], incidents=broken)
    doc = build_live_document(None, Settings(), NOW, readers)  # type: ignore[arg-type]
    assert doc["queues"][0]["waiting"] == 1
    assert doc["incidents"] is None and doc["qa"] is not None
    assert doc["errors"] == {"incidents": "reader failed"}
    assert doc["generated_at"] == NOW.isoformat()


class _Handle:
    """Stands in for a read handle: its name, and closed when the lanes close."""

    def __init__(self, name: str) -> None:
        self.name, self.closed = name, False

    def close(self) -> None:
        self.closed = True


def test_the_sections_are_read_at_once_on_the_lanes_and_the_document_is_the_same() -> None:
    seen: dict[str, tuple[str, str]] = {}
    both_running: threading.Barrier | None = threading.Barrier(2, timeout=10)

    def recording(name: str, result: Any) -> Any:
        def read(wh: Any, *args: Any) -> Any:
            seen[name] = (wh.name, threading.current_thread().name)
            if both_running is not None and name in ("queues", "incidents"):  # each lane's first
                both_running.wait()  # each waits for the other: they run at once
            return result

        return read

    queue = [reader_queue("999", 2, (3, 4), (1, 5))]
    qa = {"depth": 4, "oldest_age_seconds": 90.0, "inflow": 6, "outflow": 2}
    readers = LiveReaders(
        queues=recording("queues", queue),
        incidents=recording("incidents", [reader_incident("x", "IMMEDIATE", 15, 1)]),
        qa=recording("qa", qa),
        social=recording("social", {}),
        feeds=recording("feeds", {"sources": []}),
    )
    first, other = _Handle("live"), _Handle("live-1")
    lanes = LiveLanes(first, [other])  # type: ignore[list-item]
    doc = build_live_document(lanes, Settings(), NOW, readers)  # type: ignore[arg-type]
    assert {name: handle for name, (handle, _) in seen.items()} == {
        **{name: "live" for name in LANE_SECTIONS[0]},
        **{name: "live-1" for name in LANE_SECTIONS[1]},
    }
    assert seen["queues"][1] == threading.current_thread().name != seen["incidents"][1]
    both_running = None  # one handle: the sections one after the other
    alone = build_live_document(_Handle("live"), Settings(), NOW, readers)  # type: ignore[arg-type]
    assert doc == alone and list(doc) == list(alone)
    lanes.close()
    assert first.closed and other.closed


def test_a_failing_section_on_the_other_lane_blanks_only_itself() -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("warehouse down")

    readers = _readers(queues=lambda *a: [reader_queue("999", 1, (1, 1), (0, 1))], incidents=broken)
    lanes = LiveLanes(_Handle("live"), [_Handle("live-1")])  # type: ignore[arg-type,list-item]
    doc = build_live_document(lanes, Settings(), NOW, readers)  # type: ignore[arg-type]
    assert doc["queues"][0]["waiting"] == 1 and doc["incidents"] is None
    assert doc["errors"] == {"incidents": "reader failed"}
    lanes.close()


def test_a_missing_reader_is_refused_when_the_readers_are_built() -> None:
    with pytest.raises(TypeError, match="live readers missing for: qa, feeds"):
        LiveReaders(queues=_rows, incidents=_rows, qa=None, social=_section, feeds=None)  # type: ignore[arg-type]


def test_the_default_readers_serve_every_section() -> None:
    readers = default_readers(Settings())
    assert all(callable(getattr(readers, name)) for name in ("queues", "incidents", "qa", "social", "feeds"))


def test_the_service_level_target_is_the_setting_for_the_queue() -> None:
    chosen = {"999": 0.95, "101-primary": 0.8, "101-secondary": 0.85, "webchat": 0.7}
    settings = Settings(service_level_targets=chosen)
    readers = _readers(queues=lambda *a: [reader_queue("x-crime-desk", 0, (0, 0), (0, 0))])
    doc = build_live_document(None, settings, NOW, readers)  # type: ignore[arg-type]
    targets = {tile["queue"]: tile["service_level_target"] for tile in doc["queues"]}
    # a force-specific queue the setting does not name has no target rather than an invented one
    assert targets == {**chosen, "x-crime-desk": None}


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ({"999": 0.9}, "no target for 101-primary, 101-secondary, webchat"),
        ({"999": 0.9, "101-primary": 0.9, "101-secondary": 0.9, "webchat": 90}, "not so for webchat"),
    ],
)
def test_settings_without_a_valid_target_for_every_queue_are_refused(
    targets: dict[str, float], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(service_level_targets=targets)


def test_qa_section_names_today_explicitly() -> None:
    readers = _readers(qa=lambda *a: {"depth": 4, "oldest_age_seconds": 90.0, "inflow": 6, "outflow": 2})
    qa = build_live_document(None, Settings(), NOW, readers)["qa"]  # type: ignore[arg-type]
    assert qa == {"depth": 4, "oldest_age_seconds": 90.0, "inflow_today": 6, "outflow_today": 2}


def test_fingerprint_ignores_ticking_figures_but_not_changes() -> None:
    def doc(now: datetime, waiting: int, elapsed: float) -> dict[str, Any]:
        readers = _readers(
            queues=lambda *a: [reader_queue("999", waiting, (1, 1), (0, 1))],
            incidents=lambda *a: [reader_incident("I1", "IMMEDIATE", 15, elapsed, now)],
            qa=lambda *a: {"depth": 1, "oldest_age_seconds": elapsed * 60, "inflow": 1, "outflow": 0},
        )
        return build_live_document(None, Settings(), now, readers)  # type: ignore[arg-type]

    base = fingerprint(doc(NOW, 1, 2.0))
    assert fingerprint(doc(NOW + timedelta(seconds=30), 1, 2.5)) == base  # only the clock moved
    assert fingerprint(doc(NOW, 2, 2.0)) != base  # a new caller waits
    assert fingerprint(doc(NOW, 1, 12.0)) != base  # the incident turned amber


def test_cache_computes_once_per_interval_for_any_number_of_readers() -> None:
    clock = [0.0]
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"generated_at": len(calls), "errors": {}}

    async def scenario() -> list[Any]:
        cache = LiveCache(compute, ttl=0.5, clock=lambda: clock[0])
        first = await asyncio.gather(*(cache.get() for _ in range(50)))
        clock[0] = 0.4
        again = await cache.get()
        clock[0] = 0.6
        later = await cache.get()
        return [first, again, later, cache.computations]

    first, again, later, computations = asyncio.run(scenario())
    assert {s.doc["generated_at"] for s in first} == {1}
    assert again.doc["generated_at"] == 1
    assert later.doc["generated_at"] == 2
    assert computations == 2
