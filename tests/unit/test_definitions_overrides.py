"""Definitions.with_overrides, group_hash and leaves: path=value assignments for one run."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.definitions import Definitions

pytestmark = pytest.mark.unit

QUEUES = ("999", "101-primary", "101-secondary", "webchat")
GRADES = ("IMMEDIATE_urban", "IMMEDIATE_rural", "PRIORITY_urban", "PRIORITY_rural")

# A valid value of every leaf (a strategy), so a base set of definitions can be drawn at random.
LEAF_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "timezone": st.sampled_from(["Europe/London", "UTC", "Europe/Dublin"]),
    "calls.service_threshold_seconds": st.fixed_dictionaries({q: st.integers(1, 120) for q in QUEUES}),
    "calls.band_edges_seconds": st.fixed_dictionaries(
        {q: st.lists(st.integers(1, 900), min_size=1, max_size=4, unique=True).map(sorted) for q in QUEUES}
    ),
    "calls.short_abandon_seconds": st.fixed_dictionaries({q: st.integers(0, 30) for q in QUEUES}),
    "calls.abandon_convention": st.sampled_from(
        ["answered_basis", "ignore", "count_as_met", "count_as_missed", "offered_basis"]
    ),
    "calls.clock_start_999": st.sampled_from(["offered", "bt_connect", "queued"]),
    "calls.callbacks_in_service_level": st.sampled_from(["excluded", "missed"]),
    "calls.ivr_short_abandon_seconds": st.none() | st.integers(0, 60),
    "calls.dedupe_short_abandons_from_volumes": st.booleans(),
    "incidents.grade_basis": st.sampled_from(["first", "final"]),
    "incidents.response_clock": st.sampled_from(["created", "graded_at_arrival_grade", "contact_offered"]),
    "incidents.target_minutes": st.fixed_dictionaries({g: st.integers(1, 240) for g in GRADES}),
    "incidents.amber_share": st.floats(0, 1, allow_nan=False),
    "incidents.exclude_self_initiated": st.booleans(),
    "incidents.mental_health_basis": st.sampled_from(["at_extract", "ever"]),
    "incidents.asb_basis": st.sampled_from(["known_at_settle", "final_category", "qualifier_ever"]),
    "crimes.period_basis": st.sampled_from(["recorded", "occurred"]),
    "crimes.ncrs_hours": st.integers(1, 240),
    "crimes.prosecution_possible_types": st.lists(st.integers(1, 22), max_size=8, unique=True),
    "crimes.outcome_rate_basis": st.sampled_from(["period", "cohort"]),
    "crimes.qa_snapshot_time": st.sampled_from(["23:59", "00:00", "08:30", "17:05"]),
    "crimes.rural_incident_categories": st.lists(
        st.sampled_from(
            ["PSW_WILDLIFE_POACHING", "PSW_WILDLIFE_HARE_COURSING", "PSW_WILDLIFE", "PSW_ANIMALS"]
        ),
        max_size=3,
        unique=True,
    ),
    "social.first_response_target_minutes": st.integers(1, 1440),
    "social.target_basis": st.sampled_from(["responded", "received"]),
    "social.short_abandon_minutes": st.integers(0, 30),
}


def value_at(defs: Definitions, path: str) -> Any:
    node: Any = defs.as_dict()
    for key in path.split("."):
        node = node[key]
    return node


@st.composite
def definitions(draw: st.DrawFn) -> Definitions:
    """Definitions with a random subset of leaves set to random valid values."""
    chosen = draw(st.lists(st.sampled_from(sorted(LEAF_VALUES)), unique=True))
    return Definitions().with_overrides(f"{p}={json.dumps(draw(LEAF_VALUES[p]))}" for p in chosen)


def test_every_leaf_has_a_value_strategy() -> None:
    # a new definition must be added here (and to the read-time acceptance test's alternatives)
    assert set(Definitions.leaves()) == set(LEAF_VALUES)


def test_leaves_are_paths_of_the_definitions() -> None:
    data = Definitions().as_dict()
    for path in Definitions.leaves():
        group, _, name = path.partition(".")
        assert (name in data[group]) if name else (group in data)
    assert "definition_id" not in Definitions.leaves() and "version" not in Definitions.leaves()


@settings(max_examples=40, deadline=None)
@given(definitions(), st.sampled_from(sorted(LEAF_VALUES)))
def test_a_leaf_set_to_its_own_value_keeps_the_hash(defs: Definitions, path: str) -> None:
    current = value_at(defs, path)
    same = defs.with_overrides([f"{path}={json.dumps(current)}"])
    assert same.config_hash() == defs.config_hash()
    assert same == defs
    if isinstance(current, str):  # a string may be written without JSON quotes
        assert defs.with_overrides([f"{path}={current}"]).config_hash() == defs.config_hash()


@settings(max_examples=40, deadline=None)
@given(definitions(), st.sampled_from(sorted(LEAF_VALUES)), st.data())
def test_a_leaf_set_to_another_value_changes_the_hash(
    defs: Definitions, path: str, data: st.DataObject
) -> None:
    value = data.draw(LEAF_VALUES[path])
    changed = defs.with_overrides([f"{path}={json.dumps(value)}"])
    assert value_at(changed, path) == json.loads(json.dumps(value))
    if value_at(changed, path) == value_at(defs, path):
        assert changed.config_hash() == defs.config_hash()
    else:
        assert changed.config_hash() != defs.config_hash()
        group = path.split(".")[0]
        assert changed.group_hash(group) != defs.group_hash(group)
        for other in {"calls", "incidents", "crimes", "social", "timezone"} - {group}:
            assert changed.group_hash(other) == defs.group_hash(other)


def test_overrides_apply_in_order_and_leave_the_original_alone() -> None:
    base = Definitions()
    out = base.with_overrides(
        [
            "calls.abandon_convention=count_as_met",
            "incidents.target_minutes.IMMEDIATE_urban=12",
            "crimes.prosecution_possible_types=[1,2,3]",
            "calls.abandon_convention=ignore",
        ]
    )
    assert out.calls.abandon_convention == "ignore"
    assert out.incidents.target_minutes["IMMEDIATE_urban"] == 12
    assert out.incidents.target_minutes["PRIORITY_rural"] == 60
    assert out.crimes.prosecution_possible_types == (1, 2, 3)
    assert base == Definitions() and base.with_overrides([]) == base


def test_group_hash() -> None:
    d = Definitions()
    assert d.group_hash("calls", "incidents") == d.group_hash("incidents", "calls")
    assert d.group_hash("calls") != d.group_hash("incidents")
    renamed = Definitions(definition_id="other", version="9")
    assert renamed.group_hash("calls", "incidents", "crimes", "timezone") == d.group_hash(
        "calls", "incidents", "crimes", "timezone"
    )
    assert renamed.config_hash() != d.config_hash()
    for bad in ("version", "definition_id", "nope"):
        with pytest.raises(ValueError, match=bad):
            d.group_hash(bad)


SECRET = st.text(alphabet="QXZ#$%", min_size=4, max_size=12).map(lambda s: "Qz" + s)
NAME = st.text(alphabet="abcdefghijklmnop_", min_size=1, max_size=10)


@settings(max_examples=60, deadline=None)
@given(st.lists(NAME, min_size=1, max_size=3).map(".".join), SECRET)
def test_an_unknown_path_is_refused_naming_it_never_the_value(path: str, secret: str) -> None:
    if path in Definitions.leaves() or path in ("definition_id", "version"):
        return
    with pytest.raises(ValueError) as caught:
        Definitions().with_overrides([f"{path}={secret}"])
    message = str(caught.value)
    assert path in message and secret not in message


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        [
            "calls.abandon_convention",
            "calls.clock_start_999",
            "calls.service_threshold_seconds",
            "calls.band_edges_seconds",
            "incidents.amber_share",
            "incidents.target_minutes",
            "crimes.ncrs_hours",
            "crimes.prosecution_possible_types",
            "crimes.qa_snapshot_time",
            "calls.dedupe_short_abandons_from_volumes",
        ]
    ),
    SECRET,
    st.sampled_from(["{v}", '"{v}"', '["{v}"]', '{{"{v}": "{v}"}}', '{{"999": ["{v}"]}}']),
)
def test_a_bad_value_is_refused_naming_the_path_never_the_value(path: str, secret: str, shape: str) -> None:
    raw = shape.format(v=secret)
    with pytest.raises(ValueError) as caught:
        Definitions().with_overrides([f"{path}={raw}"])
    message = str(caught.value)
    assert path in message and secret not in message


@pytest.mark.parametrize("item", ["calls.abandon_convention", "=ignore", " =ignore", ""])
def test_an_assignment_without_path_or_value_is_refused(item: str) -> None:
    with pytest.raises(ValueError, match="path=value"):
        Definitions().with_overrides([item])


def test_a_leaf_cannot_be_descended_into() -> None:
    with pytest.raises(ValueError, match=re.escape("'calls.abandon_convention.x' is not a definition")):
        Definitions().with_overrides(["calls.abandon_convention.x=1"])
    with pytest.raises(ValueError, match=re.escape("'calls.band_edges_seconds.999.0' is not a definition")):
        Definitions().with_overrides(["calls.band_edges_seconds.999.0=5"])
