"""The public dashboard served without login under ``/public/`` (see :mod:`demandhub.board.warehouse.public`).

Only GET and HEAD; the files are built on a read handle of their own in a worker thread and kept
for ``CACHE_SECONDS``, so a busy public page costs the warehouse one build a minute at most.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

PUBLIC_PREFIX = "/public/"
CACHE_SECONDS = 60.0
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
}
_CACHE_KEY: web.AppKey[dict[str, Any]] = web.AppKey("public_cache", dict)


def is_public(path: str) -> bool:
    """True for the public site's paths (served to anyone, no token)."""
    return path == "/public" or path.startswith(PUBLIC_PREFIX)


def _build(app: web.Application) -> dict[str, bytes]:
    from demandhub.board.catalogue.measures import load_catalogue
    from demandhub.board.warehouse.public import build_site
    from demandhub.web.server import REPORTS_KEY, SETTINGS_KEY

    settings = app[SETTINGS_KEY]
    return build_site(
        app[REPORTS_KEY], settings.force_id, settings.definitions, load_catalogue(), settings.public_min_count
    )


async def public_file(request: web.Request) -> web.StreamResponse:
    """GET /public/{name}: a file of the public site (``index.html`` for /public/)."""
    name = request.match_info.get("name", "") or "index.html"
    cache = request.app[_CACHE_KEY]
    if cache.get("files") is None or time.monotonic() - cache.get("at", 0.0) > CACHE_SECONDS:
        cache["files"] = await asyncio.to_thread(_build, request.app)
        cache["at"] = time.monotonic()
    body = cache["files"].get(name)
    if body is None:
        return web.Response(status=404, text="404: Not Found")
    suffix = name[name.rfind(".") :]
    return web.Response(
        body=body,
        headers={
            "Content-Type": CONTENT_TYPES.get(suffix, "application/octet-stream"),
            "Cache-Control": "public, max-age=60",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'",
        },
    )


async def public_root(request: web.Request) -> web.StreamResponse:
    """GET /public: redirect to /public/ so the page's relative links resolve."""
    raise web.HTTPFound(PUBLIC_PREFIX)


def add_public_routes(app: web.Application) -> None:
    app[_CACHE_KEY] = {}
    app.router.add_get("/public", public_root)
    app.router.add_get("/public/{name:.*}", public_file)
