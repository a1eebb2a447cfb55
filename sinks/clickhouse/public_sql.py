"""The public dashboard's statements against the warehouse, written once: per month and area, the
999 answer-time bands, emergency attendance against target and crime outcomes under the definitions
given (the same fragments as every other reader), and the months the board has published. Each
function takes the warehouse and plain values and returns plain rows;
:mod:`demandhub.board.warehouse.public` lays them out and suppresses small counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from schemas.definitions import Definitions
from sinks.clickhouse import contacts_sql
from sinks.clickhouse import crimes_sql as cs
from sinks.clickhouse import incidents_sql as isql
from sinks.clickhouse.client import Warehouse

_CALLS_LEGS = contacts_sql.legs_from("force_id = {f:String} AND queue = '999' AND outcome = 'answered'")
_CALLS_SQL = f"""
SELECT toStartOfMonth(toDate(placed_at, {{tz:String}})) AS month, district AS area,
       countIf(service_wait_seconds < {{b1:UInt32}}) AS under_10s,
       countIf(service_wait_seconds >= {{b1:UInt32}} AND service_wait_seconds < {{b2:UInt32}}) AS from_10s_to_under_60s,
       countIf(service_wait_seconds >= {{b2:UInt32}}) AS s60_and_over,
       sum(service_wait_seconds) AS wait_sum
FROM {_CALLS_LEGS}
WHERE service_wait_seconds IS NOT NULL AND month BETWEEN {{first:Date}} AND {{last:Date}}
GROUP BY month, area
"""
"""999 answer-time bands at the first two 999 edges of ``calls.band_edges_seconds`` (the police.uk
publication's 10 and 60 seconds by default; the column names keep those), on the service clock of
the definitions (``calls.clock_start_999``): sinks/clickhouse/contacts_sql.py."""


_ATTEND_FACTS = isql.source(
    "force_id = {f:String} AND created_at IS NOT NULL AND grade_at_arrival = 'IMMEDIATE' "
    "AND urban_rural IN ('urban', 'rural')"
)
_ATTEND_SQL = f"""
SELECT toStartOfMonth(toTimeZone(assumeNotNull(created_at), {{tz:String}})) AS month, ifNull(district, '') AS area,
       countIf(urban_rural = 'urban' AND {isql.WITHIN_TARGET}) AS urban_within,
       countIf(urban_rural = 'urban' AND NOT {isql.WITHIN_TARGET}) AS urban_over,
       countIf(urban_rural = 'rural' AND {isql.WITHIN_TARGET}) AS rural_within,
       countIf(urban_rural = 'rural' AND NOT {isql.WITHIN_TARGET}) AS rural_over,
       sum({isql.RESPONSE_SECONDS}) AS response_sum
FROM {_ATTEND_FACTS}
WHERE {isql.IN_RESPONSE} AND {isql.TARGET_SECONDS} IS NOT NULL
  AND month BETWEEN {{first:Date}} AND {{last:Date}}
GROUP BY month, area
"""
_RECORDED_SQL = f"""
SELECT {cs.PERIOD_MONTH} AS month, ifNull(district, '') AS area,
       count() AS recorded, countIf({cs.PROSECUTION_POSSIBLE}) AS resolved_cohort
FROM crimes FINAL
WHERE force_id = {{f:String}} AND counted AND recorded_at IS NOT NULL
  AND month BETWEEN {{first:Date}} AND {{last:Date}}
GROUP BY month, area
"""
_RESOLVED_SQL = f"""
SELECT {cs.OUTCOME_MONTH} AS month, ifNull(district, '') AS area, countIf({cs.PROSECUTION_POSSIBLE}) AS resolved
FROM crimes FINAL
WHERE force_id = {{f:String}} AND counted AND outcome_assigned_at IS NOT NULL
  AND month BETWEEN {{first:Date}} AND {{last:Date}}
GROUP BY month, area
"""
_PUBLISHED_SQL = """
SELECT month, max(published_at) FROM board_pack_versions WHERE force_id = {f:String} GROUP BY month
"""
_HISTORY_SQL = """
SELECT measure_id, as_of, pack_version, published_at, value FROM board_published
WHERE force_id = {f:String} AND column = 'current' AND measure_id IN {ms:Array(String)}
ORDER BY measure_id, as_of, pack_version
"""


def answer_time_rows(
    wh: Warehouse, force_id: str, definitions: Definitions, first: date, last: date, b1: int, b2: int
) -> list[dict[str, Any]]:
    """(month, area, the three band counts, wait_sum) of answered 999 legs, months ``first..last``
    in the definitions' timezone, bands at ``b1`` and ``b2`` seconds."""
    params = {
        "f": force_id,
        "tz": definitions.timezone,
        "first": first,
        "last": last,
        "b1": b1,
        "b2": b2,
        **contacts_sql.params(definitions),
    }
    return wh.query(_CALLS_SQL, parameters=params).dicts()


def attendance_rows(
    wh: Warehouse, force_id: str, definitions: Definitions, first: date, last: date
) -> list[dict[str, Any]]:
    """(month, area, urban/rural within and over target, response_sum) of IMMEDIATE attendances,
    months ``first..last`` in the definitions' timezone."""
    params = {"f": force_id, "tz": definitions.timezone, "first": first, "last": last}
    return wh.query(_ATTEND_SQL, parameters={**params, **isql.params(definitions)}).dicts()


def crime_outcome_rows(
    wh: Warehouse, force_id: str, definitions: Definitions, first: date, last: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(recorded rows: month, area, recorded, resolved_cohort; resolved rows: month, area,
    resolved) of counted crimes, months ``first..last``."""
    params = {"f": force_id, "first": first, "last": last, **cs.params(definitions)}
    recorded = wh.query(_RECORDED_SQL, parameters=params).dicts()
    resolved = wh.query(_RESOLVED_SQL, parameters=params).dicts()
    return recorded, resolved


def published_pack_months(wh: Warehouse, force_id: str) -> list[tuple[Any, ...]]:
    """(month, latest published_at) of every month the board has published for ``force_id``."""
    return wh.query(_PUBLISHED_SQL, parameters={"f": force_id}).rows


def current_history(wh: Warehouse, force_id: str, measure_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """(measure_id, as_of, pack_version, published_at, value) of every published ``current`` figure
    of ``measure_ids``, in publication order."""
    return wh.query(_HISTORY_SQL, parameters={"f": force_id, "ms": list(measure_ids)}).rows
