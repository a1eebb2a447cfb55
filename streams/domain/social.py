"""The pure lifecycle of one social media thread: received -> [assigned] -> responded ... -> closed.

:class:`SocialFold` turns the whole event history of one thread into one ``social_threads`` row of
raw facts: the platform and kind of message, every time that matters (received, first assignment,
first and last response, closure), who closed it and with which disposition, and the incident or
crime that resulted. Nothing that depends on a definition is stored: the first-response target, the
short-abandon threshold and the target's denominator are applied when the figures are read
(``sinks/clickhouse/social_sql.py``), so a change of definition needs no replay.

Choices the fold makes (all deterministic in the SET of events):
- Events are ordered by (time, lifecycle rank, source, id).
- Without a ``received`` event there is no fact: every event is held (quarantined) until it arrives.
  A second ``received`` under another id is quarantined; so is any event timed before the receipt.
- The first response is the earliest ``responded`` event; ``responses`` counts them all.
- The first ``closed`` event closes the thread; a later close, and any response or assignment
  timed after the close, is quarantined and ignored.
- ``abandoned``: closed by the member of the public before any response. A thread the public closes
  after a response is not abandoned.
- The incident and crime ids are those given on the close.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.definitions import Definitions
from schemas.envelope import Envelope
from schemas.events import verb_of
from schemas.social import SocialClosed, SocialReceived
from streams.domain.base import FoldResult, Row, dedupe

THREADS = "social_threads"
_RANK = {"received": 0, "assigned": 1, "responded": 2, "closed": 3}


def lifecycle_order(events: Sequence[Envelope]) -> list[Envelope]:
    """One copy of each (source, id), by (time, lifecycle rank, source, id)."""
    return sorted(dedupe(events), key=lambda e: (e.time, _RANK.get(verb_of(e.type), 9), e.source, e.id))


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return float((later - earlier).total_seconds())


class SocialFold:
    """Social media threads: one ``social_threads`` row per thread (module docstring)."""

    name = "social"
    entities: tuple[str, ...] = ("social",)
    tables: tuple[str, ...] = (THREADS,)

    def fold(self, events: Sequence[Envelope], definitions: Definitions) -> FoldResult:
        evs = lifecycle_order(events)
        if not evs:
            return FoldResult()
        received = [e for e in evs if verb_of(e.type) == "received"]
        if not received:
            reason = "missing_opening: {} for a thread with no receipt (held out until it arrives)"
            return FoldResult(quarantined=[(e, reason.format(verb_of(e.type))) for e in evs])
        opening = received[0]
        quarantined: list[tuple[Envelope, str]] = [
            (e, "second received event for the thread") for e in received[1:]
        ]
        assigned: list[Envelope] = []
        responses: list[Envelope] = []
        closed: Envelope | None = None
        for e in evs:
            verb = verb_of(e.type)
            if verb == "received":
                continue
            if e.time < opening.time:
                quarantined.append((e, f"{verb} before the thread was received"))
            elif closed is not None:
                quarantined.append((e, f"{verb} after the thread was closed"))
            elif verb == "assigned":
                assigned.append(e)
            elif verb == "responded":
                responses.append(e)
            elif verb == "closed":
                closed = e
        return FoldResult(
            rows={THREADS: [_row(opening, assigned, responses, closed)]}, quarantined=quarantined
        )


def _row(
    opening: Envelope, assigned: list[Envelope], responses: list[Envelope], closed: Envelope | None
) -> Row:
    data = opening.payload(SocialReceived)
    first_response = responses[0].time if responses else None
    close = closed.payload(SocialClosed) if closed is not None else None
    closed_by = str(close.closed_by) if close is not None else ""
    abandoned = closed is not None and closed_by == "public" and not responses
    return {
        "force_id": opening.force_id,
        "thread_id": opening.subject,
        "platform": str(data.platform),
        "message_kind": str(data.message_kind),
        "district": data.district or "",
        "received_at": opening.time,
        "first_assigned_at": assigned[0].time if assigned else None,
        "assignments": len(assigned),
        "first_response_at": first_response,
        "last_response_at": responses[-1].time if responses else None,
        "responses": len(responses),
        "first_response_seconds": _seconds(first_response, opening.time),
        "closed_at": closed.time if closed is not None else None,
        "closed_by": closed_by,
        "disposition": str(close.disposition) if close is not None else "",
        "incident_id": (close.incident_id or "") if close is not None else "",
        "crime_id": (close.crime_id or "") if close is not None else "",
        "abandoned": abandoned,
        "abandon_seconds": _seconds(closed.time, opening.time) if abandoned and closed is not None else None,
    }
