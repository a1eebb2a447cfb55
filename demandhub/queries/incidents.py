"""Incident readers: the open-incident watch and the board's monthly cells (DOMAIN 4.6-4.8).

Every function takes a :class:`~sinks.clickhouse.client.Warehouse`, plain parameters and the
:class:`~schemas.definitions.Definitions` to apply, and returns plain data. Months are local calendar
months in ``definitions.timezone``. Every ``definitions.incidents`` choice is applied when read, by
the statements of :mod:`sinks.clickhouse.incidents_sql`: monthly figures come from the ``incidents_hourly``
rollup (read with FINAL, rows of the definitions' hash) when it is complete under the definitions
(:func:`sinks.clickhouse.rollups.reads_rollup`), else from the rollup's own SELECT over the facts,
so both give the same figures; open incidents are read from the facts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from schemas.definitions import Definitions, IncidentDefinitions
from sinks.clickhouse import incidents_sql as isql
from sinks.clickhouse import rollups
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.times import as_utc
from streams.domain.watch import WATCH_GRADES, watch_status

MEASURE_IDS: tuple[str, ...] = (
    "immediate_time_to_respond_mins",
    "immediate_within_target_rate",
    "priority_within_target_rate",
    "incidents_total",
    "incidents_mental_health",
    "incidents_asb",
    "immediate_share",
)

ROLLUP = isql.HOURLY_ROLLUP


def reads_rollup(wh: Warehouse, definitions: Definitions) -> bool:
    """True when ``incidents_hourly`` holds figures under ``definitions`` (else read the facts)."""
    return rollups.reads_rollup(wh, ROLLUP, definitions)


def whole_hour_zone(timezone: str, first: YearMonth, last: YearMonth) -> bool:
    """True when every month ``first``..``last`` of ``timezone`` starts on a whole UTC hour (the
    creation hours of ``incidents_hourly`` then fall inside one month each)."""
    zone = ZoneInfo(timezone)
    month = first
    while month <= last:
        offset = datetime(month.year, month.month, 1, tzinfo=zone).utcoffset()
        if offset is None or offset.total_seconds() % 3600:
            return False
        month = month + 1
    return True


def live_open_incidents(
    wh: Warehouse, force_id: str, now: datetime, definitions: Definitions
) -> list[dict[str, Any]]:
    """Open IMMEDIATE and PRIORITY incidents not yet attended, most urgent first.

    Each item: incident_id, grade, district, area, urban_rural, created_at, clock_start_at, target_minutes,
    minutes_elapsed, minutes_left (negative once breached) and status (``ok``, ``amber`` once
    ``amber_share`` of the target has elapsed, ``red`` past it). The clock starts as
    ``response_clock`` says (by the grade held now under the graded clock; at the linked contact's
    offer under ``contact_offered``); self-initiated incidents are left out when
    ``exclude_self_initiated`` (an officer is already there); incidents without a target for
    their grade and location are left out."""
    defs = definitions.incidents
    out: list[dict[str, Any]] = []
    for row in isql.open_incidents(wh, force_id, WATCH_GRADES, definitions):
        start = as_utc(row["clock_start_at"])
        target = float(row["target_seconds"])
        if start is None:
            continue
        elapsed = (now.astimezone(UTC) - start).total_seconds()
        out.append(
            {
                "incident_id": row["incident_id"],
                "grade": row["final_grade"],
                "district": row["district"],
                "area": row["area"],
                "urban_rural": row["urban_rural"],
                "created_at": as_utc(row["created_at"]),
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
    """Add one rollup row (computed under the definitions: ``resp_*`` by the configured clock,
    ``asb`` by the ASB basis); the grade and mental-health bases are applied here."""
    acc.rows = True
    acc.asb += r["asb"]
    acc.incidents += r["incidents"]
    acc.mh += r["mh_ever"] if defs.mental_health_basis == "ever" else r["mh_now"]
    grade = r["first_grade"] if defs.grade_basis == "first" else r["final_grade"]
    if grade:
        acc.mix_all += r["mix_base"]
        acc.mix_imm += r["mix_base"] if grade == "IMMEDIATE" else 0
    arrival = r["arrival_grade"]
    acc.within[arrival] += r["resp_within_n"]
    acc.target_n[arrival] += r["resp_target_n"]
    if arrival == "IMMEDIATE":
        acc.imm_n += r["resp_n"]
        acc.imm_sum_min += r["resp_sum_s"] / 60
        acc.imm_sumsq_min += r["resp_sumsq_s"] / 3600


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
    defs = definitions.incidents
    now = now or datetime.now(UTC)
    lo, hi = _month_start(first - 1), _month_start(last + 2)  # generous UTC margin around local months
    rows = isql.monthly_rows(
        wh,
        force_id,
        definitions,
        datetime(lo.year, lo.month, 1, tzinfo=UTC),
        datetime(hi.year, hi.month, 1, tzinfo=UTC),
        _month_start(first),
        _month_start(last),
        quarter_hours=not whole_hour_zone(definitions.timezone, first - 1, last + 1),
    )
    accs: dict[YearMonth, _Acc] = defaultdict(_Acc)
    for r in rows:
        _add_row(accs[YearMonth(r["month"].year, r["month"].month)], r, defs)
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
