"""Administrative statements against the warehouse, written once: what ``demandhub rebuild`` reads
and empties (the ledger's subjects, the rollup lease, the tables present) and what the data
dictionary reads of the engine's catalogue. Each function takes the warehouse and plain values and
returns plain rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError

from sinks.clickhouse.client import Warehouse

Row = tuple[Any, ...]

# -- rebuild ------------------------------------------------------------------------------------------


def ledger_subject_counts(wh: Warehouse) -> list[Row]:
    """(force_id, entity, distinct subjects) held in the ``events`` ledger, in order."""
    return wh.query(
        "SELECT force_id, splitByChar('.', type)[1] AS entity, uniqExact(subject) FROM events "
        "GROUP BY force_id, entity ORDER BY force_id, entity"
    ).rows


def ledger_subject_page(wh: Warehouse, force_id: str, entity: str, after: str, size: int) -> list[str]:
    """Up to ``size`` subjects of ``entity`` after ``after`` (in order) in the ledger of ``force_id``."""
    return [
        str(s)
        for (s,) in wh.query(
            "SELECT DISTINCT subject FROM events WHERE force_id = {f:String} "
            "AND startsWith(type, {prefix:String}) AND subject > {after:String} "
            "ORDER BY subject LIMIT {n:UInt32}",
            parameters={"f": force_id, "prefix": f"{entity}.", "after": after, "n": size},
        ).rows
    ]


def rollup_lease_holder(wh: Warehouse) -> str | None:
    """The holder of the unexpired rollup refresh lease, or None."""
    held = wh.query(
        "SELECT holder FROM rollup_refresh_lease FINAL WHERE name = 'rollups' AND expires > now64(3)"
    ).rows
    return str(held[0][0]) if held else None


def present_tables(wh: Warehouse) -> set[str]:
    """The names of the tables and views of the current database."""
    return {
        str(name)
        for (name,) in wh.query("SELECT name FROM system.tables WHERE database = currentDatabase()").rows
    }


def empty_for_rebuild(wh: Warehouse, tables: Iterable[str]) -> None:
    """Empty ``tables`` and the rollup dirty-bucket log (the caller holds the writer lock)."""
    for table in tables:
        wh.command(f"TRUNCATE TABLE `{table}`")
    wh.command("TRUNCATE TABLE rollup_dirty")


# -- data dictionary ------------------------------------------------------------------------------------
_TABLES_SQL = (
    "SELECT name, engine, comment, as_select FROM system.tables "
    "WHERE database = currentDatabase() AND NOT startsWith(name, '.inner') ORDER BY name"
)
_COLUMNS_SQL = (
    "SELECT table, name, type, comment FROM system.columns "
    "WHERE database = currentDatabase() ORDER BY table, position"
)


def relation_rows(wh: Warehouse) -> list[Row]:
    """(name, engine, comment, as_select) of every table and view of the current database (inner
    tables of materialised views left out), by name."""
    return wh.query(_TABLES_SQL).rows


def column_rows(wh: Warehouse) -> list[Row]:
    """(table, name, type, comment) of every column of the current database, in table order."""
    return wh.query(_COLUMNS_SQL).rows


# -- the worker's gauges --------------------------------------------------------------------------------


_JEMALLOC_TOTALS = re.compile(
    r"^Allocated: (\d+), active: (\d+), metadata: (\d+).*?, resident: (\d+),", re.MULTILINE
)
_JEMALLOC_PAGE = re.compile(r"^Page size: (\d+)$", re.MULTILINE)
_JEMALLOC_DIRTY = re.compile(r"^Merged arenas stats:$.*?^\s*dirty:\s+\S+\s+(\d+)\s", re.MULTILINE | re.DOTALL)
_JEMALLOC_TCACHE = re.compile(r"^Merged arenas stats:$.*?^tcache_bytes:\s+(\d+)$", re.MULTILINE | re.DOTALL)


def engine_memory(wh: Warehouse) -> dict[str, int]:
    """The engine's memory in bytes, by kind: ``engine_tracked`` (its own accounting, ``system.metrics``
    ``MemoryTracking``, which counts what its queries and merges allocate), and its allocator's
    (jemalloc) totals from ``system.jemalloc_stats``: ``engine_allocated`` (handed out and not freed)
    and ``engine_resident`` (its pages in memory: what it handed out, what it keeps freed but not yet
    returned, its own metadata), and ``engine_thread_cached`` (of what it counts as handed out, the
    freed blocks that the engine's threads keep in their own caches for their next allocation; an
    idle thread keeps them until it allocates again or ends). The parts of the resident pages:
    ``engine_active`` (pages holding at least one block handed out: the allocated bytes plus the
    unused room of those pages), ``engine_metadata`` (the allocator's own bookkeeping) and
    ``engine_dirty`` (pages freed and not yet returned to the system, which it returns after its
    decay time). A kind the engine cannot tell (no such metric, no jemalloc in its build, no such
    line in the text) is left out."""
    found: dict[str, int] = {}
    rows = wh.query("SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'").rows
    if rows:
        found["engine_tracked"] = int(rows[0][0])
    try:
        stats = wh.query("SELECT stats FROM system.jemalloc_stats").rows
    except DatabaseError:  # no jemalloc in this engine build
        return found
    return found | jemalloc_totals(str(stats[0][0]) if stats else "")


def jemalloc_totals(text: str) -> dict[str, int]:
    """The totals :func:`engine_memory` reads from the text of ``system.jemalloc_stats``, in bytes."""
    found: dict[str, int] = {}
    totals = _JEMALLOC_TOTALS.search(text)
    if totals is not None:
        allocated, active, metadata, resident = (int(g) for g in totals.groups())
        found |= {
            "engine_allocated": allocated,
            "engine_resident": resident,
            "engine_active": active,
            "engine_metadata": metadata,
        }
    cached = _JEMALLOC_TCACHE.search(text)
    if cached is not None:
        found["engine_thread_cached"] = int(cached.group(1))
    page, dirty = _JEMALLOC_PAGE.search(text), _JEMALLOC_DIRTY.search(text)
    if page is not None and dirty is not None:
        found["engine_dirty"] = int(dirty.group(1)) * int(page.group(1))
    return found
