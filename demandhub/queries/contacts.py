"""Contact readers: live queues, the board's monthly cells and the day reconciliation (DOMAIN 4.1-4.5).

Every function takes a :class:`~sinks.clickhouse.client.Warehouse` and plain parameters and returns
plain data. Days and months are local periods in ``definitions.timezone``.

- Live figures are read from the leg facts (FINAL) of the last two days and computed with the same
  pure rules as the golden tests (:mod:`streams.domain.servicelevel`), under the definitions given.
- Monthly figures are read from the 15-minute rollups; thresholds come from the definitions given
  and are read from the stored "within edge" counts (any threshold not among
  :data:`~streams.domain.servicelevel.WAIT_EDGES` is computed from the facts instead).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schemas.definitions import CallDefinitions, Definitions
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import ensure_fresh
from sinks.clickhouse.rollups_contacts import ROLLUPS, recompute_rows, stored_rows
from streams.domain.board.cells import Cell
from streams.domain.board.months import YearMonth
from streams.domain.servicelevel import (
    WAIT_EDGES,
    QueueCounters,
    Ratio,
    abandonment_rate,
    leg_counters,
    service_level,
)

LIVE_QUEUES: tuple[str, ...] = ("999", "101-primary", "101-secondary", "webchat")
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


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ratio(r: Ratio) -> dict[str, Any]:
    return {"num": r.num, "den": r.den, "percent": r.percent}


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """UTC start and end of a local calendar day (23 or 25 hours on clock-change days)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


# -- live ------------------------------------------------------------------------------------------
_WAITING_SQL = (
    "SELECT queue, clock_started_at FROM contact_legs FINAL WHERE force_id = {f:String} "
    "AND outcome = 'waiting' AND entered_at IS NOT NULL AND contact_ended_at IS NULL "
    "AND clock_started_at IS NOT NULL AND clock_started_at > {lo:DateTime64(3, 'UTC')} "
    "AND clock_started_at <= {now:DateTime64(3, 'UTC')}"
)
_RECENT_SQL = (
    "SELECT queue, placed_at, outcome, entered_queue, abandoned_in_queue, service_wait_seconds, "
    "answered_at, abandoned_at, callback_at, transferred_out_at FROM contact_legs FINAL "
    "WHERE force_id = {f:String} AND placed_at >= {placed_lo:DateTime64(3, 'UTC')} "
    "AND placed_at <= {now:DateTime64(3, 'UTC')} AND coalesce(answered_at, abandoned_at, callback_at, "
    "transferred_out_at) >= {lo:DateTime64(3, 'UTC')}"
)
LEFT_QUEUE_FIELDS: tuple[str, ...] = ("answered_at", "abandoned_at", "callback_at", "transferred_out_at")


def left_queue_at(leg: dict[str, Any]) -> datetime | None:
    """When a leg left its queue: answered, abandoned, called back or transferred out (the first
    known, in that order); None while it is still waiting."""
    for name in LEFT_QUEUE_FIELDS:
        value = _utc(leg.get(name))
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
    params = {"f": force_id, "lo": now - MAX_WAITING_AGE, "now": now}
    out = {q: {"waiting": 0, "longest_wait_seconds": None, "waiting_past_threshold": 0} for q in LIVE_QUEUES}
    for queue, started in wh.query(_WAITING_SQL, parameters=params).rows:
        if queue not in out:
            continue
        age = (now - _utc(started)).total_seconds()  # type: ignore[operator]
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
            **_ratio(service_level(c, calls.abandon_convention)),
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
    answered, service level under the configured convention (numerator, denominator, percent),
    abandoned and the abandonment rate (short abandons excluded). A contact counts in the window in
    which it was answered or abandoned, so a 15-minute window can hold a 20-minute wait.
    """
    now = now.astimezone(UTC)
    starts = window_starts(now, definitions.timezone)
    lo = min(starts.values())
    params = {"f": force_id, "lo": lo, "placed_lo": lo - MAX_WAITING_AGE, "now": now}
    recent = wh.query(_RECENT_SQL, parameters=params).dicts()
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
_MONTH = "toStartOfMonth(toDate(bucket, {tz:String}))"
_VOLUME_SQL = (
    f"SELECT {_MONTH} AS month, channel, sum(offered), sum(abandoned_never_answered), "
    "sum(abandoned_never_answered_short) FROM contact_channel_15m FINAL "
    "WHERE force_id = {f:String} AND bucket >= {lo:DateTime('UTC')} AND bucket < {hi:DateTime('UTC')} "
    "GROUP BY month, channel"
)
_QUEUE_SQL = (
    f"SELECT {_MONTH} AS month, queue, sum(entered), sum(answered), sumForEach(answered_within), "
    "sum(abandoned), sumForEach(abandoned_within) FROM contact_queue_15m FINAL "
    "WHERE force_id = {f:String} AND bucket >= {lo:DateTime('UTC')} AND bucket < {hi:DateTime('UTC')} "
    "AND queue IN {q:Array(String)} GROUP BY month, queue"
)
_QUEUE_FACTS_SQL = (
    "SELECT toStartOfMonth(toDate(placed_at, {tz:String})) AS month, queue, outcome, entered_queue, "
    "abandoned_in_queue, service_wait_seconds FROM contact_legs FINAL WHERE force_id = {f:String} "
    "AND placed_at >= {lo:DateTime64(3, 'UTC')} AND placed_at < {hi:DateTime64(3, 'UTC')} "
    "AND queue IN {q:Array(String)}"
)


def _month_bounds(first: YearMonth, last: YearMonth, tz: str) -> tuple[datetime, datetime]:
    start, _ = local_day_bounds(date(first.year, first.month, 1), tz)
    after = last + 1
    end, _ = local_day_bounds(date(after.year, after.month, 1), tz)
    return start, end


def _ym(value: date) -> YearMonth:
    return YearMonth(value.year, value.month)


def _edge_count(counts: list[int], edge: int) -> int | None:
    if edge not in WAIT_EDGES or len(counts) != len(WAIT_EDGES):
        return None
    return int(counts[WAIT_EDGES.index(edge)])


def _queue_counters(
    wh: Warehouse, params: dict[str, Any], calls: CallDefinitions
) -> dict[tuple[YearMonth, str], QueueCounters]:
    """Counters per (month, queue) from the rollup, or from the facts when a threshold of the
    definitions is not a stored edge."""
    out: dict[tuple[YearMonth, str], QueueCounters] = {}
    for month, queue, entered, answered, a_within, abandoned, b_within in wh.query(
        _QUEUE_SQL, parameters=params
    ).rows:
        t, s = calls.service_threshold_seconds.get(queue, 0), calls.short_abandon_seconds.get(queue, 0)
        picked = (
            _edge_count(a_within, t),
            _edge_count(b_within, t),
            _edge_count(b_within, s),
        )
        if any(p is None for p in picked):
            return _queue_counters_from_facts(wh, params, calls)
        out[(_ym(month), queue)] = QueueCounters(
            int(entered), int(answered), picked[0], int(abandoned), picked[1], picked[2]
        )  # type: ignore[arg-type]
    return out


def _queue_counters_from_facts(
    wh: Warehouse, params: dict[str, Any], calls: CallDefinitions
) -> dict[tuple[YearMonth, str], QueueCounters]:
    grouped: dict[tuple[YearMonth, str], list[dict[str, Any]]] = defaultdict(list)
    for row in wh.query(_QUEUE_FACTS_SQL, parameters=params).dicts():
        grouped[(_ym(row["month"]), row["queue"])].append(row)
    return {
        key: leg_counters(
            rows, calls.service_threshold_seconds.get(key[1], 0), calls.short_abandon_seconds.get(key[1], 0)
        )
        for key, rows in grouped.items()
    }


_CHANNEL_SINCE_SQL = (
    f"SELECT channel, min({_MONTH}) FROM contact_channel_15m FINAL WHERE force_id = {{f:String}} "
    "AND offered > 0 GROUP BY channel"
)


def _channel_since(wh: Warehouse, params: dict[str, Any]) -> dict[str, YearMonth]:
    """The month of each channel's first contact (ever, not only in the months read)."""
    return {str(ch): _ym(m) for ch, m in wh.query(_CHANNEL_SINCE_SQL, parameters=params).rows}


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
            t["never"] += int(never)
            t["never_short"] += int(never_short)
    for ym, t in totals.items():
        for channel in ("999", "101", "webchat", "online"):
            first = since.get(channel) if since is not None else ym
            if first is not None and first <= ym:
                cells[f"contacts_{channel}"][ym] = Cell(t[channel])
        cells["contacts_total"][ym] = Cell(t["999"] + t["101"] + t["webchat"] + t["online"])
        if t["101"]:
            cells["calls_101_abandoned_rate"][ym] = Cell(
                t["never"] - t["never_short"], t["101"] - t["never_short"]
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
    abandon convention (default: answered within T / answered). 999 and web-chat abandonment use the
    per-queue rule (queue abandons / queued, short abandons out of both); 101 abandonment is end to
    end (offered and never answered / offered, short abandons out of both), and also per queue
    (``calls_101_primary_abandoned_rate``, ``calls_101_secondary_abandoned_rate``: the stage at
    which callers gave up).
    """
    ensure_fresh(wh)  # rollup buckets logged by recent batches are recomputed first
    lo, hi = _month_bounds(first, last, definitions.timezone)
    params = {
        "f": force_id,
        "tz": definitions.timezone,
        "lo": lo.replace(tzinfo=None),  # naive UTC for DateTime('UTC') parameters
        "hi": hi.replace(tzinfo=None),
        "q": ["999", "101-primary", "101-secondary", "webchat"],
    }
    drop_short = definitions.calls.dedupe_short_abandons_from_volumes
    cells = _volume_cells(
        wh.query(_VOLUME_SQL, parameters=params).rows, drop_short, _channel_since(wh, params)
    )
    calls = definitions.calls
    for (ym, queue), c in _queue_counters(wh, params, calls).items():
        if c.entered == 0 and c.answered == 0 and c.abandoned == 0:
            continue
        sl = service_level(c, calls.abandon_convention)
        ab = abandonment_rate(c)
        if queue == "999":
            cells["calls_999_answered_within_10s"][ym] = Cell(sl.num, sl.den)
            cells["calls_999_abandoned_rate"][ym] = Cell(ab.num, ab.den)
        elif queue == "101-primary":
            cells["calls_101_answered_within_30s"][ym] = Cell(sl.num, sl.den)
            cells["calls_101_primary_abandoned_rate"][ym] = Cell(ab.num, ab.den)
        elif queue == "101-secondary":
            cells["calls_101_secondary_abandoned_rate"][ym] = Cell(ab.num, ab.den)
        elif queue == "webchat":
            cells["webchat_abandoned_rate"][ym] = Cell(ab.num, ab.den)
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
    row present on one side only). An empty list means the rollups agree with the facts. Quantile
    states are not compared. Buckets still logged for a lazy refresh are refreshed first (a
    difference then means a rollup that disagrees with the facts, not one about to be refreshed)."""
    ensure_fresh(wh)
    tz = (definitions or Definitions()).timezone
    start, end = local_day_bounds(day, tz)
    params = {"f": force_id, "s": start, "e": end}
    facts_where = "force_id = {f:String} AND placed_at >= {s:DateTime64(3, 'UTC')} AND placed_at < {e:DateTime64(3, 'UTC')}"
    stored_where = (
        "force_id = {f:String} AND bucket >= {s:DateTime64(3, 'UTC')} AND bucket < {e:DateTime64(3, 'UTC')}"
    )
    diffs: list[dict[str, Any]] = []
    for rollup in ROLLUPS:
        fresh = {tuple(r[k] for k in rollup.keys): r for r in recompute_rows(wh, rollup, facts_where, params)}
        kept = {tuple(r[k] for k in rollup.keys): r for r in stored_rows(wh, rollup, stored_where, params)}
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
