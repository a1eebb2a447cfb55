"""What one insert through the writer handle costs the engine: one statement, once the table's
column types are known (clickhouse-connect otherwise asks them before every insert)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sinks.clickhouse.client import Warehouse, _RowsInsertContext, connect

pytestmark = pytest.mark.integration

COLUMNS = ("rollup_table", "force_id", "bucket")


class Counting:
    """Stands in for a chDB connection handle and counts the statements sent through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.statements: list[str] = []

    def query(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        # an insert may carry its Native bytes after its first line (Warehouse._insert_inline)
        self.statements.append(sql.decode(errors="replace") if isinstance(sql, bytes) else str(sql))
        return self.inner.query(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def counted(wh: Warehouse) -> Iterator[tuple[Warehouse, Counting]]:
    handle = connect(wh.dsn)
    engine = handle._client._backend._handle  # type: ignore[attr-defined]
    spy = Counting(engine.conn)
    engine.conn = spy
    yield handle, spy
    engine.conn = spy.inner
    handle.close()


def row(minute: int) -> list[Any]:
    return ["contact_queue_15m", "cambs", datetime(2025, 2, 3, 10, minute, tzinfo=UTC)]


def test_an_insert_into_a_table_inserted_into_before_is_one_statement(
    counted: tuple[Warehouse, Counting],
) -> None:
    handle, spy = counted
    handle.insert("rollup_dirty", [row(0)], COLUMNS)
    spy.statements.clear()
    handle.insert("rollup_dirty", [row(15), row(30)], COLUMNS)
    assert len(spy.statements) == 1 and spy.statements[0].split()[:3] == ["INSERT", "INTO", "`rollup_dirty`"]
    assert handle.query("SELECT count() FROM rollup_dirty").rows == [(3,)]


def test_a_failed_insert_asks_the_column_types_again(counted: tuple[Warehouse, Counting]) -> None:
    handle, spy = counted
    handle.insert("rollup_dirty", [row(0)], COLUMNS)
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a bad value
        handle.insert("rollup_dirty", [["contact_queue_15m", "cambs", "not a time"]], COLUMNS)
    spy.statements.clear()
    handle.insert("rollup_dirty", [row(15)], COLUMNS)
    assert [s.split()[0] for s in spy.statements] == ["DESCRIBE", "INSERT"]


class _Row(list[Any]):
    """A row that can be watched with a weak reference."""


def test_an_insert_leaves_no_reference_cycle_holding_its_rows(wh: Warehouse) -> None:
    """The insert context refers to itself through a bound method; unless the writer breaks that
    cycle, every insert's rows wait for a full collection (and stay for good once the worker's heap
    settling has frozen them)."""
    rows = [_Row(row(0)), _Row(row(15))]
    probe = weakref.ref(rows[0])
    gc.collect()
    gc.disable()
    try:
        wh.insert("rollup_dirty", rows, COLUMNS)
        wh.insert("rollup_dirty", [row(30)], COLUMNS)
        del rows
        assert probe() is None  # freed by reference counting alone
        assert not [o for o in gc.get_objects() if isinstance(o, _RowsInsertContext)]
    finally:
        gc.enable()
