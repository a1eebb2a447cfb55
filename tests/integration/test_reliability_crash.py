"""Worker crashes on Apache Kafka: a simulated month with faults, kill -9 at chosen points, exact truth.

A month of simulated Demand Hub traffic (duplicates, late, out-of-order and malformed events) is
produced to a real Apache Kafka broker in slices while `demandhub worker` is killed with SIGKILL at
points spread over start-up (imports, chDB, migrations, group join) and consumption (batches,
inserts, DLQ sends, commits) and restarted on the same data directory. At the end the warehouse's
monthly board figures, read by the readers' own ``monthly_cells``, equal the simulator's
independently computed ground truth: nothing lost, nothing counted twice. Every malformed event is
in the dead-letter topic.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import CoordinatorLoadInProgressError, CoordinatorNotAvailableError, NotCoordinatorError

from demandhub.embedded import create_topics, poll
from schemas.topics import DLQ_TOPICS, TOPICS
from streams.sources import simulator as sim
from tests.fixtures.apache_kafka import ApacheKafkaBroker
from tests.fixtures.hub import HubWorker, cell_value, wait_until, warehouse_figures

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.timeout(480)]

# Where each kill falls: seconds after launch ("start") or after the web server first answers
# ("ready"). The worker imports, opens chDB and migrates, then starts the faust app, whose first task
# is the web server; the group join, the batches (inserts, DLQ sends) and the commits (every second)
# follow. The test used to draw 21 points from a fixed seed (a quarter in start-up, 0.3-4 s after
# launch, the rest 0-3 s after ready): start 0.57, 0.95, 1.38, 2.83, 3.61 and sixteen ready points
# between 0.07 and 2.94 s, many a few tens of milliseconds apart and so in the same code. These nine
# keep that spread with one point per stretch: start-up at 0.6, 1.4 (the first launch, on a fresh
# data directory, so the migrations have work to do), 2.8 and 3.6 s; ready at 0.05 (the group join),
# 0.5, 1.1, 1.9 and 2.8 s (batches, DLQ sends, and each phase of three commit intervals). With fewer
# slices each holds more than twice the events, so batches and commits are in flight at every ready
# point; 16 fewer restarts save about half the test's time.
KILL_POINTS: tuple[tuple[str, float], ...] = (
    ("start", 1.4),
    ("ready", 2.8),
    ("start", 0.6),
    ("ready", 1.1),
    ("start", 3.6),
    ("ready", 0.05),
    ("start", 2.8),
    ("ready", 1.9),
    ("ready", 0.5),
)
KILLS = len(KILL_POINTS)
MONTH = "2024-03"
RUN_END = datetime(2024, 3, 31, 23, 0, tzinfo=UTC)  # local midnight of 1 April (BST began 31 March)
GROUP = "demandhub"


@pytest.fixture
def fast_rejoin_broker() -> Iterator[ApacheKafkaBroker]:
    """A broker of this test's own that lets a killed member expire after 3 s, not 6 s."""
    with ApacheKafkaBroker(overrides={"group.min.session.timeout.ms": "1000"}) as broker:
        create_topics(broker.bootstrap)
        yield broker


def month_config(force: str, faults: sim.Faults, scale: float = 0.02) -> sim.SimConfig:
    return sim.SimConfig(
        start=date(2024, 3, 1), days=31, seed=11, forces=(force,), scale=scale, faults=faults
    )


def group_lag(bootstrap: str, group: str = GROUP) -> int:
    """Records on the input topics not yet committed by ``group`` (Apache Kafka's offsets are exact)."""
    parts = [TopicPartition(t.name, p) for t in TOPICS.values() for p in range(t.partitions)]

    def committed_offsets() -> dict[TopicPartition, Any] | None:
        """None while the group coordinator is still loading or moving (asked again)."""
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            return dict(admin.list_group_offsets({group: None})[group])
        except (NotCoordinatorError, CoordinatorLoadInProgressError, CoordinatorNotAvailableError):
            return None
        finally:
            admin.close()

    committed: dict[TopicPartition, Any] = poll(committed_offsets, 60, 0.5, f"committed offsets of {group}")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        ends = consumer.end_offsets(parts)
    finally:
        consumer.close()
    return sum(ends[tp] - (max(0, committed[tp].offset) if tp in committed else 0) for tp in parts)


def dlq_sources(bootstrap: str) -> list[tuple[str, str, str]]:
    """(source topic, partition, offset) of every dead letter on every DLQ topic of the broker."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=3000, group_id=None)
    parts = [TopicPartition(t, 0) for t in DLQ_TOPICS]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(parts)
    found = []
    try:
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=2000).values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    found.append(
                        (headers["source_topic"], headers["source_partition"], headers["source_offset"])
                    )
    finally:
        consumer.close()
    return found


def compare_with_truth(cells: dict[str, dict[str, list[float | None]]], truth: dict[str, Any]) -> list[str]:
    """Every measure of the truth against the hub's cell: counts exactly, rates and means to the last
    bits of a float (sums are added in another order)."""
    problems = []
    for measure, expected in truth.items():
        got = cells.get(measure, {}).get(MONTH)
        value = None if got is None else cell_value(measure, got)
        if value is None or value != pytest.approx(expected, rel=1e-12, abs=1e-12):
            problems.append(f"{measure}: hub {value} ({got}) != truth {expected}")
    return problems


def ledger_size(worker: HubWorker, force: str) -> int:
    return int(worker.scalar(f"SELECT count() FROM events FINAL WHERE force_id = '{force}'") or 0)


def crash_repeatedly(worker: HubWorker, bootstrap: str, stream: list[dict[str, Any]]) -> tuple[int, int]:
    """Produce the stream in KILLS + 1 slices; before each of the first KILLS slices' successors,
    start the worker and SIGKILL it at the next of KILL_POINTS. Returns (kills, kills after it was
    ready)."""
    n = len(stream)
    slices = [stream[n * i // (KILLS + 1) : n * (i + 1) // (KILLS + 1)] for i in range(KILLS + 1)]
    kills = after_ready = 0
    for chunk, (stage, delay) in zip(slices[:-1], KILL_POINTS, strict=True):
        sim.produce_kafka(chunk, bootstrap)
        worker.launch()
        if stage == "ready":
            wait_until(worker._healthy, timeout=90, what="worker web server")
            after_ready += 1
        time.sleep(delay)
        worker.kill()
        kills += 1
    sim.produce_kafka(slices[-1], bootstrap)
    return kills, after_ready


def test_kill_minus_nine_at_every_stage_and_the_month_still_equals_the_truth(
    fast_rejoin_broker: ApacheKafkaBroker, tmp_path: Path
) -> None:
    broker = fast_rejoin_broker
    force = "crash" + uuid.uuid4().hex[:8]
    faults = sim.Faults(
        duplicate_rate=0.05,
        late_rate=0.02,
        max_lateness_seconds=2 * 86400,
        out_of_order_rate=0.05,
        malformed_rate=0.01,
    )
    config = month_config(force, faults)
    report = sim.FaultReport()
    stream = list(sim.simulate(config, report))
    truth = sim.truth(config)[force][MONTH]

    worker = HubWorker(
        broker.bootstrap,
        tmp_path / "hub",
        {"DEMANDHUB_BROKER_SESSION_TIMEOUT": "3", "DEMANDHUB_BATCH_MAX_EVENTS": "500"},
    )
    try:
        kills, after_ready = crash_repeatedly(worker, broker.bootstrap, stream)
        worker.start()
        wait_until(
            lambda: ledger_size(worker, force) == report.events,
            timeout=240,
            what=f"{report.events} distinct events in the ledger",
        )
        wait_until(lambda: group_lag(broker.bootstrap) == 0, timeout=60, what="every offset committed")
        dead = dlq_sources(broker.bootstrap)
    finally:
        worker.stop()

    assert (kills, after_ready) == (KILLS, sum(stage == "ready" for stage, _ in KILL_POINTS))
    cells, ledger = warehouse_figures(tmp_path / "hub", force, MONTH, MONTH, RUN_END.isoformat())
    assert ledger == report.events
    problems = compare_with_truth(cells, truth)
    assert not problems, "\n".join(problems)
    # every malformed event reached the dead-letter topic (at least once: a kill between the DLQ
    # send and the commit repeats it, which is what exactly_once would make atomic)
    assert len(set(dead)) == report.invalid
    print(
        json.dumps(
            {
                "kills": kills,
                "kills_after_ready": after_ready,
                "events_produced": len(stream),
                "distinct_events": report.events,
                "duplicates": report.duplicates,
                "late": report.late,
                "out_of_order": report.out_of_order,
                "malformed": report.invalid,
                "dead_letters_seen": len(dead),
            }
        )
    )
