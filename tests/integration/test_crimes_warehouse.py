"""The crime domain end to end: events -> Pipeline -> warehouse facts -> views and readers.

The hand-made set is the one of tests/unit/test_crimes_fold.py (read its comments first). Every
expected figure below is worked out by hand in the comments.
"""

from __future__ import annotations

import json
import random
import statistics
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.gauges import refresh_crime_gauges
from demandhub.queries.crimes import (
    district_group_series,
    growth_drivers,
    live_qa_queue,
    monthly_cells,
    qa_queue_daily,
    qa_queue_depth_at,
    qa_queue_month_ends,
    qa_queue_monthly,
)
from demandhub.settings import Settings
from schemas.definitions import CrimeDefinitions, Definitions
from sinks.clickhouse.client import Warehouse
from sinks.prometheus.metrics import QA_QUEUE_DEPTH, QA_QUEUE_OLDEST_SECONDS
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.unit.test_crimes_fold import envelope, golden_raw, t

pytestmark = pytest.mark.integration

FORCE = "cambs"
TOPIC = "demandhub.crimes.crime.v1"
JAN, FEB, MAR, APR = (YearMonth(2024, m) for m in (1, 2, 3, 4))
DEFS = Definitions()
LATE = {"C3-cancelled-0", "C2-reclassified-0"}


def messages(raw: list[dict[str, Any]], start: int = 0) -> list[RawMessage]:
    return [RawMessage(TOPIC, 0, start + i, json.dumps(e).encode()) for i, e in enumerate(raw)]


def pipeline(settings: Settings, wh: Warehouse) -> Pipeline:
    return Pipeline(
        settings, wh, folds=registry.folds(), pseudonymisation_key=b"k", refreshers=registry.refreshers()
    )


def load(settings: Settings, wh: Warehouse, raw: list[dict[str, Any]] | None = None) -> Pipeline:
    p = pipeline(settings, wh)
    report = p.process(messages(golden_raw() if raw is None else raw))
    assert not report.dead_letters
    return p


def cells(wh: Warehouse, defs: Definitions = DEFS) -> dict[str, dict[YearMonth, Cell]]:
    return monthly_cells(wh, FORCE, JAN, APR, defs)


def test_golden_monthly_cells(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh)
    c = cells(wh)
    # January counted: C1 (8N VWI, DA), C2 (reclassified to 49 theft), C4 (105A VWOI, rural); C3 cancelled.
    # February: C5 (92A drugs), C6 (999Z unclassified); C8 transferred. April: C7 (28E, 00:30 BST 1 Apr).
    # March has no crimes: absent, never a zero cell.
    assert c["crime_all"] == {JAN: Cell(3), FEB: Cell(2), APR: Cell(1)}
    assert c["crime_violence_with_injury"] == {JAN: Cell(1), FEB: Cell(0), APR: Cell(0)}
    assert c["crime_violence_without_injury"] == {JAN: Cell(1), FEB: Cell(0), APR: Cell(0)}
    assert c["crime_burglary_dwelling"] == {JAN: Cell(0), FEB: Cell(0), APR: Cell(1)}  # C2 moved away
    assert c["crime_domestic_abuse"] == {JAN: Cell(1), FEB: Cell(0), APR: Cell(0)}
    assert c["crime_serious_sexual"] == {JAN: Cell(0), FEB: Cell(0), APR: Cell(0)}  # C3 cancelled
    assert c["crime_cyber"] == {JAN: Cell(0), FEB: Cell(0), APR: Cell(0)}
    assert c["crime_hate"] == {JAN: Cell(0), FEB: Cell(0), APR: Cell(0)}
    assert c["crime_rural"] == {JAN: Cell(1), FEB: Cell(0), APR: Cell(0)}
    assert c["crime_drugs"] == {JAN: Cell(0), FEB: Cell(1), APR: Cell(0)}
    # Prosecution possible (1-8) by the month the current outcome was set / crimes recorded that month:
    # Jan: C4 type 3 (25 Jan) = 1 / 3.  Feb: C1 type 1, C5 type 8, C6 type 2 = 3 / 2 (150 %: the
    # period rate is not a proportion). C2's type 18 is not PP. Apr: 0 / 1.
    assert c["outcome_rate_all"] == {JAN: Cell(1, 3), FEB: Cell(3, 2), APR: Cell(0, 1)}
    assert c["outcome_rate_domestic_abuse"] == {JAN: Cell(0, 1), FEB: Cell(1, 0), APR: Cell(0, 0)}
    assert c["outcome_rate_burglary_dwelling"] == {JAN: Cell(0, 0), FEB: Cell(0, 0), APR: Cell(0, 1)}
    assert c["outcome_rate_serious_sexual"] == {JAN: Cell(0, 0), FEB: Cell(0, 0), APR: Cell(0, 0)}
    # Disposals by outcome month: C4 adult conditional (Jan), C6 youth conditional (Feb), C5 CR (Feb).
    assert c["conditional_cautions_adult"] == {JAN: Cell(1), FEB: Cell(0), APR: Cell(0)}
    assert c["conditional_cautions_youth"] == {JAN: Cell(0), FEB: Cell(1), APR: Cell(0)}
    assert c["community_resolutions"] == {JAN: Cell(0), FEB: Cell(1), APR: Cell(0)}
    # NCRS by recording month: Jan C1 12 h yes, C2 48 h no, C4 unknown -> 1 / 2; Feb C5 1 h, C6 23 h
    # -> 2 / 2; Apr C7 1.5 h -> 1 / 1.
    assert c["crime_recorded_within_24h_rate"] == {JAN: Cell(1, 2), FEB: Cell(2, 2), APR: Cell(1, 1)}
    # QA/Linking at each month's last 23:59 snapshot: 31 Jan C2 and C3 (C3 left at 23:59:30) = 2;
    # 29 Feb C2 again since 15 Feb (C5 left 23:00) = 1; 31 Mar and 30 Apr still C2 = 1. A level:
    # one observation a month, (num, den, sumsq) = (depth, 1, depth^2).
    assert c["qa_linking_queue_month_end"] == {
        JAN: Cell(2, 1, 4),
        FEB: Cell(1, 1, 1),
        MAR: Cell(1, 1, 1),
        APR: Cell(1, 1, 1),
    }


def test_cohort_outcome_rate(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh)
    defs = Definitions(crimes=CrimeDefinitions(outcome_rate_basis="cohort"))
    c = cells(wh, defs)
    # January's 3 crimes with a PP outcome by now: C1 (1) and C4 (3) = 2 / 3; Feb C5, C6 = 2 / 2.
    assert c["outcome_rate_all"] == {JAN: Cell(2, 3), FEB: Cell(2, 2), APR: Cell(0, 1)}


def test_reclassification_and_cancellation_restate_the_month(settings: Settings, wh: Warehouse) -> None:
    early = [e for e in golden_raw() if e["id"] not in LATE]
    late = [e for e in golden_raw() if e["id"] in LATE]
    p = load(settings, wh, early)
    before = cells(wh)
    # Without the late events: January has C1, C2 (still 28E burglary), C3 (19C, hate, cyber), C4.
    assert before["crime_all"][JAN] == Cell(4)
    assert before["crime_burglary_dwelling"][JAN] == Cell(1)
    assert before["crime_serious_sexual"][JAN] == Cell(1)
    assert (before["crime_hate"][JAN], before["crime_cyber"][JAN]) == (Cell(1), Cell(1))
    assert before["outcome_rate_all"][JAN] == Cell(1, 4)
    assert before["crime_recorded_within_24h_rate"][JAN] == Cell(2, 3)  # C3 recorded in 1 h
    p.cache.clear()  # the late events reload the history from the ledger
    p.process(messages(late, start=100))
    after = cells(wh)
    assert after["crime_all"][JAN] == Cell(3)
    assert after["crime_burglary_dwelling"][JAN] == Cell(0)
    assert after["crime_serious_sexual"][JAN] == Cell(0)
    assert (after["crime_hate"][JAN], after["crime_cyber"][JAN]) == (Cell(0), Cell(0))
    assert after["crime_recorded_within_24h_rate"][JAN] == Cell(1, 2)
    series = district_group_series(wh, FORCE, JAN, APR, DEFS)
    assert series["Cambridge City"]["theft"] == {JAN: 1}  # C2 now counts as theft, still in January
    assert "burglary_dwelling" not in series["Cambridge City"]


def test_district_group_series_and_growth_drivers(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh)
    series = district_group_series(wh, FORCE, JAN, APR, DEFS)
    assert series == {
        "Peterborough": {"violence_with_injury": {JAN: 1}, "drugs": {FEB: 1}, "burglary_dwelling": {APR: 1}},
        "Cambridge City": {"theft": {JAN: 1}, "violence_without_injury": {JAN: 1}, "unclassified": {FEB: 1}},
    }
    # Year ending Apr 2025 vs year ending Apr 2024 (all of the set): Peterborough 3 -> 4 crimes = +33.3 %.
    grown = dict(series)
    grown["Peterborough"] = {**series["Peterborough"], "drugs": {FEB: 1, YearMonth(2025, 2): 2}}
    grown["Peterborough"]["burglary_dwelling"] = {APR: 1, YearMonth(2025, 3): 2}
    found = growth_drivers(grown, YearMonth(2025, 4), threshold_pct=10)
    # Peterborough: before 3, now 4 (drugs 2, burglary 2) -> +33.3 %; drivers by increase: burglary +2 - 1 = +1,
    # drugs +2 - 1 = +1 (tie: by name); violence with injury -1 is not a driver. Cambridge City: 3 -> 0.
    assert [(f["district"], round(f["growth_pct"], 1), f["drivers"]) for f in found] == [
        ("Peterborough", 33.3, ["burglary_dwelling", "drugs"])
    ]


def test_qa_queue_daily_series_and_month(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh)
    days = {d["day"]: d for d in qa_queue_daily(wh, FORCE, t("2024-02-29 23:59"), DEFS)}
    assert min(days) == date(2024, 1, 5) and max(days) == date(2024, 2, 29)
    # 5 Jan 23:59: C1 since 21:00 -> depth 1, oldest 2 h 59 min = 10 740 s, inflow 1.
    assert (days[date(2024, 1, 5)]["depth"], days[date(2024, 1, 5)]["oldest_age_seconds"]) == (1, 10_740)
    # 8 Jan: C1 left at 10:00 -> 0, no oldest item, outflow 1.
    d8 = days[date(2024, 1, 8)]
    assert (d8["depth"], d8["oldest_age_seconds"], d8["outflow"]) == (0, None, 1)
    # 15 Jan: C2 (12 Jan 11:00) and C3 -> 2; oldest 3 days 12 h 59 min = 3 * 86400 + 46 740 s.
    assert (days[date(2024, 1, 15)]["depth"], days[date(2024, 1, 15)]["oldest_age_seconds"]) == (2, 305_940)
    # 1 Feb: C3 (left 31 Jan 23:59:30) and C2 (09:00) leave -> 0, outflow 2; the duplicate entry is ignored.
    assert (days[date(2024, 2, 1)]["depth"], days[date(2024, 2, 1)]["outflow"]) == (0, 2)
    months = qa_queue_monthly(wh, FORCE, t("2024-02-29 23:59"), DEFS)
    jan = months[JAN]
    # January depths: 5-7 Jan 1, 8-11 Jan 0, 12-14 Jan 1, 15-31 Jan 2 (27 days).
    depths = [1] * 3 + [0] * 4 + [1] * 3 + [2] * 17
    assert [days[date(2024, 1, d)]["depth"] for d in range(5, 32)] == depths
    assert (jan["days"], jan["min_depth"], jan["max_depth"], jan["month_end_depth"]) == (27, 0, 2, 2)
    assert jan["mean_depth"] == pytest.approx(40 / 27)  # 3 + 3 + 34 = 40
    assert jan["stddev_daily_depth"] == pytest.approx(statistics.stdev(depths))
    assert (jan["inflow"], jan["outflow"]) == (3, 1)  # C1, C2, C3 in; C1 out (C3 left on 1 Feb's day)
    feb = months[FEB]
    assert (feb["min_depth"], feb["max_depth"], feb["month_end_depth"]) == (0, 2, 1)
    assert (feb["inflow"], feb["outflow"]) == (2, 3)  # C5, C2 in; C3, C2, C5 out


def test_qa_snapshot_time_is_a_setting(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh)
    defs = Definitions(crimes=CrimeDefinitions(qa_snapshot_time="09:00"))
    days = {d["day"]: d for d in qa_queue_daily(wh, FORCE, t("2024-02-29 23:59"), defs)}
    # At 09:00: C1 entered 5 Jan 21:00 so the series starts on 6 Jan; on 8 Jan C1 (out 10:00) is in.
    assert min(days) == date(2024, 1, 6) and days[date(2024, 1, 8)]["depth"] == 1
    assert days[date(2024, 2, 1)]["depth"] == 0  # C2 left at 09:00 exactly: gone at the snapshot


def test_live_queue_and_gauges(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh)
    live = live_qa_queue(wh, FORCE, t("2024-02-15 13:00"), DEFS)
    # C5 (3 Feb 11:00) and C2 (15 Feb 12:00) are in; oldest 12 days 2 h = 1 044 000 s; C2 came in today.
    assert live == {"depth": 2, "oldest_age_seconds": 1_044_000.0, "inflow": 1, "outflow": 0}
    assert live_qa_queue(wh, FORCE, t("2024-02-01 10:00"), DEFS) == {
        "depth": 0,
        "oldest_age_seconds": None,
        "inflow": 0,
        "outflow": 1,  # C2 at 09:00 today; C3 left yesterday
    }
    assert qa_queue_depth_at(wh, FORCE, t("2024-01-31 23:59:29")) == 2
    assert qa_queue_depth_at(wh, FORCE, t("2024-01-31 23:59:30")) == 1
    refresh_crime_gauges(wh, FORCE, t("2024-02-15 13:00"), DEFS)
    assert QA_QUEUE_DEPTH._value.get() == 2
    assert QA_QUEUE_OLDEST_SECONDS._value.get() == 1_044_000.0


def _view(wh: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    return wh.query(sql).rows


def test_analyst_views_answer_the_done_when_questions(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh)
    by_group = _view(
        wh,
        "SELECT month, segment, district, sum(crimes) FROM crime_monthly WHERE segment_kind = 'group' "
        "GROUP BY month, segment, district ORDER BY month, segment, district",
    )
    assert by_group == [
        (date(2024, 1, 1), "theft", "Cambridge City", 1),
        (date(2024, 1, 1), "violence_with_injury", "Peterborough", 1),
        (date(2024, 1, 1), "violence_without_injury", "Cambridge City", 1),
        (date(2024, 2, 1), "drugs", "Peterborough", 1),
        (date(2024, 2, 1), "unclassified", "Cambridge City", 1),
        (date(2024, 4, 1), "burglary_dwelling", "Peterborough", 1),
    ]
    ncrs = _view(
        wh,
        "SELECT month, recorded_crimes, with_report_time, within_ncrs_hours FROM crime_ncrs_monthly ORDER BY month",
    )
    assert ncrs == [(date(2024, 1, 1), 3, 2, 1), (date(2024, 2, 1), 2, 2, 2), (date(2024, 4, 1), 1, 1, 1)]
    rates = _view(
        wh,
        "SELECT month, recorded_crimes, pp_outcomes_assigned, cohort_pp_outcomes FROM crime_outcome_rates_monthly "
        "WHERE segment = 'all' ORDER BY month",
    )
    assert rates == [(date(2024, 1, 1), 3, 1, 2), (date(2024, 2, 1), 2, 3, 2), (date(2024, 4, 1), 1, 0, 0)]
    outcomes = _view(
        wh,
        "SELECT month, outcome_type, outcome_name, crimes FROM crime_outcomes_monthly ORDER BY month, outcome_type",
    )
    assert outcomes == [
        (date(2024, 1, 1), 3, "Caution - adults", 1),
        (date(2024, 2, 1), 1, "Charged/summonsed", 1),
        (date(2024, 2, 1), 2, "Caution - youths", 1),
        (date(2024, 2, 1), 8, "Community resolution", 1),
        (date(2024, 2, 1), 18, "Investigation complete - no suspect identified", 1),
    ]
    # every decision: C4's assignment (Jan) and its change (Feb) both appear
    decisions = _view(
        wh,
        "SELECT month, kind, outcome_type, decisions FROM crime_outcome_decisions_monthly WHERE outcome_type = 3 ORDER BY month",
    )
    assert decisions == [(date(2024, 1, 1), "assigned", 3, 1), (date(2024, 2, 1), "changed", 3, 1)]
    disposals = _view(
        wh,
        "SELECT month, conditional_cautions_adult, conditional_cautions_youth, community_resolutions "
        "FROM crime_disposals_monthly ORDER BY month",
    )
    assert disposals == [(date(2024, 1, 1), 1, 0, 0), (date(2024, 2, 1), 0, 1, 1)]
    assert _view(wh, "SELECT offence_code, crimes FROM unknown_offence_codes") == [("999Z", 1)]
    # C4 recorded 20 Jan 12:00 -> caution 25 Jan 15:00 = 5 days 3 h = 5.125 days (January's only outcome)
    assert _view(
        wh, "SELECT mean_days_to_outcome FROM crime_disposals_monthly WHERE month = '2024-01-01'"
    ) == [(5.125,)]


def test_qa_views_match_the_reader(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh)
    now = datetime.now().astimezone()
    reader = qa_queue_monthly(wh, FORCE, now, DEFS)
    view = {
        YearMonth(m.year, m.month): (lo, hi, end, n)
        for m, lo, hi, end, n in _view(
            wh,
            "SELECT month, min_depth, max_depth, month_end_depth, days FROM qa_queue_monthly WHERE force_id = 'cambs'",
        )
    }
    assert view[JAN] == (0, 2, 2, 27)
    assert {
        m: (s["min_depth"], s["max_depth"], s["month_end_depth"], s["days"]) for m, s in reader.items()
    } == view


# -- properties: any arrival order, duplication and batching gives the same warehouse figures --------
def _extra() -> list[dict[str, Any]]:
    return [envelope("C2", "outcome_changed", "2024-03-04 10:00", outcome_type=1)]


def _snapshot(wh: Warehouse) -> tuple[Any, ...]:
    facts = wh.query("SELECT * EXCEPT version FROM crimes FINAL ORDER BY crime_id").rows
    stays = wh.query("SELECT * EXCEPT version FROM qa_queue_intervals FINAL ORDER BY entry_id").rows
    outcomes = wh.query("SELECT * EXCEPT version FROM crime_outcomes FINAL ORDER BY event_id").rows
    return (cells(wh), facts, stays, outcomes)


@pytest.fixture
def expected(settings: Settings, wh: Warehouse) -> tuple[Any, ...]:
    load(settings, wh, golden_raw() + _extra())
    return _snapshot(wh)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), batches=st.integers(1, 8), dup_share=st.floats(0, 0.5))
def test_any_order_duplicates_and_batches_give_the_same_figures(
    settings: Settings, wh: Warehouse, expected: tuple[Any, ...], seed: int, batches: int, dup_share: float
) -> None:
    for (name,) in wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows:
        wh.command(f"TRUNCATE TABLE `{name}`")
    rng = random.Random(seed)
    raw = golden_raw() + _extra()
    raw = raw + [e for e in raw if rng.random() < dup_share]
    rng.shuffle(raw)
    p = pipeline(settings, wh)
    cuts = sorted(rng.sample(range(1, len(raw)), k=min(batches - 1, len(raw) - 1)))
    for i, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, len(raw)], strict=True)):
        if rng.random() < 0.4:
            p.cache.clear()  # reload from the ledger
        p.process(messages(raw[lo:hi], start=1000 * i))
    assert _snapshot(wh) == expected


def test_first_report_across_linked_incidents_and_contacts(settings: Settings, wh: Warehouse) -> None:
    load(settings, wh)
    wh.insert(
        "incidents",
        [[FORCE, "I1", t("2024-01-04 10:00"), 1]],
        ["force_id", "incident_id", "created_at", "version"],
    )
    wh.insert(
        "contacts",
        [[FORCE, "R2", t("2024-01-12 09:00"), 1]],
        ["force_id", "contact_id", "offered_at", "version"],
    )
    rows = _view(
        wh,
        "SELECT crime_id, first_report_at, hours_to_record, recorded_within_ncrs_hours FROM crime_first_report "
        "WHERE crime_id IN ('C1', 'C2', 'C4') ORDER BY crime_id",
    )
    # C1: incident I1 created 4 Jan 10:00, before the crime's own 5 Jan 08:00 -> 34 h to 5 Jan 20:00.
    # C2: online report R2 submitted 12 Jan 09:00 is later than the report of 10 Jan 10:00 -> 48 h.
    # C4: no report and no links -> unknown.
    assert [(c, _naive(f), h, w) for c, f, h, w in rows] == [
        ("C1", datetime(2024, 1, 4, 10), 34.0, False),
        ("C2", datetime(2024, 1, 10, 10), 48.0, False),
        ("C4", None, None, None),
    ]
    linked = _view(
        wh,
        "SELECT month, recorded_crimes, with_report_time, within_ncrs_hours FROM crime_ncrs_linked_monthly ORDER BY month",
    )
    assert linked[0] == (date(2024, 1, 1), 3, 2, 0)


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=None)


def test_ncrs_timeliness_runs_from_the_first_report_on_any_channel(settings: Settings, wh: Warehouse) -> None:
    # C1's linked incident I1 was created on 4 Jan 12:00, 32 h before the crime was recorded
    # (5 Jan 20:00); the crime's own report says 08:00 on 5 Jan (12 h). The first report is the
    # incident: C1 is not recorded within 24 h, and January falls from 1 / 2 to 0 / 2.
    incident = {
        "id": "I1-created-0",
        "source": "cad",
        "type": "incident.created.v1",
        "time": "2024-01-04T12:00:00+00:00",
        "force_id": FORCE,
        "subject": "I1",
        "data": {
            "channel": "999",
            "opening_category": "PSW_CONCERN_FOR_SAFETY",
            "location": {"district": "Peterborough", "urban_rural": "urban", "address": "1 High Street"},
        },
    }
    p = load(settings, wh)
    report = p.process([RawMessage("demandhub.incidents.incident.v1", 0, 0, json.dumps(incident).encode())])
    assert not report.dead_letters and not report.quarantined
    assert cells(wh)["crime_recorded_within_24h_rate"][JAN] == Cell(0, 2)


def test_a_social_media_thread_reporting_the_crime_is_a_first_report(
    settings: Settings, wh: Warehouse
) -> None:
    # C1 (recorded 5 Jan 20:00, its own report 5 Jan 08:00: 12 h) was first reported on social media:
    # thread S1 received 4 Jan 06:00 and closed with the crime reported as C1 -> 38 h, not within 24 h,
    # and January's NCRS share falls from 1 / 2 to 0 / 2. S2 names C2 but was received after C2's own
    # report; S3 was received before C1's report but closed as advice (no crime reported).
    def social(eid: str, verb: str, time: str, subject: str, data: dict[str, Any]) -> RawMessage:
        event = {
            "id": eid,
            "source": "social",
            "type": f"social.{verb}.v1",
            "time": time,
            "force_id": FORCE,
            "subject": subject,
            "data": data,
        }
        return RawMessage(
            "demandhub.contacts.social.v1", 0, int(eid.split("-")[1]), json.dumps(event).encode()
        )

    p = load(settings, wh)
    assert cells(wh)["crime_recorded_within_24h_rate"][JAN] == Cell(1, 2)
    report = p.process(
        [
            social("S1-1", "received", "2024-01-04T06:00:00+00:00", "S1", {"platform": "facebook"}),
            social("S1-2", "responded", "2024-01-04T06:20:00+00:00", "S1", {}),
            social(
                "S1-3",
                "closed",
                "2024-01-04T07:00:00+00:00",
                "S1",
                {"disposition": "crime_reported", "crime_id": "C1"},
            ),
            social("S2-4", "received", "2024-01-11T06:00:00+00:00", "S2", {"platform": "x"}),
            social(
                "S2-5",
                "closed",
                "2024-01-11T07:00:00+00:00",
                "S2",
                {"disposition": "crime_reported", "crime_id": "C2"},
            ),
            social("S3-6", "received", "2024-01-03T06:00:00+00:00", "S3", {"platform": "x"}),
            social("S3-7", "closed", "2024-01-03T07:00:00+00:00", "S3", {"disposition": "advice"}),
        ]
    )
    assert not report.dead_letters and not report.quarantined
    rows = _view(
        wh,
        "SELECT crime_id, social_received_at, first_report_at, hours_to_record FROM crime_first_report "
        "WHERE crime_id IN ('C1', 'C2') ORDER BY crime_id",
    )
    assert [(c, _naive(s), _naive(f), h) for c, s, f, h in rows] == [
        ("C1", datetime(2024, 1, 4, 6), datetime(2024, 1, 4, 6), 38.0),
        ("C2", datetime(2024, 1, 11, 6), datetime(2024, 1, 10, 10), 48.0),
    ]
    assert cells(wh)["crime_recorded_within_24h_rate"][JAN] == Cell(0, 2)


def test_board_ncrs_rows_equal_the_first_report_view(settings: Settings, wh: Warehouse) -> None:
    """The board's NCRS rows join only the force's linked incidents, contacts and threads; they are
    the view crime_first_report's figures all the same (links through an incident, a call and an
    online report, another force's contact with the same id left out)."""
    from sinks.clickhouse import crimes_sql

    load(settings, wh)
    wh.insert(
        "incidents",
        [[FORCE, "I1", t("2024-01-04 10:00"), 1], ["other", "I1", t("2023-12-01 10:00"), 1]],
        ["force_id", "incident_id", "created_at", "version"],
    )
    wh.insert(
        "contacts",
        [[FORCE, "R2", t("2024-01-09 09:00"), 1], ["other", "R2", t("2023-12-01 09:00"), 1]],
        ["force_id", "contact_id", "offered_at", "version"],
    )
    view = (
        f"SELECT {crimes_sql.RECORDED_MONTH} AS month, countIf({crimes_sql.WITHIN_NCRS}) AS within, "
        "countIf(hours_to_record IS NOT NULL) AS known FROM crime_first_report "
        "WHERE force_id = {f:String} AND recorded_at IS NOT NULL "
        "AND month BETWEEN {first:Date} AND {last:Date} GROUP BY month ORDER BY month"
    )
    for hours in (1.0, 24.0, 100.0):
        defs = DEFS.model_copy(update={"crimes": DEFS.crimes.model_copy(update={"ncrs_hours": hours})})
        values = {"f": FORCE, **crimes_sql.params(defs), "first": date(2024, 1, 1), "last": date(2024, 4, 1)}
        expected = [(m, w, k) for m, w, k in wh.query(view, parameters=values).rows]
        rows = crimes_sql.ncrs_rows(wh, FORCE, date(2024, 1, 1), date(2024, 4, 1), defs)
        assert sorted((r["month"], r["within"], r["known"]) for r in rows) == expected
        assert expected  # the force has NCRS figures to compare


@pytest.mark.parametrize("snapshot", ["23:59", "09:00", "00:00"])
def test_qa_month_ends_equal_the_daily_series_month_ends(
    settings: Settings, wh: Warehouse, snapshot: str
) -> None:
    """The board reads each month's last snapshot directly; it is the daily series' month end for any
    ``until`` (mid-month, between a day's entries and its snapshot, before the first entry)."""
    load(settings, wh, golden_raw() + _extra())
    defs = Definitions(crimes=CrimeDefinitions(qa_snapshot_time=snapshot))
    for until in (
        "2023-12-31 12:00",
        "2024-01-05 08:00",
        "2024-01-31 23:59",
        "2024-02-01 00:00",
        "2024-02-15 13:00",
        "2024-02-29 23:59",
        "2024-04-30 23:59",
        "2024-09-01 00:00",
    ):
        daily = qa_queue_monthly(wh, FORCE, t(until), defs)
        assert qa_queue_month_ends(wh, FORCE, t(until), defs) == {
            m: s["month_end_depth"] for m, s in daily.items()
        }, until
    assert qa_queue_month_ends(wh, FORCE, t("2024-04-30 23:59"), defs)  # the queue has months
    assert qa_queue_month_ends(wh, "another", t("2024-04-30 23:59"), defs) == {}
