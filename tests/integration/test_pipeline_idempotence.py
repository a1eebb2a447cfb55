"""At-least-once safety of the pipeline: replays, crashes between writes, and ledger reloads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse, WarehouseUnavailable
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.integration

CALLS = "demandhub.contacts.call.v1"


def call(subject: str, offset_s: int = 0) -> list[dict[str, Any]]:
    t = f"2025-02-03T10:{offset_s // 60:02d}:{offset_s % 60:02d}Z"
    steps = [
        ("call.offered.v1", {"channel": "999"}),
        ("call.queued.v1", {"queue": "999"}),
        ("call.answered.v1", {"queue": "999"}),
        ("call.ended.v1", {"disposition": "resolved"}),
    ]
    return [
        {
            "id": f"{subject}-{i}",
            "source": "telephony",
            "type": etype,
            "force_id": "cambs",
            "subject": subject,
            "time": t.replace("10:", f"1{i}:", 1),
            "data": data,
        }
        for i, (etype, data) in enumerate(steps)
    ]


def messages(events: list[dict[str, Any]]) -> list[RawMessage]:
    return [RawMessage(CALLS, 0, i, json.dumps(e).encode()) for i, e in enumerate(events)]


def facts(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.query("SELECT leg_id, outcome, wait_seconds FROM contact_legs FINAL ORDER BY leg_id").rows


def rollup(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.query(
        "SELECT queue, sum(entered), sum(answered), sum(answer_wait_sum) FROM contact_queue_15m FINAL "
        "GROUP BY queue ORDER BY queue"
    ).rows


class FailOnce(Warehouse):
    """Fails the first write into ``table``, by insert or INSERT ... SELECT (a crash between two
    writes of one batch)."""

    def __init__(self, inner: Warehouse, table: str) -> None:
        self.__dict__.update(inner.__dict__)
        self.fail_table: str | None = table

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        if table == self.fail_table and rows:
            self.fail_table = None
            raise WarehouseUnavailable("injected")
        super().insert(table, rows, columns, settings)

    def command(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> Any:
        if self.fail_table and f"INSERT INTO {self.fail_table}" in " ".join(sql.split()):
            self.fail_table = None
            raise WarehouseUnavailable("injected")
        return super().command(sql, parameters, settings)


def clean_run(wh: Warehouse, settings: Settings, events: list[dict[str, Any]]) -> tuple[Any, Any]:
    Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers()).process(messages(events))
    return facts(wh), rollup(wh)


def test_replaying_a_batch_changes_nothing(wh: Warehouse, settings: Settings) -> None:
    events = call("A") + call("B", 30)
    expected = clean_run(wh, settings, events)
    pipe = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    report = pipe.process(messages(events))
    assert report.accepted == 0 and report.duplicates == len(events)
    pipe.cache.clear()
    assert pipe.process(messages(events)).accepted == 0
    assert (facts(wh), rollup(wh)) == expected
    assert wh.query("SELECT count() FROM events FINAL").rows[0][0] == len(events)


@pytest.mark.parametrize("failing_table", ["contact_legs", "contact_queue_15m", "events"])
def test_a_batch_interrupted_between_writes_is_completed_on_redelivery(
    wh: Warehouse, settings: Settings, failing_table: str
) -> None:
    events = call("A") + call("B", 30)
    expected = clean_run(wh, settings, events)
    for (name,) in wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows:
        wh.command(f"TRUNCATE TABLE `{name}`")
    flaky = FailOnce(wh, failing_table)
    pipe = Pipeline(settings, flaky, registry.folds(), TEST_KEY, registry.refreshers())
    with pytest.raises(WarehouseUnavailable):
        pipe.process(messages(events))
    pipe.cache.clear()  # what the worker does after a failed batch (and what a restart does)
    pipe.process(messages(events))  # redelivery of the same batch
    assert (facts(wh), rollup(wh)) == expected


def test_history_is_reloaded_from_the_ledger(wh: Warehouse, settings: Settings) -> None:
    events = call("A")
    expected = clean_run(wh, settings, events)
    for (name,) in wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows:
        wh.command(f"TRUNCATE TABLE `{name}`")
    first = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    first.process(messages(events[:2]))
    second = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())  # a restart
    second.process(messages(list(reversed(events[2:]))))
    assert (facts(wh), rollup(wh)) == expected


def test_a_call_and_an_incident_sharing_an_id_keep_separate_histories(
    wh: Warehouse, settings: Settings
) -> None:
    shared = "REF-2025-000123"
    incident = [
        {
            "id": "i-1",
            "source": "cad",
            "type": "incident.created.v1",
            "force_id": "cambs",
            "subject": shared,
            "time": "2025-02-03T10:05:00Z",
            "data": {
                "channel": "999",
                "opening_category": "ASB_NUISANCE",
                "location": {"district": "Fenland", "urban_rural": "rural"},
            },
        },
        {
            "id": "i-2",
            "source": "cad",
            "type": "incident.graded.v1",
            "force_id": "cambs",
            "subject": shared,
            "time": "2025-02-03T10:06:00Z",
            "data": {"grade": "PRIORITY"},
        },
    ]
    calls = call(shared)
    first = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    incident_topic = "demandhub.incidents.incident.v1"
    first.process([*messages(calls[:2]), RawMessage(incident_topic, 0, 0, json.dumps(incident[0]).encode())])
    again = Pipeline(
        settings, wh, registry.folds(), TEST_KEY, registry.refreshers()
    )  # reload from the ledger
    report = again.process(
        [*messages(calls[2:]), RawMessage(incident_topic, 0, 1, json.dumps(incident[1]).encode())]
    )
    assert report.quarantined == [] and report.dead_letters == []
    assert [(leg, outcome) for leg, outcome, _ in facts(wh)] == [(f"{shared}/999", "answered")]
    assert wh.query(
        "SELECT first_grade, status FROM incidents FINAL WHERE incident_id = {i:String}",
        parameters={"i": shared},
    ).rows == [("PRIORITY", "open")]
