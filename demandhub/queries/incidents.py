"""Incident readers: the open-incident watch and the board's monthly cells (DOMAIN 4.6-4.8).

Every function takes a :class:`~sinks.clickhouse.client.Warehouse` and plain parameters and returns
plain data. Months are local calendar months in ``definitions.timezone``; figures come from the
``incidents_hourly`` rollup (read with FINAL), except open incidents, which are read from the facts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.definitions import Definitions, IncidentDefinitions
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import ensure_fresh
from streams.domain.board.cells import Cell
from streams.domain.board.months import YearMonth
from streams.domain.incidents import WATCH_GRADES, target_seconds, watch_status

MEASURE_IDS: tuple[str, ...] = (
    "immediate_time_to_respond_mins",
    "immediate_within_target_rate",
    "priority_within_target_rate",
    "incidents_total",
    "incidents_mental_health",
    "incidents_asb",
    "immediate_share",
)

_OPEN_SQL = (
    "SELECT incident_id, final_grade, district, area, urban_rural, created_at, final_grade_at, "
    "self_initiated FROM incidents FINAL "
    "WHERE force_id = {f:String} AND status = 'open' AND first_arrival_at IS NULL "
    "AND response_exclusion IN ('not_attended', 'self_initiated') AND created_at IS NOT NULL "
    "AND final_grade IN {g:Array(String)}"
)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _clock_start(row: dict[str, Any], defs: IncidentDefinitions) -> datetime | None:
    """Start of the configured clock for an unattended incident (contact_offered falls back to creation)."""
    if defs.response_clock == "graded_at_arrival_grade":
        return _utc(row["final_grade_at"])
    return _utc(row["created_at"])


def _open_rows(wh: Warehouse, force_id: str) -> list[dict[str, Any]]:
    return wh.query(_OPEN_SQL, parameters={"f": force_id, "g": list(WATCH_GRADES)}).dicts()


def live_open_incidents(
    wh: Warehouse, force_id: str, now: datetime, definitions: Definitions
) -> list[dict[str, Any]]:
    """Open IMMEDIATE and PRIORITY incidents not yet attended, most urgent first.

    Each item: incident_id, grade, district, area, urban_rural, created_at, clock_start_at, target_minutes,
    minutes_elapsed, minutes_left (negative once breached) and status (``ok``, ``amber`` once
    ``amber_share`` of the target has elapsed, ``red`` past it). Self-initiated incidents are left
    out when ``exclude_self_initiated`` (an officer is already there); incidents without a target for
    their grade and location are left out."""
    defs = definitions.incidents
    out: list[dict[str, Any]] = []
    for row in _open_rows(wh, force_id):
        if row["self_initiated"] and defs.exclude_self_initiated:
            continue
        start = _clock_start(row, defs)
        target = target_seconds(defs, row["final_grade"], row["urban_rural"])
        if start is None or target is None:
            continue
        elapsed = (now.astimezone(UTC) - start).total_seconds()
        out.append(
            {
                "incident_id": row["incident_id"],
                "grade": row["final_grade"],
                "district": row["district"],
                "area": row["area"],
                "urban_rural": row["urban_rural"],
                "created_at": _utc(row["created_at"]),
                "clock_start_at": start,
                "target_minutes": target / 60,
                "minutes_elapsed": elapsed / 60,
                "minutes_left": (target - elapsed) / 60,
                "status": watch_status(elapsed, target, defs.amber_share),
            }
        )
    out.sort(key=lambda r: (r["minutes_left"], r["incident_id"]))
    return out


# --- monthly board cells -------------------------------------------------------------------------
_MONTHLY_SQL = """
SELECT toStartOfMonth(toTimeZone(hour, {tz:String})) AS month, first_grade, final_grade, arrival_grade,
       sum(incidents) AS incidents, sum(mix_base) AS mix_base, sum(mental_health_now) AS mh_now,
       sum(mental_health_ever) AS mh_ever, sum(asb) AS asb,
       sum(resp_n) AS resp_n, sum(resp_sum_s) AS resp_sum_s, sum(resp_sumsq_s) AS resp_sumsq_s,
       sum(resp_target_n) AS resp_target_n, sum(resp_within_n) AS resp_within_n,
       sum(resp_g_n) AS resp_g_n, sum(resp_g_sum_s) AS resp_g_sum_s,
       sum(resp_g_sumsq_s) AS resp_g_sumsq_s, sum(resp_g_target_n) AS resp_g_target_n,
       sum(resp_g_within_n) AS resp_g_within_n
FROM incidents_hourly FINAL
WHERE force_id = {f:String} AND hour >= {lo:DateTime('UTC')} AND hour < {hi:DateTime('UTC')}
GROUP BY month, first_grade, final_grade, arrival_grade
HAVING month >= {first:Date} AND month <= {last:Date}
"""


_ASB_EXPR = {
    "final_category": "asb",
    "known_at_settle": "asb OR (status = 'open' AND final_category IS NULL AND opening_chapter = 'ASB')",
    "qualifier_ever": "has(qualifiers_ever, 'asb')",
}
_ASB_SQL = """
SELECT toStartOfMonth(toTimeZone(assumeNotNull(created_at), {{tz:String}})) AS month, countIf({expr}) AS asb
FROM incidents FINAL
WHERE force_id = {{f:String}} AND NOT duplicate AND created_at IS NOT NULL
  AND created_at >= {{lo:DateTime('UTC')}} AND created_at < {{hi:DateTime('UTC')}}
GROUP BY month
HAVING month >= {{first:Date}} AND month <= {{last:Date}}
"""


def _asb_by_month(wh: Warehouse, params: dict[str, Any], basis: str) -> dict[YearMonth, int]:
    """ASB incidents per creation month under ``asb_basis``, from the incident facts."""
    sql = _ASB_SQL.format(expr=_ASB_EXPR[basis])
    return {YearMonth(m.year, m.month): int(n) for m, n in wh.query(sql, parameters=params).rows}


@dataclass
class _Acc:
    """Sums of one month, in the units the cells need."""

    rows: bool = False
    incidents: float = 0
    mh: float = 0
    asb: float = 0
    mix_imm: float = 0
    mix_all: float = 0
    imm_n: float = 0
    imm_sum_min: float = 0
    imm_sumsq_min: float = 0
    within: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    target_n: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def _month_start(ym: YearMonth) -> date:
    return date(ym.year, ym.month, 1)


def _add_row(acc: _Acc, r: dict[str, Any], defs: IncidentDefinitions) -> None:
    graded_clock = defs.response_clock == "graded_at_arrival_grade"
    p = "resp_g_" if graded_clock else "resp_"
    acc.rows = True
    acc.incidents += r["incidents"]
    acc.mh += r["mh_ever"] if defs.mental_health_basis == "ever" else r["mh_now"]
    grade = r["first_grade"] if defs.grade_basis == "first" else r["final_grade"]
    if grade:
        acc.mix_all += r["mix_base"]
        acc.mix_imm += r["mix_base"] if grade == "IMMEDIATE" else 0
    arrival = r["arrival_grade"]
    acc.within[arrival] += r[f"{p}within_n"]
    acc.target_n[arrival] += r[f"{p}target_n"]
    if arrival == "IMMEDIATE":
        acc.imm_n += r[f"{p}n"]
        acc.imm_sum_min += r[f"{p}sum_s"] / 60
        acc.imm_sumsq_min += r[f"{p}sumsq_s"] / 3600


def _open_breaches(
    wh: Warehouse, force_id: str, now: datetime, definitions: Definitions
) -> dict[tuple[YearMonth, str], int]:
    """Open, unattended incidents past their target, by creation month and grade held now."""
    tz = ZoneInfo(definitions.timezone)
    found: dict[tuple[YearMonth, str], int] = defaultdict(int)
    for item in live_open_incidents(wh, force_id, now, definitions):
        if item["status"] == "red":
            local = item["created_at"].astimezone(tz)
            found[(YearMonth(local.year, local.month), item["grade"])] += 1
    return found


def monthly_cells(
    wh: Warehouse,
    force_id: str,
    first: YearMonth,
    last: YearMonth,
    definitions: Definitions,
    now: datetime | None = None,
) -> dict[str, dict[YearMonth, Cell]]:
    """The board's incident measures for months ``first``..``last`` (inclusive).

    * ``immediate_time_to_respond_mins``: minutes mean over attended IMMEDIATE incidents (grade at
      first arrival), ``Cell(sum of minutes, n, sum of squared minutes)``, by the configured clock.
    * ``immediate_within_target_rate`` / ``priority_within_target_rate``: attended within target over
      attended with a target plus open unattended incidents already past their target at ``now``.
    * ``incidents_total``, ``incidents_mental_health`` (by ``mental_health_basis``), ``incidents_asb``
      (by ``asb_basis``: by default the category known when read, so an incident still open, which
      has no final category, counts by its opening category): counts of incidents created in the
      month, duplicates excluded.
    * ``immediate_share``: IMMEDIATE share of graded incidents created in the month (cancelled and
      duplicates excluded) by ``grade_basis`` (first grade by default).

    A month without data, or a rate or mean whose denominator is zero, is absent."""
    ensure_fresh(wh)  # hours logged by recent batches are recomputed first
    defs = definitions.incidents
    now = now or datetime.now(UTC)
    lo, hi = _month_start(first - 1), _month_start(last + 2)  # generous UTC margin around local months
    params = {
        "tz": definitions.timezone,
        "f": force_id,
        "lo": datetime(lo.year, lo.month, 1, tzinfo=UTC),
        "hi": datetime(hi.year, hi.month, 1, tzinfo=UTC),
        "first": _month_start(first),
        "last": _month_start(last),
    }
    accs: dict[YearMonth, _Acc] = defaultdict(_Acc)
    for r in wh.query(_MONTHLY_SQL, parameters=params).dicts():
        _add_row(accs[YearMonth(r["month"].year, r["month"].month)], r, defs)
    for ym, n in _asb_by_month(wh, params, defs.asb_basis).items():
        if ym in accs:
            accs[ym].asb = n
    breaches = {
        k: v for k, v in _open_breaches(wh, force_id, now, definitions).items() if first <= k[0] <= last
    }
    return _cells(accs, breaches)


def _cells(
    accs: dict[YearMonth, _Acc], breaches: dict[tuple[YearMonth, str], int]
) -> dict[str, dict[YearMonth, Cell]]:
    out: dict[str, dict[YearMonth, Cell]] = {m: {} for m in MEASURE_IDS}
    for ym, a in sorted(accs.items()):
        if not a.rows:
            continue
        out["incidents_total"][ym] = Cell(a.incidents)
        out["incidents_mental_health"][ym] = Cell(a.mh)
        out["incidents_asb"][ym] = Cell(a.asb)
        if a.imm_n:
            out["immediate_time_to_respond_mins"][ym] = Cell(a.imm_sum_min, a.imm_n, a.imm_sumsq_min)
        for grade, measure in (("IMMEDIATE", "immediate"), ("PRIORITY", "priority")):
            den = a.target_n[grade] + breaches.get((ym, grade), 0)
            if den:
                out[f"{measure}_within_target_rate"][ym] = Cell(a.within[grade], den)
        if a.mix_all:
            out["immediate_share"][ym] = Cell(a.mix_imm, a.mix_all)
    return out
