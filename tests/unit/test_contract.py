"""The event contract: every type validates, round-trips, marks its personal data, and stays compatible."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.envelope import PiiTreatment, pii_fields
from schemas.events import EVENT_MODELS, PAYLOADS, json_schemas, parse_event, parse_event_json
from schemas.export import check_exported, incompatibilities
from schemas.shapes import IDENTIFIER_PATTERN
from schemas.topics import TOPICS, topic_for_type
from streams.domain.pii import HASH_PREFIX, sanitise, scrub_raw

pytestmark = pytest.mark.unit

LOC = {"district": "Fenland", "area": "North", "urban_rural": "rural"}
MINIMAL: dict[str, dict[str, Any]] = {
    "call.offered.v1": {"channel": "999"},
    "call.ivr_entered.v1": {},
    "call.queued.v1": {"queue": "101-primary"},
    "call.answered.v1": {"queue": "999"},
    "call.abandoned.v1": {"stage": "primary_queue"},
    "call.callback_requested.v1": {"queue": "101-primary"},
    "call.transferred.v1": {"from_queue": "101-primary", "to_queue": "101-secondary"},
    "call.ended.v1": {"disposition": "resolved"},
    "webchat.offered.v1": {},
    "webchat.answered.v1": {},
    "webchat.abandoned.v1": {},
    "webchat.ended.v1": {"disposition": "advice"},
    "online_report.submitted.v1": {"report_type": "crime"},
    "online_report.triaged.v1": {"outcome": "crime"},
    "online_report.linked.v1": {"crime_id": "CR1"},
    "incident.created.v1": {"channel": "999", "opening_category": "ASB_NUISANCE", "location": LOC},
    "incident.graded.v1": {"grade": "IMMEDIATE"},
    "incident.regraded.v1": {"old_grade": "IMMEDIATE", "new_grade": "PRIORITY"},
    "incident.resource_assigned.v1": {},
    "incident.resource_arrived.v1": {},
    "incident.qualifier_added.v1": {"qualifier": "mental_health"},
    "incident.qualifier_removed.v1": {"qualifier": "mental_health"},
    "incident.cancelled.v1": {},
    "incident.merged_as_duplicate.v1": {"duplicate_of": "I0"},
    "incident.closed.v1": {"final_category": "ASB_NUISANCE"},
    "incident.reopened.v1": {},
    "crime.reported.v1": {},
    "crime.recorded.v1": {"offence_code": "28E", "district": "Peterborough"},
    "crime.reclassified.v1": {"offence_code": "8N"},
    "crime.cancelled.v1": {},
    "crime.transferred.v1": {"to_force": "herts"},
    "crime.qa_queue_entered.v1": {},
    "crime.qa_queue_exited.v1": {},
    "crime.outcome_assigned.v1": {"outcome_type": 2, "subtype": "conditional", "offender_age_band": "adult"},
    "crime.outcome_changed.v1": {"outcome_type": 18},
    "social.received.v1": {"platform": "facebook"},
    "social.assigned.v1": {},
    "social.responded.v1": {},
    "social.closed.v1": {"disposition": "advice"},
}


def envelope(event_type: str, data: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    base = {
        "id": "e-1",
        "source": "telephony",
        "type": event_type,
        "time": "2024-03-31T00:30:00.123456+00:00",
        "force_id": "cambs",
        "subject": "S-1",
        "data": MINIMAL[event_type] if data is None else data,
    }
    return base | over


def test_every_type_has_a_minimal_example() -> None:
    assert set(MINIMAL) == set(PAYLOADS) == set(EVENT_MODELS)


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_every_type_validates_and_round_trips(event_type: str) -> None:
    event = parse_event(envelope(event_type))
    assert type(event) is EVENT_MODELS[event_type]
    again = parse_event_json(event.model_dump_json())
    assert again == event
    assert event.time == datetime(2024, 3, 31, 0, 30, 0, 123000, tzinfo=UTC)  # ms precision, UTC


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_payload_narrows_to_the_declared_payload_type(event_type: str) -> None:
    event = parse_event(envelope(event_type))
    assert event.payload(PAYLOADS[event_type]) is event.data
    other = next(p for t, p in PAYLOADS.items() if p is not PAYLOADS[event_type] and t != event_type)
    with pytest.raises(TypeError, match=f"^{event_type} carries {PAYLOADS[event_type].__name__}, not"):
        event.payload(other)


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_every_type_has_a_topic_keyed_by_domain(event_type: str) -> None:
    topic = topic_for_type(event_type)
    assert topic.name.startswith(f"demandhub.{topic.domain}.") and topic.name.endswith(".v1")
    assert topic.dlq == f"demandhub.{topic.domain}.dlq"


def test_times_are_normalised_to_utc() -> None:
    event = parse_event(envelope("call.offered.v1", time="2024-07-01T10:00:00+01:00"))
    assert event.time == datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"time": "2024-03-31T00:30:00"}, "timezone"),
        ({"type": "call.teleported.v1"}, "type"),
        ({"force_id": "Cambs Police"}, "force_id"),
        ({"id": ""}, "id"),
        ({"data": {"channel": "112"}}, "channel"),
        ({"data": {"channel": "999", "extra": 1}}, "extra"),
        ({"data": None}, "data"),
    ],
)
def test_invalid_events_are_refused_with_a_reason(change: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_event(envelope("call.offered.v1") | change)
    assert fragment in str(info.value)


def test_personal_fields_are_marked_and_optional() -> None:
    marked = {t: pii_fields(m) for t, m in EVENT_MODELS.items()}
    kinds = {pii.kind for fields in marked.values() for _, pii in fields}
    assert {"phone", "name", "address", "free_text", "location"} <= kinds
    # every personal field is optional, so a sanitised event is still a valid event
    for event_type in PAYLOADS:
        assert parse_event(envelope(event_type))


CANARY = "CANARY-0770-900-123"


def _plant(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        obj = obj[part]
    obj[parts[-1]] = value


@pytest.mark.parametrize("event_type", sorted(t for t, m in EVENT_MODELS.items() if pii_fields(m)))
def test_sanitise_removes_every_canary(event_type: str) -> None:
    raw = envelope(event_type, copy.deepcopy(MINIMAL[event_type]))
    for path, pii in pii_fields(EVENT_MODELS[event_type]):
        _plant(raw, path, 51.5 if pii.kind == "location" else CANARY)
    clean = sanitise(parse_event(raw), b"key")
    dumped = clean.model_dump_json()
    assert CANARY not in dumped and "51.5" not in dumped
    for path, pii in pii_fields(EVENT_MODELS[event_type]):
        value: Any = clean.model_dump(mode="json")
        for part in path.split("."):
            value = value[part]
        if pii.treatment is PiiTreatment.PSEUDONYMISE:
            assert isinstance(value, str) and value.startswith(HASH_PREFIX)
        else:
            assert value is None
    assert sanitise(clean, b"key") == clean  # idempotent


def test_pseudonyms_link_under_one_key_and_not_across_keys() -> None:
    raw = envelope("call.offered.v1", {"channel": "101", "caller_number": "07700 900123"})
    a = sanitise(parse_event(raw), b"k1").data.caller_number  # type: ignore[attr-defined]
    b = sanitise(parse_event(raw | {"id": "e-2"}), b"k1").data.caller_number  # type: ignore[attr-defined]
    c = sanitise(parse_event(raw), b"k2").data.caller_number  # type: ignore[attr-defined]
    assert a == b != c


def test_scrubbed_dead_letters_hold_no_personal_data() -> None:
    bad = envelope("call.offered.v1", {"channel": "112", "caller_number": CANARY, "caller_name": CANARY})
    scrubbed = scrub_raw(json.dumps(bad).encode(), b"k")
    assert CANARY.encode() not in scrubbed
    assert json.loads(scrubbed)["type"] == "call.offered.v1"
    undecodable = scrub_raw(b"\xff\xfe" + CANARY.encode(), b"k")
    assert CANARY.encode() not in undecodable and json.loads(undecodable)["undecodable"] is True


def test_exported_json_schemas_are_current() -> None:
    assert check_exported() == []


def test_compatibility_check_catches_breaking_changes() -> None:
    old = json_schemas()["call.queued.v1"]
    removed = copy.deepcopy(old)
    del removed["$defs"]["CallQueued"]["properties"]["queue"]
    assert any("removed" in p for p in incompatibilities(old, removed))
    required = copy.deepcopy(old)
    required["$defs"]["CallQueued"]["properties"]["skill"] = {"type": "string"}
    required["$defs"]["CallQueued"]["required"] = ["queue", "skill"]
    assert any("new required field data.skill" in p for p in incompatibilities(old, required))
    retyped = copy.deepcopy(old)
    retyped["$defs"]["CallQueued"]["properties"]["queue"] = {"type": "integer"}
    assert any("changed type" in p for p in incompatibilities(old, retyped))
    added_optional = copy.deepcopy(old)
    added_optional["$defs"]["CallQueued"]["properties"]["skill"] = {"type": "string"}
    assert incompatibilities(old, added_optional) == []


def test_topics_are_unique_and_partitioned() -> None:
    names = [t.name for t in TOPICS.values()]
    assert len(names) == len(set(names))
    assert all(t.partitions >= 1 for t in TOPICS.values())


@settings(max_examples=200, deadline=None)
@given(
    event_type=st.sampled_from(sorted(PAYLOADS)),
    subject=st.from_regex(IDENTIFIER_PATTERN, fullmatch=True),
    offset_ms=st.integers(min_value=0, max_value=10 * 365 * 86400 * 1000),
    tz_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_any_valid_envelope_round_trips_through_json(
    event_type: str, subject: str, offset_ms: int, tz_minutes: int
) -> None:
    from datetime import timezone

    when = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(milliseconds=offset_ms)
    local = when.astimezone(timezone(timedelta(minutes=tz_minutes)))
    event = parse_event(envelope(event_type, subject=subject, time=local.isoformat()))
    assert event.time == when
    assert parse_event_json(event.model_dump_json()) == event
