"""The ground truth equals an independent fold of the emitted events, measure by measure.

The fold below re-implements each definition written in ``streams.sources.simulator.truth`` from the
events alone (deduplicated on (source, id), in any arrival order), so a fact the generator counted
but did not emit, or emitted but did not count, shows up as a difference.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from schemas.definitions import Definitions
from schemas.events import parse_event
from streams.sources.simulator import Faults, SimConfig, Simulation, simulate, truth
from streams.sources.simulator.clock import from_ms
from streams.sources.simulator.engine import run_bounds
from streams.sources.simulator.reference import ASB_CATEGORIES
from streams.sources.simulator.truth import SUPPORTED, CallFacts, TruthBook

pytestmark = pytest.mark.unit

Counts = defaultdict[str, float]


def _t(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["time"])


def _month(t: datetime, tz: str = "Europe/London") -> str:
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


def _first(facts: dict[str, list[dict[str, Any]]], etype: str, **match: Any) -> dict[str, Any] | None:
    for e in sorted(facts.get(etype, []), key=_t):
        if all(e["data"].get(k) == v for k, v in match.items()):
            return e
    return None


def _secs(n: int | None) -> timedelta | None:
    return None if n is None else timedelta(seconds=n)


def _lt(wait: timedelta, limit: timedelta | None) -> bool:
    return limit is not None and wait < limit


def _queue(
    months: dict[str, Counts],
    p: str,
    queued: dict[str, Any],
    start: datetime | None,
    answered: Any,
    abandoned: Any,
    queue: str,
    d: Definitions,
    callback: Any = None,
) -> bool:
    """A/A_T/B/B_T/S/C counters of one queue visit (in the month it joined the queue, ``queued``);
    True when the abandon was short."""
    if start is None:
        return False
    c = months[_month(_t(queued), d.timezone)]
    c[f"{p}_in"] += 1
    c[f"{p}_C"] += bool(callback)
    threshold = _secs(d.calls.service_threshold_seconds.get(queue))
    short = _secs(d.calls.short_abandon_seconds.get(queue))
    if answered:
        c[f"{p}_A"] += 1
        c[f"{p}_AT"] += _lt(_t(answered) - start, threshold)
    if abandoned:
        c[f"{p}_B"] += 1
        c[f"{p}_BT"] += _lt(_t(abandoned) - start, threshold)
        c[f"{p}_S"] += _lt(_t(abandoned) - start, short)
        return _lt(_t(abandoned) - start, short)
    return False


def _call(months: dict[str, Counts], f: dict[str, list[dict[str, Any]]], d: Definitions) -> None:
    offered = _first(f, "call.offered.v1")
    assert offered is not None
    channel = offered["data"]["channel"]
    c = months[_month(_t(offered), d.timezone)]
    c[f"c{channel}"] += 1
    if channel == "999":
        queued = _first(f, "call.queued.v1", queue="999")
        start = _t(offered)
        bt = offered["data"].get("bt_connect_time")
        if d.calls.clock_start_999 == "bt_connect" and bt:
            start = datetime.fromisoformat(bt)
        elif d.calls.clock_start_999 == "queued":
            start = _t(queued) if queued else start
        answered = _first(f, "call.answered.v1", queue="999")
        abandoned = _first(f, "call.abandoned.v1", queue="999")
        if queued:
            c["dedupe_999"] += _queue(months, "q999", queued, start, answered, abandoned, "999", d)
        return
    queued_p = _first(f, "call.queued.v1", queue="101-primary")
    answered_p = _first(f, "call.answered.v1", queue="101-primary")
    abandoned_p = _first(f, "call.abandoned.v1", queue="101-primary")
    callback_p = _first(f, "call.callback_requested.v1", queue="101-primary")
    if queued_p:
        _queue(months, "p101", queued_p, _t(queued_p), answered_p, abandoned_p, "101-primary", d, callback_p)
    abandoned = _first(f, "call.abandoned.v1")
    if abandoned and not f.get("call.answered.v1"):  # end to end: never answered in any queue
        stage = abandoned["data"]["stage"]
        entered = _first(f, "call.ivr_entered.v1") if stage == "ivr" else queued_p
        assert entered is not None
        limit = (
            d.calls.ivr_short_abandon_seconds
            if stage == "ivr"
            else d.calls.short_abandon_seconds["101-primary"]
        )
        short = _lt(_t(abandoned) - _t(entered), _secs(limit))
        c["o101_short" if short else "o101_ab"] += 1
        c["dedupe_101"] += short


def _incident(
    c: Counts, f: dict[str, list[dict[str, Any]]], end: datetime, d: Definitions, linked: datetime | None
) -> None:
    rules = d.incidents
    created = _first(f, "incident.created.v1")
    assert created is not None
    tc = _t(created)
    if _first(f, "incident.merged_as_duplicate.v1"):
        return
    c["inc"] += 1
    mh_added = _first(f, "incident.qualifier_added.v1", qualifier="mental_health")
    mh_removed = _first(f, "incident.qualifier_removed.v1", qualifier="mental_health")
    c["inc_mh"] += bool(mh_added and (rules.mental_health_basis == "ever" or not mh_removed))
    closed = _first(f, "incident.closed.v1")
    cancelled = _first(f, "incident.cancelled.v1")
    graded = _first(f, "incident.graded.v1")
    if rules.asb_basis == "qualifier_ever":
        c["inc_asb"] += bool(_first(f, "incident.qualifier_added.v1", qualifier="asb"))
    elif rules.asb_basis == "final_category":
        c["inc_asb"] += bool(closed and closed["data"]["final_category"] in ASB_CATEGORIES)
    else:  # the category known at the end: final when closed, opening while still open
        known = (
            closed["data"]["final_category"]
            if closed
            else None
            if cancelled
            else created["data"]["opening_category"]
        )
        c["inc_asb"] += known in ASB_CATEGORIES
    if not graded or cancelled:
        return
    grades = sorted(
        [(_t(graded), graded["data"]["grade"])]
        + [(_t(r), r["data"]["new_grade"]) for r in f.get("incident.regraded.v1", [])]
    )
    c["graded"] += 1
    c["first_imm"] += grades[0 if rules.grade_basis == "first" else -1][1] == "IMMEDIATE"
    if created["data"]["self_initiated"] and rules.exclude_self_initiated:
        return
    arrived = _first(f, "incident.resource_arrived.v1")
    if closed and not arrived:
        return  # never attended
    at = _t(arrived) if arrived else end
    grade_at, grade = [(t, g) for t, g in grades if t <= at][-1]
    start = tc
    if rules.response_clock == "graded_at_arrival_grade":
        start = grade_at
    elif rules.response_clock == "contact_offered":
        start = linked or tc
    minutes = rules.target_minutes.get(f"{grade}_{created['data']['location']['urban_rural']}")
    target = None if minutes is None else timedelta(minutes=minutes)
    prefix = {"IMMEDIATE": "imm", "PRIORITY": "pri"}.get(grade)
    if arrived:
        response = _t(arrived) - start
        if grade == "IMMEDIATE":
            c["imm_n"] += 1
            c["imm_sum_min"] += response / timedelta(minutes=1)
        if prefix and target is not None:
            c[f"{prefix}_den"] += 1
            c[f"{prefix}_hit"] += response <= target
    elif prefix and target is not None and start + target < end:
        c[f"{prefix}_den"] += 1


def _crime(months: dict[str, Counts], f: dict[str, list[dict[str, Any]]], d: Definitions) -> None:
    rules, tz = d.crimes, d.timezone
    recorded = _first(f, "crime.recorded.v1")
    if not recorded or _first(f, "crime.cancelled.v1"):
        return
    reported = _first(f, "crime.reported.v1")
    assert reported is not None
    at = (
        datetime.fromisoformat(recorded["data"]["occurred_at"])
        if rules.period_basis == "occurred"
        else _t(recorded)
    )
    c = months[_month(at, tz)]
    c["crime"] += 1
    c["crime_da"] += recorded["data"]["flags"]["domestic_abuse"]
    first = datetime.fromisoformat(reported["data"]["first_reported_at"])
    rec = months[_month(_t(recorded), tz)]
    rec["crime_rec"] += 1
    rec["crime_ncrs"] += _t(recorded) - first <= timedelta(hours=rules.ncrs_hours)
    outcomes = sorted(f.get("crime.outcome_assigned.v1", []) + f.get("crime.outcome_changed.v1", []), key=_t)
    if outcomes and outcomes[-1]["data"]["outcome_type"] in rules.prosecution_possible_types:
        where = c if rules.outcome_rate_basis == "cohort" else months[_month(_t(outcomes[-1]), tz)]
        where["outcome_num"] += 1


def _social(c: Counts, f: dict[str, list[dict[str, Any]]], d: Definitions) -> None:
    received = _t(f["social.received.v1"][0])
    c["soc"] += 1
    first = min((_t(e) for e in f.get("social.responded.v1", [])), default=None)
    closed = _first(f, "social.closed.v1")
    if first is not None:
        c["soc_resp"] += 1
        c["soc_min_sum"] += (first - received).total_seconds() / 60
        c["soc_within"] += first - received <= timedelta(minutes=d.social.first_response_target_minutes)
    if closed is None:
        return
    if closed["data"]["closed_by"] == "handler":
        c["soc_resolved"] += 1
        c["soc_noinc"] += closed["data"]["disposition"] != "incident_created"
    elif first is None or first > _t(closed):
        short = _t(closed) - received < timedelta(minutes=d.social.short_abandon_minutes)
        c["soc_short" if short else "soc_ab"] += 1


Subjects = dict[str, dict[str, list[Any]]]


def _subjects(events: list[dict[str, Any]]) -> Subjects:
    """The valid events, deduplicated on (source, id), by subject and type."""
    distinct: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        try:
            parse_event(e)
        except ValidationError:
            continue
        distinct[(e["source"], e["id"])] = e
    subjects: Subjects = defaultdict(lambda: defaultdict(list))
    for e in distinct.values():
        subjects[e["subject"]][e["type"]].append(e)
    return subjects


def _fold(subjects: Subjects, end: datetime, d: Definitions | None = None) -> dict[str, dict[str, Any]]:
    """Every measure of every month under ``d`` (the defaults when None), from the events alone."""
    d = d or Definitions()
    tz = d.timezone
    offers: dict[str, datetime] = {}  # contact id -> offer, for the contact_offered clock
    for s, f in subjects.items():
        for etype in ("call.offered.v1", "webchat.offered.v1", "online_report.submitted.v1"):
            if f.get(etype):
                offers[s] = _t(f[etype][0])
    months: dict[str, Counts] = defaultdict(lambda: defaultdict(float))
    for f in subjects.values():
        if "call.offered.v1" in f:
            _call(months, f, d)
        elif "webchat.offered.v1" in f:
            offered = f["webchat.offered.v1"][0]
            c = months[_month(_t(offered), tz)]
            c["cwebchat"] += 1
            if abandoned := _first(f, "webchat.abandoned.v1"):
                short = _lt(_t(abandoned) - _t(offered), _secs(d.calls.short_abandon_seconds["webchat"]))
                c["wc_short" if short else "wc_ab"] += 1
                c["dedupe_webchat"] += short
        elif "online_report.submitted.v1" in f:
            months[_month(_t(f["online_report.submitted.v1"][0]), tz)]["conline"] += 1
        elif "incident.created.v1" in f:
            created = f["incident.created.v1"][0]
            linked = offers.get(created["data"].get("contact_id") or "")
            _incident(months[_month(_t(created), tz)], f, end, d, linked)
        elif "crime.recorded.v1" in f:
            _crime(months, f, d)
        elif "social.received.v1" in f:
            _social(months[_month(_t(f["social.received.v1"][0]), tz)], f, d)
    out = {m: _measures(c, d) for m, c in months.items()}
    for channel in ("999", "101", "webchat", "online"):  # no data before a channel's first contact
        first = min((m for m, c in months.items() if c[f"c{channel}"] > 0), default=None)
        for m, values in out.items():
            if first is None or m < first:
                values.pop(f"contacts_{channel}", None)
    return {m: v for m, v in out.items() if v}


def _pct(num: float, den: float) -> float | None:
    return 100.0 * num / den if den > 0 else None


def _service_level(c: Counts, p: str, convention: str, callbacks: str = "excluded") -> float | None:
    a, a_t, b, b_t, s = (c[f"{p}_{k}"] for k in ("A", "AT", "B", "BT", "S"))
    missed = c[f"{p}_C"] if callbacks == "missed" else 0
    num, den = {
        "answered_basis": (a_t, a),
        "ignore": (a_t, a + b - b_t),
        "count_as_met": (a_t + b_t, a + b),
        "count_as_missed": (a_t, a + b),
        "offered_basis": (a_t, a + b - s),
    }[convention]
    return _pct(num, den + missed)


def _measures(c: Counts, d: Definitions) -> dict[str, Any]:
    drop = d.calls.dedupe_short_abandons_from_volumes
    vol = {ch: c[f"c{ch}"] - (c[f"dedupe_{ch}"] if drop else 0) for ch in ("999", "101", "webchat")}
    received_basis = d.social.target_basis == "received"
    values: dict[str, Any] = {
        "contacts_999": int(vol["999"]),
        "contacts_101": int(vol["101"]),
        "contacts_webchat": int(vol["webchat"]),
        "contacts_online": int(c["conline"]),
        "contacts_total": int(vol["999"] + vol["101"] + vol["webchat"] + c["conline"]),
        "calls_999_answered_within_10s": _service_level(
            c, "q999", d.calls.abandon_convention, d.calls.callbacks_in_service_level
        ),
        "calls_101_answered_within_30s": _service_level(
            c, "p101", d.calls.abandon_convention, d.calls.callbacks_in_service_level
        ),
        "calls_999_abandoned_rate": _pct(c["q999_B"] - c["q999_S"], c["q999_in"] - c["q999_S"]),
        "calls_101_abandoned_rate": _pct(c["o101_ab"], c["c101"] - c["o101_short"]),
        "calls_101_primary_abandoned_rate": _pct(c["p101_B"] - c["p101_S"], c["p101_in"] - c["p101_S"]),
        "webchat_abandoned_rate": _pct(c["wc_ab"], c["cwebchat"] - c["wc_short"]),
        "incidents_total": int(c["inc"]),
        "incidents_mental_health": int(c["inc_mh"]),
        "incidents_asb": int(c["inc_asb"]),
        "immediate_share": _pct(c["first_imm"], c["graded"]),
        "immediate_time_to_respond_mins": c["imm_sum_min"] / c["imm_n"] if c["imm_n"] else None,
        "immediate_within_target_rate": _pct(c["imm_hit"], c["imm_den"]),
        "priority_within_target_rate": _pct(c["pri_hit"], c["pri_den"]),
        "crime_all": int(c["crime"]),
        "crime_domestic_abuse": int(c["crime_da"]),
        "crime_recorded_within_24h_rate": _pct(c["crime_ncrs"], c["crime_rec"]),
        "outcome_rate_all": _pct(c["outcome_num"], c["crime"]),
        "social_threads": int(c["soc"]),
        "social_first_response_within_target": (
            _pct(c["soc_within"], c["soc"] - c["soc_short"])
            if received_basis
            else _pct(c["soc_within"], c["soc_resp"])
        ),
        "social_first_response_mins": c["soc_min_sum"] / c["soc_resp"] if c["soc_resp"] else None,
        "social_resolved_without_incident": _pct(c["soc_noinc"], c["soc_resolved"]),
        "social_abandoned": int(c["soc_ab"]),
        "social_abandoned_rate": _pct(c["soc_ab"], c["soc"] - c["soc_short"]),
    }
    families = {
        "contacts": c["c999"] + c["c101"] + c["cwebchat"] + c["conline"],
        "incidents": c["inc"],
        "crime": c["crime"],
        "social": c["soc"],
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
    folded = _fold(_subjects(list(simulate(config))), end)
    assert set(folded) == set(expected)
    for month, values in expected.items():
        assert set(folded[month]) == set(values), month
        for measure, value in values.items():
            assert folded[month][measure] == pytest.approx(value, rel=1e-9), (month, measure)


# Each definition the truth supports, changed at least once, then several at once. Values are
# chosen to move figures in a short run (see test_each_alternative_moves_the_truth).
ALTERNATIVES: tuple[tuple[str, ...], ...] = (
    ("timezone=America/New_York",),
    ("calls.service_threshold_seconds.999=7",),
    ("calls.service_threshold_seconds.101-primary=45",),
    ("calls.short_abandon_seconds.999=30",),
    ("calls.short_abandon_seconds.101-primary=15",),
    ("calls.short_abandon_seconds.webchat=60",),
    ("calls.abandon_convention=ignore",),
    ("calls.abandon_convention=count_as_met",),
    ("calls.abandon_convention=count_as_missed",),
    ("calls.abandon_convention=offered_basis",),
    ("calls.callbacks_in_service_level=missed",),
    ("calls.callbacks_in_service_level=missed", "calls.abandon_convention=ignore"),
    ("calls.clock_start_999=queued",),
    ("calls.clock_start_999=bt_connect",),
    ("calls.ivr_short_abandon_seconds=20",),
    ("calls.dedupe_short_abandons_from_volumes=true",),
    ("incidents.grade_basis=final",),
    ("incidents.response_clock=graded_at_arrival_grade",),
    ("incidents.response_clock=contact_offered",),
    ("incidents.target_minutes.IMMEDIATE_urban=10", "incidents.target_minutes.PRIORITY_rural=45"),
    ("incidents.exclude_self_initiated=false",),
    ("incidents.mental_health_basis=ever",),
    ("incidents.asb_basis=final_category",),
    ("incidents.asb_basis=qualifier_ever",),
    ("crimes.period_basis=occurred",),
    ("crimes.ncrs_hours=6",),
    ("crimes.prosecution_possible_types=[1,2,3,4,6,7]",),
    ("crimes.outcome_rate_basis=cohort",),
    ("social.first_response_target_minutes=30",),
    ("social.target_basis=received",),
    ("social.short_abandon_minutes=1",),
    (
        "timezone=Australia/Sydney",
        "calls.abandon_convention=offered_basis",
        "calls.clock_start_999=bt_connect",
        "calls.short_abandon_seconds.999=8",
        "incidents.response_clock=contact_offered",
        "incidents.exclude_self_initiated=false",
        "crimes.period_basis=occurred",
        "social.target_basis=received",
    ),
    (
        "calls.dedupe_short_abandons_from_volumes=true",
        "calls.ivr_short_abandon_seconds=20",
        "calls.short_abandon_seconds.101-primary=12",
        "incidents.response_clock=graded_at_arrival_grade",
        "incidents.target_minutes.IMMEDIATE_rural=25",
        "incidents.asb_basis=qualifier_ever",
        "crimes.outcome_rate_basis=cohort",
        "crimes.ncrs_hours=12",
        "social.short_abandon_minutes=1",
    ),
    (
        "timezone=America/New_York",
        "calls.abandon_convention=count_as_met",
        "calls.clock_start_999=queued",
        "calls.service_threshold_seconds.999=12",
        "incidents.grade_basis=final",
        "incidents.mental_health_basis=ever",
        "crimes.prosecution_possible_types=[1,2,3]",
        "social.first_response_target_minutes=45",
    ),
)
HALF_HOUR_ZONE = ("timezone=Asia/Kolkata",)
"""A zone whose month boundaries fall on the half hour (UTC+5:30)."""
ALT_CONFIG = SimConfig(start=date(2021, 1, 22), days=16, scale=0.5, seed=13, staffing=0.8)


@pytest.fixture(scope="module")
def one_run() -> tuple[Simulation, Subjects, datetime]:
    """One run crossing a month end: its truth book and its events by subject."""
    sim = Simulation(ALT_CONFIG)
    subjects = _subjects(list(sim.events()))
    return sim, subjects, from_ms(run_bounds(ALT_CONFIG)[1])


def test_alternatives_cover_every_supported_definition() -> None:
    changed = {a.split("=")[0] for alt in ALTERNATIVES for a in alt}
    for leaf in SUPPORTED:
        assert any(path == leaf or path.startswith(leaf + ".") for path in changed), leaf


@pytest.mark.parametrize(
    "overrides",
    (*ALTERNATIVES, HALF_HOUR_ZONE),
    ids=lambda o: "+".join(o) if len(o) < 3 else f"{len(o)} at once",
)
def test_truth_under_other_definitions_equals_an_independent_fold(
    one_run: tuple[Simulation, Subjects, datetime], overrides: tuple[str, ...]
) -> None:
    sim, subjects, end = one_run
    defs = Definitions().with_overrides(overrides)
    expected = sim.truth(definitions=defs)["cambs"]
    assert expected != sim.truth()["cambs"]  # the alternative moves some figure
    folded = _fold(subjects, end, defs)
    assert set(folded) == set(expected)
    for month, values in expected.items():
        assert set(folded[month]) == set(values), month
        for measure, value in values.items():
            assert folded[month][measure] == pytest.approx(value, rel=1e-9), (month, measure)


def test_a_channel_has_no_data_before_its_first_contact_and_zeros_after_it() -> None:
    """As the board's reader publishes them: a month before a channel's first contact has no
    volume for it (absent), a later month without any of its contacts has a true zero."""
    book = TruthBook()
    jan, feb, mar = (int(datetime(2024, m, 10, 12, tzinfo=UTC).timestamp() * 1000) for m in (1, 2, 3))
    for t in (jan, feb, mar):
        book.add("f", "call", CallFacts(channel="999", offered=t))
    book.add("f", "online", feb)
    months = book.measures()["f"]
    assert "contacts_online" not in months["2024-01"] and "contacts_101" not in months["2024-01"]
    assert months["2024-01"]["contacts_total"] == 1
    assert months["2024-02"]["contacts_online"] == 1
    assert months["2024-03"]["contacts_online"] == 0
    assert all("contacts_101" not in values for values in months.values())
