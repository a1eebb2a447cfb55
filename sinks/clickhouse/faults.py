"""Chaos switch for the warehouse boundary (failure drills and the reliability suite).

When ``DEMANDHUB_FAULT_SINK_FAIL_FLAG`` names a file, every insert fails with
:class:`~sinks.clickhouse.client.WarehouseUnavailable` while that file exists, exactly as a ClickHouse
outage would look to the worker. Remove the file and the worker catches up by itself. Unset (the
default), nothing is wrapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sinks.clickhouse.client import Warehouse, WarehouseUnavailable


class FlakyWarehouse(Warehouse):
    """A Warehouse whose inserts fail while ``flag`` exists."""

    def __init__(self, inner: Warehouse, flag: Path) -> None:
        self.__dict__.update(inner.__dict__)
        self.flag = flag

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        if rows and self.flag.exists():
            raise WarehouseUnavailable(f"injected outage ({self.flag} exists)")
        super().insert(table, rows, columns, settings)


def maybe_flaky(wh: Warehouse, flag: str | None) -> Warehouse:
    return FlakyWarehouse(wh, Path(flag)) if flag else wh
