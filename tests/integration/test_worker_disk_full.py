"""A worker whose warehouse disk fills up says so, holds the batch, and catches up once space is back.

The failure drill (``DEMANDHUB_FAULT_SINK_FAIL_FLAG`` naming a file that holds ``no-space``) makes every
insert raise the error chDB raised when its volume filled up (``Code: 243 ... (NOT_ENOUGH_SPACE)``,
wrapped by clickhouse-connect in ``DatabaseError``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from demandhub.embedded import TansuBroker
from sinks.clickhouse.faults import NO_SPACE
from tests.fixtures.hub import HubWorker, wait_until
from tests.integration.test_worker_kafka import CALLS, call_events, count, force_id, produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_a_full_disk_is_named_in_the_log_and_the_metrics(
    tansu: TansuBroker, tmp_path: Path, hub_worker: Callable[..., HubWorker]
) -> None:
    flag = tmp_path / "disk-full"
    flag.write_text(NO_SPACE)
    data_dir = tmp_path / "hub"
    worker = hub_worker(data_dir=data_dir, DEMANDHUB_FAULT_SINK_FAIL_FLAG=str(flag))
    force = force_id()
    produce(tansu.bootstrap, CALLS, call_events(5, force, datetime.now(UTC) - timedelta(hours=1)))
    wait_until(
        lambda: worker.metric("demandhub_sink_out_of_space", topic=CALLS) == 1, what="the out-of-space metric"
    )
    assert worker.metric("demandhub_sink_backing_off", topic=CALLS) == 1
    log = worker.log_tail(200_000)
    assert "out of disk space in " + str((data_dir / "warehouse").resolve()) in log
    assert "Free space on that volume" in log
    assert "failed (DatabaseError)" not in log
    flag.unlink()  # space is back
    wait_until(lambda: count(worker, "events", force) == 20, what="the held batch written")
    wait_until(lambda: worker.metric("demandhub_sink_out_of_space", topic=CALLS) == 0, what="metric cleared")
