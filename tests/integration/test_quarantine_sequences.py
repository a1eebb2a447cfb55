"""Impossible sequences through the pipeline: held out of the facts with a reason in
``rejected_events``, taken in again when a later event makes them possible, and conflicting copies of
one (source, id) resolved the same way whatever the delivery."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demandhub.settings import Settings
from schemas.events import entity_of, parse_event
from schemas.topics import TOPICS
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.domain.base import copy_rank
from streams.pipeline import Pipeline, RawMessage
from tests.conftest import TEST_KEY
from tests.integration.test_contacts_properties import SNAPSHOTS, TABLES
from tests.unit.test_contacts_golden import golden_raw
from tests.unit.test_fold_copies import variant

pytestmark = pytest.mark.integration

T0 = datetime(2025, 2, 3, 10, 0, tzinfo=UTC)
OPEN = "SELECT count() FROM rejected_events FINAL WHERE kind = 'quarantine' AND resolved_at IS NULL"
RECORDS = (
    "SELECT reason, force_id, type, subject, payload FROM rejected_events FINAL "
    "WHERE kind = 'quarantine' AND resolved_at IS NULL ORDER BY subject"
)


def e(subject: str, n: int, verb: str, seconds: float, **data: Any) -> dict[str, Any]:
    return {
        "id": f"{subject}-{n}",
        "source": "telephony",
        "type": f"call.{verb}.v1",
        "force_id": "cambs",
        "subject": subject,
        "time": (T0 + timedelta(seconds=seconds)).isoformat(),
        "data": data,
    }


def answered_call(subject: str, start: float) -> list[dict[str, Any]]:
    return [
        e(subject, 0, "offered", start, channel="999"),
        e(subject, 1, "queued", start + 1, queue="999"),
        e(subject, 2, "answered", start + 8, queue="999"),
        e(subject, 3, "ended", start + 90, disposition="advice"),
    ]


def messages(raw: list[dict[str, Any]], offset: int = 0) -> list[RawMessage]:
    return [
        RawMessage(TOPICS[entity_of(x["type"])].name, 0, offset + i, json.dumps(x).encode())
        for i, x in enumerate(raw)
    ]


def pipeline(settings: Settings, wh: Warehouse) -> Pipeline:
    return Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())


def empty(wh: Warehouse) -> None:
    for table in TABLES:
        wh.command(f"TRUNCATE TABLE IF EXISTS {table}")


QUEUE = (  # a bucket with no answer has NaN quantiles, and NaN != NaN
    "SELECT * EXCEPT (version, answer_wait_quantiles), arrayMap(x -> if(isNaN(x), -1, x), "
    "finalizeAggregation(answer_wait_quantiles)) AS q FROM contact_queue_15m FINAL ORDER BY ALL"
)


def snapshot(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    found = {name: wh.query(QUEUE if name == "queue" else sql).rows for name, sql in SNAPSHOTS.items()}
    return {**found, "open": wh.query(RECORDS).rows}


def scalar(wh: Warehouse, sql: str) -> Any:
    return wh.query(sql).rows[0][0]


def test_an_answer_for_a_call_never_offered_is_no_phantom_contact(wh: Warehouse, settings: Settings) -> None:
    real = [x for i in range(30) for x in answered_call(f"K{i:02d}", 120 * i)]
    orphan = e("ORPHAN", 2, "answered", 500, queue="999")
    pipe = pipeline(settings, wh)
    report = pipe.process(messages([*real, orphan]))
    assert report.quarantine_change == 1
    assert scalar(wh, "SELECT count() FROM contacts FINAL") == 30
    assert scalar(wh, "SELECT countIf(ever_answered) FROM contacts FINAL") == 30
    assert scalar(wh, "SELECT sum(offered) FROM contact_channel_15m FINAL") == 30
    assert scalar(wh, "SELECT sum(answered) FROM contact_queue_15m FINAL") == 30
    assert wh.query(
        "SELECT reason, subject FROM rejected_events FINAL WHERE kind = 'quarantine' AND resolved_at IS NULL"
    ).rows == [
        (
            "missing_opening: answered for a contact with no offer (held out until it arrives)",
            "ORPHAN|telephony|ORPHAN-2",
        )
    ]


def test_an_offer_that_arrives_late_takes_the_held_answer_in(wh: Warehouse, settings: Settings) -> None:
    late = answered_call("LATE", 0)
    pipe = pipeline(settings, wh)
    pipe.process(messages([late[2], late[1]]))
    assert scalar(wh, OPEN) == 2 and scalar(wh, "SELECT count() FROM contacts FINAL") == 0
    pipe.cache.clear()  # the offer's batch reloads the held events from the ledger
    report = pipe.process(messages([late[0], late[3]], 10))
    assert report.quarantine_change == -2 and len(report.resolved) == 2
    incremental = snapshot(wh)
    assert scalar(wh, OPEN) == 0
    assert scalar(wh, "SELECT count() FROM rejected_events FINAL WHERE resolved_at IS NOT NULL") == 2
    empty(wh)
    pipeline(settings, wh).process(messages(late))
    assert incremental == snapshot(wh)  # the same figures as a recompute from scratch


def test_a_call_that_ended_before_it_was_offered_is_quarantined(wh: Warehouse, settings: Settings) -> None:
    call = answered_call("BACK", 60)
    call[3] = e("BACK", 3, "ended", 10, disposition="advice")
    pipeline(settings, wh).process(messages(call))
    assert wh.query(RECORDS).rows[0][:4] == (
        "time_order: ended before the contact was offered",
        "cambs",
        "call.ended.v1",
        "BACK|telephony|BACK-3",
    )
    assert wh.query("SELECT outcome, ended_at FROM contacts FINAL").rows == [("answered", None)]


def test_an_event_a_later_arrival_makes_impossible_is_recorded(wh: Warehouse, settings: Settings) -> None:
    """The answer was accepted in the first batch; an end timed before it arrives in the second
    batch. The answer is left out from then on, and its quarantine is written then, though the
    answer itself is not new in that batch."""
    call = answered_call("LEFT", 0)
    pipe = pipeline(settings, wh)
    pipe.process(messages(call[:3]))
    assert scalar(wh, OPEN) == 0
    pipe.process(messages([e("LEFT", 3, "ended", 5, disposition="advice")], 10))
    assert [(r[0], r[3]) for r in wh.query(RECORDS).rows] == [
        ("answered after the contact ended", "LEFT|telephony|LEFT-2")
    ]


def test_a_conflicting_copy_is_recorded_and_the_kept_copy_wins_in_any_order(
    wh: Warehouse, settings: Settings
) -> None:
    call = answered_call("DUP", 0)
    other = variant(call[2], 0)  # the same answer (source, id), another time
    runs = []
    for order in ([*call, other], [other, *call]):
        empty(wh)
        pipe = pipeline(settings, wh)
        for i, raw in enumerate(order):
            pipe.process(messages([raw], i))
        runs.append(snapshot(wh))
        [(reason, _, etype, subject, _)] = wh.query(RECORDS).rows
        assert reason.startswith("conflicting_duplicate: ") and "differs in time" in reason
        assert (etype, subject.rsplit("|", 1)[0]) == ("call.answered.v1", "DUP|telephony|DUP-2")
    assert runs[0] == runs[1]


def test_a_leg_only_the_replaced_copy_named_is_withdrawn(wh: Warehouse, settings: Settings) -> None:
    """The kept copy of the queued event changes queue when a smaller-ranked copy arrives: the leg
    of the old queue is no longer produced, so it leaves the facts and the rollups."""
    offered = e("MOVE", 0, "offered", 0, channel="101")
    copies = [e("MOVE", 1, "queued", 1, queue=q) for q in ("101-primary", "101-secondary")]
    first, winner = sorted(copies, key=lambda c: copy_rank(parse_event(c)), reverse=True)
    pipe = pipeline(settings, wh)
    pipe.process(messages([offered, first]))
    assert wh.query("SELECT queue FROM contact_legs FINAL").rows == [(first["data"]["queue"],)]
    pipe.process(messages([winner], 5))
    assert wh.query("SELECT queue FROM contact_legs FINAL").rows == [(winner["data"]["queue"],)]
    assert wh.query("SELECT queue, sum(entered) FROM contact_queue_15m FINAL GROUP BY queue").rows == [
        (winner["data"]["queue"], 1)
    ]


@pytest.fixture
def conflicted() -> list[dict[str, Any]]:
    """The golden contact set plus a differing copy of one event in three."""
    rnd = random.Random(7)
    raw = golden_raw()
    return raw + [variant(x, rnd.randrange(4)) for x in raw if rnd.random() < 0.35]


@pytest.fixture
def expected(
    wh: Warehouse, settings: Settings, conflicted: list[dict[str, Any]]
) -> dict[str, list[tuple[Any, ...]]]:
    """The facts and records of the conflicted set delivered once in order (computed once, not per
    example)."""
    pipeline(settings, wh).process(messages(conflicted))
    return snapshot(wh)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    duplicates=st.integers(0, 20),
    batches=st.integers(1, 8),
    reload=st.booleans(),
)
def test_same_facts_and_records_whatever_the_delivery_of_conflicting_copies(
    wh: Warehouse,
    settings: Settings,
    conflicted: list[dict[str, Any]],
    expected: dict[str, list[tuple[Any, ...]]],
    seed: int,
    duplicates: int,
    batches: int,
    reload: bool,
) -> None:
    empty(wh)
    rnd = random.Random(seed)
    arrival = conflicted + [rnd.choice(conflicted) for _ in range(duplicates)]
    rnd.shuffle(arrival)
    cuts = sorted(rnd.sample(range(1, len(arrival)), min(batches - 1, len(arrival) - 1)))
    pipe = pipeline(settings, wh)
    for n, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, len(arrival)], strict=True)):
        if reload and n % 2:
            pipe.cache.clear()
        pipe.process(messages(arrival[lo:hi], lo))
    assert snapshot(wh) == expected
