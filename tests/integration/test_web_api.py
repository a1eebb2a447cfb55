"""The web API with a real migrated warehouse and events put through the real pipeline.

The server is the same aiohttp application the worker serves, run on 127.0.0.1 in a thread with
its own event loop; requests are plain HTTP from the test thread. The clock is fixed, so "today",
waits and countdowns are exact.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from pydantic import SecretStr

from demandhub.auth import credentials
from demandhub.settings import Settings
from demandhub.web.live import CACHE_KEY, OPENAPI_FILE, add_live_routes
from demandhub.web.server import build_web_app, start_web
from schemas.events import entity_of
from schemas.topics import TOPICS
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline, RawMessage

pytestmark = pytest.mark.integration

SUPERVISOR = "supervisor-token-for-tests-only"
ANALYST = "analyst-token-for-tests-only"
NOW = datetime(2024, 6, 12, 11, 0, tzinfo=UTC)  # 12:00 in Europe/London (BST)
_ids = itertools.count(1)


# -- events ------------------------------------------------------------------------------------------
def event(etype: str, subject: str, at: datetime, **data: Any) -> dict[str, Any]:
    """One envelope as a producer would send it."""
    source = {
        "call": "telephony",
        "webchat": "chat",
        "incident": "cad",
        "crime": "athena",
        "social": "social",
    }
    return {
        "id": f"{subject}-{next(_ids)}",
        "source": source[entity_of(etype)],
        "type": etype,
        "time": at.isoformat(),
        "force_id": "cambs",
        "subject": subject,
        "data": data,
    }


def waiting_call(subject: str, queue: str, queued_at: datetime) -> list[dict[str, Any]]:
    channel = "999" if queue == "999" else "101"
    return [
        event("call.offered.v1", subject, queued_at, channel=channel, caller_number="07700900000"),
        event("call.queued.v1", subject, queued_at, queue=queue),
    ]


def answered_call(subject: str, queue: str, queued_at: datetime, wait: float) -> list[dict[str, Any]]:
    return [
        *waiting_call(subject, queue, queued_at),
        event("call.answered.v1", subject, queued_at + timedelta(seconds=wait), queue=queue),
    ]


def abandoned_call(subject: str, queue: str, queued_at: datetime, wait: float) -> list[dict[str, Any]]:
    return [
        *waiting_call(subject, queue, queued_at),
        event(
            "call.abandoned.v1",
            subject,
            queued_at + timedelta(seconds=wait),
            stage="primary_queue",
            queue=queue,
        ),
    ]


def open_incident(
    subject: str, grade: str, created_at: datetime, district: str, urban_rural: str
) -> list[dict[str, Any]]:
    location = {"district": district, "urban_rural": urban_rural, "address": "1 High Street"}
    return [
        event(
            "incident.created.v1",
            subject,
            created_at,
            channel="999",
            opening_category="PSW_CONCERN_FOR_SAFETY",
            location=location,
        ),
        event("incident.graded.v1", subject, created_at + timedelta(seconds=30), grade=grade),
    ]


def qa_entry(subject: str, at: datetime, district: str = "Peterborough") -> list[dict[str, Any]]:
    return [
        event("crime.reported.v1", subject, at - timedelta(hours=1)),
        event("crime.recorded.v1", subject, at, offence_code="28E", district=district),
        event("crime.qa_queue_entered.v1", subject, at),
    ]


def messages(raw: list[dict[str, Any]]) -> list[RawMessage]:
    offsets = itertools.count(next(_ids) * 1000)
    return [
        RawMessage(TOPICS[entity_of(e["type"])].name, 0, next(offsets), json.dumps(e).encode()) for e in raw
    ]


class Feed:
    """Puts events through the same pipeline as the worker."""

    def __init__(self, settings: Settings, wh: Warehouse, now: Callable[[], datetime]) -> None:
        self.pipeline = Pipeline(
            settings,
            wh,
            folds=registry.folds(),
            pseudonymisation_key=b"test-key",
            refreshers=registry.refreshers(),
            now=now,
        )

    def send(self, raw: list[dict[str, Any]]) -> None:
        report = self.pipeline.process(messages(raw))
        assert not report.dead_letters, [d.reason for d in report.dead_letters]
        assert not report.quarantined, report.quarantined


# -- the server --------------------------------------------------------------------------------------
class LiveServer:
    """The hub's web application served on 127.0.0.1 from a thread with its own event loop."""

    def __init__(self, app: web.Application, port: int = 0) -> None:
        self.app, self.port = app, port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web", daemon=True)
        self.runner: web.AppRunner | None = None

    def start(self) -> LiveServer:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(start_web(self.app, "127.0.0.1", self.port), self.loop)
        self.runner = future.result(timeout=30)
        self.port = int(self.runner.addresses[0][1])
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=30)
            self.runner = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


def make_settings(data_dir: Any, **overrides: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        force_id="cambs",
        supervisor_token=SecretStr(SUPERVISOR),
        analyst_token=SecretStr(ANALYST),
        **overrides,
    )


def serve(
    settings: Settings, wh: Warehouse, now: Callable[[], datetime], port: int = 0, **live: Any
) -> LiveServer:
    """The hub's web application with live routes, started on 127.0.0.1 (``port`` 0: any free one)."""
    app = build_web_app(settings, wh, credentials(settings))
    add_live_routes(app, now=now, **live)
    return LiveServer(app, port).start()


@pytest.fixture
def hub_settings(tmp_path: Any) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def feed(hub_settings: Settings, wh: Warehouse) -> Feed:
    return Feed(hub_settings, wh, lambda: NOW)


@pytest.fixture
def server(hub_settings: Settings, wh: Warehouse) -> Iterator[LiveServer]:
    live = serve(hub_settings, wh, lambda: NOW)
    yield live
    live.stop()


# -- plain HTTP --------------------------------------------------------------------------------------
class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    server: LiveServer,
    method: str,
    path: str,
    token: str | None = None,
    cookie: str | None = None,
    body: bytes | None = None,
    content_type: str | None = None,
) -> Reply:
    """One request; never follows redirects."""
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if cookie is not None:
        headers["Cookie"] = f"demandhub_session={cookie}"
    if content_type:
        headers["Content-Type"] = content_type
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def sql(server: LiveServer, query: str, token: str = ANALYST) -> Reply:
    body = json.dumps({"sql": query}).encode()
    return call(server, "POST", "/api/sql", token=token, body=body, content_type="application/json")


class EventStream:
    """A server-sent events reader over a raw HTTP connection."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        self.conn.request("GET", "/api/live/stream", headers={"Authorization": f"Bearer {token}"})
        self.response = self.conn.getresponse()

    def next_event(self) -> tuple[str, Any]:
        """The next (event name, decoded data); the retry hint and comments are skipped."""
        name, data = "message", []
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                return name, json.loads("\n".join(data))
            elif line == "" and not data:
                name = "message"

    def close(self) -> None:
        self.conn.close()


# -- the scene ---------------------------------------------------------------------------------------
def scene() -> list[dict[str, Any]]:
    """A small, hand-countable control room at NOW (11:00 UTC)."""
    m = timedelta(minutes=1)
    return [
        # 999: one caller waiting 40 s (past the 10 s threshold), one waiting 4 s;
        *waiting_call("C1", "999", NOW - timedelta(seconds=40)),
        *waiting_call("C2", "999", NOW - timedelta(seconds=4)),
        # answered in the last 15 min: 6 s (within 10 s) and 25 s (not within); 30 min ago: 3 s.
        *answered_call("C3", "999", NOW - 5 * m, 6),
        *answered_call("C4", "999", NOW - 10 * m, 25),
        *answered_call("C5", "999", NOW - 30 * m, 3),
        # 101 primary: abandoned after 90 s (a real abandon) 20 min ago, answered in 12 s 20 min ago.
        *abandoned_call("C6", "101-primary", NOW - 20 * m, 90),
        *answered_call("C7", "101-primary", NOW - 20 * m, 12),
        # incidents: immediate urban created 12 min ago (target 15: amber at 11 min 15 s);
        # priority created 70 min ago (target 60: breached); immediate rural 2 min ago (ok).
        *open_incident("I1", "IMMEDIATE", NOW - 12 * m, "Cambridge City", "urban"),
        *open_incident("I2", "PRIORITY", NOW - 70 * m, "Fenland", "rural"),
        *open_incident("I3", "IMMEDIATE", NOW - 2 * m, "Huntingdonshire", "rural"),
        # QA/Linking: one crime entered 3 hours ago, one 30 min ago (both today).
        *qa_entry("R1", NOW - 180 * m),
        *qa_entry("R2", NOW - 30 * m),
    ]


# -- access control ----------------------------------------------------------------------------------
PROTECTED = [
    ("GET", "/metrics"),
    ("GET", "/logout"),
    ("GET", "/api/live"),
    ("GET", "/api/live/queues"),
    ("GET", "/api/live/queues/999"),
    ("GET", "/api/live/incidents"),
    ("GET", "/api/live/incidents/I1"),
    ("GET", "/api/live/qa"),
    ("GET", "/api/live/stream"),
    ("GET", "/api/openapi.json"),
    ("GET", "/static/live.js"),
    ("GET", "/static/live.css"),
    ("GET", "/static/nothing-here"),
    ("POST", "/api/sql"),
    ("GET", "/api/displays"),
    ("POST", "/api/displays"),
    ("DELETE", "/api/displays/abc"),
]


def sign_in(server: LiveServer, token: str) -> str:
    """The session id the login form sets for ``token`` (the cookie's value)."""
    reply = call(
        server,
        "POST",
        "/login",
        body=urlencode({"token": token}).encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert reply.status == 303, reply.body
    return reply.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_or_wrong_token_gets_401_and_nothing_else(server: LiveServer, method: str, path: str) -> None:
    for token, cookie in ((None, None), ("wrong", None), (None, "wrong"), (SUPERVISOR + "x", None)):
        reply = call(server, method, path, token=token, cookie=cookie, body=b'{"sql": "SELECT 1"}')
        assert reply.status == 401
        assert reply.body == b"401: Unauthorized"
        assert "Set-Cookie" not in reply.headers


def test_the_page_without_a_session_redirects_to_the_sign_in_form(server: LiveServer) -> None:
    for cookie in (None, "wrong", SUPERVISOR):  # no session, an unknown one, a raw token
        reply = call(server, "GET", "/", cookie=cookie)
        assert (reply.status, reply.headers["Location"]) == (303, "/login")
        assert "Set-Cookie" not in reply.headers
    assert call(server, "GET", "/", token="wrong").status == 303


def test_supervisor_gets_403_on_sql(server: LiveServer) -> None:
    reply = sql(server, "SELECT 1", token=SUPERVISOR)
    assert (reply.status, reply.body) == (403, b"403: Forbidden")


def test_both_roles_see_the_live_api(server: LiveServer) -> None:
    for token in (SUPERVISOR, ANALYST):
        assert call(server, "GET", "/api/live", token=token).status == 200
        assert call(server, "GET", "/api/live", cookie=sign_in(server, token)).status == 200
        assert call(server, "GET", "/api/live", cookie=token).status == 401  # a token is no session


def test_health_is_open_and_says_only_ok(server: LiveServer) -> None:
    reply = call(server, "GET", "/health")
    assert (reply.status, reply.body) == (200, b"ok")


def test_login_form_sets_a_strict_http_only_cookie(server: LiveServer) -> None:
    form = call(server, "GET", "/login")
    assert form.status == 200 and b'name="token"' in form.body
    ok = call(
        server,
        "POST",
        "/login",
        body=urlencode({"token": SUPERVISOR}).encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert ok.status == 303 and ok.headers["Location"] == "/"
    cookie = ok.headers["Set-Cookie"]
    assert cookie.startswith("demandhub_session=") and SUPERVISOR not in cookie  # never the token
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie  # the session's lifetime (session_ttl_seconds)
    sid = cookie.split(";")[0].split("=", 1)[1]
    page = call(server, "GET", "/", cookie=sid)
    assert page.status == 200 and b"/static/live.js" in page.body
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_login_with_a_wrong_token_sets_nothing(server: LiveServer) -> None:
    reply = call(
        server,
        "POST",
        "/login",
        body=urlencode({"token": "guess"}).encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert reply.status == 401
    assert "Set-Cookie" not in reply.headers
    assert b"not recognised" in reply.body


def test_logout_ends_the_session_and_clears_the_cookie(server: LiveServer) -> None:
    sid = sign_in(server, SUPERVISOR)
    reply = call(server, "GET", "/logout", cookie=sid)
    assert reply.status == 303 and reply.headers["Location"] == "/login"
    assert 'demandhub_session=""' in reply.headers["Set-Cookie"]
    assert call(server, "GET", "/api/live", cookie=sid).status == 401  # ended on the server too


def test_a_display_session_is_created_paired_and_revoked(server: LiveServer) -> None:
    made = call(
        server,
        "POST",
        "/api/displays",
        token=SUPERVISOR,
        body=b'{"label": "Wall 1"}',
        content_type="application/json",
    )
    assert made.status == 201
    handle, code = made.json()["handle"], made.json()["pairing_code"]
    screen = sign_in(server, code)  # the wall screen types the code once
    assert call(server, "GET", "/api/live", cookie=screen).status == 200
    assert call(server, "GET", "/", cookie=screen).status == 200
    assert call(server, "GET", "/api/displays", cookie=screen).status == 403  # a screen manages nothing
    assert call(server, "POST", "/api/sql", cookie=screen).status == 403
    again = call(
        server,
        "POST",
        "/login",
        body=urlencode({"token": code}).encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert again.status == 401  # the code works once
    listed = call(server, "GET", "/api/displays", token=SUPERVISOR).json()["displays"]
    assert [(d["handle"], d["label"], d["paired"]) for d in listed] == [(handle, "Wall 1", True)]
    assert call(server, "DELETE", f"/api/displays/{handle}", token=SUPERVISOR).status == 204
    assert call(server, "GET", "/api/live", cookie=screen).status == 401
    assert call(server, "GET", "/", cookie=screen).status == 303
    assert call(server, "DELETE", f"/api/displays/{handle}", token=SUPERVISOR).status == 404


def test_a_revoked_display_loses_its_open_event_stream(server: LiveServer) -> None:
    made = call(
        server,
        "POST",
        "/api/displays",
        token=SUPERVISOR,
        body=b'{"label": "Wall 2"}',
        content_type="application/json",
    )
    screen = sign_in(server, made.json()["pairing_code"])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        conn.request("GET", "/api/live/stream", headers={"Cookie": f"demandhub_session={screen}"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.readline().startswith(b"retry:")
        assert (
            call(server, "DELETE", f"/api/displays/{made.json()['handle']}", token=SUPERVISOR).status == 204
        )
        while response.readline():  # the server ends the stream (bounded by the socket timeout)
            pass
    finally:
        conn.close()


# -- analyst SQL -------------------------------------------------------------------------------------
def test_analyst_sql_reads_the_warehouse(server: LiveServer, feed: Feed) -> None:
    feed.send(scene())
    reply = sql(
        server, "SELECT type, count() AS n FROM events WHERE type LIKE 'call.%' GROUP BY type ORDER BY type"
    )
    assert reply.status == 200
    body = reply.json()
    assert body["columns"] == ["type", "n"]
    counts = dict(body["rows"])
    # 7 calls offered and queued; C3, C4, C5, C7 answered; C6 abandoned
    assert counts == {
        "call.offered.v1": 7,
        "call.queued.v1": 7,
        "call.answered.v1": 4,
        "call.abandoned.v1": 1,
    }


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO events (force_id) VALUES ('x')",
        "ALTER TABLE events DELETE WHERE 1",
        "DROP TABLE events",
        "SELECT 1; DROP TABLE events",
        "SELECT * FROM system.tables",
        "SELECT * FROM `system`.`users`",
        "SELECT '--', * FROM system.tables",
        "SELECT * FROM `\\x73ystem`.tables",
        "SELECT name FROM events UNION ALL SELECT name FROM system.tables",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT * FROM events INTO OUTFILE '/tmp/out.csv'",
    ],
)
def test_analyst_sql_refuses_writes_and_system_tables(server: LiveServer, feed: Feed, query: str) -> None:
    feed.send(qa_entry("R9", NOW - timedelta(minutes=5)))
    reply = sql(server, query)
    assert reply.status == 400
    assert set(reply.json()) == {"error"}
    assert sql(server, "SELECT count() FROM events").json()["rows"] == [[3]]


def test_analyst_sql_reports_warehouse_errors_briefly(server: LiveServer) -> None:
    reply = sql(server, "SELECT no_such_column FROM events")
    assert reply.status == 400
    assert "\n" not in reply.json()["error"]


def test_analyst_sql_needs_a_json_body(server: LiveServer) -> None:
    reply = call(server, "POST", "/api/sql", token=ANALYST, body=b"SELECT 1", content_type="text/plain")
    assert reply.status == 400


# -- the live document -------------------------------------------------------------------------------
def _required(component: str) -> list[str]:
    spec = json.loads(OPENAPI_FILE.read_text())
    return spec["components"]["schemas"][component]["required"]  # type: ignore[no-any-return]


def test_live_document_shape_and_figures(server: LiveServer, feed: Feed) -> None:
    feed.send(scene())
    doc = call(server, "GET", "/api/live", token=SUPERVISOR).json()
    assert set(_required("LiveDocument")) <= set(doc)
    assert doc["errors"] == {}
    assert doc["generated_at"] == NOW.isoformat()
    assert [t["queue"] for t in doc["queues"]] == ["999", "101-primary", "101-secondary", "webchat"]
    for tile in doc["queues"]:
        assert set(_required("QueueTile")) <= set(tile)
        for window in tile["windows"].values():
            assert set(_required("Window")) <= set(window)
    q999 = doc["queues"][0]
    assert (q999["waiting"], q999["waiting_past_threshold"]) == (2, 1)
    assert q999["longest_wait_seconds"] == pytest.approx(40)
    assert q999["threshold_seconds"] == 10 and q999["service_level_target"] == 0.9
    last15, last60 = q999["windows"]["last_15m"], q999["windows"]["last_60m"]
    # answered basis: last 15 min C3 (6 s) in, C4 (25 s) out -> 1/2; last 60 min adds C5 (3 s) -> 2/3
    assert (last15["sl_numerator"], last15["sl_denominator"], last15["service_level"]) == (1, 2, 0.5)
    assert (last60["sl_numerator"], last60["sl_denominator"]) == (2, 3)
    p101 = doc["queues"][1]["windows"]["last_60m"]
    # C6 abandoned after 90 s and C7 answered: 1 abandoned of 2 queued
    assert (p101["abandoned"], p101["abandon_denominator"], p101["abandonment"]) == (1, 2, 0.5)
    assert doc["queues"][2]["windows"]["today"]["service_level"] is None  # no calls: null, not 0

    incidents = doc["incidents"]
    assert [i["incident_id"] for i in incidents["items"]] == ["I2", "I1", "I3"]  # by time left
    i2, i1, i3 = incidents["items"]
    assert set(_required("Incident")) <= set(i1)
    assert (i2["status"], i1["status"], i3["status"]) == ("red", "amber", "ok")
    assert i2["seconds_left"] == pytest.approx(-10 * 60)  # priority 60 min, created 70 min ago
    assert i1["seconds_left"] == pytest.approx(3 * 60)  # immediate urban 15 min, 12 elapsed
    assert i3["target_seconds"] == 20 * 60  # immediate rural
    assert (i1["district"], i1["urban_rural"], i2["area"]) == ("Cambridge City", "urban", "North")
    assert (incidents["open"], incidents["amber"], incidents["red"]) == (3, 1, 1)

    qa = doc["qa"]
    assert (qa["depth"], qa["inflow_today"], qa["outflow_today"]) == (2, 2, 0)
    assert qa["oldest_age_seconds"] == pytest.approx(3 * 3600)


def test_part_endpoints_match_the_document(server: LiveServer, feed: Feed) -> None:
    feed.send(scene())
    doc = call(server, "GET", "/api/live", token=SUPERVISOR).json()
    assert call(server, "GET", "/api/live/queues", token=SUPERVISOR).json()["queues"] == doc["queues"]
    one = call(server, "GET", "/api/live/queues/101-primary", token=SUPERVISOR).json()
    assert one["queue"] == doc["queues"][1]
    assert call(server, "GET", "/api/live/queues/nope", token=SUPERVISOR).status == 404
    assert (
        call(server, "GET", "/api/live/incidents", token=SUPERVISOR).json()["incidents"] == doc["incidents"]
    )
    item = call(server, "GET", "/api/live/incidents/I1", token=SUPERVISOR).json()
    assert item["incident"] == doc["incidents"]["items"][1]
    assert call(server, "GET", "/api/live/incidents/I404", token=SUPERVISOR).status == 404
    assert call(server, "GET", "/api/live/qa", token=SUPERVISOR).json()["qa"] == doc["qa"]


def test_attended_incidents_leave_the_watch(server: LiveServer, feed: Feed) -> None:
    feed.send(scene())
    feed.send([event("incident.resource_arrived.v1", "I1", NOW - timedelta(minutes=1))])
    # the cache holds a document for CACHE_TTL_SECONDS; ask until the new one is computed
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ids = [
            i["incident_id"]
            for i in call(server, "GET", "/api/live/incidents", token=SUPERVISOR).json()["incidents"]["items"]
        ]
        if ids == ["I2", "I3"]:
            break
        time.sleep(0.2)
    assert ids == ["I2", "I3"]


def test_many_readers_share_one_computation(hub_settings: Settings, wh: Warehouse) -> None:
    live = serve(hub_settings, wh, lambda: NOW, ttl=3600)
    try:
        threads = [
            threading.Thread(target=call, args=(live, "GET", path), kwargs={"token": SUPERVISOR})
            for path in ["/api/live", "/api/live/queues", "/api/live/qa", "/api/live/incidents"] * 5
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert live.app[CACHE_KEY].computations == 1
    finally:
        live.stop()


def test_stream_pushes_an_update_after_new_events(server: LiveServer, feed: Feed) -> None:
    feed.send(scene())
    stream = EventStream(server, SUPERVISOR)
    try:
        assert stream.response.status == 200
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        name, first = stream.next_event()
        assert name == "live" and first["queues"][2]["waiting"] == 0
        name, beat = stream.next_event()  # nothing changed: a heartbeat comes next
        assert name == "heartbeat" and beat["generated_at"] == NOW.isoformat()
        feed.send(waiting_call("C8", "101-secondary", NOW - timedelta(seconds=45)))
        while True:
            name, data = stream.next_event()
            if name == "live":
                break
        assert data["queues"][2]["waiting"] == 1
        assert data["queues"][2]["waiting_past_threshold"] == 1
    finally:
        stream.close()


def test_feed_health_is_judged_against_the_same_hour_of_past_weeks(
    hub_settings: Settings, wh: Warehouse
) -> None:
    """Telephony sent 60 events in this hour a week ago and 120 three weeks ago (two weeks ago the
    hub heard nothing at this hour: that week says nothing), so it is expected to send 90 an hour.
    Fresh events: healthy. 50 minutes with nothing from it: silent, on the page's clock and in /metrics."""
    slot = NOW.replace(minute=0) - timedelta(weeks=1)
    history = [("telephony", slot + timedelta(seconds=60 * i), f"h1-{i}") for i in range(60)]
    history += [
        ("telephony", slot - timedelta(weeks=2) + timedelta(seconds=30 * i), f"h3-{i}") for i in range(120)
    ]
    history += [("cad", slot + timedelta(minutes=5 * i), f"c1-{i}") for i in range(12)]
    wh.insert(
        "events",
        [["cambs", f"S-{key}", source, key, "call.offered.v1", at, at, "{}"] for source, at, key in history],
        ["force_id", "subject", "source", "id", "type", "time", "ingest_time", "data"],
    )
    Feed(hub_settings, wh, lambda: NOW).send(scene())  # received at NOW
    shift = [timedelta(0)]
    live = serve(hub_settings, wh, lambda: NOW + shift[0])
    try:
        feeds = call(live, "GET", "/api/live/feeds", token=SUPERVISOR).json()["feeds"]
        by_source = {item["source"]: item for item in feeds["items"]}
        assert feeds["history_weeks"] == 2
        assert by_source["telephony"]["expected_per_hour"] == pytest.approx(90)
        assert by_source["cad"]["expected_per_hour"] == pytest.approx(6)
        assert by_source["telephony"]["state"] == "healthy" and feeds["silent"] == []
        assert by_source["chat"]["state"] == "quiet"  # no history of web chat at this hour: never silent
        shift[0] = timedelta(minutes=50)  # the same clock hour (its history), nothing received
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "telephony" not in feeds["silent"]:
            feeds = call(live, "GET", "/api/live/feeds", token=SUPERVISOR).json()["feeds"]
            time.sleep(0.2)
        assert "telephony" in feeds["silent"]  # exp(-90) by chance: no
        assert "chat" not in feeds["silent"]
        metrics = call(live, "GET", "/metrics", token=SUPERVISOR).body.decode()
        assert 'demandhub_feed_silent{source="telephony"} 1.0' in metrics
        assert 'demandhub_feed_state{source="telephony"} 2.0' in metrics
    finally:
        live.stop()


def test_without_past_weeks_a_feed_is_judged_on_its_last_hour(hub_settings: Settings, wh: Warehouse) -> None:
    """A new installation: no past weeks, so telephony's rate is what it sent in the hour before its
    last event (the scene's 19 call events); 50 minutes with nothing is then improbable."""
    Feed(hub_settings, wh, lambda: NOW).send(scene())
    shift = [timedelta(0)]
    live = serve(hub_settings, wh, lambda: NOW + shift[0])
    try:
        feeds = call(live, "GET", "/api/live/feeds", token=SUPERVISOR).json()["feeds"]
        telephony = {item["source"]: item for item in feeds["items"]}["telephony"]
        assert feeds["history_weeks"] == 0
        assert (telephony["expected_basis"], telephony["expected_per_hour"]) == ("recent", 19)
        assert telephony["state"] == "healthy"
        shift[0] = timedelta(minutes=50)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "telephony" not in feeds["silent"]:
            feeds = call(live, "GET", "/api/live/feeds", token=SUPERVISOR).json()["feeds"]
            time.sleep(0.2)
        assert "telephony" in feeds["silent"]
    finally:
        live.stop()


def test_openapi_describes_every_route(server: LiveServer) -> None:
    spec = call(server, "GET", "/api/openapi.json", token=SUPERVISOR).json()
    assert spec["openapi"].startswith("3.1")
    described = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    served = set()
    for route in server.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method != "HEAD" and not path.startswith("/static"):
            served.add((path, route.method))
    assert described == served
