"""The Apache Kafka test broker: durable records and offsets across a restart, and transactions.

These are the guarantees the suite relies on when it tests restarts and exactly-once processing
against Apache Kafka rather than tansu.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CoordinatorLoadInProgressError, CoordinatorNotAvailableError, NotCoordinatorError

from demandhub.embedded import poll
from tests.fixtures.apache_kafka import ApacheKafkaBroker, apache_kafka

# Imported so pytest finds the session fixture in this module.
__all__ = ["apache_kafka"]

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.timeout(600)]

PARTITIONS = 3
MESSAGES = 100
KEYS = 10
SESSION_TIMEOUT_MS = 6000


@pytest.fixture
def own_broker() -> Iterator[ApacheKafkaBroker]:
    """A broker of this test's own, so restarting it disturbs no other test."""
    with ApacheKafkaBroker() as broker:
        yield broker


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create ``topic`` and wait until every partition has a leader."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": partitions, "replication_factor": 1}})
        admin.wait_for_topics([topic], timeout_ms=30_000)
    finally:
        admin.close()


def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    """The group's committed offsets, as read by an admin client (not by a group member). Right
    after a restart the group coordinator may still be loading: retriable answers are retried."""

    def fetch() -> dict[TopicPartition, int] | None:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            offsets = admin.list_group_offsets({group: None})[group]
        except (NotCoordinatorError, CoordinatorLoadInProgressError, CoordinatorNotAvailableError):
            return None
        finally:
            admin.close()
        return {partition: meta.offset for partition, meta in offsets.items()}

    result: dict[TopicPartition, int] = poll(fetch, 60, 0.5, f"committed offsets of {group}")
    return result


def produce_keyed(bootstrap: str, topic: str, count: int, first: int = 0) -> None:
    """Send ``count`` records keyed ``key-<i % KEYS>`` with value ``value-<i>``, acks=all."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for i in range(first, first + count):
            producer.send(topic, key=f"key-{i % KEYS}".encode(), value=f"value-{i}".encode())
        producer.flush(timeout=30)
    finally:
        producer.close()


def consume(
    bootstrap: str, topic: str, group: str | None, expected: int, timeout_s: float = 60.0
) -> list[ConsumerRecord]:
    """Poll ``topic`` until ``expected`` records arrived (or the timeout), commit, and leave.

    A ``group`` of None reads from the beginning without a group and commits nothing.
    """
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=1000,
    )
    records: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        if group is not None:
            consumer.commit()
    finally:
        consumer.close()
    return records


def test_records_and_committed_offsets_survive_a_restart(own_broker: ApacheKafkaBroker) -> None:
    topic, group = "restart.keyed", "restart-readers"
    create_topic(own_broker.bootstrap, topic, PARTITIONS)
    produce_keyed(own_broker.bootstrap, topic, MESSAGES)

    first_read = consume(own_broker.bootstrap, topic, group, MESSAGES)
    assert sorted(r.value for r in first_read) == sorted(f"value-{i}".encode() for i in range(MESSAGES))
    partitions_by_key: dict[bytes, set[int]] = {}
    for record in first_read:
        partitions_by_key.setdefault(record.key, set()).add(record.partition)
    assert all(len(partitions) == 1 for partitions in partitions_by_key.values())
    assert len({r.partition for r in first_read}) > 1
    counts = {p: sum(1 for r in first_read if r.partition == p) for p in range(PARTITIONS)}
    before = committed_offsets(own_broker.bootstrap, group)
    assert before == {TopicPartition(topic, p): n for p, n in counts.items() if n}

    own_broker.restart()

    assert committed_offsets(own_broker.bootstrap, group) == before
    reread = consume(own_broker.bootstrap, topic, None, MESSAGES)
    assert sorted((r.partition, r.offset, r.key, r.value) for r in reread) == sorted(
        (r.partition, r.offset, r.key, r.value) for r in first_read
    )
    produce_keyed(own_broker.bootstrap, topic, 1, first=MESSAGES)
    resumed = consume(own_broker.bootstrap, topic, group, 1, timeout_s=30.0)
    assert [r.value for r in resumed] == [f"value-{MESSAGES}".encode()]


async def read_all(bootstrap: str, topic: str, isolation_level: str, last_value: bytes) -> list[bytes]:
    """Values of ``topic`` from the start up to and including ``last_value`` (60 s at most)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level=isolation_level,
    )
    values: list[bytes] = []
    await consumer.start()
    try:
        deadline = time.monotonic() + 60.0
        while last_value not in values and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                values.extend(record.value for record in batch)
    finally:
        await consumer.stop()
    return values


async def write_transactions(bootstrap: str, topic: str) -> None:
    """Commit ``committed-1``, abort ``aborted-1``, then commit ``committed-2``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="fixture-tx-test")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-1")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted-1")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-2")
    finally:
        await producer.stop()


def test_transactional_producer_commits_and_aborts(apache_kafka: ApacheKafkaBroker) -> None:
    topic = "transactions.check"
    create_topic(apache_kafka.bootstrap, topic, 1)

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        await write_transactions(apache_kafka.bootstrap, topic)
        committed = await read_all(apache_kafka.bootstrap, topic, "read_committed", b"committed-2")
        everything = await read_all(apache_kafka.bootstrap, topic, "read_uncommitted", b"committed-2")
        return committed, everything

    committed, everything = asyncio.run(scenario())

    assert committed == [b"committed-1", b"committed-2"]
    assert everything == [b"committed-1", b"aborted-1", b"committed-2"]
