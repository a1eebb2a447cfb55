"""Incident definitions are applied when figures are read: each ``definitions.incidents`` leaf,
changed with ``Definitions.with_overrides`` and no replay, changes the figures read from one warehouse
(the rollup is bypassed: it was computed under the defaults) and they equal the figures of a replay of
the same events under that definition (read from its own rollup). ``response_clock=contact_offered``
starts the clock at the linked contact's offer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse.lineage import incident_contributions
from demandhub.queries.incidents import live_open_incidents, monthly_cells, reads_rollup
from demandhub.settings import Settings
from schemas.definitions import Definitions
from schemas.envelope import Envelope
from schemas.events import parse_event
from schemas.topics import topic_for_type
from sinks.clickhouse import public_sql
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.unit.test_incidents_golden import GOLDEN, created, ev

pytestmark = pytest.mark.integration

MARCH, FEB = YearMonth(2024, 3), YearMonth(2024, 2)
NOW = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
WATCH_AT = datetime(2024, 3, 5, 9, 10, tzinfo=UTC)  # I10 open 10 min (of 15; amber from 11.25)


def contact(subject: str, etype: str, at: str, **data: Any) -> Envelope:
    source = "portal" if etype.startswith("online_report") else "telephony"
    return parse_event(
        {
            "id": f"{subject}-{etype}-{at[-5:].replace(':', '')}",
            "source": source,
            "type": etype,
            "time": datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).isoformat(),
            "force_id": "cambs",
            "subject": subject,
            "data": data,
        }
    )


G = "2024-03-06"
LINKED: list[Envelope] = [
    # X1 raised by the 999 call C1 (the incident names the contact): offered 09:58, created 10:00,
    # arrival 10:14: 14 min from creation (within 15), 16 min from the offer (a miss).
    contact("C1", "call.offered.v1", f"{G} 09:58", channel="999"),
    created("X1", f"{G} 10:00", "Cambridge City", "urban", contact_id="C1"),
    ev("X1", "graded", f"{G} 10:00", grade="IMMEDIATE"),
    ev("X1", "resource_arrived", f"{G} 10:14"),
    # X2 linked from the online report R2 (the contact names the incident): submitted 10:40,
    # created 11:00, arrival 11:10: 10 min from creation, 30 from the report.
    contact("R2", "online_report.submitted.v1", f"{G} 10:40", report_type="asb"),
    contact("R2", "online_report.linked.v1", f"{G} 11:05", incident_id="X2"),
    created("X2", f"{G} 11:00", "Cambridge City", "urban", channel="online"),
    ev("X2", "graded", f"{G} 11:00", grade="IMMEDIATE"),
    ev("X2", "resource_arrived", f"{G} 11:10"),
]
EVENTS = GOLDEN + LINKED

ALTERNATIVES: dict[str, str] = {
    "incidents.grade_basis": "final",
    "incidents.response_clock": "graded_at_arrival_grade",
    "incidents.target_minutes": json.dumps(
        {"IMMEDIATE_urban": 13, "IMMEDIATE_rural": 30, "PRIORITY_urban": 45}
    ),
    "incidents.amber_share": "0.5",
    "incidents.exclude_self_initiated": "false",
    "incidents.mental_health_basis": "ever",
    "incidents.asb_basis": "qualifier_ever",
}
EXTRA = [
    ev("I2", "qualifier_added", "2024-03-01 12:30", qualifier="asb"),
    ev("I9", "qualifier_added", "2024-03-05 09:30", qualifier="mental_health"),
    ev("I9", "qualifier_removed", "2024-03-05 09:40", qualifier="mental_health"),
    ev("I9", "qualifier_added", "2024-03-05 09:45", qualifier="asb"),
    ev("I9", "regraded", "2024-03-05 09:50", old_grade="PRIORITY", new_grade="IMMEDIATE"),
]


def message(e: Envelope, offset: int) -> RawMessage:
    return RawMessage(topic_for_type(e.type).name, 0, offset, json.dumps(e.model_dump(mode="json")).encode())


def load(settings: Settings, wh: Warehouse, events: list[Envelope]) -> None:
    p = Pipeline(
        settings, wh, folds=registry.folds(), pseudonymisation_key=b"k", refreshers=registry.refreshers()
    )
    report = p.process([message(e, i) for i, e in enumerate(events)])
    assert not report.dead_letters


def figures(wh: Warehouse, defs: Definitions) -> dict[str, Any]:
    cells = monthly_cells(wh, "cambs", FEB, MARCH, defs, now=NOW)
    watch = [
        (i["incident_id"], i["status"], round(i["minutes_left"], 6))
        for i in live_open_incidents(wh, "cambs", WATCH_AT, defs)
    ]
    month = datetime(2024, 3, 1).date()
    public = public_sql.attendance_rows(wh, "cambs", defs, month, month)
    return {"cells": cells, "watch": watch, "public": sorted(public, key=lambda r: r["area"])}


def assert_lineage_reconciles(wh: Warehouse, defs: Definitions) -> None:
    """The incidents behind every cell (board lineage, same definitions) add up to the cell."""
    cells = monthly_cells(wh, "cambs", FEB, MARCH, defs, now=NOW)
    lineage = incident_contributions(wh, "cambs", FEB, MARCH, defs, now=NOW)
    for measure, months in cells.items():
        for ym, cell in months.items():
            parts = lineage.get(measure, {}).get(ym, [])
            assert sum(c.num for c in parts) == pytest.approx(cell.num), (measure, ym)
            if cell.den is not None:
                assert sum(c.den or 0 for c in parts) == pytest.approx(cell.den), (measure, ym)


def _truncate(wh: Warehouse) -> None:
    rows = wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows
    for (name,) in rows:
        wh.command(f"TRUNCATE TABLE IF EXISTS `{name}`")


def test_every_incident_definition_is_an_alternative_here() -> None:
    leaves = {leaf for leaf in Definitions.leaves() if leaf.startswith("incidents.")}
    assert set(ALTERNATIVES) == leaves


def test_each_incident_definition_applies_when_read_and_equals_a_replay(
    settings: Settings, wh: Warehouse
) -> None:
    events = EVENTS + EXTRA
    load(settings, wh, events)
    defaults = settings.definitions
    assert reads_rollup(wh, defaults)
    before = figures(wh, defaults)
    read_now: dict[str, dict[str, Any]] = {}
    for leaf, value in ALTERNATIVES.items():
        other = defaults.with_overrides([f"{leaf}={value}"])
        assert not reads_rollup(wh, other)  # the rollup holds the defaults: figures from the facts
        read_now[leaf] = figures(wh, other)
        assert_lineage_reconciles(wh, other)
        assert read_now[leaf] != before, f"{leaf}: the figures did not change"
    for leaf, value in ALTERNATIVES.items():
        other = defaults.with_overrides([f"{leaf}={value}"])
        _truncate(wh)
        load(settings.model_copy(update={"definitions": other}), wh, events)
        assert reads_rollup(wh, other)  # the replay's rollup is under the alternative
        assert figures(wh, other) == read_now[leaf], leaf


def test_contact_offered_clock_starts_at_the_linked_contacts_offer(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh, EVENTS)
    created_clock = monthly_cells(wh, "cambs", MARCH, MARCH, settings.definitions, now=NOW)
    offered = settings.definitions.with_overrides(["incidents.response_clock=contact_offered"])
    contact_clock = monthly_cells(wh, "cambs", MARCH, MARCH, offered, now=NOW)
    # March immediate by creation: I1 12, I2 25, I3 20, X1 14, X2 10 = 81 min; within: I1, X1, X2
    assert created_clock["immediate_time_to_respond_mins"][MARCH] == Cell(81, 5, 144 + 625 + 400 + 196 + 100)
    # from the linked offer: X1 16 (call offered 09:58), X2 30 (report submitted 10:40); the golden
    # incidents have no linked contact and start at creation
    assert contact_clock["immediate_time_to_respond_mins"][MARCH] == Cell(
        12 + 25 + 20 + 16 + 30, 5, 144 + 625 + 400 + 256 + 900
    )
    # within target: I1 only (X1 and X2 now miss); denominator 5 attended + I10, open past its target
    assert contact_clock["immediate_within_target_rate"][MARCH] == Cell(1, 6)
    assert created_clock["immediate_within_target_rate"][MARCH] == Cell(3, 6)


def test_open_incident_watch_follows_the_clock_and_amber_share(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh, EVENTS)
    (item,) = live_open_incidents(wh, "cambs", WATCH_AT, settings.definitions)
    assert (item["incident_id"], item["status"], item["minutes_left"]) == ("I10", "ok", 5)
    half = settings.definitions.with_overrides(["incidents.amber_share=0.5"])
    (item,) = live_open_incidents(wh, "cambs", WATCH_AT, half)
    assert item["status"] == "amber"  # 10 of 15 minutes is past half
    shorter = settings.definitions.with_overrides(["incidents.target_minutes.IMMEDIATE_urban=8"])
    (item,) = live_open_incidents(wh, "cambs", WATCH_AT, shorter)
    assert (item["status"], item["minutes_left"]) == ("red", -2)
