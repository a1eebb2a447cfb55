"""IncidentFold rules: quarantine, regrade mismatches, tie ordering, partial histories, and the
order / duplication independence property."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.definitions import Definitions
from streams.domain.base import FoldResult
from streams.domain.incidents import IncidentFold, regrade_direction, target_seconds
from tests.unit.test_incidents_golden import GOLDEN, by_subject, created, ev

pytestmark = pytest.mark.unit

FOLD = IncidentFold()
DEFS = Definitions()


def only_row(result: FoldResult) -> dict:
    return result.rows["incidents"][0]


def test_arrival_before_creation_is_quarantined() -> None:
    events = [
        created("Q1", "2024-03-01 10:00", "Fenland", "rural"),
        ev("Q1", "graded", "2024-03-01 10:01", grade="IMMEDIATE"),
        ev("Q1", "resource_arrived", "2024-03-01 09:50"),
    ]
    result = FOLD.fold(events, DEFS)
    assert [why for _, why in result.quarantined] == [
        "resource_arrived before the incident was created (negative duration)"
    ]
    row = only_row(result)
    assert row["first_arrival_at"] is None and row["attendance_exclusion"] == "not_attended"
    assert row["quarantined_events"] == 1


def test_events_after_closure_are_quarantined_until_reopened() -> None:
    events = [
        created("Q2", "2024-03-01 10:00", "Fenland", "rural"),
        ev("Q2", "graded", "2024-03-01 10:01", grade="PRIORITY"),
        ev("Q2", "closed", "2024-03-01 11:00", final_category="PSW_OTHER"),
        ev("Q2", "resource_arrived", "2024-03-01 11:10"),  # after closure: quarantined
        ev("Q2", "reopened", "2024-03-01 12:00", reason="new_info"),
        ev("Q2", "resource_arrived", "2024-03-01 12:30"),  # after reopening: accepted
    ]
    result = FOLD.fold(events, DEFS)
    assert [(e.time.hour, why) for e, why in result.quarantined] == [(11, "resource_arrived after closure")]
    row = only_row(result)
    assert row["response_seconds_created"] == 150 * 60  # 10:00 -> 12:30
    assert row["status"] == "open" and row["reopened"] and row["closed_at"] is None


def test_reopened_while_open_is_quarantined() -> None:
    events = [
        created("Q3", "2024-03-01 10:00", "Fenland", "rural"),
        ev("Q3", "reopened", "2024-03-01 10:30"),
    ]
    assert [why for _, why in FOLD.fold(events, DEFS).quarantined] == ["reopened while not closed"]


def test_regrade_with_wrong_old_grade_is_accepted_and_recorded() -> None:
    events = [
        created("R1", "2024-03-01 10:00", "Fenland", "urban"),
        ev("R1", "graded", "2024-03-01 10:01", grade="PRIORITY"),
        ev("R1", "regraded", "2024-03-01 10:05", old_grade="SCHEDULED", new_grade="IMMEDIATE"),
    ]
    result = FOLD.fold(events, DEFS)
    assert result.quarantined == []
    row = only_row(result)
    assert (row["final_grade"], row["regrade_mismatches"], row["upgraded"]) == ("IMMEDIATE", 1, True)
    last = result.rows["incident_grade_history"][-1]
    assert (last["from_grade"], last["claimed_old_grade"], last["mismatch"]) == (
        "PRIORITY",
        "SCHEDULED",
        True,
    )


def test_first_grade_inferred_from_a_regrade_without_grading() -> None:
    events = [
        created("R2", "2024-03-01 10:00", "Fenland", "urban"),
        ev("R2", "regraded", "2024-03-01 10:05", old_grade="IMMEDIATE", new_grade="SCHEDULED"),
    ]
    row = only_row(FOLD.fold(events, DEFS))
    assert (row["first_grade"], row["first_graded_at"], row["final_grade"]) == (
        "IMMEDIATE",
        None,
        "SCHEDULED",
    )
    assert row["immediate_downgraded"]


def test_same_millisecond_events_follow_the_lifecycle_not_the_ids() -> None:
    # The arrival's id sorts before the regrade's; the regrade still happens first.
    base = [created("T1", "2024-03-01 10:00", "Fenland", "urban")]
    grade = ev("T1", "graded", "2024-03-01 10:00", grade="PRIORITY")
    regrade = ev(
        "T1", "regraded", "2024-03-01 10:10", source="zz", old_grade="PRIORITY", new_grade="IMMEDIATE"
    )
    arrival = ev("T1", "resource_arrived", "2024-03-01 10:10", source="aa")
    row = only_row(FOLD.fold([*base, grade, arrival, regrade], DEFS))
    assert row["grade_at_arrival"] == "IMMEDIATE"
    assert target_seconds(DEFS.incidents, row["grade_at_arrival"], row["urban_rural"]) == 900


def test_partial_history_without_creation() -> None:
    events = [
        ev("P1", "resource_arrived", "2024-03-01 10:20"),
        ev("P1", "graded", "2024-03-01 10:01", grade="IMMEDIATE"),
    ]
    row = only_row(FOLD.fold(events, DEFS))
    assert row["created_at"] is None and row["response_seconds_created"] is None
    assert row["response_seconds_graded"] == 19 * 60  # graded 10:01 -> arrival 10:20
    assert row["attendance_exclusion"] == "not_created"


ALTERNATIVES = [
    "incidents.response_clock=graded_at_arrival_grade",
    "incidents.response_clock=contact_offered",
    "incidents.exclude_self_initiated=false",
    "incidents.target_minutes.IMMEDIATE_urban=9",
    "incidents.amber_share=0.5",
    "incidents.grade_basis=final",
    "incidents.mental_health_basis=ever",
    "incidents.asb_basis=qualifier_ever",
]


@pytest.mark.parametrize("override", ALTERNATIVES)
def test_facts_do_not_depend_on_incident_definitions(override: str) -> None:
    # Definitions are applied when figures are read: the rows a history folds into are the same
    # under any incident definition (a changed definition needs no replay).
    other = DEFS.with_overrides([override])
    for subject, events in by_subject(GOLDEN).items():
        assert FOLD.fold(events, other).rows == FOLD.fold(events, DEFS).rows, subject


def test_fact_rows_keep_no_definition_dependent_column() -> None:
    row = only_row(FOLD.fold(by_subject(GOLDEN)["I3"], DEFS))
    baked = {"response_clock", "clock_start_at", "response_seconds", "target_seconds", "amber_seconds"}
    assert not baked & set(row) and "within_target" not in row and "response_exclusion" not in row
    # what the read-time rules need is there: both raw clocks' times and durations
    assert row["response_seconds_graded"] == 600 and row["graded_at_arrival_grade_at"] is not None


def test_self_initiated_is_a_fact_and_its_exclusion_a_definition() -> None:
    row = only_row(FOLD.fold(by_subject(GOLDEN)["I5"], DEFS))
    assert row["self_initiated"] is True and row["attendance_exclusion"] == ""


def test_regrade_direction() -> None:
    assert regrade_direction(None, "RWD") == "initial"
    assert regrade_direction("PRIORITY", "IMMEDIATE") == "up"
    assert regrade_direction("PRIORITY", "RWD") == "down"
    assert regrade_direction("SCHEDULED", "SCHEDULED") == "same"


def _noisy_history() -> list:
    """One incident with every kind of event, a quarantined one and a same-millisecond tie."""
    return [
        created("N1", "2024-03-01 10:00", "Peterborough", "urban"),
        ev("N1", "graded", "2024-03-01 10:01", grade="SCHEDULED"),
        # same millisecond; the second step's id sorts first, the chain still runs S -> P -> I
        ev("N1", "regraded", "2024-03-01 10:04", source="cad-b", old_grade="SCHEDULED", new_grade="PRIORITY"),
        ev("N1", "regraded", "2024-03-01 10:04", source="cad-a", old_grade="PRIORITY", new_grade="IMMEDIATE"),
        ev("N1", "resource_assigned", "2024-03-01 10:05"),
        ev("N1", "resource_arrived", "2024-03-01 10:14"),
        ev("N1", "resource_arrived", "2024-03-01 10:20"),
        ev("N1", "qualifier_added", "2024-03-01 10:15", qualifier="hate", hate_strand="race"),
        ev("N1", "qualifier_added", "2024-03-01 10:16", qualifier="mental_health"),
        ev("N1", "qualifier_removed", "2024-03-01 10:17", qualifier="mental_health"),
        ev("N1", "closed", "2024-03-01 11:00", final_category="CRIME_PUBLIC_ORDER"),
        ev("N1", "qualifier_added", "2024-03-01 11:05", qualifier="domestic_abuse"),
        ev("N1", "reopened", "2024-03-01 11:30"),
        ev("N1", "closed", "2024-03-01 12:00", final_category="ASB_NUISANCE"),
    ]


NOISY = _noisy_history()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dup=st.lists(st.integers(0, len(NOISY) - 1), max_size=6))
def test_fold_ignores_order_and_duplicates(seed: int, dup: list[int]) -> None:
    expected = FOLD.fold(NOISY, DEFS)
    events = NOISY + [NOISY[i] for i in dup]
    random.Random(seed).shuffle(events)
    got = FOLD.fold(events, DEFS)
    assert got.rows == expected.rows
    assert sorted((e.id, why) for e, why in got.quarantined) == sorted(
        (e.id, why) for e, why in expected.quarantined
    )


def test_noisy_history_facts() -> None:
    result = FOLD.fold(NOISY, DEFS)
    row = only_row(result)
    # the two 10:04 regrades chain S->P->I whatever their ids; arrival 10:14 is the first
    assert (row["first_grade"], row["final_grade"], row["regrade_count"]) == ("SCHEDULED", "IMMEDIATE", 2)
    assert (row["regrade_mismatches"], row["downgraded"]) == (0, False)
    assert row["response_seconds_created"] == 14 * 60
    assert (row["hate"], row["hate_strand"], row["mental_health_now"], row["mental_health_ever"]) == (
        True,
        "race",
        False,
        True,
    )
    assert [why for _, why in result.quarantined] == ["qualifier_added after closure"]
    assert (row["final_category"], row["asb"], row["status"]) == ("ASB_NUISANCE", True, "closed")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.integers(-120, 120))
def test_golden_set_folds_the_same_in_any_order(seed: int, shift: int) -> None:
    subjects = by_subject(GOLDEN)
    expected = {s: FOLD.fold(evs, DEFS).rows for s, evs in subjects.items()}
    rng = random.Random(seed)
    for s, evs in subjects.items():
        shuffled = evs + rng.sample(evs, k=min(2, len(evs)))
        rng.shuffle(shuffled)
        assert FOLD.fold(shuffled, DEFS).rows == expected[s]
    # moving every event by the same amount moves every timestamp but no duration
    moved = [e.model_copy(update={"time": e.time + timedelta(minutes=shift)}) for e in subjects["I3"]]
    assert FOLD.fold(moved, DEFS).rows["incidents"][0]["response_seconds_created"] == 20 * 60
