"""The statements of a file replay (``demandhub replay``) that the write cycle does not use: whether
the ledger holds anything, which of a file's subjects it holds and their events, and the large
inserts of a whole file's rows (a block may span every month of the file, so the engine's limit of
100 partitions per insert block is lifted for these inserts: a replay of ten years writes 120
monthly partitions of the ledger in one statement, one part each).

A replay's rows are made in worker processes, and sending them to the replay's own process as
Python values costs it a pickle load per value and clickhouse-connect's serialising per value, both
under one interpreter lock, before the engine sees a byte. So the workers encode them:
:class:`BlockEncoder` (built here from the warehouse's column types, and picklable) turns rows into
clickhouse-connect's Native insert bytes with no warehouse at hand, and :func:`insert_block` hands
those bytes to the engine as they are (``raw_insert``, the client's own path for encoded data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from sinks.clickhouse.client import Warehouse, _RowsInsertContext, native_chunks
from sinks.clickhouse.writers import fast_type

BULK_SETTINGS: dict[str, Any] = {"max_partitions_per_insert_block": 0}
"""Settings of a replay's inserts (no limit on the partitions one insert block may touch)."""
SUBJECTS_PER_READ = 5000


def ledger_is_empty(wh: Warehouse) -> bool:
    """True when the ``events`` ledger holds no event at all (a fresh warehouse)."""
    return not wh.query("SELECT 1 FROM events LIMIT 1").rows


def ledger_events_of(
    wh: Warehouse, subjects: Sequence[str]
) -> list[tuple[str, str, str, str, str, datetime, str]]:
    """(force_id, subject, source, id, type, time, data) of every ledger event of these subjects
    (any force and entity), read in runs of :data:`SUBJECTS_PER_READ` subjects."""
    out: list[tuple[str, str, str, str, str, datetime, str]] = []
    unique = sorted(set(subjects))
    for start in range(0, len(unique), SUBJECTS_PER_READ):
        rows = wh.query(
            "SELECT force_id, subject, source, id, type, time, data FROM events "
            "WHERE subject IN {s:Array(String)}",
            parameters={"s": unique[start : start + SUBJECTS_PER_READ]},
        ).rows
        out.extend((str(f), str(s), str(src), str(i), str(t), tm, str(d)) for f, s, src, i, t, tm, d in rows)
    return out


def bulk_insert(wh: Warehouse, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (values in ``columns`` order) into ``table`` in one statement, whatever the
    number of partitions they span."""
    wh.insert(table, rows, columns, settings=BULK_SETTINGS)


def insert_block(wh: Warehouse, table: str, columns: Sequence[str], block: bytes) -> None:
    """Insert rows encoded by :meth:`BlockEncoder.encode` into ``table`` in one statement, whatever
    the number of partitions they span."""
    wh.insert_encoded(table, columns, block, "Native", settings=BULK_SETTINGS)


@dataclass(frozen=True)
class BlockEncoder:
    """Rows to clickhouse-connect Native insert bytes, by the column types of the warehouse it was
    made from (:func:`block_encoder`); it holds no connection, so it goes to other processes."""

    types: Mapping[str, Mapping[str, str]]
    """Per table: column name to ClickHouse type name."""
    server_tz: tzinfo = UTC
    """The zone clickhouse-connect gives values of columns without one (the client's, as an insert
    made by the client itself would)."""
    _parsed: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def encode(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
        """The Native bytes of ``rows`` (values in ``columns`` order): what clickhouse-connect sends
        for ``Warehouse.insert(table, rows, columns)``, without its ``INSERT`` line."""
        if not rows:
            return b""
        from clickhouse_connect.datatypes.registry import get_from_name

        known = self.types.get(table)
        if known is None:
            raise KeyError(f"no column types for table {table}")
        kinds = []
        for column in columns:
            name = known[column]
            parsed = self._parsed.get(name)
            if parsed is None:
                parsed = self._parsed[name] = fast_type(get_from_name(name))
            kinds.append(parsed)
        context = _RowsInsertContext(table, list(columns), kinds, server_tz=self.server_tz)
        try:
            context.data = rows if isinstance(rows, list) else list(rows)
            return b"".join(native_chunks(context))
        finally:
            context.release()

    def __getstate__(self) -> dict[str, Any]:
        return {"types": self.types, "server_tz": self.server_tz}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "types", state["types"])
        object.__setattr__(self, "server_tz", state["server_tz"])
        object.__setattr__(self, "_parsed", {})


def block_encoder(wh: Warehouse, tables: Iterable[str]) -> BlockEncoder:
    """A :class:`BlockEncoder` for ``tables`` of the current database, by their column types now."""
    rows = wh.query(
        "SELECT table, name, type FROM system.columns "
        "WHERE database = currentDatabase() AND table IN {t:Array(String)}",
        parameters={"t": sorted(set(tables))},
    ).rows
    types: dict[str, dict[str, str]] = {}
    for table, name, kind in rows:
        types.setdefault(str(table), {})[str(name)] = str(kind)
    return BlockEncoder(types, wh.server_tz)
