"""Crime readers: the live QA/Linking queue, its daily series and the board's monthly cells
(DOMAIN 4.8-4.11).

Every function takes a :class:`~sinks.clickhouse.client.Warehouse` and plain parameters and returns
plain data. Figures are computed from the crime facts read with FINAL (the latest version of every
crime), so reclassifications, cancellations and late outcomes restate past months by themselves.
Months and days are local to ``definitions.timezone``. The facts keep what happened; every
definition is applied at read time, by the statements of :mod:`sinks.clickhouse.crimes_sql` with the
``Definitions`` passed in, so a changed definition changes the figures without a replay.

Conventions (documented once here):
- Recorded crime counts crimes with ``counted`` (recorded, not cancelled, not transferred) in their
  period month (recording by default; occurrence, falling back to recording when unknown, with
  ``crimes.period_basis = occurred``), by CURRENT group/flags. Rural crime adds the incidents of
  ``crimes.rural_incident_categories`` (poaching and hare coursing by default, as the source board
  pack) in the month they were created.
- Outcome measures use each counted crime's current outcome, in the month ``outcome_assigned_at``
  falls in (when its current type was set). Board rate ("period"): prosecution-possible outcomes
  assigned in the month / crimes recorded in the month (same segment). "cohort": the month's
  recorded crimes whose current outcome is prosecution possible / crimes recorded in the month.
- NCRS timeliness is by recording month: recorded within ``crimes.ncrs_hours`` of the first report /
  counted crimes with a known first report. The first report is the earliest on any channel: the
  crime's own report, the linked incident created, the linked call or chat offered, the linked
  online report submitted, a social media thread that reported it (view ``crime_first_report``).
- A month is present for the crime measures when at least one counted crime falls in it (for
  outcome and disposal measures: or an outcome was set in it); then a segment with no crimes is a
  true zero. A month with no crime data at all is absent (null), never a zero cell.
- QA/Linking queue figures use the daily snapshot at ``crimes.qa_snapshot_time`` local time. The
  month-end cell is the depth at the month's last snapshot not after now, a level
  (``Cell.level(depth)``: one observation per month, so the board averages depths over a period
  and never adds them); months before the first queue entry are absent.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.pack import Discontinuity
from schemas.definitions import Definitions
from sinks.clickhouse import crimes_sql as cs
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.times import as_utc
from streams.domain.classification import GROUPS, discontinuities

QA_QUEUE = "qa_linking"

COUNT_SEGMENTS: tuple[str, ...] = (
    "all",
    "violence_with_injury",
    "violence_without_injury",
    "burglary_dwelling",
    "domestic_abuse",
    "serious_sexual",
    "cyber",
    "rural",
    "drugs",
    "hate",
)
RATE_SEGMENTS: tuple[str, ...] = (
    "all",
    "burglary_dwelling",
    "domestic_abuse",
    "serious_sexual",
    "cyber",
    "hate",
)
MEASURE_IDS: tuple[str, ...] = (
    *(f"crime_{s}" for s in COUNT_SEGMENTS),
    *(f"outcome_rate_{s}" for s in RATE_SEGMENTS),
    "conditional_cautions_adult",
    "conditional_cautions_youth",
    "community_resolutions",
    "crime_recorded_within_24h_rate",
    "qa_linking_queue_month_end",
)
QA_MEASURE = "qa_linking_queue_month_end"


def measure_discontinuities(measure_ids: list[str]) -> dict[str, tuple[Discontinuity, ...]]:
    """Definitional breaks of the crime measures among ``measure_ids``: a measure of one offence
    group (``crime_<group>``, ``outcome_rate_<group>``) has its group's breaks from the offence map
    (``discontinuity`` in schemas/reference/offence_groups.csv), as of the month they start."""
    breaks = discontinuities()
    out: dict[str, tuple[Discontinuity, ...]] = {}
    for mid in measure_ids:
        group = mid.removeprefix("crime_").removeprefix("outcome_rate_")
        if group == mid or group not in GROUPS:
            continue
        mine = tuple(
            Discontinuity(YearMonth(b.starts.year, b.starts.month), b.note)
            for b in breaks
            if b.group == group
        )
        if mine:
            out[mid] = mine
    return out


def _ym(value: date) -> YearMonth:
    return YearMonth.from_index(value.year * 12 + value.month - 1)  # one shared instance per month


def _first_days(first: YearMonth, last: YearMonth) -> tuple[date, date]:
    return date(first.year, first.month, 1), date(last.year, last.month, 1)


# -- QA/Linking queue -------------------------------------------------------------------------------
def live_qa_queue(wh: Warehouse, force_id: str, now: datetime, definitions: Definitions) -> dict[str, Any]:
    """The QA/Linking queue now: ``depth`` (stays with entered_at <= now < exited_at),
    ``oldest_age_seconds`` (None when empty), and today's (local day up to now) ``inflow`` and
    ``outflow``."""
    now = as_utc(now)
    tz = ZoneInfo(definitions.timezone)
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz).astimezone(UTC)
    depth, oldest, inflow, outflow = cs.qa_live_row(wh, force_id, QA_QUEUE, now, midnight)
    age = (now - as_utc(oldest)).total_seconds() if depth else None
    return {"depth": int(depth), "oldest_age_seconds": age, "inflow": int(inflow), "outflow": int(outflow)}


def qa_queue_depth_at(wh: Warehouse, force_id: str, at: datetime) -> int:
    """Crimes in the QA/Linking queue at instant ``at`` (entered at or before, not exited by then)."""
    return cs.qa_depth_at(wh, force_id, QA_QUEUE, as_utc(at))


def qa_queue_daily(
    wh: Warehouse, force_id: str, until: datetime, definitions: Definitions
) -> list[dict[str, Any]]:
    """One item per local day from the first queue entry to the last snapshot not after ``until``:
    day, snapshot_at (UTC), depth and oldest_age_seconds at the snapshot, inflow / outflow in the 24
    hours ending at it. The snapshot is at ``crimes.qa_snapshot_time`` local time."""
    rows = cs.qa_daily_rows(wh, force_id, until, definitions)
    for row in rows:
        row["snapshot_at"] = as_utc(row["snapshot_at"])
        row["depth"], row["inflow"], row["outflow"] = (
            int(row["depth"]),
            int(row["inflow"]),
            int(row["outflow"]),
        )
    return rows


def summarise_month(days: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Monthly QA/Linking figures from that month's daily items (in day order): days, min, max,
    month_end (last snapshot), mean, stddev (sample; None with one day), max oldest age, inflow, outflow."""
    items = list(days)
    depths = [d["depth"] for d in items]
    ages = [d["oldest_age_seconds"] for d in items if d["oldest_age_seconds"] is not None]
    return {
        "days": len(items),
        "min_depth": min(depths),
        "max_depth": max(depths),
        "month_end_depth": depths[-1],
        "month_end_day": items[-1]["day"],
        "mean_depth": statistics.fmean(depths),
        "stddev_daily_depth": statistics.stdev(depths) if len(depths) > 1 else None,
        "max_oldest_age_seconds": max(ages) if ages else None,
        "inflow": sum(d["inflow"] for d in items),
        "outflow": sum(d["outflow"] for d in items),
    }


def qa_queue_monthly(
    wh: Warehouse, force_id: str, until: datetime, definitions: Definitions
) -> dict[YearMonth, dict[str, Any]]:
    """:func:`summarise_month` of every month of :func:`qa_queue_daily`."""
    by_month: dict[YearMonth, list[dict[str, Any]]] = defaultdict(list)
    for day in qa_queue_daily(wh, force_id, until, definitions):
        by_month[_ym(day["day"])].append(day)
    return {m: summarise_month(days) for m, days in sorted(by_month.items())}


# -- board ------------------------------------------------------------------------------------------
def monthly_cells(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> dict[str, dict[YearMonth, Cell]]:
    """Board cells for every id in :data:`MEASURE_IDS` (see the module docstring for the rules):
    :func:`counted_cells` with the QA/Linking queue's month ends (:func:`qa_month_end_cells`)."""
    cells = counted_cells(wh, force_id, first, last, definitions)
    cells[QA_MEASURE].update(qa_month_end_cells(wh, force_id, first, last, definitions)[QA_MEASURE])
    return cells


def counted_cells(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> dict[str, dict[YearMonth, Cell]]:
    """:func:`monthly_cells` of every id but the QA/Linking queue's month end (present, empty):
    the counts, outcome rates, disposals and timeliness of the force's crimes."""
    months = _first_days(first, last)
    # The outcome rate's rows count every counted crime in its period month and segment (``crimes``,
    # the rate's denominator), so the crime counts are read from them: one read of the crimes fewer.
    rates = _by_month_segment(cs.outcome_rate_rows(wh, force_id, *months, definitions))
    outcomes = {_ym(r["month"]): r for r in cs.disposal_rows(wh, force_id, *months, definitions)}
    cells: dict[str, dict[YearMonth, Cell]] = {m: {} for m in MEASURE_IDS}
    crime_months = {m for (m, seg), r in rates.items() if seg == "all" and r["crimes"]}
    outcome_months = crime_months | {m for m, seg in rates if seg == "all"} | set(outcomes)
    for month in crime_months:
        for seg in COUNT_SEGMENTS:
            cells[f"crime_{seg}"][month] = Cell(rates.get((month, seg), {}).get("crimes", 0))
    for row in cs.rural_incident_rows(wh, force_id, *months, definitions):
        month = _ym(row["month"])
        cells["crime_rural"][month] = Cell(
            cells["crime_rural"].get(month, Cell(0)).num + int(row["incidents"])
        )
    for month in outcome_months:
        _outcome_cells(cells, month, rates, outcomes.get(month, {}))
    for row in cs.ncrs_rows(wh, force_id, *months, definitions):
        cells["crime_recorded_within_24h_rate"][_ym(row["month"])] = Cell(row["within"], row["known"])
    return cells


def qa_month_end_cells(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> dict[str, dict[YearMonth, Cell]]:
    """:func:`monthly_cells` of the QA/Linking queue's month end alone (read apart from
    :func:`counted_cells`, so a board pack may read the two at once)."""
    cells: dict[str, dict[YearMonth, Cell]] = {QA_MEASURE: {}}
    _qa_cells(cells, wh, force_id, first, last, definitions)
    return cells


def _by_month_segment(rows: list[dict[str, Any]]) -> dict[tuple[YearMonth, str], dict[str, Any]]:
    return {(_ym(r["month"]), r["segment"]): r for r in rows}


def _outcome_cells(
    cells: dict[str, dict[YearMonth, Cell]],
    month: YearMonth,
    rates: dict[tuple[YearMonth, str], dict[str, Any]],
    disposals: dict[str, Any],
) -> None:
    for seg in RATE_SEGMENTS:
        rate = rates.get((month, seg), {})
        cells[f"outcome_rate_{seg}"][month] = Cell(rate.get("num", 0), rate.get("crimes", 0))
    cells["conditional_cautions_adult"][month] = Cell(disposals.get("cc_adult", 0))
    cells["conditional_cautions_youth"][month] = Cell(disposals.get("cc_youth", 0))
    cells["community_resolutions"][month] = Cell(disposals.get("community", 0))


def qa_queue_month_ends(
    wh: Warehouse, force_id: str, until: datetime, definitions: Definitions
) -> dict[YearMonth, int]:
    """The ``month_end_depth`` of every month of :func:`qa_queue_monthly` (the depth at the month's
    last daily snapshot not after ``until``), read without the days between."""
    rows = cs.qa_month_end_rows(wh, force_id, QA_QUEUE, as_utc(until), definitions)
    return {_ym(row["day"]): int(row["depth"]) for row in rows}


def _qa_cells(
    cells: dict[str, dict[YearMonth, Cell]],
    wh: Warehouse,
    force_id: str,
    first: YearMonth,
    last: YearMonth,
    definitions: Definitions,
) -> None:
    tz = ZoneInfo(definitions.timezone)
    after_last = last + 1
    end = datetime(after_last.year, after_last.month, 1, tzinfo=tz).astimezone(UTC)
    until = min(end - timedelta(milliseconds=1), datetime.now(UTC))
    wanted = set(month_range(first, last))
    for month, depth in qa_queue_month_ends(wh, force_id, until, definitions).items():
        if month in wanted:
            cells[QA_MEASURE][month] = Cell.level(depth)


def district_group_series(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> dict[str, dict[str, dict[YearMonth, int]]]:
    """Counted crimes per district, per current offence group, per month in [first, last] (months
    with none are absent), for the board narrative's growth drivers."""
    out: dict[str, dict[str, dict[YearMonth, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in cs.district_group_rows(wh, force_id, *_first_days(first, last), definitions):
        out[row["district"]][row["offence_group"]][_ym(row["month"])] = int(row["crimes"])
    return {d: dict(groups) for d, groups in out.items()}


def growth_drivers(
    series: dict[str, dict[str, dict[YearMonth, int]]], ending: YearMonth, threshold_pct: float = 10.0
) -> list[dict[str, Any]]:
    """Districts whose 12 months ending ``ending`` grew by more than ``threshold_pct`` on the 12
    months before, each with its groups ordered by their contribution to the change (largest first).
    A district with no crimes in the earlier year has an undefined growth and is left out."""
    now_months = set(month_range(ending - 11, ending))
    before_months = set(month_range(ending - 23, ending - 12))
    found: list[dict[str, Any]] = []
    for district, groups in sorted(series.items()):
        deltas = {
            g: sum(v for m, v in s.items() if m in now_months)
            - sum(v for m, v in s.items() if m in before_months)
            for g, s in groups.items()
        }
        before = sum(v for s in groups.values() for m, v in s.items() if m in before_months)
        if before == 0:
            continue
        growth = 100.0 * sum(deltas.values()) / before
        if growth > threshold_pct:
            drivers = sorted((g for g, d in deltas.items() if d > 0), key=lambda g: (-deltas[g], g))
            found.append({"district": district, "growth_pct": growth, "drivers": drivers, "deltas": deltas})
    return found
