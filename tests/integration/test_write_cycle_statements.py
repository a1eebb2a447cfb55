"""How many statements a small write cycle sends to the warehouse: at a few events per fetch a
cycle costs per statement, not per event (BENCHMARKS.md, freshness)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from demandhub.settings import Settings
from schemas.topics import topic_for_type
from sinks.clickhouse import rollups
from sinks.clickhouse.client import Warehouse, connect
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.conftest import TEST_KEY
from tests.integration.test_pipeline_idempotence import call
from tests.integration.test_rollups_lazy import incident

pytestmark = pytest.mark.integration


class Recording(Warehouse):
    """Records every statement: ("query" | "command", first words) or ("insert", table)."""

    def __init__(self, inner: Warehouse) -> None:
        self.__dict__.update(inner.__dict__)
        self.statements: list[tuple[str, str]] = []

    def query(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(("query", " ".join(sql.split())))
        return super().query(sql, *args, **kwargs)

    def command(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(("command", " ".join(sql.split()[:3])))
        return super().command(sql, *args, **kwargs)

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        if rows:
            self.statements.append(("insert", table))
        super().insert(table, rows, columns, settings)


def messages(events: list[dict[str, Any]], first: int = 0) -> list[RawMessage]:
    return [
        RawMessage(topic_for_type(e["type"]).name, 0, first + i, json.dumps(e).encode())
        for i, e in enumerate(events)
    ]


def lazy(settings: Settings, wh: Warehouse) -> Pipeline:
    return Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers(), lazy_rollups=True)


@pytest.fixture
def refreshing(wh: Warehouse, settings: Settings) -> Iterator[rollups.Refresher]:
    """This process's refresher on a handle of its own (the worker's), holding the lease."""
    handle = connect(wh.dsn)
    refresher = rollups.Refresher(handle, rollups.all_rollups(), definitions=settings.definitions)
    refresher.refresh()
    rollups.register(refresher)
    yield refresher
    rollups.unregister(refresher)
    refresher.release()
    handle.close()


def test_a_cycle_of_one_cached_event_reads_nothing_and_writes_each_table_once(
    wh: Warehouse, settings: Settings, refreshing: rollups.Refresher
) -> None:
    recording = Recording(wh)
    pipeline = lazy(settings, recording)
    events = call("A")
    pipeline.process(messages(events[:1]))
    pipeline.process(messages(events[1:2], first=1))  # (each fact table's identity is read once)
    recording.statements.clear()
    pipeline.process(messages(events[2:3], first=2))  # its subject's history is cached
    kinds = [kind for kind, _ in recording.statements]
    tables = [what for kind, what in recording.statements if kind == "insert"]
    assert kinds == ["insert"] * len(tables)  # no history read, no DESCRIBE, no delete
    assert len(tables) == len(set(tables))  # the dirty-bucket log at most once, each fact table once
    # the log before the facts, when written at all (buckets an earlier cycle logged and no refresh
    # has read yet are not logged again); the ledger last
    assert "rollup_dirty" not in tables[1:] and tables[-1] == "events"


def test_histories_of_several_entities_are_read_in_one_statement(wh: Warehouse, settings: Settings) -> None:
    shared = "REF-2025-000123"
    lazy(settings, wh).process(messages([*call(shared)[:2], incident("I-1", "2025-02-03T10:05:00Z")]))
    recording = Recording(wh)
    later = {**incident("I-1", "2025-02-03T10:05:00Z"), "id": "I-1-1", "type": "incident.graded.v1"}
    later["data"] = {"grade": "PRIORITY"}
    report = lazy(settings, recording).process(messages([*call(shared)[2:], later]))  # a restart
    reads = [what for kind, what in recording.statements if kind == "query" and " FROM events WHERE " in what]
    assert len(reads) == 1
    assert report.accepted == 3 and report.duplicates == 0 and report.quarantined == []
    assert wh.query("SELECT first_grade FROM incidents FINAL WHERE incident_id = 'I-1'").rows == [
        ("PRIORITY",)
    ]


def test_a_refresh_reads_the_log_once_and_an_idle_one_does_nothing_else(
    wh: Warehouse, settings: Settings
) -> None:
    handle = connect(wh.dsn)
    recording = Recording(handle)
    refresher = rollups.Refresher(recording, rollups.all_rollups(), definitions=settings.definitions)
    try:
        refresher.refresh()  # adopts the definitions and takes the lease
        lazy(settings, wh).process(messages(call("A")))
        recording.statements.clear()
        assert refresher.refresh() > 0
        reads = [
            what for kind, what in recording.statements if f"FROM {rollups.DIRTY_TABLE} GROUP BY" in what
        ]
        assert len(reads) == 1
        recording.statements.clear()
        assert refresher.refresh() == 0  # nothing logged
        assert [kind for kind, _ in recording.statements] == ["query"]
    finally:
        refresher.release()
        handle.close()
