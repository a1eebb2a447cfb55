"""Social media readers: the board's monthly cells, the wallboard's waiting threads and the lineage
of each cell (issue 22).

Every figure is read from the raw facts (``social_threads FINAL``) with the ``social`` definitions
applied at read time, by the statements of :mod:`sinks.clickhouse.social_sql`. Months and days are local to
``definitions.timezone``; a thread is placed in the month it was received.

Measures (month of receipt):
- ``social_threads``: threads received.
- ``social_first_response_within_target``: percent of threads whose first response came within
  ``social.first_response_target_minutes``; denominator by ``social.target_basis`` (threads with a
  first response, or every thread except short abandons).
- ``social_first_response_mins``: mean minutes from receipt to first response (responded threads).
- ``social_resolved_without_incident``: percent of threads closed by a handler whose disposition is
  not ``incident_created``.
- ``social_abandoned``: threads closed by the member of the public before any response, short
  abandons (within ``social.short_abandon_minutes``) excluded; ``social_abandoned_rate`` the percent
  of threads received less short abandons.

A month is present when at least one thread was received in it (counts may then be true zeros); a
percent or mean is present when its denominator is positive.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from schemas.definitions import Definitions
from sinks.clickhouse import social_sql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.times import as_utc

MEASURE_IDS: tuple[str, ...] = (
    "social_threads",
    "social_first_response_within_target",
    "social_first_response_mins",
    "social_resolved_without_incident",
    "social_abandoned",
    "social_abandoned_rate",
)


def _ym(value: date) -> YearMonth:
    return YearMonth(value.year, value.month)


def _first_day(month: YearMonth) -> date:
    return date(month.year, month.month, 1)


def monthly_cells(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> dict[str, dict[YearMonth, Cell]]:
    """Board cells for every id in :data:`MEASURE_IDS` (module docstring)."""
    cells: dict[str, dict[YearMonth, Cell]] = {m: {} for m in MEASURE_IDS}
    rows = social_sql.monthly_rows(wh, force_id, _first_day(first), _first_day(last), definitions)
    for r in rows:
        month = _ym(r["month"])
        cells["social_threads"][month] = Cell(float(r["received"]))
        cells["social_abandoned"][month] = Cell(float(r["abandoned"]))
        ratios = {
            "social_first_response_within_target": (r["within"], r["target_den"]),
            "social_resolved_without_incident": (r["without_incident"], r["resolved"]),
            "social_abandoned_rate": (r["abandoned"], r["received"] - r["short"]),
        }
        for measure, (num, den) in ratios.items():
            if den > 0:
                cells[measure][month] = Cell(float(num), float(den))
        if r["responded"]:
            cells["social_first_response_mins"][month] = Cell(
                float(r["mins"]), float(r["responded"]), float(r["mins_sq"])
            )
    return cells


def thread_rows(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> list[dict[str, Any]]:
    """One row per thread received in first..last with the read-time flags the cells count
    (``within``, ``in_target_den``, ``minutes``, ``resolved``, ``without_incident``, ``abandon``,
    ``short_abandon``): the same expressions as :func:`monthly_cells`, for lineage."""
    return social_sql.thread_rows(wh, force_id, _first_day(first), _first_day(last), definitions)


def contributions(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> dict[str, dict[YearMonth, list[Any]]]:
    """Per thread, its part in each measure's month cell (``demandhub.board.warehouse.lineage`` contributions),
    from :func:`thread_rows`; they add up to :func:`monthly_cells` exactly."""
    from demandhub.board.warehouse.lineage import Contribution

    target = definitions.social.first_response_target_minutes
    out: dict[str, dict[YearMonth, list[Any]]] = {m: {} for m in MEASURE_IDS}

    def add(measure: str, month: YearMonth, c: Contribution) -> None:
        out[measure].setdefault(month, []).append(c)

    for r in thread_rows(wh, force_id, first, last, definitions):
        month, tid = _ym(r["month"]), str(r["thread_id"])
        received = ("received", as_utc(r["received_at"]))
        responded = ("responded", as_utc(r["first_response_at"]) if r["first_response_at"] else None)
        closed = ("social_closed", as_utc(r["closed_at"]) if r["closed_at"] else None)
        add(
            "social_threads",
            month,
            Contribution(tid, tid, 1, None, True, "received", "counted: received", None, (received,)),
        )
        within, den = int(bool(r["within"])), int(bool(r["in_target_den"]))
        why = (
            f"counted: first response within {target} minutes"
            if within
            else "counted: not answered within the target"
            if den
            else "excluded: no first response (responded basis) or a short abandon"
        )
        add(
            "social_first_response_within_target",
            month,
            Contribution(
                tid, tid, within, den, bool(den), "first_response", why, None, (received, responded)
            ),
        )
        if r["minutes"] is not None:
            m = float(r["minutes"])
            add(
                "social_first_response_mins",
                month,
                Contribution(
                    tid,
                    tid,
                    m,
                    1,
                    True,
                    "responded",
                    "counted: minutes to first response",
                    m * m,
                    (received, responded),
                ),
            )
        if r["resolved"]:
            num = int(bool(r["without_incident"]))
            why = "counted: resolved without an incident" if num else "counted: an incident was created"
            add(
                "social_resolved_without_incident",
                month,
                Contribution(tid, tid, num, 1, True, "resolved", why, None, (closed,)),
            )
        abandon, short = int(bool(r["abandon"])), bool(r["short_abandon"])
        why = (
            "excluded: a short abandon (closed by the public within the threshold)"
            if short
            else "counted: closed by the public before any response"
            if abandon
            else "counted: not abandoned"
        )
        decided = (received, closed)
        add(
            "social_abandoned",
            month,
            Contribution(tid, tid, abandon, None, not short, "abandoned", why, None, decided),
        )
        add(
            "social_abandoned_rate",
            month,
            Contribution(tid, tid, abandon, 0 if short else 1, not short, "abandoned", why, None, decided),
        )
    return out


def live_social(wh: Warehouse, force_id: str, now: datetime, definitions: Definitions) -> dict[str, Any]:
    """The social media desk now: threads waiting for a first response (not closed), the age of the
    oldest, how many are past the first-response target, and today's (local day up to now) received,
    first responses, first responses within target and counted abandons; waiting threads per
    platform."""
    now = as_utc(now)
    tz = ZoneInfo(definitions.timezone)
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz).astimezone(UTC)
    row = social_sql.live_row(wh, force_id, now, midnight, definitions)
    waiting = int(row["waiting"])
    platforms = [
        {
            "platform": str(p["platform"]),
            "waiting": int(p["waiting"]),
            "oldest_age_seconds": (now - as_utc(p["oldest"])).total_seconds(),
        }
        for p in social_sql.waiting_by_platform(wh, force_id, now)
    ]
    return {
        "waiting": waiting,
        "oldest_age_seconds": (now - as_utc(row["oldest"])).total_seconds() if waiting else None,
        "over_target": int(row["over_target"]),
        "received_today": int(row["received_today"]),
        "responded_today": int(row["responded_today"]),
        "within_target_today": int(row["within_today"]),
        "abandoned_today": int(row["abandoned_today"]),
        "platforms": platforms,
    }
