"""The supervisors' live wallboard: page, login form, live JSON API and server-sent events.

Contract:
- :func:`add_live_routes` adds ``/``, ``/login``, ``/logout``, ``/static/*``, ``/api/live*`` and
  ``/api/openapi.json`` to an app built by :func:`demandhub.web.server.build_web_app` (whose
  middleware authenticates every route except ``/health`` and ``/login``).
- The live document is built by :func:`build_live_document` from a fixed, typed set of readers
  (:class:`LiveReaders`: ``live_queues``, ``live_open_incidents``, ``live_qa_queue``, ``live_social``
  and the feed monitor, imported by name, so a missing one fails at import or when the set is built)
  in a worker thread, never on the event loop. One :class:`LiveCache` per app recomputes it at most once per ``ttl`` whatever the
  number of open pages and streams.
- The live path has read handles (``Warehouse.open_reader("live")``, ``"live-1"``) and threads of
  its own, so it never waits for the writer, for analyst queries or for the pipeline's threads; its
  sections are read at once on them (:class:`LiveLanes`); all are closed when the app is cleaned up.
- A reader that fails leaves its section empty and names it under ``errors``; the other sections
  are still served.
- A queue tile's service-level target is the ``service_level_targets`` setting for that queue (none
  for a queue the setting does not name); its abandonment target the ``abandonment_target`` setting.
- ``/api/live/stream`` pushes the document (event ``live``) when its content changes, checking
  every ``STREAM_CHECK_SECONDS``, and a ``heartbeat`` event otherwise, so a page can tell a quiet
  feed from a dead one. Figures that tick with the clock (time left, waits, ages) do not count as a
  change: the page ticks them itself from the last figures and re-synchronises on every push and
  at least every ``RESYNC_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from demandhub.queries.contacts import live_queues as read_live_queues
from demandhub.queries.crimes import live_qa_queue as read_live_qa_queue
from demandhub.queries.incidents import live_open_incidents as read_live_open_incidents
from demandhub.queries.social import live_social as read_live_social
from demandhub.settings import Settings
from demandhub.web.feeds import FeedMonitor
from demandhub.web.server import (
    CREDS_KEY,
    ROLE_KEY,
    SESSIONS_KEY,
    SETTINGS_KEY,
    WAREHOUSE_KEY,
    json_response,
    session_alive,
    set_session_cookie,
    to_jsonable,
)
from demandhub.web.sessions import COOKIE
from schemas.canonical import json_hash
from schemas.definitions import Definitions
from schemas.queues import QUEUE_LABELS
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.times import as_utc
from streams.domain.incidents import watch_status

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
OPENAPI_FILE = Path(__file__).parent / "openapi.json"
CACHE_TTL_SECONDS = 0.5
STREAM_CHECK_SECONDS = 0.5
HEARTBEAT_SECONDS = 2.0
RESYNC_SECONDS = 30.0
STALE_AFTER_SECONDS = 10
SESSION_CHECK_SECONDS = 2.0  # an open event stream ends this soon after its session ends
QUEUES: tuple[tuple[str, str], ...] = QUEUE_LABELS
WINDOWS = ("last_15m", "last_60m", "today")
VOLATILE_KEYS = frozenset(
    {"generated_at", "seconds_left", "longest_wait_seconds", "oldest_age_seconds", "seconds_since_last_event"}
)


# -- readers -----------------------------------------------------------------------------------------
class RowsReader(Protocol):
    """A live reader returning one mapping per row (queues, open incidents)."""

    def __call__(
        self, wh: Warehouse, force_id: str, now: datetime, definitions: Definitions, /
    ) -> Sequence[Mapping[str, Any]]: ...


class SectionReader(Protocol):
    """A live reader returning one mapping (the QA queue, the social media desk, feed health)."""

    def __call__(
        self, wh: Warehouse, force_id: str, now: datetime, definitions: Definitions, /
    ) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class LiveReaders:
    """The live page's readers, one per section, every one required: a set built without one (or
    with something that is not callable) is refused when built, so the server does not start."""

    queues: RowsReader
    incidents: RowsReader
    qa: SectionReader
    social: SectionReader
    feeds: SectionReader

    def __post_init__(self) -> None:
        missing = [f.name for f in fields(self) if not callable(getattr(self, f.name))]
        if missing:
            raise TypeError(f"live readers missing for: {', '.join(missing)}")


def default_readers(settings: Settings) -> LiveReaders:
    """The readers of ``demandhub.queries`` (contacts, incidents, crimes, social media) and a feed
    monitor on the settings' feed-health thresholds."""
    return LiveReaders(
        queues=read_live_queues,
        incidents=read_live_open_incidents,
        qa=read_live_qa_queue,
        social=read_live_social,
        feeds=FeedMonitor.of(settings),
    )


# -- the document ------------------------------------------------------------------------------------
def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value:
        with contextlib.suppress(ValueError):
            return _utc(datetime.fromisoformat(value))
    return None


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _int(value: Any) -> int:
    number = _num(value)
    return int(number) if number is not None else 0


def incident_item(raw: Mapping[str, Any], now: datetime, amber_share: float) -> dict[str, Any]:
    """One open incident (a ``live_open_incidents`` item) in seconds as of ``now``."""
    target_s = (_num(raw.get("target_minutes")) or 0.0) * 60
    left = (_num(raw.get("minutes_left")) or 0.0) * 60
    start = _utc(raw.get("clock_start_at"))
    return {
        "incident_id": str(raw.get("incident_id", "")),
        "grade": str(raw.get("grade", "")),
        "district": raw.get("district") or "",
        "area": raw.get("area") or "",
        "urban_rural": raw.get("urban_rural") or "",
        "clock_start_at": start,
        "target_at": start + timedelta(seconds=target_s) if start else now + timedelta(seconds=left),
        "target_seconds": target_s,
        "seconds_left": left,
        "amber_at_seconds_left": target_s * (1 - amber_share),
        "status": raw.get("status") or watch_status(target_s - left, target_s, amber_share),
    }


def incidents_section(raw: Sequence[Mapping[str, Any]], now: datetime, amber_share: float) -> dict[str, Any]:
    items = sorted(
        (incident_item(r, now, amber_share) for r in raw),
        key=lambda i: (i["seconds_left"], i["incident_id"]),
    )
    return {
        "amber_share": amber_share,
        "open": len(items),
        "amber": sum(1 for i in items if i["status"] == "amber"),
        "red": sum(1 for i in items if i["status"] == "red"),
        "items": items,
    }


def _share(ratio: Mapping[str, Any] | None) -> tuple[float | None, int, int]:
    """(rate 0-1 or None for a zero denominator, numerator, denominator) of a reader ratio."""
    ratio = ratio or {}
    percent = _num(ratio.get("percent"))
    return (percent / 100 if percent is not None else None, _int(ratio.get("num")), _int(ratio.get("den")))


def window_figures(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Service level and abandonment of one window (``live_queues`` ``periods`` item)."""
    raw = raw or {}
    sl, sl_num, sl_den = _share(raw.get("service_level"))
    ab, ab_num, ab_den = _share(raw.get("abandonment_rate"))
    return {
        "offered": _int(raw.get("offered")),
        "answered": _int(raw.get("answered")),
        "service_level": sl,
        "sl_numerator": sl_num,
        "sl_denominator": sl_den,
        "convention": (raw.get("service_level") or {}).get("convention"),
        "abandonment": ab,
        "abandoned": ab_num,
        "abandon_denominator": ab_den,
    }


def queue_tile(
    queue: str,
    label: str,
    raw: Mapping[str, Any] | None,
    defs: Definitions,
    service_level_targets: Mapping[str, float],
    abandonment_targets: Mapping[str, float],
) -> dict[str, Any]:
    """One queue's tile: waiting now, longest wait, past threshold, and the three windows (each
    counts the contacts that left the queue in it); the service-level and abandonment targets from
    the settings (None for a queue they do not name)."""
    raw = raw or {}
    periods = raw.get("periods") or {}
    return {
        "queue": queue,
        "label": label,
        "waiting": _int(raw.get("waiting")),
        "longest_wait_seconds": _num(raw.get("longest_wait_seconds")),
        "waiting_past_threshold": _int(raw.get("waiting_past_threshold")),
        "threshold_seconds": defs.calls.service_threshold_seconds.get(queue),
        "service_level_target": service_level_targets.get(queue),
        "abandonment_target": abandonment_targets.get(queue),
        "windows": {w: window_figures(periods.get(w)) for w in WINDOWS},
    }


def queues_section(
    raw: Sequence[Mapping[str, Any]],
    defs: Definitions,
    service_level_targets: Mapping[str, float],
    abandonment_targets: Mapping[str, float],
) -> list[dict[str, Any]]:
    """The four wallboard queues in a fixed order, then any force-specific queue the reader gave."""
    found = {str(row.get("queue")): row for row in raw}
    labels = dict(QUEUES)
    order = [q for q, _ in QUEUES] + sorted(q for q in found if q not in labels)
    return [
        queue_tile(q, labels.get(q, q), found.get(q), defs, service_level_targets, abandonment_targets)
        for q in order
    ]


def qa_section(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The QA/Linking queue (``live_qa_queue``): depth, oldest item age, today's in and out."""
    return {
        "depth": _int(raw.get("depth")),
        "oldest_age_seconds": _num(raw.get("oldest_age_seconds")),
        "inflow_today": _int(raw.get("inflow")),
        "outflow_today": _int(raw.get("outflow")),
    }


def social_section(raw: Mapping[str, Any], defs: Definitions) -> dict[str, Any]:
    """The social media desk (``live_social``): threads waiting for a first response, the oldest
    unanswered one's age, how many are past the first-response target, and today's figures."""
    responded = _int(raw.get("responded_today"))
    within = _int(raw.get("within_target_today"))
    return {
        "waiting": _int(raw.get("waiting")),
        "oldest_age_seconds": _num(raw.get("oldest_age_seconds")),
        "over_target": _int(raw.get("over_target")),
        "target_minutes": defs.social.first_response_target_minutes,
        "received_today": _int(raw.get("received_today")),
        "responded_today": responded,
        "within_target_today": within,
        "within_target_share_today": within / responded if responded else None,
        "abandoned_today": _int(raw.get("abandoned_today")),
        "platforms": [
            {
                "platform": str(p.get("platform", "")),
                "waiting": _int(p.get("waiting")),
                "oldest_age_seconds": _num(p.get("oldest_age_seconds")),
            }
            for p in raw.get("platforms") or []
        ],
    }


LANE_SECTIONS: tuple[tuple[str, ...], ...] = (("queues", "qa"), ("incidents", "social", "feeds"))
"""The live document's sections per lane when it has two (:class:`LiveLanes`): the queues, the
largest, with the QA/Linking queue on the computing thread's handle, the rest on the other (about
half the document's statements each, measured on a day at scale 1). With one lane, all on it."""


class LiveLanes:
    """The live document's read handles, each with a thread of its own: the first is the computing
    thread's own; the sections of :data:`LANE_SECTIONS` after the first group run on the others, at
    once with it. Every handle reads without waiting for the writer or for analysts."""

    def __init__(self, first: Warehouse, others: Sequence[Warehouse] = ()) -> None:
        self.first = first
        self.others = tuple(others)
        self._threads = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"live-{n + 1}")
            for n in range(len(self.others))
        ]

    def run(self, groups: Sequence[Sequence[Callable[[Warehouse], None]]]) -> None:
        """Run ``groups[0]`` here on the first handle and each later group on a lane of its own (the
        groups past the lanes' number on the first handle, after its own); until all have ended."""
        extra = list(zip(self._threads, self.others, groups[1:], strict=False))
        futures = [thread.submit(_run_all, group, handle) for thread, handle, group in extra]
        _run_all([*groups[0], *(f for group in groups[1 + len(extra) :] for f in group)], self.first)
        for future in futures:
            future.result()

    def close(self) -> None:
        for thread in self._threads:
            thread.shutdown(wait=True, cancel_futures=True)
        for handle in (self.first, *self.others):
            handle.close()


def _run_all(steps: Sequence[Callable[[Warehouse], None]], wh: Warehouse) -> None:
    for step in steps:
        step(wh)


def build_live_document(
    wh: Warehouse | LiveLanes, settings: Settings, now: datetime, readers: LiveReaders
) -> dict[str, Any]:
    """Everything the live page shows, as JSON-able data (blocking: run it in a thread). With
    :class:`LiveLanes`, its sections are read at once on the lanes' handles (:data:`LANE_SECTIONS`)."""
    defs, force = settings.definitions, settings.force_id
    amber = defs.incidents.amber_share
    doc: dict[str, Any] = {
        "generated_at": now,
        "force_id": force,
        "timezone": defs.timezone,
        "definitions": {"id": defs.definition_id, "version": defs.version, "hash": defs.config_hash()},
        "stale_after_seconds": STALE_AFTER_SECONDS,
        "errors": {},
    }
    sections: dict[str, Callable[[Warehouse], Any]] = {
        "queues": lambda h: queues_section(
            readers.queues(h, force, now, defs),
            defs,
            settings.service_level_targets,
            settings.abandonment_target,
        ),
        "incidents": lambda h: incidents_section(readers.incidents(h, force, now, defs), now, amber),
        "qa": lambda h: qa_section(readers.qa(h, force, now, defs)),
        "feeds": lambda h: readers.feeds(h, force, now, defs),
        "social": lambda h: social_section(readers.social(h, force, now, defs), defs),
    }
    built: dict[str, Any] = {}
    failed: dict[str, str] = {}

    def section(name: str) -> Callable[[Warehouse], None]:
        def build(handle: Warehouse) -> None:
            try:
                built[name] = sections[name](handle)
            except Exception:
                log.exception("live section %s failed", name)
                built[name], failed[name] = None, "reader failed"

        return build

    lanes = wh if isinstance(wh, LiveLanes) else LiveLanes(wh)
    lanes.run([[section(name) for name in group] for group in LANE_SECTIONS])
    for name in sections:  # the document keeps its order whichever lane finished first
        doc[name] = built[name]
        if name in failed:
            doc["errors"][name] = failed[name]
    return to_jsonable(doc)


def fingerprint(doc: Any) -> str:
    """A digest of the document without the figures that tick with the clock."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE_KEYS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json_hash(strip(doc))


# -- the cache ---------------------------------------------------------------------------------------
@dataclass
class Snapshot:
    doc: dict[str, Any]
    fingerprint: str
    computed_at: float


@dataclass
class LiveCache:
    """The latest live document, recomputed at most once per ``ttl`` seconds (single flight)."""

    compute: Callable[[], dict[str, Any]]
    ttl: float = CACHE_TTL_SECONDS
    clock: Callable[[], float] = time.monotonic
    executor: Executor | None = None  # None: the loop's default executor
    computations: int = 0
    _snapshot: Snapshot | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self) -> Snapshot:
        """A snapshot no older than ``ttl``; concurrent callers share one computation."""
        if self._fresh():
            assert self._snapshot is not None
            return self._snapshot
        async with self._lock:
            if not self._fresh():
                doc = await asyncio.get_running_loop().run_in_executor(self.executor, self.compute)
                self.computations += 1
                self._snapshot = Snapshot(doc, fingerprint(doc), self.clock())
            assert self._snapshot is not None
            return self._snapshot

    def _fresh(self) -> bool:
        return self._snapshot is not None and self.clock() - self._snapshot.computed_at < self.ttl


CACHE_KEY: web.AppKey[LiveCache] = web.AppKey("live_cache", LiveCache)
CLOSING_KEY: web.AppKey[asyncio.Event] = web.AppKey("live_closing", asyncio.Event)
LIVE_LANES_KEY: web.AppKey[LiveLanes] = web.AppKey("live_lanes", LiveLanes)


# -- handlers: live API ------------------------------------------------------------------------------
async def _doc(request: web.Request) -> dict[str, Any]:
    return (await request.app[CACHE_KEY].get()).doc


async def live(request: web.Request) -> web.Response:
    return json_response(await _doc(request))


def _part(doc: dict[str, Any], name: str, **extra: Any) -> dict[str, Any]:
    body = {"generated_at": doc["generated_at"], name: doc[name], **extra}
    if name in doc["errors"]:
        body["error"] = doc["errors"][name]
    return body


async def live_queues(request: web.Request) -> web.Response:
    return json_response(_part(await _doc(request), "queues"))


async def live_queue(request: web.Request) -> web.Response:
    doc = await _doc(request)
    wanted = request.match_info["queue"]
    for tile in doc["queues"] or []:
        if tile["queue"] == wanted:
            return json_response({"generated_at": doc["generated_at"], "queue": tile})
    return json_response({"error": f"unknown queue {wanted!r}"}, status=404)


async def live_incidents(request: web.Request) -> web.Response:
    return json_response(_part(await _doc(request), "incidents"))


async def live_incident(request: web.Request) -> web.Response:
    doc = await _doc(request)
    wanted = request.match_info["incident_id"]
    for item in (doc["incidents"] or {}).get("items", []):
        if item["incident_id"] == wanted:
            return json_response({"generated_at": doc["generated_at"], "incident": item})
    return json_response({"error": "not an open, unattended incident"}, status=404)


async def live_qa(request: web.Request) -> web.Response:
    return json_response(_part(await _doc(request), "qa"))


def _sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    payload = json.dumps(data, separators=(",", ":"))
    lines.extend(f"data: {line}" for line in payload.splitlines())
    return ("\n".join(lines) + "\n\n").encode()


async def live_stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``live`` with the document on change, ``heartbeat`` in between."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    cache, closing = request.app[CACHE_KEY], request.app[CLOSING_KEY]
    sent_fp, sent_at, beat_at, count = "", 0.0, 0.0, 0
    checked_at = time.monotonic()
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        await response.write(b"retry: 2000\n\n")
        while not closing.is_set():
            if time.monotonic() - checked_at >= SESSION_CHECK_SECONDS:
                checked_at = time.monotonic()
                if not await asyncio.to_thread(session_alive, request):
                    break  # signed out, expired or a revoked display: the page reconnects and is refused
            snap = await cache.get()
            clock = time.monotonic()
            if snap.fingerprint != sent_fp or clock - sent_at >= RESYNC_SECONDS:
                count += 1
                await response.write(_sse("live", snap.doc, count))
                sent_fp, sent_at, beat_at = snap.fingerprint, clock, clock
            elif clock - beat_at >= HEARTBEAT_SECONDS:
                beat = {"generated_at": snap.doc["generated_at"], "server_time": datetime.now(UTC)}
                await response.write(_sse("heartbeat", to_jsonable(beat)))
                beat_at = clock
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), STREAM_CHECK_SECONDS)
    return response


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=OPENAPI_FILE.read_bytes(), content_type="application/json")


# -- feed health: /api/live/feeds and the watch that keeps its gauges current -----------------------
FEED_WATCH_SECONDS = 10.0
FEED_WATCH_KEY: web.AppKey[asyncio.Task[None]] = web.AppKey("feed_watch", asyncio.Task)


async def live_feeds(request: web.Request) -> web.Response:
    """Per source: last event, expected rate at this hour and weekday, healthy / quiet / silent."""
    return json_response(_part(await _doc(request), "feeds"))


async def _watch_feeds(app: web.Application) -> None:
    """Recompute the document now and then with no page open, so the feed gauges (and the alert
    on them) follow a feed that goes silent at night."""
    cache, closing = app[CACHE_KEY], app[CLOSING_KEY]
    while not closing.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), FEED_WATCH_SECONDS)
        snapshot = cache._snapshot
        if closing.is_set() or (snapshot and cache.clock() - snapshot.computed_at < FEED_WATCH_SECONDS):
            continue  # a page or client keeps the document (and the gauges) current already
        try:
            await cache.get()
        except Exception:
            log.exception("feed watch failed")


async def _start_feed_watch(app: web.Application) -> None:
    app[FEED_WATCH_KEY] = asyncio.get_running_loop().create_task(_watch_feeds(app))


async def _stop_feed_watch(app: web.Application) -> None:
    app[CLOSING_KEY].set()
    task = app.get(FEED_WATCH_KEY)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def add_feed_routes(app: web.Application) -> None:
    app.on_startup.append(_start_feed_watch)
    app.on_shutdown.append(_stop_feed_watch)
    app.router.add_get("/api/live/feeds", live_feeds)


# -- handlers: page and login ------------------------------------------------------------------------
def _html(name: str, status: int = 200, **values: str) -> web.Response:
    text = (STATIC_DIR / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def page(request: web.Request) -> web.Response:
    return _html("live.html", role=request.get(ROLE_KEY, ""))


async def login_form(request: web.Request) -> web.Response:
    return _html("login.html", message="")


async def login(request: web.Request) -> web.Response:
    """Form POST with ``token``: a role token (or a display's one-time pairing code) is exchanged for
    a server-side session; the HttpOnly, SameSite=Strict cookie holds only the session id."""
    form = await request.post()
    token = str(form.get("token", "")).strip()
    store = request.app[SESSIONS_KEY]
    role = request.app[CREDS_KEY].role_of(token)
    issued = (
        await asyncio.to_thread(store.create, role) if role else await asyncio.to_thread(store.pair, token)
    )
    if issued is None:
        await asyncio.sleep(0.25)  # slows guessing; tokens are 192-bit random anyway
        return _html("login.html", status=401, message="That token was not recognised.")
    sid, max_age = issued
    response = web.HTTPSeeOther("/")
    await asyncio.to_thread(store.end, request.cookies.get(COOKIE))  # signing in again ends the old one
    await asyncio.to_thread(store.purge)  # expired sessions leave the store
    set_session_cookie(request, response, sid, max_age)
    return response


async def logout(request: web.Request) -> web.Response:
    """Ends the session on the server and clears the cookie."""
    await asyncio.to_thread(request.app[SESSIONS_KEY].end, request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    return response


_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" on the hub's own
    # form posts, which the origin check must refuse; other origins still get no referrer at all.
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def _close_streams(app: web.Application) -> None:
    app[CLOSING_KEY].set()


async def _close_live_reader(app: web.Application) -> None:
    executor = app[CACHE_KEY].executor
    if executor is not None:
        executor.shutdown(wait=False, cancel_futures=True)
    await asyncio.to_thread(app[LIVE_LANES_KEY].close)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def add_live_routes(
    app: web.Application,
    readers: LiveReaders | None = None,
    ttl: float = CACHE_TTL_SECONDS,
    now: Callable[[], datetime] = _utc_now,
) -> None:
    """Add the live page, login, live API, event stream and OpenAPI routes to ``app``.

    ``readers`` default to the domain readers (:func:`default_readers`); ``now`` is the clock the
    figures are computed at (tests pass a fixed one)."""
    writer, settings = app[WAREHOUSE_KEY], app[SETTINGS_KEY]
    others = [writer.open_reader(f"live-{n}") for n in range(1, len(LANE_SECTIONS))]
    lanes = LiveLanes(writer.open_reader("live"), others)
    chosen = readers or default_readers(settings)
    app[LIVE_LANES_KEY] = lanes
    app[CACHE_KEY] = LiveCache(
        lambda: build_live_document(lanes, settings, now(), chosen),
        ttl=ttl,
        executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="live"),
    )
    app[CLOSING_KEY] = asyncio.Event()
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(_close_streams)
    app.on_cleanup.append(_close_live_reader)
    r = app.router
    r.add_get("/", page)
    r.add_get("/login", login_form)
    r.add_post("/login", login)
    r.add_get("/logout", logout)
    r.add_get("/api/live", live)
    r.add_get("/api/live/queues", live_queues)
    r.add_get("/api/live/queues/{queue}", live_queue)
    r.add_get("/api/live/incidents", live_incidents)
    r.add_get("/api/live/incidents/{incident_id}", live_incident)
    r.add_get("/api/live/qa", live_qa)
    add_feed_routes(app)
    r.add_get("/api/live/stream", live_stream)
    r.add_get("/api/openapi.json", openapi)
    r.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
    from demandhub.web.trends import add_trend_routes  # the Trends section: own reader and cache

    add_trend_routes(app, now=now)
