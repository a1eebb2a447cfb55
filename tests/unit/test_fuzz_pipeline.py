"""Bad input at the edge of the pipeline: ``Pipeline.decode`` never raises and refuses every bad event
with a reason.

Hypothesis mutates the golden example events (every event type) into bad ones: wrong types, missing
fields, unknown fields, huge strings, invalid UTF-8, unknown event types, timestamps far in the
future or past, and force ids this deployment does not serve; and throws arbitrary bytes at it.
The examples themselves must still be accepted, so a decode that refuses everything fails here too.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demandhub.settings import Settings
from schemas.envelope import Envelope
from schemas.events import EVENT_MODELS
from schemas.topics import topic_for_type
from sinks.clickhouse.client import Warehouse
from streams.pipeline import DeadLetter, Pipeline, RawMessage

pytestmark = pytest.mark.unit

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "schemas" / "examples"
FORCE = "cambs"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
REASON_CLASSES = {
    "malformed_json",
    "unknown_type",
    "invalid_fields",
    "time_in_future",
    "time_too_old",
    "foreign_force",
    "wrong_topic",
    "too_large",
    "too_deep",
    "too_many_items",
}
ENVELOPE_KEYS = ("id", "source", "type", "time", "force_id", "subject")


def _examples() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES_DIR.glob("*/*.json")):
        loaded = json.loads(path.read_text())
        found.extend(loaded if isinstance(loaded, list) else [loaded])
    return [e for e in found if e["force_id"] == FORCE and datetime.fromisoformat(e["time"]) < NOW]


EXAMPLES = _examples()


def pipeline() -> Pipeline:
    """A pipeline serving one force; decode() never touches the warehouse."""
    settings = Settings(allowed_forces=(FORCE,), data_dir=Path("/nonexistent"))
    return Pipeline(settings, cast(Warehouse, None), (), b"fuzz-key", now=lambda: NOW)


PIPELINE = pipeline()


def message(event: dict[str, Any] | bytes, topic: str | None = None) -> RawMessage:
    value = event if isinstance(event, bytes) else json.dumps(event).encode()
    if topic is None and isinstance(event, dict):
        try:
            topic = topic_for_type(str(event.get("type"))).name
        except (KeyError, TypeError):
            topic = "demandhub.contacts.call.v1"
    return RawMessage(topic or "demandhub.contacts.call.v1", 0, 7, value, b"key")


def assert_dead(decoded: Envelope | DeadLetter) -> DeadLetter:
    assert isinstance(decoded, DeadLetter), f"accepted a bad event: {decoded!r}"
    assert decoded.reason.strip()
    assert decoded.reason_class in REASON_CLASSES
    json.loads(decoded.payload)  # the scrubbed payload is JSON, whatever came in
    headers = dict(decoded.headers())
    assert headers["error"] and headers["error_class"] == decoded.reason_class.encode()
    return decoded


junk = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
examples = st.sampled_from(EXAMPLES)


@st.composite
def wrong_type(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(examples))
    key = draw(st.sampled_from(ENVELOPE_KEYS))
    value = draw(junk)
    if key == "time" and isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]  # pydantic reads bare numbers as Unix times; a list never is one
    event[key] = value
    return event


@st.composite
def missing_field(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(examples))
    del event[draw(st.sampled_from(ENVELOPE_KEYS))]
    return event


@st.composite
def unknown_field(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(examples))
    name = draw(st.text(min_size=1, max_size=20).filter(lambda s: s not in event["data"]))
    target = event["data"] if draw(st.booleans()) else event
    if name in target:
        name = name + "_x"
    target[name] = draw(st.one_of(junk, st.text(max_size=30)))
    return event


@st.composite
def huge_string(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(examples))
    size = draw(st.integers(min_value=4097, max_value=200_000))
    key = draw(st.sampled_from(("id", "subject", "source", "data")))
    if key == "data":
        string_keys = [k for k, v in event["data"].items() if isinstance(v, str)]
        if not string_keys:
            event["subject"] = "S" * size
            return event
        event["data"][draw(st.sampled_from(string_keys))] = "x" * size
    else:
        event[key] = event[key][:1] + "a" * size
    return event


@st.composite
def unknown_type(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(examples))
    event["type"] = draw(st.text(max_size=40).filter(lambda t: t not in EVENT_MODELS))
    return event


@st.composite
def far_time(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(examples))
    when = draw(
        st.one_of(
            st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(1999, 12, 31)),
            st.datetimes(min_value=datetime(2024, 6, 2), max_value=datetime(9999, 12, 31)),
        )
    )
    event["time"] = when.replace(tzinfo=UTC).isoformat()
    return event


@st.composite
def foreign_force(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(examples))
    event["force_id"] = draw(st.from_regex(r"\A[a-z][a-z0-9_-]{1,31}\Z").filter(lambda f: f != FORCE))
    return event


@st.composite
def invalid_utf8(draw: st.DrawFn) -> bytes:
    raw = json.dumps(draw(examples)).encode()
    at = draw(st.integers(min_value=0, max_value=len(raw)))
    bad = draw(st.sampled_from((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80")))
    return raw[:at] + bad + raw[at:]


bad_events = st.one_of(
    wrong_type(),
    missing_field(),
    unknown_field(),
    huge_string(),
    unknown_type(),
    far_time(),
    foreign_force(),
)

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_golden_examples_are_accepted() -> None:
    assert len(EXAMPLES) >= len(EVENT_MODELS)
    for event in EXAMPLES:
        assert isinstance(PIPELINE.decode(message(event)), Envelope), event["type"]


@FUZZ
@given(bad_events)
def test_every_bad_event_is_refused_with_a_reason(event: dict[str, Any]) -> None:
    assert_dead(PIPELINE.decode(message(event)))


@FUZZ
@given(invalid_utf8())
def test_invalid_utf8_is_refused_and_never_raises(raw: bytes) -> None:
    dead = assert_dead(PIPELINE.decode(message(raw)))
    assert dead.reason_class in ("malformed_json", "invalid_fields")


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    assert_dead(PIPELINE.decode(message(raw)))


@FUZZ
@given(examples, st.sampled_from(["demandhub.crimes.crime.v1", "demandhub.contacts.webchat.v1"]))
def test_an_event_on_the_wrong_topic_is_refused(event: dict[str, Any], topic: str) -> None:
    decoded = PIPELINE.decode(message(event, topic))
    if topic_for_type(event["type"]).name == topic:
        assert isinstance(decoded, Envelope)
    else:
        assert assert_dead(decoded).reason_class == "wrong_topic"


@FUZZ
@given(far_time())
def test_far_times_are_refused_for_their_time(event: dict[str, Any]) -> None:
    assert assert_dead(PIPELINE.decode(message(event))).reason_class in ("time_in_future", "time_too_old")


@FUZZ
@given(foreign_force())
def test_foreign_forces_are_refused_as_foreign(event: dict[str, Any]) -> None:
    assert assert_dead(PIPELINE.decode(message(event))).reason_class == "foreign_force"


canaries = st.builds(
    lambda middle, sep: f"ZQX{middle}{sep}ZQX",
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -'.", max_size=40),
    st.sampled_from((" ", "@example.com ", "07700900123", ", High Street, ")),
)


@FUZZ
@given(examples, canaries, st.text(min_size=1, max_size=12), st.integers(min_value=0, max_value=3))
def test_dead_letters_never_carry_unknown_fields_values_in_clear(
    event: dict[str, Any], canary: str, name: str, depth: int
) -> None:
    """Hostile input: a personal-looking value under a key the contract does not know, at any depth
    (or as a long string anywhere) is hashed in the dead letter."""
    bad = copy.deepcopy(event)
    value: Any = canary
    for level in range(depth):
        value = {f"k{level}": value} if level % 2 == 0 else [value]
    target = bad["data"] if depth % 2 == 0 else bad
    target[f"x_{name}"] = value
    bad["data"]["zz_long"] = canary + "A" * 300
    dead = assert_dead(PIPELINE.decode(message(bad)))
    assert b"ZQX" not in dead.payload
    assert "ZQX" not in dead.reason
