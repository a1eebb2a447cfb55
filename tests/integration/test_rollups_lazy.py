"""Lazy rollup refresh: buckets logged before the facts, refreshed later by one owner, never lost.

A lazy pipeline (the worker's and replay's) only logs the rollup buckets a batch touches; the
refresher recomputes them. These tests crash between the writes, restart, and read the rollups
through the readers: every figure equals a recompute from the facts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest

from demandhub.board.maths.months import YearMonth
from demandhub.queries import contacts as contact_queries
from demandhub.queries import incidents as incident_queries
from demandhub.settings import Settings
from schemas.topics import topic_for_type
from sinks.clickhouse import rollups
from sinks.clickhouse.client import Warehouse, WarehouseUnavailable, connect
from sinks.clickhouse.rollups_contacts import ROLLUPS, recompute_rows, stored_rows
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.conftest import TEST_KEY
from tests.integration.test_pipeline_idempotence import FailOnce, call

pytestmark = pytest.mark.integration

EVERYTHING = "force_id = {f:String}"


def messages(events: list[dict[str, Any]]) -> list[RawMessage]:
    return [
        RawMessage(topic_for_type(e["type"]).name, 0, i, json.dumps(e).encode()) for i, e in enumerate(events)
    ]


def lazy(settings: Settings, wh: Warehouse) -> Pipeline:
    return Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers(), lazy_rollups=True)


def recomputed(wh: Warehouse) -> list[list[dict[str, Any]]]:
    return [sorted(recompute_rows(wh, r, EVERYTHING, {"f": "cambs"}), key=str) for r in ROLLUPS]


def stored(wh: Warehouse) -> list[list[dict[str, Any]]]:
    return [sorted(stored_rows(wh, r, EVERYTHING, {"f": "cambs"}), key=str) for r in ROLLUPS]


def logged(wh: Warehouse) -> int:
    return int(wh.query("SELECT count() FROM rollup_dirty").rows[0][0])


@pytest.fixture
def restart(wh: Warehouse) -> Iterator[Warehouse]:
    """A second writer handle on the same warehouse, as a restarted process opens it."""
    again = connect(wh.dsn)
    yield again
    again.close()


def test_a_lazy_batch_logs_its_buckets_and_leaves_the_rollups_alone(
    wh: Warehouse, settings: Settings
) -> None:
    lazy(settings, wh).process(messages(call("A") + call("B", 30)))
    assert logged(wh) > 0
    assert stored(wh) == [[], []]  # not refreshed per batch
    assert recomputed(wh) != [[], []]


def test_a_bucket_logged_before_a_crash_is_refreshed_after_restart(
    wh: Warehouse, restart: Warehouse, settings: Settings
) -> None:
    # The batch is durable (ledger written), the process dies before its refresher ran.
    lazy(settings, wh).process(messages(call("A") + call("B", 30)))
    # Restart: the redelivered batch is all duplicates, so nothing new is logged ...
    again = lazy(settings, restart)
    report = again.process(messages(call("A") + call("B", 30)))
    assert report.accepted == 0
    # ... and the restarted refresher finds the buckets the dead process logged.
    refresher = rollups.Refresher(restart, again.rollups, definitions=settings.definitions)
    assert refresher.refresh() > 0
    assert stored(wh) == recomputed(wh) != [[], []]
    assert logged(wh) == 0


@pytest.mark.parametrize("failing_table", ["contact_legs", "contacts", "events"])
def test_a_crash_between_the_log_and_the_ledger_loses_no_refresh(
    wh: Warehouse, restart: Warehouse, settings: Settings, failing_table: str
) -> None:
    flaky = FailOnce(wh, failing_table)
    with pytest.raises(WarehouseUnavailable):
        lazy(settings, flaky).process(messages(call("A") + call("B", 30)))
    assert logged(wh) > 0  # written first
    # The restarted refresher runs before the batch is redelivered, then again after it.
    refresher = rollups.Refresher(restart, rollups.all_rollups(), definitions=settings.definitions)
    refresher.refresh()
    assert stored(wh) == recomputed(wh)
    lazy(settings, restart).process(messages(call("A") + call("B", 30)))
    refresher.refresh()
    assert stored(wh) == recomputed(wh) != [[], []]


def test_readers_refresh_pending_buckets_before_reading(wh: Warehouse, settings: Settings) -> None:
    rollups.adopt(wh, rollups.all_rollups(), settings.definitions)  # as the worker does at start
    events = call("A") + call("B", 30) + [incident("I-1", "2025-02-03T10:05:00Z")]
    lazy(settings, wh).process(messages(events))
    assert stored(wh) == [[], []]
    month = YearMonth(2025, 2)
    cells = contact_queries.monthly_cells(wh, "cambs", month, month, settings.definitions)
    assert cells["calls_999_answered_within_10s"][month].den == 2
    assert stored(wh) == recomputed(wh)
    assert contact_queries.reconcile_day(wh, "cambs", date(2025, 2, 3), settings.definitions) == []
    # A later batch moves the figures; the reader sees them without anyone refreshing first.
    lazy(settings, wh).process(messages([*call("C", 50), incident("I-2", "2025-02-03T11:05:00Z")]))
    assert logged(wh) > 0
    cells = contact_queries.monthly_cells(wh, "cambs", month, month, settings.definitions)
    assert cells["calls_999_answered_within_10s"][month].den == 3
    incident_cells = incident_queries.monthly_cells(wh, "cambs", month, month, settings.definitions)
    assert incident_cells["incidents_total"][month].num == 2
    assert logged(wh) == 0
    assert stored(wh) == recomputed(wh)


def test_readers_on_a_read_handle_refresh_without_the_writer_lock(wh: Warehouse, settings: Settings) -> None:
    rollups.adopt(wh, rollups.all_rollups(), settings.definitions)
    lazy(settings, wh).process(messages(call("A")))
    reader = wh.open_reader("board")
    try:
        with wh.exclusive():  # the writer is busy for as long as the reader runs
            done = threading.Event()

            def read() -> None:
                month = YearMonth(2025, 2)
                contact_queries.monthly_cells(reader, "cambs", month, month, settings.definitions)
                done.set()

            thread = threading.Thread(target=read)
            thread.start()
            assert done.wait(60), "the reader waited for the writer lock"
            thread.join()
    finally:
        reader.close()
    assert stored(wh) == recomputed(wh) != [[], []]


def test_one_refresher_at_a_time_and_the_next_takes_over(
    wh: Warehouse, restart: Warehouse, settings: Settings
) -> None:
    first = rollups.Refresher(wh, rollups.all_rollups(), holder="first", definitions=settings.definitions)
    second = rollups.Refresher(
        restart, rollups.all_rollups(), holder="second", definitions=settings.definitions
    )
    lazy(settings, wh).process(messages(call("A")))
    assert first.refresh() > 0
    lazy(settings, wh).process(messages(call("B", 30)))
    assert second.refresh() == 0  # the first holds the lease
    assert logged(wh) > 0
    first.release()  # a stopping worker gives it up
    assert second.refresh() > 0
    assert first.refresh() == 0
    assert stored(wh) == recomputed(wh)


def test_several_pipelines_write_one_warehouse_and_the_rollups_stay_exact(
    wh: Warehouse, settings: Settings
) -> None:
    handles = [connect(wh.dsn) for _ in range(3)]
    try:
        batches: list[Sequence[RawMessage]] = [
            messages(call("A") + call("D", 40)),
            messages(call("B", 30) + call("E", 20)),
            messages(call("C", 50) + call("F", 10)),
        ]
        workers = [
            threading.Thread(target=lazy(settings, h).process, args=(b,))
            for h, b in zip(handles, batches, strict=True)
        ]
        refreshers = [
            rollups.Refresher(h, rollups.all_rollups(), definitions=settings.definitions)
            for h in handles
            for _ in range(2)
        ]
        looping = threading.Event()

        def refresh_until_stopped(r: rollups.Refresher) -> None:
            while not looping.is_set():
                r.refresh()

        loops = [threading.Thread(target=refresh_until_stopped, args=(r,)) for r in refreshers]
        for t in [*workers, *loops]:
            t.start()
        for t in workers:
            t.join()
        looping.set()
        for t in loops:
            t.join()
        for r in refreshers:
            r.release()
    finally:
        for h in handles:
            h.close()
    assert contact_queries.reconcile_day(wh, "cambs", date(2025, 2, 3), settings.definitions) == []
    assert stored(wh) == recomputed(wh) != [[], []]
    assert int(wh.query("SELECT count() FROM contact_legs FINAL").rows[0][0]) == 6


def incident(subject: str, at: str) -> dict[str, Any]:
    return {
        "id": f"{subject}-0",
        "source": "cad",
        "type": "incident.created.v1",
        "force_id": "cambs",
        "subject": subject,
        "time": at,
        "data": {
            "channel": "999",
            "opening_category": "ASB_NUISANCE",
            "location": {"district": "Fenland", "urban_rural": "rural"},
        },
    }


class RefreshBefore(Warehouse):
    """Runs another process's refresher just before the facts of ``table`` are written: the dirty
    log of the batch is in, its facts are not yet (a refresh racing a write cycle)."""

    def __init__(self, inner: Warehouse, table: str, refresher: rollups.Refresher) -> None:
        self.__dict__.update(inner.__dict__)
        self.race_table: str | None = table
        self.refresher = refresher
        self.refreshed = 0

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        if table == self.race_table and rows:
            self.race_table = None
            self.refreshed = self.refresher.refresh()
        super().insert(table, rows, columns, settings)


@pytest.mark.parametrize("table", ["contact_legs", "contacts", "incidents"])
def test_a_refresh_racing_a_write_cycle_leaves_the_buckets_logged(
    wh: Warehouse, restart: Warehouse, settings: Settings, table: str
) -> None:
    other = rollups.Refresher(restart, rollups.all_rollups(), definitions=settings.definitions)
    other.refresh()  # adopted, holds the lease
    racing = RefreshBefore(wh, table, other)
    events = call("A") + call("B", 30) + [incident("I-1", "2025-02-03T10:05:00Z")]
    lazy(settings, racing).process(messages(events))
    assert racing.refreshed > 0  # the refresh ran between the dirty log and the facts
    assert logged(wh) > 0  # ... and the buckets are still logged for the next one
    other.refresh()
    other.release()
    assert stored(wh) == recomputed(wh) != [[], []]
    month = YearMonth(2025, 2)
    assert (
        incident_queries.monthly_cells(wh, "cambs", month, month, settings.definitions)["incidents_total"][
            month
        ].num
        == 1
    )


class CountInserts(Warehouse):
    """Counts the inserts per table, optionally running this process's refresher just before the
    facts of ``race_table`` are written (a refresh racing a write cycle)."""

    def __init__(self, inner: Warehouse, race: tuple[str, rollups.Refresher] | None = None) -> None:
        self.__dict__.update(inner.__dict__)
        self.race = race
        self.inserts: dict[str, int] = {}

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        if rows:
            self.inserts[table] = self.inserts.get(table, 0) + 1
        if self.race is not None and table == self.race[0] and rows:
            self.race[1].refresh()
            self.race = None
        super().insert(table, rows, columns, settings)


@pytest.fixture
def registered(restart: Warehouse, settings: Settings) -> Iterator[rollups.Refresher]:
    """This process's refresher (the worker's), holding the lease."""
    refresher = rollups.Refresher(restart, rollups.all_rollups(), definitions=settings.definitions)
    refresher.refresh()  # adopted, holds the lease
    rollups.register(refresher)
    yield refresher
    rollups.unregister(refresher)
    refresher.release()


def test_a_write_cycle_logs_its_buckets_once_while_this_process_refreshes_alone(
    wh: Warehouse, registered: rollups.Refresher, settings: Settings
) -> None:
    counting = CountInserts(wh)
    pipeline = lazy(settings, counting)
    pipeline.process(messages(call("A")[:1]))
    assert counting.inserts["rollup_dirty"] == 1  # before the facts only
    registered.refresh()
    assert logged(wh) == 0
    pipeline.process(messages(call("A")[1:2]))  # one cached event; a refresh began since
    assert counting.inserts["rollup_dirty"] == 2
    registered.refresh()
    assert logged(wh) == 0
    assert stored(wh) == recomputed(wh) != [[], []]


def test_a_bucket_logged_and_not_yet_read_by_a_refresh_is_not_logged_again(
    wh: Warehouse, registered: rollups.Refresher, settings: Settings
) -> None:
    counting = CountInserts(wh)
    pipeline = lazy(settings, counting)
    events = call("A")
    pipeline.process(messages(events[:2]))
    assert counting.inserts["rollup_dirty"] == 1
    entries = logged(wh)
    pipeline.process(messages(events[2:3]))  # the same buckets: their entries are still in the log
    assert counting.inserts["rollup_dirty"] == 1
    assert logged(wh) == entries
    registered.refresh()  # reads those entries: the next cycle logs its buckets again
    pipeline.process(messages(events[3:]))
    assert counting.inserts["rollup_dirty"] == 2
    registered.refresh()
    assert logged(wh) == 0
    assert stored(wh) == recomputed(wh) != [[], []]


@pytest.mark.parametrize("table", ["contact_legs", "contacts"])
def test_a_refresh_racing_a_cycle_that_logged_nothing_before_its_facts_leaves_the_buckets_logged(
    wh: Warehouse, registered: rollups.Refresher, settings: Settings, table: str
) -> None:
    # The second cycle's buckets were logged by the first, so it logs nothing before its facts; a
    # refresh that reads those entries and recomputes from the facts before the second cycle's are
    # in must not be the last: the cycle logs its buckets once its facts are in.
    counting = CountInserts(wh)
    pipeline = lazy(settings, counting)
    events = call("A")
    pipeline.process(messages(events[:2]))
    counting.race = (table, registered)
    pipeline.process(messages(events[2:3]))
    assert counting.race is None  # the refresh ran just before the facts of ``table``
    assert counting.inserts["rollup_dirty"] == 2  # after the facts, not before
    assert logged(wh) > 0
    registered.refresh()
    assert stored(wh) == recomputed(wh) != [[], []]


def test_a_write_cycle_logs_its_buckets_twice_once_the_lease_is_given_up(
    wh: Warehouse, registered: rollups.Refresher, settings: Settings
) -> None:
    registered.release()  # another process may take the lease and refresh at any time
    counting = CountInserts(wh)
    lazy(settings, counting).process(messages(call("A")[:1]))
    assert counting.inserts["rollup_dirty"] == 2


@pytest.mark.parametrize("table", ["contact_legs", "contacts", "incidents"])
def test_a_refresh_of_this_process_racing_a_write_cycle_leaves_the_buckets_logged(
    wh: Warehouse, registered: rollups.Refresher, settings: Settings, table: str
) -> None:
    counting = CountInserts(wh, race=(table, registered))
    events = call("A") + call("B", 30) + [incident("I-1", "2025-02-03T10:05:00Z")]
    lazy(settings, counting).process(messages(events))
    assert counting.race is None  # the refresh ran between the dirty log and the facts
    assert logged(wh) > 0  # ... and the buckets are still logged for the next one
    assert counting.inserts["rollup_dirty"] == 2
    registered.refresh()
    assert stored(wh) == recomputed(wh) != [[], []]


def test_the_worker_refresh_samples_the_engine_memory_when_asked(settings: Settings, wh: Warehouse) -> None:
    from sinks.prometheus import metrics as m
    from streams.app import _refresh

    gauge = m.WORKER_NATIVE_HEAP_BYTES.labels("engine_tracked")
    gauge.set(-1)
    refresher = rollups.Refresher(wh, rollups.all_rollups(), definitions=settings.definitions)
    _refresh(refresher, sample_engine_memory=False)
    assert gauge._value.get() == -1
    _refresh(refresher, sample_engine_memory=True)
    tracked = int(wh.query("SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'").rows[0][0])
    assert 0 < gauge._value.get() <= 4 * tracked
    allocated = m.WORKER_NATIVE_HEAP_BYTES.labels("engine_allocated")._value.get()
    resident = m.WORKER_NATIVE_HEAP_BYTES.labels("engine_resident")._value.get()
    assert 0 < allocated <= resident  # the embedded engine's jemalloc totals
    cached = m.WORKER_NATIVE_HEAP_BYTES.labels("engine_thread_cached")._value.get()
    assert 0 < cached < allocated  # its threads' caches, a part of what it counts as handed out
    active = m.WORKER_NATIVE_HEAP_BYTES.labels("engine_active")._value.get()
    metadata = m.WORKER_NATIVE_HEAP_BYTES.labels("engine_metadata")._value.get()
    dirty = m.WORKER_NATIVE_HEAP_BYTES.labels("engine_dirty")._value.get()
    assert allocated <= active < resident and 0 < metadata < resident and 0 <= dirty < resident


def test_the_replays_rebuild_runs_its_month_ranges_on_the_handles_it_is_given(
    wh: Warehouse, restart: Warehouse, settings: Settings
) -> None:
    pipeline = lazy(settings, wh)
    pipeline.process(messages(call("A") + call("B", 30) + [incident("I-1", "2025-02-03T10:05:00Z")]))
    ran: list[str] = []

    def submit(statements: Any) -> Future[None]:
        def on_the_other_handle() -> None:
            ran.append(threading.current_thread().name)
            statements(restart)

        return other.submit(on_the_other_handle)

    with ThreadPoolExecutor(1, thread_name_prefix="other-handle") as other, wh.exclusive():
        rollups.rebuild_logged_months(wh, pipeline.rollups, settings.definitions, True, submit)
    # one month range of each rollup, each run on the other handle's thread
    assert len(ran) == 3 and all(name.startswith("other-handle") for name in ran)
    assert stored(wh) == recomputed(wh) != [[], []]
    hours = "SELECT sum(incidents) FROM incidents_hourly FINAL WHERE NOT is_deleted"
    assert wh.query(hours).rows == [(1,)]
    assert logged(wh) == 0


def test_a_failed_range_of_the_rebuild_is_raised_before_any_rollup_is_recorded(
    wh: Warehouse, settings: Settings
) -> None:
    pipeline = lazy(settings, wh)
    pipeline.process(messages(call("A") + call("B", 30)))

    def failing(statements: Any) -> Future[None]:
        failed: Future[None] = Future()
        failed.set_exception(WarehouseUnavailable("the handle went away"))
        return failed

    with pytest.raises(WarehouseUnavailable), wh.exclusive():
        rollups.rebuild_logged_months(wh, pipeline.rollups, settings.definitions, True, failing)
    assert all(rollups.applied(wh, r.table) is None for r in pipeline.rollups)
    assert logged(wh) > 0  # still there for the next refresher
