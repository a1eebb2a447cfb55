"""What one insert through the writer handle costs the engine: one statement, once the table's
column types are known (clickhouse-connect otherwise asks them before every insert)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sinks.clickhouse.client import Warehouse, _RowsInsertContext
from tests.fixtures.engine_spy import StatementSpy, spied

pytestmark = pytest.mark.integration

COLUMNS = ("rollup_table", "force_id", "bucket")


@pytest.fixture
def counted(wh: Warehouse) -> Iterator[tuple[Warehouse, StatementSpy]]:
    with spied(wh.dsn) as pair:
        yield pair


def row(minute: int) -> list[Any]:
    return ["contact_queue_15m", "cambs", datetime(2025, 2, 3, 10, minute, tzinfo=UTC)]


def test_an_insert_into_a_table_inserted_into_before_is_one_statement(
    counted: tuple[Warehouse, StatementSpy],
) -> None:
    handle, spy = counted
    handle.insert("rollup_dirty", [row(0)], COLUMNS)
    spy.statements.clear()
    handle.insert("rollup_dirty", [row(15), row(30)], COLUMNS)
    assert len(spy.texts) == 1 and spy.texts[0].split()[:3] == ["INSERT", "INTO", "`rollup_dirty`"]
    assert handle.query("SELECT count() FROM rollup_dirty").rows == [(3,)]


def test_a_failed_insert_asks_the_column_types_again(counted: tuple[Warehouse, StatementSpy]) -> None:
    handle, spy = counted
    handle.insert("rollup_dirty", [row(0)], COLUMNS)
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a bad value
        handle.insert("rollup_dirty", [["contact_queue_15m", "cambs", "not a time"]], COLUMNS)
    spy.statements.clear()
    handle.insert("rollup_dirty", [row(15)], COLUMNS)
    assert [s.split()[0] for s in spy.texts] == ["DESCRIBE", "INSERT"]


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
