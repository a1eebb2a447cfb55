"""Contacts: 999 and 101 calls through their queues, web chat, online reports.

999: offered (BT connect time a few seconds earlier when supplied) -> queued(999) -> answered |
abandoned -> ended. 101: offered -> IVR -> queued(101-primary) -> answered | abandoned | callback; a
share of answered calls is transferred -> [abandoned in transfer] -> queued(101-secondary) -> answered
| abandoned | callback -> ended. Web chat: offered -> answered | abandoned -> ended. Online reports:
submitted -> triaged -> linked (to the crime or incident they became).

Queue parameters (lognormal medians in seconds, log-sd): service 999 200 (0.6), 101 primary 240
(0.7), secondary 420 (0.6), web chat 600 (0.7, two chats per agent); patience 999 120 (1.0), 101 240
(1.0), secondary 300 (1.0), web chat 300 (1.0); plus a spike of 2-4 % of callers whose patience is
under 5 s. Staffing per hour follows the expected (not the realised) demand with square-root safety
staffing, so busy days and understaffing raise waits and abandonment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.sources.simulator.clock import HOUR, MINUTE, SECOND, iso
from streams.sources.simulator.context import ForceContext
from streams.sources.simulator.crimes import CrimeOrigin
from streams.sources.simulator.demand import hourly_rates
from streams.sources.simulator.geography import District
from streams.sources.simulator.incidents import IncidentModel, IncidentOrigin
from streams.sources.simulator.queues import ABANDONED, ANSWERED, Entry, QueueSim
from streams.sources.simulator.reference import ONLINE_OFFENCES
from streams.sources.simulator.truth import CallFacts

SHORT = 5 * SECOND


@dataclass(frozen=True)
class QueueSpec:
    series: str
    share: float  # share of the series' arrivals reaching this queue (for staffing)
    service_median_s: float
    service_sd: float
    patience_median_s: float
    patience_sd: float
    short_share: float
    safety: float  # square-root staffing coefficient
    occupancy: float  # planned load per agent
    per_agent: int = 1

    @property
    def mean_service_s(self) -> float:
        return self.service_median_s * math.exp(self.service_sd**2 / 2)


Q999 = QueueSpec("999", 1.0, 200, 0.6, 120, 1.0, 0.02, 1.6, 1.0)
Q101P = QueueSpec("101", 0.96, 240, 0.7, 240, 1.0, 0.03, 0.25, 1.02)
Q101S = QueueSpec("101", 0.2, 420, 0.6, 300, 1.0, 0.02, 0.4, 1.0)
QWEB = QueueSpec("webchat", 1.0, 600, 0.7, 300, 1.0, 0.04, 0.5, 1.0, per_agent=2)

INCIDENT_SHARE = {"999": 0.78, "101": 0.24, "webchat": 0.12}
TRANSFER_SHARE = 0.25
CALLBACK_WILLING = 0.3


@dataclass(slots=True)
class Call:
    cid: str
    channel: str
    offered: int
    district: District
    facts: CallFacts
    stage_start: int = 0  # when the current stage (queue, transfer) began


class ContactModel:
    """Generates the contacts of one force and feeds the incident model."""

    def __init__(
        self, ctx: ForceContext, incidents: IncidentModel, volume: float, staffing: float, start: int
    ) -> None:
        self.ctx = ctx
        self.incidents = incidents
        self.volume = volume
        self.staffing = staffing
        self.q999 = QueueSim("999", self._staffing(Q999), start)
        self.q101p = QueueSim("101-primary", self._staffing(Q101P), start)
        self.q101s = QueueSim("101-secondary", self._staffing(Q101S), start)
        self.qweb = QueueSim("webchat", self._staffing(QWEB), start)

    def _staffing(self, spec: QueueSpec) -> Callable[[int], int]:
        def agents(hour_start: int) -> int:
            lam = hourly_rates(hour_start)[spec.series] * spec.share * self.volume
            load = lam * spec.mean_service_s / 3600.0 / spec.per_agent
            staff = (load / spec.occupancy + spec.safety * math.sqrt(load)) * self.staffing
            return max(1, math.ceil(staff)) * spec.per_agent

        return agents

    def run_queues(self, end: int) -> None:
        """Handle every queued contact that arrived before ``end`` (order matters: transfers feed
        the secondary queue)."""
        self.q999.run_until(end)
        self.q101p.run_until(end)
        self.q101s.run_until(end)
        self.qweb.run_until(end)

    # --- shared draws -------------------------------------------------------------------------
    def _lognormal(self, median_s: float, sd: float) -> int:
        return max(1, int(median_s * SECOND * math.exp(sd * self.ctx.rng.gauss(0, 1))))

    def _entry(self, spec: QueueSpec, t: int, ctx: Call, done: Any, callback: bool) -> Entry:
        rng = self.ctx.rng
        if rng.random() < spec.short_share:
            patience = 200 + rng.randrange(SHORT - 300)
        else:
            patience = self._lognormal(spec.patience_median_s, spec.patience_sd)
        cb = (
            60 * SECOND + rng.randrange(50 * SECOND) if callback and rng.random() < CALLBACK_WILLING else None
        )
        service = self._lognormal(spec.service_median_s, spec.service_sd)
        pickup = SECOND + rng.randrange(3 * SECOND)
        return Entry(t, patience, service, cb, pickup, done, ctx)

    @staticmethod
    def _abandon_time(entry: Entry, when: int) -> int:
        return when + 1 if when - entry.arrival == SHORT else when

    # --- 999 --------------------------------------------------------------------------------
    def call_999(self, t: int) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        call = Call(ctx.subject("C"), "999", t, ctx.district(), CallFacts("999", t))
        offered: dict[str, Any] = {"channel": "999", "district": call.district.name}
        if rng.random() < 0.85:
            bt = t - 2 * SECOND - rng.randrange(7 * SECOND)
            offered["bt_connect_time"] = iso(bt)
            call.facts.bt_connect = bt
        ctx.emit("telephony", "call.offered.v1", t, call.cid, offered)
        ctx.record("call", call.facts)
        tq = t + 200 + rng.randrange(1000)
        if ctx.emit("telephony", "call.queued.v1", tq, call.cid, {"queue": "999"}):
            call.facts.queued = tq
            call.stage_start = tq
            self.q999.add(self._entry(Q999, tq, call, self._done_999, False))

    def _done_999(self, e: Entry, outcome: str, when: int) -> None:
        call: Call = e.ctx
        ctx = self.ctx
        if outcome == ANSWERED:
            if when - call.offered == 10 * SECOND:
                when += 1
            if ctx.emit("telephony", "call.answered.v1", when, call.cid, {"queue": "999"}):
                call.facts.answered = when
            self._serve(call, when, e.service)
            return
        while when - e.arrival == SHORT or when - call.offered == SHORT:
            when += 1  # no wait exactly on the threshold, on either clock
        data = {"stage": "primary_queue", "queue": "999", "wait_seconds": (when - e.arrival) / 1000}
        if ctx.emit("telephony", "call.abandoned.v1", when, call.cid, data):
            call.facts.abandoned = when
        self._end(call, when + 1, "abandoned", None)

    # --- 101 --------------------------------------------------------------------------------
    def call_101(self, t: int) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        call = Call(ctx.subject("C"), "101", t, ctx.district(), CallFacts("101", t))
        ctx.emit(
            "telephony", "call.offered.v1", t, call.cid, {"channel": "101", "district": call.district.name}
        )
        ctx.record("call", call.facts)
        ti = t + 300 + rng.randrange(1200)
        if not ctx.emit("telephony", "call.ivr_entered.v1", ti, call.cid, {"menu": "main"}):
            return
        call.facts.ivr = ti
        ivr = self._lognormal(35, 0.35) + 2 * SECOND
        if rng.random() < 0.04:
            ta = ti + SHORT + 1 + rng.randrange(max(1, ivr - SHORT))
            self._abandon_101(call, ta, "ivr", None, ta - ti)
            return
        tq = ti + ivr
        if ctx.emit("telephony", "call.queued.v1", tq, call.cid, {"queue": "101-primary"}):
            call.facts.queued = tq
            call.stage_start = tq
            self.q101p.add(self._entry(Q101P, tq, call, self._done_101p, True))

    def _abandon_101(self, call: Call, when: int, stage: str, queue: str | None, wait: int) -> None:
        data: dict[str, Any] = {"stage": stage, "wait_seconds": wait / 1000}
        if queue:
            data["queue"] = queue
        if self.ctx.emit("telephony", "call.abandoned.v1", when, call.cid, data):
            if stage == "ivr":
                call.facts.ivr_abandoned = when
            elif stage == "primary_queue":
                call.facts.abandoned = when
        self._end(call, when + 1, "abandoned", None)

    def _callback(self, call: Call, when: int, queue: str) -> None:
        emitted = self.ctx.emit("telephony", "call.callback_requested.v1", when, call.cid, {"queue": queue})
        if emitted and queue == "101-primary":
            call.facts.callback = when
        self._end(call, when + 1, "callback_requested", None)

    def _done_101p(self, e: Entry, outcome: str, when: int) -> None:
        call: Call = e.ctx
        ctx, rng = self.ctx, self.ctx.rng
        if outcome == ANSWERED:
            if when - e.arrival == 30 * SECOND:
                when += 1
            if ctx.emit("telephony", "call.answered.v1", when, call.cid, {"queue": "101-primary"}):
                call.facts.answered = when
            if rng.random() >= TRANSFER_SHARE:
                self._serve(call, when, e.service)
                return
            tt = when + max(SECOND, e.service // 2)
            data = {"from_queue": "101-primary", "to_queue": "101-secondary"}
            if not ctx.emit("telephony", "call.transferred.v1", tt, call.cid, data):
                return
            if rng.random() < 0.015:
                ta = tt + SHORT + 1 + rng.randrange(15 * SECOND)
                self._abandon_101(call, ta, "in_transfer", None, ta - tt)
                return
            tq = tt + 2 * SECOND + rng.randrange(4 * SECOND)
            if ctx.emit("telephony", "call.queued.v1", tq, call.cid, {"queue": "101-secondary"}):
                self.q101s.add(self._entry(Q101S, tq, call, self._done_101s, True))
        elif outcome == ABANDONED:
            when = self._abandon_time(e, when)
            self._abandon_101(call, when, "primary_queue", "101-primary", when - e.arrival)
        else:
            self._callback(call, when, "101-primary")

    def _done_101s(self, e: Entry, outcome: str, when: int) -> None:
        call: Call = e.ctx
        if outcome == ANSWERED:
            self.ctx.emit("telephony", "call.answered.v1", when, call.cid, {"queue": "101-secondary"})
            self._serve(call, when, e.service)
        elif outcome == ABANDONED:
            when = self._abandon_time(e, when)
            self._abandon_101(call, when, "secondary_queue", "101-secondary", when - e.arrival)
        else:
            self._callback(call, when, "101-secondary")

    # --- after answer -------------------------------------------------------------------------
    def _serve(self, call: Call, answered: int, service: int) -> None:
        """The handler deals with the contact; a share becomes an incident."""
        rng = self.ctx.rng
        incident_id = None
        if rng.random() < INCIDENT_SHARE[call.channel]:
            created = answered + max(SECOND, int(service * (0.25 + 0.5 * rng.random())))
            incident_id = self.incidents.incident(
                IncidentOrigin(created, call.channel, call.offered, call.cid, None, call.district)
            )
            disposition = "incident_created"
        else:
            disposition = rng.choice(("advice_given", "redirected", "no_police_action", "information"))
        self._end(call, answered + service + SECOND, disposition, incident_id)

    def _end(self, call: Call, when: int, disposition: str, incident_id: str | None) -> None:
        data: dict[str, Any] = {"disposition": disposition}
        if incident_id:
            data["incident_id"] = incident_id
        etype = "webchat.ended.v1" if call.channel == "webchat" else "call.ended.v1"
        self.ctx.emit("chat" if call.channel == "webchat" else "telephony", etype, when, call.cid, data)

    # --- web chat -----------------------------------------------------------------------------
    def webchat(self, t: int) -> None:
        ctx = self.ctx
        call = Call(ctx.subject("W"), "webchat", t, ctx.district(), CallFacts("webchat", t, queued=t))
        data = {"queue": "webchat", "district": call.district.name}
        ctx.emit("chat", "webchat.offered.v1", t, call.cid, data)
        ctx.record("call", call.facts)
        self.qweb.add(self._entry(QWEB, t, call, self._done_web, False))

    def _done_web(self, e: Entry, outcome: str, when: int) -> None:
        call: Call = e.ctx
        ctx = self.ctx
        if outcome == ANSWERED:
            if ctx.emit("chat", "webchat.answered.v1", when, call.cid, {"queue": "webchat"}):
                call.facts.answered = when
            self._serve(call, when, e.service)
            return
        when = self._abandon_time(e, when)
        if ctx.emit("chat", "webchat.abandoned.v1", when, call.cid, {"queue": "webchat"}):
            call.facts.abandoned = when
        self._end(call, when + 1, "abandoned", None)

    # --- online reports -----------------------------------------------------------------------
    def online_report(self, t: int) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        rid = ctx.subject("O")
        district = ctx.district()
        u = rng.random()
        kind = (
            "crime"
            if u < 0.6
            else "asb"
            if u < 0.72
            else "traffic"
            if u < 0.82
            else "intelligence"
            if u < 0.92
            else "other"
        )
        ctx.emit(
            "portal", "online_report.submitted.v1", t, rid, {"report_type": kind, "district": district.name}
        )
        ctx.record("online", t)
        tt = t + MINUTE + int(5 * HOUR * math.exp(rng.gauss(0, 1)))
        outcome = self._triage(kind)
        if not ctx.emit("portal", "online_report.triaged.v1", tt, rid, {"outcome": outcome}):
            return
        if outcome == "crime":
            self._online_crime(rid, district, t, tt)
        elif outcome == "incident":
            category = {"asb": "ASB_NUISANCE", "traffic": "TRANSPORT_ROAD_RELATED_OFFENCE"}.get(
                kind, "PUBLIC_SAFETY_SUSPICIOUS_CIRCUMSTANCES"
            )
            created = tt + MINUTE + rng.randrange(4 * MINUTE)
            iid = self.incidents.incident(IncidentOrigin(created, "online", t, rid, rid, district, category))
            ctx.emit("portal", "online_report.linked.v1", created + MINUTE, rid, {"incident_id": iid})

    def _triage(self, kind: str) -> str:
        u = self.ctx.rng.random()
        if kind == "crime":
            return "crime" if u < 0.8 else "no_further_action" if u < 0.9 else "referred"
        if kind in ("asb", "traffic"):
            return "incident" if u < 0.45 else "no_further_action" if u < 0.8 else "referred"
        return "referred" if u < 0.6 else "no_further_action"

    def _online_crime(self, rid: str, district: District, submitted: int, triaged: int) -> None:
        rng = self.ctx.rng
        offence = self.ctx.weighted_code(ONLINE_OFFENCES)
        reported = triaged + MINUTE
        crime_id = self.incidents.crimes.crime(
            CrimeOrigin(
                reported_at=reported,
                first_report=submitted,
                offence=offence,
                district=district.name,
                area=district.area,
                urban=rng.random() < district.urban_share,
                domestic_abuse=False,
                hate_strand=None,
                online_report_id=rid,
            )
        )
        self.ctx.emit("portal", "online_report.linked.v1", reported + MINUTE, rid, {"crime_id": crime_id})
