"""Merge the warehouse's parts after a bulk load (``demandhub replay`` and ``rebuild``).

A bulk load writes many small parts: one per insert per partition, and the rollups' refresh
replaces rows part by part. The engine opens every active part of every table when a process
starts (about a millisecond each), and a ``FINAL`` read merges the parts of each partition as it
reads. ``OPTIMIZE TABLE ... FINAL`` leaves one part per partition (a ReplacingMergeTree keeps the
newest version of each row, which is what every ``FINAL`` read returns anyway), so later start-ups
open fewer parts and ``FINAL`` reads have nothing left to merge. Tables whose partitions already
hold one part each are left alone.

The rollup dirty-bucket log (``rollup_dirty``) is emptied entry by entry during a bulk load: each
lightweight delete is a mutation whose record (the statement, with every entry id it deleted, often
hundreds of kilobytes) stays on disk and is parsed again whenever a process opens the warehouse
(after a ten-year replay, 15 MB of them took most of the engine's opening). Once the log is empty,
``TRUNCATE`` removes those records with it.
"""

from __future__ import annotations

from sinks.clickhouse.client import Warehouse

DIRTY_LOG = "rollup_dirty"

_FRAGMENTED_SQL = (
    "SELECT table FROM system.parts WHERE database = currentDatabase() AND active "
    "GROUP BY table HAVING count() > uniqExact(partition_id) ORDER BY table"
)
_MUTATIONS_SQL = (
    "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = {t:String}"
)


def fragmented_tables(wh: Warehouse) -> list[str]:
    """The tables of the current database with more than one active part in some partition."""
    return [str(table) for (table,) in wh.query(_FRAGMENTED_SQL).rows]


def active_parts(wh: Warehouse) -> int:
    """How many active parts the current database holds (what a start-up opens)."""
    rows = wh.query("SELECT count() FROM system.parts WHERE database = currentDatabase() AND active").rows
    return int(rows[0][0])


def mutation_records(wh: Warehouse, table: str) -> int:
    """How many mutation records ``table`` keeps on disk (every one is parsed when a process opens
    the warehouse)."""
    return int(wh.query(_MUTATIONS_SQL, parameters={"t": table}).rows[0][0])


def clear_dirty_log_mutations(wh: Warehouse) -> bool:
    """``TRUNCATE`` the rollup dirty-bucket log when it holds no entry but keeps mutation records
    (its lightweight deletes); True when it did. A log with entries is left alone: they are buckets
    still to refresh. The caller is the only writer."""
    if not mutation_records(wh, DIRTY_LOG):
        return False
    if int(wh.query(f"SELECT count() FROM {DIRTY_LOG}").rows[0][0]):
        return False
    wh.command(f"TRUNCATE TABLE {DIRTY_LOG}")
    return True


def compact(wh: Warehouse) -> list[str]:
    """Merge every fragmented table down to one part per partition, and drop the empty dirty-bucket
    log's mutation records; the tables merged, in order. The caller is the only writer (a replay or
    rebuild holding the data directory)."""
    tables = fragmented_tables(wh)
    for table in tables:
        wh.command(f"OPTIMIZE TABLE `{table}` FINAL")
    clear_dirty_log_mutations(wh)
    return tables
