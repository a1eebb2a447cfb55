"""Bad input through the real worker on Apache Kafka: every bad event is dead-lettered with a reason,
the worker never stops, and every good event interleaved with them is counted.

The bad events are drawn by Hypothesis from the same strategies as the unit fuzz of
``Pipeline.decode`` (wrong types, missing and unknown fields, huge strings, invalid UTF-8, unknown
types, timestamps far in the future or past, foreign forces); good calls are produced in the wrong
order (last event first) between them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from demandhub.embedded import create_topics
from schemas.topics import DLQ_TOPICS, TOPICS, topic_for_type
from tests.fixtures.apache_kafka import ApacheKafkaBroker
from tests.fixtures.hub import HubWorker, wait_until
from tests.integration.test_worker_kafka import call_events
from tests.unit.test_fuzz_pipeline import (
    FORCE,
    examples,
    foreign_force,
    huge_string,
    invalid_utf8,
    missing_field,
    unknown_field,
    unknown_type,
    wrong_type,
)

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.timeout(300)]

BAD_EVENTS = 240
BAD_BYTES = 40
CALLS = TOPICS["call"].name


@st.composite
def far_time(draw: st.DrawFn) -> dict[str, Any]:
    """Far from any wall clock the suite runs under: before 2000 or after 2100."""
    event = dict(draw(examples))
    when = draw(
        st.one_of(
            st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(1999, 12, 31)),
            st.datetimes(min_value=datetime(2100, 1, 1), max_value=datetime(9999, 12, 31)),
        )
    )
    event["time"] = when.replace(tzinfo=UTC).isoformat()
    return event


bad_events = st.one_of(
    wrong_type(),
    missing_field(),
    unknown_field(),
    huge_string(),
    unknown_type(),
    far_time(),
    foreign_force(),
)


@pytest.fixture(scope="module")
def fuzz_hub(
    apache_kafka: ApacheKafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HubWorker, str]]:
    """A worker serving one force of its own on the session's Apache Kafka broker."""
    create_topics(apache_kafka.bootstrap)
    force = "fz" + uuid.uuid4().hex[:8]
    env = {"DEMANDHUB_ALLOWED_FORCES": json.dumps([force])}
    worker = HubWorker(apache_kafka.bootstrap, tmp_path_factory.mktemp("fuzz") / "hub", env).start()
    yield worker, force
    worker.stop()


def as_message(event: dict[str, Any] | bytes, force: str) -> tuple[str, bytes]:
    """Topic and bytes of a bad event, moved from the examples' force to the worker's."""
    if isinstance(event, bytes):
        return CALLS, event.replace(f'"{FORCE}"'.encode(), f'"{force}"'.encode())
    if event.get("force_id") == FORCE:
        event = dict(event, force_id=force)
    try:
        topic = topic_for_type(str(event.get("type"))).name
    except (KeyError, TypeError):
        topic = CALLS
    return topic, json.dumps(event).encode()


def reversed_calls(force: str, n: int) -> list[dict[str, Any]]:
    """Good calls whose events arrive last first (wrong order)."""
    events = call_events(n, force, datetime.now(UTC) - timedelta(hours=4))
    return [e for i in range(n) for e in reversed(events[4 * i : 4 * i + 4])]


def dead_letters(
    bootstrap: str, since: dict[TopicPartition, int]
) -> dict[tuple[str, int, int], dict[str, str]]:
    """Headers of every dead letter written after ``since``, by source (topic, partition, offset)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    parts = list(since)
    consumer.assign(parts)
    for tp, offset in since.items():
        consumer.seek(tp, offset)
    ends = consumer.end_offsets(parts)
    out = {}
    try:
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    h = {k: v.decode() for k, v in r.headers}
                    out[(h["source_topic"], int(h["source_partition"]), int(h["source_offset"]))] = h
    finally:
        consumer.close()
    return out


def dlq_ends(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        return dict(consumer.end_offsets([TopicPartition(t, 0) for t in DLQ_TOPICS]))
    finally:
        consumer.close()


def drawn(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` examples of ``strategy`` as Hypothesis generates them for a property (from the simplest
    to random ones), collected for one end-to-end run."""
    out: list[Any] = []

    @settings(
        max_examples=n,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: Any) -> None:
        out.append(example)

    collect()
    return out


def test_fuzzed_bad_events_are_dead_lettered_and_good_ones_counted(fuzz_hub: tuple[HubWorker, str]) -> None:
    bad, raw = drawn(bad_events, BAD_EVENTS), drawn(invalid_utf8(), BAD_BYTES)
    worker, force = fuzz_hub
    bootstrap = worker.bootstrap
    since = dlq_ends(bootstrap)
    good = reversed_calls(force, 60)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_request_size=4 << 20)
    bad_sent, good_sent = [], []
    messages: list[dict[str, Any] | bytes] = [*bad, *raw]
    for i, item in enumerate(messages):
        topic, value = as_message(item, force)
        bad_sent.append(producer.send(topic, value=value, key=f"bad-{i}".encode()))
        if i % 2 == 0 and good:  # a good event after every second bad one
            event = good.pop(0)
            good_sent.append(
                producer.send(CALLS, value=json.dumps(event).encode(), key=event["subject"].encode())
            )
    for event in good:
        good_sent.append(
            producer.send(CALLS, value=json.dumps(event).encode(), key=event["subject"].encode())
        )
    producer.flush()
    bad_at = {(m.topic, m.partition, m.offset) for m in (f.get(timeout=30) for f in bad_sent)}
    good_at = {(m.topic, m.partition, m.offset) for m in (f.get(timeout=30) for f in good_sent)}
    producer.close()

    expected_good = len(good_at)
    wait_until(
        lambda: (
            worker.scalar(f"SELECT count() FROM events FINAL WHERE force_id = '{force}'") == expected_good
        ),
        timeout=120,
        what=f"{expected_good} good events counted",
    )
    letters = wait_until(
        lambda: (d := dead_letters(bootstrap, since)) and bad_at <= set(d) and d,
        timeout=120,
        what=f"{len(bad_at)} dead letters",
    )
    assert not good_at & set(letters)  # no good event was refused
    for source in bad_at:
        assert letters[source]["error"] and letters[source]["error_class"], letters[source]
    assert worker.proc is not None and worker.proc.poll() is None  # the worker never stopped
    assert worker.get("health")[0] == 200
    classes: dict[str, int] = {}
    for source in bad_at:
        cls = letters[source]["error_class"]
        classes[cls] = classes.get(cls, 0) + 1
    print(json.dumps({"bad_events_fuzzed": len(bad_at), "good_events": expected_good, "by_class": classes}))
