"""Copies of one (source, id): identical copies are one event; differing copies are a conflict,
resolved by a total order that does not depend on delivery, and recorded by field name only."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.definitions import Definitions
from schemas.envelope import Envelope
from schemas.events import parse_event
from streams.domain.base import CONFLICT_CLASS, conflicts, copy_key, dedupe_sorted, fingerprint
from streams.domain.contacts import CallFold
from tests.unit.test_contacts_golden import ev, fold_all, golden_events, golden_raw

pytestmark = pytest.mark.unit

DEFS = Definitions()
QUEUES = ("999", "101-primary", "101-secondary")


def variant(raw: dict[str, Any], how: int) -> dict[str, Any]:
    """Another copy of ``raw`` (same source and id) with different content."""
    copy = json.loads(json.dumps(raw))
    data = copy["data"]
    if how % 2 == 0 or "queue" not in data:
        shifted = parse_event(raw).time + timedelta(seconds=1 + how)
        copy["time"] = shifted.isoformat()
    else:
        data["queue"] = QUEUES[(QUEUES.index(data["queue"]) + 1 + how) % len(QUEUES)]
    return copy


def with_conflicts(seed: int, share: float) -> list[Envelope]:
    rnd = random.Random(seed)
    raw = golden_raw()
    extra = [variant(e, rnd.randrange(4)) for e in raw if rnd.random() < share]
    return [parse_event(e) for e in raw + extra]


def _records(events: list[Envelope]) -> list[tuple[tuple[str, str, str], str]]:
    return sorted((copy_key(e), why) for e, why in conflicts(events))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), share=st.floats(0.05, 0.6), dups=st.integers(0, 20))
def test_kept_copy_and_conflict_records_do_not_depend_on_delivery(seed: int, share: float, dups: int) -> None:
    events = with_conflicts(seed, share)
    expected_kept = [copy_key(e) for e in dedupe_sorted(events)]
    expected_records = _records(events)
    expected_rows = fold_all(events, DEFS)
    rnd = random.Random(seed + 1)
    delivered = events + [rnd.choice(events) for _ in range(dups)]
    rnd.shuffle(delivered)
    assert [copy_key(e) for e in dedupe_sorted(delivered)] == expected_kept
    assert _records(delivered) == expected_records
    assert fold_all(delivered, DEFS) == expected_rows


def test_first_arrival_does_not_decide_which_copy_is_kept() -> None:
    a = parse_event(ev("K", "call.answered.v1", 10, 2, queue="999"))
    b = parse_event(ev("K", "call.answered.v1", 12, 2, queue="999"))
    kept = dedupe_sorted([a, b])
    assert dedupe_sorted([b, a]) == kept and len(kept) == 1
    assert kept[0] is (a if fingerprint(a) < fingerprint(b) else b)
    [(loser, why)] = conflicts([b, a])
    assert loser is not kept[0]
    assert why.startswith(f"{CONFLICT_CLASS}: ") and "time" in why


def test_conflict_reason_names_fields_never_values() -> None:
    a = parse_event(ev("K", "call.ended.v1", 10, 3, disposition="advice", incident_id="INC-SECRETLIKE-1"))
    b = parse_event(ev("K", "call.ended.v1", 10, 3, disposition="advice", incident_id="INC-SECRETLIKE-2"))
    [(_, why)] = conflicts([a, b])
    assert "data.incident_id" in why and "SECRETLIKE" not in why and "disposition" not in why


def test_a_copy_that_opens_the_contact_is_kept_over_one_that_does_not() -> None:
    """Whatever the hashes say, a conflict never takes away the offer a contact's facts hang on."""
    offered = parse_event(ev("K", "call.offered.v1", 0, 0, channel="999"))
    for at in range(8):  # some of these hash below the offer, some above
        answered = parse_event(ev("K", "call.answered.v1", at, 0, queue="999"))
        assert dedupe_sorted([answered, offered]) == [offered]
        assert [e for e, _ in conflicts([offered, answered])] == [answered]


def test_identical_copies_are_no_conflict() -> None:
    raw = ev("K", "call.queued.v1", 1, 1, queue="999")
    shuffled = json.loads(json.dumps(raw, sort_keys=True))
    assert conflicts([parse_event(raw), parse_event(shuffled)]) == []


def test_fingerprint_is_the_same_after_the_ledger_round_trip() -> None:
    """The ledger keeps type, time and the payload as JSON; a copy reloaded from it must hash like
    the copy that came through the broker, or every redelivery would look like a conflict."""
    for e in golden_events():
        stored = json.dumps(e.model_dump(mode="json")["data"], separators=(",", ":"), sort_keys=True)
        reloaded = parse_event(
            {
                "id": e.id,
                "source": e.source,
                "type": e.type,
                "time": e.time,
                "force_id": e.force_id,
                "subject": e.subject,
                "data": json.loads(stored),
            }
        )
        assert fingerprint(reloaded) == fingerprint(e)


def test_conflicting_copy_of_a_queue_changes_the_fold_the_same_way_in_any_order() -> None:
    offered = parse_event(ev("K", "call.offered.v1", 0, 0, channel="101"))
    a = parse_event(ev("K", "call.queued.v1", 1, 1, queue="101-primary"))
    b = parse_event(ev("K", "call.queued.v1", 1, 1, queue="101-secondary"))
    one = CallFold().fold([offered, a, b], DEFS).rows
    other = CallFold().fold([b, offered, a], DEFS).rows
    assert one == other and len(one["contact_legs"]) == 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), share=st.floats(0.0, 0.6))
def test_a_deduped_history_given_back_is_its_own_answer_without_work_again(seed: int, share: float) -> None:
    """The pipeline dedupes and sorts a subject's history, then its fold does it again: the second
    time the list is copied, not hashed or sorted (the same events, in the same order)."""
    from streams.domain import base

    events = with_conflicts(seed, share)
    random.Random(seed).shuffle(events)
    once = dedupe_sorted(events)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "dedupe", lambda _events: pytest.fail("deduped again"))
        patch.setattr(base, "event_sort_key", lambda _event: pytest.fail("sorted again"))
        again = dedupe_sorted(once)
    assert again == once and again is not once
    assert [copy_key(e) for e in again] == [copy_key(e) for e in dedupe_sorted(list(events))]
    distinct = list({e.dedup_key: e for e in events}.values())
    assert base.sorted_distinct(distinct) == dedupe_sorted(list(distinct))
