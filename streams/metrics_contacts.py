"""Prometheus updates for contacts: counters and the answer-wait histogram per batch.

``observe(report)`` counts transitions from the batch's newly accepted events (so a fact rewritten
later is never counted twice): a contact offered to a queue (a call queued, a chat requested), an
answer, an abandon (IVR hang-ups under the queue label ``ivr``). Quarantined events are not counted.
The answer wait observed is the leg's service wait (the service clock of the default definitions,
applied to the raw times of the facts written in the same batch: facts hold no definition).
Labels come from closed sets: the channel (999, 101, webchat, other) and the queue (canonical
queues, ``ivr``, or ``other`` for force-specific ones).

The live gauges read from the warehouse (contacts waiting, longest wait) are set by
:mod:`demandhub.gauges`.
"""

from __future__ import annotations

from typing import Any

from schemas.contacts import CONTACT_CHANNELS, ContactChannel
from schemas.definitions import Definitions
from schemas.envelope import Envelope
from schemas.events import entity_of, verb_of
from schemas.queues import QUEUES as CANONICAL_QUEUES
from sinks.prometheus.metrics import (
    ANSWER_WAIT_SECONDS,
    CONTACTS_ABANDONED,
    CONTACTS_ANSWERED,
    CONTACTS_OFFERED,
    inc_by_labels,
    observe_by_labels,
)
from streams.domain.contacts import CONTACTS, LEGS
from streams.domain.servicelevel import service_wait
from streams.pipeline import BatchReport

CHANNELS = tuple(c for c in CONTACT_CHANNELS if c != ContactChannel.ONLINE)
"""The channels whose contacts queue (calls and web chat; an online report never does)."""
QUEUES = frozenset(CANONICAL_QUEUES)
"""The canonical queues, labelled as they are."""


def queue_label(queue: str | None) -> str:
    """A bounded queue label: canonical queues as they are, force-specific ones as ``other``."""
    if queue in QUEUES or queue == "ivr":
        return str(queue)
    return "other"


def channel_label(channel: str | None, queue: str | None) -> str:
    """A bounded channel label, inferred from the queue when the contact's channel is not known."""
    if channel in CHANNELS:
        return str(channel)
    if queue == "999":
        return "999"
    if queue and queue.startswith("101"):
        return "101"
    return "webchat" if queue == "webchat" else "other"


def _index(
    report: BatchReport,
) -> tuple[dict[tuple[str, str], list[dict[str, Any]]], dict[tuple[str, str], str]]:
    legs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in report.new_rows.get(LEGS, []):
        legs.setdefault((row["force_id"], row["contact_id"]), []).append(row)
    channels = {(r["force_id"], r["contact_id"]): r["channel"] for r in report.new_rows.get(CONTACTS, [])}
    return legs, channels


def _leg_for(event: Envelope, legs: list[dict[str, Any]], column: str) -> dict[str, Any] | None:
    for leg in legs:
        at = leg.get(column)
        if at is not None and at == event.time:
            return leg
    return None


_COUNTED_VERBS = frozenset({"queued", "offered", "answered", "abandoned"})
_OFFERED, _ANSWERED, _ABANDONED = 0, 1, 2
_COUNTERS = (CONTACTS_OFFERED, CONTACTS_ANSWERED, CONTACTS_ABANDONED)


class _Tally:
    """A batch's (channel, queue) labels per counter and its answer waits by queue label, published
    once per batch (each labelled child updated once, not once per event)."""

    def __init__(self) -> None:
        self.counted: tuple[list[tuple[str, str]], ...] = tuple([] for _ in _COUNTERS)
        self.waits: list[tuple[tuple[str], float]] = []

    def count(self, counter: int, channel: str, queue: str) -> None:
        self.counted[counter].append((channel, queue))

    def wait(self, queue: str, seconds: float) -> None:
        self.waits.append(((queue,), seconds))

    def publish(self) -> None:
        for counter, labels_each in zip(_COUNTERS, self.counted, strict=True):
            inc_by_labels(counter, labels_each)
        observe_by_labels(ANSWER_WAIT_SECONDS, self.waits)


def _observe_event(
    event: Envelope, legs: list[dict[str, Any]], channel: str | None, clock_start_999: str, tally: _Tally
) -> None:
    verb = verb_of(event.type)
    if verb not in _COUNTED_VERBS:
        return
    # the payload's own fields (a payload without one would raise through pydantic's __getattr__)
    fields = vars(event.data)
    queue = fields.get("queue")
    if verb == "queued" or (entity_of(event.type) == "webchat" and verb == "offered"):
        tally.count(_OFFERED, channel_label(channel, queue), queue_label(queue))
    elif verb == "answered":
        tally.count(_ANSWERED, channel_label(channel, queue), queue_label(queue))
        leg = _leg_for(event, legs, "answered_at")
        wait = service_wait(leg, clock_start_999) if leg is not None else None
        if wait is not None:
            tally.wait(queue_label(queue), wait)
    elif verb == "abandoned":
        if fields.get("stage") == "ivr":
            tally.count(_ABANDONED, channel_label(channel, None), "ivr")
            return
        leg = _leg_for(event, legs, "abandoned_at")
        queue = queue or (leg["queue"] if leg else None)
        tally.count(_ABANDONED, channel_label(channel, queue), queue_label(queue))


def observe(report: BatchReport, definitions: Definitions | None = None) -> None:
    """Count the batch's contact transitions (see the module docstring); the answer wait runs on the
    service clock of ``definitions`` (default: the defaults)."""
    clock = (definitions or Definitions()).calls.clock_start_999
    legs, channels = _index(report)
    tally = _Tally()
    for entity in ("call", "webchat"):  # with the events held until their offer arrived
        for event in report.counted(entity):
            key = (event.force_id, event.subject)
            _observe_event(event, legs.get(key, []), channels.get(key), clock, tally)
    tally.publish()
