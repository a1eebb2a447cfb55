"""Idle, slow and too many connections against a real web server on 127.0.0.1.

Waits are bounded by polling; nothing asserts how fast the server was, only that it closed (or kept)
the connection within a generous bound.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from demandhub.auth import credentials
from demandhub.web import server as web_server
from demandhub.web.live import HEARTBEAT_SECONDS, add_live_routes
from demandhub.web.server import build_web_app, start_web
from sinks.clickhouse.client import Warehouse
from tests.fixtures.hub import wait_until
from tests.integration.test_web_api import NOW, SUPERVISOR, EventStream, make_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


class Served:
    """The hub's web application on 127.0.0.1 with chosen server options, in its own loop thread."""

    def __init__(self, app: web.Application, **options: Any) -> None:
        self.app, self.options = app, options
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web", daemon=True)
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(start_web(app, "127.0.0.1", 0, **options), self.loop)
        self.runner: web.AppRunner = future.result(timeout=30)
        self.port = int(self.runner.addresses[0][1])

    def open_connections(self) -> int:
        server = self.runner.server
        return len(server.connections) if server is not None else 0

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


@pytest.fixture
def make_server(tmp_path: Any, wh: Warehouse) -> Iterator[Any]:
    started: list[Served] = []

    def make(**options: Any) -> Served:
        settings = make_settings(tmp_path)
        app = build_web_app(settings, wh, credentials(settings))
        add_live_routes(app, now=lambda: NOW)
        served = Served(app, **options)
        started.append(served)
        return served

    yield make
    for served in started:
        served.stop()


def connect(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=120)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed its end (EOF or reset); False while it is still open."""
    sock.setblocking(False)
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_idle_connections_are_closed_by_default(make_server: Any) -> None:
    """With the default settings (no options), a connection that never sends a request is closed,
    and so is a keep-alive connection left idle after a request."""
    served = make_server()
    silent = connect(served)
    after_one = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    after_one.request("GET", "/health")
    assert after_one.getresponse().read() == b"ok"
    bound = web_server.KEEPALIVE_TIMEOUT_SECONDS * 4
    wait_until(lambda: closed_by_server(silent), timeout=bound, what="an idle connection closed")
    assert after_one.sock is not None
    wait_until(lambda: closed_by_server(after_one.sock), timeout=bound, what="a kept-alive connection closed")
    silent.close()
    after_one.close()


def test_a_client_trickling_its_headers_is_cut_off(make_server: Any) -> None:
    served = make_server(keepalive_timeout=1.0)
    sock = connect(served)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    def trickle_until_closed() -> bool:
        if closed_by_server(sock):
            return True
        try:
            sock.sendall(b"X-Slow: 1\r\n")
        except OSError:
            return True
        return False

    wait_until(trickle_until_closed, timeout=60, interval=0.3, what="a slow-header client cut off")
    sock.close()


def test_a_body_that_never_arrives_gets_408(make_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_server, "BODY_TIMEOUT_SECONDS", 1.0)
    served = make_server()
    sock = connect(served)
    sock.sendall(
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 500\r\n\r\ntoken="
    )
    received = bytearray()

    def answered() -> bool:
        sock.settimeout(0.5)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return False
        received.extend(chunk)
        return not chunk or b"\r\n\r\n" in received

    wait_until(answered, timeout=60, interval=0.1, what="an answer to a stalled body")
    assert received.startswith(b"HTTP/1.1 408")
    sock.close()


def test_the_event_stream_outlives_the_idle_timeout(make_server: Any) -> None:
    served = make_server(keepalive_timeout=1.0)
    stream = EventStream(served, SUPERVISOR)  # type: ignore[arg-type]
    try:
        seen: list[str] = []
        # heartbeats every HEARTBEAT_SECONDS: a handful of them spans several idle timeouts
        while len(seen) < 4:
            name, _ = stream.next_event()
            seen.append(name)
        assert seen.count("heartbeat") >= 2 and HEARTBEAT_SECONDS > 1.0
    finally:
        stream.close()


def test_connections_beyond_the_cap_get_503(make_server: Any) -> None:
    served = make_server(max_connections=3)
    held = [connect(served) for _ in range(3)]
    wait_until(lambda: served.open_connections() == 3, timeout=30, what="three connections served")
    extra = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    extra.request("GET", "/health")
    reply = extra.getresponse()
    assert reply.status == 503 and reply.read() == b"503: too many open connections"
    extra.close()
    for sock in held:
        sock.close()
    wait_until(lambda: served.open_connections() == 0, timeout=30, what="held connections released")
    again = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    again.request("GET", "/health")
    assert again.getresponse().read() == b"ok"
    again.close()


def test_a_body_over_the_cap_gets_413(make_server: Any) -> None:
    served = make_server()
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    body = b"token=" + b"x" * web_server.MAX_BODY_BYTES
    conn.request("POST", "/login", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert conn.getresponse().status == 413
    conn.close()
