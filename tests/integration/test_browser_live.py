"""End to end in headless Chromium: sign in, see the wallboard, watch it move, see it go stale.

Chromium (Debian packages ``chromium`` and ``chromium-driver``) is driven through chromedriver's
W3C WebDriver HTTP API with the standard library only. The hub's web application runs on
127.0.0.1 with a real migrated warehouse; events go through the real pipeline. The screenshot is
saved as ``test-artifacts/live-page.png``. In CI (``CI=true``) a missing browser is a failure,
never a skip.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from demandhub.embedded import free_port, wait_for_port
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from streams.sources.simulator import SimConfig, simulate
from tests.integration.test_web_api import (
    SUPERVISOR,
    Feed,
    LiveServer,
    abandoned_call,
    answered_call,
    call,
    event,
    make_settings,
    open_incident,
    qa_entry,
    serve,
    waiting_call,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1920,1080",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]
ELEMENT_KEY_PREFIX = "element-6066-11e4-"  # the web element identifier key (W3C WebDriver)


def _browser_paths() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


class WebDriver:
    """The few W3C WebDriver commands the test needs, over chromedriver's local HTTP port."""

    def __init__(self, chromium: str, driver: str, workdir: Path) -> None:
        self.port = free_port()
        log = open(workdir / "chromedriver.log", "wb")  # noqa: SIM115 - closed in quit()
        self._log = log
        self._proc = subprocess.Popen(
            [driver, f"--port={self.port}", "--allowed-ips=127.0.0.1"], stdout=log, stderr=log
        )
        wait_for_port("127.0.0.1", self.port, timeout=30)
        options = {
            "binary": chromium,
            "args": [*CHROMIUM_FLAGS, f"--user-data-dir={workdir / 'profile'}"],
        }
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = self._send("POST", "/session", caps)["sessionId"]
        self.cdp(
            "Emulation.setDeviceMetricsOverride", width=1920, height=1080, deviceScaleFactor=1, mobile=False
        )

    def cdp(self, command: str, **params: Any) -> Any:
        """A DevTools protocol command through chromedriver."""
        return self._session("POST", "/goog/cdp/execute", {"cmd": command, "params": params})

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"webdriver {method} {path}: {exc.read()[:500]!r}") from exc

    def _session(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._send(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self._session("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        found = self._session("POST", "/element", {"using": "css selector", "value": css})
        return str(next(v for k, v in found.items() if k.startswith(ELEMENT_KEY_PREFIX)))

    def type(self, css: str, text: str) -> None:
        self._session("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self._session("POST", f"/element/{self.find(css)}/click", {})

    def script(self, source: str, *args: Any) -> Any:
        return self._session("POST", "/execute/sync", {"script": source, "args": list(args)})

    def text(self, css: str) -> str:
        return str(
            self.script("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css)
        )

    def url(self) -> str:
        return str(self._session("GET", "/url"))

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._session("GET", "/screenshot")))

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
        """Poll ``check`` until true; fail naming ``what`` and showing the page status otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; status: {self.text('#status')!r}")

    def quit(self) -> None:
        try:
            self._send("DELETE", f"/session/{self.session}")
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    paths = _browser_paths()
    if paths is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(
                "chromium and chromedriver are required in CI (apt-get install chromium chromium-driver)"
            )
        pytest.skip("chromium or chromedriver is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="demandhub-browser-", dir=tmp_path))
    driver = WebDriver(*paths, workdir)
    try:
        yield driver
    finally:
        driver.quit()


def wallboard_scene(now: datetime) -> list[dict[str, Any]]:
    """A busy morning: calls in every queue, incidents in every state, a QA backlog."""
    s, m = timedelta(seconds=1), timedelta(minutes=1)
    raw: list[dict[str, Any]] = []
    raw += waiting_call("W1", "999", now - 14 * s)
    raw += waiting_call("W2", "101-primary", now - 95 * s)
    raw += waiting_call("W3", "101-primary", now - 20 * s)
    raw += [event("webchat.offered.v1", "CHAT-1", now - 50 * s, queue="webchat")]
    for i, wait in enumerate((10, 22, 41, 18)):
        start = now - (5 + 9 * i) * m
        raw += [
            event("webchat.offered.v1", f"CHAT-A{i}", start, queue="webchat"),
            event("webchat.answered.v1", f"CHAT-A{i}", start + wait * s, queue="webchat"),
        ]
    for i, wait in enumerate((4, 6, 7, 8, 9, 12, 5, 3)):
        raw += answered_call(f"A999-{i}", "999", now - (3 + 6 * i) * m, wait)
    for i, wait in enumerate((12, 25, 28, 45, 80, 20, 15)):
        raw += answered_call(f"A101-{i}", "101-primary", now - (4 + 7 * i) * m, wait)
    raw += abandoned_call("X101-1", "101-primary", now - 12 * m, 75)
    raw += abandoned_call("X101-2", "101-primary", now - 40 * m, 130)
    for i, wait in enumerate((40, 55, 20)):
        raw += answered_call(f"A2-{i}", "101-secondary", now - (8 + 11 * i) * m, wait)
    raw += open_incident("CC-20240612-0142", "IMMEDIATE", now - 13 * m, "Cambridge City", "urban")
    raw += open_incident("CC-20240612-0139", "PRIORITY", now - 66 * m, "Fenland", "rural")
    raw += open_incident("CC-20240612-0150", "IMMEDIATE", now - 4 * m, "Huntingdonshire", "rural")
    raw += open_incident("CC-20240612-0147", "PRIORITY", now - 38 * m, "Peterborough", "urban")
    raw += open_incident("CC-20240612-0151", "PRIORITY", now - 9 * m, "South Cambridgeshire", "rural")
    for i in range(6):
        raw += qa_entry(f"CR-{i}", now - (20 + 45 * i) * m)
    return raw


def test_sign_in_see_the_wallboard_move_and_go_stale(
    browser: WebDriver, tmp_path: Path, wh: Warehouse
) -> None:
    settings: Settings = make_settings(tmp_path)
    feed = Feed(settings, wh, lambda: datetime.now(UTC))
    now = datetime.now(UTC)
    feed.send(wallboard_scene(now))
    server: LiveServer | None = serve(settings, wh, lambda: datetime.now(UTC))
    assert server is not None
    port = server.port
    try:
        browser.get(f"{server.url}/")  # no session yet: the sign-in form, not a bare 401
        browser.wait_for("the redirect to sign in", lambda: browser.url().endswith(f":{port}/login"))
        assert browser.script("return document.querySelector('#token') !== null;")
        browser.get(f"{server.url}/login?stale_after=3")
        browser.type("#token", SUPERVISOR)
        browser.click("#sign-in")
        browser.wait_for("the live page", lambda: browser.url().endswith(f":{port}/"))
        browser.get(f"{server.url}/?stale_after=3")
        browser.wait_for("live status", lambda: browser.text("#status").startswith("LIVE"))
        browser.wait_for("999 waiting", lambda: browser.text('[data-queue="999"] .waiting') == "1")
        assert browser.text('[data-queue="101-primary"] .waiting') == "2"
        assert browser.text('[data-queue="101-primary"] .past') == "1"  # 95 s > 30 s
        rows = browser.script(
            "return [...document.querySelectorAll('#incidents tbody tr')]"
            ".map(r => [r.dataset.incident, r.className]);"
        )
        assert [r[0] for r in rows][:2] == ["CC-20240612-0139", "CC-20240612-0142"]  # by time left
        assert dict(rows)["CC-20240612-0139"] == "red"  # priority, 66 of 60 minutes
        assert dict(rows)["CC-20240612-0142"] == "amber"  # immediate urban, 13 of 15 minutes
        assert browser.text("#qa-depth") == "6"
        first = browser.text('#incidents tr[data-incident="CC-20240612-0142"] .countdown')
        browser.wait_for(
            "the countdown to tick",
            lambda: browser.text('#incidents tr[data-incident="CC-20240612-0142"] .countdown') != first,
        )

        later = datetime.now(UTC)
        feed.send(
            waiting_call("W5", "999", later - timedelta(seconds=3))
            + waiting_call("W6", "999", later - timedelta(seconds=2))
            + open_incident("CC-20240612-0155", "IMMEDIATE", later - timedelta(minutes=1), "Fenland", "rural")
            + qa_entry("CR-new", later)
        )
        browser.wait_for("999 waiting to rise", lambda: browser.text('[data-queue="999"] .waiting') == "3")
        browser.wait_for("the new incident", lambda: "CC-20240612-0155" in browser.text("#incidents"))
        browser.wait_for("QA depth", lambda: browser.text("#qa-depth") == "7")
        browser.screenshot(ARTIFACTS / "live-page.png")

        server.stop()
        server = None
        browser.wait_for("the stale marker", lambda: browser.text("#status") == "STALE", timeout=30)
        assert "no update for" in browser.text("#stale-banner")
        browser.screenshot(ARTIFACTS / "live-page-stale.png")

        server = serve(settings, wh, lambda: datetime.now(UTC), port=port)
        browser.wait_for("reconnection", lambda: browser.text("#status").startswith("LIVE"), timeout=40)
    finally:
        if server is not None:
            server.stop()


def sign_in(browser: WebDriver, server: LiveServer) -> None:
    browser.get(f"{server.url}/login")
    browser.type("#token", SUPERVISOR)
    browser.click("#sign-in")
    browser.wait_for("the live page", lambda: browser.url().endswith(f":{server.port}/"))


def simulated(start: datetime, until: datetime, run: str) -> list[dict[str, Any]]:
    """The simulator's events of the force from ``start`` until ``until`` (then it stops)."""
    config = SimConfig(start=start, days=1, seed=3, run=run, scale=2.0)
    events = []
    for envelope in simulate(config):
        if datetime.fromisoformat(envelope["time"]) >= until:
            break
        events.append(envelope)
    return events


def _banner(browser: WebDriver) -> str:
    """The feed banner's text, empty while it is hidden."""
    shown = browser.script(
        "const b = document.querySelector('#feed-banner'); return b && !b.hidden ? b.textContent : '';"
    )
    return str(shown or "")


def test_a_feed_that_stops_is_shown_silent_against_its_usual_rate(
    browser: WebDriver, tmp_path: Path, wh: Warehouse
) -> None:
    """History (the simulator a week ago at this hour) gives each source its expected rate; the
    simulator then runs up to now and stops; with the page's clock moved on an hour, telephony's
    silence is improbable at its usual rate and the page says so."""
    settings: Settings = make_settings(tmp_path)
    shift = [timedelta(0)]

    def clock() -> datetime:
        return datetime.now(UTC) + shift[0]

    feed = Feed(settings, wh, clock)
    now = datetime.now(UTC)
    week = timedelta(weeks=1)
    feed.send(simulated(now - week - timedelta(minutes=90), now - week + timedelta(hours=3), "hist"))
    feed.send(simulated(now - timedelta(minutes=20), now, "live"))
    server = serve(settings, wh, clock)
    try:
        sign_in(browser, server)
        chip = '#feeds .chip[data-source="telephony"]'
        browser.wait_for(
            "telephony healthy",
            lambda: (
                browser.script(f"const c = document.querySelector('{chip}'); return c && c.dataset.state;")
                == "healthy"
            ),
        )
        # Only telephony is asserted on: a rarer source (the online portal at night, about 2 an hour)
        # may well have sent nothing in the simulated 20 minutes, and a source with no event in the
        # look-back is rightly shown silent whatever the hour.
        assert "Telephony" not in _banner(browser)
        shift[0] = timedelta(hours=1)  # the simulator has stopped; an hour passes on the page's clock
        browser.wait_for(
            "the feed-silent banner naming telephony", lambda: "Telephony" in _banner(browser), timeout=30
        )
        banner = browser.text("#feed-banner")
        assert banner.startswith("FEED SILENT") and "Telephony" in banner and "normally" in banner
        assert browser.script(f"return document.querySelector('{chip}').dataset.state;") == "silent"
        assert browser.text("#status").startswith("LIVE")  # the page still hears the hub: not stale
        browser.screenshot(ARTIFACTS / "live-page-feed-silent.png")
    finally:
        server.stop()


def test_every_open_immediate_incident_is_visible_at_1080p(
    browser: WebDriver, tmp_path: Path, wh: Warehouse
) -> None:
    settings: Settings = make_settings(tmp_path)
    feed = Feed(settings, wh, lambda: datetime.now(UTC))
    now = datetime.now(UTC)
    m = timedelta(minutes=1)
    districts = [("Cambridge City", "urban"), ("Fenland", "rural"), ("Peterborough", "urban")]
    raw: list[dict[str, Any]] = []
    for i in range(6):
        district, kind = districts[i % 3]
        raw += open_incident(f"IMM-{i}", "IMMEDIATE", now - (2 + 2 * i) * m, district, kind)
    for i in range(16):  # priority incidents, several more urgent than the immediate ones
        district, kind = districts[i % 3]
        raw += open_incident(f"PRI-{i:02d}", "PRIORITY", now - (30 + 3 * i) * m, district, kind)
    feed.send(raw)
    server = serve(settings, wh, lambda: datetime.now(UTC))
    try:
        sign_in(browser, server)
        browser.wait_for("the incidents", lambda: "IMM-0" in browser.text("#incidents"))
        visible = """
            const wrap = document.querySelector('#incidents-wrap').getBoundingClientRect();
            return [...document.querySelectorAll('#incidents tbody tr[data-incident]')]
              .filter(r => !r.hidden && r.getBoundingClientRect().bottom <= wrap.bottom + 1)
              .map(r => r.dataset.incident);"""
        browser.wait_for(
            "compact rows",
            lambda: browser.script(
                "return document.querySelector('#incidents').classList.contains('compact');"
            ),
        )
        immediate = {f"IMM-{i}" for i in range(6)}
        browser.wait_for(
            "every immediate incident in view", lambda: immediate <= set(browser.script(visible))
        )
        shown = browser.script(visible)
        assert any(s.startswith("PRI-") for s in shown)  # the rest pages through the room left
        browser.wait_for(  # the note is written after the rows are laid out
            "the paging note",
            lambda: (
                "all 6 IMMEDIATE shown" in (note := browser.text("#incidents-more")) and "page 1/" in note
            ),
        )
        browser.wait_for("the next page", lambda: "page 2/" in browser.text("#incidents-more"), timeout=30)
        assert immediate <= set(browser.script(visible))  # still pinned
        browser.screenshot(ARTIFACTS / "live-page-many-incidents.png")

        area = call(server, "GET", "/api/live/incidents", token=SUPERVISOR).json()["incidents"]["items"][0][
            "area"
        ]
        browser.get(f"{server.url}/?area={area}")
        browser.wait_for("the area filter", lambda: f"Area {area}" in browser.text("#incidents-more"))
        areas = browser.script(
            "return [...document.querySelectorAll('#incidents tbody tr[data-incident]')]"
            ".filter(r => !r.hidden).map(r => r.dataset.area);"
        )
        assert areas and set(areas) == {area}
    finally:
        server.stop()


# -- trends, forecast band and the peak scenario -------------------------------------------------------
def _open_wallboard(browser: WebDriver, server: LiveServer) -> None:
    browser.get(f"{server.url}/login")
    browser.type("#token", SUPERVISOR)
    browser.click("#sign-in")
    browser.wait_for("the live page", lambda: browser.url().endswith(f":{server.port}/"))


def test_the_forecast_band_is_drawn_with_demand_against_normal(
    browser: WebDriver, tmp_path: Path, wh: Warehouse
) -> None:
    """Three past Wednesdays give the 999 band; today runs 46 % above it (48 for 33); the page draws the band,
    the service-level sparkline and the handlers needed."""
    from tests.integration.test_web_api import NOW
    from tests.integration.test_web_trends import history_scene

    settings: Settings = make_settings(tmp_path, staffing_measure_days=28)
    Feed(settings, wh, lambda: NOW).send(history_scene())
    server = serve(settings, wh, lambda: NOW)
    try:
        _open_wallboard(browser, server)
        card = '#trends [data-trend-queue="999"]'
        browser.wait_for(
            "the forecast band",
            lambda: (
                browser.script(
                    f"const c = document.querySelector('{card} svg.trend-chart'); return c && c.dataset.band;"
                )
                == "drawn"
            ),
        )
        polygons = browser.script(f"return document.querySelectorAll('{card} polygon.band').length;")
        assert polygons >= 2  # today's band and the forecast's
        assert browser.script(f"return document.querySelector('{card} polyline.offered') !== null;")
        assert browser.script(f"return document.querySelector('{card} polyline.sl') !== null;")
        assert "+46% vs normal" in browser.text(f"{card} .trend-ratio")
        staffing = browser.text(f"{card} .trend-staffing")
        assert "handlers" in staffing and "90% in 10 s" in staffing
        needed = browser.script(f"return document.querySelector('{card} .trend-staffing').dataset.requiredA;")
        assert needed and int(needed) >= 1
        chat = '#trends [data-trend-queue="webchat"]'
        assert "no history" in browser.text(f"{chat} .trend-ratio")
        browser.screenshot(ARTIFACTS / "live-page-trends.png")
    finally:
        server.stop()


def test_the_peak_scenario_shows_amber_queues_and_breached_incidents(
    browser: WebDriver, tmp_path: Path, wh: Warehouse
) -> None:
    """`demandhub up --scenario peak`: the simulator's Friday-night peak, 40 minutes under way when
    the page opens, goes through the pipeline; the page shows an amber queue and a breached incident."""
    from streams.sources.simulator import SimConfig, simulate_live
    from streams.sources.simulator.scenarios import PEAK

    settings: Settings = make_settings(tmp_path)
    now = datetime.now(UTC)
    clock_at = [now]

    def fake_sleep(seconds: float) -> None:
        clock_at[0] += timedelta(seconds=seconds)

    config = SimConfig(start=now.date(), days=1, seed=5, scale=1.0)
    events = []
    for envelope in simulate_live(
        config, speed=4.0, now_fn=lambda: clock_at[0], sleep_fn=fake_sleep, scenario=PEAK
    ):
        if datetime.fromisoformat(envelope["time"]) >= now:
            break  # what the hub has received when the page opens
        events.append(envelope)
    Feed(settings, wh, lambda: datetime.now(UTC)).send(events)
    server = serve(settings, wh, lambda: datetime.now(UTC))
    try:
        _open_wallboard(browser, server)
        amber_queue = (
            "return [...document.querySelectorAll('#queues [data-queue]')].filter("
            "t => t.querySelector('.stat.alert, .rate.warn')).map(t => t.dataset.queue);"
        )
        browser.wait_for("an amber queue", lambda: bool(browser.script(amber_queue)), timeout=60)
        browser.wait_for(
            "a breached incident",
            lambda: browser.script("return document.querySelectorAll('#incidents tbody tr.red').length;") > 0,
            timeout=60,
        )
        browser.screenshot(ARTIFACTS / "live-page-peak.png")
    finally:
        server.stop()


def test_a_wall_screen_keeps_its_display_session_until_revoked(
    browser: WebDriver, tmp_path: Path, wh: Warehouse
) -> None:
    """A supervisor creates a display; the screen signs in once with its pairing code and shows the
    page; revoking the display sends the open page back to the sign-in form."""
    settings: Settings = make_settings(tmp_path)
    server = serve(settings, wh, lambda: datetime.now(UTC))
    try:
        made = call(
            server,
            "POST",
            "/api/displays",
            token=SUPERVISOR,
            body=b'{"label": "Control room wall 1"}',
            content_type="application/json",
        ).json()
        browser.get(f"{server.url}/login")
        browser.type("#token", made["pairing_code"])
        browser.click("#sign-in")
        browser.wait_for("the live page", lambda: browser.url().endswith(f":{server.port}/"))
        browser.wait_for("live status", lambda: browser.text("#status").startswith("LIVE"))
        assert call(server, "DELETE", f"/api/displays/{made['handle']}", token=SUPERVISOR).status == 204
        browser.wait_for(
            "the sign-in form", lambda: browser.url().endswith(f":{server.port}/login"), timeout=40
        )
    finally:
        server.stop()


def test_the_social_media_desk_shows_threads_waiting_and_the_oldest_past_target(
    browser: WebDriver, tmp_path: Path, wh: Warehouse
) -> None:
    settings: Settings = make_settings(tmp_path)
    now, m = datetime.now(UTC), timedelta(minutes=1)
    Feed(settings, wh, lambda: datetime.now(UTC)).send(
        [
            event("social.received.v1", "SM-1", now - 75 * m, platform="facebook"),
            event("social.received.v1", "SM-2", now - 10 * m, platform="x"),
            event("social.received.v1", "SM-3", now - 50 * m, platform="instagram"),
            event("social.responded.v1", "SM-3", now - 30 * m),
        ]
    )
    server = serve(settings, wh, lambda: datetime.now(UTC))
    assert server is not None
    try:
        sign_in(browser, server)
        browser.wait_for("the social desk", lambda: browser.text("#social-waiting") == "2")
        assert browser.text("#social-over") == "1"  # SM-1 waits 75 of 60 minutes
        assert browser.text("#social-target") == "target 60 min"
        assert browser.text("#social-oldest").startswith("1 h 1")
        assert browser.script("return document.querySelector('#social-oldest').classList.contains('red');")
        browser.screenshot(ARTIFACTS / "live-page-social.png")
    finally:
        server.stop()
