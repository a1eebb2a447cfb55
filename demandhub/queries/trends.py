"""Trend readers: offered contacts and service level per queue per 15 minutes, and the handle time and
patience the staffing maths needs.

Every function takes a :class:`~sinks.clickhouse.client.Warehouse` and plain parameters and returns
plain data (UTC datetimes, counts). Offered per 15 minutes is the rollup's ``entered`` (contacts
queued, by queue-entry time, the volume the forecast is made of); a slot carries the queue's
counters, so its service level is the one rule (``streams.domain.servicelevel.service_level``) under
the definitions given (threshold, short abandons, abandon convention, callbacks): the rollup's rows of
their hash, or the same rows computed from the facts (:func:`demandhub.queries.contacts.rollup_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from demandhub.queries.contacts import rollup_rows
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups_contacts import QUEUE_ROLLUP
from sinks.clickhouse.times import as_utc
from streams.domain.servicelevel import QueueCounters


@dataclass(frozen=True)
class SlotCounts:
    """One queue's counts in one 15-minute slot."""

    offered: int
    counters: QueueCounters


@dataclass(frozen=True)
class QueueMeasures:
    """Measured over recent days: mean handle time and the patience inputs (censored waits)."""

    answered: int
    handle_seconds: float | None  # answer to end of the leg (transfer out or end of contact)
    abandoned: int  # abandoned while queued (short abandons included: they are impatience too)
    waited_seconds: float  # total time waited by every queued contact that left the queue


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


def _naive(value: datetime) -> datetime:
    """Naive UTC, as a DateTime('UTC') parameter."""
    return as_utc(value).replace(tzinfo=None)


def queue_slots(
    wh: Warehouse,
    force_id: str,
    lo: datetime,
    hi: datetime,
    queues: tuple[str, ...],
    definitions: Definitions | None = None,
) -> dict[str, dict[datetime, SlotCounts]]:
    """Per queue, the counts of every 15-minute slot in ``[lo, hi)`` that saw a contact, under
    ``definitions`` (default: the defaults)."""
    rows, extra = rollup_rows(wh, QUEUE_ROLLUP, definitions or Definitions(), fresh=False)
    params: dict[str, Any] = {"f": force_id, "lo": _naive(lo), "hi": _naive(hi), "q": list(queues), **extra}
    out: dict[str, dict[datetime, SlotCounts]] = {q: {} for q in queues}
    sql = _SLOTS_SQL.replace("{rows}", rows)
    for queue, bucket, *counts in wh.query(sql, parameters=params).rows:
        if queue in out:
            counters = QueueCounters(*(int(n) for n in counts))
            out[queue][as_utc(bucket)] = SlotCounts(counters.entered, counters)
    return out


def history_starts(
    wh: Warehouse, force_id: str, queues: tuple[str, ...], definitions: Definitions | None = None
) -> dict[str, datetime]:
    """Per queue, the first 15-minute slot the warehouse holds (earlier weeks are unknown, not zero)."""
    rows, extra = rollup_rows(wh, QUEUE_ROLLUP, definitions or Definitions(), bounded=False, fresh=False)
    params: dict[str, Any] = {"f": force_id, "q": list(queues), **extra}
    out: dict[str, datetime] = {}
    for queue, first in wh.query(_FIRST_SQL.replace("{rows}", rows), parameters=params).rows:
        if first is not None:
            out[str(queue)] = as_utc(first)
    return out


def queue_measures(
    wh: Warehouse, force_id: str, now: datetime, days: int, queues: tuple[str, ...]
) -> dict[str, QueueMeasures]:
    """Per queue over the last ``days``: answered, mean handle time, abandons and time waited."""
    params: dict[str, Any] = {"f": force_id, "lo": now - timedelta(days=days), "now": now, "q": list(queues)}
    out = {q: QueueMeasures(0, None, 0, 0.0) for q in queues}
    for queue, answered, handle, abandoned, waited in wh.query(_MEASURES_SQL, parameters=params).rows:
        if queue not in out:
            continue
        h = float(handle) if handle is not None and handle == handle and int(answered) > 0 else None
        out[queue] = QueueMeasures(int(answered), h, int(abandoned), float(waited or 0.0))
    return out
