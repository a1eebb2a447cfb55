"""De-identification without validating twice: the copy-based rule equals the dump-and-validate rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.envelope import PiiTreatment, pii_fields
from schemas.events import EVENT_MODELS, parse_event
from streams.domain import pii
from streams.domain.pii import HASH_PREFIX, sanitise
from tests.unit.test_contract import MINIMAL, envelope

pytestmark = pytest.mark.unit

PERSONAL = sorted(t for t, m in EVENT_MODELS.items() if pii_fields(m))


def _plant(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


_TEXT = st.one_of(
    st.text(min_size=1, max_size=40),
    st.builds(lambda s: HASH_PREFIX + s, st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)),
)


@settings(max_examples=300, deadline=None)
@given(event_type=st.sampled_from(PERSONAL), data=st.data())
def test_copy_rule_equals_the_revalidating_rule(event_type: str, data: st.DataObject) -> None:
    raw = envelope(event_type, copy.deepcopy(MINIMAL[event_type]))
    for path, marker in pii_fields(EVENT_MODELS[event_type]):
        if not data.draw(st.booleans()):
            continue
        value = data.draw(st.floats(-90, 90) if marker.kind == "location" else _TEXT)
        _plant(raw, path, value)
    event = parse_event(raw)
    key = data.draw(st.binary(min_size=1, max_size=8))
    fast, reference = sanitise(event, key), pii._revalidated(event, key)
    assert fast == reference
    assert fast.model_dump_json() == reference.model_dump_json()
    assert sanitise(fast, key) == fast


def test_sanitise_does_not_validate_the_event_again(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_raw: Any) -> Any:
        raise AssertionError("validated twice")

    monkeypatch.setattr(pii, "parse_event", refuse)
    for event_type in PERSONAL:
        raw = envelope(event_type, copy.deepcopy(MINIMAL[event_type]))
        for path, marker in pii_fields(EVENT_MODELS[event_type]):
            _plant(raw, path, 51.5 if marker.kind == "location" else "CANARY-0770")
        clean = sanitise(parse_event(raw), b"key")
        dumped = clean.model_dump_json()
        assert "CANARY" not in dumped and "51.5" not in dumped
        for path, marker in pii_fields(EVENT_MODELS[event_type]):
            value: Any = clean
            for part in path.split("."):
                value = getattr(value, part)
            if marker.treatment is PiiTreatment.PSEUDONYMISE:
                assert isinstance(value, str) and value.startswith(HASH_PREFIX)
            else:
                assert value is None


def _state(model: Any) -> tuple[Any, ...]:
    return (
        type(model),
        model.__dict__,
        model.__pydantic_fields_set__,
        model.__pydantic_extra__,
        model.__pydantic_private__,
    )


@settings(max_examples=200, deadline=None)
@given(event_type=st.sampled_from(PERSONAL), data=st.data())
def test_the_treated_copy_is_pydantic_s_model_copy(event_type: str, data: st.DataObject) -> None:
    """Each model the treatment copies is what ``model_copy(update=...)`` makes of it: the same field
    values, fields set, extra and private values, and a new dict (the original is untouched)."""
    raw = envelope(event_type, copy.deepcopy(MINIMAL[event_type]))
    for path, marker in pii_fields(EVENT_MODELS[event_type]):
        if data.draw(st.booleans()):
            _plant(raw, path, data.draw(st.floats(-90, 90) if marker.kind == "location" else _TEXT))
    event = parse_event(raw)
    before = copy.deepcopy(_state(event))
    names = sorted(type(event.data).model_fields)
    update = {name: None for name in data.draw(st.lists(st.sampled_from(names), unique=True)) if name}
    ours, theirs = pii._copied(event.data, update), event.data.model_copy(update=update)
    assert _state(ours) == _state(theirs)
    assert ours.__dict__ is not event.data.__dict__
    assert ours.model_dump_json() == theirs.model_dump_json()
    assert _state(event) == before
