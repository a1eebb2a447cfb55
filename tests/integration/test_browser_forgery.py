"""In headless Chromium: a page on another port of the same host cannot make a signed-in analyst's
browser run SQL on the hub, and the hub's own page still can.

The browser signs in through the real login form (``SameSite=Strict`` cookie). A second server on
another port of 127.0.0.1, same *site* as the hub, serves a hostile page that posts a query to the
hub's ``/api/sql`` twice: a ``fetch`` with ``mode: "no-cors"`` and ``credentials: "include"`` and a
``text/plain`` form whose body is valid JSON. Chromium sends the cookie with both (same site); the hub
must answer 403 to both, so neither query runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from demandhub.auth import credentials
from demandhub.web.live import add_live_routes
from demandhub.web.server import Handler, build_web_app
from sinks.clickhouse.client import Warehouse
from tests.integration.test_browser_live import WebDriver, browser  # noqa: F401 - the fixture
from tests.integration.test_web_api import ANALYST, LiveServer, make_settings

pytestmark = [pytest.mark.integration, pytest.mark.browser]

HOSTILE_PAGE = """<!doctype html>
<html><head><title>cat pictures</title></head><body>
<form id="f" method="post" action="{target}" enctype="text/plain">
<input type="hidden" name='{{"sql": "SELECT 1 AS forged_form", "x": "' value='"}}'>
</form>
<script>
fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: '{{"sql": "SELECT 2 AS forged_fetch"}}'}})
  .finally(() => {{ document.title = "sent"; document.getElementById("f").submit(); }});
</script>
</body></html>"""


class Recorder:
    """Every request the hub answered: (method, path, status)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        self.seen.append((request.method, request.path, response.status))
        return response

    def sql_posts(self) -> list[int]:
        return [status for method, path, status in self.seen if (method, path) == ("POST", "/api/sql")]


@pytest.fixture
def hub(tmp_path: Path, wh: Warehouse) -> Iterator[tuple[LiveServer, Recorder]]:
    settings = make_settings(tmp_path)
    recorder = Recorder()
    app = build_web_app(settings, wh, credentials(settings))
    app.middlewares.insert(0, recorder.middleware)
    add_live_routes(app, now=lambda: datetime.now(UTC))
    server = LiveServer(app).start()
    yield server, recorder
    server.stop()


@pytest.fixture
def hostile(hub: tuple[LiveServer, Recorder]) -> Iterator[LiveServer]:
    target = f"{hub[0].url}/api/sql"

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=HOSTILE_PAGE.format(target=target), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    server = LiveServer(app).start()
    yield server
    server.stop()


def test_a_page_on_another_port_cannot_run_sql_as_the_analyst(
    browser: WebDriver,  # noqa: F811 - the fixture imported above
    hub: tuple[LiveServer, Recorder],
    hostile: LiveServer,
) -> None:
    server, recorder = hub
    assert hostile.port != server.port
    browser.get(f"{server.url}/login")
    browser.type("#token", ANALYST)
    browser.click("#sign-in")
    browser.wait_for("the live page", lambda: browser.url().endswith(f":{server.port}/"))

    # the hub's own page may query
    result: Any = browser.script(
        "return fetch('/api/sql', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({sql: 'SELECT 3 AS own'})}).then(r => r.status);"
    )
    assert result == 200

    browser.get(f"{hostile.url}/")
    browser.wait_for("both forged posts to arrive", lambda: len(recorder.sql_posts()) >= 3, timeout=30)
    own, *forged = recorder.sql_posts()
    assert own == 200
    # 403, not 401: the browser did send the session cookie, and the hub refused the origin
    assert forged == [403, 403]
