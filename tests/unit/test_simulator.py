"""The event simulator: determinism, contract validity, calibration, faults and ground truth."""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.envelope import pii_fields
from schemas.events import EVENT_MODELS, parse_event
from streams.sources.simulator import FaultReport, Faults, SimConfig, Simulation, simulate, truth
from streams.sources.simulator.clock import LONDON
from streams.sources.simulator.queues import ABANDONED, Entry, QueueSim
from streams.sources.simulator.reference import ASB_CATEGORIES

pytestmark = pytest.mark.unit

ALL_FAULTS = Faults(
    duplicate_rate=0.02,
    late_rate=0.01,
    max_lateness_seconds=2 * 86400,
    out_of_order_rate=0.02,
    malformed_rate=0.005,
    hostile_rate=0.003,
    pii_free_text=True,
)


def _events(config: SimConfig, report: FaultReport | None = None) -> list[dict[str, Any]]:
    return list(simulate(config, report))


def _key(event: dict[str, Any]) -> tuple[str, str]:
    return (event["source"], event["id"])


def _month(time: str) -> str:
    return datetime.fromisoformat(time).astimezone(LONDON).strftime("%Y-%m")


def _within(observed: float, expected: float, sd: float, k: float = 4.0) -> bool:
    return abs(observed - expected) <= k * sd


# --- determinism and contract -------------------------------------------------------------------


def test_same_seed_same_events_and_other_seed_differs() -> None:
    config = SimConfig(start=date(2020, 5, 1), days=2, seed=7, scale=0.05, forces=["cambs", "beds"])
    first = _events(config)
    assert first == _events(config)
    assert first != _events(config.model_copy(update={"seed": 8}))
    assert {e["force_id"] for e in first} == {"cambs", "beds"}


def test_clean_stream_is_time_ordered_with_unique_ids_per_source() -> None:
    events = _events(SimConfig(start=date(2021, 10, 30), days=3, scale=0.05))
    times = [datetime.fromisoformat(e["time"]) for e in events]
    assert times == sorted(times)
    assert len({_key(e) for e in events}) == len(events)
    assert {e["source"] for e in events} == {"telephony", "chat", "portal", "cad", "crime", "social"}


def test_a_week_with_every_fault_validates_except_the_injected_bad_ones() -> None:
    report = FaultReport()
    config = SimConfig(start=date(2019, 6, 3), days=7, scale=0.05, faults=ALL_FAULTS)
    invalid = 0
    types: Counter[str] = Counter()
    for event in simulate(config, report):
        try:
            parsed = parse_event(event)
        except ValidationError:
            invalid += 1
            continue
        types[parsed.type] += 1
    assert report.malformed > 0 and report.hostile > 0
    assert invalid == report.invalid
    assert report.duplicates > 0 and report.late > 0 and report.out_of_order > 0
    assert sum(types.values()) == report.events + report.duplicates


def test_every_modelled_event_type_is_produced() -> None:
    types = {e["type"] for e in simulate(SimConfig(start=date(2019, 6, 3), days=42, scale=0.12))}
    not_modelled = {"incident.reopened.v1", "crime.transferred.v1"}
    assert types == set(EVENT_MODELS) - not_modelled


def test_pii_switch_fills_every_personal_field_and_is_off_by_default() -> None:
    config = SimConfig(start=date(2019, 6, 3), days=2, scale=0.05)
    with_pii = _events(config.model_copy(update={"faults": Faults(pii_free_text=True)}))
    without = _events(config)
    assert len(with_pii) == len(without)
    for filled, bare in zip(with_pii, without, strict=True):
        model = EVENT_MODELS[filled["type"]]
        parse_event(filled)
        for path, _ in pii_fields(model):
            a: Any = filled
            b: Any = bare
            for part in path.split("."):
                a = a.get(part) if isinstance(a, dict) else None
                b = b.get(part) if isinstance(b, dict) else None
            assert a not in (None, ""), (filled["type"], path)
            assert b is None, (bare["type"], path)


# --- calibration ------------------------------------------------------------------------------------


def _annual_counts(start: date, days: int, scale: float) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for e in simulate(SimConfig(start=start, days=days, scale=scale, seed=3)):
        t, d = e["type"], e["data"]
        if t == "call.offered.v1":
            counts[d["channel"]] += 1
        elif t == "webchat.offered.v1":
            counts["webchat"] += 1
        elif t == "online_report.submitted.v1":
            counts["online"] += 1
        elif t == "incident.created.v1":
            counts["incidents"] += 1
        elif t == "crime.recorded.v1":
            counts["crimes"] += 1
        elif t == "incident.closed.v1" and d["final_category"] in ASB_CATEGORIES:
            counts["asb"] += 1
    per_year = 365.25 / (days * scale)
    return {k: v * per_year for k, v in counts.items()} | {"_factor": per_year}


# DOMAIN 3.8 ranges for one force per year (with room for "about").
RANGES = {
    "999": (115_000, 150_000),
    "101": (260_000, 340_000),
    "webchat": (10_000, 40_000),
    "online": (2_000, 15_000),
    "incidents": (165_000, 215_000),
    "crimes": (55_000, 75_000),
    "asb": (14_000, 26_000),
}


def test_volumes_extrapolate_to_the_domain_ranges() -> None:
    annual = _annual_counts(date(2019, 3, 4), 14, 0.2)
    factor = annual["_factor"]
    for series, (lo, hi) in RANGES.items():
        value = annual[series]
        # a Poisson count n has sd sqrt(n): allow four standard deviations around the range
        slack = 4 * math.sqrt(value / factor) * factor
        assert lo - slack <= value <= hi + slack, (series, value)


def _window(year: int, month: int, days: int = 14, scale: float = 0.5) -> dict[str, Any]:
    result = truth(SimConfig(start=date(year, month, 1), days=days, scale=scale, seed=11))
    return result["cambs"][f"{year}-{month:02d}"]


def _significantly(lower: float, higher: float) -> bool:
    """Poisson counts: ``higher`` exceeds ``lower`` by more than three standard deviations."""
    return higher - lower > 3 * math.sqrt(lower + higher)


def test_trends_and_summer_peaks_have_the_right_sign() -> None:
    early, late, winter = _window(2016, 7), _window(2022, 7), _window(2022, 1)
    assert _significantly(early["contacts_999"], late["contacts_999"])
    assert _significantly(late["contacts_101"], early["contacts_101"])
    assert _significantly(early["contacts_webchat"], late["contacts_webchat"])
    assert _significantly(early["contacts_online"], late["contacts_online"])
    assert _significantly(late["incidents_asb"], early["incidents_asb"])  # ASB falling
    assert _significantly(winter["incidents_asb"], late["incidents_asb"])  # summer peak
    assert _significantly(winter["contacts_999"], late["contacts_999"])


def test_grade_mix_and_qualifier_shares_match_the_domain() -> None:
    month = _window(2019, 5, days=21, scale=0.4)
    assert 15.0 <= month["immediate_share"] <= 21.0
    assert 0.035 <= month["incidents_mental_health"] / month["incidents_total"] <= 0.065
    assert 50.0 <= month["immediate_within_target_rate"] <= 97.0
    assert 80.0 <= month["calls_999_answered_within_10s"] <= 100.0
    assert 70.0 <= month["crime_recorded_within_24h_rate"] <= 95.0


def test_abandonment_rises_when_the_same_demand_meets_fewer_staff() -> None:
    base = SimConfig(start=date(2019, 10, 7), days=3, scale=0.5, seed=5)
    normal = truth(base)["cambs"]["2019-10"]
    lean = truth(base.model_copy(update={"staffing": 0.8}))["cambs"]["2019-10"]
    assert lean["contacts_101"] == normal["contacts_101"]  # same demand
    assert lean["calls_101_abandoned_rate"] > normal["calls_101_abandoned_rate"] + 2.0
    assert lean["calls_101_answered_within_30s"] < normal["calls_101_answered_within_30s"]


def _queue_run(calls_per_hour: float, agents: int, n: int = 6000) -> tuple[float, float]:
    """Abandon share and mean wait of one queue with fixed staffing (Erlang-A by simulation)."""
    rng = random.Random(1)
    outcomes: list[tuple[str, int]] = []

    def done(entry: Entry, outcome: str, when: int) -> None:
        outcomes.append((outcome, when - entry.arrival))

    queue = QueueSim("test", lambda _hour: agents, start_ms=0)
    t = 0
    for _ in range(n):
        t += int(rng.expovariate(calls_per_hour / 3_600_000))
        patience = int(180_000 * math.exp(rng.gauss(0, 1)))
        service = int(240_000 * math.exp(0.6 * rng.gauss(0, 1)))
        queue.add(Entry(t, patience, service, None, 2000, done))
    queue.run_until(t + 1)
    assert len(outcomes) == n
    abandoned = sum(1 for o, _ in outcomes if o == ABANDONED)
    return abandoned / n, sum(w for _, w in outcomes) / n


def test_queue_waits_and_abandonment_rise_with_load() -> None:
    runs = [_queue_run(rate, agents=5) for rate in (40, 60, 80, 100)]
    shares = [share for share, _ in runs]
    waits = [wait for _, wait in runs]
    assert shares == sorted(shares) and shares[-1] > 3 * shares[0] > 0
    assert waits == sorted(waits)
    # more agents for the same load: fewer abandons
    assert _queue_run(80, agents=7)[0] < _queue_run(80, agents=5)[0]


# --- faults and ground truth ----------------------------------------------------------------------


def _recount(events: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """An independent fold of the (deduplicated, valid) events for a few board measures."""
    distinct: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        try:
            parse_event(e)
        except ValidationError:
            continue
        distinct[_key(e)] = e
    by_subject: dict[str, dict[str, Any]] = defaultdict(dict)
    for e in distinct.values():
        facts = by_subject[e["subject"]]
        facts.setdefault(e["type"], []).append(e)
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for facts in by_subject.values():
        offered = facts.get("call.offered.v1")
        if offered:
            month = _month(offered[0]["time"])
            channel = offered[0]["data"]["channel"]
            out[month][f"contacts_{channel}"] += 1
            answered = facts.get("call.answered.v1", [])
            if channel == "999" and answered:
                wait = datetime.fromisoformat(answered[0]["time"]) - datetime.fromisoformat(
                    offered[0]["time"]
                )
                out[month]["a999"] += 1
                out[month]["a999_10"] += wait < timedelta(seconds=10)
        for created in facts.get("incident.created.v1", []):
            if not facts.get("incident.merged_as_duplicate.v1"):
                out[_month(created["time"])]["incidents_total"] += 1
        recorded = facts.get("crime.recorded.v1")
        if recorded and not facts.get("crime.cancelled.v1"):
            out[_month(recorded[0]["time"])]["crime_all"] += 1
    result: dict[str, dict[str, float]] = {}
    for month, c in out.items():
        result[month] = {k: c[k] for k in ("contacts_999", "contacts_101", "incidents_total", "crime_all")}
        result[month]["calls_999_answered_within_10s"] = 100.0 * c["a999_10"] / c["a999"]
    return result


def test_stream_faults_do_not_change_the_distinct_events_or_the_truth() -> None:
    clean_config = SimConfig(start=date(2020, 1, 27), days=10, scale=0.1, seed=4)
    faulty_config = clean_config.model_copy(
        update={"faults": ALL_FAULTS.model_copy(update={"pii_free_text": False})}
    )
    clean = _events(clean_config)
    faulty = _events(faulty_config)
    valid = {}
    for e in faulty:
        try:
            parse_event(e)
        except ValidationError:
            continue
        valid[_key(e)] = e
    assert len(faulty) > len(clean)  # duplicates and bad events were added
    times = [e["time"] for e in faulty if isinstance(e.get("time"), str)]
    assert times != sorted(times)  # late and out-of-order events moved
    assert valid == {_key(e): e for e in clean}
    expected = truth(clean_config)
    assert truth(faulty_config) == expected
    recount = _recount(faulty)
    for month, values in recount.items():
        for measure, value in values.items():
            assert expected["cambs"][month][measure] == pytest.approx(value), (month, measure)


def test_truth_matches_the_event_stream_run_and_has_only_run_months() -> None:
    config = SimConfig(start=date(2021, 3, 29), days=5, scale=0.1)
    sim = Simulation(config)
    events = list(sim.events())
    assert sim.truth() == truth(config)
    months = set(sim.truth()["cambs"])
    assert months == {"2021-03", "2021-04"}
    assert set(_recount(events)) == months
    json.dumps(sim.truth())  # JSON-ready


def test_datetime_start_and_clock_change_days() -> None:
    start = datetime(2022, 10, 29, 12, 30, tzinfo=UTC)
    events = _events(SimConfig(start=start, days=2, scale=0.05))
    assert events
    first = datetime.fromisoformat(events[0]["time"])
    last = datetime.fromisoformat(events[-1]["time"])
    assert start <= first and last < start + timedelta(days=2)


def test_no_lifecycle_event_follows_a_terminal_one() -> None:
    """Closure, cancellation and merging end an incident; cancellation ends a crime's changes."""
    terminal = {
        "incident.closed.v1",
        "incident.cancelled.v1",
        "incident.merged_as_duplicate.v1",
        "crime.cancelled.v1",
    }
    ended_at: dict[str, str] = {}
    late: list[tuple[str, str]] = []
    for e in simulate(SimConfig(start=date(2019, 11, 1), days=30, scale=0.1, seed=8)):
        subject, etype = e["subject"], e["type"]
        if subject in ended_at and etype != "crime.qa_queue_exited.v1":
            late.append((subject, etype))
        if etype in terminal:
            ended_at[subject] = e["time"]
    assert len(ended_at) > 1000
    assert late == []
