"""Dead-letter reasons name fields and rules, never values; and the work per message is bounded.

A reason (the ``error`` header of a dead letter and ``rejected_events.reason``) is built from the
validator's error type, the contract's field path and the rule broken. Key names sent by a source are
untrusted like values: a key the contract does not define appears only as its keyed hash. Messages too
large, too deep or with too many items are refused before they are parsed by the validator, so one
hostile message cannot make it build an error per key while the events behind it wait.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streams.pipeline as pipeline_module
from demandhub.dlq import DlqRecord, DlqValidator
from demandhub.settings import Settings
from schemas.envelope import Envelope
from schemas.topics import topic_for_type
from sinks.clickhouse import history_sql
from sinks.clickhouse.client import Warehouse
from streams.pipeline import (
    SHAPE_CLASSES,
    BatchReport,
    DeadLetter,
    Pipeline,
    RawMessage,
    _describe,
    shape_problem,
)
from tests.unit.test_fuzz_pipeline import EXAMPLES

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CALLS = "demandhub.contacts.call.v1"
FORCE = "cambs"
PHONE = "07700900123"
PERSON = f"Jane Doe {PHONE}"
# a phone number read as a Unix time: a reason quoting the event time would give the number away
PHONE_AS_TIME = datetime.fromtimestamp(int(PHONE), UTC).isoformat()[:10]
LEAKS = (PHONE, PHONE.lstrip("0"), "Jane", "janedoe", PHONE_AS_TIME)


def pipeline(**overrides: Any) -> Pipeline:
    config = Settings(**({"allowed_forces": (FORCE,), "data_dir": Path("/nonexistent")} | overrides))
    return Pipeline(config, cast(Warehouse, None), (), b"reason-key", now=lambda: NOW)


PIPELINE = pipeline()


def event(**over: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "source": "telephony",
        "type": "call.queued.v1",
        "time": "2026-06-01T11:00:00Z",
        "force_id": FORCE,
        "subject": "C1",
        "data": {"queue": "999"},
    } | over


def without(name: str, **over: Any) -> dict[str, Any]:
    out = event(**over)
    del out[name]
    return out


def leaked(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [c for c in LEAKS if c.lower() in text.lower()]


def dead(raw: bytes, key: bytes | None = PERSON.encode(), p: Pipeline = PIPELINE) -> DeadLetter:
    out = p.decode(RawMessage(CALLS, 0, 7, raw, key))
    assert isinstance(out, DeadLetter), out
    return out


def rejected_row(dl: DeadLetter) -> dict[str, Any]:
    report = BatchReport(dead_letters=[dl])
    (row,) = PIPELINE._reject_rows(report, NOW)
    return dict(zip(history_sql.REJECT_COLUMNS, row, strict=False))


def assert_no_leak(dl: DeadLetter, force_too: bool = True, payload_too: bool = True) -> None:
    assert not leaked(dl.reason), dl.reason
    assert not leaked(dl.reason_class)
    for name, value in dl.headers():
        assert not leaked(value), (name, value)
    assert dl.key is None or not leaked(dl.key), dl.key
    row = rejected_row(dl)
    for column in ("reason", "type", "subject", *(("force_id",) if force_too else ())):
        assert not leaked(str(row[column])), (column, row[column])
    if payload_too:
        assert not leaked(dl.payload), dl.payload
        assert not leaked(str(row["payload"]))


CODE_SHAPED = "JaneDoe" + PHONE
"""Fits the pattern of ``id``: the scrubbed payload keeps such a value in clear (its field is a code and
it has the code's shape); the reason still never quotes it."""

BAD = {
    "unknown key named like a person": (event(**{PERSON: "x"}), "invalid_fields"),
    "unknown key in data": (event(data={"queue": "999", PERSON: "x"}), "invalid_fields"),
    "type holding a phone number": (event(type=PHONE), "unknown_type"),
    "type holding a person": (event(type=PERSON), "unknown_type"),
    "wrong type": (event(subject=int(PHONE)), "invalid_fields"),
    "wrong type in data": (event(data={"queue": int(PHONE)}), "invalid_fields"),
    "missing field beside a value": (without("time", id=CODE_SHAPED), "invalid_fields"),
    "missing type beside a value": (without("type", id=CODE_SHAPED), "unknown_type"),
    "bad pattern": (event(subject=f"Mrs {PERSON}"), "invalid_fields"),
    "bad enum": (event(data={"queue": PERSON}), "invalid_fields"),
    # read as a Unix time, or refused as a number: either way the reason must not give it away
    "time from a phone number": (event(time=PHONE), "time_in_future|invalid_fields"),
    "too long": (event(data={"queue": PERSON * 300}), "invalid_fields"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_no_value_or_unknown_key_reaches_a_reason(name: str) -> None:
    body, reason_class = BAD[name]
    dl = dead(json.dumps(body).encode())
    assert dl.reason_class in reason_class.split("|")
    assert dl.reason.strip()
    assert_no_leak(dl, payload_too=CODE_SHAPED not in body.values())


def test_a_foreign_force_is_not_quoted() -> None:
    dl = dead(json.dumps(event(force_id="janedoe" + PHONE[1:])).encode())
    assert dl.reason_class == "foreign_force"
    # a force id of the right shape is kept in the force column and the payload, like any valid one
    assert_no_leak(dl, force_too=False, payload_too=False)


def test_an_unknown_reference_value_and_its_force_are_not_quoted() -> None:
    body = event(force_id="janedoe" + PHONE[1:], data={"queue": "999"}, type="call.queued.v1")
    body["data"]["queue"] = "x-janedoe"  # a queue of the right shape that the reference data lacks
    dl = dead(json.dumps(body).encode(), p=pipeline(allowed_forces=()))
    assert dl.reason_class == "unknown_reference"
    assert not leaked(dl.reason), dl.reason


@pytest.mark.parametrize(
    "raw, reason_class",
    [
        (f'{{"name": "{PERSON}", oops}}'.encode(), "malformed_json"),
        (f'{{"name": "{PERSON}'.encode(), "malformed_json"),
        (f'{{"name": "{PERSON}"}}'.encode() + b"\xff", "malformed_json"),
        (b"\xff" + json.dumps(event(subject=PERSON)).encode(), "malformed_json"),
        (json.dumps(event(data={"queue": "999", "notes": PERSON * 5000})).encode(), "too_large"),
        (json.dumps(event(data={f"{PERSON} {i}": PERSON for i in range(300)})).encode(), "too_many_items"),
        (json.dumps(event(data={"queue": [[[[[[[[[[[[[[[[[PERSON]]]]]]]]]]]]]]]]]})).encode(), "too_deep"),
    ],
)
def test_unreadable_and_oversized_messages_carry_no_value(raw: bytes, reason_class: str) -> None:
    dl = dead(raw)
    assert dl.reason_class == reason_class
    assert_no_leak(dl)


def test_a_custom_validator_message_is_never_quoted() -> None:
    """A validator's own words may quote the value (``value_error`` and custom error types): only its
    error type is kept; the path keeps contract names and hashes any other key."""
    errors = [
        {
            "type": "value_error",
            "loc": ("call.queued.v1", "data", "queue"),
            "msg": f"Value error, {PERSON} is not a queue",
            "ctx": {"error": ValueError(PERSON)},
        },
        {"type": "unknown_district", "loc": ("call.queued.v1", "data", PERSON), "msg": PERSON, "ctx": {}},
        {"type": "union_tag_invalid", "loc": (), "msg": f"Input tag '{PERSON}'", "ctx": {"tag": PERSON}},
    ]
    reason = _describe(errors, b"k")
    assert not leaked(reason), reason
    assert reason.startswith("call.queued.v1: data.queue: value_error; data.<unknown key h:")


def test_unknown_keys_are_shown_as_their_keyed_hash_and_contract_fields_by_name() -> None:
    dl = dead(json.dumps(event(data={"queue": "999", PERSON: 1})).encode())
    first = dead(json.dumps(event(data={"queue": "999", PERSON: 2})).encode())
    other = pipeline().decode(
        RawMessage(CALLS, 0, 7, json.dumps(event(data={"queue": "999", "x": 1})).encode())
    )
    assert isinstance(other, DeadLetter)
    assert dl.reason.startswith("call.queued.v1: data.<unknown key h:")
    assert dl.reason == first.reason != other.reason  # same key, same pseudonym; another key, another
    missing = dead(json.dumps(without("subject")).encode())
    assert missing.reason == "call.queued.v1: subject: Field required (missing)"


def test_the_dlq_key_is_the_subject_of_a_valid_event_or_a_keyed_hash() -> None:
    future = json.dumps(event(time="2030-01-01T00:00:00Z")).encode()
    assert dead(future, key=b"C1").key == b"C1"
    assert dead(future, key=PERSON.encode()).key != PERSON.encode()
    assert dead(b"{", key=b"C1").key != b"C1"  # nothing says a malformed message's key is a subject
    assert dead(b"{", key=None).key is None


# -- property: canaries planted anywhere, in keys and values ---------------------------------------

canaries = st.builds(
    lambda middle, sep: f"ZQX {middle}{sep} ZQX",
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -'.", max_size=20),
    st.sampled_from((" ", "@example.com ", "07700900123", ", High Street, ")),
)
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), canaries)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(canaries, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def planted(draw: st.DrawFn) -> dict[str, Any]:
    """A golden example with canaries planted: at least one unknown key holding one (so it is always
    refused), then more in keys and values at either level, possibly in ``type``."""
    out = copy.deepcopy(draw(st.sampled_from(EXAMPLES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        target = out["data"] if draw(st.booleans()) and isinstance(out["data"], dict) else out
        mode = draw(st.sampled_from(("key", "value", "type")))
        if mode == "key" or not target:
            target[draw(canaries)] = draw(json_values)
        elif mode == "value":
            target[draw(st.sampled_from(sorted(target)))] = draw(json_values)
        else:
            out["type"] = draw(canaries)
    out[draw(canaries)] = draw(json_values)
    return out


arbitrary_objects = st.dictionaries(canaries, json_values, min_size=1, max_size=6)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_no_canary(dl: DeadLetter) -> None:
    assert "ZQX" not in dl.reason, dl.reason
    assert "ZQX" not in dl.reason_class
    for name, value in dl.headers():
        assert b"ZQX" not in value, (name, value)
    assert dl.key is not None and b"ZQX" not in dl.key
    row = rejected_row(dl)
    for column in ("reason", "force_id", "type", "subject"):
        assert "ZQX" not in str(row[column]), (column, row[column])
    assert b"ZQX" not in dl.payload, dl.payload


@PROPERTY
@given(planted(), canaries)
def test_canaries_planted_in_events_never_reach_a_reason_or_header(body: dict[str, Any], key: str) -> None:
    dl = PIPELINE.decode(RawMessage(CALLS, 0, 7, json.dumps(body).encode(), key.encode()))
    assert isinstance(dl, DeadLetter)
    assert_no_canary(dl)


@PROPERTY
@given(arbitrary_objects, canaries)
def test_canaries_in_arbitrary_objects_never_reach_a_reason_or_header(body: dict[str, Any], key: str) -> None:
    dl = PIPELINE.decode(RawMessage(CALLS, 0, 7, json.dumps(body).encode(), key.encode()))
    assert isinstance(dl, DeadLetter)
    assert_no_canary(dl)


# -- bounded work --------------------------------------------------------------------------------


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often decode ran the validator, the scrubber and a full JSON parse."""
    counts = {"validate": 0, "scrub": 0, "json.loads": 0}

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(
        pipeline_module, "parse_event_json", spy("validate", pipeline_module.parse_event_json)
    )
    monkeypatch.setattr(pipeline_module, "scrub_raw", spy("scrub", pipeline_module.scrub_raw))
    monkeypatch.setattr(pipeline_module.json, "loads", spy("json.loads", json.loads))
    return counts


def hostile(keys: int) -> bytes:
    return json.dumps(event(data={"queue": "999", **{f"k{i}": i for i in range(keys)}})).encode()


def test_a_huge_message_is_refused_unread(calls: dict[str, int]) -> None:
    raw = hostile(200_000)  # the 13 MB report had 700k keys; 3.5 MB makes the point
    dl = dead(raw)
    assert dl.reason_class == "too_large"
    assert dl.reason == f"message: {len(raw)} bytes, over the limit of 65536"
    assert calls == {"validate": 0, "scrub": 0, "json.loads": 0}  # not validated, scrubbed nor parsed
    payload = json.loads(dl.payload)
    assert payload["undecodable"] is True and payload["withheld"] == "too_large"
    assert payload["length"] == len(raw) and payload["digest"].startswith("h:")
    assert rejected_row(dl)["payload"] == dl.payload.decode()


def test_many_keys_under_the_byte_limit_are_refused_before_validation(calls: dict[str, int]) -> None:
    raw = hostile(4000)
    assert len(raw) < 65536
    dl = dead(raw)
    assert dl.reason_class == "too_many_items"
    assert calls["validate"] == 0 and calls["scrub"] == 0 and calls["json.loads"] == 1  # one parse


def test_deep_nesting_under_the_byte_limit_is_refused_before_validation(calls: dict[str, int]) -> None:
    raw = b'{"a":' * 5000 + b"1" + b"}" * 5000
    assert dead(raw).reason_class == "too_deep"
    assert calls["validate"] == 0 and calls["scrub"] == 0


def test_an_ordinary_event_is_parsed_once_by_the_validator(calls: dict[str, int]) -> None:
    for example in EXAMPLES:
        topic = topic_for_type(example["type"]).name
        decoded = PIPELINE.decode(RawMessage(topic, 0, 0, json.dumps(example).encode()))
        assert isinstance(decoded, Envelope), example["type"]
    assert calls["validate"] == len(EXAMPLES)
    assert calls["json.loads"] == 0  # the cheap bounds on the raw bytes were enough


def test_a_reason_describes_a_few_errors_and_counts_the_rest() -> None:
    dl = dead(hostile(200))  # under every limit: validated, 201 errors
    assert dl.reason_class == "invalid_fields"
    assert dl.reason.count("(extra_forbidden)") == 5
    assert dl.reason.endswith("; and 195 more errors")
    assert len(dl.reason) < 1024


def test_limits_are_settings() -> None:
    raw = hostile(400)
    assert dead(raw).reason_class == "too_many_items"
    assert dead(raw, p=pipeline(max_event_items=1000)).reason_class == "invalid_fields"
    assert dead(raw, p=pipeline(max_event_bytes=1024)).reason_class == "too_large"
    deep = json.dumps(event(data={"queue": [[["999"]]]})).encode()
    assert dead(deep, p=pipeline(max_event_depth=4)).reason_class == "too_deep"
    assert dead(deep).reason_class == "invalid_fields"


def _depth_and_items(value: Any, depth: int = 1) -> tuple[int, int]:
    children = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else None
    if children is None:
        return 0, 0
    deepest, items = depth, len(children)
    for child in children:
        d, n = _depth_and_items(child, depth + 1)
        deepest, items = max(deepest, d), items + n
    return deepest, items


tricky_text = st.text(alphabet='{}[],:" \\ab', max_size=8)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(tricky_text, inner, max_size=5),
    max_leaves=40,
)


@PROPERTY
@given(any_json, st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=30), st.booleans())
def test_the_cheap_bounds_never_let_a_message_past_its_limits(
    value: Any, max_depth: int, max_items: int, pretty: bool
) -> None:
    raw = json.dumps(value, indent=2 if pretty else None).encode()
    depth, items = _depth_and_items(value)
    found = shape_problem(raw, 1 << 20, max_depth, max_items)
    if depth > max_depth or items > max_items:
        assert found is not None and found[0] in ("too_deep", "too_many_items")
    else:
        assert found is None


# -- dead-letter replay --------------------------------------------------------------------------


def test_replay_keeps_refusing_a_withheld_message_with_its_class() -> None:
    validator = DlqValidator(Settings(data_dir=Path("/nonexistent")), "contacts")
    for reason_class, raw in (("too_large", hostile(200_000)), ("too_many_items", hostile(4000))):
        dl = dead(raw)
        assert dl.reason_class == reason_class in SHAPE_CLASSES
        verdict = validator.check(DlqRecord(0, 1, dl.key, dl.payload, {"source_topic": CALLS}))
        assert verdict.value is None and verdict.reason_class == reason_class


def test_replay_produces_a_now_valid_event_under_its_subject() -> None:
    foreign = json.dumps(event(force_id="kent")).encode()
    dl = dead(foreign, key=PERSON.encode())
    assert dl.reason_class == "foreign_force"
    validator = DlqValidator(Settings(data_dir=Path("/nonexistent")), "contacts")
    verdict = validator.check(DlqRecord(0, 1, dl.key, dl.payload, {"source_topic": CALLS}))
    assert verdict.value is not None and verdict.key == b"C1"
