"""Inserts at once on a writer's sibling handles (`Warehouse.insert_beside`, the write cycle's fact
tables): they run at the same time on clients of their own, every one still goes through the
handle's own ``insert`` (so a wrapper sees it), the first failure is raised once all have ended,
and the siblings close with the writer."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from sinks.clickhouse.client import SIBLING_WRITERS, Warehouse, WarehouseUnavailable, connect
from sinks.clickhouse.faults import FlakyWarehouse

pytestmark = pytest.mark.integration

TABLES = [f"beside_{i}" for i in range(SIBLING_WRITERS + 2)]


@pytest.fixture
def tables(wh: Warehouse) -> Iterator[list[str]]:
    """Scratch tables of this module, dropped after each test (the session warehouse holds only the
    migrations' tables otherwise)."""
    for table in TABLES:
        wh.command(f"CREATE TABLE IF NOT EXISTS {table} (n UInt32) ENGINE = MergeTree ORDER BY n")
        wh.command(f"TRUNCATE TABLE {table}")
    yield TABLES
    for table in TABLES:
        wh.command(f"DROP TABLE IF EXISTS {table}")


class Counting(Warehouse):
    """Counts every insert by table and records the thread and the client it ran on."""

    def __init__(self, inner: Warehouse) -> None:
        self.__dict__.update(inner.__dict__)
        self.seen: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        with self.lock:
            self.seen.append((table, threading.current_thread().name, id(self._target()._client)))
        super().insert(table, rows, columns, settings)


def _row(table: str, n: int, barrier: threading.Barrier | None = None) -> Any:
    def insert(wh: Warehouse) -> None:
        if barrier is not None:
            barrier.wait(timeout=20)  # every lane is here at once, or this times out
        wh.insert(table, [[n]], ["n"])

    return insert


def _count(wh: Warehouse, table: str) -> int:
    return int(wh.query(f"SELECT count() FROM {table}").rows[0][0])


def test_inserts_run_at_once_on_clients_of_their_own_and_a_wrapper_sees_each(
    wh: Warehouse, tables: list[str]
) -> None:
    counting = Counting(wh)
    lanes = SIBLING_WRITERS + 1
    barrier = threading.Barrier(lanes)
    inserts = [_row(t, i, barrier) for i, t in enumerate(tables[:lanes])]
    inserts.append(_row(tables[lanes], 99))  # a second insert for the first lane, after its first
    with counting.exclusive():  # as a write cycle calls it: under the writer lock
        counting.insert_beside(inserts)
    assert sorted(t for t, _, _ in counting.seen) == sorted(tables[: lanes + 1])
    threads = {name for _, name, _ in counting.seen}
    clients = {client for _, _, client in counting.seen}
    assert len(threads) == lanes and threading.current_thread().name in threads
    assert len(clients) == lanes and id(wh._client) in clients
    assert [_count(wh, t) for t in tables[: lanes + 1]] == [1] * (lanes + 1)
    # the handle's own statements are back on its own client in this thread
    assert wh._target() is wh


def test_the_first_failure_is_raised_once_every_insert_has_ended(wh: Warehouse, tables: list[str]) -> None:
    ended = threading.Event()

    def failing(_wh: Warehouse) -> None:
        raise WarehouseUnavailable("injected")

    def slow(w: Warehouse) -> None:
        threading.Event().wait(0.3)
        w.insert(tables[2], [[1]], ["n"])
        ended.set()

    with pytest.raises(WarehouseUnavailable, match="injected"):
        wh.insert_beside([_row(tables[0], 1), failing, slow])
    assert ended.is_set()
    assert _count(wh, tables[0]) == 1 and _count(wh, tables[2]) == 1


def test_one_insert_runs_in_the_callers_thread_and_opens_no_sibling(wh: Warehouse, tables: list[str]) -> None:
    writer = connect(wh.dsn)  # a writer handle of this test's own (the engine holds one path)
    try:
        where: list[str] = []

        def insert(w: Warehouse) -> None:
            where.append(threading.current_thread().name)
            w.insert(tables[0], [[1]], ["n"])

        writer.insert_beside([insert])
        assert where == [threading.current_thread().name]
        assert writer._siblings.handles == [] and _count(wh, tables[0]) == 1
    finally:
        writer.close()


def test_siblings_close_with_the_writer_and_refuse_afterwards(wh: Warehouse, tables: list[str]) -> None:
    writer = connect(wh.dsn)
    writer.insert_beside([_row(tables[0], 1), _row(tables[1], 2)])
    siblings = list(writer._siblings.handles)
    assert len(siblings) == 1 and not siblings[0].closed
    writer.close()
    assert siblings[0].closed and writer._siblings.executor is None
    with pytest.raises(WarehouseUnavailable):
        writer.sibling_writer(0)


def test_the_chaos_switch_fails_inserts_on_siblings_too(
    wh: Warehouse, tables: list[str], tmp_path: Path
) -> None:
    flag = tmp_path / "outage"
    flaky = FlakyWarehouse(wh, flag)
    flag.write_text("on")
    with pytest.raises(WarehouseUnavailable, match="injected outage"):
        flaky.insert_beside([_row(t, i) for i, t in enumerate(tables)])
    assert [_count(wh, t) for t in tables] == [0] * len(tables)
    flag.unlink()
    flaky.insert_beside([_row(t, i) for i, t in enumerate(tables)])
    assert [_count(wh, t) for t in tables] == [1] * len(tables)


def test_a_read_handle_refuses_it(wh: Warehouse) -> None:
    reader = wh.open_reader("live")
    try:
        with pytest.raises(Exception, match="insert_beside"):
            reader.insert_beside([])
    finally:
        reader.close()


def test_only_the_handle_that_runs_it_is_moved_to_a_sibling(wh: Warehouse, tables: list[str]) -> None:
    other = connect(wh.dsn)  # another writer (e.g. a refresher's handle) used from inside a share
    reader = wh.open_reader("live")
    seen: list[tuple[bool, bool, bool]] = []

    def share(w: Warehouse) -> None:
        other.query("SELECT 1")
        seen.append((w._target() is not w, other._target() is other, reader._target() is reader))
        w.insert(tables[1], [[1]], ["n"])

    try:
        wh.insert_beside([_row(tables[0], 1), share])
    finally:
        reader.close()
        other.close()
    assert seen == [(True, True, True)]


class NoSiblings(Warehouse):
    """A writer whose siblings cannot be opened (a server refusing more connections)."""

    def __init__(self, inner: Warehouse) -> None:
        self.__dict__.update(inner.__dict__)

    def sibling_writer(self, index: int) -> Warehouse:
        raise WarehouseUnavailable("no more connections")


def test_without_siblings_every_insert_runs_here_one_after_another(wh: Warehouse, tables: list[str]) -> None:
    where: list[str] = []

    def insert(table: str) -> Any:
        def run(w: Warehouse) -> None:
            where.append(threading.current_thread().name)
            w.insert(table, [[1]], ["n"])

        return run

    NoSiblings(wh).insert_beside([insert(t) for t in tables])
    assert where == [threading.current_thread().name] * len(tables)
    assert [_count(wh, t) for t in tables] == [1] * len(tables)
