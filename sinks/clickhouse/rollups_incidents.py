"""Recompute the ``incidents_hourly`` rollup for the hours touched by rewritten incident rows.

Contract (:mod:`sinks.clickhouse.rollups` decides when): the set of (force, creation hour) buckets
of the OLD and NEW versions of rewritten ``incidents`` rows is recomputed from ``incidents FINAL``
under some definitions, touching only rows of their hash (``definition_hash``). Every existing row of those buckets is first tombstoned
(``is_deleted = 1`` at version v), then the recomputed rows are inserted at version v + 1, so a bucket
an incident left (or that emptied) leaves no stale row. Readers use ``FINAL``. Recomputing from the
de-duplicated facts makes a replayed batch harmless.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from schemas.definitions import Definitions
from sinks.clickhouse import incidents_sql as isql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import Row
from sinks.clickhouse.times import as_utc

GROUPS: tuple[str, ...] = ("incidents",)
"""Definition groups ``incidents_hourly`` depends on (its rows carry this groups' hash)."""


def params(definitions: Definitions) -> dict[str, Any]:
    """Query parameters (``d_*``) the measure expressions read, from the definitions applied
    (:func:`sinks.clickhouse.incidents_sql.params`)."""
    return isql.params(definitions)


def query_params(definitions: Definitions) -> dict[str, Any]:
    """Parameters of the recompute SELECT under ``definitions`` (``dh``: their hash)."""
    return {**params(definitions), "dh": definitions.group_hash(*GROUPS)}


KEYS = ("force_id", "hour", "first_grade", "final_grade", "arrival_grade", "district", "area", "urban_rural")

_MIX = "NOT duplicate AND NOT cancelled"
_RESP = isql.IN_RESPONSE
_SECS = f"assumeNotNull({isql.RESPONSE_SECONDS})"
_RESP_G = isql.IN_RESPONSE_GRADED
_SECS_G = f"assumeNotNull({isql.GRADED_RESPONSE_SECONDS})"

# Figures under the definitions of the row's hash: resp_* by the configured response clock, resp_g_*
# by the graded clock (shown beside it by the analyst views), both over the response population
# (self-initiated left out when so defined) with the defined targets; asb by the ASB basis. Both
# mental-health bases and the first / final / arrival grades stay apart: readers apply their bases.
MEASURES: tuple[tuple[str, str], ...] = (
    ("incidents", "countIf(NOT duplicate)"),
    ("duplicates", "countIf(duplicate)"),
    ("cancelled", "countIf(cancelled AND NOT duplicate)"),
    ("self_initiated", "countIf(self_initiated AND NOT duplicate)"),
    ("mix_base", f"countIf({_MIX})"),
    ("mix_da_opening", f"countIf({_MIX} AND domestic_abuse_opening)"),
    ("regraded", f"countIf({_MIX} AND regrade_count > 0)"),
    ("upgraded", f"countIf({_MIX} AND upgraded)"),
    ("downgraded", f"countIf({_MIX} AND downgraded)"),
    ("immediate_downgraded", f"countIf({_MIX} AND immediate_downgraded)"),
    ("regrades", f"sumIf(regrade_count, {_MIX})"),
    ("mental_health_now", "countIf(NOT duplicate AND mental_health_now)"),
    ("mental_health_ever", "countIf(NOT duplicate AND mental_health_ever)"),
    ("asb", f"countIf(NOT duplicate AND {isql.ASB})"),
    ("domestic_abuse", "countIf(NOT duplicate AND (domestic_abuse_opening OR domestic_abuse_ever))"),
    ("hate", "countIf(NOT duplicate AND hate)"),
    ("attended", f"countIf({_MIX} AND first_arrival_at IS NOT NULL)"),
    ("never_attended", f"countIf({_MIX} AND first_arrival_at IS NULL AND status = 'closed')"),
    ("open_unattended", f"countIf({_MIX} AND first_arrival_at IS NULL AND status = 'open')"),
    ("resp_n", f"countIf({_RESP})"),
    ("resp_sum_s", f"sumIf({_SECS}, {_RESP})"),
    ("resp_sumsq_s", f"sumIf(pow({_SECS}, 2), {_RESP})"),
    ("resp_target_n", f"countIf({_RESP} AND {isql.TARGET_SECONDS} IS NOT NULL)"),
    ("resp_within_n", f"countIf({isql.WITHIN_TARGET})"),
    ("resp_q", f"quantilesExactInclusiveStateIf(0.5, 0.9)({_SECS}, {_RESP})"),
    ("resp_g_n", f"countIf({_RESP_G})"),
    ("resp_g_sum_s", f"sumIf({_SECS_G}, {_RESP_G})"),
    ("resp_g_sumsq_s", f"sumIf(pow({_SECS_G}, 2), {_RESP_G})"),
    ("resp_g_target_n", f"countIf({_RESP_G} AND {isql.TARGET_SECONDS} IS NOT NULL)"),
    (
        "resp_g_within_n",
        f"countIf({_RESP_G} AND {isql.GRADED_RESPONSE_SECONDS} <= {isql.TARGET_SECONDS})",
    ),
    ("resp_g_q", f"quantilesExactInclusiveStateIf(0.5, 0.9)({_SECS_G}, {_RESP_G})"),
)

_HOUR = "toStartOfHour(toDateTime(assumeNotNull(created_at), 'UTC'))"
_KEY_EXPR = {
    "force_id": "force_id",
    "hour": _HOUR,
    "first_grade": "ifNull(first_grade, '')",
    "final_grade": "ifNull(final_grade, '')",
    "arrival_grade": "ifNull(grade_at_arrival, '')",
    "district": "ifNull(district, '')",
    "area": "ifNull(area, '')",
    "urban_rural": "ifNull(urban_rural, '')",
}


def _hour_of(value: datetime) -> datetime:
    return as_utc(value).replace(minute=0, second=0, microsecond=0)


def touched_buckets(rows: Iterable[Row]) -> dict[str, set[datetime]]:
    """Creation hours (UTC) per force of ``rows``; rows without a creation time touch none."""
    found: dict[str, set[datetime]] = defaultdict(set)
    for row in rows:
        created = row.get("created_at")
        if created is not None:
            found[str(row["force_id"])].add(_hour_of(created))
    return found


def _tombstone_sql() -> str:
    keys = ", ".join(KEYS)
    return (
        f"INSERT INTO incidents_hourly ({keys}, definition_hash, is_deleted, version) "
        f"SELECT {keys}, definition_hash, 1, {{v:UInt64}} FROM incidents_hourly FINAL "
        "WHERE force_id = {f:String} AND definition_hash = {dh:String} "
        "AND hour IN {h:Array(DateTime('UTC'))}"
    )


QUARTER_HOUR = "toStartOfFifteenMinutes(toDateTime(assumeNotNull(created_at), 'UTC'))"
"""A finer bucket for the ``hour`` key: a month of a zone whose offset is not a whole number of
hours (UTC+5:30, +5:45) starts on a quarter hour, never inside one."""


def select_sql(where: str = "1", bucket: str = _HOUR) -> str:
    """Rows of ``incidents_hourly`` (keys ``k_*``, measures ``m_*``) computed from the facts
    matching ``where`` under the parameters of :func:`query_params`: the refresh inserts it, and a
    reader whose definitions the rollup is not complete under reads it instead of the rollup.
    ``bucket`` replaces the creation hour (e.g. :data:`QUARTER_HOUR`) for such a reader."""
    # Aliases are prefixed: an alias equal to a column name would replace that column elsewhere.
    keys = {**_KEY_EXPR, "hour": bucket}
    exprs = [f"{keys[k]} AS k_{k}" for k in KEYS] + [f"{e} AS m_{m}" for m, e in MEASURES]
    return (
        f"SELECT {', '.join(exprs)} FROM {isql.source(f'created_at IS NOT NULL AND ({where})')} "
        f"GROUP BY {', '.join(f'k_{k}' for k in KEYS)}"
    )


def rollup_rows_sql(where: str = "1", bucket: str = _HOUR) -> str:
    """:func:`select_sql` with the rollup's own column names (a reader's bypass of the rollup)."""
    names = [*(f"k_{k} AS {k}" for k in KEYS), *(f"m_{m} AS {m}" for m, _ in MEASURES)]
    return f"SELECT {', '.join(names)} FROM ({select_sql(where, bucket)})"


def _recompute_sql() -> str:
    names = [*KEYS, *(m for m, _ in MEASURES)]
    where = f"force_id = {{f:String}} AND {_HOUR} IN {{h:Array(DateTime('UTC'))}}"
    return (
        f"INSERT INTO incidents_hourly ({', '.join(names)}, definition_hash, is_deleted, version) "
        f"SELECT *, {{dh:String}}, 0, {{v:UInt64}} FROM ({select_sql(where)})"
    )


def refresh_buckets(
    wh: Warehouse, force_id: str, hours: set[datetime], version: int, definitions: Definitions
) -> None:
    """Recompute these creation hours of one force of ``incidents_hourly`` from the facts under
    ``definitions``: tombstones at ``version``, rows at ``version + 1`` (a version read from the
    warehouse's own clock, see :mod:`sinks.clickhouse.rollups`)."""
    if not hours:
        return
    params = {"f": force_id, "h": sorted(hours), **query_params(definitions)}
    with wh.exclusive():
        wh.command(_tombstone_sql(), parameters={**params, "v": version})
        wh.command(_recompute_sql(), parameters={**params, "v": version + 1})


def _range_sqls() -> tuple[str, str]:
    keys = ", ".join(KEYS)
    tombstone = (
        f"INSERT INTO incidents_hourly ({keys}, definition_hash, is_deleted, version) "
        f"SELECT {keys}, definition_hash, 1, {{v:UInt64}} FROM incidents_hourly FINAL "
        "WHERE force_id = {f:String} AND definition_hash = {dh:String} "
        "AND hour >= {lo:DateTime('UTC')} AND hour < {hi:DateTime('UTC')}"
    )
    names = [*KEYS, *(m for m, _ in MEASURES)]
    where = (
        "force_id = {f:String} AND created_at >= {lo:DateTime('UTC')} AND created_at < {hi:DateTime('UTC')}"
    )
    recompute = (
        f"INSERT INTO incidents_hourly ({', '.join(names)}, definition_hash, is_deleted, version) "
        f"SELECT *, {{dh:String}}, 0, {{v:UInt64}} FROM ({select_sql(where)})"
    )
    return tombstone, recompute


def refresh_range(
    wh: Warehouse, force_id: str, start: datetime, end: datetime, version: int, definitions: Definitions
) -> None:
    """:func:`refresh_buckets` of every creation hour from ``start`` (included) to ``end``
    (excluded), both whole hours (a replay's months), by a time range instead of a list of hours."""
    lo, hi = (as_utc(t).replace(tzinfo=None) for t in (start, end))
    params = {"f": force_id, "lo": lo, "hi": hi, **query_params(definitions)}
    tombstone, recompute = _range_sqls()
    with wh.exclusive():
        wh.command(tombstone, parameters={**params, "v": version})
        wh.command(recompute, parameters={**params, "v": version + 1})


def all_buckets(wh: Warehouse) -> dict[str, set[datetime]]:
    """Every (force, creation hour) the incident facts cover (for a rebuild)."""
    found: dict[str, set[datetime]] = defaultdict(set)
    sql = f"SELECT DISTINCT force_id, {_HOUR} FROM incidents FINAL WHERE created_at IS NOT NULL"
    for force_id, hour in wh.query(sql).rows:
        found[str(force_id)].add(_hour_of(hour))
    return found


_LINKED_HOURS_SQL = f"""
SELECT DISTINCT {_HOUR} FROM incidents FINAL
WHERE force_id = {{f:String}} AND created_at IS NOT NULL AND (
    incident_id IN (SELECT incident_id FROM contacts FINAL WHERE force_id = {{f:String}} AND incident_id != ''
        AND toStartOfFifteenMinutes(placed_at) IN {{b:Array(DateTime('UTC'))}})
    OR ifNull(contact_id, '') IN (SELECT contact_id FROM contacts FINAL WHERE force_id = {{f:String}}
        AND toStartOfFifteenMinutes(placed_at) IN {{b:Array(DateTime('UTC'))}}))
"""


def hours_linked_to_contacts(
    wh: Warehouse, force_id: str, buckets: set[datetime], definitions: Definitions
) -> set[datetime]:
    """Creation hours of the incidents linked to the contacts of these 15-minute contact buckets
    (either way), when the response clock starts at the linked contact's offer: a contact whose
    offer arrives after its incident's events moves that incident's hour, so the hour is refreshed
    with the contact's bucket. Under any other clock, none."""
    if definitions.incidents.response_clock != "contact_offered" or not buckets:
        return set()
    starts = sorted(as_utc(b) for b in buckets)
    params = {"f": force_id, "b": starts}
    return {_hour_of(h) for (h,) in wh.query(_LINKED_HOURS_SQL, parameters=params).rows}
