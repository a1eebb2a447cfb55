"""Chaos switch for the warehouse boundary (failure drills and the reliability suite).

When ``DEMANDHUB_FAULT_SINK_FAIL_FLAG`` names a file, every insert fails while that file exists: with
:class:`~sinks.clickhouse.client.WarehouseUnavailable`, exactly as a ClickHouse outage would look to
the worker, or, when the file holds the word ``no-space``, with the error chDB raises when its disk
is full (``DatabaseError``, ``Code: 243 ... (NOT_ENOUGH_SPACE)``, as measured on a full tmpfs).
Remove the file and the worker catches up by itself. Unset (the default), nothing is wrapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError

from sinks.clickhouse.client import Warehouse, WarehouseUnavailable

NO_SPACE = "no-space"
NO_SPACE_MESSAGE = "Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. (NOT_ENOUGH_SPACE)"


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
        if rows:
            try:
                mode = self.flag.read_text().strip()
            except OSError:  # no flag: no fault
                mode = None
            if mode == NO_SPACE:
                raise DatabaseError(NO_SPACE_MESSAGE)
            if mode is not None:
                raise WarehouseUnavailable(f"injected outage ({self.flag} exists)")
        super().insert(table, rows, columns, settings)


def maybe_flaky(wh: Warehouse, flag: str | None) -> Warehouse:
    return FlakyWarehouse(wh, Path(flag)) if flag else wh
