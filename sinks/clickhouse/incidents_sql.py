"""The incident definitions as ClickHouse SQL, applied when figures are read (DOMAIN 4.6-4.8).

The incident facts (``incidents``, migrations 0200 and 0202) keep what happened: creation, every
grade with the time it was taken (first, final, held at first arrival), first arrival, urban/rural,
the self-initiated flag, cancellation and duplicate flags, qualifiers, categories and the linked
contact id. Every ``definitions.incidents`` choice is applied by the SQL fragments below,
parameterised by query parameters named ``d_*`` that :func:`params` builds from a
:class:`~schemas.definitions.Definitions`. The ``incidents_hourly`` rollup, the board cells, the
lineage of a cell, the public dashboard, the open-incident watch and the live page all use these
fragments, so changing a definition changes the figures read from the same warehouse, with no replay.

Fragments are expressions over a row of :func:`source` (``incidents FINAL`` with
``linked_offered_at``, the earliest offer of a contact linked to the incident):

- :data:`CLOCK_START`: start of the response clock (``incidents.response_clock``). ``created``:
  creation. ``graded_at_arrival_grade``: when the incident took the grade it held at first arrival
  (for one not yet attended, the grade it holds now). ``contact_offered``: the earliest offer of a
  linked contact (the incident's ``contact_id``, or a contact naming the incident); an incident with
  no linked contact that was offered (self-initiated, raised by another agency) starts at creation.
- :data:`RESPONSE_SECONDS`: clock start to first arrival, seconds (NULL if either is unknown).
- :data:`TARGET_SECONDS`: the attendance target (``incidents.target_minutes``, passed as two
  arrays and read as a map) for the grade at first arrival (the grade held now when not attended)
  and urban/rural; NULL when none is set.
- :data:`SELF_EXCLUDED`: self-initiated and ``incidents.exclude_self_initiated``.
- :data:`IN_RESPONSE`: in the response population: the fact ``attendance_exclusion`` is empty
  (created, attended, graded at arrival, not cancelled, not a duplicate), not excluded as
  self-initiated, and the clock has a start.
- :data:`WITHIN_TARGET`: in the response population and attended within the target.
- :data:`RESPONSE_EXCLUSION`: why a row is out of the response population ('' when in).
- :data:`MENTAL_HEALTH`, :data:`ASB`, :data:`GRADE`: the qualifier, category and grade bases.
- :data:`WATCHED`: open, not yet attended, watched grade, clock started, with a target (the
  open-incident watch; ``incidents.amber_share`` is :data:`AMBER_SHARE`).

Under ``contact_offered`` the ``incidents_hourly`` rows of an hour are recomputed when an incident of
that hour is rewritten and also when a linked contact's facts are: the refresh of a logged contact
bucket refreshes the creation hours of the incidents linked to its contacts
(:func:`sinks.clickhouse.rollups_incidents.hours_linked_to_contacts`), so an offer that reaches the
warehouse after every event of its incident reaches the rollup too.

The statements of the incident readers (``demandhub/queries/incidents.py``) are here too, behind
named functions that take the warehouse and plain parameters and return plain rows:
:func:`open_incidents` (the open-incident watch) and :func:`monthly_rows` (the board's months, from
``incidents_hourly`` when it is complete under the definitions, else from the rollup's own SELECT
over the facts, so both give the same figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from schemas.definitions import Definitions
from sinks.clickhouse import rollups
from sinks.clickhouse.client import Warehouse

GRADED_CLOCK_START = "if(first_arrival_at IS NULL, final_grade_at, graded_at_arrival_grade_at)"
CLOCK_START = (
    "multiIf({d_clock:String} = 'graded_at_arrival_grade', "
    f"{GRADED_CLOCK_START}, "
    "{d_clock:String} = 'contact_offered', ifNull(linked_offered_at, created_at), created_at)"
)
RESPONSE_SECONDS = f"(dateDiff('millisecond', {CLOCK_START}, first_arrival_at) / 1000)"
GRADED_RESPONSE_SECONDS = "(dateDiff('millisecond', graded_at_arrival_grade_at, first_arrival_at) / 1000)"
"""The graded clock whatever ``response_clock`` says (the analyst views show both clocks)."""

TARGET_GRADE = "if(first_arrival_at IS NULL, final_grade, grade_at_arrival)"
_TARGETS = "mapFromArrays({d_target_keys:Array(String)}, {d_target_minutes:Array(UInt32)})"
_TARGET_KEY = f"concat(ifNull({TARGET_GRADE}, ''), '_', ifNull(urban_rural, ''))"
TARGET_SECONDS = f"if(mapContains({_TARGETS}, {_TARGET_KEY}), 60 * {_TARGETS}[{_TARGET_KEY}], NULL)"

SELF_EXCLUDED = "(self_initiated AND {d_exclude_self:Bool})"
IN_RESPONSE = f"(attendance_exclusion = '' AND NOT {SELF_EXCLUDED} AND {RESPONSE_SECONDS} IS NOT NULL)"
WITHIN_TARGET = f"({IN_RESPONSE} AND {RESPONSE_SECONDS} <= {TARGET_SECONDS})"
IN_RESPONSE_GRADED = (
    f"(attendance_exclusion = '' AND NOT {SELF_EXCLUDED} AND graded_at_arrival_grade_at IS NOT NULL)"
)
RESPONSE_EXCLUSION = (
    "multiIf(attendance_exclusion IN ('duplicate', 'cancelled'), attendance_exclusion, "
    f"{SELF_EXCLUDED}, 'self_initiated', attendance_exclusion != '', attendance_exclusion, "
    f"{RESPONSE_SECONDS} IS NULL, 'no_clock', '')"
)

MENTAL_HEALTH = "if({d_mh_basis:String} = 'ever', mental_health_ever, mental_health_now)"
ASB = (
    "multiIf({d_asb_basis:String} = 'final_category', asb, "
    "{d_asb_basis:String} = 'qualifier_ever', has(qualifiers_ever, 'asb'), "
    "asb OR (status = 'open' AND final_category IS NULL AND opening_chapter = 'ASB'))"
)
GRADE = "if({d_grade_basis:String} = 'first', first_grade, final_grade)"

AMBER_SHARE = "{d_amber_share:Float64}"
WATCHED = (
    "(status = 'open' AND first_arrival_at IS NULL AND attendance_exclusion = 'not_attended' "
    f"AND NOT {SELF_EXCLUDED} AND final_grade IN ('IMMEDIATE', 'PRIORITY') "
    f"AND {CLOCK_START} IS NOT NULL AND {TARGET_SECONDS} IS NOT NULL)"
)


def params(definitions: Definitions) -> dict[str, Any]:
    """The ``d_*`` query parameters of every fragment, from ``definitions.incidents``."""
    d = definitions.incidents
    keys = sorted(d.target_minutes)
    return {
        "d_clock": d.response_clock,
        "d_target_keys": keys,
        "d_target_minutes": [int(d.target_minutes[k]) for k in keys],
        "d_exclude_self": d.exclude_self_initiated,
        "d_mh_basis": d.mental_health_basis,
        "d_asb_basis": d.asb_basis,
        "d_grade_basis": d.grade_basis,
        "d_amber_share": float(d.amber_share),
    }


LINKED_OFFERED_NULL = "CAST(NULL, 'Nullable(DateTime64(3, \\'UTC\\'))') AS linked_offered_at"
"""``linked_offered_at`` of a row read without contacts: NULL, of the type the contacts give it."""


def source(where: str, columns: str = "*", linked: bool = True) -> str:
    """A subquery: the rows of ``incidents FINAL`` matching ``where`` (SQL over its columns), with
    ``linked_offered_at``, the earliest offer of a contact linked to the incident (by the incident's
    ``contact_id`` or the contact's ``incident_id``). Contacts are read only under the
    ``contact_offered`` clock (otherwise the column is NULL). ``columns``: the incident columns
    read (every one by default; with the contacts joined they must include ``force_id``,
    ``incident_id`` and ``contact_id``). ``linked`` false: the caller knows the clock is not
    ``contact_offered``, and contacts are not joined at all (the column is NULL all the same)."""
    if not linked:
        return f"(SELECT {columns}, {LINKED_OFFERED_NULL} FROM incidents FINAL WHERE {where})"
    on = "{d_clock:String} = 'contact_offered' AND offered_at IS NOT NULL"
    return (
        "(SELECT i.*, multiIf(a.by_incident IS NULL, b.by_contact, b.by_contact IS NULL, a.by_incident, "
        "least(a.by_incident, b.by_contact)) AS linked_offered_at "
        f"FROM (SELECT {columns} FROM incidents FINAL WHERE {where}) AS i "
        "LEFT JOIN (SELECT force_id AS a_force, incident_id AS a_incident, min(offered_at) AS by_incident "
        f"FROM contacts FINAL WHERE {on} AND incident_id != '' GROUP BY a_force, a_incident) AS a "
        "ON a.a_force = i.force_id AND a.a_incident = i.incident_id "
        "LEFT JOIN (SELECT force_id AS b_force, contact_id AS b_contact, min(offered_at) AS by_contact "
        f"FROM contacts FINAL WHERE {on} GROUP BY b_force, b_contact) AS b "
        "ON b.b_force = i.force_id AND b.b_contact = ifNull(i.contact_id, ''))"
    )


# -- reads -------------------------------------------------------------------------------------------
# Every statement the incident readers (``demandhub/queries/incidents.py``) run against the warehouse.

HOURLY_ROLLUP = "incidents_hourly"

_OPEN_WHERE = (
    "force_id = {f:String} AND status = 'open' AND first_arrival_at IS NULL AND created_at IS NOT NULL "
    "AND final_grade IN {g:Array(String)}"
)
_OPEN_COLUMNS = (
    "force_id, incident_id, contact_id, created_at, district, area, urban_rural, self_initiated, "
    "final_grade, final_grade_at, grade_at_arrival, graded_at_arrival_grade_at, first_arrival_at, "
    "attendance_exclusion, status"
)
"""The incident columns the open-incident watch reads: its output, :data:`CLOCK_START`,
:data:`TARGET_SECONDS`, :data:`WATCHED` and the contacts' join keys (reading every column of the
incidents, most of the statement's work, is left out)."""


def _open_sql(linked: bool) -> str:
    return (
        "SELECT incident_id, final_grade, district, area, urban_rural, created_at, "
        f"{CLOCK_START} AS clock_start_at, {TARGET_SECONDS} AS target_seconds "
        f"FROM {source(_OPEN_WHERE, _OPEN_COLUMNS, linked)} WHERE {WATCHED}"
    )


_OPEN_SQL = {linked: _open_sql(linked) for linked in (True, False)}
"""The watch's statement with the linked contacts (the ``contact_offered`` clock) and without."""


def open_incidents(
    wh: Warehouse, force_id: str, grades: Sequence[str], definitions: Definitions
) -> list[dict[str, Any]]:
    """The open, unattended incidents of ``grades`` that are :data:`WATCHED` under ``definitions``:
    ``incident_id``, ``final_grade``, ``district``, ``area``, ``urban_rural``, ``created_at``,
    ``clock_start_at`` (:data:`CLOCK_START`) and ``target_seconds`` (:data:`TARGET_SECONDS`).
    Contacts are joined only under the ``contact_offered`` clock, the one clock that reads them."""
    values = {"f": force_id, "g": list(grades), **params(definitions)}
    linked = definitions.incidents.response_clock == "contact_offered"
    return wh.query(_OPEN_SQL[linked], parameters=values).dicts()


_MONTHLY_SQL = """
SELECT toStartOfMonth(toTimeZone(hour, {{tz:String}})) AS month, first_grade, final_grade, arrival_grade,
       sum(incidents) AS incidents, sum(mix_base) AS mix_base, sum(mental_health_now) AS mh_now,
       sum(mental_health_ever) AS mh_ever, sum(asb) AS asb,
       sum(resp_n) AS resp_n, sum(resp_sum_s) AS resp_sum_s, sum(resp_sumsq_s) AS resp_sumsq_s,
       sum(resp_target_n) AS resp_target_n, sum(resp_within_n) AS resp_within_n
FROM {rows}
WHERE force_id = {{f:String}} AND hour >= {{lo:DateTime('UTC')}} AND hour < {{hi:DateTime('UTC')}}
GROUP BY month, first_grade, final_grade, arrival_grade
HAVING month >= {{first:Date}} AND month <= {{last:Date}}
"""
_MONTH_FACTS = (
    "force_id = {f:String} AND created_at IS NOT NULL "
    "AND created_at >= {lo:DateTime('UTC')} AND created_at < {hi:DateTime('UTC')}"
)
"""The facts a month range reads when the rollup is bypassed (same margins as the hours read)."""


def _hourly_rows(
    wh: Warehouse, definitions: Definitions, facts_where: str, quarter_hours: bool
) -> tuple[str, dict[str, Any]]:
    """A FROM clause giving ``incidents_hourly`` rows under ``definitions`` and its parameters: the
    rollup's rows of the definitions' hash when it is complete under them (refreshed first), else
    the same rows computed by the rollup's own SELECT over the facts matching ``facts_where``; in
    quarter-hour buckets from the facts when ``quarter_hours`` (a month of the time zone starts
    inside a UTC hour, UTC+5:30, so no incident changes month)."""
    from sinks.clickhouse import rollups_incidents as ri  # here: it is built on these fragments

    if quarter_hours:
        sql = ri.rollup_rows_sql(facts_where, ri.QUARTER_HOUR)
        return f"({sql})", ri.query_params(definitions)
    if rollups.reads_rollup(wh, HOURLY_ROLLUP, definitions):
        rollups.ensure_fresh(wh)  # hours logged by recent batches are recomputed first
        sql = f"(SELECT * FROM {HOURLY_ROLLUP} FINAL WHERE definition_hash = {{dh:String}})"
        return sql, {"dh": definitions.group_hash(*ri.GROUPS)}
    return f"({ri.rollup_rows_sql(facts_where)})", ri.query_params(definitions)


def monthly_rows(
    wh: Warehouse,
    force_id: str,
    definitions: Definitions,
    lo: datetime,
    hi: datetime,
    first: date,
    last: date,
    quarter_hours: bool = False,
) -> list[dict[str, Any]]:
    """Sums of ``incidents_hourly`` rows under ``definitions`` per local month (``first``..``last``,
    first days of months) and first, final and arrival grade, from the hours in ``[lo, hi)`` (a UTC
    margin around the months): ``month``, ``first_grade``, ``final_grade``, ``arrival_grade``,
    ``incidents``, ``mix_base``, ``mh_now``, ``mh_ever``, ``asb``, ``resp_n``, ``resp_sum_s``,
    ``resp_sumsq_s``, ``resp_target_n``, ``resp_within_n``. ``quarter_hours``: as :func:`_hourly_rows`."""
    values = {
        "tz": definitions.timezone,
        "f": force_id,
        "lo": lo,
        "hi": hi,
        "first": first,
        "last": last,
    }
    rows, rows_params = _hourly_rows(wh, definitions, _MONTH_FACTS, quarter_hours)
    sql = _MONTHLY_SQL.format(rows=rows)
    return wh.query(sql, parameters={**values, **rows_params}).dicts()
