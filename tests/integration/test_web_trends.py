"""The Trends section through the web API: offered per 15 minutes against the band from past weeks,
today's ratio to normal, the next hours' forecast and the handlers needed (Erlang-C and Erlang-A)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from streams.domain.forecast import weeks_ago
from streams.domain.staffing import requirement
from tests.integration.test_web_api import (
    NOW,
    SUPERVISOR,
    Feed,
    LiveServer,
    abandoned_call,
    answered_call,
    call,
    event,
    make_settings,
    serve,
)

pytestmark = pytest.mark.integration
LONDON = ZoneInfo("Europe/London")
HANDLE = 200  # seconds from answer to the end of every call


def ended_call(subject: str, queue: str, at: datetime, wait: float) -> list[dict[str, Any]]:
    answered = at + timedelta(seconds=wait)
    return [
        *answered_call(subject, queue, at, wait),
        event("call.ended.v1", subject, answered + timedelta(seconds=HANDLE), disposition="advice_given"),
    ]


def history_scene() -> list[dict[str, Any]]:
    """Three past Wednesdays with two 999 calls per 15 minutes from 08:00 to 13:00 local, and today
    (Wednesday 12 June 2024) three per 15 minutes from 08:00 to now (12:00 local): 50 % above."""
    raw: list[dict[str, Any]] = []
    today_8 = datetime(2024, 6, 12, 8, 0, tzinfo=LONDON)
    for k in (1, 2, 3):
        for i in range(20):
            slot = weeks_ago(today_8 + timedelta(minutes=15 * i), k, "Europe/London")
            raw += ended_call(f"H{k}-{i}-a", "999", slot + timedelta(minutes=1), 4)
            raw += ended_call(f"H{k}-{i}-b", "999", slot + timedelta(minutes=7), 12)
        raw += abandoned_call(
            f"X{k}", "999", weeks_ago(today_8, k, "Europe/London") - timedelta(minutes=50), 60
        )
    for i in range(16):
        slot = today_8 + timedelta(minutes=15 * i)
        for j, wait in enumerate((3, 6, 15)):
            raw += ended_call(f"T{i}-{j}", "999", slot + timedelta(minutes=2 + 4 * j), wait)
    for i in range(4):  # 101 primary: calls in the last hour only, no past weeks
        raw += ended_call(f"P{i}", "101-primary", datetime(2024, 6, 12, 11, 10 + 10 * i, tzinfo=LONDON), 20)
    return raw


@pytest.fixture
def trend_server(tmp_path: Any, wh: Warehouse) -> Iterator[LiveServer]:
    settings: Settings = make_settings(tmp_path, staffing_measure_days=28)
    Feed(settings, wh, lambda: NOW).send(history_scene())
    live = serve(settings, wh, lambda: NOW)
    yield live
    live.stop()


def get(server: LiveServer, path: str) -> Any:
    reply = call(server, "GET", path, token=SUPERVISOR)
    assert reply.status == 200, reply.body[:300]
    return json.loads(reply.body)


def test_trends_band_ratio_forecast_and_staffing(trend_server: LiveServer) -> None:
    doc = get(trend_server, "/api/live/trends")
    assert (doc["history_weeks"], doc["horizon_hours"]) == (4, 4)
    tile = next(q for q in doc["queues"] if q["queue"] == "999")
    assert tile["history_weeks_used"] == 3  # the warehouse starts three weeks back: not four
    slots = {s["start"]: s for s in tile["today"]}
    assert len(tile["today"]) == 49  # local midnight (23:00 UTC) to the current slot (11:00 UTC)
    eight = slots["2024-06-12T07:00:00+00:00"]  # 08:00 local
    assert (eight["offered"], eight["expected"]) == (3, 2.0)
    assert eight["low"] < 2.0 < eight["high"]
    assert eight["service_level"] == pytest.approx(2 / 3, abs=1e-3)  # 3 s and 6 s within 10 s, 15 s not
    assert slots["2024-06-12T05:00:00+00:00"]["expected"] == 0.0
    assert slots["2024-06-12T06:00:00+00:00"]["expected"] == 1.0  # the abandons at 07:10 local
    assert tile["offered_today"] == 48
    assert tile["ratio_to_normal"] == pytest.approx(48 / 33, abs=1e-3)  # 48 offered, 33 expected
    assert tile["level"] == pytest.approx((36 + 20) / (24 + 20), abs=1e-3)

    ahead = tile["forecast"]
    assert len(ahead) == 16 and ahead[0]["start"] == "2024-06-12T11:15:00+00:00"
    assert ahead[0]["expected"] == pytest.approx(2.0 * tile["level"], abs=0.01)
    assert ahead[3]["expected"] == 0.0  # 13:00 local had no calls on past Wednesdays

    staffing = tile["staffing"]
    assert staffing["handle_seconds"] == pytest.approx(HANDLE, abs=1)
    assert staffing["measured_abandoned"] == 3  # one abandon on each past Wednesday
    assert staffing["patience_seconds"] is not None and staffing["model"] == "erlang_a"
    first = staffing["hours"][0]
    assert first["offered_expected"] == pytest.approx(3 * 2.0 * tile["level"], abs=0.1)
    expected = requirement(
        first["offered_expected"] / 3600, staffing["handle_seconds"], staffing["patience_seconds"], 10, 0.9
    )
    assert (first["required_erlang_c"], first["required_erlang_a"]) == (expected.erlang_c, expected.erlang_a)
    assert first["required_erlang_c"] >= 1 and first["service_level_at_required"] >= 0.9
    assert staffing["service_level_target"] == 0.9 and staffing["threshold_seconds"] == 10

    assert staffing["demand_basis"] == "forecast"
    fresh = next(q for q in doc["queues"] if q["queue"] == "101-primary")["staffing"]
    assert fresh["demand_basis"] == "last_60_minutes"  # no history: the last hour's arrival rate
    assert [h["offered_expected"] for h in fresh["hours"]] == [4.0] * 4
    assert fresh["hours"][0]["required_erlang_c"] >= 1

    chat = next(q for q in doc["queues"] if q["queue"] == "webchat")
    assert chat["history_weeks_used"] == 0 and chat["ratio_to_normal"] is None and chat["forecast"] == []

    only = get(trend_server, "/api/live/staffing")
    by_queue = {q["queue"]: q for q in only["queues"]}
    assert by_queue["999"]["hours"] == staffing["hours"]
    assert by_queue["webchat"]["contacts_per_handler"] == 2


def test_trends_need_a_session(trend_server: LiveServer) -> None:
    for path in ("/api/live/trends", "/api/live/staffing"):
        assert call(trend_server, "GET", path).status == 401
