"""Readers never wait for the writer or for each other's long queries (real chDB, real worker).

One long analyst query used to hold the one warehouse lock: ingestion and the live page waited for
it. Here a long query runs (stopped by ``KILL QUERY`` in process, by the time limit in the worker)
while the pipeline writes, the live page reads and further analyst queries arrive; the tests assert
what finished while it was still running, never how long anything took.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sinks.clickhouse.client import (
    QueryResult,
    ReaderPool,
    ReadOnlyHandle,
    Warehouse,
    WarehouseBusy,
    WarehouseUnavailable,
)
from tests.fixtures.hub import HubWorker, wait_until
from tests.integration.test_web_api import (
    ANALYST,
    NOW,
    SUPERVISOR,
    Feed,
    call,
    make_settings,
    scene,
    serve,
    sql,
)
from tests.integration.test_worker_kafka import CALLS, call_events, force_id, produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# Runs until stopped: the in-process tests kill it, a worker's time limit stops it there.
ENDLESS = "SELECT count() FROM numbers(1000000000000) /* {marker} */"
# The same through the analyst guard (the hub's own tables only): an 8-way cross join of the ledger.
ENDLESS_ANALYST = (
    "SELECT count() FROM "
    + ", ".join(f"events AS t{i}" for i in range(8))
    + " WHERE "
    + " AND ".join(f"t{i}.id != t{i + 1}.id" for i in range(7))
)


@pytest.fixture
def probe(wh: Warehouse) -> Iterator[Warehouse]:
    """A read handle of the test's own, to look at system.processes and to kill queries."""
    handle = wh.open_reader("probe")
    yield handle
    handle.close()


def _query_ids(probe: Warehouse, marker: str) -> list[str]:
    rows = probe.query(
        "SELECT query_id FROM system.processes WHERE position(query, {m:String}) > 0 "
        "AND position(query, 'system.processes') = 0",
        parameters={"m": marker},
    ).rows
    return [str(r[0]) for r in rows]


@contextmanager
def endless_query(pool: ReaderPool, probe: Warehouse) -> Iterator[Future[QueryResult]]:
    """An analyst query on ``pool`` that is running (seen in system.processes) until the block ends,
    when it is killed and its end awaited."""
    marker = f"endless-{uuid.uuid4().hex}"
    future = pool.submit(ENDLESS.format(marker=marker), settings={"max_execution_time": 600})
    try:
        ids = wait_until(lambda: _query_ids(probe, marker), timeout=60, what="the long query to start")
        yield future
        assert _query_ids(probe, marker) == ids, "the long query ended before the checks did"
    finally:
        for query_id in _query_ids(probe, marker):
            probe.command(f"KILL QUERY WHERE query_id = '{query_id}' SYNC")
        with pytest.raises(Exception, match=r"(?i)cancelled"):
            future.result(timeout=120)


def _in_thread(fn: Callable[[], Any]) -> Any:
    """``fn()`` on another thread (a reader must not get in through the writer's re-entrant lock)."""
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        return executor.submit(fn).result(timeout=120)
    finally:
        executor.shutdown(wait=False)  # a thread stuck on the writer lock must not hang the test


# -- in process ----------------------------------------------------------------------------------------
def test_the_pipeline_and_the_live_reader_go_on_while_an_analyst_query_runs(
    wh: Warehouse, probe: Warehouse, tmp_path: Path
) -> None:
    feed = Feed(make_settings(tmp_path), wh, lambda: NOW)
    pool = wh.open_pool("analyst", size=1)
    live = wh.open_reader("live")
    try:
        with endless_query(pool, probe) as analyst:
            feed.send(scene())  # the writer: facts, rollups, ledger under exclusive()
            seen = live.query("SELECT uniqExact(subject) FROM events WHERE force_id = 'cambs'").rows
            assert seen == [(len({e["subject"] for e in scene()}),)]
            assert not analyst.done()
    finally:
        pool.close()
        live.close()


def test_a_full_pool_is_busy_at_once_and_its_queue_waits_for_a_free_session(
    wh: Warehouse, probe: Warehouse
) -> None:
    pool = wh.open_pool("analyst", size=1, queue=1, wait_seconds=3600, time_limit=600)
    try:
        with endless_query(pool, probe) as analyst:
            queued = pool.submit("SELECT 42")
            wait_until(lambda: pool.waiting == 1, what="the second query to queue")
            with pytest.raises(WarehouseBusy) as refused:
                pool.submit("SELECT 1")
            busy = refused.value
            assert (busy.running, busy.waiting) == (1, 1)
            assert 1 <= busy.retry_after <= 600
            assert "try again" in str(busy)
            assert not queued.done() and not analyst.done()
        assert queued.result(timeout=120).rows == [(42,)]
        assert (pool.running, pool.waiting) == (0, 0)
    finally:
        pool.close()


def test_a_queued_query_is_answered_busy_when_its_wait_runs_out(wh: Warehouse, probe: Warehouse) -> None:
    pool = wh.open_pool("analyst", size=1, queue=1, wait_seconds=0.05)
    try:
        with endless_query(pool, probe) as analyst:
            queued = pool.submit("SELECT 42")
            with pytest.raises(WarehouseBusy):
                queued.result(timeout=120)
            assert not analyst.done()
        assert pool.query("SELECT 42").rows == [(42,)]
    finally:
        pool.close()


def test_a_pool_session_is_clean_after_a_query_that_overflowed_its_result_limit(wh: Warehouse) -> None:
    # chDB leaves the rest of an overflowing result in the handle's stream; the pool replaces it.
    pool = wh.open_pool("analyst", size=1)
    limits = {"max_result_rows": 1000, "result_overflow_mode": "throw", "max_block_size": 100}
    try:
        with pytest.raises(Exception, match="TOO_MANY_ROWS"):
            pool.query("SELECT number FROM numbers(5000)", settings=limits)
        assert pool.query("SELECT 1 AS one", settings=limits).rows == [(1,)]
    finally:
        pool.close()


def test_readers_never_take_the_writer_lock(wh: Warehouse) -> None:
    live = wh.open_reader("live")
    pool = wh.open_pool("analyst", size=2)
    try:
        with wh.exclusive():  # a writer's multi-statement sequence in progress
            assert _in_thread(lambda: live.query("SELECT 1").rows) == [(1,)]
            assert pool.submit("SELECT 2").result(timeout=120).rows == [(2,)]
        with pytest.raises(ReadOnlyHandle):
            live.insert("events", [["x"]], ["id"])
        with pytest.raises(ReadOnlyHandle), live.exclusive():
            pass
    finally:
        live.close()
        pool.close()


def test_closing_the_writer_closes_every_reader_and_pool(wh: Warehouse, tmp_path: Path) -> None:
    import asyncio

    from demandhub.auth import credentials
    from demandhub.web.server import REPORTS_KEY, SQL_POOL_KEY, build_web_app

    root = Warehouse(wh.dsn)  # a second writer handle on the same path, closed by this test
    live = root.open_reader("live")
    pool = root.open_pool("analyst", size=2)
    assert pool.query("SELECT 1").rows == [(1,)]
    # The web application's cleanup closes the read handles it opened, while the writer lives on.
    settings = make_settings(tmp_path)
    app = build_web_app(settings, root, credentials(settings))
    app.freeze()
    asyncio.run(app.cleanup())
    assert app[REPORTS_KEY].closed and app[SQL_POOL_KEY].closed
    assert not root.closed and not live.closed
    root.close()
    assert root.closed and live.closed
    with pytest.raises(WarehouseUnavailable):
        live.query("SELECT 1")
    with pytest.raises(WarehouseUnavailable):
        pool.submit("SELECT 1")
    with pytest.raises(WarehouseUnavailable):
        root.open_reader("late")
    assert wh.query("SELECT 1").rows == [(1,)]  # other handles on the path are untouched


def test_the_web_app_answers_busy_and_keeps_the_live_page_while_analysts_fill_the_pool(
    wh: Warehouse, probe: Warehouse, tmp_path: Path
) -> None:
    from demandhub.web.server import SQL_POOL_KEY

    settings = make_settings(tmp_path, sql_max_concurrent_queries=1, sql_max_queued_queries=0)
    server = serve(settings, wh, lambda: NOW)
    feed = Feed(settings, wh, lambda: NOW)
    try:
        with endless_query(server.app[SQL_POOL_KEY], probe) as analyst:
            feed.send(scene())
            live = call(server, "GET", "/api/live", token=SUPERVISOR)
            assert live.status == 200
            assert live.json()["incidents"]["open"] == 3
            refused = sql(server, "SELECT count() FROM events")
            assert refused.status == 503
            assert int(refused.headers["Retry-After"]) >= 1
            assert refused.json()["error"].startswith("busy:")
            assert refused.json()["retry_after"] == int(refused.headers["Retry-After"])
            metrics = call(server, "GET", "/metrics", token=ANALYST).body.decode()
            assert "demandhub_sql_queries_running 1.0" in metrics
            assert not analyst.done()
        answered = sql(server, "SELECT count() FROM events")
        assert answered.status == 200, answered.body
        assert answered.json()["rows"][0][0] > 0
    finally:
        server.stop()
    assert server.app[SQL_POOL_KEY].running == 0
    with pytest.raises(WarehouseUnavailable):  # the app's cleanup closed its pool
        server.app[SQL_POOL_KEY].submit("SELECT 1")


# -- a real worker -------------------------------------------------------------------------------------
class SqlCall(threading.Thread):
    """One ``POST /api/sql`` on a thread of its own; ``status`` is set when it was answered."""

    def __init__(self, worker: HubWorker, query: str) -> None:
        super().__init__(daemon=True)
        self.worker, self.query = worker, query
        self.status: int | None = None
        self.body: dict[str, Any] = {}
        self.headers: dict[str, str] = {}

    def run(self) -> None:
        request = urllib.request.Request(
            self.worker.url + "api/sql",
            data=json.dumps({"sql": self.query}).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self.worker.token()}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=240) as response:
                self.status, self.body = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            self.status, self.headers = exc.code, dict(exc.headers)
            self.body = json.loads(exc.read())

    def answered(self) -> SqlCall:
        self.start()
        self.join(timeout=240)
        return self


def test_a_worker_ingests_and_serves_the_live_page_while_analysts_fill_every_sql_session(
    hub_worker: Callable[..., HubWorker], tansu: Any
) -> None:
    # Two analyst sessions (the default), no queue, and a time limit far beyond the checks below.
    worker = hub_worker(
        DEMANDHUB_SQL_MAX_EXECUTION_SECONDS="45",
        DEMANDHUB_SQL_MAX_MEMORY_BYTES=str(200_000_000),
        DEMANDHUB_SQL_MAX_QUEUED_QUERIES="0",
    )
    topic = CALLS
    start = datetime.now(UTC) - timedelta(hours=1)
    first, second, third = force_id(), force_id(), force_id()
    produce(tansu.bootstrap, topic, call_events(10, first, start))
    ledger = "SELECT count() FROM events WHERE force_id = '{}'"
    wait_until(lambda: worker.scalar(ledger.format(first)) == 40, what="the first calls in the warehouse")

    running = "demandhub_sql_queries_running"
    one = SqlCall(worker, ENDLESS_ANALYST)
    one.start()
    wait_until(lambda: worker.metric(running) == 1, what="one long analyst query running")

    # (a) an event produced now is ingested and visible while the long query runs.
    produce(tansu.bootstrap, topic, call_events(1, second, start))
    wait_until(lambda: worker.scalar(ledger.format(second)) == 4, what="a batch written meanwhile")
    assert one.is_alive() and one.status is None

    two = SqlCall(worker, ENDLESS_ANALYST)
    two.start()
    wait_until(lambda: worker.metric(running) == 2, what="both analyst sessions busy")

    # (b) the live page answers; (c) one more analyst query is told to come back later.
    status, body = worker.get("api/live", role="supervisor")
    assert status == 200 and json.loads(body)["force_id"]
    busy = SqlCall(worker, "SELECT count() FROM events").answered()
    assert busy.status == 503, busy.body
    assert int(busy.headers["Retry-After"]) >= 1 and busy.body["error"].startswith("busy:")
    accepted = worker.metric("demandhub_events_accepted_total")
    produce(tansu.bootstrap, topic, call_events(1, third, start))
    wait_until(
        lambda: worker.metric("demandhub_events_accepted_total") >= accepted + 4,
        what="a batch written while every analyst session is busy",
    )
    assert one.is_alive() and two.is_alive()
    assert worker.metric("demandhub_sql_busy_total") >= 1

    for long_call in (one, two):
        long_call.join(timeout=240)
        assert long_call.status == 400 and "TIME" in long_call.body["error"].upper(), long_call.body
    assert worker.scalar(ledger.format(third)) == 4
