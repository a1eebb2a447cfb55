"""Pure lifecycles of contacts: 999 / 101 calls, web chats and online reports (DOMAIN 3.2, 4.1-4.5).

Facts produced (one table each; every row of a table has the same keys):

``contact_legs``: one row per queue visit of a call or chat. A leg is identified by the contact and
its queue (``leg_id = "<subject>/<queue>"``), so its identity never depends on arrival order; a
contact that returns to a queue it already visited is folded into that one leg (first entry, first
end). Legs only ever appear as events arrive (every queue named by any event of the contact makes a
leg), so no fact ever has to be withdrawn by a new event (a conflicting copy can change one; see
:mod:`streams.domain.base`).

A contact is counted from its offer (requested chat, submitted report): until that event has arrived
the contact has no fact at all and every event it has is quarantined (``missing_opening``), so an
answer for a call never offered is never a phantom answered contact. Out-of-order delivery is normal,
so this is judged at each fold over the whole history: when the offer arrives, the next fold takes
the held events in and their quarantine is resolved.

``contacts``: one row per contact end to end (calls, chats, and online reports with channel
``online``).

Lifecycle rules (order-independent: the fold only uses the set of events and their times):
- a queue visit starts when the contact is queued there, or is transferred to it; it ends at the
  first valid answer, abandon or callback request for that queue;
- an abandon that names no queue is placed by its stage: ``primary_queue`` on the first leg that is
  not a transfer target, ``in_transfer`` / ``secondary_queue`` on the latest transfer target;
  ``ivr`` abandons belong to no queue (IVR hang-ups count only at the ivr stage);
- callback requests end a leg but are not abandons;
- impossible events are quarantined with a reason: a second offer / end, an end of the contact before
  its offer, an end of a leg before it started or after another end of the same leg, anything before
  the offer or after the contact ended.

Facts keep what happened and no definition: every raw time of the contact (offer, BT connect, IVR
entry) and of each queue visit (entry, queued, transferred in / out, answer, abandon, callback), and
``wait_seconds``, the raw queue wait (queue entry -> answer / abandon / callback; the platform's wait
when only that is known). The service clock (``CallDefinitions.clock_start_999``), service and
short-abandon thresholds and short abandons (queue and IVR) are applied when figures are read, in
ClickHouse (:mod:`sinks.clickhouse.contacts_sql`); :func:`streams.domain.servicelevel.service_wait`
is the same rule in Python. The fold reads no definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.contacts import CallAbandoned, CallCallbackRequested, CallOffered, CallTransferred
from schemas.definitions import Definitions
from schemas.envelope import Envelope
from schemas.events import verb_of
from streams.domain.base import FoldResult, Row, dedupe_sorted

LEGS = "contact_legs"
CONTACTS = "contacts"
END_RANK = {"answered": 0, "callback": 1, "abandoned": 2}
IN_QUEUE_STAGES = ("primary_queue", "secondary_queue")


class _Ev:
    """A contact event reduced to what the lifecycle needs (never changed once made). ``key`` orders
    events: time, then ends by rank (answered, callback, abandoned), then source and id."""

    __slots__ = ("env", "key", "kind", "platform_wait", "queue", "stage", "time", "to_queue")

    def __init__(
        self,
        kind: str,  # offered, ivr, queued, answered, abandoned, callback, transferred, ended
        time: datetime,
        env: Envelope,
        queue: str | None = None,
        to_queue: str | None = None,
        stage: str | None = None,
        platform_wait: float | None = None,
    ) -> None:
        self.kind = kind
        self.time = time
        self.env = env
        self.queue = queue
        self.to_queue = to_queue
        self.stage = stage
        self.platform_wait = platform_wait
        self.key: tuple[Any, ...] = (time, END_RANK.get(kind, 9), env.source, env.id)


def _ev_key(ev: _Ev) -> tuple[Any, ...]:
    return ev.key


def _field(data: Any, name: str, default: Any = None) -> Any:
    """``data``'s field ``name``, or ``default`` when there is no data or its model has no such field
    (cheaper than ``getattr`` with a default: a missing attribute on a pydantic model builds an
    exception)."""
    return getattr(data, name) if data is not None and name in type(data).__pydantic_fields__ else default


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def _first(events: Sequence[_Ev]) -> _Ev | None:
    if len(events) == 1:
        return events[0]
    return min(events, key=_ev_key) if events else None


# -- normalising events ----------------------------------------------------------------------------
def _call_event(e: Envelope) -> _Ev:
    verb, d = verb_of(e.type), e.data
    if verb == "ivr_entered":
        return _Ev("ivr", e.time, e)
    if verb == "callback_requested":
        return _Ev("callback", e.time, e, queue=e.payload(CallCallbackRequested).queue)
    if verb == "transferred":
        moved = e.payload(CallTransferred)
        return _Ev("transferred", e.time, e, queue=moved.from_queue, to_queue=moved.to_queue)
    if verb == "abandoned":
        gone = e.payload(CallAbandoned)
        return _Ev(
            "abandoned", e.time, e, queue=gone.queue, stage=str(gone.stage), platform_wait=gone.wait_seconds
        )
    return _Ev(verb, e.time, e, queue=_field(d, "queue"))


def _webchat_events(e: Envelope) -> list[_Ev]:
    verb, q = verb_of(e.type), _field(e.data, "queue")
    if verb == "offered":  # a chat is queued when it is requested
        return [_Ev("offered", e.time, e), _Ev("queued", e.time, e, queue=q)]
    if verb == "abandoned":
        return [_Ev("abandoned", e.time, e, queue=q, stage="primary_queue")]
    return [_Ev(verb, e.time, e, queue=q)]


# -- legs --------------------------------------------------------------------------------------------
@dataclass
class _Leg:
    queue: str
    named_at: list[datetime] = field(default_factory=list)
    queued: list[_Ev] = field(default_factory=list)
    transfers_in: list[_Ev] = field(default_factory=list)
    transfers_out: list[_Ev] = field(default_factory=list)
    ends: list[_Ev] = field(default_factory=list)
    end: _Ev | None = None

    # Set by :meth:`seal` once every start of the lifecycle is placed (the lifecycle places every
    # naming, queueing and transfer, then the ends), read many times after; never read before.
    queued_at: datetime | None = field(init=False)
    transfer_in: _Ev | None = field(init=False)
    entered_at: datetime | None = field(init=False)
    start_key: tuple[Any, ...] = field(init=False)

    def seal(self) -> None:
        """Compute the leg's start times from its starts (all placed by now)."""
        first = _first(self.queued)
        self.queued_at = first.time if first else None
        self.transfer_in = t_in = _first(self.transfers_in)
        times = [t for t in (self.queued_at, t_in and t_in.time) if t]
        self.entered_at = min(times) if times else None
        self.start_key = (self.entered_at or min(self.named_at), t_in is not None, self.queue)


@dataclass
class _Lifecycle:
    """The state of one call or chat, built from its events in any order."""

    channel: str
    events: list[_Ev]
    quarantined: list[tuple[Envelope, str]] = field(default_factory=list)
    legs: dict[str, _Leg] = field(default_factory=dict)
    offered: _Ev | None = None
    ended: _Ev | None = None
    ivr_abandon: _Ev | None = None

    def quarantine(self, ev: _Ev, why: str) -> None:
        if all(ev.env is not q for q, _ in self.quarantined):
            self.quarantined.append((ev.env, why))

    def leg(self, queue: str, time: datetime) -> _Leg:
        found = self.legs.get(queue)
        if found is None:
            found = self.legs[queue] = _Leg(queue)
        found.named_at.append(time)
        return found

    def run(self) -> None:
        self.offered = self._single("offered")
        self.ended = self._single("ended")
        if self.offered is not None and self.ended is not None and self.ended.time < self.offered.time:
            self.quarantine(self.ended, "time_order: ended before the contact was offered")
            self.ended = None
        for ev in self.events:
            for q in (ev.queue, ev.to_queue):
                if q:
                    self.leg(q, ev.time)
        dropped = {id(env) for env, _ in self.quarantined}
        valid = [e for e in self.events if id(e.env) not in dropped and self._in_lifetime(e)]
        for ev in valid:  # starts first, so placing a queue-less abandon sees every transfer
            if ev.kind not in END_RANK:
                self._place(ev)
        for leg in self.legs.values():
            leg.seal()
        for ev in valid:
            if ev.kind in END_RANK:
                self._place(ev)
        for leg in self.legs.values():
            self._settle(leg)

    def _single(self, kind: str) -> _Ev | None:
        found = [e for e in self.events if e.kind == kind]
        if len(found) > 1:
            found.sort(key=_ev_key)
        for extra in found[1:]:
            self.quarantine(extra, f"second {kind} event for the contact")
        return found[0] if found else None

    def _in_lifetime(self, ev: _Ev) -> bool:
        if ev.kind in ("offered", "ended"):
            return False
        if self.offered and ev.time < self.offered.time:
            self.quarantine(ev, f"{ev.kind} before the contact was offered")
            return False
        if self.ended and ev.time > self.ended.time:
            self.quarantine(ev, f"{ev.kind} after the contact ended")
            return False
        return True

    def _place(self, ev: _Ev) -> None:
        if ev.kind == "queued" and ev.queue:
            self.legs[ev.queue].queued.append(ev)
        elif ev.kind == "transferred" and ev.queue and ev.to_queue:
            self.legs[ev.queue].transfers_out.append(ev)
            self.legs[ev.to_queue].transfers_in.append(ev)
        elif ev.kind in END_RANK:
            self._place_end(ev)

    def _place_end(self, ev: _Ev) -> None:
        if ev.kind == "abandoned" and ev.stage == "ivr":
            if self.ivr_abandon is None or ev.key < self.ivr_abandon.key:
                if self.ivr_abandon is not None:
                    self.quarantine(self.ivr_abandon, "second ivr abandon")
                self.ivr_abandon = ev
            else:
                self.quarantine(ev, "second ivr abandon")
            return
        leg = self.legs.get(ev.queue) if ev.queue else self._leg_for_stage(ev.stage)
        if leg is not None:
            leg.ends.append(ev)

    def _leg_for_stage(self, stage: str | None) -> _Leg | None:
        ordered = sorted(self.legs.values(), key=lambda leg: leg.start_key)
        if stage == "primary_queue":
            primaries = [leg for leg in ordered if not leg.transfers_in]
            return primaries[0] if primaries else None
        targets = [leg for leg in ordered if leg.transfers_in]
        return targets[-1] if targets else None

    def _settle(self, leg: _Leg) -> None:
        start = leg.entered_at
        for ev in sorted(leg.ends, key=_ev_key):
            if start is not None and ev.time < start:
                self.quarantine(ev, f"{ev.kind} in {leg.queue} before the contact entered it")
            elif leg.end is not None:
                self.quarantine(ev, f"{ev.kind} in {leg.queue} after it already {leg.end.kind}")
            else:
                leg.end = ev

    def ordered_legs(self) -> list[_Leg]:
        return sorted(self.legs.values(), key=lambda leg: leg.start_key)


# -- rows --------------------------------------------------------------------------------------------
def _leg_outcome(leg: _Leg) -> str:
    if leg.end is not None:
        return {"answered": "answered", "abandoned": "abandoned", "callback": "callback"}[leg.end.kind]
    return "transferred" if leg.transfers_out else "waiting"


def _leg_row(life: _Lifecycle, leg: _Leg, index: int, base: Row) -> Row:
    end = leg.end
    end_at = end.time if end else None
    kind = end.kind if end else None
    wait = _seconds(leg.entered_at, end_at)
    if wait is None and end is not None and end.platform_wait is not None:
        wait = float(end.platform_wait)
    stage = end.stage if end is not None and end.kind == "abandoned" else None
    in_queue_abandon = kind == "abandoned" and stage in IN_QUEUE_STAGES
    t_in, t_out = leg.transfer_in, _first(leg.transfers_out)
    return {
        **base,
        "leg_id": f"{base['contact_id']}/{leg.queue}",
        "queue": leg.queue,
        "leg_index": index,
        "stage": "secondary_queue" if t_in else "primary_queue",
        "entered_at": leg.entered_at,
        "queued_at": leg.queued_at,
        "transferred_in_at": t_in.time if t_in else None,
        "transferred_from": t_in.queue if t_in and t_in.queue else "",
        "answered_at": end_at if kind == "answered" else None,
        "abandoned_at": end_at if kind == "abandoned" else None,
        "abandon_stage": stage or "",
        "callback_at": end_at if kind == "callback" else None,
        "callback_requested": kind == "callback",
        "transferred_out_at": t_out.time if t_out else None,
        "transferred_to": t_out.to_queue if t_out and t_out.to_queue else "",
        "outcome": _leg_outcome(leg),
        "entered_queue": leg.queued_at is not None or kind in ("answered", "callback") or in_queue_abandon,
        "abandoned_in_queue": in_queue_abandon,
        "wait_seconds": wait,
        "placed_at": leg.entered_at or min(leg.named_at),
        "contact_ended_at": life.ended.time if life.ended else None,
    }


def _infer_channel(life: _Lifecycle) -> str:
    if life.offered is not None:
        return (
            life.channel if life.channel == "webchat" else str(life.offered.env.payload(CallOffered).channel)
        )
    if life.channel == "webchat":
        return "webchat"
    queues = set(life.legs)
    if "999" in queues:
        return "999"
    if any(q.startswith("101") for q in queues):
        return "101"
    return ""


def _base(life: _Lifecycle, subject: str, force_id: str) -> Row:
    district = _field(life.offered.env.data, "district") if life.offered else None
    bt = _field(life.offered.env.data, "bt_connect_time") if life.offered else None
    return {
        "force_id": force_id,
        "contact_id": subject,
        "channel": _infer_channel(life),
        "district": district or "",
        "offered_at": life.offered.time if life.offered else None,
        "bt_connect_at": bt,
    }


def _contact_outcome(life: _Lifecycle, legs: list[Row]) -> tuple[str, Row | None]:
    """Final outcome and the leg (if any) that decided it: the last leg's end if it has one; else an
    IVR abandon; else, once ended, answered (if any leg was) or ended; else still waiting."""
    final = legs[-1] if legs else None
    if final is not None and final["outcome"] in ("answered", "abandoned", "callback"):
        return (final["outcome"], final)
    answered = [leg for leg in legs if leg["outcome"] == "answered"]
    if life.ivr_abandon is not None and not answered:
        return ("abandoned", None)
    if life.ended is not None:
        return ("answered", answered[-1]) if answered else ("ended", None)
    return ("waiting", None)


def _contact_row(life: _Lifecycle, base: Row, legs: list[Row], first_time: datetime) -> Row:
    outcome, decider = _contact_outcome(life, legs)
    answered = [leg["answered_at"] for leg in legs if leg["answered_at"] is not None]
    stage = ""
    abandoned_at = None
    abandon_queue, abandon_wait = "", None
    if outcome == "abandoned":
        if decider is None:
            stage, abandoned_at = "ivr", life.ivr_abandon.time if life.ivr_abandon else None
        else:
            stage, abandoned_at = decider["abandon_stage"], decider["abandoned_at"]
            abandon_queue, abandon_wait = decider["queue"], decider["wait_seconds"]
    offered_at = base["offered_at"]
    final_answer = max(answered) if answered else None
    ended_data = life.ended.env.data if life.ended else None
    ivr_entries = [e.time for e in life.events if e.kind == "ivr"]
    return {
        **_empty_contact(base),
        "placed_at": offered_at or first_time,
        "first_queue": legs[0]["queue"] if legs else "",
        "legs": len(legs),
        "reached_ivr": bool(ivr_entries) or life.ivr_abandon is not None,
        "ivr_entered_at": min(ivr_entries) if ivr_entries else None,
        "reached_primary": any(leg["stage"] == "primary_queue" and leg["entered_queue"] for leg in legs),
        "transferred": any(leg["transferred_to"] for leg in legs),
        "reached_secondary": any(leg["stage"] == "secondary_queue" and leg["entered_queue"] for leg in legs),
        "outcome": outcome,
        "ever_answered": bool(answered),
        "first_answered_at": min(answered) if answered else None,
        "answered_at": final_answer,
        "e2e_wait_seconds": _seconds(offered_at, final_answer),
        "abandoned_at": abandoned_at,
        "abandon_stage": stage,
        "abandon_queue": abandon_queue,
        "abandon_wait_seconds": abandon_wait,
        "callback_requested": any(leg["callback_requested"] for leg in legs),
        "ended_at": life.ended.time if life.ended else None,
        "disposition": _field(ended_data, "disposition", "") or "",
        "incident_id": _field(ended_data, "incident_id") or "",
    }


def _empty_contact(base: Row) -> Row:
    """Every column of ``contacts`` with its neutral value (so all rows share the same keys)."""
    return {
        "force_id": base["force_id"],
        "contact_id": base["contact_id"],
        "channel": base["channel"],
        "district": base["district"],
        "offered_at": base["offered_at"],
        "bt_connect_at": base.get("bt_connect_at"),
        "placed_at": base["offered_at"],
        "first_queue": "",
        "legs": 0,
        "reached_ivr": False,
        "ivr_entered_at": None,
        "reached_primary": False,
        "transferred": False,
        "reached_secondary": False,
        "outcome": "",
        "ever_answered": False,
        "first_answered_at": None,
        "answered_at": None,
        "e2e_wait_seconds": None,
        "abandoned_at": None,
        "abandon_stage": "",
        "abandon_queue": "",
        "abandon_wait_seconds": None,
        "callback_requested": False,
        "ended_at": None,
        "disposition": "",
        "incident_id": "",
        "report_type": "",
        "triaged_at": None,
        "triage_outcome": "",
        "crime_id": "",
    }


def _fold_contact(channel: str, raw: list[_Ev]) -> FoldResult:
    if not raw:
        return FoldResult()
    life = _Lifecycle(channel, raw)
    life.run()
    if life.offered is None:
        return FoldResult(quarantined=_without_opening(raw, "contact", "offer"))
    subject, force_id = raw[0].env.subject, raw[0].env.force_id
    base = _base(life, subject, force_id)
    legs = [_leg_row(life, leg, i, base) for i, leg in enumerate(life.ordered_legs())]
    contact = _contact_row(life, base, legs, raw[0].time)
    return FoldResult(rows={LEGS: legs, CONTACTS: [contact]}, quarantined=life.quarantined)


def _without_opening(raw: Sequence[_Ev], what: str, opening: str) -> list[tuple[Envelope, str]]:
    """Every event of a subject whose opening event has not arrived: held out of the facts (a contact
    is counted from its offer) until it arrives, when the next fold takes them in again."""
    out: list[tuple[Envelope, str]] = []
    for ev in sorted(raw, key=_ev_key):
        if all(ev.env is not q for q, _ in out):
            verb = verb_of(ev.env.type)
            out.append(
                (
                    ev.env,
                    f"missing_opening: {verb} for a {what} with no {opening} (held out until it arrives)",
                )
            )
    return out


class CallFold:
    """999 and 101 calls: legs per queue visit and one contact row (see the module docstring)."""

    name = "calls"
    entities: tuple[str, ...] = ("call",)
    tables: tuple[str, ...] = (LEGS, CONTACTS)

    def fold(self, events: Sequence[Envelope], definitions: Definitions) -> FoldResult:
        raw = [_call_event(e) for e in dedupe_sorted(events)]
        return _fold_contact("call", raw)


class WebchatFold:
    """Web chats: requested (= queued) -> accepted | abandoned -> ended; one leg per chat queue."""

    name = "webchat"
    entities: tuple[str, ...] = ("webchat",)
    tables: tuple[str, ...] = (LEGS, CONTACTS)

    def fold(self, events: Sequence[Envelope], definitions: Definitions) -> FoldResult:
        raw = [ev for e in dedupe_sorted(events) for ev in _webchat_events(e)]
        return _fold_contact("webchat", raw)


class OnlineReportFold:
    """Online reports: one ``contacts`` row per submission (channel ``online``).

    Without a submission there is no fact and every event is quarantined until it arrives; triage /
    link events before the submission are quarantined; the first submission and first triage count
    (later copies under other ids are quarantined); link ids are the latest given.
    """

    name = "online_report"
    entities: tuple[str, ...] = ("online_report",)
    tables: tuple[str, ...] = (CONTACTS,)

    def fold(self, events: Sequence[Envelope], definitions: Definitions) -> FoldResult:
        evs = dedupe_sorted(events)
        if not evs:
            return FoldResult()
        quarantined: list[tuple[Envelope, str]] = []
        by_verb: dict[str, list[Envelope]] = {}
        for e in evs:
            by_verb.setdefault(verb_of(e.type), []).append(e)
        if not by_verb.get("submitted"):
            held = [
                (
                    e,
                    f"missing_opening: {verb_of(e.type)} for a report with no submission (held out until it arrives)",
                )
                for e in evs
            ]
            return FoldResult(quarantined=held)
        submitted = _keep_first(by_verb.get("submitted", []), quarantined)
        triaged = _keep_first(by_verb.get("triaged", []), quarantined)
        links = list(by_verb.get("linked", []))
        if submitted is not None:
            early = [e for e in [triaged, *links] if e is not None and e.time < submitted.time]
            quarantined.extend((e, f"{verb_of(e.type)} before the report was submitted") for e in early)
            triaged = None if triaged in early else triaged
            links = [e for e in links if e not in early]
        return FoldResult(
            rows={CONTACTS: [_report_row(evs[0], submitted, triaged, links)]},
            quarantined=quarantined,
        )


def _keep_first(events: list[Envelope], quarantined: list[tuple[Envelope, str]]) -> Envelope | None:
    for extra in events[1:]:
        quarantined.append((extra, f"second {verb_of(extra.type)} event for the report"))
    return events[0] if events else None


def _latest_id(links: list[Envelope], attr: str) -> str:
    values = [getattr(e.data, attr) for e in links if getattr(e.data, attr, None)]
    return str(values[-1]) if values else ""


def _report_row(
    first: Envelope,
    submitted: Envelope | None,
    triaged: Envelope | None,
    links: list[Envelope],
) -> Row:
    data = submitted.data if submitted else None
    base = {
        "force_id": first.force_id,
        "contact_id": first.subject,
        "channel": "online",
        "district": getattr(data, "district", None) or "",
        "offered_at": submitted.time if submitted else None,
        "bt_connect_at": None,
    }
    outcome = "linked" if links else "triaged" if triaged else "submitted" if submitted else "waiting"
    return {
        **_empty_contact(base),
        "placed_at": submitted.time if submitted else first.time,
        "outcome": outcome,
        "report_type": str(getattr(data, "report_type", "") or ""),
        "triaged_at": triaged.time if triaged else None,
        "triage_outcome": str(getattr(triaged.data, "outcome", "")) if triaged else "",
        "incident_id": _latest_id(links, "incident_id"),
        "crime_id": _latest_id(links, "crime_id"),
        "ended_at": None,
    }
