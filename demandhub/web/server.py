"""The aiohttp application served by the worker process (same process as the warehouse client).

Every route needs a bearer token (``Authorization: Bearer <token>``) or a session (the
``demandhub_session`` cookie set by the login form, see :mod:`demandhub.web.sessions`) except
``/health`` (``ok`` for orchestrators, or 503 ``not ready: <reason>`` while a check of
:data:`HEALTH_CHECKS_KEY` fails, e.g. the worker's stalled consumer) and ``/login``. Unauthenticated requests
get 401 and nothing else, except a browser opening the page ``/``, which is sent to ``/login``
(303); a role without the right gets 403. The cookie never holds a token: the token is exchanged
for a server-side session at login only, and a session in its second half is renewed on use.
Warehouse calls run in worker threads so the event loop (and the faust agents) never block on them.
``/api/sql`` runs on the app's analyst :class:`~sinks.clickhouse.client.ReaderPool` (read sessions and
threads of its own, ``DEMANDHUB_SQL_MAX_CONCURRENT_QUERIES`` at once, a short queue): a query beyond
it gets 503 with ``Retry-After`` and ``{"error": "busy: ...", "retry_after": seconds}``, and neither
the pipeline (the writer handle) nor the live page (its own read handle) ever waits for analysts.

Request forgery: the session cookie is ``SameSite=Strict``, but a page on another port of the same
host is *same-site* and gets it sent. :func:`origin_middleware` therefore refuses (403) a request
that carries the cookie and changes state or runs a query (any method but GET/HEAD/OPTIONS, and
``/logout``) unless its ``Origin`` is this server's own origin (a missing ``Origin`` is refused too)
and ``Sec-Fetch-Site``, when sent, says ``same-origin``; reads carrying the cookie are refused when the
browser says the request came from another site or port, except plain top-level navigations. The
login form gets the same check whether or not a cookie is present. Requests with an
``Authorization`` header and no cookie (scripts, the CLI) are not checked: a page cannot make a
browser send that header to another origin without a CORS preflight, which this server never grants.
``/api/sql`` takes only ``Content-Type: application/json``, so a form or ``text/plain`` body (which a
page can send cross-origin without a preflight) never reaches the guard.

Slow and idle clients: :func:`start_web` closes a connection that sends no complete request within
``keepalive_timeout`` (idle keep-alive connections and clients trickling their headers alike),
answers 408 to a body that does not arrive within ``BODY_TIMEOUT_SECONDS``, caps bodies at
``client_max_size`` and refuses connections beyond ``MAX_CONNECTIONS`` with 503. A response in
progress (the server-sent event stream, which writes a heartbeat every few seconds) is never cut
by these timeouts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from demandhub import sqlguard
from demandhub.auth import Credentials
from demandhub.jsonable import to_jsonable
from demandhub.settings import Settings
from demandhub.web.public import add_public_routes, is_public
from demandhub.web.sessions import COOKIE, DISPLAY_ROLE, Session, SessionStore
from sinks.clickhouse.client import ReaderPool, Warehouse, WarehouseBusy
from sinks.prometheus.metrics import REGISTRY, SQL_BUSY, SQL_RUNNING, SQL_WAITING

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings", Settings)
WAREHOUSE_KEY: web.AppKey[Warehouse] = web.AppKey("warehouse", Warehouse)
CREDS_KEY: web.AppKey[Credentials] = web.AppKey("credentials", Credentials)
SQL_POOL_KEY: web.AppKey[ReaderPool] = web.AppKey("sql_pool", ReaderPool)
ROLE_KEY: web.RequestKey[str] = web.RequestKey("role", str)
SESSIONS_KEY: web.AppKey[SessionStore] = web.AppKey("sessions", SessionStore)
SESSION_KEY: web.RequestKey[Session] = web.RequestKey("session", Session)
HealthCheck = Callable[[], str | None]
HEALTH_CHECKS_KEY: web.AppKey[list[HealthCheck]] = web.AppKey("health_checks", list)
"""Checks ``/health`` runs: each returns None when fine, else the reason (counts, never personal
values) for a 503."""
OPEN_PATHS = frozenset({"/health", "/login"})
PAGE_PATHS = frozenset({"/"})  # opened by people: no session -> the sign-in form, not a bare 401
ANALYST_PREFIXES = ("/api/sql", "/api/board", "/api/channels", "/api/reconcile")
NOT_FOR_DISPLAYS = ("/api/displays",)  # a wall screen cannot create or revoke displays
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STATE_CHANGING_GETS = frozenset({"/logout"})
LOGIN_PATH = "/login"
JSON_ONLY_PATHS = frozenset({"/api/sql", "/api/displays"})
KEEPALIVE_TIMEOUT_SECONDS = 15.0
BODY_TIMEOUT_SECONDS = 10.0
MAX_BODY_BYTES = 1 << 20
MAX_CONNECTIONS = 256
DEFAULT_PORTS = {"http": 80, "https": 443}
FORBIDDEN_CROSS_ORIGIN = "403: Forbidden (cross-origin request)"


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(to_jsonable(data), status=status, dumps=lambda o: json.dumps(o))


def bearer_of(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def _unauthorized(request: web.Request) -> web.StreamResponse:
    if request.method in SAFE_METHODS and request.path in PAGE_PATHS:
        return web.HTTPSeeOther(LOGIN_PATH)
    return web.Response(
        status=401, text="401: Unauthorized", headers={"WWW-Authenticate": 'Bearer realm="demandhub"'}
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS or is_public(request.path):
        return await handler(request)
    bearer = bearer_of(request)
    if bearer is not None:
        role = request.app[CREDS_KEY].role_of(bearer)
    else:
        session = request.app[SESSIONS_KEY].lookup(request.cookies.get(COOKIE))
        role = session.role if session else None
        if session is not None:
            request[SESSION_KEY] = session
    if role is None:
        return _unauthorized(request)
    if request.path.startswith(ANALYST_PREFIXES) and role != "analyst":
        return web.Response(status=403, text="403: Forbidden")
    if request.path.startswith(NOT_FOR_DISPLAYS) and role == DISPLAY_ROLE:
        return web.Response(status=403, text="403: Forbidden")
    request[ROLE_KEY] = role
    return await handler(request)


def session_alive(request: web.Request) -> bool:
    """False once the request's session has ended (signed out, expired, display revoked); a
    bearer-token request is always alive. Long responses (the event stream) ask this now and then."""
    if SESSION_KEY not in request:
        return True
    return request.app[SESSIONS_KEY].lookup(request.cookies.get(COOKIE)) is not None


def set_session_cookie(request: web.Request, response: web.StreamResponse, sid: str, max_age: float) -> None:
    response.set_cookie(
        COOKIE,
        sid,
        max_age=int(max_age),
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )


async def _renew_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """A session renewed by this request gets its cookie again with the new lifetime."""
    session = request.get(SESSION_KEY)
    if session is not None and session.renewed and COOKIE not in response.cookies:
        sid = request.cookies.get(COOKIE)
        if sid:
            max_age = request.app[SESSIONS_KEY].ttl_of(session.kind)
            set_session_cookie(request, response, sid, max_age)


# -- display sessions (wall screens) -------------------------------------------------------------------
async def list_displays(request: web.Request) -> web.Response:
    """GET -> {"displays": [{handle, label, created_by, created_at, paired, revoked_at}]}."""
    store = request.app[SESSIONS_KEY]
    items = await asyncio.to_thread(store.displays)
    return json_response({"displays": [vars(d) for d in items]})


async def create_display(request: web.Request) -> web.Response:
    """POST {"label": "..."} -> {"handle", "label", "pairing_code", "pairing_expires_in"}: type the
    code into the wall screen's sign-in form once; it then holds a long-lived display session."""
    from demandhub.web.sessions import PAIRING_SECONDS

    try:
        body = await request.json()
    except ValueError:
        body = None
    label = body.get("label") if isinstance(body, dict) else None
    if not isinstance(label, str) or not label.strip():
        return json_response({"error": 'body must be JSON {"label": "..."}'}, status=400)
    handle, code = await asyncio.to_thread(
        request.app[SESSIONS_KEY].create_display, label.strip(), request[ROLE_KEY]
    )
    return json_response(
        {
            "handle": handle,
            "label": label.strip()[:80],
            "pairing_code": code,
            "pairing_expires_in": PAIRING_SECONDS,
        },
        status=201,
    )


async def revoke_display(request: web.Request) -> web.Response:
    """DELETE -> 204; the display's session ends at once (its open event stream closes)."""
    handle = request.match_info["handle"]
    if not await asyncio.to_thread(request.app[SESSIONS_KEY].revoke_display, handle):
        return json_response({"error": "no such active display"}, status=404)
    return web.Response(status=204)


async def _close_sessions(app: web.Application) -> None:
    app[SESSIONS_KEY].close()


def add_session_routes(app: web.Application, store: SessionStore) -> None:
    app[SESSIONS_KEY] = store
    app.on_response_prepare.append(_renew_cookie)
    app.on_cleanup.append(_close_sessions)
    app.router.add_get("/api/displays", list_displays)
    app.router.add_post("/api/displays", create_display)
    app.router.add_delete("/api/displays/{handle}", revoke_display)


def own_origin(request: web.Request) -> tuple[str, str, int] | None:
    """(scheme, host, port) this server is reached at, as the browser sees it.

    ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` from a TLS-terminating proxy are honoured: a page
    cannot make a browser add them to a cross-origin request without a preflight, so they cannot
    be used to forge a match."""
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip().lower()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return _origin_tuple(f"{scheme}://{host}")


def _origin_tuple(text: str) -> tuple[str, str, int] | None:
    """(scheme, lower-case host, port with the scheme's default filled in) of an origin, or None."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def same_origin(request: web.Request) -> bool:
    """True when the request's ``Origin`` header names this server's own origin.

    ``Origin: null`` counts only with ``Sec-Fetch-Site: same-origin``: a browser sends it on its own
    page's form posts under a ``no-referrer`` policy, while an opaque (sandboxed) page elsewhere is
    reported as ``cross-site``."""
    origin = request.headers.get("Origin")
    if origin == "null":
        return request.headers.get("Sec-Fetch-Site") == "same-origin"
    if origin is None:
        return False
    mine = own_origin(request)
    return mine is not None and _origin_tuple(origin) == mine


def _forged(request: web.Request) -> bool:
    """True when a browser may have sent this request on behalf of another site or port."""
    site = request.headers.get("Sec-Fetch-Site")
    has_cookie = COOKIE in request.cookies
    login = request.path == LOGIN_PATH and request.method not in SAFE_METHODS
    if not has_cookie and not login:
        return False  # bearer header (unforgeable cross-origin) or no credentials at all (401 anyway)
    if request.method not in SAFE_METHODS or request.path in STATE_CHANGING_GETS:
        if site is not None and site not in ("same-origin", "none"):
            return True
        if request.method in SAFE_METHODS:  # GET /logout: browsers send no Origin on navigations
            return "Origin" in request.headers and not same_origin(request)
        if has_cookie:
            return not same_origin(request)  # browsers send Origin on every POST; none means forged
        return "Origin" in request.headers and not same_origin(request)  # login form from a script
    # A read with the cookie: refuse other sites' fetches, allow the user following a link.
    if "Origin" in request.headers and not same_origin(request):
        return True
    if site in ("cross-site", "same-site"):
        navigation = request.headers.get("Sec-Fetch-Mode") == "navigate"
        return not (navigation and request.headers.get("Sec-Fetch-Dest", "document") == "document")
    return False


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuses forged cross-origin requests, non-JSON bodies on JSON routes, and slow bodies."""
    if _forged(request):
        return web.Response(status=403, text=FORBIDDEN_CROSS_ORIGIN)
    if (
        request.path in JSON_ONLY_PATHS
        and request.method == "POST"
        and request.content_type != "application/json"
    ):
        return json_response({"error": "the body must be JSON sent as Content-Type: application/json"}, 400)
    if request.method not in SAFE_METHODS and request.can_read_body:
        try:
            async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                await request.read()
        except TimeoutError:
            return web.Response(status=408, text="408: Request Timeout", headers={"Connection": "close"})
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    for check in request.app.get(HEALTH_CHECKS_KEY, ()):
        reason = check()
        if reason:
            return web.Response(status=503, text=f"not ready: {reason}")
    return web.Response(text="ok")


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def sql(request: web.Request) -> web.Response:
    """POST {"sql": "..."} -> {"columns", "types", "rows"}; read-only rules of :mod:`sqlguard`.

    Errors say who refused: ``refused by policy: <rule>`` (the guard) or ``the engine says: <message>``
    (ClickHouse, without the settings the hub appends). The result is streamed from the engine and
    the query cancelled once the blocks received pass ``sql_max_result_bytes``; the answer is then
    encoded row by row and given up once it passes the same cap: either way an error that names the
    setting, never a partial answer."""
    try:
        body = await request.json()
    except ValueError:
        return json_response({"error": 'body must be JSON {"sql": "..."}'}, status=400)
    if not isinstance(body, dict) or "sql" not in body:
        return json_response({"error": "missing field sql"}, status=400)
    if not isinstance(body["sql"], str):
        return json_response({"error": "field sql must be a string"}, status=400)
    pool, settings = request.app[SQL_POOL_KEY], request.app[SETTINGS_KEY]
    try:
        query = await asyncio.to_thread(sqlguard.check, body["sql"], pool)
        limit = settings.sql_max_result_bytes
        result = await asyncio.wrap_future(pool.submit(query, None, sqlguard.limits(settings), limit))
        answer = _sql_answer(result, limit)
    except WarehouseBusy as busy:
        return busy_response(busy)
    except sqlguard.ResultTooLarge as exc:
        return json_response({"error": str(exc)}, status=400)
    except Exception as exc:
        return json_response({"error": sqlguard.failure_text(exc, settings)}, status=400)
    return web.Response(body=answer, content_type="application/json")


def _sql_answer(result: Any, limit: int) -> bytes:
    """The JSON answer, encoded a row at a time; ResultTooLarge as soon as it passes ``limit`` bytes."""
    head = json.dumps({"columns": list(result.columns), "types": list(result.types)})[:-1]
    parts = [head.encode(), b', "rows": [']
    size = len(parts[0]) + len(parts[1]) + 2
    for index, row in enumerate(result.rows):
        chunk = (b", " if index else b"") + json.dumps(to_jsonable(row)).encode()
        size += len(chunk)
        if size > limit:
            raise sqlguard.ResultTooLarge(limit)
        parts.append(chunk)
    parts.append(b"]}")
    return b"".join(parts)


def busy_response(busy: WarehouseBusy) -> web.Response:
    """503 "busy, try again" with ``Retry-After``: every analyst session is taken and the queue is full."""
    SQL_BUSY.inc()
    response = json_response({"error": str(busy), "retry_after": busy.retry_after}, status=503)
    response.headers["Retry-After"] = str(busy.retry_after)
    return response


def _observe_sql_pool(running: int, waiting: int) -> None:
    SQL_RUNNING.set(running)
    SQL_WAITING.set(waiting)


async def _close_sql_pool(app: web.Application) -> None:
    await asyncio.to_thread(app[SQL_POOL_KEY].close)


# -- the analyst commands through a running hub -------------------------------------------------------
# `demandhub board`, `channels` and `reconcile` ask these when a hub owns the embedded warehouse (one
# process per data path), on a read handle of their own (never the writer's lock, never a write).
REPORTS_KEY: web.AppKey[Warehouse] = web.AppKey("reports", Warehouse)
BOARD_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _param(request: web.Request, name: str, check: Callable[[str], str], default: str | None = None) -> str:
    """A query parameter passed through an argument type of :mod:`demandhub.argtypes`."""
    import argparse

    value = request.query.get(name, default)
    if value is None:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"missing parameter {name}"}))
    try:
        return check(value)
    except argparse.ArgumentTypeError as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"{name}: {exc}"})) from None


def _defines(request: web.Request, name: str = "define") -> list[str]:
    """Every ``name=PATH=VALUE`` query parameter (``define`` or ``compare_define``); 400 with one
    JSON error naming the path (never the value) when one is not a definition or does not fit."""
    from demandhub.board.commands import apply_defines
    from demandhub.errors import InputError

    items = request.query.getall(name, [])
    try:
        apply_defines(request.app[SETTINGS_KEY].definitions, items, name)
    except InputError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": str(exc)}), content_type="application/json"
        ) from None
    return list(items)


async def _report(request: web.Request, work: Callable[[Warehouse], Any]) -> Any:
    """Run ``work(read handle)`` in a thread; a refusal of the work (InputError) becomes 404."""
    from demandhub.errors import InputError

    try:
        return await asyncio.to_thread(work, request.app[REPORTS_KEY])
    except InputError as exc:
        raise web.HTTPNotFound(text=json.dumps({"error": str(exc)})) from None


async def board(request: web.Request) -> web.Response:
    """GET ?month=YYYY-MM|auto&format=json|xlsx|html|pdf[&extract_time=ISO][&define=PATH=VALUE...]
    [&compare_define=PATH=VALUE...] -> the rendered pack (never published) under the configured
    definitions with the ``define`` ones applied, with a ``comparison`` section when
    ``compare_define`` is given; its month in ``X-Board-Month``."""
    from demandhub import argtypes
    from demandhub.board.commands import build_board, extract_time_of

    month = _param(request, "month", argtypes.month_or_auto, "auto")
    fmt = request.query.get("format", "json")
    if fmt not in BOARD_TYPES:
        return json_response({"error": f"format must be one of {', '.join(BOARD_TYPES)}"}, 400)
    extract = extract_time_of(request.query.get("extract_time"))
    settings = request.app[SETTINGS_KEY]
    defines, compare = _defines(request), _defines(request, "compare_define")
    try:
        settings.definitions.with_overrides([*defines, *compare])
    except ValueError as exc:
        return json_response({"error": f"compare_define: {exc}"}, 400)
    body, resolved = await _report(
        request,
        lambda wh: build_board(settings, wh, month, fmt, extract, defines=defines, compare=compare),
    )
    return web.Response(body=body, headers={"Content-Type": BOARD_TYPES[fmt], "X-Board-Month": resolved})


async def board_explain(request: web.Request) -> web.Response:
    """GET ?month=YYYY-MM|auto&measure=ID&column=C[&version=N&limit=K] -> the entities behind one
    cell of the pack (as ``demandhub board explain``)."""
    from demandhub import argtypes
    from demandhub.board.commands import explain_cell

    month = _param(request, "month", argtypes.month_or_auto, "auto")
    measure = _param(request, "measure", str)
    column = request.query.get("column", "current")
    numbers: dict[str, int | None] = {}
    for name in ("version", "limit"):
        text = request.query.get(name)
        if text is not None and not (text.isdigit() and 1 <= int(text) <= 1_000_000):
            return json_response({"error": f"{name} must be a positive whole number"}, 400)
        numbers[name] = None if text is None else int(text)
    settings = request.app[SETTINGS_KEY]
    defines = _defines(request)
    told = await _report(
        request,
        lambda wh: explain_cell(
            settings, wh, month, measure, column, numbers["version"], numbers["limit"], defines
        ),
    )
    return web.Response(text=json.dumps(told, default=str), content_type="application/json")


async def channels(request: web.Request) -> web.Response:
    """GET ?from=YYYY-MM&to=YYYY-MM[&define=PATH=VALUE...] -> the channel table (as ``demandhub
    channels --format json``)."""
    from demandhub import argtypes
    from demandhub.board.commands import channels_table

    first = _param(request, "from", argtypes.month)
    last = _param(request, "to", argtypes.month)
    settings = request.app[SETTINGS_KEY]
    defines = _defines(request)
    return json_response(
        await _report(request, lambda wh: channels_table(settings, wh, first, last, defines))
    )


async def reconcile(request: web.Request) -> web.Response:
    """GET ?day=YYYY-MM-DD -> {"day", "differences": [...]} between rollups and facts."""
    import datetime as _dt

    from demandhub import argtypes
    from demandhub.queries.contacts import reconcile_day

    day = _param(request, "day", argtypes.day)
    settings = request.app[SETTINGS_KEY]
    diffs = await _report(
        request,
        lambda wh: reconcile_day(wh, settings.force_id, _dt.date.fromisoformat(day), settings.definitions),
    )
    return json_response({"day": day, "differences": diffs})


async def _close_reports(app: web.Application) -> None:
    await asyncio.to_thread(app[REPORTS_KEY].close)


def add_report_routes(app: web.Application) -> None:
    app[REPORTS_KEY] = app[WAREHOUSE_KEY].open_reader("reports")
    app.on_cleanup.append(_close_reports)
    app.router.add_get("/api/board", board)
    app.router.add_get("/api/board/explain", board_explain)
    app.router.add_get("/api/channels", channels)
    app.router.add_get("/api/reconcile", reconcile)


def build_web_app(
    settings: Settings, warehouse: Warehouse, creds: Credentials, sessions: SessionStore | None = None
) -> web.Application:
    """The web application; callers add live routes with :func:`add_routes` hooks. ``sessions``
    defaults to the store under the data directory."""
    app = web.Application(middlewares=[auth_middleware, origin_middleware], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS_KEY] = settings
    app[WAREHOUSE_KEY] = warehouse
    app[CREDS_KEY] = creds
    app[SQL_POOL_KEY] = warehouse.open_pool(
        "analyst",
        size=settings.sql_max_concurrent_queries,
        queue=settings.sql_max_queued_queries,
        wait_seconds=settings.sql_queue_wait_seconds,
        time_limit=settings.sql_max_execution_seconds,
        observe=_observe_sql_pool,
    )
    app.on_cleanup.append(_close_sql_pool)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/sql", sql)
    add_report_routes(app)
    add_public_routes(app)
    add_session_routes(
        app,
        sessions
        or SessionStore.for_data_dir(
            settings.data_dir, settings.session_ttl_seconds, settings.display_session_ttl_seconds
        ),
    )
    return app


_BUSY_TEXT = b"503: too many open connections"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
    b"Retry-After: 5\r\nConnection: close\r\n\r\n%s" % (len(_BUSY_TEXT), _BUSY_TEXT)
)


class _Busy(asyncio.Protocol):
    """Answers 503 and closes: the connection cap is reached."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class CappedTCPSite(web.BaseSite):
    """A TCP site that serves at most ``max_connections`` connections at once (others get 503)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, max_connections: int) -> None:
        super().__init__(runner)
        self._host, self._port, self._max_connections = host, port, max_connections

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        cap = self._max_connections

        def protocol() -> asyncio.BaseProtocol:
            return _Busy() if len(server.connections) >= cap else server()

        self._server = await asyncio.get_running_loop().create_server(protocol, self._host, self._port)


async def start_web(
    app: web.Application,
    host: str,
    port: int,
    *,
    keepalive_timeout: float = KEEPALIVE_TIMEOUT_SECONDS,
    max_connections: int = MAX_CONNECTIONS,
) -> web.AppRunner:
    """Serve ``app`` on host:port inside the running event loop; returns the runner to clean up.

    A connection that has no request in progress (idle keep-alive, or headers still trickling in)
    is closed after ``keepalive_timeout``; header lines and counts keep aiohttp's limits."""
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=keepalive_timeout)
    await runner.setup()
    await CappedTCPSite(runner, host, port, max_connections).start()
    return runner
