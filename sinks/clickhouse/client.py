"""The warehouse handle: one clickhouse-connect client per process, for chDB or an http(s) server.

Contract:
- :func:`connect` is the only place a ClickHouse client is created (embedded ``chdb:///abs/path`` or
  ``http(s)://...``). chDB allows one process per data path: a second process fails to open it, and a
  process must not fork after chDB is loaded.
- :class:`Warehouse` serialises calls on the shared client with a lock, so agents running in worker
  threads and the web server's readers can share it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

DATABASE = "default"


class WarehouseUnavailable(RuntimeError):
    """The warehouse could not be reached or refused a write: transient, retry later."""


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def is_embedded(dsn: str) -> bool:
    return dsn.startswith("chdb:")


def _make_client(dsn: str) -> Client:
    if is_embedded(dsn):
        path = dsn.removeprefix("chdb://")
        if path not in ("memory", ":memory:"):
            Path(path).mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(dsn=dsn)
    parsed = urlparse(dsn)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"unsupported ClickHouse DSN scheme {parsed.scheme!r}")
    return clickhouse_connect.get_client(dsn=dsn)


class Warehouse:
    """A thread-safe facade over one clickhouse-connect client."""

    def __init__(self, dsn: str, client: Client | None = None) -> None:
        self.dsn = dsn
        self._client = client or _make_client(dsn)
        self._lock = threading.RLock()

    @property
    def embedded(self) -> bool:
        return is_embedded(self.dsn)

    def command(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Any:
        with self._lock:
            return self._client.command(sql, parameters=parameters, settings=settings)

    def query(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> QueryResult:
        with self._lock:
            result = self._client.query(sql, parameters=parameters, settings=settings)
        return QueryResult(
            tuple(result.column_names),
            tuple(t.name for t in result.column_types),
            list(result.result_rows),
        )

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        if not rows:
            return
        with self._lock:
            self._client.insert(table, list(rows), column_names=list(columns), settings=settings)

    def insert_dicts(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows given as dicts; every row must have the same keys."""
        if not rows:
            return
        columns = list(rows[0])
        self.insert(table, [[row[c] for c in columns] for row in rows], columns)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the client for several statements that must not interleave with other writers."""
        with self._lock:
            yield

    def close(self) -> None:
        with self._lock:
            self._client.close()


def connect(dsn: str) -> Warehouse:
    """Open the warehouse named by ``dsn`` (chdb:///abs/path, chdb://memory or http(s)://...)."""
    return Warehouse(dsn)
