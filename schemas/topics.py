"""Kafka topics of the hub: ``demandhub.<domain>.<entity>.v1`` plus one ``.dlq`` topic per domain.

Every record is keyed by the envelope's ``subject`` (contact, incident or crime id), so one entity's
events stay in one partition, in order. Topics are created with their final partition counts (tansu
cannot add partitions later).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    domain: str
    entity: str
    partitions: int
    dlq: str


def _dlq(domain: str) -> str:
    return f"demandhub.{domain}.dlq"


def _topic(domain: str, entity: str, partitions: int) -> Topic:
    return Topic(f"demandhub.{domain}.{entity}.v1", domain, entity, partitions, _dlq(domain))


TOPICS: dict[str, Topic] = {
    "call": _topic("contacts", "call", 4),
    "webchat": _topic("contacts", "webchat", 2),
    "online_report": _topic("contacts", "online_report", 2),
    "social": _topic("contacts", "social", 2),
    "incident": _topic("incidents", "incident", 4),
    "crime": _topic("crimes", "crime", 4),
}
"""Input topics keyed by event entity (the first part of the event type)."""

DLQ_TOPICS: tuple[str, ...] = tuple(sorted({t.dlq for t in TOPICS.values()}))
DLQ_PARTITIONS = 1


def topic_for_type(event_type: str) -> Topic:
    """The topic that carries events of ``event_type``; KeyError when the entity is unknown."""
    return TOPICS[event_type.split(".", 1)[0]]
