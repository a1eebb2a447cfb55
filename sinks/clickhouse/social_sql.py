"""The social media definitions as SQL, written once: every reader of ``social_threads`` (the board's
monthly cells, the wallboard, lineage) applies the ``social`` definitions at read time through these
fragments and :func:`social_params`, so the facts keep raw times only and a change of definition
needs no replay.

Query parameters (all named ``d_*``):
- ``d_target_seconds`` (UInt32): ``social.first_response_target_minutes`` in seconds;
- ``d_short_abandon_seconds`` (UInt32): ``social.short_abandon_minutes`` in seconds;
- ``d_received_basis`` (UInt8): 1 when ``social.target_basis`` is ``received``.

The statements of the social readers (``demandhub/queries/social.py``) are here too, behind named
functions that take the warehouse and plain parameters and return plain rows: :func:`monthly_rows`,
:func:`thread_rows`, :func:`live_row` and :func:`waiting_by_platform`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse

WITHIN_TARGET = "(first_response_seconds IS NOT NULL AND first_response_seconds <= {d_target_seconds:UInt32})"
"""The thread's first response came within the target."""

SHORT_ABANDON = "(abandoned AND abandon_seconds < {d_short_abandon_seconds:UInt32})"
"""Closed by the public, before any response, within the short-abandon threshold (sent in error)."""

COUNTED_ABANDON = "(abandoned AND abandon_seconds >= {d_short_abandon_seconds:UInt32})"
"""An abandon that counts: closed by the public before any response, not a short abandon."""

TARGET_DENOMINATOR = (
    "if({d_received_basis:UInt8} = 1, NOT " + SHORT_ABANDON + ", first_response_seconds IS NOT NULL)"
)
"""In the first-response target's denominator: responded threads, or (received basis) every thread
except short abandons."""

RESOLVED = "(closed_by = 'handler')"
"""Closed by a handler with a disposition."""

RESOLVED_WITHOUT_INCIDENT = "(closed_by = 'handler' AND disposition != 'incident_created')"


def social_params(definitions: Definitions) -> dict[str, Any]:
    """The ``d_*`` query parameters of the fragments above under ``definitions``."""
    social = definitions.social
    return {
        "d_target_seconds": social.first_response_target_minutes * 60,
        "d_short_abandon_seconds": social.short_abandon_minutes * 60,
        "d_received_basis": 1 if social.target_basis == "received" else 0,
    }


# -- reads -------------------------------------------------------------------------------------------
# Every statement the social readers (``demandhub/queries/social.py``) run against the warehouse.

_MONTH = "toStartOfMonth(toTimeZone(received_at, {tz:String}))"

_THREAD_COLUMNS = f"""
    {_MONTH} AS month,
    {WITHIN_TARGET} AS within,
    {TARGET_DENOMINATOR} AS in_target_den,
    first_response_seconds / 60 AS minutes,
    {RESOLVED} AS resolved,
    {RESOLVED_WITHOUT_INCIDENT} AS without_incident,
    {COUNTED_ABANDON} AS abandon,
    {SHORT_ABANDON} AS short_abandon"""

_FILTER = "force_id = {f:String} AND month BETWEEN {first:Date} AND {last:Date}"

_MONTHLY_SQL = f"""
SELECT month, count() AS received,
       countIf(within) AS within, countIf(in_target_den) AS target_den,
       countIf(minutes IS NOT NULL) AS responded, sumIf(minutes, minutes IS NOT NULL) AS mins,
       sumIf(minutes * minutes, minutes IS NOT NULL) AS mins_sq,
       countIf(resolved) AS resolved, countIf(without_incident) AS without_incident,
       countIf(abandon) AS abandoned, countIf(short_abandon) AS short
FROM (SELECT force_id, {_THREAD_COLUMNS} FROM social_threads FINAL)
WHERE {_FILTER}
GROUP BY month ORDER BY month
"""

_ROWS_SQL = f"""
SELECT thread_id, received_at, first_response_at, closed_at, {_THREAD_COLUMNS}
FROM social_threads FINAL
WHERE {_FILTER}
ORDER BY thread_id
"""

_LIVE_SQL = f"""
SELECT
    countIf(closed_at IS NULL AND first_response_at IS NULL AND received_at <= {{now:DateTime64(3)}}) AS waiting,
    minIf(received_at, closed_at IS NULL AND first_response_at IS NULL AND received_at <= {{now:DateTime64(3)}})
        AS oldest,
    countIf(closed_at IS NULL AND first_response_at IS NULL
        AND dateDiff('second', received_at, {{now:DateTime64(3)}}) > {{d_target_seconds:UInt32}}) AS over_target,
    countIf(received_at >= {{start:DateTime64(3)}} AND received_at <= {{now:DateTime64(3)}}) AS received_today,
    countIf(first_response_at >= {{start:DateTime64(3)}} AND first_response_at <= {{now:DateTime64(3)}})
        AS responded_today,
    countIf(first_response_at >= {{start:DateTime64(3)}} AND first_response_at <= {{now:DateTime64(3)}}
        AND {WITHIN_TARGET}) AS within_today,
    countIf(closed_at >= {{start:DateTime64(3)}} AND closed_at <= {{now:DateTime64(3)}} AND {COUNTED_ABANDON})
        AS abandoned_today
FROM social_threads FINAL
WHERE force_id = {{f:String}} AND received_at <= {{now:DateTime64(3)}}
"""

_WAITING_BY_PLATFORM_SQL = """
SELECT platform, count() AS waiting, min(received_at) AS oldest
FROM social_threads FINAL
WHERE force_id = {f:String} AND closed_at IS NULL AND first_response_at IS NULL
  AND received_at <= {now:DateTime64(3)}
GROUP BY platform ORDER BY platform
"""


def _month_params(force_id: str, first: date, last: date, definitions: Definitions) -> dict[str, Any]:
    return {
        "f": force_id,
        "tz": definitions.timezone,
        "first": first,
        "last": last,
        **social_params(definitions),
    }


def monthly_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """Per local month of receipt from ``first`` to ``last`` (first days of months), in month order:
    ``month``, ``received``, ``within``, ``target_den``, ``responded``, ``mins``, ``mins_sq``,
    ``resolved``, ``without_incident``, ``abandoned`` (counted abandons) and ``short`` (short
    abandons), under ``definitions``; months with no thread are absent."""
    return wh.query(_MONTHLY_SQL, parameters=_month_params(force_id, first, last, definitions)).dicts()


def thread_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """One row per thread received in the local months ``first``..``last`` (first days of months),
    by thread id: ``thread_id``, ``received_at``, ``first_response_at``, ``closed_at``, ``month`` and
    the read-time flags :func:`monthly_rows` counts (``within``, ``in_target_den``, ``minutes``,
    ``resolved``, ``without_incident``, ``abandon``, ``short_abandon``)."""
    return wh.query(_ROWS_SQL, parameters=_month_params(force_id, first, last, definitions)).dicts()


def live_row(
    wh: Warehouse, force_id: str, now: datetime, start: datetime, definitions: Definitions
) -> dict[str, Any]:
    """The desk at ``now``: ``waiting`` (no first response, not closed), ``oldest`` (their earliest
    receipt), ``over_target``, and since ``start``: ``received_today``, ``responded_today``,
    ``within_today`` and ``abandoned_today`` (counted abandons)."""
    params = {"f": force_id, "now": now, "start": start, **social_params(definitions)}
    return wh.query(_LIVE_SQL, parameters=params).dicts()[0]


def waiting_by_platform(wh: Warehouse, force_id: str, now: datetime) -> list[dict[str, Any]]:
    """Per platform with threads waiting for a first response at ``now``: ``platform``,
    ``waiting`` and ``oldest`` (the earliest receipt), by platform."""
    return wh.query(_WAITING_BY_PLATFORM_SQL, parameters={"f": force_id, "now": now}).dicts()
