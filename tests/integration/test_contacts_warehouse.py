"""Contacts through the real pipeline into the warehouse: golden figures, rollups, live, board, SQL views.

The event set and the hand-computed figures are those of tests/unit/test_contacts_golden.py.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.queries.contacts import live_queues, monthly_cells, reconcile_day
from demandhub.settings import Settings
from schemas.definitions import CallDefinitions, Definitions
from schemas.events import entity_of
from schemas.topics import TOPICS
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.unit.test_contacts_golden import T0, ev, golden_raw

pytestmark = pytest.mark.integration

FORCE = "cambs"
MARCH = YearMonth(2024, 3)


def messages(raw: list[dict[str, Any]], offset: int = 0) -> list[RawMessage]:
    return [
        RawMessage(TOPICS[entity_of(e["type"])].name, 0, offset + i, json.dumps(e).encode())
        for i, e in enumerate(raw)
    ]


def pipeline(settings: Settings, wh: Warehouse) -> Pipeline:
    return Pipeline(
        settings,
        wh,
        folds=registry.folds(),
        pseudonymisation_key=b"k",
        refreshers=registry.refreshers(),
    )


def queue_month(wh: Warehouse, queue: str) -> dict[str, Any]:
    rows = wh.query(
        "SELECT * FROM calls_service_level_15m WHERE force_id = 'cambs' AND queue = {q:String}",
        parameters={"q": queue},
    ).dicts()
    assert rows
    # the buckets are those in which the contacts left the queue: pool their building blocks
    return {k: sum(r[k] for r in rows) for k in rows[0] if k.endswith(("_num", "_den"))}


def test_golden_figures_from_the_warehouse(wh: Warehouse, settings: Settings) -> None:
    report = pipeline(settings, wh).process(messages(golden_raw()))
    assert not report.dead_letters and not report.quarantined
    q999 = queue_month(wh, "999")
    # 999: A=4, A_T=2, B=3, B_T=2, S=1 (see the unit golden test for the arithmetic)
    assert (q999["answered_basis_num"], q999["answered_basis_den"]) == (2, 4)
    assert (q999["ignore_num"], q999["ignore_den"]) == (2, 5)
    assert (q999["count_as_met_num"], q999["count_as_met_den"]) == (4, 7)
    assert (q999["count_as_missed_num"], q999["count_as_missed_den"]) == (2, 7)
    assert (q999["offered_basis_num"], q999["offered_basis_den"]) == (2, 6)
    assert (q999["abandonment_num"], q999["abandonment_den"]) == (2, 6)
    p101 = queue_month(wh, "101-primary")
    assert (p101["answered_basis_num"], p101["answered_basis_den"]) == (3, 4)
    assert (p101["ignore_num"], p101["ignore_den"]) == (3, 5)
    assert (p101["count_as_met_num"], p101["count_as_met_den"]) == (4, 6)
    assert (p101["abandonment_num"], p101["abandonment_den"]) == (1, 6)
    chat = queue_month(wh, "webchat")
    assert (chat["offered_basis_num"], chat["offered_basis_den"]) == (1, 3)
    bands = wh.query(
        "SELECT answered_under_10s, answered_10_to_60s, answered_60s_or_more, mean_answer_seconds "
        "FROM calls_service_level_month WHERE queue = '999'"
    ).rows
    assert bands == [(2, 1, 1, 29.0)]  # <10: 7, 9; 10 to <60: 25; >=60: 75; mean 116 / 4
    stages = wh.query(
        "SELECT reached_ivr, abandoned_ivr, reached_primary, abandoned_primary, reached_in_transfer, "
        "abandoned_in_transfer, reached_secondary, abandoned_secondary FROM contact_channel_month "
        "WHERE channel = '101'"
    ).rows
    assert stages == [(2, 1, 7, 2, 3, 1, 2, 1)]
    assert reconcile_day(wh, FORCE, date(2024, 3, 5)) == []


def test_board_cells(wh: Warehouse, settings: Settings) -> None:
    pipeline(settings, wh).process(messages(golden_raw()))
    cells = monthly_cells(wh, FORCE, YearMonth(2024, 2), YearMonth(2024, 4), Definitions())
    got = {measure: months for measure, months in cells.items()}
    assert got["contacts_999"] == {MARCH: Cell(7)}
    assert got["contacts_101"] == {MARCH: Cell(8)}
    assert got["contacts_webchat"] == {MARCH: Cell(4)}
    assert got["contacts_online"] == {MARCH: Cell(2)}
    assert got["contacts_total"] == {MARCH: Cell(21)}  # 7 + 8 + 4 + 2
    assert got["calls_999_answered_within_10s"] == {MARCH: Cell(2, 4)}
    assert got["calls_101_answered_within_30s"] == {MARCH: Cell(3, 4)}
    assert got["calls_999_abandoned_rate"] == {MARCH: Cell(2, 6)}
    # 101 end to end: never answered C8, C11 (short), C15 -> (3 - 1) / (8 - 1)
    assert got["calls_101_abandoned_rate"] == {MARCH: Cell(2, 7)}
    assert got["webchat_abandoned_rate"] == {MARCH: Cell(1, 3)}
    offered = Definitions(calls=CallDefinitions(abandon_convention="offered_basis"))
    cells = monthly_cells(wh, FORCE, MARCH, MARCH, offered)
    assert cells["calls_999_answered_within_10s"] == {MARCH: Cell(2, 6)}
    # a threshold that is not a stored edge is computed from the facts: 999 within 8 s -> C1 (7)
    odd = Definitions(
        calls=CallDefinitions(service_threshold_seconds={"999": 8, "101-primary": 30, "webchat": 30})
    )
    assert monthly_cells(wh, FORCE, MARCH, MARCH, odd)["calls_999_answered_within_10s"] == {MARCH: Cell(1, 4)}
    # dropping short abandons from volumes: C4 (999), C11 (101), W3 (web chat)
    lean = Definitions(calls=CallDefinitions(dedupe_short_abandons_from_volumes=True))
    lean_cells = monthly_cells(wh, FORCE, MARCH, MARCH, lean)
    assert lean_cells["contacts_999"] == {MARCH: Cell(6)} and lean_cells["contacts_total"] == {
        MARCH: Cell(18)
    }
    board = wh.query(
        "SELECT contacts_total, calls_999_answered_within_10s, calls_101_abandoned_rate FROM contacts_board_month"
    ).rows
    assert board == [(21, 50.0, 100 * 2 / 7)]


def test_live_queues(wh: Warehouse, settings: Settings) -> None:
    pipeline(settings, wh).process(messages(golden_raw()))
    later = [
        ev("L1", "call.offered.v1", 500, 0, channel="999"),
        ev("L1", "call.queued.v1", 500, 1, queue="999"),
        ev("L2", "call.offered.v1", 590, 0, channel="999"),
        ev("L2", "call.queued.v1", 590, 1, queue="999"),
    ]
    pipeline(settings, wh).process(messages(later, 100))
    now = T0 + timedelta(seconds=600)
    by_queue = {q["queue"]: q for q in live_queues(wh, FORCE, now, Definitions())}
    q999 = by_queue["999"]
    # L1 waits 100 s (from its offer), L2 10 s: both at or past the 10 s threshold
    assert (q999["waiting"], q999["longest_wait_seconds"], q999["waiting_past_threshold"]) == (2, 100.0, 2)
    last15 = q999["periods"]["last_15m"]
    # windows count contacts by when they left the queue: L1 and L2 still wait, so 7 of the 9 queued
    assert (last15["offered"], last15["answered"], last15["abandoned"]) == (7, 4, 3)
    assert last15["service_level"] == {"convention": "answered_basis", "num": 2, "den": 4, "percent": 50.0}
    assert last15["abandonment_rate"]["num"] == 2 and last15["abandonment_rate"]["den"] == 6  # (3-1)/(7-1)
    # L1 answered at +1300 s after a 800 s wait: it counts in the last 15 minutes at +23 min, though
    # it was queued 18 minutes before; the golden contacts left before +8 min and drop out
    pipeline(settings, wh).process(messages([ev("L1", "call.answered.v1", 1300, 2, queue="999")], 200))
    later_now = T0 + timedelta(minutes=23)
    q999 = {q["queue"]: q for q in live_queues(wh, FORCE, later_now, Definitions())}["999"]
    assert q999["periods"]["last_15m"]["offered"] == 1
    assert q999["periods"]["last_15m"]["service_level"]["den"] == 1
    assert q999["periods"]["today"]["offered"] == 8
    assert by_queue["101-secondary"]["periods"]["today"]["offered"] == 2


def test_rollup_follows_a_fact_that_moves_bucket(wh: Warehouse, settings: Settings) -> None:
    """A leg first seen through its answer (bucket of +20 min) moves to its queue entry's bucket
    (+5 min) when the queued event arrives late; the old bucket disappears."""
    pipe = pipeline(settings, wh)
    pipe.process(
        messages(
            [
                ev("M", "call.offered.v1", 300, 0, channel="101"),
                ev("M", "call.answered.v1", 1200, 2, queue="101-primary"),
            ]
        )
    )
    buckets = wh.query(
        "SELECT bucket, answered FROM contact_queue_15m FINAL WHERE queue = '101-primary'"
    ).rows
    assert buckets == [(datetime(2024, 3, 5, 10, 15), 1)]
    pipe.cache.clear()
    pipe.process(
        messages(
            [ev("M", "call.queued.v1", 300, 1, queue="101-primary")],
            10,
        )
    )
    buckets = wh.query(
        "SELECT bucket, answered, entered FROM contact_queue_15m FINAL WHERE queue = '101-primary'"
    ).rows
    assert buckets == [(datetime(2024, 3, 5, 10, 0), 1, 1)]
    assert reconcile_day(wh, FORCE, date(2024, 3, 5)) == []


def test_reconcile_reports_a_difference(wh: Warehouse, settings: Settings) -> None:
    pipeline(settings, wh).process(messages(golden_raw()))
    wh.command(
        "INSERT INTO contact_queue_15m (force_id, definition_hash, bucket, channel, queue, district, "
        "answered, version) VALUES ('cambs', {dh:String}, '2024-03-05 10:00:00', '999', '999', "
        "'Cambridge City', 99, 18446744073709551615)",
        parameters={"dh": Definitions().group_hash("calls")},
    )
    diffs = reconcile_day(wh, FORCE, date(2024, 3, 5))
    assert {(d["table"], d["column"]) for d in diffs if d["column"] == "answered"} == {
        ("contact_queue_15m", "answered")
    }
    answered = next(d for d in diffs if d["column"] == "answered")
    # 999 answered in district Cambridge City: C1, C2, C3 (C7 was offered without a district)
    assert (answered["rollup"], answered["facts"]) == (99, 3)


def test_live_sql_views_answer(wh: Warehouse, settings: Settings) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    raw = [
        {
            **ev("N1", "call.offered.v1", 0, 0, channel="101"),
            "time": (now - timedelta(seconds=50)).isoformat(),
        },
        {
            **ev("N1", "call.queued.v1", 0, 1, queue="101-primary"),
            "time": (now - timedelta(seconds=40)).isoformat(),
        },
    ]
    pipeline(settings, wh).process(messages(raw))
    rows = wh.query(
        "SELECT queue, waiting, waiting_past_threshold FROM live_queue_now WHERE force_id = 'cambs'"
    ).rows
    assert rows == [("101-primary", 1, 1)]
    periods = wh.query(
        "SELECT period, offered FROM live_queue_periods WHERE queue = '101-primary' ORDER BY period"
    ).rows
    assert periods == []  # N1 has not left the queue: in no window yet
    answered = {
        **ev("N1", "call.answered.v1", 0, 2, queue="101-primary"),
        "time": (now - timedelta(seconds=5)).isoformat(),
    }
    pipeline(settings, wh).process(messages([answered], 50))
    periods = wh.query(
        "SELECT period, offered, longest_wait_seconds FROM live_queue_periods "
        "WHERE queue = '101-primary' ORDER BY period"
    ).rows
    assert [p[:2] for p in periods] == [("last_15m", 1), ("last_60m", 1), ("today", 1)] or (
        [p[:2] for p in periods] == [("last_15m", 1), ("last_60m", 1)]  # just after local midnight
    )


def _extra_101() -> list[dict[str, Any]]:
    """X1: answered in the primary queue, transferred, then a 2 s (short) abandon in the secondary
    queue; X2: a 1 s IVR hang-up."""
    from tests.unit.test_contacts_golden import _call

    p, s = "101-primary", "101-secondary"
    return _call(
        "X1",
        "101",
        [
            ("queued", 0, _q(p)),
            ("answered", 10, _q(p)),
            ("transferred", 30, {"from_queue": p, "to_queue": s}),
            ("queued", 31, _q(s)),
            ("abandoned", 33, {"stage": "secondary_queue"}),
        ],
    ) + _call("X2", "101", [("ivr_entered", 0.5, {}), ("abandoned", 1.5, {"stage": "ivr"})])


def _q(queue: str) -> dict[str, Any]:
    return {"queue": queue}


def test_dedupe_drops_only_contacts_never_answered(wh: Warehouse, settings: Settings) -> None:
    x1 = [e for e in _extra_101() if e["subject"] == "X1"]
    pipeline(settings, wh).process(messages(golden_raw() + x1))
    lean = Definitions(calls=CallDefinitions(dedupe_short_abandons_from_volumes=True))
    cells = monthly_cells(wh, FORCE, MARCH, MARCH, lean)
    # 9 calls offered on 101; only C11 (never answered, short abandon) leaves; X1 was answered
    # before its short secondary abandon and stays.
    assert cells["contacts_101"] == {MARCH: Cell(8)}


def test_101_end_to_end_abandonment_leaves_out_short_ivr_hang_ups(wh: Warehouse, settings: Settings) -> None:
    pipeline(settings, wh).process(messages(golden_raw() + _extra_101()))
    cells = monthly_cells(wh, FORCE, MARCH, MARCH, Definitions())
    # never answered: C8 (IVR, 19 s), C11 (short), C15, X2 (IVR, 1 s: short) -> (4 - 2) / (10 - 2)
    assert cells["calls_101_abandoned_rate"] == {MARCH: Cell(2, 8)}
    # The option (ivr_short_abandon_seconds = None: every IVR hang-up counts) is applied when the
    # contact is folded: tests/unit/test_contacts_golden.py::test_ivr_short_abandon_option.


def test_a_channel_before_its_first_event_is_no_data(wh: Warehouse, settings: Settings) -> None:
    from tests.unit.test_contacts_golden import ev

    # February has a 999 call only; web chat starts in March (the golden set).
    feb = [
        {**e, "id": f"feb-{e['id']}", "subject": "F1", "time": e["time"].replace("2024-03-05", "2024-02-05")}
        for e in (
            ev("F1", "call.offered.v1", 0, 0, channel="999"),
            ev("F1", "call.queued.v1", 1, 1, queue="999"),
            ev("F1", "call.answered.v1", 5, 2, queue="999"),
        )
    ]
    pipeline(settings, wh).process(messages(golden_raw() + feb))
    cells = monthly_cells(wh, FORCE, YearMonth(2024, 2), MARCH, Definitions())
    feb_month = YearMonth(2024, 2)
    assert cells["contacts_999"][feb_month] == Cell(1)
    assert feb_month not in cells["contacts_webchat"]  # web chat did not exist yet: no data
    assert cells["contacts_webchat"][MARCH] == Cell(4)
    assert cells["contacts_total"][feb_month] == Cell(1)
    # Read from March alone, the months before are left out, and 999 is counted as existing
    march_only = monthly_cells(wh, FORCE, MARCH, MARCH, Definitions())
    assert set(march_only["contacts_999"]) == set(march_only["contacts_total"]) == {MARCH}
    assert march_only["contacts_webchat"][MARCH] == Cell(4)
    assert {k: v for k, v in march_only.items() if v} == {
        k: {MARCH: v[MARCH]} for k, v in cells.items() if MARCH in v
    }


def test_board_month_view_follows_the_definitions_thresholds(wh: Warehouse, settings: Settings) -> None:
    # Folded with a 999 threshold of 30 s (not a hard-coded 10 s edge): C1 7, C7 9, C2 25 of the
    # four answered (C3 75) -> 75 %.
    calls = CallDefinitions(
        service_threshold_seconds={"999": 30, "101-primary": 30, "101-secondary": 30, "webchat": 30}
    )
    defs = settings.definitions.model_copy(update={"calls": calls})
    pipeline(settings.model_copy(update={"definitions": defs}), wh).process(messages(golden_raw()))
    board = wh.query(
        "SELECT calls_999_within_10s_num, calls_999_answered_within_10s FROM contacts_board_month"
    ).rows
    assert board == [(3, 75.0)]


def test_101_primary_and_secondary_abandonment_rows(wh: Warehouse, settings: Settings) -> None:
    pipeline(settings, wh).process(messages(golden_raw()))
    cells = monthly_cells(wh, FORCE, MARCH, MARCH, Definitions())
    # primary: queued C9..C15 = 7, abandoned C11 (2 s, short) and C15 -> (2 - 1) / (7 - 1)
    assert cells["calls_101_primary_abandoned_rate"] == {MARCH: Cell(1, 6)}
    # secondary: queued C9 and C14, C14 abandoned after 370 s -> 1 / 2
    assert cells["calls_101_secondary_abandoned_rate"] == {MARCH: Cell(1, 2)}


def test_the_15_minute_service_level_places_a_contact_where_it_left_the_queue(
    wh: Warehouse, settings: Settings
) -> None:
    # Queued 10:10, answered 10:20 (a 10-minute wait): it counts in 10:15, not in its entry bucket,
    # so a bucket can hold a wait longer than itself.
    events = [
        ev("W", "call.offered.v1", 600, 0, channel="101"),
        ev("W", "call.queued.v1", 600, 1, queue="101-primary"),
        ev("W", "call.answered.v1", 1200, 2, queue="101-primary"),
    ]
    pipeline(settings, wh).process(messages(events, 0))
    rows = wh.query(
        "SELECT bucket, answered, answered_in_threshold FROM calls_service_level_15m "
        "WHERE force_id = 'cambs' AND queue = '101-primary'"
    ).rows
    assert rows == [(datetime(2024, 3, 5, 10, 15), 1, 0)]
