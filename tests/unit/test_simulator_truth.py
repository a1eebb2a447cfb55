"""The ground truth equals an independent fold of the emitted events, measure by measure.

The fold below re-implements each definition written in ``streams.sources.simulator.truth`` from the
events alone (deduplicated on (source, id), in any arrival order), so a fact the generator counted
but did not emit, or emitted but did not count, shows up as a difference.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.events import parse_event
from streams.sources.simulator import Faults, SimConfig, simulate, truth
from streams.sources.simulator.clock import LONDON, from_ms
from streams.sources.simulator.engine import run_bounds
from streams.sources.simulator.reference import ASB_CATEGORIES

pytestmark = pytest.mark.unit

S5, S10, S30 = timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=30)
TARGETS = {
    ("IMMEDIATE", "urban"): timedelta(minutes=15),
    ("IMMEDIATE", "rural"): timedelta(minutes=20),
    ("PRIORITY", "urban"): timedelta(minutes=60),
    ("PRIORITY", "rural"): timedelta(minutes=60),
}


def _t(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["time"])


def _month(t: datetime) -> str:
    return t.astimezone(LONDON).strftime("%Y-%m")


def _first(facts: dict[str, list[dict[str, Any]]], etype: str, **match: Any) -> dict[str, Any] | None:
    for e in sorted(facts.get(etype, []), key=_t):
        if all(e["data"].get(k) == v for k, v in match.items()):
            return e
    return None


def _call(c: Counter[str], f: dict[str, list[dict[str, Any]]]) -> None:
    offered = _first(f, "call.offered.v1")
    assert offered is not None
    channel = offered["data"]["channel"]
    c[f"c{channel}"] += 1
    t0 = _t(offered)
    if channel == "999":
        queued = _first(f, "call.queued.v1", queue="999")
        answered = _first(f, "call.answered.v1", queue="999")
        abandoned = _first(f, "call.abandoned.v1", queue="999")
        if queued:
            c["q999"] += 1
        if answered:
            c["a999"] += 1
            c["a999_10"] += _t(answered) - t0 < S10
        if abandoned and queued:
            c["q999_short" if _t(abandoned) - t0 < S5 else "q999_ab"] += 1
        return
    queued_p = _first(f, "call.queued.v1", queue="101-primary")
    answered_p = _first(f, "call.answered.v1", queue="101-primary")
    if queued_p and answered_p:
        c["p101"] += 1
        c["p101_30"] += _t(answered_p) - _t(queued_p) < S30
    abandoned = _first(f, "call.abandoned.v1")
    if abandoned and not f.get("call.answered.v1"):  # end to end: never answered in any queue
        stage = abandoned["data"]["stage"]
        entered = _first(f, "call.ivr_entered.v1") if stage == "ivr" else queued_p
        assert entered is not None
        c["o101_short" if _t(abandoned) - _t(entered) < S5 else "o101_ab"] += 1


def _incident(c: Counter[str], f: dict[str, list[dict[str, Any]]], end: datetime) -> None:
    created = _first(f, "incident.created.v1")
    assert created is not None
    tc = _t(created)
    merged = _first(f, "incident.merged_as_duplicate.v1")
    c["inc"] += not merged
    mh_added = _first(f, "incident.qualifier_added.v1", qualifier="mental_health")
    mh_removed = _first(f, "incident.qualifier_removed.v1", qualifier="mental_health")
    c["inc_mh"] += bool(mh_added and not mh_removed and not merged)
    closed = _first(f, "incident.closed.v1")
    graded = _first(f, "incident.graded.v1")
    gone = _first(f, "incident.cancelled.v1") or _first(f, "incident.merged_as_duplicate.v1")
    # ASB by the category known at the end: final when closed, opening while still open.
    known = (
        closed["data"]["final_category"] if closed else None if gone else created["data"]["opening_category"]
    )
    c["inc_asb"] += known in ASB_CATEGORIES
    if graded and not gone:
        c["graded"] += 1
        c["first_imm"] += graded["data"]["grade"] == "IMMEDIATE"
    if created["data"]["self_initiated"] or _first(f, "incident.cancelled.v1") or not graded:
        return
    arrived = _first(f, "incident.resource_arrived.v1")
    grades = sorted(
        [(_t(graded), graded["data"]["grade"])]
        + [(_t(r), r["data"]["new_grade"]) for r in f.get("incident.regraded.v1", [])]
    )
    at = _t(arrived) if arrived else end
    grade = [g for t, g in grades if t <= at][-1]
    target = TARGETS.get((grade, created["data"]["location"]["urban_rural"]))
    if target is None:
        return
    prefix = "imm" if grade == "IMMEDIATE" else "pri"
    if arrived:
        response = _t(arrived) - tc
        c[f"{prefix}_den"] += 1
        c[f"{prefix}_hit"] += response < target
        if grade == "IMMEDIATE":
            c["imm_n"] += 1
            c["imm_sum_min"] += response / timedelta(minutes=1)
    elif not closed and not gone and tc + target < end:
        c[f"{prefix}_den"] += 1


def _crime(c: Counter[str], f: dict[str, list[dict[str, Any]]]) -> None:
    recorded = _first(f, "crime.recorded.v1")
    if not recorded or _first(f, "crime.cancelled.v1"):
        return
    reported = _first(f, "crime.reported.v1")
    assert reported is not None
    c["crime"] += 1
    c["crime_da"] += recorded["data"]["flags"]["domestic_abuse"]
    first = datetime.fromisoformat(reported["data"]["first_reported_at"])
    c["crime_24h"] += _t(recorded) - first < timedelta(hours=24)


def _social(c: Counter[str], f: dict[str, list[dict[str, Any]]]) -> None:
    received = _t(f["social.received.v1"][0])
    c["soc"] += 1
    first = min((_t(e) for e in f.get("social.responded.v1", [])), default=None)
    closed = _first(f, "social.closed.v1")
    if first is not None:
        c["soc_resp"] += 1
        c["soc_min_sum"] += (first - received).total_seconds() / 60
        c["soc_within"] += first - received <= timedelta(minutes=60)
    if closed is None:
        return
    if closed["data"]["closed_by"] == "handler":
        c["soc_resolved"] += 1
        c["soc_noinc"] += closed["data"]["disposition"] != "incident_created"
    elif first is None or first > _t(closed):
        c["soc_short" if _t(closed) - received < timedelta(minutes=2) else "soc_ab"] += 1


def _fold(events: list[dict[str, Any]], end: datetime) -> dict[str, dict[str, Any]]:
    distinct: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        try:
            parse_event(e)
        except ValidationError:
            continue
        distinct[(e["source"], e["id"])] = e
    subjects: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for e in distinct.values():
        subjects[e["subject"]][e["type"]].append(e)
    months: dict[str, Counter[str]] = defaultdict(Counter)
    for f in subjects.values():
        if "call.offered.v1" in f:
            _call(months[_month(_t(f["call.offered.v1"][0]))], f)
        elif "webchat.offered.v1" in f:
            offered = f["webchat.offered.v1"][0]
            c = months[_month(_t(offered))]
            c["cweb"] += 1
            if abandoned := _first(f, "webchat.abandoned.v1"):
                c["wc_short" if _t(abandoned) - _t(offered) < S5 else "wc_ab"] += 1
        elif "online_report.submitted.v1" in f:
            months[_month(_t(f["online_report.submitted.v1"][0]))]["conline"] += 1
        elif "incident.created.v1" in f:
            _incident(months[_month(_t(f["incident.created.v1"][0]))], f, end)
        elif "crime.recorded.v1" in f:
            _crime(months[_month(_t(f["crime.recorded.v1"][0]))], f)
        elif "social.received.v1" in f:
            _social(months[_month(_t(f["social.received.v1"][0]))], f)
    return {m: _measures(c) for m, c in months.items()}


def _pct(num: float, den: float) -> float | None:
    return 100.0 * num / den if den > 0 else None


def _measures(c: Counter[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "contacts_999": c["c999"],
        "contacts_101": c["c101"],
        "contacts_webchat": c["cweb"],
        "contacts_online": c["conline"],
        "contacts_total": c["c999"] + c["c101"] + c["cweb"] + c["conline"],
        "calls_999_answered_within_10s": _pct(c["a999_10"], c["a999"]),
        "calls_101_answered_within_30s": _pct(c["p101_30"], c["p101"]),
        "calls_999_abandoned_rate": _pct(c["q999_ab"], c["q999"] - c["q999_short"]),
        "calls_101_abandoned_rate": _pct(c["o101_ab"], c["c101"] - c["o101_short"]),
        "webchat_abandoned_rate": _pct(c["wc_ab"], c["cweb"] - c["wc_short"]),
        "incidents_total": c["inc"],
        "incidents_mental_health": c["inc_mh"],
        "incidents_asb": c["inc_asb"],
        "immediate_share": _pct(c["first_imm"], c["graded"]),
        "immediate_time_to_respond_mins": c["imm_sum_min"] / c["imm_n"] if c["imm_n"] else None,
        "immediate_within_target_rate": _pct(c["imm_hit"], c["imm_den"]),
        "priority_within_target_rate": _pct(c["pri_hit"], c["pri_den"]),
        "crime_all": c["crime"],
        "crime_domestic_abuse": c["crime_da"],
        "crime_recorded_within_24h_rate": _pct(c["crime_24h"], c["crime"]),
        "social_threads": c["soc"],
        "social_first_response_within_target": _pct(c["soc_within"], c["soc_resp"]),
        "social_first_response_mins": c["soc_min_sum"] / c["soc_resp"] if c["soc_resp"] else None,
        "social_resolved_without_incident": _pct(c["soc_noinc"], c["soc_resolved"]),
        "social_abandoned": c["soc_ab"],
        "social_abandoned_rate": _pct(c["soc_ab"], c["soc"] - c["soc_short"]),
    }
    families = {
        "contacts": values["contacts_total"],
        "incidents": values["incidents_total"],
        "crime": values["crime_all"],
        "social": values["social_threads"],
    }
    out = {}
    for k, v in values.items():
        if v is None:
            continue
        if isinstance(v, int) and v == 0 and not families[k.split("_")[0].replace("calls", "contacts")]:
            continue
        out[k] = v
    return out


@pytest.mark.parametrize(
    ("start", "days", "faults"),
    [
        (date(2019, 10, 24), 12, Faults()),  # crosses a month end and the October clock change
        (date(2022, 3, 20), 15, Faults(duplicate_rate=0.05, late_rate=0.02, out_of_order_rate=0.05)),
    ],
)
def test_truth_equals_an_independent_fold_of_the_events(start: date, days: int, faults: Faults) -> None:
    config = SimConfig(start=start, days=days, scale=0.1, seed=21, faults=faults)
    end = from_ms(run_bounds(config)[1])
    expected = truth(config)["cambs"]
    folded = _fold(list(simulate(config)), end)
    assert set(folded) == set(expected)
    for month, values in expected.items():
        assert set(folded[month]) == set(values), month
        for measure, value in values.items():
            assert folded[month][measure] == pytest.approx(value, rel=1e-9), (month, measure)
