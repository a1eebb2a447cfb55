"""Pipeline.decode: every bad message becomes a dead letter with a reason; nothing raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from demandhub.settings import Settings
from streams.pipeline import DeadLetter, Pipeline, RawMessage

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CALLS = "demandhub.contacts.call.v1"


def pipeline(**overrides: Any) -> Pipeline:
    return Pipeline(Settings(**overrides), None, [], b"k", now=lambda: NOW)  # type: ignore[arg-type]


def event(**over: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "source": "telephony",
        "type": "call.queued.v1",
        "time": "2026-06-01T11:00:00Z",
        "force_id": "cambs",
        "subject": "C1",
        "data": {"queue": "999"},
    } | over


def decode(raw: bytes, topic: str = CALLS, **settings: Any) -> DeadLetter:
    out = pipeline(**settings).decode(RawMessage(topic, 0, 7, raw))
    assert isinstance(out, DeadLetter)
    assert out.reason
    return out


def test_a_valid_event_decodes() -> None:
    out = pipeline().decode(RawMessage(CALLS, 0, 0, json.dumps(event()).encode()))
    assert not isinstance(out, DeadLetter) and out.subject == "C1"


@pytest.mark.parametrize(
    "raw, reason_class",
    [
        (b"\xff\xfe\x00", "malformed_json"),
        (b"[" * 100_000 + b"]" * 100_000, "too_large"),
        (b'{"a":' * 60_000 + b"1" + b"}" * 60_000, "too_large"),
        (b"[" * 5_000 + b"]" * 5_000, "too_deep"),
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "too_deep"),
        (b"", "malformed_json"),
        (b"[]", "invalid_fields"),
        (json.dumps(event(type="call.teleported.v1")).encode(), "unknown_type"),
        (json.dumps(event(data={"queue": 999})).encode(), "invalid_fields"),
        (json.dumps(event(data={"queue": "x" * 100_000})).encode(), "too_large"),
        (json.dumps(event(data={"queue": "x" * 5_000})).encode(), "invalid_fields"),
        (json.dumps(event(time="2026-06-01T11:00:00")).encode(), "invalid_fields"),
    ],
)
def test_bad_messages_are_dead_letters(raw: bytes, reason_class: str) -> None:
    dead = decode(raw)
    assert dead.reason_class == reason_class
    assert len(dead.payload) < 20_000  # scrubbed and bounded
    assert dict(dead.headers())["source_offset"] == b"7"


def test_nesting_deeper_than_the_validator_allows_is_still_refused_when_the_limits_are_raised() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    dead = decode(raw, max_event_bytes=1 << 20, max_event_depth=1 << 20, max_event_items=1 << 20)
    assert dead.reason_class == "malformed_json"


def test_events_far_in_the_future_or_past_are_refused() -> None:
    future = (NOW + timedelta(hours=1)).isoformat()
    assert decode(json.dumps(event(time=future)).encode()).reason_class == "time_in_future"
    assert decode(json.dumps(event(time="1999-12-31T00:00:00Z")).encode()).reason_class == "time_too_old"


def test_foreign_forces_are_refused_when_forces_are_listed() -> None:
    raw = json.dumps(event(force_id="kent")).encode()
    assert decode(raw, allowed_forces=("cambs",)).reason_class == "foreign_force"
    assert not isinstance(pipeline().decode(RawMessage(CALLS, 0, 0, raw)), DeadLetter)


def test_an_event_on_the_wrong_topic_is_refused() -> None:
    raw = json.dumps(event()).encode()
    dead = decode(raw, topic="demandhub.crimes.crime.v1")
    assert dead.reason_class == "wrong_topic" and dead.dlq_topic == "demandhub.crimes.dlq"


def test_the_shape_walk_runs_only_for_a_message_past_its_first_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """decode checks the byte length and the bracket and comma counts itself; only a message past one
    of them goes to shape_problem, which decides (here: a message within the items limit once read)."""
    import streams.pipeline as module

    calls: list[bytes] = []
    walk = module.shape_problem

    def counted(raw: bytes, *limits: int) -> tuple[str, str] | None:
        calls.append(raw)
        return walk(raw, *limits)

    monkeypatch.setattr(module, "shape_problem", counted)
    plain = json.dumps(event()).encode()
    assert not isinstance(pipeline().decode(RawMessage(CALLS, 0, 0, plain)), DeadLetter)
    assert calls == []
    commas = json.dumps(event(id="e" + "," * 40)).encode()  # commas inside a string
    limits = {"max_event_items": 32}
    assert decode(commas, **limits).reason_class == "invalid_fields"  # read: the id's shape is wrong
    assert calls == [commas]
    too_many = json.dumps(event(data={"queue": "999", "extra": list(range(40))})).encode()
    assert decode(too_many, **limits).reason_class == "too_many_items"
