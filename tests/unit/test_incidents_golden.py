"""Golden incident set: hand-made incidents whose facts are checked against hand arithmetic.

The same set feeds the warehouse golden test (tests/integration/test_incidents_warehouse.py).
March 2024 before the clock change, so local time (Europe/London) equals UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.definitions import Definitions
from schemas.envelope import Envelope
from schemas.events import parse_event
from streams.domain.incidents import IncidentFold, target_seconds, watch_status, within_target

pytestmark = pytest.mark.unit

_counter = iter(range(1, 1_000_000))


def ev(subject: str, verb: str, at: str, source: str = "cad", **data: Any) -> Envelope:
    """One incident event; ``at`` is 'YYYY-MM-DD HH:MM' in UTC."""
    return parse_event(
        {
            "id": f"{subject}-{verb}-{next(_counter)}",
            "source": source,
            "type": f"incident.{verb}.v1",
            "time": datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).isoformat(),
            "force_id": "cambs",
            "subject": subject,
            "data": data,
        }
    )


def created(
    subject: str,
    at: str,
    district: str,
    urban_rural: str,
    channel: str = "999",
    category: str = "PSW_CONCERN_FOR_SAFETY",
    **extra: Any,
) -> Envelope:
    loc = {"district": district, "urban_rural": urban_rural, "address": "1 High Street"}
    return ev(subject, "created", at, channel=channel, opening_category=category, location=loc, **extra)


D = "2024-03-01"
E = "2024-03-05"
GOLDEN: list[Envelope] = [
    # I1 urban immediate, 12 min, ASB at closure, mental health qualifier.
    created("I1", f"{D} 10:00", "Cambridge City", "urban"),
    ev("I1", "graded", f"{D} 10:01", grade="IMMEDIATE"),
    ev("I1", "resource_assigned", f"{D} 10:03", resource_id="PC 123"),
    ev("I1", "resource_arrived", f"{D} 10:12", resource_id="PC 123"),
    ev("I1", "qualifier_added", f"{D} 10:30", qualifier="mental_health"),
    ev("I1", "closed", f"{D} 11:00", final_category="ASB_PERSONAL"),
    # I2 rural immediate, 25 min (target 20: miss); graded clock 23 min.
    created("I2", f"{D} 12:00", "Fenland", "rural"),
    ev("I2", "graded", f"{D} 12:02", grade="IMMEDIATE"),
    ev("I2", "resource_arrived", f"{D} 12:25", delay_reason="travel_distance"),
    # I3 urban, domestic abuse at opening, PRIORITY upgraded to IMMEDIATE at 13:10, arrival 13:20:
    # creation clock 20 min (miss of 15), graded clock 10 min.
    created("I3", f"{D} 13:00", "Peterborough", "urban", channel="101", domestic_abuse=True),
    ev("I3", "graded", f"{D} 13:05", grade="PRIORITY"),
    ev("I3", "regraded", f"{D} 13:10", old_grade="PRIORITY", new_grade="IMMEDIATE", reason="new_info"),
    ev("I3", "resource_arrived", f"{D} 13:20"),
    # I4 urban, domestic abuse at opening, IMMEDIATE downgraded to PRIORITY, arrival after 50 min.
    created("I4", f"{D} 14:00", "Huntingdonshire", "urban", domestic_abuse=True),
    ev("I4", "graded", f"{D} 14:01", grade="IMMEDIATE"),
    ev("I4", "regraded", f"{D} 14:03", old_grade="IMMEDIATE", new_grade="PRIORITY", reason="risk_reduced"),
    ev("I4", "resource_arrived", f"{D} 14:50"),
    ev("I4", "closed", f"{D} 16:00", final_category="CRIME_VIOLENCE"),
    # I5 self-initiated immediate: excluded from response times.
    created("I5", f"{D} 15:00", "Cambridge City", "urban", channel="self_initiated", self_initiated=True),
    ev("I5", "graded", f"{D} 15:00", grade="IMMEDIATE"),
    ev("I5", "resource_arrived", f"{D} 15:01"),
    # I6 cancelled, I7 duplicate.
    created("I6", f"{D} 16:00", "Cambridge City", "urban"),
    ev("I6", "graded", f"{D} 16:01", grade="IMMEDIATE"),
    ev("I6", "cancelled", f"{D} 16:05", reason="caller_withdrew"),
    created("I7", f"{D} 16:10", "Cambridge City", "urban"),
    ev("I7", "graded", f"{D} 16:11", grade="PRIORITY"),
    ev("I7", "merged_as_duplicate", f"{D} 16:12", duplicate_of="I6"),
    # I8 rural immediate closed without attendance.
    created("I8", f"{D} 17:00", "Fenland", "rural"),
    ev("I8", "graded", f"{D} 17:00", grade="IMMEDIATE"),
    ev("I8", "closed", f"{D} 18:00", final_category="PSW_OTHER"),
    # I9 urban priority, 90 min (miss of 60).
    created("I9", f"{E} 09:00", "East Cambridgeshire", "urban"),
    ev("I9", "graded", f"{E} 09:02", grade="PRIORITY"),
    ev("I9", "resource_arrived", f"{E} 10:30"),
    # I10 urban immediate, open and not attended.
    created("I10", f"{E} 09:00", "South Cambridgeshire", "urban"),
    ev("I10", "graded", f"{E} 09:00", grade="IMMEDIATE"),
    # I11 in February: immediate urban, 8 min.
    created("I11", "2024-02-10 08:00", "Cambridge City", "urban"),
    ev("I11", "graded", "2024-02-10 08:01", grade="IMMEDIATE"),
    ev("I11", "resource_arrived", "2024-02-10 08:08"),
]


def by_subject(events: list[Envelope]) -> dict[str, list[Envelope]]:
    out: dict[str, list[Envelope]] = {}
    for e in events:
        out.setdefault(e.subject, []).append(e)
    return out


def fold_all(events: list[Envelope], defs: Definitions | None = None) -> dict[str, dict[str, Any]]:
    fold = IncidentFold()
    rows: dict[str, dict[str, Any]] = {}
    for subject, evs in by_subject(events).items():
        rows[subject] = fold.fold(evs, defs or Definitions()).rows["incidents"][0]
    return rows


def test_golden_response_minutes_by_both_clocks() -> None:
    rows = fold_all(GOLDEN)
    minutes = {s: (r["response_seconds_created"] or 0) / 60 for s, r in rows.items()}
    graded = {s: (r["response_seconds_graded"] or 0) / 60 for s, r in rows.items()}
    assert minutes["I1"] == 12  # 10:00 -> 10:12
    assert minutes["I2"] == 25  # 12:00 -> 12:25
    assert minutes["I3"] == 20  # 13:00 -> 13:20
    assert graded["I3"] == 10  # took IMMEDIATE at 13:10 -> 13:20
    assert minutes["I4"] == 50  # 14:00 -> 14:50, PRIORITY at arrival
    assert graded["I4"] == 47  # took PRIORITY at 14:03 -> 14:50
    assert minutes["I9"] == 90  # 09:00 -> 10:30
    assert rows["I4"]["grade_at_arrival"] == "PRIORITY"
    assert rows["I3"]["graded_at_arrival_grade_at"] == datetime(2024, 3, 1, 13, 10, tzinfo=UTC)


def test_golden_targets_and_within() -> None:
    rows = fold_all(GOLDEN)
    defs = Definitions().incidents

    def target(r: dict[str, Any]) -> int | None:
        return target_seconds(defs, r["grade_at_arrival"], r["urban_rural"])

    # immediate urban 15 min, rural 20 min, priority 60 min (grade held at first arrival)
    assert {s: target(rows[s]) for s in ("I1", "I2", "I3", "I4", "I9")} == {
        "I1": 900,
        "I2": 1200,
        "I3": 900,
        "I4": 3600,
        "I9": 3600,
    }
    assert {
        s: within_target(rows[s]["response_seconds_created"], target(rows[s]))
        for s in ("I1", "I2", "I3", "I4", "I9")
    } == {
        "I1": True,  # 12 <= 15
        "I2": False,  # 25 > 20
        "I3": False,  # 20 > 15
        "I4": True,  # 50 <= 60
        "I9": False,  # 90 > 60
    }
    assert watch_status(675, 900, defs.amber_share) == "amber"  # 0.75 * 900


def test_golden_exclusions_and_status() -> None:
    rows = fold_all(GOLDEN)
    # facts only: I5 is self-initiated (a fact) and attended; leaving it out is a read-time rule
    assert {s: r["attendance_exclusion"] for s, r in rows.items()} == {
        "I1": "",
        "I2": "",
        "I3": "",
        "I4": "",
        "I5": "",
        "I6": "cancelled",
        "I7": "duplicate",
        "I8": "not_attended",
        "I9": "",
        "I10": "not_attended",
        "I11": "",
    }
    assert rows["I8"]["status"] == "closed"
    assert rows["I10"]["status"] == "open"
    assert rows["I6"]["status"] == "cancelled"
    assert rows["I7"]["status"] == "duplicate"


def test_golden_grading_flags() -> None:
    rows = fold_all(GOLDEN)
    assert (rows["I3"]["first_grade"], rows["I3"]["final_grade"], rows["I3"]["upgraded"]) == (
        "PRIORITY",
        "IMMEDIATE",
        True,
    )
    assert rows["I4"]["immediate_downgraded"] and rows["I4"]["downgraded"]
    assert rows["I4"]["regrade_count"] == 1
    assert not rows["I3"]["immediate_downgraded"]
    assert rows["I1"]["asb"] and not rows["I4"]["asb"]
    assert rows["I1"]["mental_health_now"]
    assert rows["I3"]["domestic_abuse_opening"]


def test_golden_geography_from_reference_data() -> None:
    rows = fold_all(GOLDEN)
    assert {s: (r["district"], r["area"]) for s, r in rows.items() if s in ("I1", "I2", "I3", "I9")} == {
        "I1": ("Cambridge City", "South"),
        "I2": ("Fenland", "North"),
        "I3": ("Peterborough", "North"),
        "I9": ("East Cambridgeshire", "South"),
    }
