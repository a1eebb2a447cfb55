"""The statements of the trend readers (``demandhub/queries/trends.py``): contacts queued and the
queue counters per queue per 15 minutes, the first 15-minute slot held, and the handle time and
patience inputs of recent days.

The slots are the contact queue rollup's rows under the definitions given
(:func:`sinks.clickhouse.contacts_sql.rollup_rows`: the rollup's rows of their hash, or the same rows
computed from the facts), read without waiting for a lazy refresh."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.contacts_sql import rollup_rows
from sinks.clickhouse.rollups_contacts import QUEUE_ROLLUP

_SLOTS_SQL = (
    "SELECT queue, bucket, sum(entered), sum(answered), sum(answered_within_threshold), sum(abandoned), "
    "sum(abandoned_within_threshold), sum(abandoned_short), sum(callbacks) "
    "FROM {rows} WHERE queue IN {q:Array(String)} GROUP BY queue, bucket"
)
_FIRST_SQL = "SELECT queue, min(bucket) FROM {rows} WHERE queue IN {q:Array(String)} GROUP BY queue"
_MEASURES_SQL = (
    "SELECT queue, countIf(outcome = 'answered' OR (answered_at IS NOT NULL)), "
    "avgIf(dateDiff('millisecond', answered_at, coalesce(transferred_out_at, contact_ended_at)) / 1000, "
    "answered_at IS NOT NULL AND coalesce(transferred_out_at, contact_ended_at) IS NOT NULL), "
    "countIf(abandoned_in_queue), sumIf(wait_seconds, entered_queue AND wait_seconds IS NOT NULL) "
    "FROM contact_legs FINAL WHERE force_id = {f:String} AND placed_at >= {lo:DateTime64(3, 'UTC')} "
    "AND placed_at < {now:DateTime64(3, 'UTC')} AND queue IN {q:Array(String)} GROUP BY queue"
)


def slot_rows(
    wh: Warehouse,
    force_id: str,
    lo: datetime,
    hi: datetime,
    queues: Sequence[str],
    definitions: Definitions,
) -> list[tuple[Any, ...]]:
    """(queue, bucket, entered, answered, answered within threshold, abandoned, abandoned within
    threshold, short abandons, callbacks) of every 15-minute bucket in ``[lo, hi)`` (naive UTC) of
    ``queues`` that saw a contact, under ``definitions``."""
    rows, extra = rollup_rows(wh, QUEUE_ROLLUP, definitions, fresh=False)
    values: dict[str, Any] = {"f": force_id, "lo": lo, "hi": hi, "q": list(queues), **extra}
    return wh.query(_SLOTS_SQL.replace("{rows}", rows), parameters=values).rows


def first_slot_rows(
    wh: Warehouse, force_id: str, queues: Sequence[str], definitions: Definitions
) -> list[tuple[Any, ...]]:
    """(queue, first 15-minute bucket held) of each of ``queues`` with any."""
    rows, extra = rollup_rows(wh, QUEUE_ROLLUP, definitions, bounded=False, fresh=False)
    values: dict[str, Any] = {"f": force_id, "q": list(queues), **extra}
    return wh.query(_FIRST_SQL.replace("{rows}", rows), parameters=values).rows


def measure_rows(
    wh: Warehouse, force_id: str, lo: datetime, now: datetime, queues: Sequence[str]
) -> list[tuple[Any, ...]]:
    """(queue, answered, mean handle seconds, abandoned while queued, seconds waited by queued legs)
    of the legs placed in ``[lo, now)`` per queue of ``queues``."""
    values: dict[str, Any] = {"f": force_id, "lo": lo, "now": now, "q": list(queues)}
    return wh.query(_MEASURES_SQL, parameters=values).rows
