"""Golden and property tests of the pure crime fold (streams.domain.crimes).

The hand-made set (also used by the warehouse tests) is eight crimes in January-April 2024; every
expected value below is worked out by hand in the comments. January and February are GMT, so local
time equals UTC there.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.definitions import CrimeDefinitions, Definitions
from schemas.envelope import Envelope
from schemas.events import parse_event
from streams.domain.base import dedupe_sorted
from streams.domain.crimes import CrimeFold

pytestmark = pytest.mark.unit

FORCE = "cambs"
DEFS = Definitions()


def t(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM[:SS[.fff]]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def envelope(
    crime: str, verb: str, at: str, source: str = "athena", n: int = 0, **data: Any
) -> dict[str, Any]:
    """A crime event as the producer sends it (JSON-ready dict)."""
    return {
        "specversion": "1.0",
        "id": f"{crime}-{verb}-{n}",
        "source": source,
        "type": f"crime.{verb}.v1",
        "time": t(at).isoformat(),
        "force_id": FORCE,
        "subject": crime,
        "data": data,
    }


def golden_raw() -> list[dict[str, Any]]:
    """The hand-made set. Comments give the facts each crime is meant to exercise."""
    return [
        # C1: reported 08:00 (first_reported_at inside the report), recorded 20:00 -> 12 h, within 24 h.
        # 8N = violence with injury, domestic abuse, Peterborough/North. Outcome 1 (charged) on 10 Feb.
        # QA: in 5 Jan 21:00, out 8 Jan 10:00.
        envelope(
            "C1", "reported", "2024-01-05 09:00", first_reported_at="2024-01-05T08:00:00Z", incident_id="I1"
        ),
        envelope(
            "C1",
            "recorded",
            "2024-01-05 20:00",
            offence_code="8N",
            flags={"domestic_abuse": True},
            district="Peterborough",
            area="North",
            suspect_name="John Roe",
        ),
        envelope("C1", "qa_queue_entered", "2024-01-05 21:00"),
        envelope("C1", "qa_queue_exited", "2024-01-08 10:00"),
        envelope("C1", "outcome_assigned", "2024-02-10 12:00", outcome_type=1, offender_age_band="adult"),
        # C2: reported 10 Jan 10:00, recorded 12 Jan 10:00 -> 48 h, not within. 28E burglary
        # residential, reclassified on 15 Feb to 49 (other theft): moves group, stays in January.
        # Outcome 18 on 20 Feb. QA: 12 Jan 11:00 - 1 Feb 09:00, again from 15 Feb 12:00 (still in).
        envelope("C2", "reported", "2024-01-10 10:00", online_report_id="R2"),
        envelope(
            "C2", "recorded", "2024-01-12 10:00", offence_code="28E", district="Cambridge City", area="South"
        ),
        envelope("C2", "qa_queue_entered", "2024-01-12 11:00", n=1),
        envelope("C2", "qa_queue_exited", "2024-02-01 09:00", n=1),
        envelope("C2", "reclassified", "2024-02-15 10:00", offence_code="49"),
        envelope("C2", "qa_queue_entered", "2024-02-15 12:00", n=2),
        envelope("C2", "outcome_assigned", "2024-02-20 09:00", outcome_type=18),
        # C3: 19C rape, hate (race) and cyber, Peterborough/North, recorded 15 Jan, cancelled 1 Feb: leaves January.
        # QA: in 15 Jan 12:00, a second entry 16 Jan while in (duplicate), out 31 Jan 23:59:30 (after
        # the 23:59 snapshot, so still counted on 31 Jan).
        envelope("C3", "reported", "2024-01-15 10:00", contact_id="K3"),
        envelope(
            "C3",
            "recorded",
            "2024-01-15 11:00",
            offence_code="19C",
            flags={"hate_strands": ["race"], "cyber": True},
            district="Peterborough",
            area="North",
        ),
        envelope("C3", "qa_queue_entered", "2024-01-15 12:00", n=1),
        envelope("C3", "qa_queue_entered", "2024-01-16 08:00", n=2),
        envelope("C3", "qa_queue_exited", "2024-01-31 23:59:30"),
        envelope("C3", "cancelled", "2024-02-01 10:00", reason="no_crime"),
        # C4: no report event (timeliness unknown). 105A violence without injury, rural, Cambridge City/South,
        # recorded 20 Jan. Conditional caution (type 3, adult) 25 Jan; 2 Feb the subtype is corrected
        # with the same type, so the outcome stays in January. A queue exit with no entry (unmatched).
        envelope(
            "C4",
            "recorded",
            "2024-01-20 12:00",
            offence_code="105A",
            flags={"rural": True},
            district="Cambridge City",
            area="South",
        ),
        envelope("C4", "qa_queue_exited", "2024-01-21 09:00"),
        envelope(
            "C4",
            "outcome_assigned",
            "2024-01-25 15:00",
            outcome_type=3,
            subtype="conditional",
            offender_age_band="adult",
        ),
        envelope(
            "C4",
            "outcome_changed",
            "2024-02-02 15:00",
            outcome_type=3,
            subtype="conditional_cara",
            offender_age_band="adult",
        ),
        # C5: reported 3 Feb 09:00, recorded 10:00 (1 h). 92A drugs, Peterborough/North. Community resolution
        # (type 8, youth) 5 Feb. QA: 3 Feb 11:00 - 29 Feb 23:00.
        envelope("C5", "reported", "2024-02-03 09:00"),
        envelope(
            "C5", "recorded", "2024-02-03 10:00", offence_code="92A", district="Peterborough", area="North"
        ),
        envelope("C5", "qa_queue_entered", "2024-02-03 11:00"),
        envelope("C5", "qa_queue_exited", "2024-02-29 23:00"),
        envelope("C5", "outcome_assigned", "2024-02-05 10:00", outcome_type=8, offender_age_band="youth"),
        # C6: reported 10 Feb 10:00, recorded 11 Feb 09:00 (23 h, within). Code 999Z has no mapping:
        # unclassified, still counted. Conditional caution for a youth (type 2) on 12 Feb.
        envelope("C6", "reported", "2024-02-10 10:00"),
        envelope(
            "C6", "recorded", "2024-02-11 09:00", offence_code="999Z", district="Cambridge City", area="South"
        ),
        envelope("C6", "outcome_assigned", "2024-02-12 10:00", outcome_type=2, subtype="conditional"),
        # C7: recorded 31 Mar 23:30 UTC = 1 Apr 00:30 BST: an April crime. Reported 22:00 UTC (1.5 h).
        # 28E burglary residential, Peterborough/North.
        envelope("C7", "reported", "2024-03-31 22:00"),
        envelope(
            "C7", "recorded", "2024-03-31 23:30", offence_code="28E", district="Peterborough", area="North"
        ),
        # C8: 46 shoplifting recorded 20 Feb, transferred to another force 21 Feb: not counted.
        envelope(
            "C8", "recorded", "2024-02-20 12:00", offence_code="46", district="Cambridge City", area="South"
        ),
        envelope("C8", "transferred", "2024-02-21 12:00", to_force="beds"),
    ]


def golden_events() -> list[Envelope]:
    return [parse_event(e) for e in golden_raw()]


def by_crime(events: list[Envelope]) -> dict[str, list[Envelope]]:
    out: dict[str, list[Envelope]] = {}
    for e in events:
        out.setdefault(e.subject, []).append(e)
    return out


def fold(events: list[Envelope], defs: Definitions = DEFS) -> dict[str, list[dict[str, Any]]]:
    return CrimeFold().fold(dedupe_sorted(events), defs).rows


def crime_row(crime: str, defs: Definitions = DEFS) -> dict[str, Any]:
    return fold(by_crime(golden_events())[crime], defs)["crimes"][0]


def test_reclassified_crime_keeps_its_month_and_changes_group() -> None:
    row = crime_row("C2")
    assert (row["offence_code"], row["offence_group"]) == ("49", "theft")
    assert (row["original_offence_code"], row["original_offence_group"]) == ("28E", "burglary_dwelling")
    assert row["reclassification_count"] == 1
    assert row["recorded_at"] == t("2024-01-12 10:00")  # still January
    assert row["first_reported_at"] == t("2024-01-10 10:00")
    assert row["online_report_id"] == "R2"


def test_first_report_is_the_earliest_report_time_and_timeliness() -> None:
    row = crime_row("C1")
    assert row["first_reported_at"] == t("2024-01-05 08:00")
    assert row["reported_at"] == t("2024-01-05 09:00")
    assert row["recorded_at"] == t("2024-01-05 20:00")
    assert row["incident_id"] == "I1"
    assert (row["offence_group"], row["domestic_abuse"], row["district"], row["area"]) == (
        "violence_with_injury",
        True,
        "Peterborough",
        "North",
    )
    # outcome 1 on 10 Feb 12:00, recorded 5 Jan 20:00: 26 days to 31 Jan 20:00, + 9 days 16 h = 35 2/3
    assert row["outcome_type"] == 1
    assert row["days_to_outcome"] == pytest.approx(35 + 16 / 24)


def test_cancelled_crime_is_not_counted() -> None:
    row = crime_row("C3")
    assert row["cancelled"] is True and row["counted"] is False
    assert row["cancelled_at"] == t("2024-02-01 10:00") and row["cancellation_reason"] == "no_crime"
    assert row["hate"] is True and row["hate_strands"] == ["race"] and row["cyber"] is True
    assert row["offence_group"] == "serious_sexual"


def test_transferred_crime_is_not_counted() -> None:
    row = crime_row("C8")
    assert row["transferred"] is True and row["transferred_to"] == "beds" and row["counted"] is False


def test_outcome_correction_of_the_same_type_keeps_the_assignment_time() -> None:
    row = crime_row("C4")
    assert row["outcome_assigned_at"] == t("2024-01-25 15:00")  # not 2 Feb
    assert row["first_outcome_at"] == t("2024-01-25 15:00")
    assert row["outcome_subtype"] == "conditional_cara" and row["outcome_events"] == 2
    assert row["conditional_caution_adult"] is True and row["conditional_caution_youth"] is False
    assert row["first_reported_at"] is None
    assert row["qa_unmatched_exits"] == 1 and row["qa_entries"] == 0
    outcomes = fold(by_crime(golden_events())["C4"])["crime_outcomes"]
    assert [(o["kind"], o["previous_outcome_type"], o["is_current"]) for o in outcomes] == [
        ("assigned", None, False),
        ("changed", 3, True),
    ]


def test_youth_conditional_caution_by_type_when_no_age_band() -> None:
    row = crime_row("C6")
    assert row["conditional_caution_youth"] is True and row["conditional_caution_adult"] is False
    assert row["offence_group"] == "unclassified" and row["unknown_offence_code"] is True
    assert row["counted"] is True


def test_community_resolution() -> None:
    row = crime_row("C5")
    assert row["community_resolution"] is True and row["outcome_type"] == 8


def test_change_of_outcome_type_moves_the_assignment_time() -> None:
    events = [
        *by_crime(golden_events())["C2"],
        parse_event(envelope("C2", "outcome_changed", "2024-03-04 10:00", outcome_type=1)),
        parse_event(envelope("C2", "outcome_changed", "2024-03-09 10:00", n=1, outcome_type=1, subtype="x")),
    ]
    row = fold(events)["crimes"][0]
    assert row["outcome_type"] == 1 and row["outcome_assigned_at"] == t("2024-03-04 10:00")
    assert row["first_outcome_at"] == t("2024-02-20 09:00")


def test_april_crime_recorded_just_before_midnight_utc_is_in_april_local() -> None:
    row = crime_row("C7")
    assert row["recorded_at"] == t("2024-03-31 23:30")  # 00:30 BST on 1 April


def test_qa_stays_duplicate_entry_and_open_stay() -> None:
    c3 = fold(by_crime(golden_events())["C3"])["qa_queue_intervals"]
    assert [(r["entered_at"], r["exited_at"], r["duplicate_entry"]) for r in c3] == [
        (t("2024-01-15 12:00"), t("2024-01-31 23:59:30"), False),
        (t("2024-01-16 08:00"), None, True),
    ]
    c2 = fold(by_crime(golden_events())["C2"])
    assert [(r["entered_at"], r["exited_at"]) for r in c2["qa_queue_intervals"]] == [
        (t("2024-01-12 11:00"), t("2024-02-01 09:00")),
        (t("2024-02-15 12:00"), None),
    ]
    assert c2["crimes"][0]["in_qa_queue"] is True and c2["crimes"][0]["qa_entries"] == 2


OTHER_DEFS = Definitions().with_overrides(
    [
        "timezone=UTC",
        "crimes.period_basis=occurred",
        "crimes.ncrs_hours=36",
        "crimes.prosecution_possible_types=[1,2]",
        "crimes.outcome_rate_basis=cohort",
        "crimes.qa_snapshot_time=09:00",
    ]
)


def test_the_fold_stores_nothing_that_depends_on_a_definition() -> None:
    """Every crime definition and the timezone are applied when figures are read: the facts of
    every crime are the same under any definitions (no period_at, hours_to_record,
    recorded_within_24h or prosecution_possible columns)."""
    for crime, events in by_crime(golden_events()).items():
        assert fold(events, OTHER_DEFS) == fold(events), crime
    row = crime_row("C1")
    for baked in ("period_at", "hours_to_record", "recorded_within_24h", "prosecution_possible"):
        assert baked not in row
    assert all(
        "prosecution_possible" not in r for r in fold(by_crime(golden_events())["C1"])["crime_outcomes"]
    )


def test_raw_occurred_and_recorded_times_are_kept() -> None:
    events = [
        parse_event(
            envelope(
                "X",
                "recorded",
                "2024-02-01 10:00",
                offence_code="8N",
                district="N",
                occurred_at="2024-01-30T22:00:00Z",
            )
        )
    ]
    row = fold(events, Definitions(crimes=CrimeDefinitions(period_basis="occurred")))["crimes"][0]
    assert (row["occurred_at"], row["recorded_at"]) == (t("2024-01-30 22:00"), t("2024-02-01 10:00"))


def test_offence_codes_classify_on_uk_dates_whatever_the_reporting_timezone() -> None:
    # 31 Mar 2017 23:30 UTC is 00:30 BST on 1 April 2017, the first day of 28E (HOCR April 2017):
    # the reference data's dates are UK dates, so a force reporting in UTC gets the same group.
    event = parse_event(envelope("W", "recorded", "2017-03-31 23:30", offence_code="28E", district="N"))
    for defs in (DEFS, OTHER_DEFS):
        row = fold([event], defs)["crimes"][0]
        assert (row["offence_group"], row["unknown_offence_code"]) == ("burglary_dwelling", False)


def test_effective_dated_code_classifies_by_the_date_it_was_applied() -> None:
    old = parse_event(envelope("Y", "recorded", "2016-05-01 10:00", offence_code="28A", district="N"))
    new_too_early = parse_event(
        envelope("Z", "recorded", "2016-05-01 10:00", offence_code="28E", district="N")
    )
    assert fold([old])["crimes"][0]["offence_group"] == "burglary_dwelling"
    row = fold([new_too_early])["crimes"][0]
    assert (row["offence_group"], row["unknown_offence_code"]) == ("unclassified", True)


def test_impossible_events_are_quarantined_but_rows_stay_stable() -> None:
    events = [
        parse_event(envelope("Q", "recorded", "2024-01-10 10:00", offence_code="8N", district="N")),
        parse_event(envelope("Q", "recorded", "2024-01-11 10:00", n=1, offence_code="5D", district="S")),
        parse_event(envelope("Q", "outcome_assigned", "2024-01-09 10:00", outcome_type=1)),
    ]
    result = CrimeFold().fold(dedupe_sorted(events), DEFS)
    reasons = sorted(why for _, why in result.quarantined)
    assert reasons == [
        "crime already recorded; a new code needs reclassified",
        "outcome before the crime was recorded",
    ]
    row = result.rows["crimes"][0]
    assert (row["offence_code"], row["district"], row["outcome_type"]) == ("8N", "N", None)
    # the early outcome keeps its row (flagged), so no row has to disappear when the recording arrives
    assert [o["before_recording"] for o in result.rows["crime_outcomes"]] == [True]


def test_partial_history_gives_a_partial_fact() -> None:
    outcome_only = [parse_event(envelope("P", "outcome_assigned", "2024-01-09 10:00", outcome_type=1))]
    row = fold(outcome_only)["crimes"][0]
    assert row["recorded"] is False and row["counted"] is False
    assert row["offence_group"] == "unclassified" and row["unknown_offence_code"] is False


def test_outcome_of_a_crime_not_recorded_is_held_until_the_recording() -> None:
    outcome = parse_event(envelope("H", "outcome_assigned", "2024-01-12 10:00", outcome_type=1))
    result = CrimeFold().fold([outcome], DEFS)
    assert [why.split(":")[0] for _, why in result.quarantined] == ["missing_opening"]
    assert result.rows["crimes"][0]["outcome_type"] is None
    assert [o["before_recording"] for o in result.rows["crime_outcomes"]] == [True]
    recorded = parse_event(
        envelope("H", "recorded", "2024-01-10 10:00", n=1, offence_code="8N", district="N")
    )
    result = CrimeFold().fold([outcome, recorded], DEFS)
    assert result.quarantined == [] and result.rows["crimes"][0]["outcome_type"] == 1
    assert [o["before_recording"] for o in result.rows["crime_outcomes"]] == [False]


@pytest.mark.parametrize(
    ("verb", "data"),
    [("cancelled", {}), ("transferred", {"to_force": "norfolk"}), ("reclassified", {"offence_code": "105A"})],
)
def test_a_change_timed_before_the_recording_is_quarantined(verb: str, data: dict[str, Any]) -> None:
    recorded = parse_event(envelope("B", "recorded", "2024-01-10 10:00", offence_code="8N", district="N"))
    change = parse_event(envelope("B", verb, "2024-01-09 10:00", n=1, **data))
    result = CrimeFold().fold([recorded, change], DEFS)
    assert [(e.id, why) for e, why in result.quarantined] == [
        (change.id, f"time_order: {verb} before the crime was recorded")
    ]
    row = result.rows["crimes"][0]
    assert (row["counted"], row["offence_code"], row["reclassification_count"]) == (True, "8N", 0)


def test_same_millisecond_events_in_any_type_order() -> None:
    at = "2024-01-10 10:00"
    events = [
        parse_event(envelope("S", "qa_queue_exited", at, source="a")),
        parse_event(envelope("S", "qa_queue_entered", at, source="z")),
        parse_event(envelope("S", "recorded", at, source="b", offence_code="8N", district="N")),
        parse_event(envelope("S", "reclassified", at, source="a", offence_code="105A")),
    ]
    rows = fold(events)
    assert (
        rows["crimes"][0]["offence_group"] == "violence_without_injury"
    )  # reclassified ranks after recorded
    assert rows["qa_queue_intervals"][0]["exited_at"] == t(at)  # entry ranks before exit
    assert rows["crimes"][0]["qa_unmatched_exits"] == 0


# -- properties ------------------------------------------------------------------------------------
ALL = [
    *golden_events(),
    parse_event(envelope("C2", "outcome_changed", "2024-03-04 10:00", outcome_type=1)),
    parse_event(envelope("C9", "qa_queue_exited", "2024-01-10 10:00", source="a")),
    parse_event(envelope("C9", "qa_queue_entered", "2024-01-10 10:00", source="z")),
    parse_event(envelope("C9", "qa_queue_entered", "2024-01-10 10:00", source="y")),
    parse_event(envelope("C9", "recorded", "2024-01-10 10:00", source="b", offence_code="8N", district="N")),
    parse_event(envelope("C9", "reclassified", "2024-01-10 10:00", source="a", offence_code="105A")),
]


def _canonical(events: list[Envelope]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return {crime: fold(evs) for crime, evs in sorted(by_crime(events).items())}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dup_share=st.floats(0, 1))
def test_fold_ignores_order_and_duplicates(seed: int, dup_share: float) -> None:
    rng = random.Random(seed)
    events = list(ALL) + [e for e in ALL if rng.random() < dup_share]
    rng.shuffle(events)
    # the fold must not rely on the pipeline's sort either: feed the raw shuffled list
    shuffled = {c: CrimeFold().fold(evs, DEFS).rows for c, evs in sorted(by_crime(events).items())}
    assert shuffled == _canonical(ALL)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_fold_of_any_prefix_is_a_valid_partial_fact(seed: int) -> None:
    """Late arrival: any subset of a crime's history folds without error, one crime row, stable keys."""
    rng = random.Random(seed)
    subset = [e for e in ALL if rng.random() < 0.5]
    full = fold(by_crime(ALL)["C1"])
    columns = {table: set(rows[0]) for table, rows in full.items()}
    for crime, evs in by_crime(subset).items():
        rows = fold(evs)
        assert len(rows["crimes"]) == 1 and rows["crimes"][0]["crime_id"] == crime
        for table, table_rows in rows.items():
            assert all(set(r) == columns[table] for r in table_rows), table
