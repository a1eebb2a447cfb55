"""The statements of a file replay (``demandhub replay``) that the write cycle does not use: whether
the ledger holds anything, which of a file's subjects it holds and their events, and the large
inserts of a whole file's rows (a block may span every month of the file, so the engine's limit of
100 partitions per insert block is lifted for these inserts: a replay of ten years writes 120
monthly partitions of the ledger in one statement, one part each).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sinks.clickhouse.client import Warehouse

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
