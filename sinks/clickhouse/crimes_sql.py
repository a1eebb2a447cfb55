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

Over the view ``crime_first_report`` (migrations 0303, 0501: the first report on any channel, raw
``hours_to_record``): :data:`WITHIN_NCRS` (recorded within ``crimes.ncrs_hours``).

The QA/Linking snapshot (``crimes.qa_snapshot_time``) is applied by the parameterised view
``qa_queue_daily_p`` with :data:`QA_DAILY_ARGS`.

:data:`RURAL_INCIDENTS`: the incidents rural crime counts besides the crimes with the rural flag
(``crimes.rural_incident_categories``, poaching and hare coursing by default, as the source board
pack): by the category known when read (final if closed, else opening), cancelled and duplicate
incidents left out, in the local month they were created.
"""

from __future__ import annotations

from typing import Any

from schemas.definitions import Definitions

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
