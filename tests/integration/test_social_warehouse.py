"""Social media threads end to end: events -> Pipeline -> social_threads -> readers, the wallboard's
desk, lineage and the analysts' view, with the definitions applied when the figures are read.

The golden threads (tests/unit/test_social_fold.py) plus three made here (times UTC):
  S1 2024-03-05 10:00 facebook, first response +31 min, closed by a handler with an incident;
  S2 10:05 x, closed by the public at 12:40 with no response (abandoned after 155 min);
  S3 10:07 instagram, still open;
  S4 2024-03-06 09:00, first response +45 min, closed by a handler: advice;
  S5 2024-03-06 09:10, closed by the public after 1 min (a short abandon under the default 2 min);
  S6 2024-03-31 23:30 UTC = 1 April 00:30 London time, first response +90 min, closed: crime reported.
March (London): 5 threads; responded S1, S4 (31, 45 min): both within 60 min, mean 38; resolved by
a handler S1 (incident), S4 -> 1 of 2 without an incident; abandoned S2 (S5 short) -> 1, 1 / (5 - 1).
April: S6 alone: 0 of 1 within target, 90 min, resolved without an incident, nothing abandoned.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse.lineage import contributions, month_cell
from demandhub.queries.social import live_social, monthly_cells
from demandhub.settings import Settings
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.unit.test_social_fold import golden

pytestmark = pytest.mark.integration

FORCE = "cambs"
TOPIC = "demandhub.contacts.social.v1"
MAR, APR = YearMonth(2024, 3), YearMonth(2024, 4)


def ev(eid: str, verb: str, time: str, subject: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": eid,
        "source": "social",
        "type": f"social.{verb}.v1",
        "time": time,
        "force_id": FORCE,
        "subject": subject,
        "data": data or {},
    }


MORE = [
    ev("S4-1", "received", "2024-03-06T09:00:00+00:00", "S4", {"platform": "facebook"}),
    ev("S4-2", "responded", "2024-03-06T09:45:00+00:00", "S4"),
    ev("S4-3", "closed", "2024-03-06T10:30:00+00:00", "S4", {"disposition": "advice"}),
    ev("S5-1", "received", "2024-03-06T09:10:00+00:00", "S5", {"platform": "x", "account_handle": "@jo_s"}),
    ev(
        "S5-2",
        "closed",
        "2024-03-06T09:11:00+00:00",
        "S5",
        {"closed_by": "public", "disposition": "no_action"},
    ),
    ev("S6-1", "received", "2024-03-31T23:30:00+00:00", "S6", {"platform": "nextdoor"}),
    ev("S6-2", "responded", "2024-04-01T01:00:00+00:00", "S6", {"response_text": "Please call 101"}),
    ev(
        "S6-3",
        "closed",
        "2024-04-01T02:00:00+00:00",
        "S6",
        {"disposition": "crime_reported", "crime_id": "CR9", "notes": "victim named"},
    ),
]


@pytest.fixture
def loaded(wh: Warehouse, settings: Settings) -> Warehouse:
    pipeline = Pipeline(settings, wh, registry.folds(), b"k", registry.refreshers())
    raw = golden() + MORE
    messages = [RawMessage(TOPIC, 0, i, json.dumps(e).encode()) for i, e in enumerate(raw)]
    report = pipeline.process(messages)
    assert not report.dead_letters and not report.quarantined
    return wh


def figures(wh: Warehouse, defs: Definitions) -> dict[str, dict[YearMonth, Cell]]:
    return monthly_cells(wh, FORCE, MAR, APR, defs)


def test_the_monthly_cells_under_the_default_definitions(loaded: Warehouse) -> None:
    cells = figures(loaded, Definitions())
    assert cells["social_threads"] == {MAR: Cell(5), APR: Cell(1)}
    assert cells["social_first_response_within_target"] == {MAR: Cell(2, 2), APR: Cell(0, 1)}
    mar_mins = cells["social_first_response_mins"][MAR]
    assert (mar_mins.num, mar_mins.den) == (pytest.approx(76.0), 2)
    assert mar_mins.sumsq == pytest.approx(31.0**2 + 45.0**2)
    assert cells["social_first_response_mins"][APR].num == pytest.approx(90.0)
    assert cells["social_resolved_without_incident"] == {MAR: Cell(1, 2), APR: Cell(1, 1)}
    assert cells["social_abandoned"] == {MAR: Cell(1), APR: Cell(0)}
    assert cells["social_abandoned_rate"] == {MAR: Cell(1, 4), APR: Cell(0, 1)}


@pytest.mark.parametrize(
    ("override", "measure", "march"),
    [
        ("social.first_response_target_minutes=30", "social_first_response_within_target", Cell(0, 2)),
        ("social.target_basis=received", "social_first_response_within_target", Cell(2, 4)),
        ("social.short_abandon_minutes=0", "social_abandoned", Cell(2)),
        ("social.short_abandon_minutes=0", "social_abandoned_rate", Cell(2, 5)),
        ("timezone=UTC", "social_threads", Cell(6)),
    ],
)
def test_each_definition_is_applied_when_read(
    loaded: Warehouse, override: str, measure: str, march: Cell
) -> None:
    assert figures(loaded, Definitions().with_overrides([override]))[measure][MAR] == march


def test_lineage_adds_up_to_every_cell(loaded: Warehouse) -> None:
    for defs in (Definitions(), Definitions().with_overrides(["social.target_basis=received"])):
        cells = figures(loaded, defs)
        lineage = contributions(loaded, "social", FORCE, MAR, APR, defs)
        units = {
            "social_threads": "count",
            "social_abandoned": "count",
            "social_first_response_mins": "minutes",
        }
        for measure, months in cells.items():
            for month, cell in months.items():
                got = month_cell(lineage[measure][month], units.get(measure, "percent"))
                assert (got.num, got.den) == (pytest.approx(cell.num), cell.den), (measure, month)
        s5 = next(c for c in lineage["social_abandoned_rate"][MAR] if c.subject == "S5")
        assert not s5.counted and "short abandon" in s5.reason


def test_the_wallboard_desk_after_the_first_afternoon(loaded: Warehouse) -> None:
    now = datetime(2024, 3, 5, 13, 0, tzinfo=UTC)
    desk = live_social(loaded, FORCE, now, Definitions())
    assert desk["waiting"] == 1 and desk["oldest_age_seconds"] == 173 * 60.0  # S3 since 10:07
    assert desk["over_target"] == 1
    assert (desk["received_today"], desk["responded_today"], desk["within_target_today"]) == (3, 1, 1)
    assert desk["abandoned_today"] == 1
    assert desk["platforms"] == [{"platform": "instagram", "waiting": 1, "oldest_age_seconds": 173 * 60.0}]
    longer = live_social(
        loaded, FORCE, now, Definitions().with_overrides(["social.first_response_target_minutes=240"])
    )
    assert longer["over_target"] == 0


def test_no_message_text_or_handle_is_kept(loaded: Warehouse) -> None:
    text = loaded.query("SELECT toString(tuple(*)) FROM social_threads FINAL").rows
    ledger = loaded.query("SELECT toString(tuple(*)) FROM events WHERE source = 'social'").rows
    kept = " ".join(str(r[0]) for r in [*text, *ledger])
    for secret in ("@jo_s", "Please call 101", "victim named"):
        assert secret not in kept


def test_the_analysts_view_applies_the_active_definitions(loaded: Warehouse) -> None:
    sql = (
        "SELECT sum(threads_received), sum(responded_within_target), sum(target_denominator), "
        "sum(threads_abandoned) FROM social_threads_monthly WHERE force_id = 'cambs' AND month = '2024-03-01'"
    )
    assert loaded.query(sql).rows[0] == (5, 2, 2, 1)
    active = Definitions().with_overrides(
        ["social.first_response_target_minutes=30", "social.short_abandon_minutes=0"]
    )
    loaded.command(
        "INSERT INTO applied_definitions SELECT 'active', {h:String}, {d:String}, "
        "(SELECT max(version) + 1 FROM applied_definitions)",
        parameters={"h": active.config_hash(), "d": json.dumps(active.as_dict())},
    )
    assert loaded.query(sql).rows[0] == (5, 0, 2, 2)


def test_the_analysts_view_months_in_the_active_time_zone(loaded: Warehouse) -> None:
    sql = (
        "SELECT toString(month), sum(threads_received) FROM social_threads_monthly "
        "WHERE force_id = 'cambs' GROUP BY month ORDER BY month"
    )
    assert loaded.query(sql).rows == [("2024-03-01", 5), ("2024-04-01", 1)]  # London: S6 in April
    active = Definitions().with_overrides(["timezone=UTC"])
    loaded.command(
        "INSERT INTO applied_definitions SELECT 'active', {h:String}, {d:String}, "
        "(SELECT max(version) + 1 FROM applied_definitions)",
        parameters={"h": active.config_hash(), "d": json.dumps(active.as_dict())},
    )
    assert loaded.query(sql).rows == [("2024-03-01", 6)]  # S6 at 23:30 UTC on 31 March


def test_the_live_gauges_show_the_desk(loaded: Warehouse) -> None:
    from demandhub.gauges import refresh_social_gauges
    from sinks.prometheus.metrics import (
        SOCIAL_OLDEST_UNANSWERED_SECONDS,
        SOCIAL_THREADS_OVER_TARGET,
        SOCIAL_THREADS_WAITING,
    )

    refresh_social_gauges(loaded, FORCE, datetime(2024, 3, 5, 13, 0, tzinfo=UTC), Definitions())
    assert SOCIAL_THREADS_WAITING._value.get() == 1  # type: ignore[attr-defined]  # S3 since 10:07
    assert SOCIAL_OLDEST_UNANSWERED_SECONDS._value.get() == 173 * 60.0  # type: ignore[attr-defined]
    assert SOCIAL_THREADS_OVER_TARGET._value.get() == 1  # type: ignore[attr-defined]
    longer = Definitions().with_overrides(["social.first_response_target_minutes=240"])
    refresh_social_gauges(loaded, FORCE, datetime(2024, 3, 5, 13, 0, tzinfo=UTC), longer)
    assert SOCIAL_THREADS_OVER_TARGET._value.get() == 0  # type: ignore[attr-defined]
