"""The pipeline's history cache: subjects whose lifecycle ended leave it, the rest is bounded by events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.envelope import Envelope
from schemas.events import entity_of, parse_event
from streams.history_cache import HistoryCache, SubjectKey, settled

pytestmark = pytest.mark.unit

T0 = datetime(2024, 3, 5, 10, tzinfo=UTC)
PAYLOADS: dict[str, dict[str, Any]] = {
    "call.offered.v1": {"channel": "999"},
    "call.queued.v1": {"queue": "999"},
    "call.answered.v1": {"queue": "999"},
    "call.ended.v1": {"disposition": "resolved"},
}


def event(etype: str, subject: str, minute: int, data: dict[str, Any] | None = None) -> Envelope:
    return parse_event(
        {
            "id": f"{subject}-{etype}-{minute}",
            "source": "src",
            "type": etype,
            "time": T0 + timedelta(minutes=minute),
            "force_id": "cambs",
            "subject": subject,
            "data": PAYLOADS.get(etype, {}) if data is None else data,
        }
    )


def key(e: Envelope) -> SubjectKey:
    return (e.force_id, entity_of(e.type), e.subject)


def call(subject: str, ended: bool) -> tuple[Envelope, ...]:
    steps = ["call.offered.v1", "call.queued.v1", "call.answered.v1"] + (["call.ended.v1"] if ended else [])
    return tuple(event(t, subject, i) for i, t in enumerate(steps))


def test_a_call_that_ended_leaves_the_cache_and_a_live_one_stays() -> None:
    cache = HistoryCache(max_events=100)
    live, done = call("C1", ended=False), call("C2", ended=True)
    cache.put(key(live[0]), live)
    cache.put(key(done[0]), done)
    assert cache.get(key(live[0])) == live
    assert cache.get(key(done[0])) is None
    assert len(cache) == 1 and cache.events == len(live)


def test_a_subject_that_ends_later_is_dropped_then() -> None:
    cache = HistoryCache(max_events=100)
    live, done = call("C1", ended=False), call("C1", ended=True)
    cache.put(key(live[0]), live)
    cache.put(key(done[0]), done)
    assert key(done[0]) not in cache and cache.events == 0


def test_an_incident_is_settled_by_its_latest_closure_not_by_a_reopened_one() -> None:
    closed = event("incident.closed.v1", "I1", 10, {"final_category": "ASB"})
    reopened = event("incident.reopened.v1", "I1", 20, {})
    closed_again = event("incident.closed.v1", "I1", 30, {"final_category": "ASB"})
    assert settled("incident", (closed,))
    assert not settled("incident", (closed, reopened))
    assert not settled("incident", (reopened, closed))  # arrival order does not matter, event time does
    assert settled("incident", (reopened, closed_again, closed))


def test_a_crime_never_settles_and_an_empty_history_neither() -> None:
    assert not settled("crime", ())
    assert not settled("call", ())


@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=60),
    bound=st.integers(0, 20),
    reads=st.lists(st.integers(0, 59), max_size=30),
)
def test_the_events_held_never_exceed_the_bound_and_the_most_recent_use_stays(
    sizes: list[int], bound: int, reads: list[int]
) -> None:
    cache = HistoryCache(max_events=bound)
    histories = {i: call(f"C{i}", ended=False)[:1] * n for i, n in enumerate(sizes)}
    for i, history in histories.items():
        cache.put(("cambs", "call", f"C{i}"), history)
        assert cache.events <= bound
        assert cache.events == sum(len(h) for k, h in cache._items.items())
        for r in reads:
            cache.get(("cambs", "call", f"C{r % len(sizes)}"))
        if len(history) <= bound:
            assert cache.get(("cambs", "call", f"C{i}")) == history


def test_clear_empties_and_resets_the_count() -> None:
    cache = HistoryCache(max_events=100)
    live = call("C1", ended=False)
    cache.put(key(live[0]), live)
    cache.clear()
    assert len(cache) == 0 and cache.events == 0 and cache.get(key(live[0])) is None
