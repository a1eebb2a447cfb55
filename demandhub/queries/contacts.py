"""Contact readers: live queues, the board's monthly cells and the day reconciliation (DOMAIN 4.1-4.5).

Every function takes a :class:`~sinks.clickhouse.client.Warehouse` and plain parameters and returns
plain data. Days and months are local periods in ``definitions.timezone``.

Facts hold no definition: every figure applies the definitions given when it is read, in ClickHouse
(:mod:`sinks.clickhouse.contacts_sql`: the service clock, thresholds, short abandons). Every statement
is a named function there; this module turns its rows into figures.

- Live figures are read from the leg facts (FINAL) of the last two days, with the service wait and
  clock start of the definitions given, and computed with the same pure rules as the golden tests
  (:mod:`streams.domain.servicelevel`).
- Monthly figures are read from the 15-minute rollups when they are complete under the definitions
  given (:func:`sinks.clickhouse.contacts_sql.rollup_rows`: rows of the definitions' hash); under any
  other definitions the same figures are computed from the facts by the rollup's own SELECT, so
  both paths give identical figures and no replay is needed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from schemas.definitions import CallDefinitions, Definitions
from schemas.queues import QUEUES
from sinks.clickhouse import contacts_sql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import applied, ensure_fresh
from sinks.clickhouse.rollups_contacts import ROLLUPS
from sinks.clickhouse.times import as_utc
from streams.domain.servicelevel import (
    QUEUE_MEASURES,
    QueueCounters,
    Ratio,
    abandonment_rate,
    leg_counters,
    service_level,
)

LIVE_QUEUES: tuple[str, ...] = QUEUES
CONTACT_CHANNELS: tuple[str, ...] = ("999", "101", "webchat", "online")
"""``schemas.contacts.CONTACT_CHANNELS`` (every contact channel, in the order the volume cells are
read), written out here: importing the contact event models for it cost the board's start-up about
20 ms of CPU (tests/unit/test_defined_once.py holds the two equal)."""
MEASURE_IDS: tuple[str, ...] = (
    "contacts_999",
    "contacts_101",
    "contacts_webchat",
    "contacts_online",
    "contacts_total",
    "calls_999_answered_within_10s",
    "calls_101_answered_within_30s",
    "calls_999_abandoned_rate",
    "calls_101_abandoned_rate",
    "calls_101_primary_abandoned_rate",
    "calls_101_secondary_abandoned_rate",
    "webchat_abandoned_rate",
)
MAX_WAITING_AGE = timedelta(days=1)
"""A contact still 'waiting' after this long lost its end event; the wallboard leaves it out."""


def _ratio(r: Ratio) -> dict[str, Any]:
    return {"num": r.num, "den": r.den, "percent": r.percent}


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """UTC start and end of a local calendar day (23 or 25 hours on clock-change days)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


# -- live ------------------------------------------------------------------------------------------
LEFT_QUEUE_FIELDS: tuple[str, ...] = ("answered_at", "abandoned_at", "callback_at", "transferred_out_at")


def left_queue_at(leg: dict[str, Any]) -> datetime | None:
    """When a leg left its queue: answered, abandoned, called back or transferred out (the first
    known, in that order); None while it is still waiting."""
    for name in LEFT_QUEUE_FIELDS:
        value = as_utc(leg.get(name))
        if value is not None:
            return value
    return None


def legs_left_in(legs: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The legs that left the queue in ``[start, end]`` (the contact-centre window convention: a
    contact counts in the window in which it was answered or abandoned, whenever it was queued)."""
    out = []
    for leg in legs:
        left = left_queue_at(leg)
        if left is not None and start <= left <= end:
            out.append(leg)
    return out


def waiting_by_queue(
    wh: Warehouse, force_id: str, now: datetime, calls: CallDefinitions
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        q: {"waiting": 0, "longest_wait_seconds": None, "waiting_past_threshold": 0} for q in LIVE_QUEUES
    }
    for queue, started in contacts_sql.waiting_legs(wh, force_id, now - MAX_WAITING_AGE, now, calls):
        if queue not in out:
            continue
        age = (now - as_utc(started)).total_seconds()
        item = out[queue]
        item["waiting"] += 1
        item["longest_wait_seconds"] = max(age, item["longest_wait_seconds"] or 0.0)
        threshold = calls.service_threshold_seconds.get(queue)
        item["waiting_past_threshold"] += int(threshold is not None and age >= threshold)
    return out


def _period_figures(legs: list[dict[str, Any]], queue: str, defs: Definitions) -> dict[str, Any]:
    calls = defs.calls
    c = leg_counters(
        legs,
        calls.service_threshold_seconds.get(queue, 0),
        calls.short_abandon_seconds.get(queue, 0),
    )
    return {
        "offered": c.entered,
        "answered": c.answered,
        "service_level": {
            "convention": calls.abandon_convention,
            **_ratio(service_level(c, calls.abandon_convention, calls.callbacks_in_service_level)),
        },
        "abandoned": c.abandoned,
        "short_abandoned": c.short_abandoned,
        "abandonment_rate": _ratio(abandonment_rate(c)),
    }


def live_queues(
    wh: Warehouse, force_id: str, now: datetime, definitions: Definitions
) -> list[dict[str, Any]]:
    """Per live queue (999, 101-primary, 101-secondary, webchat): contacts waiting now, the longest
    current wait and how many wait past the threshold; and for ``last_15m``, ``last_60m`` and
    ``today`` (local day): the queued contacts that LEFT the queue in the window (``offered``),
    answered, service level under the configured convention and callback basis (numerator,
    denominator, percent),
    abandoned and the abandonment rate (short abandons excluded). A contact counts in the window in
    which it was answered or abandoned, so a 15-minute window can hold a 20-minute wait.
    """
    now = now.astimezone(UTC)
    starts = window_starts(now, definitions.timezone)
    lo = min(starts.values())
    recent = contacts_sql.recent_legs(wh, force_id, lo, lo - MAX_WAITING_AGE, now, definitions)
    waiting = waiting_by_queue(wh, force_id, now, definitions.calls)
    return [
        {"queue": queue, **waiting[queue], "periods": window_periods(recent, queue, starts, now, definitions)}
        for queue in LIVE_QUEUES
    ]


def window_starts(now: datetime, timezone: str) -> dict[str, datetime]:
    """Start of each live window ending at ``now``: the last 15 and 60 minutes and the local day."""
    today_start, _ = local_day_bounds(now.astimezone(ZoneInfo(timezone)).date(), timezone)
    return {
        "last_15m": now - timedelta(minutes=15),
        "last_60m": now - timedelta(minutes=60),
        "today": today_start,
    }


def window_periods(
    legs: list[dict[str, Any]],
    queue: str,
    starts: dict[str, datetime],
    now: datetime,
    definitions: Definitions,
) -> dict[str, dict[str, Any]]:
    """Figures of each window for one queue, from leg rows counted by when they left the queue."""
    mine = [r for r in legs if r["queue"] == queue]
    return {
        name: _period_figures(legs_left_in(mine, start, now), queue, definitions)
        for name, start in starts.items()
    }


# -- monthly -----------------------------------------------------------------------------------------
def _month_bounds(first: YearMonth, last: YearMonth, tz: str) -> tuple[datetime, datetime]:
    start, _ = local_day_bounds(date(first.year, first.month, 1), tz)
    after = last + 1
    end, _ = local_day_bounds(date(after.year, after.month, 1), tz)
    return start, end


def _ym(value: date) -> YearMonth:
    return YearMonth(value.year, value.month)


_Months = tuple[str, str, datetime, datetime, tuple[str, ...]]
"""The months read: force, time zone, naive UTC start and end, and the queues."""


def _counters_of(rows: list[tuple[Any, ...]]) -> dict[tuple[YearMonth, str], QueueCounters]:
    """Counters per (month, queue) of the queue rollup's month rows (thresholds and short abandons
    as the rollup's value expressions apply them under the definitions read)."""
    out: dict[tuple[YearMonth, str], QueueCounters] = {}
    for month, queue, *counts in rows:
        # entered, answered, within threshold, abandoned, within threshold, short, callbacks
        out[(_ym(month), queue)] = QueueCounters(*(int(n) for n in counts))
    return out


def _volume_cells(
    rows: list[tuple[Any, ...]], drop_short: bool, since: dict[str, YearMonth] | None = None
) -> dict[str, dict[YearMonth, Cell]]:
    """Volume and 101 end-to-end cells per month. A channel exists from the month of its first
    contact (``since``): before it its cells are absent (no data), after it a month without any of
    its contacts is zero."""
    cells: dict[str, dict[YearMonth, Cell]] = {m: {} for m in MEASURE_IDS}
    totals: dict[YearMonth, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for month, channel, offered, never, never_short in rows:
        t = totals[_ym(month)]
        # De-duplication drops only contacts never answered whose final abandon was short (an
        # answered call that abandoned a later transfer queue was a real contact).
        t[channel] += int(offered) - (int(never_short) if drop_short else 0)
        if channel == "101":
            t["offered_101"] += int(offered)  # the rate's own denominator: not de-duplicated
            t["never"] += int(never)
            t["never_short"] += int(never_short)
    for ym, t in totals.items():
        for channel in CONTACT_CHANNELS:
            first = since.get(channel) if since is not None else ym
            if first is not None and first <= ym:
                cells[f"contacts_{channel}"][ym] = Cell(t[channel])
        cells["contacts_total"][ym] = Cell(sum(t[channel] for channel in CONTACT_CHANNELS))
        if t["offered_101"]:  # short abandons leave both sides once, de-duplicated volumes or not
            cells["calls_101_abandoned_rate"][ym] = Cell(
                t["never"] - t["never_short"], t["offered_101"] - t["never_short"]
            )
    return cells


def monthly_cells(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> dict[str, dict[YearMonth, Cell]]:
    """Board cells per measure id and month (months with no contacts are absent).

    Volumes count contacts by the month they were offered (a call once whatever happened to it;
    total = 999 + 101 + online + web chat), less contacts never answered whose final abandon was
    short when ``dedupe_short_abandons_from_volumes`` is set. A channel's months before its first
    contact are absent (no data), not zero. ``calls_999_answered_within_10s`` and
    ``calls_101_answered_within_30s`` (the 101 primary queue) use the configured threshold and
    abandon convention (default: answered within T / answered); queue visits that ended in a
    callback request are misses in the denominator when ``callbacks_in_service_level`` is ``missed``
    (default: left out). 999 and web-chat abandonment use the
    per-queue rule (queue abandons / queued, short abandons out of both); 101 abandonment is end to
    end (offered and never answered / offered, short abandons out of both), and also per queue
    (``calls_101_primary_abandoned_rate``, ``calls_101_secondary_abandoned_rate``: the stage at
    which callers gave up).
    """
    lo, hi = _month_bounds(first, last, definitions.timezone)
    months: _Months = (
        force_id,
        definitions.timezone,
        lo.replace(tzinfo=None),  # naive UTC for DateTime('UTC') parameters
        hi.replace(tzinfo=None),
        QUEUES,
    )
    drop_short = definitions.calls.dedupe_short_abandons_from_volumes
    volumes, first_months, queue_rows = contacts_sql.month_rows(wh, *months, definitions)
    cells = _volume_cells(volumes, drop_short, {str(ch): _ym(m) for ch, m in first_months})
    calls = definitions.calls
    for (ym, queue), c in _counters_of(queue_rows).items():
        if c.entered == 0 and c.answered == 0 and c.abandoned == 0:
            continue
        rates = {
            "sl": service_level(c, calls.abandon_convention, calls.callbacks_in_service_level),
            "ab": abandonment_rate(c),
        }
        for measure, rate in QUEUE_MEASURES.get(queue, ()):
            cells[measure][ym] = Cell(rates[rate].num, rates[rate].den)
    return cells


# -- reconciliation ----------------------------------------------------------------------------------
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)), abs(float(b)))
    return bool(a == b)


def reconcile_day(
    wh: Warehouse, force_id: str, day: date, definitions: Definitions | None = None
) -> list[dict[str, Any]]:
    """Recompute one local day of both contact rollups from the facts and list every difference
    from the stored rollups: ``{"table", "key", "column", "rollup", "facts"}`` (column ``"*"`` for a
    row present on one side only). Each rollup is compared under the definitions it is recorded as
    complete under (``definitions`` when none are recorded); ``definitions`` give the time zone. An empty list means the rollups agree with the facts. Quantile
    states are not compared. Buckets still logged for a lazy refresh are refreshed first (a
    difference then means a rollup that disagrees with the facts, not one about to be refreshed)."""
    ensure_fresh(wh)
    defs = definitions or Definitions()
    tz = defs.timezone
    start, end = local_day_bounds(day, tz)
    diffs: list[dict[str, Any]] = []
    for rollup in ROLLUPS:
        recorded = applied(wh, rollup.table)  # the stored rows are those of the recorded definitions
        under = recorded[1] if recorded is not None else defs
        fresh_rows, stored_rows = contacts_sql.day_rollup_rows(wh, rollup, force_id, start, end, under)
        fresh = {tuple(r[k] for k in rollup.keys): r for r in fresh_rows}
        kept = {tuple(r[k] for k in rollup.keys): r for r in stored_rows}
        for key in sorted(set(fresh) | set(kept), key=str):
            named = dict(zip(rollup.keys, key, strict=True))
            a, b = kept.get(key), fresh.get(key)
            if a is None or b is None:
                diffs.append({"table": rollup.table, "key": named, "column": "*", "rollup": a, "facts": b})
                continue
            diffs.extend(
                {"table": rollup.table, "key": named, "column": col, "rollup": a[col], "facts": b[col]}
                for col in rollup.compared
                if not _same(a[col], b[col])
            )
    return diffs
