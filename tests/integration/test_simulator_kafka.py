"""The simulator's Kafka adapter against a real (tansu) broker: every event lands on its topic,
keyed by subject, readable back byte for byte."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import date

import pytest
from kafka import KafkaConsumer

from demandhub.embedded import TansuBroker
from schemas.topics import TOPICS, topic_for_type
from streams.sources.simulator import SimConfig, produce_kafka, simulate

pytestmark = pytest.mark.integration


def test_produce_kafka_delivers_every_event_to_its_topic_keyed_by_subject(tansu: TansuBroker) -> None:
    force = f"sim{uuid.uuid4().hex[:8]}"  # the session broker is shared: filter on our own force
    config = SimConfig(start=date(2021, 5, 10), days=1, scale=0.05, forces=[force], seed=1)
    events = list(simulate(config))
    counts = produce_kafka(events, tansu.bootstrap, linger_ms=5)
    expected = Counter(topic_for_type(e["type"]).name for e in events)
    assert counts == {"total": len(events), **expected}

    consumer = KafkaConsumer(
        *(t.name for t in TOPICS.values()),
        bootstrap_servers=tansu.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"sim-test-{force}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        consumer_timeout_ms=2000,
    )
    seen: dict[str, tuple[str, bytes, dict]] = {}
    deadline = time.monotonic() + 60
    try:
        while len(seen) < len(events) and time.monotonic() < deadline:
            for record in consumer:
                try:  # other tests share the broker, some with deliberately broken messages
                    event = json.loads(record.value)
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("force_id") == force:
                    seen[event["source"] + "/" + event["id"]] = (record.topic, record.key, event)
    finally:
        consumer.close()
    assert len(seen) == len(events)
    for event in events:
        topic, key, received = seen[event["source"] + "/" + event["id"]]
        assert topic == topic_for_type(event["type"]).name
        assert key == event["subject"].encode()
        assert received == event
