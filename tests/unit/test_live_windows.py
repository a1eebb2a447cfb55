"""The live windows' convention: a contact counts in the window in which it left the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from demandhub.queries.contacts import left_queue_at, window_periods, window_starts
from demandhub.web.live import queues_section
from schemas.definitions import Definitions

pytestmark = pytest.mark.unit

NOW = datetime(2024, 6, 12, 11, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def leg(queue: str, queued: datetime, wait_s: float, outcome: str = "answered") -> dict[str, Any]:
    end = queued + timedelta(seconds=wait_s)
    return {
        "queue": queue,
        "placed_at": queued,
        "outcome": outcome,
        "entered_queue": True,
        "abandoned_in_queue": outcome == "abandoned",
        "service_wait_seconds": wait_s,
        "answered_at": end if outcome == "answered" else None,
        "abandoned_at": end if outcome == "abandoned" else None,
        "callback_at": None,
        "transferred_out_at": None,
    }


def periods(legs: list[dict[str, Any]], queue: str = "999") -> dict[str, dict[str, Any]]:
    return window_periods(legs, queue, window_starts(NOW, "Europe/London"), NOW, Definitions())


def test_a_twenty_minute_wait_counts_in_the_fifteen_minute_window_it_left() -> None:
    # queued 22 minutes ago, answered 2 minutes ago after a 20-minute wait
    figures = periods([leg("999", NOW - 22 * M, 20 * 60)])
    last15 = figures["last_15m"]
    assert (last15["answered"], last15["offered"]) == (1, 1)
    assert (last15["service_level"]["num"], last15["service_level"]["den"]) == (0, 1)  # a miss, counted


def test_a_contact_counts_by_when_it_left_not_when_it_queued() -> None:
    # queued 10 minutes ago (inside 15 min) but still waiting: in no window yet
    waiting = {**leg("999", NOW - 10 * M, 0), "outcome": "waiting", "answered_at": None}
    # queued 70 minutes ago, abandoned 50 minutes ago: in the 60-minute window, not the 15-minute one
    gone = leg("999", NOW - 70 * M, 20 * 60, outcome="abandoned")
    figures = periods([waiting, gone])
    assert figures["last_15m"]["offered"] == 0
    assert (figures["last_60m"]["abandoned"], figures["last_60m"]["offered"]) == (1, 1)
    assert figures["today"]["abandoned"] == 1


def test_a_contact_that_left_before_the_window_is_out_even_if_queued_inside_another() -> None:
    early = leg("101-primary", NOW - 80 * M, 30)  # left 79.5 minutes ago
    assert periods([early], "101-primary")["last_60m"]["offered"] == 0
    assert periods([early], "101-primary")["today"]["offered"] == 1


def test_left_queue_at_takes_the_first_end_and_none_while_waiting() -> None:
    answered = leg("999", NOW - 5 * M, 30)
    assert left_queue_at(answered) == NOW - 5 * M + timedelta(seconds=30)
    callback = {**leg("999", NOW, 0), "answered_at": None, "callback_at": NOW}
    assert left_queue_at(callback) == NOW
    assert left_queue_at({**answered, "answered_at": None}) is None


def test_abandonment_target_comes_from_the_settings() -> None:
    tiles = queues_section([], Definitions(), {"999": 0.9}, {"999": 0.04})
    assert tiles[0]["abandonment_target"] == 0.04
    assert tiles[1]["abandonment_target"] is None
