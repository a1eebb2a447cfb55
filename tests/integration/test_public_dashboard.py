"""The public force dashboard and feed: published months only, no ids, suppression, served without a
token under /public/, the static build, and axe-core (tests/browser/package.json) finds no WCAG 2.x
A/AA violation in headless Chromium."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.maths.months import YearMonth
from demandhub.board.report import build_report, config_hash_of
from demandhub.board.warehouse.public import build_site, write_site
from demandhub.board.warehouse.store import publish
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from tests.integration.test_board_warehouse import config, load_events
from tests.integration.test_web_api import make_settings, serve

pytestmark = pytest.mark.integration

AXE = Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"


def publish_month(wh: Warehouse, month: YearMonth, at: datetime) -> None:
    report = build_report(wh, config(), "cambs", month, at)
    publish(wh, report.data, config_hash_of(report), now=at)


def site(wh: Warehouse, min_count: int = 5) -> dict[str, bytes]:
    return build_site(wh, "cambs", Settings(force_id="cambs").definitions, load_catalogue(), min_count)


@pytest.fixture
def loaded(wh: Warehouse, settings: Settings) -> Warehouse:
    load_events(wh, settings)
    return wh


def every_id(wh: Warehouse) -> set[str]:
    out: set[str] = set()
    for sql in (
        "SELECT DISTINCT crime_id FROM crimes",
        "SELECT DISTINCT incident_id FROM incidents",
        "SELECT DISTINCT contact_id FROM contact_legs",
        "SELECT DISTINCT id FROM events",
    ):
        out |= {str(r[0]) for r in wh.query(sql).rows if r[0]}
    return out


def test_only_published_months_are_shown_with_no_ids(loaded: Warehouse) -> None:
    wh = loaded
    assert json.loads(site(wh)["feed/index.json"])["months"] == []
    publish_month(wh, YearMonth(2019, 1), datetime(2019, 2, 20, tzinfo=UTC))
    files = site(wh)
    index = json.loads(files["feed/index.json"])
    assert index["months"] == ["2019-01"]
    jan = json.loads(files["feed/2019-01.json"])
    crime_lag = load_catalogue().by_id()["outcome_rate_all"].spec.as_of_lag_months
    # crimes are published as of the pack month minus the catalogue's lag (no data before January)
    crimes = {"crime_outcomes"} if crime_lag == 0 else set()
    assert set(jan["sections"]) == {"answer_times_999", "emergency_attendance"} | crimes
    assert "feed/2019-02.json" not in files
    publish_month(wh, YearMonth(2019, 2), datetime(2019, 3, 20, tzinfo=UTC))
    files = site(wh)
    assert json.loads(files["feed/index.json"])["months"] == ["2019-01", "2019-02"]
    jan = json.loads(files["feed/2019-01.json"])
    assert set(jan["sections"]) == {"answer_times_999", "emergency_attendance", "crime_outcomes"}
    assert ("crime_outcomes" in json.loads(files["feed/2019-02.json"])["sections"]) == (crime_lag == 0)
    # the force row is the whole force: answered 999 calls of January from the facts
    answered = wh.query(
        "SELECT count() FROM contact_legs_applied WHERE force_id = 'cambs' AND queue = '999' "
        "AND outcome = 'answered' AND service_wait_seconds IS NOT NULL "
        "AND toStartOfMonth(toDate(placed_at, 'Europe/London')) = '2019-01-01'"
    ).rows[0][0]
    force_row = jan["sections"]["answer_times_999"]["rows"][-1]
    assert force_row["area"] == "Whole force" and force_row["total"]["value"] == answered
    ids = every_id(wh)
    text = b"".join(files.values()).decode()
    assert ids and not any(i in text for i in ids)
    assert "Last updated: 20 March 2019" in files["index.html"].decode()


def test_suppressed_cells_are_shown_as_fewer_than_and_cannot_be_recovered(loaded: Warehouse) -> None:
    wh = loaded
    publish_month(wh, YearMonth(2019, 2), datetime(2019, 3, 20, tzinfo=UTC))
    files = site(wh, min_count=40)  # a high threshold so the small simulated force has small cells
    hidden = 0
    for name, body in files.items():
        if not name.endswith(".json") or name.count("/") != 1 or "index" in name or "schema" in name:
            continue
        for section in json.loads(body)["sections"].values():
            counts = [c for c in section["columns"] if not c.endswith(("percent", "seconds"))]
            rows = section["rows"]
            for row in rows:
                for col in counts:
                    cell = row[col]
                    if cell["value"] is not None:
                        assert not 0 < cell["value"] < 40
                    elif cell["suppressed"]:
                        hidden += 1
            # no line of the table has exactly one hidden count next to a shown total
            lines = [[row[c] for c in counts if c != "total"] + [row["total"]] for row in rows]
            lines += [[row[c] for row in rows[:-1]] + [rows[-1][c]] for c in counts]
            for line in lines:
                if line[-1]["value"] is None and not line[-1]["suppressed"]:
                    continue  # no total published for this line
                assert sum(1 for c in line if c["suppressed"]) != 1
    assert hidden > 0
    csv_text = files["feed/2019-02.csv"].decode()
    assert csv_text.splitlines()[0] == "month,section,area,measure,value,shown,suppressed,note"
    assert "fewer than 40" in csv_text


def test_restatement_is_noted(loaded: Warehouse) -> None:
    wh = loaded
    publish_month(wh, YearMonth(2019, 2), datetime(2019, 3, 20, tzinfo=UTC))
    # a late 999 answer changes February's figure; the board republishes the month
    wh.command(
        "INSERT INTO board_published SELECT force_id, month, as_of, measure_id, column, value + 1, label, "
        "published_at + INTERVAL 1 DAY, pack_version + 1, config_hash FROM board_published "
        "WHERE measure_id = 'calls_999_answered_within_10s' AND column = 'current'"
    )
    doc = json.loads(site(wh)["feed/2019-02.json"])
    assert doc["sections"]["answer_times_999"]["note"].startswith(
        "Revised since first published on 20 March 2019"
    )
    assert doc["sections"]["emergency_attendance"]["note"] is None


def test_static_build_writes_every_file(loaded: Warehouse, tmp_path: Path) -> None:
    publish_month(loaded, YearMonth(2019, 2), datetime(2019, 3, 20, tzinfo=UTC))
    files = site(loaded)
    write_site(files, str(tmp_path / "site"))
    for name, body in files.items():
        assert (tmp_path / "site" / name).read_bytes() == body
    assert json.loads((tmp_path / "site" / "feed" / "schema.json").read_text())["csv_columns"]


@pytest.fixture
def public_server(loaded: Warehouse, tmp_path: Path) -> Iterator[Any]:
    publish_month(loaded, YearMonth(2019, 2), datetime(2019, 3, 20, tzinfo=UTC))
    server = serve(make_settings(tmp_path), loaded, lambda: datetime(2019, 3, 20, tzinfo=UTC))
    yield server
    server.stop()


def test_public_pages_need_no_token_and_the_rest_still_does(public_server: Any) -> None:
    with urllib.request.urlopen(f"{public_server.url}/public/", timeout=30) as reply:
        assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
        assert b"Whole force" in reply.read()
    with urllib.request.urlopen(f"{public_server.url}/public/feed/2019-02.csv", timeout=30) as reply:
        assert reply.headers["Content-Type"].startswith("text/csv")
    for path in ("/api/board", "/api/live", "/publicx"):
        try:
            urllib.request.urlopen(f"{public_server.url}{path}", timeout=30)
            raise AssertionError(f"{path} answered without a token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401


@pytest.mark.browser
def test_axe_finds_no_wcag_aa_violations(public_server: Any, tmp_path: Path) -> None:
    from tests.integration.test_browser_live import WebDriver, _browser_paths

    paths = _browser_paths()
    if paths is None or not AXE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("chromium, chromedriver and tests/browser/node_modules/axe-core are required in CI")
        pytest.skip("chromium, chromedriver or axe-core (npm ci in tests/browser) is missing")
    driver = WebDriver(paths[0], paths[1], tmp_path)
    try:
        driver.get(f"{public_server.url}/public/")
        driver.script(AXE.read_text() + "\nreturn true;")
        result = driver._session(
            "POST",
            "/execute/async",
            {
                "script": "const done = arguments[arguments.length - 1];"
                "axe.run(document, {runOnly: {type: 'tag', values: "
                "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"
                ".then(r => done({violations: r.violations.map(v => ({id: v.id, nodes: v.nodes.length})),"
                " passes: r.passes.length}));",
                "args": [],
            },
        )
        assert result["violations"] == [], (
            result,
            driver.script("return document.documentElement.outerHTML.slice(0, 600);"),
        )
        assert result["passes"] > 5
        tables = driver.script("return document.querySelectorAll('svg + table caption').length;")
        charts = driver.script("return document.querySelectorAll('svg').length;")
        assert charts >= 1 and tables == charts  # a table behind every chart
        # keyboard: the first Tab reaches the skip link, which becomes visible
        focused = driver.script(
            "document.body.focus(); return document.querySelector('a.skip').getAttribute('href');"
        )
        assert focused == "#main"
    finally:
        driver.quit()
