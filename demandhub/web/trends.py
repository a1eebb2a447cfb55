"""The wallboard's Trends section: offered per 15 minutes against the forecast band, a service-level
sparkline, the next hours' forecast and the call handlers each queue needs to meet its target.

Contract:
- :func:`add_trend_routes` adds ``GET /api/live/trends`` (everything below) and
  ``GET /api/live/staffing`` (only the staffing part) to an app that already has the live routes;
  the live page fetches the trends every ``TREND_REFRESH_SECONDS`` (they move slowly).
- :func:`build_trends_document` reads through :mod:`demandhub.queries.trends` on a read handle of its
  own (``Warehouse.open_reader("trends")``) in a thread of its own, cached for ``TREND_TTL_SECONDS``.
- Per queue: ``today`` (every slot from local midnight to now: offered, the band from the same
  weekday of the last ``forecast_history_weeks`` weeks, and the slot's service level),
  ``ratio_to_normal`` (today so far against the band's expectation), ``forecast`` (the next
  ``forecast_horizon_hours`` of slots, band times today's level) and ``staffing`` (per forecast hour:
  handlers needed under Erlang-C and Erlang-A for the queue's target, with handle time and patience
  measured over the last ``staffing_measure_days``). The maths is in :mod:`streams.domain.forecast`
  and :mod:`streams.domain.staffing`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from demandhub.queries.trends import QueueMeasures, SlotCounts, history_starts, queue_measures, queue_slots
from demandhub.settings import Settings
from demandhub.web.server import SETTINGS_KEY, WAREHOUSE_KEY, json_response, to_jsonable
from schemas.definitions import CallDefinitions
from schemas.queues import QUEUE_LABELS
from sinks.clickhouse.client import Warehouse
from streams.domain import forecast as fc
from streams.domain import staffing as st
from streams.domain.servicelevel import service_level

log = logging.getLogger(__name__)

TREND_TTL_SECONDS = 10.0
TREND_REFRESH_SECONDS = 30
TREND_QUEUES: tuple[tuple[str, str], ...] = QUEUE_LABELS


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _slot_service_level(counts: SlotCounts | None, calls: CallDefinitions) -> float | None:
    """The slot's service level under the call definitions (None when it has no denominator)."""
    if counts is None:
        return None
    rate = service_level(counts.counters, calls.abandon_convention, calls.callbacks_in_service_level)
    return None if rate.den == 0 else rate.num / rate.den


def staffing_hours(
    hours: list[tuple[datetime, float]],
    measures: QueueMeasures,
    threshold_s: float,
    target: float,
    per_handler: int,
    basis: str = "forecast",
) -> dict[str, Any]:
    """Handlers needed per forecast hour for ``target`` within ``threshold_s`` (pure, given inputs).
    ``basis`` names where the hours' demand came from (``forecast`` or ``last_60_minutes``)."""
    handle = measures.handle_seconds
    patience = st.patience_seconds(measures.abandoned, measures.waited_seconds)
    rows = []
    for start, expected in hours:
        row: dict[str, Any] = {"start": start, "offered_expected": round(expected, 1)}
        if handle is None or handle <= 0:
            row |= {"required_erlang_c": None, "required_erlang_a": None}
        else:
            req = st.requirement(expected / 3600.0, handle, patience, threshold_s, target)
            a = req.figures_a
            row |= {
                "offered_load_erlangs": round(expected * handle / 3600.0, 2),
                "required_erlang_c": st.handlers_for(req.erlang_c, per_handler),
                "required_erlang_a": st.handlers_for(req.erlang_a, per_handler),
                "service_level_at_required": _round(a.service_level if a else None, 3),
                "abandonment_at_required": _round(a.p_abandon if a else None, 3),
            }
        rows.append(row)
    return {
        "service_level_target": target,
        "threshold_seconds": threshold_s,
        "handle_seconds": _round(handle, 1),
        "patience_seconds": _round(patience, 1),
        "measured_answered": measures.answered,
        "measured_abandoned": measures.abandoned,
        "contacts_per_handler": per_handler,
        "model": "erlang_a" if patience is not None else "erlang_c",
        "demand_basis": basis,
        "hours": rows,
    }


def build_trends_document(wh: Warehouse, settings: Settings, now: datetime) -> dict[str, Any]:
    """The Trends section for every wallboard queue (blocking: run it in a thread)."""
    defs, force = settings.definitions, settings.force_id
    tz, weeks, horizon = defs.timezone, settings.forecast_history_weeks, settings.forecast_horizon_hours
    now = now.astimezone(UTC)
    zone = ZoneInfo(tz)
    local_midnight = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), zone).astimezone(UTC)
    queues = tuple(q for q, _ in TREND_QUEUES)
    lo = fc.weeks_ago(local_midnight, weeks, tz) - timedelta(days=1)
    counts = queue_slots(wh, force, lo, now + fc.SLOT, queues, defs)
    starts = history_starts(wh, force, queues, defs)
    measures = queue_measures(wh, force, now, settings.staffing_measure_days, queues)
    current = fc.slot_start(now)
    out = []
    for queue, label in TREND_QUEUES:
        mine = counts[queue]
        offered = {t: float(c.offered) for t, c in mine.items()}
        first = starts.get(queue, now)  # a queue with no contact yet has no history at all
        today_slots = fc.slots(local_midnight, current + fc.SLOT)
        today_bands = fc.bands(offered, today_slots, weeks, tz, first)
        today = []
        for slot, band in zip(today_slots, today_bands, strict=True):
            c = mine.get(slot)
            today.append(
                {
                    "start": slot,
                    "offered": c.offered if c else 0,
                    "expected": _round(band.expected if band else None),
                    "low": _round(band.low if band else None),
                    "high": _round(band.high if band else None),
                    "service_level": _round(_slot_service_level(c, defs.calls), 3),
                }
            )
        done = [b for s, b in zip(today_slots, today_bands, strict=True) if s < current and b is not None]
        expected_so_far = sum(b.expected for b in done)
        offered_so_far = sum(offered.get(b.start, 0.0) for b in done)
        level, ahead = fc.forecast(offered, now, horizon, weeks, tz, first)
        hours, basis = fc.hourly(ahead), "forecast"
        if not hours:  # no past weeks yet: size the next hours on the arrival rate of the last hour
            since = max(now - timedelta(hours=1), first)
            span_h = (now - since).total_seconds() / 3600
            rate = sum(c.offered for t, c in mine.items() if t >= since) / span_h if span_h > 0 else 0.0
            hours = [(current + fc.SLOT + timedelta(hours=i), rate) for i in range(horizon)]
            basis = "last_60_minutes"
        threshold = float(defs.calls.service_threshold_seconds.get(queue, 0))
        target = settings.service_level_targets[queue]
        per_handler = settings.contacts_per_handler.get(queue, 1)
        out.append(
            {
                "queue": queue,
                "label": label,
                "history_weeks_used": max((b.weeks for b in today_bands if b is not None), default=0),
                "offered_today": sum(c.offered for t, c in mine.items() if t >= local_midnight),
                "expected_so_far": _round(expected_so_far, 1) if done else None,
                "ratio_to_normal": _round(offered_so_far / expected_so_far, 3)
                if expected_so_far > 0
                else None,
                "level": round(level, 3),
                "today": today,
                "forecast": [
                    {
                        "start": f.start,
                        "expected": round(f.expected, 2),
                        "low": round(f.low, 2),
                        "high": round(f.high, 2),
                    }
                    for f in ahead
                    if f is not None
                ],
                "staffing": staffing_hours(hours, measures[queue], threshold, target, per_handler, basis),
            }
        )
    return to_jsonable(
        {
            "generated_at": now,
            "force_id": force,
            "timezone": tz,
            "history_weeks": weeks,
            "horizon_hours": horizon,
            "refresh_seconds": TREND_REFRESH_SECONDS,
            "queues": out,
        }
    )


class TrendCache:
    """The latest trends document, recomputed at most once per ``ttl`` in a thread of its own."""

    def __init__(self, compute: Callable[[], dict[str, Any]], ttl: float = TREND_TTL_SECONDS) -> None:
        self.compute, self.ttl = compute, ttl
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trends")
        self._doc: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Any]:
        async with self._lock:
            if self._doc is None or time.monotonic() - self._at >= self.ttl:
                self._doc = await asyncio.get_running_loop().run_in_executor(self.executor, self.compute)
                self._at = time.monotonic()
            return self._doc


TREND_CACHE_KEY: web.AppKey[TrendCache] = web.AppKey("trend_cache", TrendCache)
TREND_READER_KEY: web.AppKey[Warehouse] = web.AppKey("trend_reader", Warehouse)


async def _trends(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        return await request.app[TREND_CACHE_KEY].get()
    except Exception:
        log.exception("trends reader failed")
        return json_response({"error": "reader failed"}, status=503)


async def live_trends(request: web.Request) -> web.Response:
    doc = await _trends(request)
    return doc if isinstance(doc, web.Response) else json_response(doc)


async def live_staffing(request: web.Request) -> web.Response:
    doc = await _trends(request)
    if isinstance(doc, web.Response):
        return doc
    return json_response(
        {
            "generated_at": doc["generated_at"],
            "horizon_hours": doc["horizon_hours"],
            "queues": [
                {"queue": q["queue"], "label": q["label"], "forecast_level": q["level"], **q["staffing"]}
                for q in doc["queues"]
            ],
        }
    )


async def _close_trends(app: web.Application) -> None:
    app[TREND_CACHE_KEY].executor.shutdown(wait=False, cancel_futures=True)
    await asyncio.to_thread(app[TREND_READER_KEY].close)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def add_trend_routes(app: web.Application, now: Callable[[], datetime] = _utc_now) -> None:
    """Add ``/api/live/trends`` and ``/api/live/staffing``; ``now`` is the clock (tests fix it)."""
    wh, settings = app[WAREHOUSE_KEY].open_reader("trends"), app[SETTINGS_KEY]
    app[TREND_READER_KEY] = wh
    app[TREND_CACHE_KEY] = TrendCache(lambda: build_trends_document(wh, settings, now()))
    app.on_cleanup.append(_close_trends)
    app.router.add_get("/api/live/trends", live_trends)
    app.router.add_get("/api/live/staffing", live_staffing)
