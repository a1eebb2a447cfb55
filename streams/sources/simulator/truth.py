"""Ground truth: the board's monthly figures computed from the simulator's own facts, under any
definitions.

The generator records, as it decides each contact, incident, crime and social media thread, the raw
facts of that entity (:class:`CallFacts`, :class:`IncidentFacts`, :class:`CrimeFacts`,
:class:`ThreadFacts`: the instants, in ms, of the events that carry them, grades, flags). It never
re-reads its events and never calls the hub's code. A fact exists only if the event that carries it
falls inside the run (``time < end``): the truth describes exactly what was emitted, as seen at the
end of the run ("extract time"). Fault-injected duplicates, late and out-of-order events do not change
it; malformed and hostile events are not part of it.

:meth:`TruthBook.measures` computes the figures from those facts under a
:class:`~schemas.definitions.Definitions` object (the defaults when none is given), so the truth
under another definition needs no new run: ``sim.truth(definitions=defs)``. "Wait" is always the
difference of two event times (exact milliseconds). Comparisons follow the definitions' words: a
service level or short abandon is a wait strictly below its threshold ("answered within 10 s" means
under 10 s; a short abandon is shorter than the threshold); an attendance target, the NCRS limit and
the social first-response target are met at or below it. The generator never produces a wait or
response exactly equal to a default threshold (5 s, 10 s, 30 s, 15/20/60 min, 24 h).

Supported definitions (:data:`SUPPORTED`; ``{}`` below names the setting):

- ``timezone``: every month is a calendar month in that zone.
- Calls: ``service_threshold_seconds`` (999, 101-primary), ``short_abandon_seconds`` (999,
  101-primary, webchat), ``abandon_convention`` and ``callbacks_in_service_level`` (999 and 101
  service levels), ``clock_start_999``
  (offered, queued, bt_connect: BT's connect time when the offer carried one, else the offer),
  ``ivr_short_abandon_seconds`` (None: no IVR hang-up is short), ``dedupe_short_abandons_from_volumes``.
- Incidents: ``grade_basis``, ``response_clock`` (created; graded_at_arrival_grade: when the incident
  took the grade held at first arrival, or now held when open; contact_offered: the offer of the
  call, chat or online report the incident came from, creation for the others),
  ``target_minutes``, ``exclude_self_initiated``, ``mental_health_basis``, ``asb_basis``.
- Crimes: ``period_basis``, ``ncrs_hours``, ``prosecution_possible_types``, ``outcome_rate_basis``.
- Social: ``first_response_target_minutes``, ``target_basis``, ``short_abandon_minutes``.

Not supported, because no measure of the truth depends on them: ``calls.band_edges_seconds`` (the
answer-time bands are not a truth measure), ``incidents.amber_share`` (the live open-incident watch
only), ``crimes.qa_snapshot_time`` (the QA/Linking queue depth is not a truth measure) and
``crimes.rural_incident_categories`` (rural crime is not a truth measure: the simulator does not
generate poaching or hare-coursing incidents). ``timezone`` moves only the month boundaries: the
simulator's own demand pattern stays that of Europe/London.

Period placement: calls and web chats by the month of ``offered``, except the per-queue figures
(the service levels and 999 abandonment) of a queue visit, by the month it joined the queue
(``call.queued``), as the board places queue legs; online reports by ``submitted``;
incidents by ``created``; crimes by ``recorded`` (``occurred`` under ``period_basis = occurred``;
NCRS timeliness always by ``recorded``); social media threads by ``received``.

- ``contacts_999`` / ``contacts_101``: calls offered with that channel (``call.offered``);
  ``contacts_webchat``: web-chat sessions offered; ``contacts_online``: online reports submitted;
  ``contacts_total``: the sum of the four. A channel has no data (its volume absent, not zero)
  in the months before its first contact. With ``dedupe_short_abandons_from_volumes`` a channel's
  volume leaves out its contacts never answered whose final abandon was short (999 and web chat:
  the queue abandon was short; 101: the end-to-end abandon below was short).
- ``calls_999_answered_within_10s`` / ``calls_101_answered_within_30s``: the service level of the
  999 queue / the 101 primary queue under ``abandon_convention`` (A answered in the queue, A_T of
  them with a wait below the queue's threshold, B abandoned in the queue, B_T of them with a wait
  below the threshold, S of them short): answered_basis A_T/A, ignore A_T/(A+B-B_T), count_as_met
  (A_T+B_T)/(A+B), count_as_missed A_T/(A+B), offered_basis A_T/(A+B-S). With
  ``callbacks_in_service_level = missed`` the calls that asked for a callback while in the queue (C)
  are added to the denominator (never met); ``excluded`` leaves them out. Calls that joined the
  queue only. The 999 wait runs on the service clock (``clock_start_999``) to the answer or
  abandon; the 101 wait from joining the queue (``call.queued``).
- ``calls_999_abandoned_rate``: percent: calls abandoned in the 999 queue minus short abandons
  (service-clock wait below the 999 short threshold), over calls queued there minus short abandons.
- ``calls_101_abandoned_rate``: end to end, percent: 101 calls offered that were never answered in
  any queue and abandoned (at the ``ivr`` or ``primary_queue`` stage: a call abandoned in transfer or
  in the secondary queue had been answered by the primary handler) and not short, over 101 calls
  offered minus those short ones. Short: an IVR hang-up below ``ivr_short_abandon_seconds`` from
  entering the IVR; a primary-queue abandon below the 101-primary short threshold from joining the
  queue. Callback requests are not abandons. A call still in progress at the end counts in the
  denominator only.
- ``calls_101_primary_abandoned_rate``: per queue, like 999: calls abandoned in the 101 primary
  queue minus short abandons (wait from joining the queue below its short threshold), over calls
  that joined it minus short abandons. (The secondary queue's rate is not part of the truth.)
- ``webchat_abandoned_rate``: sessions abandoned with a wait (abandon minus offered) not below the
  webchat short threshold, over sessions offered minus the short ones.
- ``incidents_total``: incidents created, excluding those merged as duplicates by the end (every
  channel, self-initiated and cancelled ones included).
- ``incidents_mental_health``: of those, the ones with the mental-health qualifier present at the
  end (``at_extract``) or ever added (``ever``).
- ``incidents_asb``: of those, by ``asb_basis``: ``known_at_settle``: the final category of an
  incident closed by the end, the opening category of one still open (not closed, cancelled or
  merged), is in the ASB chapter; ``final_category``: closed with a final ASB category;
  ``qualifier_ever``: the ASB qualifier was added.
- ``immediate_share``: percent of incidents created in the month and graded, excluding those
  cancelled or merged by the end, whose first grade (``grade_basis = final``: grade held at the
  end) is IMMEDIATE.
- Response population: incidents created in the month, graded, not cancelled or merged, not
  self-initiated when ``exclude_self_initiated``; the clock starts by ``response_clock``; the grade is
  the one held at first arrival (the latest grade or regrade before it; for an open incident the
  grade held at the end); the target is ``target_minutes['<GRADE>_<urban|rural>']``.
  ``immediate_time_to_respond_mins``: mean minutes (unrounded) from the clock start to first arrival
  of attended IMMEDIATE incidents. ``immediate_within_target_rate`` / ``priority_within_target_rate``:
  percent attended at or within target, over attended incidents with a target plus, as misses, open
  incidents (not attended, closed, cancelled or merged) with a target whose clock start plus target
  is before the end. Incidents closed without attendance are excluded.
- ``crime_all``: crimes recorded and not cancelled by the end, by period month;
  ``crime_domestic_abuse``: those with the domestic-abuse flag.
- ``crime_recorded_within_24h_rate``: percent of those recorded at most ``ncrs_hours`` after the
  first report (the earliest of the contact offered, the incident created, the online report
  submitted or the social media thread received), by recording month.
- ``outcome_rate_all``: percent over ``crime_all`` of the crimes whose current outcome type is in
  ``prosecution_possible_types``: counted in the month the current type was set (``period``) or in
  the crime's own period month (``cohort``).
- ``social_threads``: threads received (``social.received``).
- ``social_first_response_within_target``: percent of threads whose first response came at most
  ``first_response_target_minutes`` after receipt, over threads with a first response
  (``target_basis = responded``) or threads received less short abandons (``received``).
- ``social_first_response_mins``: mean minutes (unrounded) from receipt to first response.
- ``social_resolved_without_incident``: percent of threads closed by a handler whose disposition is
  not ``incident_created``, over threads closed by a handler.
- ``social_abandoned``: threads closed by the public before any response, less short abandons
  (closed less than ``short_abandon_minutes`` after receipt); ``social_abandoned_rate``: percent of
  them over threads received less short abandons.

Presence: a percent or mean is present when its denominator is positive. A count is present when
it is positive or when its family (contacts, incidents, crimes) has any record in the month; months
with nothing are absent (null), never zero. Social media threads are a family of their own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.contacts import CONTACT_CHANNELS
from schemas.definitions import Definitions
from streams.domain.servicelevel import QUEUE_MEASURES

_QUEUE_TALLIES: tuple[tuple[str, str], ...] = (("999", "q999"), ("101-primary", "p101"))
"""Queues whose visits the truth tallies, with the prefix of their tallies; their measures are named
by :data:`streams.domain.servicelevel.QUEUE_MEASURES`, the figures are the truth's own arithmetic."""

MEASURES: tuple[str, ...] = (
    "contacts_999",
    "contacts_101",
    "contacts_webchat",
    "contacts_online",
    "contacts_total",
    "calls_999_answered_within_10s",
    "calls_101_answered_within_30s",
    "calls_999_abandoned_rate",
    "calls_101_abandoned_rate",
    "calls_101_primary_abandoned_rate",
    "webchat_abandoned_rate",
    "incidents_total",
    "incidents_mental_health",
    "incidents_asb",
    "immediate_share",
    "immediate_time_to_respond_mins",
    "immediate_within_target_rate",
    "priority_within_target_rate",
    "crime_all",
    "crime_domestic_abuse",
    "crime_recorded_within_24h_rate",
    "outcome_rate_all",
    "social_threads",
    "social_first_response_within_target",
    "social_first_response_mins",
    "social_resolved_without_incident",
    "social_abandoned",
    "social_abandoned_rate",
)

SUPPORTED: tuple[str, ...] = (
    "timezone",
    "calls.service_threshold_seconds",
    "calls.short_abandon_seconds",
    "calls.abandon_convention",
    "calls.callbacks_in_service_level",
    "calls.clock_start_999",
    "calls.ivr_short_abandon_seconds",
    "calls.dedupe_short_abandons_from_volumes",
    "incidents.grade_basis",
    "incidents.response_clock",
    "incidents.target_minutes",
    "incidents.exclude_self_initiated",
    "incidents.mental_health_basis",
    "incidents.asb_basis",
    "crimes.period_basis",
    "crimes.ncrs_hours",
    "crimes.prosecution_possible_types",
    "crimes.outcome_rate_basis",
    "social.first_response_target_minutes",
    "social.target_basis",
    "social.short_abandon_minutes",
)
"""The definition leaves the truth follows (see the module docstring for the others)."""

SECOND_MS, MINUTE_MS, HOUR_MS = 1000, 60_000, 3_600_000


# -- raw facts, recorded by the generators as they decide (None: the event is after the run) -------
@dataclass(slots=True)
class CallFacts:
    """One 999 or 101 call or web chat. ``queued``/``answered``/``abandoned`` are the times of the
    call's first queue (999, 101-primary, webchat: whose entry is the offer)."""

    channel: str
    offered: int
    bt_connect: int | None = None
    ivr: int | None = None
    ivr_abandoned: int | None = None
    queued: int | None = None
    answered: int | None = None
    abandoned: int | None = None
    callback: int | None = None  # asked for a callback while in that first queue


@dataclass(slots=True)
class IncidentFacts:
    """One incident, as emitted by the end of the run."""

    created: int
    self_initiated: bool
    urban: bool
    opening_asb: bool
    linked_offer: int | None  # the offer of the contact it came from (call, chat, online report)
    graded: int | None = None
    first_grade: str = ""
    regraded: int | None = None
    new_grade: str = ""
    arrived: int | None = None
    closed: bool = False
    final_asb: bool = False
    cancelled: bool = False
    merged: bool = False
    asb_qualifier: bool = False
    mental_health_now: bool = False
    mental_health_ever: bool = False


@dataclass(slots=True)
class CrimeFacts:
    """One recorded crime: the outcome is the current one (type and when that type was set)."""

    recorded: int
    first_report: int
    occurred: int
    domestic_abuse: bool
    counted: bool = True  # not cancelled by the end
    outcome_type: int | None = None
    outcome_at: int | None = None


@dataclass(slots=True)
class ThreadFacts:
    """One social media thread."""

    received: int
    first_response: int | None = None
    public_abandon: int | None = None  # closed by the public before any response
    handler_closed: bool = False
    incident_disposition: bool = False


class _Months:
    """Local month labels of instants (ms) in one time zone (cached by quarter hour: every zone's
    offset is a whole number of quarter hours)."""

    def __init__(self, tz: str) -> None:
        self.zone = ZoneInfo(tz)
        self.cache: dict[int, str] = {}

    def __call__(self, t: int) -> str:
        key = t // (15 * MINUTE_MS)
        label = self.cache.get(key)
        if label is None:
            local = datetime.fromtimestamp(key * 15 * 60, UTC).astimezone(self.zone)
            label = self.cache[key] = f"{local.year:04d}-{local.month:02d}"
        return label


def _below(wait: int | None, seconds: int | None) -> bool:
    """A known wait (ms) strictly below a threshold in seconds (None: no threshold, never)."""
    return wait is not None and seconds is not None and wait < seconds * SECOND_MS


def _within(wait: int | None, minutes: float | None) -> bool:
    """A known duration (ms) at most a target in minutes (None: no target, never)."""
    return wait is not None and minutes is not None and wait <= minutes * MINUTE_MS


def service_level(
    a: float,
    a_t: float,
    b: float,
    b_t: float,
    s: float,
    convention: str,
    callbacks: float = 0,
    callback_basis: str = "excluded",
) -> tuple[float, float]:
    """(numerator, denominator) of a service level under an abandon convention and a callback
    basis, as ``schemas/definitions.py`` words them (A answered, A_T answered within T, B abandoned,
    B_T abandoned within T, S short abandons, C callback requests: misses under ``missed``)."""
    if callback_basis == "missed":
        num, den = service_level(a, a_t, b, b_t, s, convention)
        return num, den + callbacks
    if callback_basis != "excluded":
        raise ValueError(f"unknown callback basis {callback_basis!r}")
    if convention == "answered_basis":
        return a_t, a
    if convention == "ignore":
        return a_t, a + b - b_t
    if convention == "count_as_met":
        return a_t + b_t, a + b
    if convention == "count_as_missed":
        return a_t, a + b
    if convention == "offered_basis":
        return a_t, a + b - s
    raise ValueError(f"unknown abandon convention {convention!r}")


Counters = defaultdict[str, float]


def _call(by_month: dict[str, Counters], f: CallFacts, defs: Definitions, month: _Months) -> None:
    calls = defs.calls
    c = _tally(by_month, month(f.offered))
    c[f"c{f.channel}"] += 1
    if f.channel == "webchat":
        short = f.abandoned is not None and _below(
            f.abandoned - f.offered, calls.short_abandon_seconds.get("webchat")
        )
        c["wc_short" if short else "wc_ab"] += f.abandoned is not None
        c["dedupe_webchat"] += short
        return
    queue = "999" if f.channel == "999" else "101-primary"
    if f.channel == "999":
        clock = calls.clock_start_999
        start = f.queued if clock == "queued" else f.offered
        if clock == "bt_connect" and f.bt_connect is not None:
            start = f.bt_connect
    else:
        start = f.queued  # 101 queues: the clock starts on joining the queue
    threshold = calls.service_threshold_seconds.get(queue)
    short_s = calls.short_abandon_seconds.get(queue)
    p = "q999" if f.channel == "999" else "p101"
    if f.queued is not None and start is not None:
        q = _tally(by_month, month(f.queued))  # a queue visit counts in the month it joined the queue
        q[f"{p}_in"] += 1
        if f.answered is not None:
            q[f"{p}_A"] += 1
            q[f"{p}_AT"] += _below(f.answered - start, threshold)
        if f.abandoned is not None:
            q[f"{p}_B"] += 1
            q[f"{p}_BT"] += _below(f.abandoned - start, threshold)
            q[f"{p}_S"] += _below(f.abandoned - start, short_s)
        q[f"{p}_C"] += f.callback is not None
    if f.channel == "999":
        short = f.abandoned is not None and start is not None and _below(f.abandoned - start, short_s)
        c["dedupe_999"] += short
        return
    # 101 end to end: abandoned in the IVR or the primary queue (never answered in any queue)
    if f.ivr_abandoned is not None:
        entered = f.ivr if f.ivr is not None else f.offered
        short = _below(f.ivr_abandoned - entered, calls.ivr_short_abandon_seconds)
    elif f.abandoned is not None and f.queued is not None:
        short = _below(f.abandoned - f.queued, short_s)
    else:
        return
    c["o101_short" if short else "o101_ab"] += 1
    c["dedupe_101"] += short


def _incident(c: Counters, f: IncidentFacts, defs: Definitions, end: int) -> None:
    d = defs.incidents
    if f.merged:
        return  # a duplicate is not an incident of its own
    c["inc"] += 1
    c["inc_mh"] += f.mental_health_ever if d.mental_health_basis == "ever" else f.mental_health_now
    if d.asb_basis == "final_category":
        asb = f.closed and f.final_asb
    elif d.asb_basis == "qualifier_ever":
        asb = f.asb_qualifier
    else:  # known_at_settle: the final category when closed, the opening one while open
        asb = f.final_asb if f.closed else (f.opening_asb and not f.cancelled)
    c["inc_asb"] += asb
    if f.graded is None or f.cancelled:
        return
    final_grade = f.new_grade if f.regraded is not None else f.first_grade
    c["graded"] += 1
    c["first_imm"] += (f.first_grade if d.grade_basis == "first" else final_grade) == "IMMEDIATE"
    if f.self_initiated and d.exclude_self_initiated:
        return
    if f.arrived is None and f.closed:
        return  # closed without attendance
    grade = final_grade  # regrades come before the first arrival: the grade held at arrival
    if d.response_clock == "graded_at_arrival_grade":
        start = f.regraded if f.regraded is not None else f.graded
    elif d.response_clock == "contact_offered" and f.linked_offer is not None:
        start = f.linked_offer
    else:
        start = f.created
    target = d.target_minutes.get(f"{grade}_{'urban' if f.urban else 'rural'}")
    prefix = {"IMMEDIATE": "imm", "PRIORITY": "pri"}.get(grade)
    if f.arrived is not None:
        response = f.arrived - start
        if grade == "IMMEDIATE":
            c["imm_n"] += 1
            c["imm_sum_min"] += response / MINUTE_MS
        if prefix and target is not None:
            c[f"{prefix}_den"] += 1
            c[f"{prefix}_hit"] += _within(response, target)
    elif prefix and target is not None and start + target * MINUTE_MS < end:
        c[f"{prefix}_den"] += 1  # open, unattended and already past its target: a miss


def _tally(book: dict[str, Counters], label: str) -> Counters:
    c = book.get(label)
    if c is None:
        c = book[label] = defaultdict(float)
    return c


def _ratio(c: dict[str, float], num: str, den_plus: str, den_minus: str | None = None) -> float | None:
    den = c.get(den_plus, 0) - (c.get(den_minus, 0) if den_minus else 0)
    if den <= 0:
        return None
    return 100.0 * c.get(num, 0) / den


def _pct(num: float, den: float) -> float | None:
    return 100.0 * num / den if den > 0 else None


def _month_values(c: dict[str, float], defs: Definitions, unopened: frozenset[str]) -> dict[str, Any]:
    """The month's figures; ``unopened`` holds the contact channels ("999", "101", "webchat",
    "online") without a contact in this or any earlier month: their volumes are absent (no data),
    not zero."""
    g = c.get
    dedupe = defs.calls.dedupe_short_abandons_from_volumes
    volumes = {
        ch: g(f"c{ch}", 0) - (g(f"dedupe_{ch}", 0) if dedupe else 0) for ch in ("999", "101", "webchat")
    }
    volumes["online"] = g("conline", 0)
    counts = {
        "contacts_999": (volumes["999"], "contacts"),
        "contacts_101": (volumes["101"], "contacts"),
        "contacts_webchat": (volumes["webchat"], "contacts"),
        "contacts_online": (volumes["online"], "contacts"),
        "contacts_total": (sum(volumes.values()), "contacts"),
        "incidents_total": (g("inc", 0), "incidents"),
        "incidents_mental_health": (g("inc_mh", 0), "incidents"),
        "incidents_asb": (g("inc_asb", 0), "incidents"),
        "crime_all": (g("crime", 0), "crimes"),
        "crime_domestic_abuse": (g("crime_da", 0), "crimes"),
        "social_threads": (g("soc", 0), "social"),
        "social_abandoned": (g("soc_ab", 0), "social"),
    }
    family = {
        "contacts": g("c999", 0) + g("c101", 0) + g("cwebchat", 0) + g("conline", 0),
        "incidents": g("inc", 0),
        "crimes": g("crime", 0),
        "social": g("soc", 0),
    }
    values: dict[str, Any] = {}
    for measure, (count, fam) in counts.items():
        if (count > 0 or family[fam] > 0) and measure.removeprefix("contacts_") not in unopened:
            values[measure] = int(count)
    convention, callback_basis = defs.calls.abandon_convention, defs.calls.callbacks_in_service_level
    sl = {
        p: _pct(
            *service_level(
                g(f"{p}_A", 0),
                g(f"{p}_AT", 0),
                g(f"{p}_B", 0),
                g(f"{p}_BT", 0),
                g(f"{p}_S", 0),
                convention,
                g(f"{p}_C", 0),
                callback_basis,
            )
        )
        for p in ("q999", "p101")
    }
    received_basis = defs.social.target_basis == "received"
    mean_n = g("imm_n", 0)
    queue_rates = {
        p: {"sl": sl[p], "ab": _pct(g(f"{p}_B", 0) - g(f"{p}_S", 0), g(f"{p}_in", 0) - g(f"{p}_S", 0))}
        for p in ("q999", "p101")
    }
    ratios = {
        **{m: queue_rates[p][rate] for queue, p in _QUEUE_TALLIES for m, rate in QUEUE_MEASURES[queue]},
        "calls_101_abandoned_rate": _ratio(c, "o101_ab", "c101", "o101_short"),
        "webchat_abandoned_rate": _ratio(c, "wc_ab", "cwebchat", "wc_short"),
        "immediate_share": _ratio(c, "first_imm", "graded"),
        "immediate_time_to_respond_mins": (g("imm_sum_min", 0) / mean_n) if mean_n else None,
        "immediate_within_target_rate": _ratio(c, "imm_hit", "imm_den"),
        "priority_within_target_rate": _ratio(c, "pri_hit", "pri_den"),
        "crime_recorded_within_24h_rate": _ratio(c, "crime_ncrs", "crime_rec"),
        "outcome_rate_all": _ratio(c, "outcome_num", "crime"),
        "social_first_response_within_target": (
            _ratio(c, "soc_within", "soc", "soc_short")
            if received_basis
            else _ratio(c, "soc_within", "soc_resp")
        ),
        "social_first_response_mins": (g("soc_min_sum", 0) / g("soc_resp", 0)) if g("soc_resp", 0) else None,
        "social_resolved_without_incident": _ratio(c, "soc_noinc", "soc_resolved"),
        "social_abandoned_rate": _ratio(c, "soc_ab", "soc", "soc_short"),
    }
    values |= {m: v for m, v in ratios.items() if v is not None}
    return {m: values[m] for m in MEASURES if m in values}


def _crime(by_month: dict[str, Counters], f: CrimeFacts, defs: Definitions, month: _Months) -> None:
    if not f.counted:
        return
    d = defs.crimes
    period = month(f.occurred if d.period_basis == "occurred" else f.recorded)
    c = _tally(by_month, period)
    c["crime"] += 1
    c["crime_da"] += f.domestic_abuse
    rec = _tally(by_month, month(f.recorded))
    rec["crime_rec"] += 1
    rec["crime_ncrs"] += _within(f.recorded - f.first_report, d.ncrs_hours * 60)
    if f.outcome_type is None or f.outcome_at is None or f.outcome_type not in d.prosecution_possible_types:
        return
    if d.outcome_rate_basis == "cohort":
        c["outcome_num"] += 1
    else:
        _tally(by_month, month(f.outcome_at))["outcome_num"] += 1


def _thread(c: Counters, f: ThreadFacts, defs: Definitions) -> None:
    d = defs.social
    c["soc"] += 1
    if f.first_response is not None:
        wait = f.first_response - f.received
        c["soc_resp"] += 1
        c["soc_min_sum"] += wait / MINUTE_MS
        c["soc_within"] += _within(wait, d.first_response_target_minutes)
    if f.public_abandon is not None:
        short = _below(f.public_abandon - f.received, d.short_abandon_minutes * 60)
        c["soc_short" if short else "soc_ab"] += 1
    if f.handler_closed:
        c["soc_resolved"] += 1
        c["soc_noinc"] += not f.incident_disposition


class TruthBook:
    """Per force, the raw facts of every contact, incident, crime and social media thread the run
    emitted; :meth:`measures` computes the board's monthly figures from them under any definitions."""

    def __init__(self, end: int = 2**62) -> None:
        self.end = end
        self.facts: dict[str, dict[str, list[Any]]] = {}

    def add(self, force: str, kind: str, facts: Any) -> None:
        """Record one entity's facts (``kind``: call, online, incident, crime, thread); the object
        may still be filled in as the generator emits the entity's later events."""
        self.facts.setdefault(force, {}).setdefault(kind, []).append(facts)

    def measures(self, definitions: Definitions | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """``{force: {"YYYY-MM": {measure id: value}}}`` under ``definitions`` (default: the
        defaults of ``schemas/definitions.py``); see the module docstring."""
        defs = definitions or Definitions()
        month = _Months(defs.timezone)
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for force, kinds in sorted(self.facts.items()):
            by_month: dict[str, Counters] = {}
            for call in kinds.get("call", ()):
                _call(by_month, call, defs, month)
            for submitted in kinds.get("online", ()):
                _tally(by_month, month(submitted))["conline"] += 1
            for inc in kinds.get("incident", ()):
                _incident(_tally(by_month, month(inc.created)), inc, defs, self.end)
            for crime in kinds.get("crime", ()):
                _crime(by_month, crime, defs, month)
            for thread in kinds.get("thread", ()):
                _thread(_tally(by_month, month(thread.received)), thread, defs)
            out[force] = {}
            opened: dict[str, str] = {}  # channel -> its first month with a contact offered
            for label, c in sorted(by_month.items()):
                for channel in CONTACT_CHANNELS:
                    if c.get(f"c{channel}", 0) > 0:
                        opened.setdefault(channel, label)
                unopened = frozenset(ch for ch in CONTACT_CHANNELS if ch not in opened)
                values = _month_values(c, defs, unopened)
                if values:
                    out[force][label] = values
        return out
