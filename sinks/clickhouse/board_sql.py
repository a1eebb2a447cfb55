"""The board pack's statements against the warehouse, written once: the series a pack is built from
(ledger watermarks, imported figures, the forces present) and the published store (pack versions
and their figures). Each function takes the warehouse and plain values and returns plain rows;
:mod:`demandhub.board.warehouse` turns them into the board's types.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sinks.clickhouse.client import Warehouse

Row = tuple[Any, ...]

# -- the series a pack is built from -------------------------------------------------------------------
_ENTITY_SQL = (
    "SELECT splitByChar('.', type)[1] AS entity, source, max(time) AS watermark FROM events "
    "WHERE force_id = {f:String} GROUP BY entity, source ORDER BY entity, source"
)
_SOURCES_SQL = (
    "SELECT source, watermark, last_ingest, events FROM source_watermarks "
    "WHERE force_id = {f:String} ORDER BY source"
)
_IMPORTED_SQL = (
    "SELECT force_id, measure_id, month, source, numerator, n FROM imported_monthly FINAL "
    "WHERE force_id IN {fs:Array(String)} AND month >= {lo:Date} AND month <= {hi:Date} "
    "ORDER BY force_id, measure_id, month, source"
)
_FORCES_SQL = (
    "SELECT force_id FROM (SELECT DISTINCT force_id FROM events UNION DISTINCT "
    "SELECT DISTINCT force_id FROM imported_monthly) ORDER BY force_id"
)
_EVENT_FORCES_SQL = "SELECT DISTINCT force_id FROM events ORDER BY force_id"
_LEDGER_MARKS_SQL = (
    "SELECT force_id, type, source, max(time), max(ingest_time), count() FROM events "
    "GROUP BY force_id, type, source ORDER BY force_id, type, source"
)
_IMPORTED_FORCES_SQL = "SELECT DISTINCT force_id FROM imported_monthly ORDER BY force_id"
_IMPORTED_AS_OF_SQL = (
    "SELECT measure_id, source, max(month) FROM imported_monthly FINAL "
    "WHERE force_id IN {fs:Array(String)} AND month <= {hi:Date} AND as_of <= {cut:Date} "
    "GROUP BY measure_id, source ORDER BY measure_id, source"
)


def entity_source_watermarks(wh: Warehouse, force_id: str) -> list[Row]:
    """(entity, source, latest event time) of every ledger entity and source of ``force_id``."""
    return wh.query(_ENTITY_SQL, parameters={"f": force_id}).rows


def ledger_marks(wh: Warehouse) -> list[Row]:
    """(force_id, type, source, latest event time, latest ingest time, events) of every force, event
    type and source of the ledger: one scan that answers :func:`entity_source_watermarks`,
    :func:`source_watermarks` and :func:`forces_with_events` for every force at once."""
    return wh.query(_LEDGER_MARKS_SQL).rows


def imported_forces(wh: Warehouse) -> list[str]:
    """Every force with imported rows, in order."""
    return [str(r[0]) for r in wh.query(_IMPORTED_FORCES_SQL).rows]


def source_watermarks(wh: Warehouse, force_id: str) -> list[Row]:
    """(source, watermark, last_ingest, events) of the ``source_watermarks`` view for ``force_id``."""
    return wh.query(_SOURCES_SQL, parameters={"f": force_id}).rows


def imported_rows(wh: Warehouse, forces: Sequence[str], lo: date, hi: date) -> list[Row]:
    """(force_id, measure_id, month, source, numerator, n) of ``imported_monthly`` for ``forces``
    and months ``lo..hi``."""
    return wh.query(_IMPORTED_SQL, parameters={"fs": list(forces), "lo": lo, "hi": hi}).rows


def imported_latest_months(wh: Warehouse, forces: Sequence[str], hi: date, cut: date) -> list[Row]:
    """(measure_id, source, latest month <= ``hi``) of the imported rows of ``forces`` as of ``cut``."""
    return wh.query(_IMPORTED_AS_OF_SQL, parameters={"fs": list(forces), "hi": hi, "cut": cut}).rows


def forces_present(wh: Warehouse) -> list[str]:
    """Every force with events or imported rows, in order."""
    return [str(r[0]) for r in wh.query(_FORCES_SQL).rows]


def forces_with_events(wh: Warehouse) -> list[str]:
    """Every force with events in the ledger, in order."""
    return [str(r[0]) for r in wh.query(_EVENT_FORCES_SQL).rows]


# -- the published store -------------------------------------------------------------------------------
FIGURE_COLUMNS: tuple[str, ...] = (
    "force_id",
    "month",
    "as_of",
    "measure_id",
    "column",
    "value",
    "label",
    "published_at",
    "pack_version",
    "config_hash",
)
VERSION_COLUMNS: tuple[str, ...] = (
    "force_id",
    "month",
    "pack_version",
    "published_at",
    "config_hash",
    "figures_hash",
    "pack_json",
)


def latest_version(wh: Warehouse, force_id: str, month: date) -> Row | None:
    """(pack_version, published_at, figures_hash) of the month's latest published version, or None."""
    rows = wh.query(
        "SELECT pack_version, published_at, figures_hash FROM board_pack_versions "
        "WHERE force_id = {f:String} AND month = {m:Date} ORDER BY pack_version DESC LIMIT 1",
        parameters={"f": force_id, "m": month},
    ).rows
    return rows[0] if rows else None


def insert_figures(wh: Warehouse, rows: Sequence[Sequence[Any]]) -> None:
    """Append published figures to ``board_published`` (rows in :data:`FIGURE_COLUMNS` order)."""
    wh.insert("board_published", rows, FIGURE_COLUMNS)


def insert_version(wh: Warehouse, row: Sequence[Any]) -> None:
    """Append one published pack to ``board_pack_versions`` (a row in :data:`VERSION_COLUMNS` order)."""
    wh.insert("board_pack_versions", [row], VERSION_COLUMNS)


def latest_figures(wh: Warehouse, force_id: str, lo: date, hi: date) -> list[Row]:
    """(measure_id, as_of, column, value, label) of the latest published figure of every measure,
    as-of month ``lo..hi`` and column but ``msf``."""
    return wh.query(
        "SELECT measure_id, as_of, column, value, label FROM board_published_latest "
        "WHERE force_id = {f:String} AND as_of >= {lo:Date} AND as_of <= {hi:Date} AND column != 'msf' "
        "ORDER BY measure_id, as_of, column",
        parameters={"f": force_id, "lo": lo, "hi": hi},
    ).rows


def versions(wh: Warehouse, force_id: str) -> list[Row]:
    """(month, pack_version, published_at, config_hash) of every published version of ``force_id``."""
    return wh.query(
        "SELECT month, pack_version, published_at, config_hash FROM board_pack_versions "
        "WHERE force_id = {f:String} ORDER BY month, pack_version",
        parameters={"f": force_id},
    ).rows


def version_pack_json(wh: Warehouse, force_id: str, month: date, version: int) -> str | None:
    """The stored pack JSON of version ``version`` of ``month``, or None."""
    rows = wh.query(
        "SELECT pack_json FROM board_pack_versions WHERE force_id = {f:String} AND month = {m:Date} "
        "AND pack_version = {v:UInt32} LIMIT 1",
        parameters={"f": force_id, "m": month, "v": version},
    ).rows
    return str(rows[0][0]) if rows else None


def version_definition_hashes(wh: Warehouse, force_id: str) -> list[Row]:
    """(month, pack_version, metric definitions' config hash) of every published version."""
    return wh.query(
        "SELECT month, pack_version, JSONExtractString(pack_json, 'definitions', 'metrics', 'config_hash') "
        "FROM board_pack_versions WHERE force_id = {f:String}",
        parameters={"f": force_id},
    ).rows


def figure_sources(wh: Warehouse, force_id: str) -> list[Row]:
    """(measure_id, as_of, column, pack_month, latest_pack_version) of every latest published figure."""
    return wh.query(
        "SELECT measure_id, as_of, column, pack_month, latest_pack_version FROM board_published_latest "
        "WHERE force_id = {f:String}",
        parameters={"f": force_id},
    ).rows


def latest_pack_json(wh: Warehouse, force_id: str) -> str | None:
    """The pack JSON of the force's latest published version (by publication time), or None."""
    rows = wh.query(
        "SELECT pack_json FROM board_pack_versions WHERE force_id = {f:String} "
        "ORDER BY published_at DESC, month DESC, pack_version DESC LIMIT 1",
        parameters={"f": force_id},
    ).rows
    return str(rows[0][0]) if rows else None


def version_pack(wh: Warehouse, force_id: str, month: date, version: int) -> Row | None:
    """(pack_json, published_at) of version ``version`` of ``month``, or None."""
    rows = wh.query(
        "SELECT pack_json, published_at FROM board_pack_versions WHERE force_id = {f:String} "
        "AND month = {m:Date} AND pack_version = {v:UInt32}",
        parameters={"f": force_id, "m": month, "v": version},
    ).rows
    return rows[0] if rows else None


# -- imported monthly figures ----------------------------------------------------------------------------
IMPORTED_COLUMNS: tuple[str, ...] = (
    "force_id",
    "measure_id",
    "month",
    "numerator",
    "n",
    "source",
    "as_of",
    "imported_at",
    "version",
)


def insert_imported(wh: Warehouse, rows: Sequence[Sequence[Any]]) -> None:
    """Append validated import rows to ``imported_monthly`` (rows in :data:`IMPORTED_COLUMNS` order)."""
    wh.insert("imported_monthly", rows, IMPORTED_COLUMNS)
