"""Incidents through the real pipeline into chDB: golden monthly figures (hand arithmetic), the
analyst views, the open-incident watch, rollup consistency after rewrites, and batch-split
independence."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.gauges import refresh_incident_gauges
from demandhub.queries.incidents import live_open_incidents, monthly_cells
from demandhub.settings import Settings
from schemas.definitions import Definitions, IncidentDefinitions
from schemas.envelope import Envelope
from sinks.clickhouse.client import Warehouse
from sinks.prometheus.metrics import ATTENDANCE_SECONDS, INCIDENTS_BREACHED, INCIDENTS_OPEN
from streams import metrics_incidents, registry
from streams.pipeline import Pipeline, RawMessage
from tests.unit.test_incidents_golden import GOLDEN, created, ev

pytestmark = pytest.mark.integration

TOPIC = "demandhub.incidents.incident.v1"
MARCH, FEB = YearMonth(2024, 3), YearMonth(2024, 2)
NOW_BREACHED = datetime(2024, 3, 5, 9, 20, tzinfo=UTC)  # I10 open 20 min (> 15)
NOW_NOT_YET = datetime(2024, 3, 5, 9, 12, tzinfo=UTC)  # I10 open 12 min (amber at 11.25)


def message(e: Envelope, offset: int) -> RawMessage:
    return RawMessage(TOPIC, 0, offset, json.dumps(e.model_dump(mode="json")).encode())


def pipeline(settings: Settings, wh: Warehouse) -> Pipeline:
    return Pipeline(
        settings,
        wh,
        folds=registry.folds(),
        pseudonymisation_key=b"k",
        refreshers=registry.refreshers(),
    )


def load(settings: Settings, wh: Warehouse, events: list[Envelope]) -> Pipeline:
    p = pipeline(settings, wh)
    p.process([message(e, i) for i, e in enumerate(events)])
    return p


def view(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    return wh.query(sql).dicts()


def test_golden_monthly_cells(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh, GOLDEN)
    cells = monthly_cells(wh, "cambs", FEB, MARCH, settings.definitions, now=NOW_BREACHED)
    # March immediate attended (grade at arrival IMMEDIATE, not excluded): I1 12, I2 25, I3 20 min
    # sum 57, n 3, sum of squares 144 + 625 + 400 = 1169 -> mean 19 min
    assert cells["immediate_time_to_respond_mins"][MARCH] == Cell(57, 3, 1169)
    assert cells["immediate_time_to_respond_mins"][FEB] == Cell(8, 1, 64)  # I11 8 min
    # within target: I1 only; denominator 3 attended + I10 open past 15 min = 4
    assert cells["immediate_within_target_rate"][MARCH] == Cell(1, 4)
    # priority at arrival: I4 50 <= 60 yes, I9 90 > 60 no
    assert cells["priority_within_target_rate"][MARCH] == Cell(1, 2)
    assert FEB not in cells["priority_within_target_rate"]  # no data: absent, not zero
    # I1..I10 minus the duplicate I7
    assert cells["incidents_total"][MARCH] == Cell(9)
    assert cells["incidents_mental_health"][MARCH] == Cell(1)  # I1
    assert cells["incidents_asb"][MARCH] == Cell(1)  # I1 closed ASB_PERSONAL
    # first grades of graded, not cancelled, not duplicate: I1 I, I2 I, I3 P, I4 I, I5 I, I8 I,
    # I9 P, I10 I -> 6 immediate of 8
    assert cells["immediate_share"][MARCH] == Cell(6, 8)


def test_golden_cells_before_the_open_incident_breaches(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh, GOLDEN)
    cells = monthly_cells(wh, "cambs", MARCH, MARCH, settings.definitions, now=NOW_NOT_YET)
    assert cells["immediate_within_target_rate"][MARCH] == Cell(1, 3)  # I10 not yet a miss


def test_golden_cells_by_the_graded_clock(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh, GOLDEN)
    defs = Definitions(incidents=IncidentDefinitions(response_clock="graded_at_arrival_grade"))
    cells = monthly_cells(wh, "cambs", MARCH, MARCH, defs, now=NOW_NOT_YET)
    # I1 10:01 -> 10:12 = 11, I2 12:02 -> 12:25 = 23, I3 13:10 -> 13:20 = 10 min
    assert cells["immediate_time_to_respond_mins"][MARCH] == Cell(44, 3, 121 + 529 + 100)
    # within: I1 11 <= 15, I3 10 <= 15; I2 23 > 20
    assert cells["immediate_within_target_rate"][MARCH] == Cell(2, 3)


def test_golden_response_view(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh, GOLDEN)
    rows = view(
        wh,
        "SELECT grade, urban_rural, attended, mean_min, median_min, p90_min, within_target, "
        "open_breached, within_target_pct FROM incident_response_monthly "
        "WHERE month = '2024-03-01' ORDER BY grade, urban_rural",
    )
    assert rows == [
        # IMMEDIATE all: 12, 20, 25 -> mean 19, median 20, p90 at rank 1.8: 20 + 0.8 * 5 = 24;
        # within 1 of (3 + I10 open breached) = 25 %
        {"grade": "IMMEDIATE", "urban_rural": "all", "attended": 3, "mean_min": 19.0, "median_min": 20.0,
         "p90_min": 24.0, "within_target": 1, "open_breached": 1, "within_target_pct": 25.0},
        # rural: I2 25 min, a miss of 20
        {"grade": "IMMEDIATE", "urban_rural": "rural", "attended": 1, "mean_min": 25.0, "median_min": 25.0,
         "p90_min": 25.0, "within_target": 0, "open_breached": 0, "within_target_pct": 0.0},
        # urban: I1 12, I3 20 -> mean 16, median 16, p90 12 + 0.9 * 8 = 19.2; 1 of (2 + 1) = 33.3 %
        {"grade": "IMMEDIATE", "urban_rural": "urban", "attended": 2, "mean_min": 16.0, "median_min": 16.0,
         "p90_min": 19.2, "within_target": 1, "open_breached": 1, "within_target_pct": 33.3},
        # PRIORITY all / urban: I4 50, I9 90 -> mean 70, median 70, p90 50 + 0.9 * 40 = 86
        {"grade": "PRIORITY", "urban_rural": "all", "attended": 2, "mean_min": 70.0, "median_min": 70.0,
         "p90_min": 86.0, "within_target": 1, "open_breached": 0, "within_target_pct": 50.0},
        {"grade": "PRIORITY", "urban_rural": "urban", "attended": 2, "mean_min": 70.0, "median_min": 70.0,
         "p90_min": 86.0, "within_target": 1, "open_breached": 0, "within_target_pct": 50.0},
    ]  # fmt: skip


def test_golden_grade_mix_regrades_and_qualifier_views(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh, GOLDEN)
    mix = view(
        wh,
        "SELECT basis, grade, incidents, share_pct FROM incident_grade_mix_monthly "
        "WHERE month = '2024-03-01' ORDER BY basis, grade",
    )
    # final grades: I3 became IMMEDIATE, I4 became PRIORITY -> still 6 I / 2 P of 8
    assert mix == [
        {"basis": "final", "grade": "IMMEDIATE", "incidents": 6, "share_pct": 75.0},
        {"basis": "final", "grade": "PRIORITY", "incidents": 2, "share_pct": 25.0},
        {"basis": "first", "grade": "IMMEDIATE", "incidents": 6, "share_pct": 75.0},
        {"basis": "first", "grade": "PRIORITY", "incidents": 2, "share_pct": 25.0},
    ]
    (regrades,) = view(wh, "SELECT * FROM incident_regrade_rates_monthly WHERE month = '2024-03-01'")
    # 8 graded; regraded I3, I4 = 25 %; immediate first 6, I4 downgraded = 16.7 %;
    # domestic abuse at opening: I3 (P), I4 (I) -> 50 % immediate against 75 % for all
    assert (regrades["graded_n"], regrades["regraded_n"], regrades["regraded_pct"]) == (8, 2, 25.0)
    assert (regrades["upgraded_n"], regrades["downgraded_n"]) == (1, 1)
    assert (regrades["immediate_downgraded_n"], regrades["immediate_downgraded_pct"]) == (1, 16.7)
    assert regrades["immediate_share_domestic_abuse_pct"] == 50.0
    assert regrades["immediate_share_all_pct"] == 75.0
    (q,) = view(wh, "SELECT * FROM incident_qualifiers_monthly WHERE month = '2024-03-01'")
    # 9 incidents; mental health I1 = 11.1 %; ASB I1; domestic abuse I3, I4
    assert (q["incidents_n"], q["mental_health_n"], q["mental_health_pct"]) == (9, 1, 11.1)
    assert (q["asb_n"], q["domestic_abuse_n"]) == (1, 2)
    (x,) = view(wh, "SELECT * FROM incident_exclusions_monthly WHERE month = '2024-03-01'")
    assert (x["self_initiated"], x["cancelled"], x["duplicates"], x["never_attended"]) == (1, 1, 1, 1)
    assert (x["open_unattended"], x["in_response_population"]) == (1, 5)  # I1-I4, I9
    areas = view(
        wh,
        "SELECT area, sum(incidents) AS n FROM incident_counts_by_district_monthly "
        "WHERE month = '2024-03-01' GROUP BY area ORDER BY area",
    )
    # North: I2, I3 (Fenland, Peterborough) + I8 (Fenland) = 3; South: the other 6
    assert areas == [{"area": "North", "n": 3}, {"area": "South", "n": 6}]


def test_open_incident_watch(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh, GOLDEN)
    (item,) = live_open_incidents(wh, "cambs", NOW_NOT_YET, settings.definitions)
    # I10 created 09:00, 12 min elapsed of 15: 3 left, amber from 11.25 min
    assert (item["incident_id"], item["grade"], item["district"], item["area"]) == (
        "I10",
        "IMMEDIATE",
        "South Cambridgeshire",
        "South",
    )
    assert (item["minutes_elapsed"], item["minutes_left"], item["status"]) == (12, 3, "amber")
    (late,) = live_open_incidents(wh, "cambs", NOW_BREACHED, settings.definitions)
    assert (late["minutes_left"], late["status"]) == (-5, "red")
    (sql_row,) = view(wh, "SELECT incident_id, grade, target_minutes, watch_status FROM open_incidents_watch")
    assert sql_row == {
        "incident_id": "I10",
        "grade": "IMMEDIATE",
        "target_minutes": 15,
        "watch_status": "red",
    }
    refresh_incident_gauges(wh, "cambs", NOW_NOT_YET, settings.definitions)
    assert INCIDENTS_OPEN.labels(grade="IMMEDIATE")._value.get() == 1
    assert INCIDENTS_BREACHED.labels(grade="IMMEDIATE")._value.get() == 0
    assert INCIDENTS_OPEN.labels(grade="PRIORITY")._value.get() == 0


def test_attendance_histogram_observes_each_first_arrival_once(settings: Settings, wh: Warehouse) -> None:
    def count() -> float:
        return sum(
            s.value
            for m in ATTENDANCE_SECONDS.collect()
            for s in m.samples
            if s.name.endswith("_count") and s.labels == {"grade": "IMMEDIATE", "urban_rural": "urban"}
        )

    before = count()
    p = pipeline(settings, wh)
    first, rest = GOLDEN[:10], GOLDEN[10:]
    for batch in (first, rest, rest):  # the replayed batch brings nothing new
        metrics_incidents.observe(p.process([message(e, i) for i, e in enumerate(batch)]))
    # urban, IMMEDIATE at arrival, in the response population: I1, I3 and I11 (I5 is self-initiated);
    # the replay adds nothing
    assert count() - before == 3


ROLLUP_CHECK = (
    "SELECT {keys}, sum(incidents) AS incidents, sum(mix_base) AS mix_base, sum(resp_n) AS resp_n, "
    "round(sum(resp_sum_s), 3) AS resp_sum_s FROM {src} GROUP BY {keys} ORDER BY {keys}"
)
KEYS = "force_id, hour, first_grade, final_grade, arrival_grade, district, area, urban_rural"
FROM_FACTS = (
    "(SELECT force_id, toStartOfHour(toDateTime(assumeNotNull(created_at), 'UTC')) AS hour, "
    "ifNull(first_grade, '') AS first_grade, ifNull(final_grade, '') AS final_grade, "
    "ifNull(grade_at_arrival, '') AS arrival_grade, ifNull(district, '') AS district, "
    "ifNull(area, '') AS area, ifNull(urban_rural, '') AS urban_rural, toUInt32(NOT duplicate) AS incidents, "
    "toUInt32(NOT duplicate AND NOT cancelled) AS mix_base, "
    "toUInt32(attendance_exclusion = '' AND NOT self_initiated) AS resp_n, "
    "if(attendance_exclusion = '' AND NOT self_initiated, assumeNotNull(response_seconds_created), 0) AS resp_sum_s "
    "FROM incidents FINAL WHERE created_at IS NOT NULL)"
)


def rollup_matches_facts(wh: Warehouse) -> None:
    rollup = view(wh, ROLLUP_CHECK.format(keys=KEYS, src="incidents_hourly FINAL"))
    facts = view(wh, ROLLUP_CHECK.format(keys=KEYS, src=FROM_FACTS))
    assert rollup == facts


def test_rewrites_leave_no_stale_rollup_rows(settings: Settings, wh: Warehouse) -> None:
    p = pipeline(settings, wh)
    steps = [
        # created 10:30 and a regrade P -> I (first grade inferred PRIORITY)
        [
            created("M1", "2024-03-01 10:30", "Fenland", "rural"),
            ev("M1", "regraded", "2024-03-01 10:40", old_grade="PRIORITY", new_grade="IMMEDIATE"),
        ],
        # a late, earlier creation moves the incident to the 09:00 hour; the 10:30 one is quarantined
        [created("M1", "2024-03-01 09:50", "Fenland", "rural")],
        # a late grading makes the first grade IMMEDIATE (rollup key changes)
        [ev("M1", "graded", "2024-03-01 09:55", grade="IMMEDIATE")],
        [ev("M1", "resource_arrived", "2024-03-01 10:05")],
        [ev("M1", "merged_as_duplicate", "2024-03-01 10:06", duplicate_of="M0")],
    ]
    for i, batch in enumerate(steps):
        report = p.process([message(e, 100 * i + j) for j, e in enumerate(batch)])
        assert not report.dead_letters
        rollup_matches_facts(wh)
    hours = view(wh, "SELECT hour, first_grade, incidents, duplicates FROM incidents_hourly FINAL")
    assert hours == [
        {"hour": datetime(2024, 3, 1, 9, 0), "first_grade": "IMMEDIATE", "incidents": 0, "duplicates": 1}
    ]
    # the 10:30 creation became the second one when the earlier one arrived: left out of the facts
    (fact,) = view(wh, "SELECT created_at, quarantined_events FROM incidents FINAL")
    assert fact == {"created_at": datetime(2024, 3, 1, 9, 50), "quarantined_events": 1}


def figures(wh: Warehouse, definitions: Definitions) -> dict[str, Any]:
    cells = monthly_cells(wh, "cambs", FEB, MARCH, definitions, now=NOW_BREACHED)
    facts = view(wh, "SELECT * EXCEPT (version) FROM incidents FINAL ORDER BY incident_id")
    response = view(wh, "SELECT * FROM incident_response_monthly")
    return {"cells": cells, "facts": facts, "response": response}


@pytest.fixture
def expected(settings: Settings, wh: Warehouse) -> dict[str, Any]:
    """The figures of GOLDEN loaded in order in one batch (computed once, not per example)."""
    load(settings, wh, GOLDEN)
    return figures(wh, settings.definitions)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_batching_order_and_duplication_gives_the_same_figures(
    settings: Settings, wh: Warehouse, expected: dict[str, Any], data: st.DataObject
) -> None:
    _truncate(wh)
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    events = GOLDEN + rng.sample(GOLDEN, k=data.draw(st.integers(0, 8)))
    rng.shuffle(events)
    cuts = sorted(data.draw(st.lists(st.integers(1, len(events) - 1), max_size=5, unique=True)))
    batches = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    p = pipeline(settings, wh)
    for i, batch in enumerate(batches):
        if data.draw(st.booleans()):
            p.cache.clear()  # reload histories from the ledger
        p.process([message(e, 1000 * i + j) for j, e in enumerate(batch)])
    assert figures(wh, settings.definitions) == expected


def _truncate(wh: Warehouse) -> None:
    rows = wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows
    for (name,) in rows:
        wh.command(f"TRUNCATE TABLE IF EXISTS `{name}`")


def test_asb_counts_open_incidents_by_the_category_known(settings: Settings, wh: Warehouse) -> None:
    # I20 opened as ASB nuisance with the ASB qualifier and is still open when the month settles:
    # it has no final category yet, but it is an ASB incident of March.
    i20 = [
        created("I20", "2024-03-20 10:00", "Cambridge City", "urban", category="ASB_NUISANCE"),
        ev("I20", "graded", "2024-03-20 10:01", grade="PRIORITY"),
        ev("I20", "qualifier_added", "2024-03-20 10:05", qualifier="asb"),
    ]
    load(settings, wh, GOLDEN + i20)
    defs = settings.definitions
    cells = monthly_cells(wh, "cambs", FEB, MARCH, defs, now=NOW_BREACHED)
    assert cells["incidents_asb"][MARCH] == Cell(2)  # I1 closed ASB_PERSONAL, I20 open ASB_NUISANCE
    assert defs.incidents.asb_basis == "known_at_settle"

    def asb(basis: str) -> Cell:
        other = defs.model_copy(update={"incidents": defs.incidents.model_copy(update={"asb_basis": basis})})
        return monthly_cells(wh, "cambs", FEB, MARCH, other, now=NOW_BREACHED)["incidents_asb"][MARCH]

    assert asb("final_category") == Cell(1)  # closed incidents only (I1)
    assert asb("qualifier_ever") == Cell(1)  # the ASB qualifier: I20 only


def test_graded_clock_within_target_uses_the_graded_clock_denominator(wh: Warehouse) -> None:
    # Two attended IMMEDIATE incidents with a target; only one has a graded-clock time, and it was
    # within target. The graded-clock percentage is 1 of 1, not 1 of the creation clock's 2.
    wh.command(
        "INSERT INTO incidents_hourly (force_id, hour, first_grade, final_grade, arrival_grade, district, "
        "area, urban_rural, resp_n, resp_target_n, resp_within_n, resp_g_n, resp_g_target_n, "
        "resp_g_within_n, version) VALUES ('gx', '2024-03-10 10:00:00', 'IMMEDIATE', 'IMMEDIATE', "
        "'IMMEDIATE', 'Fenland', 'North', 'urban', 2, 2, 1, 1, 1, 1, 1)"
    )
    rows = view(
        wh,
        "SELECT within_target_pct, within_target_pct_graded_clock FROM incident_response_monthly "
        "WHERE force_id = 'gx' AND urban_rural = 'all'",
    )
    assert rows == [{"within_target_pct": 50.0, "within_target_pct_graded_clock": 100.0}]
