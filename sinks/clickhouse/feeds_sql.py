"""Feed health's statements against the warehouse, written once: per source system, the last
arrival (and the hour before it) among recent ledger events, and the ledger's event counts per
source in given hour slots. Each function takes the warehouse and plain values and returns plain
rows; :mod:`demandhub.web.feeds` judges them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sinks.clickhouse.client import Warehouse

Row = tuple[Any, ...]

_LAST_SQL = (
    "SELECT source, max(ingest_time) FROM events WHERE force_id = {f:String} "
    "AND time >= {lo:DateTime64(3, 'UTC')} GROUP BY source"
)
_LAST_AND_RECENT_SQL = (
    "SELECT e.source, max(e.ingest_time), countIf(e.ingest_time >= l.last - INTERVAL 1 HOUR) "
    "FROM events AS e INNER JOIN (SELECT source, max(ingest_time) AS last FROM events "
    "WHERE force_id = {f:String} AND time >= {lo:DateTime64(3, 'UTC')} GROUP BY source) AS l "
    "ON e.source = l.source WHERE e.force_id = {f:String} AND e.time >= {lo:DateTime64(3, 'UTC')} "
    "GROUP BY e.source"
)
_HISTORY_SQL = (
    "SELECT source, arrayFirstIndex(s -> time >= s AND time < s + INTERVAL 1 HOUR, "
    "{starts:Array(DateTime64(3, 'UTC'))}) AS slot, count() FROM events "
    "WHERE force_id = {f:String} AND time >= {lo:DateTime64(3, 'UTC')} "
    "AND time < {hi:DateTime64(3, 'UTC')} AND slot > 0 GROUP BY source, slot"
)


def last_arrivals(wh: Warehouse, force_id: str, since: datetime) -> list[Row]:
    """(source, latest ingest time) of every source with an event at or after ``since``."""
    return wh.query(_LAST_SQL, parameters={"f": force_id, "lo": since}).rows


def last_arrivals_and_last_hour(wh: Warehouse, force_id: str, since: datetime) -> list[Row]:
    """(source, latest ingest time, events ingested in the hour before it) of every source with an
    event at or after ``since``."""
    return wh.query(_LAST_AND_RECENT_SQL, parameters={"f": force_id, "lo": since}).rows


def hourly_counts(
    wh: Warehouse, force_id: str, starts: Sequence[datetime], lo: datetime, hi: datetime
) -> list[Row]:
    """(source, slot, events) per source and hour slot: slot i (from 1) is the hour from ``starts[i-1]``;
    events whose time is in ``lo..hi``."""
    params = {"f": force_id, "starts": list(starts), "lo": lo, "hi": hi}
    return wh.query(_HISTORY_SQL, parameters=params).rows
