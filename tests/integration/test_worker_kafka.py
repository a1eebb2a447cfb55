"""The foundation end to end: Kafka (tansu) -> faust worker -> warehouse, dead letters, outages.

Each test starts a real `demandhub worker` child process on the session's tansu broker, with its own
embedded warehouse, and reads the warehouse back through the worker's analyst SQL endpoint.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from demandhub.embedded import TansuBroker
from schemas.topics import TOPICS
from streams import startup
from tests.fixtures.hub import HubWorker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CALLS = TOPICS["call"].name


def call_events(n: int, force: str, start: datetime) -> list[dict[str, Any]]:
    """n complete 999 calls (offered, queued, answered, ended) with personal data in them."""
    out = []
    for i in range(n):
        t0 = start + timedelta(minutes=i)
        subject = f"CALL-{force}-{i}"
        steps = [
            ("call.offered.v1", 0, {"channel": "999", "caller_number": f"07700 900{i:03d}"}),
            ("call.queued.v1", 1, {"queue": "999"}),
            ("call.answered.v1", 5 + i % 20, {"queue": "999"}),
            ("call.ended.v1", 120, {"disposition": "resolved", "notes": "caller Jane Doe of 1 High St"}),
        ]
        for j, (etype, secs, data) in enumerate(steps):
            out.append(
                {
                    "id": f"{subject}-{j}",
                    "source": "telephony",
                    "type": etype,
                    "force_id": force,
                    "subject": subject,
                    "time": (t0 + timedelta(seconds=secs)).isoformat(),
                    "data": data,
                }
            )
    return out


def produce(bootstrap: str, topic: str, values: list[bytes | dict[str, Any]], key: bytes = b"k") -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for v in values:
        raw = v if isinstance(v, bytes) else json.dumps(v).encode()
        k = key if isinstance(v, bytes) else str(v["subject"]).encode()
        producer.send(topic, value=raw, key=k)
    producer.flush()
    producer.close()


def force_id() -> str:
    return "f" + uuid.uuid4().hex[:10]


def count(worker: HubWorker, table: str, force: str) -> int:
    return int(worker.scalar(f"SELECT count() FROM {table} FINAL WHERE force_id = '{force}'") or 0)


def test_events_flow_from_kafka_into_the_warehouse(
    tansu: TansuBroker, hub_worker: Callable[..., HubWorker]
) -> None:
    worker = hub_worker()
    force = force_id()
    events = call_events(25, force, datetime.now(UTC) - timedelta(hours=2))
    produce(tansu.bootstrap, CALLS, [*events, *events[:10]])  # the last ten are redelivered copies
    wait_until(lambda: count(worker, "events", force) == 100, what="100 ledger rows")
    rows = worker.sql(
        f"SELECT type, count() AS n FROM events FINAL WHERE force_id = '{force}' GROUP BY type ORDER BY type"
    )
    assert {r["type"]: r["n"] for r in rows} == {
        "call.answered.v1": 25,
        "call.ended.v1": 25,
        "call.offered.v1": 25,
        "call.queued.v1": 25,
    }
    # personal data never reached the warehouse in clear
    leaked = worker.scalar(
        f"SELECT count() FROM events WHERE force_id = '{force}' AND "
        "(data LIKE '%07700%' OR data LIKE '%Jane Doe%' OR data LIKE '%High St%')"
    )
    assert leaked == 0
    assert worker.metric("demandhub_events_accepted_total", topic=CALLS) >= 100
    assert worker.metric("demandhub_events_duplicate_total", topic=CALLS) >= 10


def test_a_malformed_event_goes_to_the_dlq_with_its_reason(
    tansu: TansuBroker, hub_worker: Callable[..., HubWorker]
) -> None:
    worker = hub_worker()
    force = force_id()
    good = call_events(2, force, datetime.now(UTC) - timedelta(hours=1))
    bad_type = dict(good[0], id="bad-1", type="call.teleported.v1")
    bad_field = dict(good[1], id="bad-2", data={"channel": "112", "caller_number": "07700 900999"})
    produce(tansu.bootstrap, CALLS, [good[0], b"\xff\xfenot json", bad_type, bad_field, *good[1:]])
    wait_until(lambda: count(worker, "events", force) == len(good), what="good events after bad ones")
    dlq = KafkaConsumer(
        bootstrap_servers=tansu.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15000,
        group_id=None,
    )
    dlq.assign([TopicPartition(TOPICS["call"].dlq, 0)])
    dlq.seek_to_beginning()
    mine = []
    for record in dlq:
        headers = {k: v.decode() for k, v in record.headers}
        payload = record.value.decode()
        if force in payload or (headers.get("error_class") == "malformed_json" and "undecodable" in payload):
            mine.append((headers, payload))
        if len([m for m in mine if force in m[1]]) >= 2 and any("undecodable" in p for _, p in mine):
            break
    dlq.close()
    classes = {h["error_class"] for h, _ in mine}
    assert {"unknown_type", "invalid_fields", "malformed_json"} <= classes
    for headers, payload in mine:
        assert headers["source_topic"] == CALLS and headers["error"]
        assert "07700 900999" not in payload  # dead letters are scrubbed too
    assert (
        worker.scalar(f"SELECT count() FROM rejected_events WHERE kind = 'dlq' AND force_id = '{force}'") == 2
    )


def committed(bootstrap: str, topic: str) -> int:
    """Sum of the worker group's committed offsets on ``topic`` (an OffsetFetch; joins no group)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id="demandhub", enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in range(TOPICS["call"].partitions)]
        return sum(max(0, consumer.committed(tp) or 0) for tp in parts)
    finally:
        consumer.close()


def test_warehouse_outage_holds_offsets_and_loses_nothing(
    own_tansu: TansuBroker, tmp_path: Path, hub_worker: Callable[..., HubWorker]
) -> None:
    tansu = own_tansu
    flag = tmp_path / "warehouse-down"
    flag.touch()
    data_dir = tmp_path / "hub"
    worker = hub_worker(
        data_dir=data_dir, bootstrap=tansu.bootstrap, DEMANDHUB_FAULT_SINK_FAIL_FLAG=str(flag)
    )
    before = committed(tansu.bootstrap, CALLS)
    assert before == 0  # a fresh broker
    force = force_id()
    events = call_events(15, force, datetime.now(UTC) - timedelta(hours=3))
    produce(tansu.bootstrap, CALLS, events)
    wait_until(
        lambda: worker.metric("demandhub_sink_failures_total", topic=CALLS) >= 2, what="failed inserts"
    )
    assert worker.metric("demandhub_sink_backing_off", topic=CALLS) == 1
    assert committed(tansu.bootstrap, CALLS) == before  # nothing acknowledged while inserts fail
    worker.kill()  # a crash during the outage
    flag.unlink()
    worker = hub_worker(data_dir=data_dir, bootstrap=tansu.bootstrap)
    wait_until(lambda: count(worker, "events", force) == 60, what="all events after the outage")
    wait_until(lambda: committed(tansu.bootstrap, CALLS) == 60, what="offsets committed")


def test_the_consumer_joins_its_group_while_the_warehouse_opens(
    own_tansu: TansuBroker, tmp_path: Path
) -> None:
    # The child's warehouse opening waits until its consumer holds its partitions: with a start-up
    # that opens the warehouse first, the worker would stop before its web server ever answered.
    worker = HubWorker(
        own_tansu.bootstrap, tmp_path / "hub", command=["-m", "tests.integration.startup_child"]
    )
    force = force_id()
    produce(own_tansu.bootstrap, CALLS, call_events(5, force, datetime.now(UTC) - timedelta(hours=2)))
    try:
        worker.start()
        wait_until(lambda: count(worker, "events", force) == 20, what="20 ledger rows")
        status, body = worker.get("metrics")
        assert status == 200
        marks = {
            line.split('stage="')[1].split('"')[0]: float(line.rpartition(" ")[2])
            for line in body.decode().splitlines()
            if line.startswith("demandhub_worker_startup_seconds{")
        }
        assert set(marks) == set(startup.STAGES)
        order = sorted(marks, key=marks.__getitem__)
        assert order.index("consumer_assigned") < order.index("warehouse_open") < order.index("first_cycle")
    finally:
        worker.stop()
