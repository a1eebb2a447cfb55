"""The crime definitions as ClickHouse SQL, applied when figures are read (DOMAIN 4.8-4.11).

The crime facts (``crimes``, ``crime_outcomes``, ``qa_queue_intervals``, migration 0300/0303) keep
what happened: raw times and the raw outcome type. Every ``definitions.crimes`` choice and the
``timezone`` of months and days is applied by the SQL fragments below, parameterised by query
parameters named ``d_*`` that :func:`params` builds from a :class:`~schemas.definitions.Definitions`.
The board cells, the lineage of a cell, the public dashboard and the live QA/Linking figures all use
these fragments, so changing a definition changes the figures read from the same warehouse, with no
replay. The analyst views of migration 0303 apply the same rules to the worker's active definitions
(``applied_definitions`` row ``active``; view ``crime_definitions_active``).

Fragments over a row of ``crimes`` (read ``FINAL``):

- :data:`PERIOD_AT` / :data:`PERIOD_MONTH`: the instant and local month a crime counts in
  (``crimes.period_basis``: recording, or occurrence falling back to recording when unknown).
- :data:`OUTCOME_MONTH`: the local month the current outcome type was set.
- :data:`RECORDED_MONTH`: the local month of recording (NCRS timeliness is by recording month).
- :data:`PROSECUTION_POSSIBLE`: the (current) outcome type is in ``crimes.prosecution_possible_types``
  (also valid over ``crime_outcomes``, whose ``outcome_type`` is the decision's).
- :data:`SEGMENTS`: the board segments a crime belongs to (all, its group, each flag, each hate strand).
- :data:`OUTCOME_RATE_ROWS`: one row per counted crime and rate month with ``recorded`` (1 in its
  period month) and ``rate_num`` (the numerator of the outcome rate under
  ``crimes.outcome_rate_basis``: ``period`` counts a prosecution-possible outcome in the month it was
  set, ``cohort`` counts it in the crime's own period month).

Over the columns of the view ``crime_first_report`` (migrations 0303, 0501: the first report on any
channel, raw ``hours_to_record``): :data:`WITHIN_NCRS` (recorded within ``crimes.ncrs_hours``).

The QA/Linking snapshot (``crimes.qa_snapshot_time``) is applied by the parameterised view
``qa_queue_daily_p`` with :data:`QA_DAILY_ARGS`.

:data:`RURAL_INCIDENTS`: the incidents rural crime counts besides the crimes with the rural flag
(``crimes.rural_incident_categories``, poaching and hare coursing by default, as the source board
pack): by the category known when read (final if closed, else opening), cancelled and duplicate
incidents left out, in the local month they were created.

The statements of the crime readers (``demandhub/queries/crimes.py``) are here too, behind named
functions that take the warehouse and plain parameters and return plain rows (the board's monthly
figures, the growth drivers' district series, the live and daily QA/Linking queue).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.times import as_utc

TZ = "{d_tz:String}"
"""The calendar of months and days (``definitions.timezone``)."""


def local_month(column: str) -> str:
    """SQL: the first day of the local month (``definitions.timezone``) of instant ``column``
    (NULL when it is NULL)."""
    return f"if(({column}) IS NULL, NULL, toStartOfMonth(toTimeZone(assumeNotNull({column}), {TZ})))"


PERIOD_AT = "if({d_period_basis:String} = 'occurred' AND occurred_at IS NOT NULL, occurred_at, recorded_at)"
PERIOD_MONTH = local_month(PERIOD_AT)
OUTCOME_MONTH = local_month("outcome_assigned_at")
RECORDED_MONTH = local_month("recorded_at")
PROSECUTION_POSSIBLE = "has({d_pp:Array(UInt8)}, outcome_type)"
WITHIN_NCRS = "(hours_to_record IS NOT NULL AND hours_to_record <= {d_ncrs_hours:Float64})"

SEGMENTS = """arrayConcat(['all', offence_group],
    arrayFilter(x -> x != '', [if(domestic_abuse, 'domestic_abuse', ''), if(hate, 'hate', ''),
        if(cyber, 'cyber', ''), if(rural, 'rural', ''), if(modern_slavery, 'modern_slavery', '')]),
    arrayMap(s -> concat('hate_', s), hate_strands))"""

OUTCOME_RATE_ROWS = f"""(
    SELECT force_id, crime_id, {PERIOD_MONTH} AS month, {SEGMENTS} AS segments, district,
           toUInt8(1) AS recorded,
           toUInt8({{d_outcome_rate_basis:String}} = 'cohort' AND {PROSECUTION_POSSIBLE}) AS rate_num
    FROM crimes FINAL
    WHERE counted AND recorded_at IS NOT NULL
    UNION ALL
    SELECT force_id, crime_id, {OUTCOME_MONTH} AS month, {SEGMENTS} AS segments, district,
           toUInt8(0) AS recorded, toUInt8(1) AS rate_num
    FROM crimes FINAL
    WHERE counted AND outcome_assigned_at IS NOT NULL
      AND {{d_outcome_rate_basis:String}} = 'period' AND {PROSECUTION_POSSIBLE}
)"""

QA_DAILY_ARGS = "tz = {d_tz:String}, snap = {d_qa_snapshot:String}"

RURAL_INCIDENTS = f"""(
    SELECT force_id, incident_id, created_at, {local_month("created_at")} AS month,
           coalesce(final_category, opening_category) AS category
    FROM incidents FINAL
    WHERE created_at IS NOT NULL AND status NOT IN ('cancelled', 'duplicate')
      AND has({{d_rural_categories:Array(String)}}, ifNull(coalesce(final_category, opening_category), ''))
)"""


def params(definitions: Definitions) -> dict[str, Any]:
    """The ``d_*`` query parameters of every fragment here, from ``definitions``."""
    crimes = definitions.crimes
    return {
        "d_tz": definitions.timezone,
        "d_period_basis": crimes.period_basis,
        "d_ncrs_hours": float(crimes.ncrs_hours),
        "d_pp": [int(t) for t in crimes.prosecution_possible_types],
        "d_outcome_rate_basis": crimes.outcome_rate_basis,
        "d_qa_snapshot": crimes.qa_snapshot_time,
        "d_rural_categories": list(crimes.rural_incident_categories),
    }


# -- reads -------------------------------------------------------------------------------------------
# Every statement the crime readers (``demandhub/queries/crimes.py``) run against the warehouse.
# ``first`` and ``last`` are the first days of the first and last local months read.

_RATE_SQL = f"""
SELECT month, segment, sum(recorded) AS crimes, sum(rate_num) AS num
FROM {OUTCOME_RATE_ROWS}
ARRAY JOIN segments AS segment
WHERE force_id = {{f:String}} AND month BETWEEN {{first:Date}} AND {{last:Date}}
GROUP BY month, segment
"""

_RURAL_INCIDENTS_SQL = f"""
SELECT month, count() AS incidents
FROM {RURAL_INCIDENTS}
WHERE force_id = {{f:String}} AND month BETWEEN {{first:Date}} AND {{last:Date}}
GROUP BY month
"""

_OUTCOME_SQL = f"""
SELECT {OUTCOME_MONTH} AS month,
       countIf(conditional_caution_adult) AS cc_adult,
       countIf(conditional_caution_youth) AS cc_youth,
       countIf(community_resolution) AS community
FROM crimes FINAL
WHERE force_id = {{f:String}} AND counted AND outcome_assigned_at IS NOT NULL
  AND month BETWEEN {{first:Date}} AND {{last:Date}}
GROUP BY month
"""

_NCRS_SQL = f"""
WITH c AS (
    SELECT force_id, crime_id, incident_id, contact_id, online_report_id, recorded_at, first_reported_at
    FROM crimes FINAL
    WHERE force_id = {{f:String}} AND counted AND recorded_at IS NOT NULL
      AND {RECORDED_MONTH} BETWEEN {{first:Date}} AND {{last:Date}}
)
SELECT {RECORDED_MONTH} AS month,
       countIf({WITHIN_NCRS}) AS within, countIf(hours_to_record IS NOT NULL) AS known
FROM
(
    SELECT c.recorded_at AS recorded_at,
        arrayFilter(x -> x IS NOT NULL,
            [c.first_reported_at, i.created_at, k.offered_at, o.offered_at, s.received_at]) AS known_times,
        if(empty(known_times), NULL, arrayMin(known_times)) AS first_report_at,
        if(first_report_at IS NULL OR c.recorded_at IS NULL, NULL,
           greatest(0, dateDiff('millisecond', first_report_at, c.recorded_at)) / 3600000) AS hours_to_record
    FROM c
    ANY LEFT JOIN (
        SELECT force_id, incident_id, created_at FROM incidents FINAL
        WHERE force_id = {{f:String}} AND incident_id IN (SELECT incident_id FROM crimes WHERE force_id = {{f:String}})
    ) AS i ON i.force_id = c.force_id AND i.incident_id = c.incident_id
    ANY LEFT JOIN (
        SELECT force_id, contact_id, offered_at FROM contacts FINAL
        WHERE force_id = {{f:String}} AND contact_id IN (SELECT contact_id FROM crimes WHERE force_id = {{f:String}})
    ) AS k ON k.force_id = c.force_id AND k.contact_id = c.contact_id
    ANY LEFT JOIN (
        SELECT force_id, contact_id, offered_at FROM contacts FINAL
        WHERE force_id = {{f:String}} AND contact_id IN (SELECT online_report_id FROM crimes WHERE force_id = {{f:String}})
    ) AS o ON o.force_id = c.force_id AND o.contact_id = c.online_report_id
    ANY LEFT JOIN (
        SELECT force_id, crime_id, toNullable(min(received_at)) AS received_at
        FROM social_threads FINAL
        WHERE force_id = {{f:String}} AND crime_id != '' AND disposition = 'crime_reported'
        GROUP BY force_id, crime_id
    ) AS s ON s.force_id = c.force_id AND s.crime_id = c.crime_id
)
GROUP BY month
"""
# The view crime_first_report (migrations 0303, 0501) holds the counted crimes with the first report
# taken across channels: the earliest of the crime's own report, the linked incident's creation, the
# linked call / chat offered or online report submitted and the social media thread closed with the
# crime reported (DOMAIN 4.9), and the raw hours to record. The board reads the same columns for
# one force and its months, computed as the view computes them but joining only the incidents,
# contacts and threads that force's crimes link to (the view joins every contact of the warehouse,
# twice): tests/integration/test_crimes_warehouse.py holds them equal to the view. Each
# joined side holds one row per key (FINAL on the table's key, or grouped by it), so ANY LEFT JOIN
# gives the same rows as LEFT JOIN for less work; the ids a side is narrowed to are every id the
# force's crime rows name (a superset of the counted crimes' ids, read without FINAL or the month
# filter, which cost more than the rows they would drop).

_DISTRICT_SQL = f"""
SELECT ifNull(district, '') AS district, offence_group, {PERIOD_MONTH} AS month, count() AS crimes
FROM crimes FINAL
WHERE force_id = {{f:String}} AND counted AND recorded_at IS NOT NULL
  AND month BETWEEN {{first:Date}} AND {{last:Date}}
GROUP BY district, offence_group, month
"""

_LIVE_SQL = """
SELECT countIf(entered_at <= {now:DateTime64(3)} AND (exited_at IS NULL OR exited_at > {now:DateTime64(3)})) AS depth,
       minIf(entered_at, entered_at <= {now:DateTime64(3)}
             AND (exited_at IS NULL OR exited_at > {now:DateTime64(3)})) AS oldest,
       countIf(entered_at >= {start:DateTime64(3)} AND entered_at <= {now:DateTime64(3)}) AS inflow,
       countIf(exited_at >= {start:DateTime64(3)} AND exited_at <= {now:DateTime64(3)}) AS outflow
FROM qa_queue_intervals FINAL
WHERE force_id = {f:String} AND queue = {q:String} AND NOT duplicate_entry
"""

_DEPTH_AT_SQL = (
    "SELECT count() FROM qa_queue_intervals FINAL WHERE force_id = {f:String} AND queue = {q:String} "
    "AND NOT duplicate_entry AND entered_at <= {t:DateTime64(3)} "
    "AND (exited_at IS NULL OR exited_at > {t:DateTime64(3)})"
)

_DAILY_SQL = f"""
SELECT day, snapshot_at, depth, oldest_age_seconds, inflow, outflow
FROM qa_queue_daily_p({QA_DAILY_ARGS}, until = {{until:String}})
WHERE force_id = {{f:String}}
ORDER BY day
"""


_LOCAL_SNAPSHOT_DAY = """toDate(toTimeZone({t}, tz)) + toUInt8(toHour(toTimeZone({t}, tz)) * 3600000
                + toMinute(toTimeZone({t}, tz)) * 60000 + toSecond(toTimeZone({t}, tz)) * 1000
                + toMillisecond(toTimeZone({t}, tz)) > snap_ms)"""
# The local day of the first snapshot at or after instant {t}, as qa_queue_daily_p computes it.

_MONTH_END_SQL = f"""
WITH
    {{d_tz:String}} AS tz,
    toUInt32(substring({{d_qa_snapshot:String}}, 1, 2)) * 3600000
        + toUInt32(substring({{d_qa_snapshot:String}}, 4, 2)) * 60000 AS snap_ms,
    toDateTime64({{until:String}}, 3, 'UTC') AS until_at,
    toTimeZone(until_at, tz) AS until_local,
    toDate(until_local) - toUInt8(toHour(until_local) * 3600000 + toMinute(until_local) * 60000
        + toSecond(until_local) * 1000 + toMillisecond(until_local) < snap_ms) AS last_day,
    stays AS
    (
        SELECT {_LOCAL_SNAPSHOT_DAY.format(t="entered_at")} AS entry_day,
            if(exited_at IS NULL, NULL, {_LOCAL_SNAPSHOT_DAY.format(t="assumeNotNull(exited_at)")}) AS exit_day
        FROM qa_queue_intervals FINAL
        WHERE force_id = {{f:String}} AND queue = {{q:String}} AND NOT duplicate_entry AND entered_at <= until_at
    ),
    steps AS
    (
        SELECT p.1 AS d, sum(p.2) AS step
        FROM stays
        ARRAY JOIN if(exit_day IS NULL, [(entry_day, toInt64(1))],
            [(entry_day, toInt64(1)), (greatest(entry_day, assumeNotNull(exit_day)), toInt64(-1))]) AS p
        GROUP BY d
    )
SELECT e.1 AS day, e.2 AS depth
FROM (SELECT minOrNull(d) AS first_day, groupArray((d, step)) AS by_day FROM steps)
ARRAY JOIN arrayMap(
    end -> (end, toUInt64(arraySum(arrayMap(s -> if(s.1 <= end, s.2, 0), by_day)))),
    arrayFilter(d -> d >= first_day, arrayMap(
        n -> least(toLastDayOfMonth(addMonths(toStartOfMonth(assumeNotNull(first_day)), n)), last_day),
        range(toUInt32(if(first_day IS NULL OR first_day > last_day, 0,
            dateDiff('month', toStartOfMonth(assumeNotNull(first_day)), toStartOfMonth(last_day)) + 1)))))) AS e
ORDER BY day
"""
# The month-end snapshots of qa_queue_daily_p (migrations 0301, 0303) without the days between: for
# each local month from the first queue entry to the last snapshot not after ``until``, its last
# snapshot day (the month's last day, or the last snapshot day in the month ``until`` falls in) and
# the depth then (stays entered on or before that snapshot and not exited by it). The stays are read
# once, as steps by day: +1 on the day a stay is entered, -1 on the later of its entry and exit days,
# so the depth at a month end is the sum of the steps on or before it (entered by then less entered
# and exited by then), with no product of every stay and every month end. The board needs
# only these (one level a month) and the daily series expands every stay into its days over ten
# years; tests/integration/test_crimes_warehouse.py holds them equal to the view's month ends.


def _month_rows(
    wh: Warehouse, sql: str, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    values: dict[str, Any] = {"f": force_id, **params(definitions), "first": first, "last": last}
    return wh.query(sql, parameters=values).dicts()


def outcome_rate_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """The outcome rate per rate month and segment (:data:`OUTCOME_RATE_ROWS`): ``month``,
    ``segment``, ``crimes`` (the counted crimes of its period month and segment, the board's crime
    counts too) and ``num`` (the rate's numerator)."""
    return _month_rows(wh, _RATE_SQL, force_id, first, last, definitions)


def rural_incident_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """The incidents rural crime counts (:data:`RURAL_INCIDENTS`) per month: ``month``, ``incidents``."""
    return _month_rows(wh, _RURAL_INCIDENTS_SQL, force_id, first, last, definitions)


def disposal_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """Counted crimes whose current outcome was set in the month, per month: ``month``,
    ``cc_adult``, ``cc_youth`` (conditional cautions) and ``community`` (community resolutions)."""
    return _month_rows(wh, _OUTCOME_SQL, force_id, first, last, definitions)


def ncrs_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """NCRS timeliness per recording month: ``month``, ``within`` (:data:`WITHIN_NCRS`) and
    ``known`` (crimes with a known first report)."""
    return _month_rows(wh, _NCRS_SQL, force_id, first, last, definitions)


def district_group_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """Counted crimes per district ('' when unknown), current offence group and period month:
    ``district``, ``offence_group``, ``month``, ``crimes``."""
    return _month_rows(wh, _DISTRICT_SQL, force_id, first, last, definitions)


def qa_live_row(wh: Warehouse, force_id: str, queue: str, now: datetime, start: datetime) -> tuple[Any, ...]:
    """Queue ``queue`` at ``now``: (depth, oldest entry among the stays open at ``now``, entries
    and exits in ``[start, now]``)."""
    values = {"f": force_id, "q": queue, "now": now, "start": start}
    return wh.query(_LIVE_SQL, parameters=values).rows[0]


def qa_depth_at(wh: Warehouse, force_id: str, queue: str, at: datetime) -> int:
    """Stays in queue ``queue`` at instant ``at`` (entered at or before, not exited by then)."""
    return int(wh.query(_DEPTH_AT_SQL, parameters={"f": force_id, "q": queue, "t": at}).rows[0][0])


def _utc_text(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def qa_daily_rows(
    wh: Warehouse, force_id: str, until: datetime, definitions: Definitions
) -> list[dict[str, Any]]:
    """The daily QA/Linking snapshots (view ``qa_queue_daily_p`` under :data:`QA_DAILY_ARGS`) up to
    ``until``, by day: ``day``, ``snapshot_at``, ``depth``, ``oldest_age_seconds``, ``inflow``,
    ``outflow``."""
    values = {**params(definitions), "until": _utc_text(until), "f": force_id}
    return wh.query(_DAILY_SQL, parameters=values).dicts()


def qa_month_end_rows(
    wh: Warehouse, force_id: str, queue: str, until: datetime, definitions: Definitions
) -> list[dict[str, Any]]:
    """Queue ``queue``'s depth at each local month's last daily snapshot not after ``until``
    (:data:`QA_DAILY_ARGS`' snapshot time), from the month of the first entry: ``day``, ``depth``."""
    values = {**params(definitions), "until": _utc_text(until), "f": force_id, "q": queue}
    return wh.query(_MONTH_END_SQL, parameters=values).dicts()
