"""The pipeline's statements against the warehouse, written once: its inserts (fact rows, rejected
events, the ``events`` ledger), the histories of a batch's subjects read back from the ledger (one
statement whatever their forces and entities), a fact table's
identity (its sorting key), and the lightweight delete of fact rows a subject no longer produces. Each function takes the warehouse and
plain values and returns plain rows; :mod:`streams.pipeline` decodes and folds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sinks.clickhouse.client import Warehouse

LEDGER_COLUMNS = ("force_id", "subject", "source", "id", "type", "time", "ingest_time", "data")
REJECT_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "kind",
    "reason",
    "force_id",
    "type",
    "subject",
    "received_at",
    "payload",
    "resolved_at",
)
"""Columns of the ``events`` ledger rows :func:`insert_ledger` takes (``REJECT_COLUMNS``: of
``rejected_events``, :func:`insert_rejected`)."""


def insert_facts(wh: Warehouse, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert fact rows (dicts keyed by column) into the fact table ``table``."""
    wh.insert_dicts(table, rows)


def insert_rejected(wh: Warehouse, rows: Sequence[Sequence[Any]]) -> None:
    """Insert rejected-event rows (values in :data:`REJECT_COLUMNS` order)."""
    wh.insert("rejected_events", rows, REJECT_COLUMNS)


def insert_ledger(wh: Warehouse, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ledger rows (values in :data:`LEDGER_COLUMNS` order) into ``events``."""
    wh.insert("events", rows, LEDGER_COLUMNS)


_HISTORIES_SQL = (
    "SELECT force_id, splitByChar('.', type)[1] AS entity, subject, source, id, type, time, data "
    "FROM events WHERE force_id IN {f:Array(String)} AND subject IN {s:Array(String)}"
)


def ledger_histories(wh: Warehouse, keys: Sequence[tuple[str, str, str]]) -> list[tuple[Any, ...]]:
    """(force_id, entity, subject, source, id, type, time, data) of every ledger event of the
    subjects ``keys`` name as (force_id, entity, subject), whatever their forces and entities: one
    statement (the entity of an event is its type up to the first dot).

    The statement names the forces and subjects (the ledger's sorting key) and the rows of another
    entity's subject of the same id are left out here: binding the keys as tuples too formatted
    three more strings per subject in clickhouse-connect's Python (its escaping walks every
    character), about three quarters of the parameters' cost."""
    if not keys:
        return []
    wanted = set(keys)
    rows = wh.query(
        _HISTORIES_SQL,
        parameters={"f": sorted({k[0] for k in keys}), "s": sorted({k[2] for k in keys})},
    ).rows
    return [r for r in rows if (r[0], r[1], r[2]) in wanted]


def identity_columns(wh: Warehouse, table: str) -> tuple[str, ...]:
    """The identity columns of a fact table: its ReplacingMergeTree sorting key (empty when the
    table is not there)."""
    key = wh.query(
        "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        parameters={"t": table},
    ).rows
    return tuple(c.strip() for c in str(key[0][0]).split(",")) if key else ()


def delete_identities(
    wh: Warehouse, table: str, columns: Sequence[str], identities: Sequence[Sequence[str]]
) -> None:
    """Delete (lightweight DELETE) the rows of ``table`` whose ``columns``, as strings, are one of
    ``identities``."""
    listed = ", ".join(f"toString({c})" for c in columns)
    wh.command(
        f"DELETE FROM {table} WHERE has({{k:Array(Array(String))}}, [{listed}])",
        parameters={"k": [list(g) for g in identities]},
    )
