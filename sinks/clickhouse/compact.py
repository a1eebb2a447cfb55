"""Merge the warehouse's parts after a bulk load (``demandhub replay`` and ``rebuild``).

A bulk load writes many small parts: one per insert per partition, and the rollups' refresh
replaces rows part by part. The engine opens every active part of every table when a process
starts (about a millisecond each), and a ``FINAL`` read merges the parts of each partition as it
reads. ``OPTIMIZE TABLE ... FINAL`` leaves one part per partition (a ReplacingMergeTree keeps the
newest version of each row, which is what every ``FINAL`` read returns anyway), so later start-ups
open fewer parts and ``FINAL`` reads have nothing left to merge. Tables whose partitions already
hold one part each are left alone.
"""

from __future__ import annotations

from sinks.clickhouse.client import Warehouse

_FRAGMENTED_SQL = (
    "SELECT table FROM system.parts WHERE database = currentDatabase() AND active "
    "GROUP BY table HAVING count() > uniqExact(partition_id) ORDER BY table"
)


def fragmented_tables(wh: Warehouse) -> list[str]:
    """The tables of the current database with more than one active part in some partition."""
    return [str(table) for (table,) in wh.query(_FRAGMENTED_SQL).rows]


def active_parts(wh: Warehouse) -> int:
    """How many active parts the current database holds (what a start-up opens)."""
    rows = wh.query("SELECT count() FROM system.parts WHERE database = currentDatabase() AND active").rows
    return int(rows[0][0])


def compact(wh: Warehouse) -> list[str]:
    """Merge every fragmented table down to one part per partition; the tables merged, in order.
    The caller is the only writer (a replay or rebuild holding the data directory)."""
    tables = fragmented_tables(wh)
    for table in tables:
        wh.command(f"OPTIMIZE TABLE `{table}` FINAL")
    return tables
