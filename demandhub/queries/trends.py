"""Trend readers: offered contacts and service level per queue per 15 minutes, and the handle time and
patience the staffing maths needs.

Every function takes a :class:`~sinks.clickhouse.client.Warehouse` and plain parameters and returns
plain data (UTC datetimes, counts). Offered per 15 minutes is the rollup's ``entered`` (contacts
queued, by queue-entry time, the volume the forecast is made of); a slot carries the queue's
counters, so its service level is the one rule (``streams.domain.servicelevel.service_level``) under
the definitions given (threshold, short abandons, abandon convention, callbacks): the rollup's rows of
their hash, or the same rows computed from the facts (:mod:`sinks.clickhouse.trends_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.definitions import Definitions
from sinks.clickhouse import trends_sql
from sinks.clickhouse.client import Warehouse
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
    defs = definitions or Definitions()
    out: dict[str, dict[datetime, SlotCounts]] = {q: {} for q in queues}
    for queue, bucket, *counts in trends_sql.slot_rows(wh, force_id, _naive(lo), _naive(hi), queues, defs):
        if queue in out:
            counters = QueueCounters(*(int(n) for n in counts))
            out[queue][as_utc(bucket)] = SlotCounts(counters.entered, counters)
    return out


def history_starts(
    wh: Warehouse, force_id: str, queues: tuple[str, ...], definitions: Definitions | None = None
) -> dict[str, datetime]:
    """Per queue, the first 15-minute slot the warehouse holds (earlier weeks are unknown, not zero)."""
    out: dict[str, datetime] = {}
    for queue, first in trends_sql.first_slot_rows(wh, force_id, queues, definitions or Definitions()):
        if first is not None:
            out[str(queue)] = as_utc(first)
    return out


def queue_measures(
    wh: Warehouse, force_id: str, now: datetime, days: int, queues: tuple[str, ...]
) -> dict[str, QueueMeasures]:
    """Per queue over the last ``days``: answered, mean handle time, abandons and time waited."""
    out = {q: QueueMeasures(0, None, 0, 0.0) for q in queues}
    rows = trends_sql.measure_rows(wh, force_id, now - timedelta(days=days), now, queues)
    for queue, answered, handle, abandoned, waited in rows:
        if queue not in out:
            continue
        h = float(handle) if handle is not None and handle == handle and int(answered) > 0 else None
        out[queue] = QueueMeasures(int(answered), h, int(abandoned), float(waited or 0.0))
    return out
