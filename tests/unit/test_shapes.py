"""Every string field of the contract has a shape; reference-data values are checked against the force's
reference data; dead letters are scrubbed by allow-list (issue 13, findings 5 and 6)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from demandhub.settings import Settings
from schemas.envelope import pii_fields
from schemas.events import EVENT_MODELS, json_schemas, parse_event
from schemas.shapes import IDENTIFIER_PATTERN, reference_fields
from streams.domain.geography import parse_districts
from streams.domain.pii import HASH_PREFIX, known_key_names, scrub_raw
from streams.domain.reference import build, default_reference, parse_queues, reference_problem
from streams.pipeline import DeadLetter, Pipeline, RawMessage
from streams.sources.simulator import SimConfig, simulate

pytestmark = pytest.mark.unit

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "schemas" / "examples"
PHONES = ("07700900123", "+447700900123", "07700 900123", "07700.900.123", "447700900123")
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def golden() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES_DIR.glob("*/*.json")):
        loaded = json.loads(path.read_text())
        found.extend(loaded if isinstance(loaded, list) else [loaded])
    return found


def string_leaves(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(dotted path, property node, string alternative) of every string-typed field of one event type."""
    defs = schema.get("$defs", {})

    def variants(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in node:
            return variants(defs[node["$ref"].rsplit("/", 1)[-1]])
        options = node.get("anyOf") or node.get("oneOf")
        return [v for o in options for v in variants(o)] if options else [node]

    out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, prop in node.get("properties", {}).items():
            for v in variants(prop):
                items = variants(v["items"]) if v.get("type") == "array" else [v]
                for item in items:
                    if "properties" in item:
                        walk(item, f"{prefix}{name}.")
                    elif item.get("type") == "string" or "enum" in item or "const" in item:
                        out.append((f"{prefix}{name}", prop, item))

    walk(schema, "")
    return out


SCHEMAS = json_schemas()


@pytest.mark.parametrize("event_type", sorted(SCHEMAS))
def test_every_string_field_is_a_code_a_reference_value_or_personal(event_type: str) -> None:
    for path, prop, leaf in string_leaves(SCHEMAS[event_type]):
        if "x-pii" in prop:
            continue
        shaped = "pattern" in leaf or "enum" in leaf or "const" in leaf or leaf.get("format") == "date-time"
        assert shaped, f"{event_type} {path}: free text that is not marked personal"
        if "pattern" in leaf:
            assert leaf["pattern"].startswith("^") and leaf["pattern"].endswith("$"), path
            assert 0 < int(leaf.get("maxLength", 0)) <= 128, path


def identifier_fields() -> list[tuple[str, str]]:
    return [
        (t, path)
        for t, schema in SCHEMAS.items()
        for path, _prop, leaf in string_leaves(schema)
        if leaf.get("pattern") == IDENTIFIER_PATTERN
    ]


def test_identifier_fields_are_found() -> None:
    paths = {path for _t, path in identifier_fields()}
    assert {"id", "subject", "data.incident_id", "data.contact_id", "data.duplicate_of"} <= paths


def _example(event_type: str) -> dict[str, Any]:
    return copy.deepcopy(next(e for e in golden() if e["type"] == event_type))


def _set(event: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    obj = event
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


@pytest.mark.parametrize("phone", PHONES)
def test_no_identifier_can_hold_a_phone_number(phone: str) -> None:
    for event_type, path in identifier_fields():
        event = _example(event_type)
        _set(event, path, phone)
        with pytest.raises(ValidationError):
            parse_event(event)


def test_golden_examples_fit_every_shape_and_the_reference_data() -> None:
    for raw in golden():
        event = parse_event(raw)
        assert reference_problem(event) is None, (raw["type"], raw["id"])


def test_simulated_events_fit_every_shape_and_the_reference_data() -> None:
    forces = ("cambs", "beds", "north_west-2")
    config = SimConfig(start=date(2021, 3, 1), days=2, seed=5, scale=0.05, forces=forces)
    events = list(simulate(config))
    assert {e["force_id"] for e in events} == set(forces)
    for raw in events:
        event = parse_event(raw)
        assert reference_problem(event) is None, (raw["type"], raw["data"])


def test_reference_fields_are_districts_areas_queues_and_platforms() -> None:
    kinds = {kind for m in EVENT_MODELS.values() for _path, kind in reference_fields(m)}
    assert kinds == {"district", "area", "queue", "qa_queue", "platform"}


def test_a_platform_not_in_the_reference_data_is_refused_without_echoing_it() -> None:
    raw = _example("social.received.v1")
    assert reference_problem(parse_event(raw)) is None
    bad = parse_event(dict(raw, data=dict(raw["data"], platform="janesmith")))
    problem = reference_problem(bad)
    assert problem is not None and problem[0] == "unknown_reference"
    assert "janesmith" not in problem[1] and "data.platform" in problem[1]


REFERENCE = build(
    parse_districts("force_id,district,area,valid_from,valid_to\ncambs,Fenland,North,2000-01-01,\n"),
    parse_queues("force_id,kind,queue\n*,queue,999\ncambs,queue,x-crime-desk\n*,qa_queue,qa_linking\n"),
)


def _created(force: str, district: str, area: str | None = None) -> Any:
    raw = _example("incident.created.v1")
    raw["force_id"] = force
    raw["data"]["location"] = {"district": district, "area": area, "urban_rural": "rural"}
    return parse_event(raw)


def test_reference_data_decides_districts_areas_and_queues() -> None:
    assert reference_problem(_created("cambs", "fenland", "NORTH"), REFERENCE) is None
    problem = reference_problem(_created("cambs", "Mrs Ann Smith"), REFERENCE)
    assert problem is not None and problem[0] == "unknown_reference"
    assert "Smith" not in problem[1] and "data.location.district" in problem[1]
    assert reference_problem(_created("cambs", "Fenland", "Wisbech"), REFERENCE) is not None
    # a force without district rows: only its generic geography
    assert reference_problem(_created("beds", "beds-d4", "beds-north"), REFERENCE) is None
    assert reference_problem(_created("beds", "Fenland"), REFERENCE) is not None
    assert reference_problem(_created("cambs", "cambs-d1"), REFERENCE) is not None
    queued = _example("call.queued.v1")
    for queue, force, ok in (
        ("999", "beds", True),
        ("x-crime-desk", "cambs", True),
        ("x-crime-desk", "beds", False),
        ("x-jane-smith", "cambs", False),
    ):
        event = parse_event(dict(queued, force_id=force, data={"queue": queue}))
        assert (reference_problem(event, REFERENCE) is None) is ok, (queue, force)


def test_the_pipeline_dead_letters_an_unknown_district_without_echoing_it() -> None:
    pipeline = Pipeline(Settings(allowed_forces=("cambs",)), None, [], b"k", now=lambda: NOW)  # type: ignore[arg-type]
    raw = _example("incident.created.v1")
    raw["data"]["location"]["district"] = "Ann Smith of Mill Road"
    decoded = pipeline.decode(RawMessage("demandhub.incidents.incident.v1", 0, 1, json.dumps(raw).encode()))
    assert isinstance(decoded, DeadLetter) and decoded.reason_class == "unknown_reference"
    assert b"Smith" not in decoded.payload and "Smith" not in decoded.reason
    assert all(b"Smith" not in v for _k, v in decoded.headers())


# -- dead-letter scrubbing by allow-list ------------------------------------------------------------

KEY = b"scrub-key"


def scrub(obj: Any) -> Any:
    return json.loads(scrub_raw(json.dumps(obj).encode(), KEY))


def test_envelope_values_are_kept_only_when_they_have_their_shape() -> None:
    bad = _example("call.offered.v1")
    bad["data"]["channel"] = "112"  # invalid, so the event is a dead letter
    bad.update(subject="Mrs Ann Smith, 7 Mill Rd", id="07700900123", source="Jane Doe")
    out = scrub(bad)
    for name in ("subject", "id", "source"):
        assert out[name].startswith(HASH_PREFIX), name
    assert (out["type"], out["force_id"], out["time"]) == (bad["type"], bad["force_id"], bad["time"])
    assert out["data"]["district"] == bad["data"]["district"]  # a reference district: kept
    assert out["data"]["channel"].startswith(HASH_PREFIX)  # not one of the enum's values
    unknown_type = scrub(dict(bad, type="Mrs Smith 07700 900123"))
    assert unknown_type["type"].startswith(HASH_PREFIX)


@pytest.mark.parametrize(
    "value",
    ["Smith", "1970-01-02", "07700.900.123", "CB1 2AB", "ann.smith", "7700900123", 7700900123, 51.5, "x"],
)
def test_values_under_unknown_keys_are_hashed_and_so_are_the_key_names(value: Any) -> None:
    bad = _example("call.queued.v1")
    bad["data"]["Ann Smith"] = value
    bad["x_extra"] = {"surname": [value]}
    out = scrub(bad)
    text = json.dumps(out)
    assert "Ann Smith" not in text and "surname" not in text and "x_extra" not in text
    assert json.dumps(value) not in text.replace('"queue": "999"', "")
    assert out["data"]["queue"] == "999"


def test_reference_fields_keep_only_reference_values() -> None:
    bad = _example("crime.recorded.v1")
    bad["data"]["offence_code"] = "not a code"
    bad["data"]["district"], bad["data"]["area"] = "Fenland", "Wisbech"
    out = scrub(bad)
    assert out["data"]["district"] == "Fenland" and out["data"]["area"].startswith(HASH_PREFIX)
    generic = scrub(
        dict(bad, force_id="beds", data=dict(bad["data"], district="beds-d2", area="herts-north"))
    )
    assert generic["data"]["district"] == "beds-d2" and generic["data"]["area"].startswith(HASH_PREFIX)


def test_every_golden_example_stays_valid_after_scrubbing() -> None:
    """A dead letter that was refused only for its range (a foreign force, a late time) must validate
    again when replayed: scrubbing keeps every non-personal value the contract accepts."""
    for raw in golden():
        scrubbed = scrub(raw)
        event = parse_event(scrubbed)
        for path, _marker in pii_fields(EVENT_MODELS[raw["type"]]):
            value: Any = scrubbed
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            assert value is None or str(value).startswith(HASH_PREFIX)
        expected = parse_event(raw).model_dump(mode="json", exclude_none=True)
        dumped = event.model_dump(mode="json", exclude_none=True)
        for path, _marker in pii_fields(EVENT_MODELS[raw["type"]]):
            for d in (expected, dumped):
                parts = path.split(".")
                obj = d
                for part in parts[:-1]:
                    obj = obj.get(part, {})
                obj.pop(parts[-1], None)
        assert dumped == expected, raw["id"]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(golden()),
    st.dictionaries(
        st.text(min_size=4, max_size=20),
        st.one_of(st.text(min_size=4, max_size=40), st.integers(min_value=1000), st.floats(min_value=1000)),
        min_size=1,
        max_size=5,
    ),
)
def test_nothing_sent_under_unknown_keys_survives_scrubbing(
    event: dict[str, Any], extra: dict[str, Any]
) -> None:
    bad = copy.deepcopy(event)
    unknown = {k: v for k, v in extra.items() if k not in known_key_names()}
    bad["data"].update(unknown)
    keys, leaves = _tokens(json.loads(scrub_raw(json.dumps(bad).encode(), KEY)))
    kept_keys, kept_leaves = _tokens(json.loads(scrub_raw(json.dumps(event).encode(), KEY)))
    for k, v in unknown.items():
        assert k not in keys or k in kept_keys, k
        assert v not in leaves or v in kept_leaves, v


def _tokens(obj: Any) -> tuple[set[str], list[Any]]:
    """Every key name and every scalar of a decoded JSON document."""
    keys: set[str] = set()
    leaves: list[Any] = []
    pending = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            keys.update(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        else:
            leaves.append(item)
    return keys, leaves


def test_the_bundled_reference_data_loads() -> None:
    ref = default_reference()
    assert ref.knows("district", "cambs", "Cambridge City") and not ref.knows(
        "district", "cambs", "Cambridge"
    )
    assert ref.knows("qa_queue", "cambs", "qa_linking") and ref.knows("queue", "kent", "101-primary")


@pytest.mark.parametrize("value", ["07700910137", " 447700900123 ", 1700000000, 1.7e9, "1700000000.5"])
def test_a_time_is_never_read_from_a_number(value: Any) -> None:
    """pydantic reads numbers and digit strings as Unix times: a phone number would become a date."""
    for event_type, path in (("call.queued.v1", "time"), ("crime.recorded.v1", "data.occurred_at")):
        event = _example(event_type)
        _set(event, path, value)
        with pytest.raises(ValidationError):
            parse_event(event)
