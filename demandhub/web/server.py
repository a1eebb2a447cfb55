"""The aiohttp application served by the worker process (same process as the warehouse client).

Every route needs a bearer token (``Authorization: Bearer <token>``, or the ``demandhub_token``
cookie set by the login form) except ``/health``, which answers only ``ok`` for orchestrators.
Unauthenticated requests get 401 and nothing else; a role without the right gets 403.
Warehouse calls run in worker threads so the event loop (and the faust agents) never block on them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from demandhub import sqlguard
from demandhub.auth import Credentials
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from sinks.prometheus.metrics import REGISTRY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings", Settings)
WAREHOUSE_KEY: web.AppKey[Warehouse] = web.AppKey("warehouse", Warehouse)
CREDS_KEY: web.AppKey[Credentials] = web.AppKey("credentials", Credentials)
ROLE_KEY: web.RequestKey[str] = web.RequestKey("role", str)
OPEN_PATHS = frozenset({"/health", "/login"})
ANALYST_PREFIXES = ("/api/sql",)
COOKIE = "demandhub_token"


def to_jsonable(value: Any) -> Any:
    """JSON-safe form of warehouse values (datetimes as ISO UTC, decimals as floats)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID | bytes):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(to_jsonable(data), status=status, dumps=lambda o: json.dumps(o))


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    role = request.app[CREDS_KEY].role_of(token_of(request))
    if role is None:
        return web.Response(
            status=401, text="401: Unauthorized", headers={"WWW-Authenticate": 'Bearer realm="demandhub"'}
        )
    if request.path.startswith(ANALYST_PREFIXES) and role != "analyst":
        return web.Response(status=403, text="403: Forbidden")
    request[ROLE_KEY] = role
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def sql(request: web.Request) -> web.Response:
    """POST {"sql": "..."} -> {"columns", "types", "rows"}; read-only rules of :mod:`sqlguard`."""
    try:
        body = await request.json()
        query = sqlguard.check(str(body.get("sql", "")))
    except sqlguard.RejectedQuery as exc:
        return json_response({"error": str(exc)}, status=400)
    except (ValueError, AttributeError):
        return json_response({"error": 'body must be JSON {"sql": "..."}'}, status=400)
    wh, settings = request.app[WAREHOUSE_KEY], request.app[SETTINGS_KEY]
    try:
        result = await asyncio.to_thread(wh.query, query, None, sqlguard.limits(settings))
    except Exception as exc:
        return json_response({"error": str(exc).splitlines()[0][:500]}, status=400)
    return json_response({"columns": result.columns, "types": result.types, "rows": result.rows})


def build_web_app(settings: Settings, warehouse: Warehouse, creds: Credentials) -> web.Application:
    """The web application; callers add live routes with :func:`add_routes` hooks."""
    app = web.Application(middlewares=[auth_middleware], client_max_size=1 << 20)
    app[SETTINGS_KEY] = settings
    app[WAREHOUSE_KEY] = warehouse
    app[CREDS_KEY] = creds
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/sql", sql)
    return app


async def start_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on host:port inside the running event loop; returns the runner to clean up."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
