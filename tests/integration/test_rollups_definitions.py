"""Rollups are caches keyed by the definitions they were computed under (sinks/clickhouse/rollups.py).

A writer adopts its definitions: a rollup recorded under other definitions is recomputed and the old
rows go; logged buckets are refreshed under the recorded definitions whoever refreshes them; a reader
whose definitions differ from the recorded ones is told to compute from the facts instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from demandhub.settings import Settings
from schemas.definitions import Definitions
from schemas.topics import topic_for_type
from sinks.clickhouse import rollups
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.conftest import TEST_KEY
from tests.integration.test_pipeline_idempotence import call
from tests.integration.test_rollups_lazy import incident

pytestmark = pytest.mark.integration

STRICTER = Definitions().with_overrides(["calls.service_threshold_seconds.999=5"])


def messages(events: list[dict[str, Any]]) -> list[RawMessage]:
    return [
        RawMessage(topic_for_type(e["type"]).name, 0, i, json.dumps(e).encode()) for i, e in enumerate(events)
    ]


def write(settings: Settings, wh: Warehouse, events: list[dict[str, Any]]) -> None:
    pipeline = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers(), lazy_rollups=True)
    pipeline.process(messages(events))


def hashes(wh: Warehouse, table: str) -> set[str]:
    return {str(h) for (h,) in wh.query(f"SELECT DISTINCT definition_hash FROM {table} FINAL").rows}


def versions(wh: Warehouse, table: str) -> set[int]:
    return {int(v) for (v,) in wh.query(f"SELECT DISTINCT version FROM {table}").rows}


EVENTS = [*call("A"), *call("B", 30), incident("I-1", "2025-02-03T10:05:00Z")]


def test_a_writer_adopts_its_definitions_and_only_the_rollups_they_change_are_recomputed(
    wh: Warehouse, settings: Settings
) -> None:
    write(settings, wh, EVENTS)
    defaults = Definitions()
    assert rollups.adopt(wh, rollups.all_rollups(), defaults) > 0
    assert hashes(wh, "contact_queue_15m") == {defaults.group_hash("calls")}
    assert hashes(wh, "incidents_hourly") == {defaults.group_hash("incidents")}
    assert rollups.reads_rollup(wh, "contact_queue_15m", defaults)
    assert not rollups.reads_rollup(wh, "contact_queue_15m", STRICTER)
    assert rollups.adopt(wh, rollups.all_rollups(), defaults) == 0  # nothing to do
    incident_versions = versions(wh, "incidents_hourly")

    assert rollups.adopt(wh, rollups.all_rollups(), STRICTER) > 0
    for table in ("contact_queue_15m", "contact_channel_15m"):
        assert hashes(wh, table) == {STRICTER.group_hash("calls")}  # the old rows are gone
        assert rollups.reads_rollup(wh, table, STRICTER)
        assert not rollups.reads_rollup(wh, table, defaults)
    assert versions(wh, "incidents_hourly") == incident_versions  # the incident definitions did not move
    assert rollups.reads_rollup(wh, "incidents_hourly", STRICTER)
    active = rollups.applied(wh, rollups.ACTIVE)
    assert active is not None and active == (STRICTER.config_hash(), STRICTER)
    view = wh.query("SELECT definition_hash, definition_id FROM applied_definitions_active").rows
    assert view == [(STRICTER.config_hash(), "demandhub-default")]


def test_logged_buckets_are_refreshed_under_the_recorded_definitions_by_any_refresher(
    wh: Warehouse, settings: Settings
) -> None:
    rollups.adopt(wh, rollups.all_rollups(), STRICTER)
    write(settings, wh, EVENTS)  # logs buckets; nothing refreshed yet
    reader_side = rollups.Refresher(wh, rollups.all_rollups())  # no definitions of its own
    assert reader_side.refresh() > 0
    reader_side.release()
    assert hashes(wh, "contact_queue_15m") == {STRICTER.group_hash("calls")}
    assert rollups.reads_rollup(wh, "contact_queue_15m", STRICTER)
    assert int(wh.query("SELECT count() FROM rollup_dirty").rows[0][0]) == 0


def test_buckets_of_a_rollup_never_adopted_are_dropped_and_readers_use_the_facts(
    wh: Warehouse, settings: Settings
) -> None:
    write(settings, wh, EVENTS)
    assert int(wh.query("SELECT count() FROM rollup_dirty").rows[0][0]) > 0
    reader_side = rollups.Refresher(wh, rollups.all_rollups())
    assert reader_side.refresh() == 0
    reader_side.release()
    assert int(wh.query("SELECT count() FROM rollup_dirty").rows[0][0]) == 0
    assert not rollups.reads_rollup(wh, "contact_queue_15m", Definitions())
    assert hashes(wh, "contact_queue_15m") == set()


def test_a_replay_adopts_the_definitions_of_its_settings(wh: Warehouse, tmp_path: Any) -> None:
    stricter = Settings(data_dir=tmp_path, force_id="cambs", definitions=STRICTER)
    pipeline = Pipeline(stricter, wh, registry.folds(), TEST_KEY, registry.refreshers(), lazy_rollups=True)
    pipeline.process(messages(EVENTS))
    pipeline.refresh_rollups()
    assert rollups.reads_rollup(wh, "contact_channel_15m", STRICTER)
    assert rollups.reads_rollup(wh, "incidents_hourly", STRICTER)
    assert int(wh.query("SELECT count() FROM rollup_dirty").rows[0][0]) == 0


def test_a_contact_offer_after_its_incident_refreshes_the_incident_hour_under_the_offer_clock(
    wh: Warehouse, tmp_path: Any
) -> None:
    from demandhub.board.maths.months import YearMonth
    from demandhub.queries.incidents import monthly_cells
    from tests.integration.test_incidents_definitions import LINKED, NOW, load

    offered = Definitions().with_overrides(["incidents.response_clock=contact_offered"])
    worker = Settings(data_dir=tmp_path, force_id="cambs", definitions=offered)
    rollups.adopt(wh, rollups.all_rollups(), offered)
    incidents_first = [e for e in LINKED if e.subject.startswith("X")]
    contacts_later = [e for e in LINKED if not e.subject.startswith("X")]
    load(worker, wh, incidents_first)  # refreshed: no linked offer yet, the clock starts at creation
    load(worker, wh, contacts_later)  # only contact facts change
    assert rollups.reads_rollup(wh, "incidents_hourly", offered)
    march = YearMonth(2024, 3)
    from_rollup = monthly_cells(wh, "cambs", march, march, offered, now=NOW)
    # the same definitions but another hash (amber_share does not enter the monthly cells): read
    # from the facts, bypassing the rollup
    bypass = monthly_cells(
        wh, "cambs", march, march, offered.with_overrides(["incidents.amber_share=0.5"]), now=NOW
    )
    assert from_rollup["immediate_time_to_respond_mins"][march].num == 16 + 30  # from the offers
    assert from_rollup == bypass


def mutations(wh: Warehouse, table: str) -> int:
    return int(
        wh.query(
            "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = {t:String}",
            parameters={"t": table},
        ).rows[0][0]
    )


def test_rows_of_other_definitions_are_deleted_only_when_there_are_some(
    wh: Warehouse, settings: Settings
) -> None:
    write(settings, wh, EVENTS)
    defaults = Definitions()
    rollups.adopt(wh, rollups.all_rollups(), defaults)
    table, wanted = "contact_queue_15m", defaults.group_hash("calls")
    before = mutations(wh, table)
    # Every row is under the wanted hash: no delete is issued (it would go through every part).
    assert not rollups.drop_other_definitions(wh, table, wanted)
    assert mutations(wh, table) == before
    assert hashes(wh, table) == {wanted}
    # Under another hash every row is another definition's: they are deleted.
    assert rollups.drop_other_definitions(wh, table, STRICTER.group_hash("calls"))
    assert mutations(wh, table) == before + 1
    assert hashes(wh, table) == set()


def rollup_rows(wh: Warehouse) -> dict[str, list[str]]:
    out = {}
    for table in ("contact_queue_15m", "contact_channel_15m", "incidents_hourly"):
        kinds = wh.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
            "AND name != 'version' ORDER BY position",
            parameters={"t": table},
        ).rows
        columns = ", ".join(
            f"finalizeAggregation(`{name}`)" if str(kind).startswith("AggregateFunction") else f"`{name}`"
            for name, kind in kinds
        )
        rows = wh.query(f"SELECT {columns} FROM {table} FINAL WHERE is_deleted = 0").rows
        out[table] = sorted(map(repr, rows))
    return out


def test_buckets_of_rollups_no_reader_uses_need_no_log(wh: Warehouse, settings: Settings) -> None:
    """A sole writer (a replay) need not log the buckets of a rollup recorded under no definitions,
    unless a recorded rollup follows it: the first refresher adopts it whole, from the facts, and
    its rows equal those of refreshing every logged bucket."""
    every = {r.table for r in rollups.all_rollups()}
    assert rollups.needless_logs(wh, rollups.all_rollups()) == every
    write(settings, wh, EVENTS)
    defaults = Definitions()
    rollups.refresh_pending(wh, rollups.all_rollups(), definitions=defaults)
    logged = rollup_rows(wh)
    assert logged["contact_queue_15m"] and logged["incidents_hourly"]
    assert rollups.needless_logs(wh, rollups.all_rollups()) == set()

    # The same facts, the rollups never adopted and nothing logged (a replay interrupted before its
    # refresh): the worker's refresher adopts them.
    for table in (*every, "rollup_dirty", "applied_definitions"):
        wh.command(f"TRUNCATE TABLE {table}")
    assert not any(rollup_rows(wh).values())
    rollups.refresh_pending(wh, rollups.all_rollups(), definitions=defaults)
    assert rollup_rows(wh) == logged

    # Only the incident rollup recorded: it follows the contact channels, whose log it reads.
    for table in (*every, "applied_definitions"):
        wh.command(f"TRUNCATE TABLE {table}")
    incidents = next(r for r in rollups.all_rollups() if r.table == "incidents_hourly")
    rollups.record_applied(wh, "incidents_hourly", incidents.definition_hash(defaults), defaults)
    assert rollups.needless_logs(wh, rollups.all_rollups()) == {"contact_queue_15m"}
