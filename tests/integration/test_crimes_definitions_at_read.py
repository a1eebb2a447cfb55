"""Crime definitions and the timezone are applied when figures are read, never when events are folded.

For every leaf of ``definitions.crimes`` and for ``timezone``, an alternative value changes the
figures read from ONE warehouse filled under the defaults (no replay), and those figures equal the
ones read from a warehouse filled from scratch under the alternative definitions. The figures are
every crime reader: the board cells, the district series, the QA/Linking daily series, the lineage
of every cell and the public dashboard's crime table. The analysts' views apply the worker's active
definitions (``applied_definitions`` row ``active``) the same way.

The events are the hand-made set of tests/unit/test_crimes_fold.py plus C9, a crime that occurred in
January and was recorded in February (so ``period_basis`` moves it), and I7, a hare-coursing incident
in February (rural crime counts it by default, as the source board pack does).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse.lineage import crime_contributions, month_cell
from demandhub.board.warehouse.public import crime_outcome_sections
from demandhub.queries.crimes import district_group_series, live_qa_queue, monthly_cells, qa_queue_daily
from demandhub.settings import Settings
from schemas.definitions import Definitions
from sinks.clickhouse import crimes_sql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import record_active
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.unit.test_crimes_fold import envelope, golden_raw, t

pytestmark = pytest.mark.integration

FORCE = "cambs"
TOPIC = "demandhub.crimes.crime.v1"
INCIDENTS = "demandhub.incidents.incident.v1"
HARE_COURSING = {
    "specversion": "1.0",
    "id": "I7-created-0",
    "source": "cad",
    "type": "incident.created.v1",
    "time": "2024-02-10T17:00:00+00:00",
    "force_id": FORCE,
    "subject": "I7",
    "data": {
        "channel": "999",
        "opening_category": "PSW_WILDLIFE_HARE_COURSING",
        "location": {"district": "Peterborough", "urban_rural": "rural", "address": "Fen Lane"},
    },
}
FIRST, LAST = YearMonth(2024, 1), YearMonth(2024, 4)
DEFAULTS = Definitions()
ALTERNATIVES: dict[str, str] = {
    "timezone": "timezone=UTC",  # C7 (00:30 BST on 1 April) falls in March
    "crimes.period_basis": "crimes.period_basis=occurred",  # C9 moves from February to January
    "crimes.ncrs_hours": "crimes.ncrs_hours=48",  # C2 (48 h) is on time
    "crimes.prosecution_possible_types": "crimes.prosecution_possible_types=[1,2,18]",
    "crimes.outcome_rate_basis": "crimes.outcome_rate_basis=cohort",
    "crimes.qa_snapshot_time": "crimes.qa_snapshot_time=09:00",
    "crimes.rural_incident_categories": "crimes.rural_incident_categories=[]",  # I7 leaves rural crime
}


def events() -> list[dict[str, Any]]:
    return [
        *golden_raw(),
        envelope("C9", "reported", "2024-02-01 09:00"),
        envelope(
            "C9",
            "recorded",
            "2024-02-02 10:00",
            offence_code="8N",
            district="Peterborough",
            area="North",
            occurred_at="2024-01-28T22:00:00Z",
        ),
        envelope("C9", "outcome_assigned", "2024-02-20 10:00", outcome_type=18),
    ]


def fill(settings: Settings, wh: Warehouse, definitions: Definitions) -> None:
    for (name,) in wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows:
        wh.command(f"TRUNCATE TABLE IF EXISTS `{name}`")
    own = settings.model_copy(update={"definitions": definitions})
    p = Pipeline(own, wh, folds=registry.folds(), pseudonymisation_key=b"k", refreshers=registry.refreshers())
    raw = [RawMessage(TOPIC, 0, i, json.dumps(e).encode()) for i, e in enumerate(events())]
    raw.append(RawMessage(INCIDENTS, 0, 0, json.dumps(HARE_COURSING).encode()))
    assert not p.process(raw).dead_letters


def figures(wh: Warehouse, definitions: Definitions) -> dict[str, Any]:
    return {
        "cells": monthly_cells(wh, FORCE, FIRST, LAST, definitions),
        "districts": district_group_series(wh, FORCE, FIRST, LAST, definitions),
        "qa_days": qa_queue_daily(wh, FORCE, t("2024-04-30 23:59"), definitions),
        "lineage": {
            measure: {m: sorted(items, key=repr) for m, items in by_month.items()}
            for measure, by_month in crime_contributions(wh, FORCE, FIRST, LAST, definitions).items()
        },
        "public": crime_outcome_sections(wh, FORCE, definitions, [YearMonth(2024, m) for m in range(1, 5)]),
    }


@pytest.fixture(scope="module")
def read_from_defaults(
    warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Figures read under each alternative from one warehouse filled under the defaults (once for the
    module: the figures are plain data; ``fill`` empties the warehouse first, whatever ran before)."""
    wh = warehouse
    fill(Settings(data_dir=tmp_path_factory.mktemp("crimes"), force_id=FORCE), wh, DEFAULTS)
    out = {"defaults": figures(wh, DEFAULTS)}
    for leaf, assignment in ALTERNATIVES.items():
        out[leaf] = figures(wh, DEFAULTS.with_overrides([assignment]))
    return out


def test_every_crime_leaf_and_the_timezone_have_an_alternative() -> None:
    wanted = {leaf for leaf in Definitions.leaves() if leaf.startswith("crimes.") or leaf == "timezone"}
    assert wanted == set(ALTERNATIVES)


@pytest.mark.parametrize("leaf", sorted(ALTERNATIVES))
def test_a_changed_definition_changes_the_figures_without_a_replay(
    settings: Settings, wh: Warehouse, read_from_defaults: dict[str, dict[str, Any]], leaf: str
) -> None:
    without_replay = read_from_defaults[leaf]
    assert without_replay != read_from_defaults["defaults"], f"{leaf} changes no figure"
    other = DEFAULTS.with_overrides([ALTERNATIVES[leaf]])
    fill(settings, wh, other)
    replayed = figures(wh, other)
    for name, value in without_replay.items():
        assert value == replayed[name], f"{leaf}: {name} read without a replay differs from a replay"


def test_the_figures_that_move(settings: Settings, wh: Warehouse) -> None:
    fill(settings, wh, DEFAULTS)
    jan, feb, mar, apr = (YearMonth(2024, m) for m in range(1, 5))

    def cells(*assignments: str) -> dict[str, Any]:
        return monthly_cells(wh, FORCE, FIRST, LAST, DEFAULTS.with_overrides(assignments))

    base = cells()
    assert base["crime_all"][feb].num == 3 and base["crime_all"][jan].num == 3
    occurred = cells("crimes.period_basis=occurred")
    assert (occurred["crime_all"][jan].num, occurred["crime_all"][feb].num) == (4, 2)
    utc = cells("timezone=UTC")
    assert mar not in base["crime_all"] and utc["crime_all"][mar].num == 1 and apr not in utc["crime_all"]
    # C2 was recorded 48 h after its report: late against 24 h, on time against 48 h.
    assert (
        base["crime_recorded_within_24h_rate"][jan].num,
        cells("crimes.ncrs_hours=48")["crime_recorded_within_24h_rate"][jan].num,
    ) == (1, 2)
    # Feb: C1 type 1, C5 type 8, C6 type 2 are PP by default (3); with [1, 2, 18]: C1, C6, C9 (18), C2 (18).
    # February's rural crime is I7, the hare-coursing incident (C4, the rural crime, is January's).
    assert (base["crime_rural"][jan].num, base["crime_rural"][feb].num) == (1, 1)
    assert cells("crimes.rural_incident_categories=[]")["crime_rural"][feb].num == 0
    lineage = crime_contributions(wh, FORCE, FIRST, LAST, DEFAULTS)["crime_rural"]
    assert {m: month_cell(lineage.get(m, []), "count") for m in base["crime_rural"]} == base["crime_rural"]
    assert [c.entity for c in lineage[feb]] == ["I7"]
    assert (
        base["outcome_rate_all"][feb].num,
        cells("crimes.prosecution_possible_types=[1,2,18]")["outcome_rate_all"][feb].num,
    ) == (3, 4)


def test_analyst_views_apply_the_active_definitions(settings: Settings, wh: Warehouse) -> None:
    fill(settings, wh, DEFAULTS)
    wh.command("TRUNCATE TABLE applied_definitions")
    row = wh.query("SELECT * EXCEPT definition_hash FROM crime_definitions_active").dicts()
    assert len(row) == 1
    defaults = crimes_sql.params(DEFAULTS)
    assert row[0] == {
        "timezone": defaults["d_tz"],
        "period_basis": defaults["d_period_basis"],
        "ncrs_hours": defaults["d_ncrs_hours"],
        "prosecution_possible_types": defaults["d_pp"],
        "outcome_rate_basis": defaults["d_outcome_rate_basis"],
        "qa_snapshot_time": defaults["d_qa_snapshot"],
    }, "the views' defaults before a worker ran are not schemas/definitions.py's"
    for active in (
        DEFAULTS,
        DEFAULTS.with_overrides(
            [
                "timezone=UTC",
                "crimes.period_basis=occurred",
                "crimes.ncrs_hours=48",
                "crimes.prosecution_possible_types=[1,2,18]",
                "crimes.outcome_rate_basis=cohort",
                "crimes.qa_snapshot_time=09:00",
            ]
        ),
    ):
        record_active(wh, active)
        cells = monthly_cells(wh, FORCE, FIRST, LAST, active)

        def view(sql: str) -> dict[YearMonth, tuple[Any, ...]]:
            return {YearMonth(m.year, m.month): tuple(rest) for m, *rest in wh.query(sql).rows}

        crimes = view("SELECT month, sum(crimes) FROM crime_monthly WHERE segment = 'all' GROUP BY month")
        assert crimes == {m: (c.num,) for m, c in cells["crime_all"].items()}
        ncrs = view("SELECT month, within_ncrs_hours, with_report_time FROM crime_ncrs_monthly")
        assert ncrs == {m: (c.num, c.den) for m, c in cells["crime_recorded_within_24h_rate"].items()}
        rates = view(
            "SELECT month, if(outcome_rate_basis = 'cohort', cohort_pp_outcomes, pp_outcomes_assigned), "
            "recorded_crimes FROM crime_outcome_rates_monthly WHERE segment = 'all'"
        )
        assert rates == {m: (c.num, c.den) for m, c in cells["outcome_rate_all"].items()}
        disposals = view("SELECT month, community_resolutions FROM crime_disposals_monthly")
        resolutions = {m: (c.num,) for m, c in cells["community_resolutions"].items() if c.num}
        assert {m: v for m, v in disposals.items() if v[0]} == resolutions
        days = {d["day"]: d["depth"] for d in qa_queue_daily(wh, FORCE, t("2024-04-30 23:59"), active)}
        viewed = dict(
            wh.query(
                "SELECT day, depth FROM qa_queue_daily WHERE force_id = 'cambs' AND day <= '2024-04-29'"
            ).rows
        )
        assert viewed == {d: n for d, n in days.items() if d <= date(2024, 4, 29)}


QA_COLUMNS = ["force_id", "crime_id", "queue", "entry_source", "entry_id", "entered_at", "exited_at"]
QA_COLUMNS += ["duplicate_entry", "version"]


def test_live_qa_today_is_the_local_day_of_the_timezone(wh: Warehouse) -> None:
    wh.insert(
        "qa_queue_intervals",
        [[FORCE, "C1", "qa_linking", "athena", "e1", t("2024-06-10 23:30"), None, False, 1]],
        QA_COLUMNS,
    )
    now = t("2024-06-11 00:30")  # 01:30 BST: the entry at 00:30 BST came in today in London
    london = live_qa_queue(wh, FORCE, now, DEFAULTS)
    utc = live_qa_queue(wh, FORCE, now, DEFAULTS.with_overrides(["timezone=UTC"]))
    assert (london["depth"], london["inflow"]) == (1, 1)
    assert (utc["depth"], utc["inflow"]) == (1, 0)  # yesterday in UTC
