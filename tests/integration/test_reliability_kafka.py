"""The worker on a real Apache Kafka broker: consumer groups and take-over, exactly-once, a broker
restart and a warehouse outage. Never skipped: the Apache Kafka run is mandatory in CI.

Workers are `demandhub worker` child processes (consumer group ``demandhub``); each test uses force
ids of its own, so what earlier tests left on the session broker does not change its counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from demandhub.embedded import create_topics
from schemas.topics import DLQ_TOPICS, TOPICS
from streams.sources import simulator as sim
from streams.sources.simulator.engine import run_bounds
from tests.fixtures.apache_kafka import ApacheKafkaBroker
from tests.fixtures.hub import REPO, HubWorker, cell_value, wait_until, warehouse_figures
from tests.integration.test_reliability_crash import group_lag
from tests.integration.test_worker_kafka import call_events, produce

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.timeout(300)]

CALLS = TOPICS["call"].name
INPUT_PARTITIONS = {(t.name, p) for t in TOPICS.values() for p in range(t.partitions)}


@pytest.fixture(scope="module")
def kafka(apache_kafka: ApacheKafkaBroker) -> ApacheKafkaBroker:
    """The session's Apache Kafka broker with the hub's topics."""
    create_topics(apache_kafka.bootstrap)
    return apache_kafka


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[HubWorker]]:
    """Workers a test starts; all stopped afterwards."""
    started: list[HubWorker] = []
    yield started
    for worker in started:
        worker.stop()


def new_force(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8]


def ledger_size(worker: HubWorker, force: str) -> int:
    return int(worker.scalar(f"SELECT count() FROM events FINAL WHERE force_id = '{force}'") or 0)


def ledger_ids(worker: HubWorker, force: str) -> set[str]:
    return {r["id"] for r in worker.sql(f"SELECT id FROM events FINAL WHERE force_id = '{force}'")}


def stopped_ledger_ids(data_dir: Path, force: str) -> set[str]:
    """Event ids in the warehouse of a stopped (or killed) worker, read in a child process."""
    script = (
        "import json, sys\n"
        "from sinks.clickhouse.client import connect\n"
        "wh = connect('chdb://' + sys.argv[1])\n"
        "rows = wh.query('SELECT id FROM events FINAL WHERE force_id = {f:String}', "
        "parameters={'f': sys.argv[2]}).rows\n"
        "print(json.dumps([r[0] for r in rows]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str((data_dir / "warehouse").resolve()), force],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def group_assignment(bootstrap: str, group: str = "demandhub") -> list[set[tuple[str, int]]]:
    """The input partitions assigned to each member of ``group`` (Apache Kafka's view)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        description = admin.describe_groups([group])[group]
    finally:
        admin.close()
    if description.get("group_state") != "Stable":
        return []
    members = []
    for member in description["members"]:
        assigned = (member.get("member_assignment") or {}).get("assigned_partitions", [])
        parts = {(a["topic"], p) for a in assigned for p in a["partitions"]}
        members.append(parts & INPUT_PARTITIONS)
    return members


def dlq_records(bootstrap: str, since: dict[str, int], isolation: str, force: str) -> list[tuple[str, ...]]:
    """(source topic, partition, offset) of ``force``'s dead letters written after ``since``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, isolation_level=isolation)
    parts = [TopicPartition(t, 0) for t in DLQ_TOPICS]
    consumer.assign(parts)
    ends = consumer.end_offsets(parts)
    for tp in parts:
        consumer.seek(tp, since.get(tp.topic, 0))
    found = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    h = {k: v.decode() for k, v in r.headers}
                    if force in r.value.decode(errors="replace"):
                        found.append((h["source_topic"], h["source_partition"], h["source_offset"]))
    finally:
        consumer.close()
    return found


def dlq_ends(bootstrap: str) -> dict[str, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        ends = consumer.end_offsets([TopicPartition(t, 0) for t in DLQ_TOPICS])
    finally:
        consumer.close()
    return {tp.topic: offset for tp, offset in ends.items()}


# -- consumer groups -------------------------------------------------------------------------------
def test_two_workers_split_the_partitions_and_one_takes_over_when_the_other_dies(
    kafka: ApacheKafkaBroker, tmp_path: Path, workers: list[HubWorker]
) -> None:
    force = new_force("grp")
    env = {"DEMANDHUB_BATCH_MAX_EVENTS": "100"}
    a = HubWorker(kafka.bootstrap, tmp_path / "a", dict(env)).launch()
    b = HubWorker(kafka.bootstrap, tmp_path / "b", dict(env)).launch()
    workers.extend([a, b])
    wait_until(a._healthy, timeout=90, what="worker a")
    wait_until(b._healthy, timeout=90, what="worker b")
    split = wait_until(
        lambda: (m := group_assignment(kafka.bootstrap)) and len(m) == 2 and all(m) and m,
        timeout=60,
        what="two members with partitions each",
    )
    assert split[0] | split[1] == INPUT_PARTITIONS and not split[0] & split[1]

    events = call_events(200, force, datetime.now(UTC) - timedelta(hours=6))
    produce(kafka.bootstrap, CALLS, events[:400])
    wait_until(lambda: ledger_size(a, force) > 0 and ledger_size(b, force) > 0, what="both consuming")
    a.kill()
    produce(kafka.bootstrap, CALLS, events[400:])
    members = wait_until(
        lambda: (m := group_assignment(kafka.bootstrap)) and len(m) == 1 and m,
        timeout=60,
        what="the survivor alone in the group",
    )
    assert members[0] == INPUT_PARTITIONS
    expected = {e["id"] for e in events}
    wait_until(lambda: group_lag(kafka.bootstrap) == 0, timeout=120, what="the survivor caught up")
    survivor = ledger_ids(b, force)
    assert survivor | stopped_ledger_ids(tmp_path / "a", force) == expected  # nothing lost
    assert b.proc is not None and b.proc.poll() is None


# -- exactly once ----------------------------------------------------------------------------------
def test_exactly_once_on_apache_kafka_commits_dead_letters_with_the_offsets(
    kafka: ApacheKafkaBroker, tmp_path: Path, workers: list[HubWorker]
) -> None:
    """``processing_guarantee=exactly_once`` runs against Apache Kafka (transactions), survives a
    kill -9, and a read_committed reader sees every dead letter of the run."""
    force = new_force("eos")
    env = {"DEMANDHUB_PROCESSING_GUARANTEE": "exactly_once", "DEMANDHUB_BATCH_MAX_EVENTS": "100"}
    since = dlq_ends(kafka.bootstrap)
    good = call_events(150, force, datetime.now(UTC) - timedelta(hours=8))
    bad = [dict(e, id=f"{e['id']}-bad", type="call.exploded.v1") for e in good[::25]]
    mixed = [*good[:300], *bad[:3], *good[300:], *bad[3:]]
    worker = HubWorker(kafka.bootstrap, tmp_path / "hub", dict(env))
    workers.append(worker)
    worker.start()
    produce(kafka.bootstrap, CALLS, mixed[:320])
    wait_until(lambda: ledger_size(worker, force) > 0, what="first events under exactly_once")
    worker.kill()
    produce(kafka.bootstrap, CALLS, mixed[320:])
    worker.start()
    wait_until(lambda: ledger_size(worker, force) == len(good), timeout=120, what="every good event")
    wait_until(lambda: group_lag(kafka.bootstrap) == 0, timeout=60, what="offsets committed")
    committed = dlq_records(kafka.bootstrap, since, "read_committed", force)
    assert len(set(committed)) == len(bad)  # every dead letter of the run, visible once committed
    assert worker.proc is not None and worker.proc.poll() is None
    print(json.dumps({"exactly_once_dead_letters": len(committed), "distinct": len(set(committed))}))


# -- broker restart ----------------------------------------------------------------------------------
def test_a_broker_restart_mid_stream_loses_nothing_and_the_worker_recovers_alone(
    tmp_path: Path, workers: list[HubWorker]
) -> None:
    with ApacheKafkaBroker() as broker:
        create_topics(broker.bootstrap)
        force = new_force("brk")
        config = sim.SimConfig(start=date(2024, 2, 5), days=3, seed=5, forces=(force,), scale=0.05)
        events = list(sim.simulate(config))
        worker = HubWorker(broker.bootstrap, tmp_path / "hub", {"DEMANDHUB_BATCH_MAX_EVENTS": "200"})
        workers.append(worker)
        worker.start()
        half = len(events) // 2
        sim.produce_kafka(events[:half], broker.bootstrap)
        wait_until(lambda: ledger_size(worker, force) > 0, what="consuming before the restart")
        broker.restart()
        sim.produce_kafka(events[half:], broker.bootstrap, acks="all")
        wait_until(
            lambda: ledger_size(worker, force) == len(events), timeout=180, what="every event after restart"
        )
        wait_until(lambda: group_lag(broker.bootstrap) == 0, timeout=60, what="offsets committed")
        assert worker.proc is not None and worker.proc.poll() is None  # never restarted by anyone
        worker.stop()
        assert_truth(tmp_path / "hub", force, config)


def assert_truth(data_dir: Path, force: str, config: sim.SimConfig) -> None:
    """The stopped hub's monthly figures equal the simulator's truth at the end of the run."""
    truth = sim.truth(config)[force]
    end = datetime.fromtimestamp(run_bounds(config)[1] / 1000, UTC).isoformat()
    months = sorted(truth)
    cells, _ = warehouse_figures(data_dir, force, months[0], months[-1], end)
    problems = []
    for month, expected in truth.items():
        for measure, value in expected.items():
            got = cells.get(measure, {}).get(month)
            if got is None or cell_value(measure, got) != pytest.approx(value, rel=1e-12, abs=1e-12):
                problems.append(f"{month} {measure}: hub {got} != truth {value}")
    assert not problems, "\n".join(problems)


# -- warehouse outage ------------------------------------------------------------------------------
def test_a_warehouse_outage_backs_off_holds_offsets_and_catches_up(
    kafka: ApacheKafkaBroker, tmp_path: Path, workers: list[HubWorker]
) -> None:
    force = new_force("out")
    config = sim.SimConfig(start=date(2024, 1, 8), days=7, seed=3, forces=(force,), scale=0.05)
    events = list(sim.simulate(config))
    flag = tmp_path / "warehouse-down"
    env = {"DEMANDHUB_FAULT_SINK_FAIL_FLAG": str(flag), "DEMANDHUB_SINK_RETRY_MAX_SECONDS": "2"}
    worker = HubWorker(kafka.bootstrap, tmp_path / "hub", env)
    workers.append(worker)
    worker.start()
    wait_until(lambda: group_lag(kafka.bootstrap) == 0, timeout=120, what="earlier tests' leftovers done")
    flag.touch()
    sim.produce_kafka(events, kafka.bootstrap)
    wait_until(
        lambda: worker.metric("demandhub_sink_backing_off") >= 3, timeout=60, what="every agent backing off"
    )
    lag = group_lag(kafka.bootstrap)
    assert lag == len(events)  # nothing acknowledged while inserts fail
    assert worker.metric("demandhub_sink_failures_total") >= 3
    assert ledger_size(worker, force) == 0
    flag.unlink()
    wait_until(lambda: ledger_size(worker, force) == len(events), timeout=180, what="caught up")
    wait_until(lambda: group_lag(kafka.bootstrap) == 0, timeout=60, what="offsets committed")
    wait_until(lambda: worker.metric("demandhub_sink_backing_off") == 0, what="back-off cleared")
    worker.stop()
    assert_truth(tmp_path / "hub", force, config)
