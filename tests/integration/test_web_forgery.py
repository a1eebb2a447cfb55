"""Request forgery against a real web server on 127.0.0.1: what a page on another port can make a
logged-in browser send is refused; the same-origin page and bearer-token scripts still work.

A browser on a page at ``http://127.0.0.1:<other port>`` sends the ``SameSite=Strict`` session cookie
to the hub (same site: ports do not count), with ``Origin`` naming the other port (every POST) and
``Sec-Fetch-Site: same-site``. Older browsers send no ``Sec-Fetch-*``; those cases are covered too.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from demandhub.settings import Settings
from demandhub.web.server import CREDS_KEY, SESSIONS_KEY
from sinks.clickhouse.client import Warehouse
from tests.integration.test_web_api import ANALYST, NOW, SUPERVISOR, LiveServer, make_settings, serve

pytestmark = pytest.mark.integration

SQL_JSON = json.dumps({"sql": "SELECT 1 AS one"}).encode()
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def server(tmp_path: Any, wh: Warehouse) -> Iterator[LiveServer]:
    settings: Settings = make_settings(tmp_path)
    live = serve(settings, wh, lambda: NOW)
    yield live
    live.stop()


def send(
    server: LiveServer,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def own(server: LiveServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def other_port(server: LiveServer) -> str:
    return f"http://127.0.0.1:{server.port + 1 if server.port < 65535 else server.port - 1}"


def cookie(server: LiveServer, token: str) -> dict[str, str]:
    """The session cookie a browser signed in with ``token`` holds (an unknown token: a bad cookie)."""
    role = server.app[CREDS_KEY].role_of(token)
    sid = server.app[SESSIONS_KEY].create(role)[0] if role else token
    return {"Cookie": f"demandhub_session={sid}"}


# -- /api/sql --------------------------------------------------------------------------------------
def forged_sql_requests(server: LiveServer) -> list[tuple[str, dict[str, str], bytes]]:
    """(case, headers, body) a hostile page (or a replay of one) can make an analyst's browser send."""
    other = other_port(server)
    modern = {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty"}
    return [
        ("text/plain from another port", {"Origin": other, "Content-Type": "text/plain", **modern}, SQL_JSON),
        ("form from another port", {"Origin": other, "Content-Type": FORM, **modern}, b"sql=SELECT+1"),
        ("text/plain, old browser", {"Origin": other, "Content-Type": "text/plain"}, SQL_JSON),
        ("JSON, no Origin", {"Content-Type": "application/json"}, SQL_JSON),
        ("text/plain, no Origin", {"Content-Type": "text/plain"}, SQL_JSON),
        ("JSON, Origin of another port", {"Origin": other, "Content-Type": "application/json"}, SQL_JSON),
        ("JSON, opaque Origin", {"Origin": "null", "Content-Type": "application/json"}, SQL_JSON),
        (
            "JSON, other host",
            {"Origin": "http://localhost.evil:80", "Content-Type": "application/json"},
            SQL_JSON,
        ),
        (
            "JSON, other scheme",
            {"Origin": f"https://127.0.0.1:{server.port}", "Content-Type": "application/json"},
            SQL_JSON,
        ),
        (
            "own Origin but the browser says same-site",
            {"Origin": own(server), "Content-Type": "application/json", "Sec-Fetch-Site": "same-site"},
            SQL_JSON,
        ),
        (
            "own Origin but the browser says cross-site",
            {"Origin": own(server), "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
            SQL_JSON,
        ),
    ]


def test_forged_sql_with_the_session_cookie_is_refused(server: LiveServer) -> None:
    for case, headers, body in forged_sql_requests(server):
        status, reply_headers, reply = send(
            server, "POST", "/api/sql", {**cookie(server, ANALYST), **headers}, body
        )
        assert status == 403, case
        assert reply == b"403: Forbidden (cross-origin request)", case
        assert "Set-Cookie" not in reply_headers, case


def test_the_same_origin_page_can_query(server: LiveServer) -> None:
    headers = {
        **cookie(server, ANALYST),
        "Origin": own(server),
        "Content-Type": "application/json",
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "cors",
    }
    status, _, body = send(server, "POST", "/api/sql", headers, SQL_JSON)
    assert status == 200 and json.loads(body)["rows"] == [[1]]
    # an older browser (no Sec-Fetch-*) with the right Origin, and a JSON media type with a charset
    older = {
        **cookie(server, ANALYST),
        "Origin": own(server),
        "Content-Type": "application/json; charset=utf-8",
    }
    assert send(server, "POST", "/api/sql", older, SQL_JSON)[0] == 200


def test_a_tls_proxy_in_front_is_the_origin(server: LiveServer) -> None:
    headers = {
        **cookie(server, ANALYST),
        "Origin": "https://hub.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hub.example",
        "Content-Type": "application/json",
    }
    assert send(server, "POST", "/api/sql", headers, SQL_JSON)[0] == 200
    assert (
        send(server, "POST", "/api/sql", {**headers, "Origin": "https://hub.example:8443"}, SQL_JSON)[0]
        == 403
    )


def test_bearer_scripts_need_no_origin_but_do_need_json(server: LiveServer) -> None:
    bearer = {"Authorization": f"Bearer {ANALYST}"}
    status, _, body = send(
        server, "POST", "/api/sql", {**bearer, "Content-Type": "application/json"}, SQL_JSON
    )
    assert status == 200 and json.loads(body)["rows"] == [[1]]
    for content_type, payload in (("text/plain", SQL_JSON), (FORM, b"sql=SELECT+1"), ("", SQL_JSON)):
        headers = {**bearer, "Content-Type": content_type} if content_type else bearer
        status, _, body = send(server, "POST", "/api/sql", headers, payload)
        assert status == 400, content_type
        assert "application/json" in json.loads(body)["error"]


def test_access_matrix_comes_before_the_origin_check(server: LiveServer) -> None:
    other = {"Origin": other_port(server), "Content-Type": "text/plain"}
    assert send(server, "POST", "/api/sql", other, SQL_JSON)[2] == b"401: Unauthorized"
    assert send(server, "POST", "/api/sql", {**cookie(server, "wrong"), **other}, SQL_JSON)[0] == 401
    same = {**cookie(server, SUPERVISOR), "Origin": own(server), "Content-Type": "application/json"}
    assert send(server, "POST", "/api/sql", same, SQL_JSON)[:3:2] == (403, b"403: Forbidden")


# -- login and logout ------------------------------------------------------------------------------
def login(server: LiveServer, headers: dict[str, str], token: str = SUPERVISOR) -> tuple[int, Any]:
    status, reply_headers, _ = send(
        server, "POST", "/login", {"Content-Type": FORM, **headers}, urlencode({"token": token}).encode()
    )
    return status, reply_headers.get("Set-Cookie")


def test_login_from_another_port_is_refused(server: LiveServer) -> None:
    """Login CSRF: a hostile page logging the victim in under the attacker's token."""
    other = other_port(server)
    for headers in (
        {"Origin": other, "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"},
        {"Origin": other},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {**cookie(server, ANALYST), "Origin": other},
        {**cookie(server, ANALYST)},
    ):
        assert login(server, headers) == (403, None), headers


def test_login_from_the_form_itself_works(server: LiveServer) -> None:
    headers = {"Origin": own(server), "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"}
    status, set_cookie = login(server, headers)
    assert status == 303 and set_cookie.startswith("demandhub_session=") and SUPERVISOR not in set_cookie
    assert "SameSite=Strict" in set_cookie and "HttpOnly" in set_cookie
    # signing in again while signed in (the cookie is sent along)
    assert login(server, {**headers, **cookie(server, ANALYST)})[0] == 303
    # a script with no browser headers at all
    assert login(server, {})[0] == 303
    # the hub's own form under a no-referrer policy: Chromium sends "Origin: null", and says same-origin
    assert login(server, {"Origin": "null", "Sec-Fetch-Site": "same-origin"})[0] == 303
    assert login(server, {"Origin": "null", "Sec-Fetch-Site": "same-site"})[0] == 403


def test_the_form_page_keeps_its_origin_on_posts(server: LiveServer) -> None:
    """Under ``no-referrer`` browsers send ``Origin: null`` on a page's own form posts; ``same-origin``
    keeps the real origin there and still sends no referrer to any other site."""
    status, headers, _ = send(server, "GET", "/login", {})
    assert status == 200 and headers["Referrer-Policy"] == "same-origin"


def test_logout_only_from_the_hub_itself(server: LiveServer) -> None:
    navigate = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    forced = {**cookie(server, SUPERVISOR), **navigate, "Sec-Fetch-Site": "same-site"}
    assert send(server, "GET", "/logout", forced)[0] == 403
    mine = {**cookie(server, SUPERVISOR), **navigate, "Sec-Fetch-Site": "same-origin"}
    assert send(server, "GET", "/logout", mine)[0] == 303


# -- reads with the cookie -------------------------------------------------------------------------
def test_other_ports_cannot_fetch_the_live_api_with_the_cookie(server: LiveServer) -> None:
    other = other_port(server)
    for headers in (
        {"Origin": other, "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
        {"Origin": other},
    ):
        for path in ("/api/live", "/api/live/stream", "/"):
            assert send(server, "GET", path, {**cookie(server, SUPERVISOR), **headers})[0] == 403, (
                path,
                headers,
            )


def test_the_page_its_scripts_and_links_still_work(server: LiveServer) -> None:
    same = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
    assert send(server, "GET", "/api/live", {**cookie(server, SUPERVISOR), **same})[0] == 200
    typed = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    assert send(server, "GET", "/", {**cookie(server, SUPERVISOR), **typed})[0] == 200
    # a link from a dashboard on another port opens the wallboard in a tab
    link = {**typed, "Sec-Fetch-Site": "same-site"}
    assert send(server, "GET", "/", {**cookie(server, SUPERVISOR), **link})[0] == 200
    assert send(server, "GET", "/api/live", {**cookie(server, SUPERVISOR)})[0] == 200
    assert (
        send(
            server,
            "GET",
            "/api/live",
            {"Authorization": f"Bearer {SUPERVISOR}", "Origin": other_port(server)},
        )[0]
        == 200
    )
