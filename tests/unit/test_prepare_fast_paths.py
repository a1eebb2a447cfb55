"""The shortcuts of the prepare path give exactly what the general path gives: the time validator's
direct read of the usual wire form, the de-duplication of histories without copies, the type lookups
and the ledger's JSON encoder."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, TypeAdapter, ValidationError

from schemas.envelope import Envelope, UtcTime, _iso_text_only, _to_utc_ms
from schemas.events import EVENT_MODELS, entity_of, parse_event, verb_of
from streams.domain import reference
from streams.domain.base import _kept, conflicts, dedupe, dedupe_sorted, event_sort_key
from streams.pipeline import Pipeline, _ledger_json
from tests.unit.test_contacts_golden import golden_raw

pytestmark = pytest.mark.unit

FAST = TypeAdapter(UtcTime)
REFERENCE = TypeAdapter(Annotated[AwareDatetime, BeforeValidator(_iso_text_only), AfterValidator(_to_utc_ms)])
"""The time validator as it was: text check before pydantic, UTC and milliseconds after."""


def _outcome(validate: Any, value: Any) -> tuple[str, Any]:
    try:
        found = validate(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        return "error", [(e["type"], e["loc"], e["msg"], e["input"]) for e in errors]
    assert isinstance(found, datetime)
    return "value", (found, found.tzinfo is UTC, found.utcoffset())


def _same_as_reference(value: Any) -> None:
    assert _outcome(FAST.validate_python, value) == _outcome(REFERENCE.validate_python, value)
    text = json.dumps(value, default=str)
    assert _outcome(FAST.validate_json, text) == _outcome(REFERENCE.validate_json, text)


instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
offsets = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))])


@st.composite
def time_texts(draw: st.DrawFn) -> str:
    """ISO 8601 texts near the usual wire form: every fraction length, zone spelling and separator."""
    when = draw(instants).astimezone(draw(offsets))
    digits = draw(st.sampled_from([None, 1, 3, 6]))
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{when.microsecond:06d}"[:digits]
    zone = draw(st.sampled_from(["Z", "+00:00", "-00:00", "", "z", when.strftime("%z")]))
    text += zone if zone != "%z" else ""
    if draw(st.booleans()):
        text = text.replace("T", draw(st.sampled_from([" ", "t", "_", "x"])), 1)
    return text


def test_the_usual_wire_form_is_the_same_instant_in_utc() -> None:
    found = FAST.validate_json('"2025-01-06T00:13:56.220Z"')
    assert found == datetime(2025, 1, 6, 0, 13, 56, 220000, tzinfo=UTC)
    assert found.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "2025-01-06T00:13:56.220Z",
        "2025-01-06T00:13:56Z",
        "2025-01-06T00:13:56.220+00:00",
        "2025-01-06T00:13:56.2209Z",
        "2025-01-06T00:13:56.220+01:00",
        "2025-02-30T00:13:56.220Z",  # no such day: the shape matches, the date does not
        "2024-02-29T23:59:60.000Z",
        "2025-01-06T24:00:00.000Z",
        "0000-01-06T00:13:56.220Z",
        "2025-01-06T00:13:56.220",
        "2025-W02-1T00:13:56.220Z",
        "20250106T001356.220Z",
        "2025-01-06",
        "1700000000",
        1700000000,
        1.5,
        True,
        None,
        "",
        "not a time",
        datetime(2025, 1, 6, 0, 13, 56, 220999, tzinfo=timezone(timedelta(hours=2))),
        datetime(2025, 1, 6, 0, 13, 56),
    ],
)
def test_time_validation_matches_the_reference_on_edge_cases(value: Any) -> None:
    _same_as_reference(value)


@settings(max_examples=400, deadline=None)
@given(time_texts())
def test_time_validation_matches_the_reference_on_iso_texts(value: str) -> None:
    _same_as_reference(value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789-:.TZ+ ", max_size=30))
def test_time_validation_matches_the_reference_on_any_text(value: str) -> None:
    _same_as_reference(value)


def test_entity_and_verb_of_every_type_and_of_unknown_ones() -> None:
    for event_type in [*EVENT_MODELS, "parcel.delivered.v1", "call.queued.v9"]:
        assert entity_of(event_type) == event_type.split(".", 1)[0]
        assert verb_of(event_type) == event_type.split(".")[1]


def _golden_events(seed: int, copies: int) -> list[Envelope]:
    """The golden call histories' events, shuffled, with some exact and some differing copies."""
    rnd = random.Random(seed)
    raws = golden_raw()
    events = [parse_event(raw) for raw in raws]
    for _ in range(copies):
        raw = json.loads(json.dumps(rnd.choice(raws)))
        if rnd.random() < 0.5:
            raw["time"] = (parse_event(raw).time + timedelta(seconds=rnd.randint(-5, 5))).isoformat()
        events.append(parse_event(raw))
    rnd.shuffle(events)
    return events


@pytest.mark.parametrize("copies", [0, 1, 5])
@pytest.mark.parametrize("seed", range(5))
def test_dedupe_and_conflicts_match_the_general_path(seed: int, copies: int) -> None:
    events = _golden_events(seed, copies)
    assert dedupe_sorted(events) == sorted(_kept(events).values(), key=event_sort_key)
    assert dedupe_sorted(events) == dedupe_sorted(list(reversed(events)))
    assert sorted(map(id, dedupe(events))) == sorted(map(id, _kept(events).values()))
    if copies == 0:
        assert conflicts(events) == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_ledger_json_is_the_standard_compact_sorted_json(data: dict[str, Any]) -> None:
    assert _ledger_json(data) == json.dumps(data, separators=(",", ":"), sort_keys=True)


def test_ledger_json_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        _ledger_json({"at": datetime(2025, 1, 1)})
    assert _ledger_json({"b": math.inf, "a": "é"}) == '{"a":"\\u00e9","b":Infinity}'


def test_ledger_payload_is_the_payload_dumped_as_json() -> None:
    for event in (parse_event(raw) for raw in golden_raw()):
        row = Pipeline._ledger_row(cast(Pipeline, None), event, datetime(2025, 1, 1, tzinfo=UTC))
        expected = json.dumps(event.data.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)
        assert row[-1] == expected


def test_reference_answers_are_the_same_remembered_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reference, "MAX_REMEMBERED", 3)
    fresh = reference.default_reference()
    data = reference.ReferenceData(fresh.values, fresh.forces_with_districts)
    asked = [
        (kind, force, value)
        for kind in ("district", "area", "queue", "platform")
        for force in ("cambs", "herts", "nowhere")
        for value in ("cambs-d1", "Cambs-D1 ", "999", "101-primary", "twitter", "nowhere-north", "x")
    ]
    first = [data.knows(*a) for a in asked]
    again = [data.knows(*a) for a in asked]
    cold = [reference.ReferenceData(fresh.values, fresh.forces_with_districts)._knows(*a) for a in asked]
    assert first == again == cold
    assert any(first) and not all(first)
    assert len(data._known) == 3  # bounded; unknown values are never remembered


def test_new_subjects_with_distinct_events_are_folded_once_without_looking_for_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch of subjects the ledger does not hold, no event twice: prepare sorts each subject's
    events and folds them once (no dedupe, no conflict search, no fold of an empty history), with
    the rows, events, ledger rows and cached histories the general path gives them."""
    from demandhub.settings import Settings
    from sinks.clickhouse import history_sql
    from streams import pipeline as module
    from streams import registry
    from streams.pipeline import DeadLetter, RawMessage
    from streams.sources.simulator import SimConfig, simulate
    from streams.sources.simulator.output import encode, topic_name_for

    config = SimConfig(start=datetime(2024, 3, 4).date(), days=1, scale=0.05, seed=4)
    messages = [RawMessage(topic_name_for(e), 0, i, encode(e)) for i, e in enumerate(simulate(config))]
    now = datetime(2024, 3, 6, tzinfo=UTC)
    monkeypatch.setattr(history_sql, "ledger_histories", lambda _wh, _keys: [])
    pipeline = Pipeline(Settings(), cast(Any, None), registry.folds(), b"k", now=lambda: now)
    decoded = [pipeline.decode(m) for m in messages]
    events = [e for e in decoded if not isinstance(e, DeadLetter)]
    monkeypatch.setattr(module, "conflicts", lambda _events: pytest.fail("looked for conflicting copies"))
    prepared = pipeline.prepare(messages)
    subjects: dict[tuple[str, str, str], list[Envelope]] = {}
    for e in events:
        subjects.setdefault((e.force_id, entity_of(e.type), e.subject), []).append(e)
    expected_rows: dict[str, list[dict[str, Any]]] = {}
    for key, evs in subjects.items():
        for table, rows in pipeline.folds[key[1]].fold(dedupe_sorted(evs), pipeline.definitions).rows.items():
            expected_rows.setdefault(table, []).extend({**r, "version": len(evs)} for r in rows)
    assert {t: rows for t, rows in prepared.new_rows.items() if rows} == expected_rows
    ordered = [e for evs in subjects.values() for e in dedupe_sorted(evs)]
    assert [e.dedup_key for e in prepared.report.events] == [e.dedup_key for e in ordered]
    assert prepared.ledger == [pipeline._ledger_row(e, now) for e in ordered]
    assert prepared.report.accepted == len(events)
    assert all(prepared.histories[key] == tuple(evs) for key, evs in subjects.items())
