"""The write cycle's statements run at the engine's highest query priority and the rollup refresher's
at a lower one, so the engine pauses a refresh while a write statement runs (see
``sinks.clickhouse.client.REFRESH_PRIORITY``); readers take no part in priorities."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from demandhub.runtime import open_worker_warehouse
from demandhub.settings import Settings
from sinks.clickhouse.client import REFRESH_PRIORITY, WRITE_PRIORITY, ReaderPool, Warehouse, connect
from streams.startup import StartupMarks

pytestmark = pytest.mark.integration

SLOW_WRITER_STATEMENT = "SELECT sum(sleepEachRow(0.25)) FROM numbers(40) SETTINGS max_block_size = 1"
"""Ten seconds of a running statement that needs no CPU (killed as soon as the test has looked)."""
SLOW_WRITER_TEXT = "query LIKE '%sleepEachRow(0.25)%'"
"""Picks that statement out of ``system.processes`` (with the statement asking left out)."""


def _priority(handle: Warehouse | ReaderPool) -> int:
    return int(handle.query("SELECT getSetting('priority')").rows[0][0])


def _preempted(wh: Warehouse) -> int:
    rows = wh.query("SELECT sum(value) FROM system.events WHERE event = 'QueryPreempted'").rows
    return int(rows[0][0])


def test_each_handle_runs_at_its_priority(wh: Warehouse) -> None:
    assert (WRITE_PRIORITY, REFRESH_PRIORITY) == (1, 2)
    history, live = wh.open_reader("history"), wh.open_reader("live")
    pool = wh.open_pool("analyst", size=1, queue=1, wait_seconds=5.0)
    refresher = connect(wh.dsn, priority=REFRESH_PRIORITY)
    try:
        assert [_priority(h) for h in (wh, history, live, pool, refresher)] == [1, 1, 0, 0, 2]
        assert refresher.priority == REFRESH_PRIORITY and live.priority == 0
    finally:
        refresher.close()
        pool.close()
        live.close()
        history.close()


def test_the_workers_refresher_runs_below_its_write_cycles(wh: Warehouse) -> None:
    opened = open_worker_warehouse(Settings(clickhouse_dsn=wh.dsn), StartupMarks())
    try:
        assert _priority(opened.wh) == WRITE_PRIORITY
        assert _priority(opened.refresher.wh) == REFRESH_PRIORITY
    finally:
        opened.close()


def test_the_engine_pauses_a_refresher_statement_while_a_write_statement_runs(wh: Warehouse) -> None:
    refresher = connect(wh.dsn, priority=REFRESH_PRIORITY)
    observer = wh.open_reader("observer")

    def write_statement() -> None:
        with contextlib.suppress(Exception):  # the kill below ends it with an error
            wh.query(SLOW_WRITER_STATEMENT)

    running = f"SELECT count() FROM system.processes WHERE {SLOW_WRITER_TEXT} AND query NOT LIKE '%system.processes%'"
    writer = threading.Thread(target=write_statement)
    try:
        before = _preempted(observer)
        writer.start()
        deadline = time.monotonic() + 30
        while not observer.query(running).rows[0][0]:
            assert time.monotonic() < deadline, "the writer's statement never showed in system.processes"
            time.sleep(0.01)
        assert refresher.query("SELECT count() FROM numbers(10)").rows == [(10,)]
        assert _preempted(observer) > before
        # A reader (priority 0) is never paused.
        between = _preempted(observer)
        assert observer.query("SELECT count() FROM numbers(10)").rows == [(10,)]
        assert _preempted(observer) == between
    finally:
        observer.command(f"KILL QUERY WHERE {SLOW_WRITER_TEXT} AND query NOT LIKE '%KILL QUERY%' SYNC")
        writer.join(timeout=30)
        observer.close()
        refresher.close()
    assert not writer.is_alive()
