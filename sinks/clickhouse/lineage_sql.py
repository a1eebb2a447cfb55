"""Board lineage's statements against the warehouse, written once: the per-entity rows behind a
board cell (contacts, queue legs, incidents, crimes, the QA/Linking queue), read from the same facts
with the same fragments and definitions as the monthly cells; the ledger events that decided them;
and the lineage kept with every published pack. Each function takes the warehouse and plain values
and returns plain rows; :mod:`demandhub.board.warehouse.lineage` turns them into contributions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from schemas.definitions import Definitions
from sinks.clickhouse import contacts_sql
from sinks.clickhouse import crimes_sql as cs
from sinks.clickhouse import incidents_sql as isql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups_incidents import MEASURES as INCIDENT_MEASURES

Row = tuple[Any, ...]

# -- contacts -----------------------------------------------------------------------------------------
# facts hold no definition: short abandons and service waits are derived under the definitions
# given when read (contacts_sql, the same expressions as the rollups the board reads)
_IN_MONTHS = (
    "force_id = {f:String} AND toStartOfFifteenMinutes(placed_at) >= {lo:DateTime('UTC')} "
    "AND toStartOfFifteenMinutes(placed_at) < {hi:DateTime('UTC')}"
)
_CONTACTS_SQL = (
    "SELECT contact_id, channel, toStartOfMonth(toDate(toStartOfFifteenMinutes(placed_at), {tz:String})) "
    "AS month, outcome, ever_answered, short_abandon, placed_at, answered_at, abandoned_at "
    f"FROM {contacts_sql.contacts_from(_IN_MONTHS)}"
)
_LEGS_SQL = (
    "SELECT leg_id, contact_id, queue, toStartOfMonth(toDate(toStartOfFifteenMinutes(placed_at), "
    "{tz:String})) AS month, outcome, entered_queue, abandoned_in_queue, callback_requested, "
    "service_wait_seconds, placed_at, "
    f"answered_at, abandoned_at FROM {contacts_sql.legs_from(_IN_MONTHS + ' AND queue IN {q:Array(String)}')}"
)


def _contact_params(
    force_id: str, tz: str, lo: datetime, hi: datetime, queues: Sequence[str], definitions: Definitions
) -> dict[str, Any]:
    return {
        "f": force_id,
        "tz": tz,
        "lo": lo,
        "hi": hi,
        "q": list(queues),
        **contacts_sql.params(definitions),
    }


def contact_rows(
    wh: Warehouse,
    force_id: str,
    tz: str,
    lo: datetime,
    hi: datetime,
    queues: Sequence[str],
    definitions: Definitions,
) -> list[dict[str, Any]]:
    """One row per contact placed in ``lo..hi`` (naive UTC), its month in ``tz``, under ``definitions``."""
    return wh.query(
        _CONTACTS_SQL, parameters=_contact_params(force_id, tz, lo, hi, queues, definitions)
    ).dicts()


def leg_rows(
    wh: Warehouse,
    force_id: str,
    tz: str,
    lo: datetime,
    hi: datetime,
    queues: Sequence[str],
    definitions: Definitions,
) -> list[dict[str, Any]]:
    """One row per queue leg of ``queues`` placed in ``lo..hi`` (naive UTC), its month in ``tz``."""
    return wh.query(_LEGS_SQL, parameters=_contact_params(force_id, tz, lo, hi, queues, definitions)).dicts()


# -- incidents ------------------------------------------------------------------------------------------
_INCIDENT_ALIAS = {"mental_health_now": "mh_now", "mental_health_ever": "mh_ever"}
_INCIDENT_WANTED = {
    "incidents", "mix_base", "mental_health_now", "mental_health_ever", "asb", "resp_n", "resp_sum_s",
    "resp_sumsq_s", "resp_target_n", "resp_within_n",
}  # fmt: skip


def _incident_sql() -> str:
    """The rollup's own measure expressions evaluated per incident, over the same facts and linked
    contacts (:func:`sinks.clickhouse.incidents_sql.source`), under the ``d_*`` parameters."""
    exprs = ", ".join(
        f"{expr} AS {_INCIDENT_ALIAS.get(name, name)}"
        for name, expr in INCIDENT_MEASURES
        if name in _INCIDENT_WANTED
    )
    hour = "toStartOfHour(toDateTime(assumeNotNull(created_at), 'UTC'))"
    facts = isql.source(
        "force_id = {f:String} AND created_at IS NOT NULL "
        f"AND {hour} >= {{lo:DateTime('UTC')}} AND {hour} < {{hi:DateTime('UTC')}}"
    )
    return (
        f"SELECT incident_id, toStartOfMonth(toTimeZone({hour}, {{tz:String}})) AS month, "
        "ifNull(first_grade, '') AS k_first, ifNull(final_grade, '') AS k_final, "
        f"ifNull(grade_at_arrival, '') AS k_arrival, any({isql.RESPONSE_EXCLUSION}) AS exclusion, "
        "any(duplicate) AS is_duplicate, any(cancelled) AS is_cancelled, any(created_at) AS created, "
        f"any(first_arrival_at) AS arrived, {exprs} "
        f"FROM {facts} "
        "GROUP BY incident_id, month, k_first, k_final, k_arrival "
        "HAVING month >= {first:Date} AND month <= {last:Date}"
    )


def incident_rows(
    wh: Warehouse,
    force_id: str,
    tz: str,
    lo: datetime,
    hi: datetime,
    first: date,
    last: date,
    definitions: Definitions,
) -> list[dict[str, Any]]:
    """One row per incident created in hours ``lo..hi`` whose month (in ``tz``) is ``first..last``:
    the rollup's own measure expressions for that incident under ``definitions``."""
    params = {
        "tz": tz,
        "f": force_id,
        "lo": lo,
        "hi": hi,
        "first": first,
        "last": last,
        **isql.params(definitions),
    }
    return wh.query(_incident_sql(), parameters=params).dicts()


# -- crimes ----------------------------------------------------------------------------------------------
_CRIMES_SQL = f"""
SELECT crime_id, counted, recorded, cancelled, transferred, offence_code, outcome_type,
       conditional_caution_adult, conditional_caution_youth, community_resolution,
       {cs.PERIOD_AT} AS period_at, recorded_at, outcome_assigned_at, cancelled_at, transferred_at,
       {cs.PERIOD_MONTH} AS pmonth, {cs.OUTCOME_MONTH} AS omonth,
       {cs.PROSECUTION_POSSIBLE} AS is_pp, {cs.SEGMENTS} AS segments
FROM crimes FINAL
WHERE force_id = {{f:String}}
  AND ((pmonth IS NOT NULL AND pmonth BETWEEN {{first:Date}} AND {{last:Date}})
       OR (omonth IS NOT NULL AND omonth BETWEEN {{first:Date}} AND {{last:Date}}))
"""
_NCRS_ROWS_SQL = f"""
SELECT crime_id, recorded_at, first_report_at, hours_to_record, {cs.WITHIN_NCRS} AS within,
       {cs.RECORDED_MONTH} AS month
FROM crime_first_report
WHERE force_id = {{f:String}} AND recorded_at IS NOT NULL AND month BETWEEN {{first:Date}} AND {{last:Date}}
"""
_RURAL_ROWS_SQL = f"""
SELECT incident_id, created_at, category, month
FROM {cs.RURAL_INCIDENTS}
WHERE force_id = {{f:String}} AND month BETWEEN {{first:Date}} AND {{last:Date}}
"""
_QA_ROWS_SQL = (
    "SELECT crime_id, entered_at FROM qa_queue_intervals FINAL WHERE force_id = {f:String} "
    "AND queue = {q:String} AND NOT duplicate_entry AND entered_at <= {t:DateTime64(3)} "
    "AND (exited_at IS NULL OR exited_at > {t:DateTime64(3)})"
)


def _crime_params(force_id: str, first: date, last: date, definitions: Definitions) -> dict[str, Any]:
    return {"f": force_id, **cs.params(definitions), "first": first, "last": last}


def crime_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """One row per crime whose period or outcome month is in ``first..last`` under ``definitions``."""
    return wh.query(_CRIMES_SQL, parameters=_crime_params(force_id, first, last, definitions)).dicts()


def ncrs_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """One row per crime recorded in ``first..last``, with its hours to record and whether within NCRS."""
    return wh.query(_NCRS_ROWS_SQL, parameters=_crime_params(force_id, first, last, definitions)).dicts()


def rural_rows(
    wh: Warehouse, force_id: str, first: date, last: date, definitions: Definitions
) -> list[dict[str, Any]]:
    """One row per rural incident of the crime definitions' categories in ``first..last``."""
    return wh.query(_RURAL_ROWS_SQL, parameters=_crime_params(force_id, first, last, definitions)).dicts()


def qa_queue_rows(wh: Warehouse, force_id: str, queue: str, at: datetime) -> list[Row]:
    """(crime_id, entered_at) of every crime in ``queue`` at ``at``."""
    return wh.query(_QA_ROWS_SQL, parameters={"f": force_id, "q": queue, "t": at}).rows


# -- deciding events -----------------------------------------------------------------------------------
_EVENTS_SQL = (
    "SELECT subject, source, id, type, time FROM events WHERE force_id = {f:String} "
    "AND subject IN {s:Array(String)} ORDER BY subject, time, id"
)


def subject_events(wh: Warehouse, force_id: str, subjects: Sequence[str]) -> list[Row]:
    """(subject, source, id, type, time) of every ledger event of ``subjects``, in order."""
    return wh.query(_EVENTS_SQL, parameters={"f": force_id, "s": list(subjects)}).rows


# -- published lineage -----------------------------------------------------------------------------------
SET_COLUMNS = (
    "force_id",
    "measure_id",
    "data_month",
    "digest",
    "entity_id",
    "counted",
    "num",
    "den",
    "sumsq",
    "rule",
)
REF_COLUMNS = (
    "force_id",
    "month",
    "pack_version",
    "measure_id",
    "data_month",
    "digest",
    "entities",
    "num",
    "den",
    "sumsq",
)


def stored_sets(wh: Warehouse, force_id: str) -> list[Row]:
    """(measure_id, data_month, digest) of every entity set stored for ``force_id``."""
    return wh.query(
        "SELECT DISTINCT measure_id, data_month, digest FROM board_lineage_sets WHERE force_id = {f:String}",
        parameters={"f": force_id},
    ).rows


def insert_sets(wh: Warehouse, rows: Sequence[Sequence[Any]]) -> None:
    """Append entity rows to ``board_lineage_sets`` (rows in :data:`SET_COLUMNS` order)."""
    wh.insert("board_lineage_sets", rows, SET_COLUMNS)


def insert_refs(wh: Warehouse, rows: Sequence[Sequence[Any]]) -> None:
    """Append a version's references to ``board_lineage_refs`` (rows in :data:`REF_COLUMNS` order)."""
    wh.insert("board_lineage_refs", rows, REF_COLUMNS)


def published_entity_rows(
    wh: Warehouse,
    force_id: str,
    measure_id: str,
    data_months: Sequence[date],
    month: date | None = None,
    version: int | None = None,
) -> list[Row]:
    """(data_month, entity_id, num, den) of the counted entities of ``measure_id`` per data month as
    published: in pack ``month`` version ``version`` when both are given, or else in the latest
    version that stored the data month."""
    cond = "month = {m:Date} AND pack_version = {v:UInt32}" if version is not None else "1"
    sql = (
        "SELECT s.data_month, s.entity_id, s.num, s.den FROM board_lineage_sets AS s INNER JOIN ("
        "SELECT data_month, argMax(digest, (published, pack_version)) AS digest FROM ("
        "SELECT r.data_month, r.digest, r.pack_version, v.published_at AS published FROM board_lineage_refs AS r "
        "INNER JOIN board_pack_versions AS v ON v.force_id = r.force_id AND v.month = r.month "
        "AND v.pack_version = r.pack_version "
        f"WHERE r.force_id = {{f:String}} AND r.measure_id = {{mid:String}} AND r.data_month IN {{ds:Array(Date)}} AND {cond.replace('month', 'r.month').replace('pack_version', 'r.pack_version')}"
        ") GROUP BY data_month) AS pick ON pick.data_month = s.data_month AND pick.digest = s.digest "
        "WHERE s.force_id = {f:String} AND s.measure_id = {mid:String}"
    )
    params: dict[str, Any] = {"f": force_id, "mid": measure_id, "ds": list(data_months)}
    if version is not None and month is not None:
        params |= {"m": month, "v": version}
    return wh.query(sql, parameters=params).rows


def version_measure_refs(wh: Warehouse, force_id: str, month: date, version: int, measure_id: str) -> int:
    """How many data months of ``measure_id`` version ``version`` of pack ``month`` kept lineage for."""
    return int(
        wh.query(
            "SELECT count() FROM board_lineage_refs WHERE force_id = {f:String} AND month = {m:Date} "
            "AND pack_version = {v:UInt32} AND measure_id = {mid:String}",
            parameters={"f": force_id, "m": month, "v": version, "mid": measure_id},
        ).rows[0][0]
    )
