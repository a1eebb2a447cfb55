"""Dead-letter replay: look at a domain's ``.dlq`` topic again once the cause of the refusals is fixed.

Dead letters carry the scrubbed payload and, in headers, the reason and the topic they came from
(``source_topic``). After a fix (a new force allowed, a clock corrected, a contract deployed), an
operator runs ``demandhub dlq-replay --domain D --policy P``. The replay reads the DLQ topic as the
consumer group ``demandhub-dlq-replay`` (so a second run starts where the first stopped) and checks
every message against the same rules as the processors (:meth:`Pipeline.decode` with the current
settings). A message that now validates is re-produced, unchanged but for its dropped personal
fields, to its source topic, where the processors count it (duplicates are harmless: the ledger
deduplicates on ``(source, id)``). What happens to a message that still fails depends on the policy:

- ``reinsert``: it is counted as still failing and left in the DLQ topic; the group moves past it.
- ``drop``: nothing is re-produced at all; every message read is committed past (a purge after the
  messages were inspected, e.g. a flood of garbage from a misconfigured source).
- ``stop``: the replay stops at it and commits only the messages before it, so the next run starts
  at the offending message.

Offsets are committed only after every re-produced message was confirmed by the broker, so a crash
mid-replay repeats messages rather than losing them.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from demandhub.settings import Settings
from schemas.envelope import PiiTreatment, pii_fields
from schemas.events import EVENT_MODELS
from schemas.topics import TOPICS
from sinks.clickhouse.client import Warehouse
from streams.domain.pii import HASH_PREFIX
from streams.pipeline import SHAPE_CLASSES, DeadLetter, Pipeline, RawMessage

log = logging.getLogger(__name__)

GROUP = "demandhub-dlq-replay"
POLICIES = ("stop", "reinsert", "drop")
DOMAINS = tuple(sorted({t.domain for t in TOPICS.values()}))
REPLAY_HEADER = "dlq_replayed_from"


@dataclass
class DlqReplaySummary:
    """What one replay did (printed as JSON by the CLI)."""

    domain: str
    policy: str
    read: int = 0
    reinserted: int = 0
    still_failing: int = 0
    dropped: int = 0
    stopped_at: int | None = None  # DLQ offset of the message a ``stop`` replay stopped at
    reasons: Counter[str] = field(default_factory=Counter)  # reason class of messages still failing

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "policy": self.policy,
            "read": self.read,
            "reinserted": self.reinserted,
            "still_failing": self.still_failing,
            "dropped": self.dropped,
            "stopped_at": self.stopped_at,
            "still_failing_by_reason": dict(sorted(self.reasons.items())),
        }


@dataclass(frozen=True)
class DlqRecord:
    """One dead letter as read from the DLQ topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Verdict:
    """Whether a dead letter now validates: the bytes to re-produce and where, or why not."""

    topic: str
    value: bytes | None  # None: still fails
    reason_class: str = ""
    key: bytes | None = None  # the event's subject (a dead letter's own key may be a keyed hash)


def _clear_dropped_fields(obj: dict[str, Any]) -> None:
    """Undo the scrubber where the processors would drop the field anyway.

    The DLQ scrubber replaces personal fields by a keyed hash whatever their type; a field the
    processors drop (free text, names, coordinates) is set back to None so that a hashed latitude
    does not make a now-valid event fail on its type."""
    model = EVENT_MODELS.get(str(obj.get("type")))
    if model is None:
        return
    for path, marker in pii_fields(model):
        if marker.treatment is not PiiTreatment.DROP:
            continue
        parent: Any = obj
        parts = path.split(".")
        for part in parts[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            value = parent.get(parts[-1])
            if isinstance(value, str) and value.startswith(HASH_PREFIX):
                parent[parts[-1]] = None


class DlqValidator:
    """The processors' own validation (:meth:`Pipeline.decode`) with the current settings."""

    def __init__(self, settings: Settings, domain: str) -> None:
        # decode() validates and sanitises only; it never touches the warehouse. Its sanitised copy
        # is thrown away (the DLQ payload is re-produced), so a throwaway key will do.
        self._pipeline = Pipeline(settings, cast(Warehouse, None), (), secrets.token_bytes(32))
        self._inputs = {t.name for t in TOPICS.values() if t.domain == domain}

    def check(self, record: DlqRecord) -> Verdict:
        topic = record.headers.get("source_topic", "")
        if topic not in self._inputs:
            return Verdict(topic, None, "unknown_source_topic")
        try:
            obj = json.loads(record.value)
        except ValueError:
            return Verdict(topic, None, "malformed_json")
        if isinstance(obj, dict) and obj.get("undecodable") is True:
            # only its length and digest were kept: not JSON, or refused unread for its size
            withheld = obj.get("withheld")
            return Verdict(topic, None, withheld if withheld in SHAPE_CLASSES else "undecodable")
        if isinstance(obj, dict):
            _clear_dropped_fields(obj)
        value = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        decoded = self._pipeline.decode(RawMessage(topic, record.partition, record.offset, value, record.key))
        if isinstance(decoded, DeadLetter):
            return Verdict(topic, None, decoded.reason_class)
        return Verdict(topic, value, key=decoded.subject.encode())


def replay_records(
    records: Iterable[DlqRecord], validator: DlqValidator, policy: str, summary: DlqReplaySummary
) -> Iterator[tuple[DlqRecord, Verdict | None]]:
    """The decision for each record under ``policy``: (record, verdict to re-produce or None).

    Stops (without yielding it) at the first still-failing record under ``stop``."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}")
    for record in records:
        summary.read += 1
        if policy == "drop":
            summary.dropped += 1
            yield record, None
            continue
        verdict = validator.check(record)
        if verdict.value is not None:
            summary.reinserted += 1
            yield record, verdict
            continue
        summary.still_failing += 1
        summary.reasons[verdict.reason_class] += 1
        if policy == "stop":
            summary.stopped_at = record.offset
            return
        yield record, None


def _consumer(settings: Settings, topic: str) -> Any:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="demandhub-dlq-replay",
    )
    partitions = sorted(consumer.partitions_for_topic(topic) or {0})
    consumer.assign([TopicPartition(topic, p) for p in partitions])  # no group join: no rebalance wait
    return consumer


def _at_end(consumer: Any) -> bool:
    """True when every assigned partition was fetched up to its high-water mark."""
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None or consumer.position(tp) < high:
            return False
    return True


def _records(consumer: Any, max_messages: int | None, idle_polls: int = 3) -> Iterator[DlqRecord]:
    """Dead letters from the group's position to the end of the topic (or ``max_messages``)."""
    seen, idle = 0, 0
    while max_messages is None or seen < max_messages:
        polled = consumer.poll(timeout_ms=1000, max_records=500)
        if not polled:
            idle += 1
            if idle >= idle_polls or _at_end(consumer):
                return
            continue
        idle = 0
        for batch in polled.values():
            for r in batch:
                if max_messages is not None and seen >= max_messages:
                    return
                seen += 1
                headers = {k: v.decode("utf-8", "replace") for k, v in (r.headers or [])}
                yield DlqRecord(r.partition, r.offset, r.key, r.value or b"", headers)


def replay_dlq(
    settings: Settings, domain: str, policy: str, max_messages: int | None = None
) -> DlqReplaySummary:
    """Replay ``demandhub.<domain>.dlq`` under ``policy`` (see the module docstring)."""
    from kafka import KafkaProducer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}")
    if not settings.kafka_bootstrap:
        raise ValueError("set DEMANDHUB_KAFKA_BOOTSTRAP or --kafka")
    dlq_topic = f"demandhub.{domain}.dlq"
    summary = DlqReplaySummary(domain, policy)
    validator = DlqValidator(settings, domain)
    consumer = _consumer(settings, dlq_topic)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    next_offsets: dict[int, int] = {}
    futures = []
    try:
        decisions = replay_records(_records(consumer, max_messages), validator, policy, summary)
        for record, verdict in decisions:
            if verdict is not None and verdict.value is not None:
                headers = [(REPLAY_HEADER, f"{dlq_topic}:{record.partition}:{record.offset}".encode())]
                futures.append(
                    producer.send(verdict.topic, key=verdict.key, value=verdict.value, headers=headers)
                )
            next_offsets[record.partition] = record.offset + 1
        producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if the broker refused one: then nothing is committed
        if next_offsets:
            consumer.commit(
                {TopicPartition(dlq_topic, p): OffsetAndMetadata(o, "", -1) for p, o in next_offsets.items()}
            )
    finally:
        producer.close()
        consumer.close()
    log.info("dlq replay of %s: %s", dlq_topic, summary.as_dict())
    return summary
