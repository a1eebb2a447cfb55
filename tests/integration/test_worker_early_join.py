"""The worker's consumer begins its group join before faust and the web server are imported
(``streams.hot_consumer.EarlyJoin``), on a broker that has no topics yet."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer

from demandhub.embedded import TansuBroker
from schemas.topics import DLQ_TOPICS, TOPICS
from streams import startup
from streams.hot_consumer import declare_topics
from tests.fixtures.hub import HubWorker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CALLS = TOPICS["call"].name


def calls(n: int, force: str) -> list[dict[str, object]]:
    start = datetime.now(UTC) - timedelta(hours=2)
    out: list[dict[str, object]] = []
    for i in range(n):
        subject = f"CALL-{force}-{i}"
        for j, etype in enumerate(("call.offered.v1", "call.queued.v1", "call.answered.v1")):
            out.append(
                {
                    "id": f"{subject}-{j}",
                    "source": "telephony",
                    "type": etype,
                    "force_id": force,
                    "subject": subject,
                    "time": (start + timedelta(minutes=i, seconds=j * 5)).isoformat(),
                    "data": {"channel": "999"} if j == 0 else {"queue": "999"},
                }
            )
    return out


def marks_of(worker: HubWorker) -> dict[str, float]:
    status, body = worker.get("metrics")
    assert status == 200
    return {
        line.split('stage="')[1].split('"')[0]: float(line.rpartition(" ")[2])
        for line in body.decode().splitlines()
        if line.startswith("demandhub_worker_startup_seconds{")
    }


@pytest.fixture
def bare_tansu(tmp_path: Path) -> Iterator[TansuBroker]:
    """A fresh broker with no topics."""
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    yield broker
    broker.stop()


def test_the_topics_are_declared_once(bare_tansu: TansuBroker) -> None:
    wanted = {*(t.name for t in TOPICS.values()), *DLQ_TOPICS}
    assert set(asyncio.run(declare_topics(bare_tansu.bootstrap))) == wanted
    assert asyncio.run(declare_topics(bare_tansu.bootstrap)) == []


def test_the_consumer_holds_its_partitions_before_faust_is_imported(
    bare_tansu: TansuBroker, tmp_path: Path
) -> None:
    # The child cannot import faust until its consumer is assigned: a worker that began the join
    # only once faust ran would stop there. The broker has no topics: the worker declares them
    # before it joins (a consumer that joined first would be assigned nothing and write nothing).
    worker = HubWorker(
        bare_tansu.bootstrap, tmp_path / "hub", command=["-m", "tests.integration.early_join_child"]
    )
    force = "f" + uuid.uuid4().hex[:10]
    try:
        worker.start()
        producer = KafkaProducer(bootstrap_servers=bare_tansu.bootstrap)
        for event in calls(4, force):
            producer.send(CALLS, key=str(event["subject"]).encode(), value=json.dumps(event).encode())
        producer.flush()
        producer.close()
        query = f"SELECT count() FROM events WHERE force_id = '{force}'"
        wait_until(lambda: int(worker.scalar(query) or 0) == 12, what="12 ledger rows")
        marks = marks_of(worker)
        assert set(marks) == set(startup.STAGES)
        order = sorted(marks, key=marks.__getitem__)
        assert order[0] == startup.JOIN_STARTED
        assert order.index(startup.TOPICS_DECLARED) < order.index(startup.CONSUMER_ASSIGNED)
        assert order.index(startup.CONSUMER_ASSIGNED) < order.index(startup.IMPORTS)
        assert (
            order.index(startup.IMPORTS)
            < order.index(startup.FAUST_STARTED)
            < order.index(startup.FIRST_CYCLE)
        )
    finally:
        code = worker.stop()
    assert code == 0  # stopped cleanly by SIGTERM
