"""`demandhub dlq-replay` on a real broker (tansu): stop, reinsert and drop policies end to end.

A worker that serves only one force dead-letters another force's events (``foreign_force``) among
real garbage. Once the deployment serves the second force too, the replay re-produces the events
that now validate to their source topic and the worker counts them; garbage stays refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from demandhub.embedded import TansuBroker
from schemas.topics import TOPICS
from tests.fixtures.hub import REPO, HubWorker, wait_until
from tests.integration.test_worker_kafka import call_events, produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CALLS = TOPICS["call"].name


def dlq_replay(bootstrap: str, data_dir: Path, policy: str, forces: list[str], *extra: str) -> dict[str, Any]:
    """Run the real command; its summary line as a dict."""
    env = os.environ | {
        "DEMANDHUB_KAFKA_BOOTSTRAP": bootstrap,
        "DEMANDHUB_DATA_DIR": str(data_dir),
        "DEMANDHUB_ALLOWED_FORCES": json.dumps(forces),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "demandhub.cli",
            "dlq-replay",
            "--domain",
            "contacts",
            "--policy",
            policy,
            *extra,
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def rejected(worker: HubWorker) -> int:
    return int(worker.scalar("SELECT count() FROM rejected_events FINAL WHERE kind = 'dlq'") or 0)


def ledger(worker: HubWorker, force: str) -> list[dict[str, Any]]:
    return worker.sql(f"SELECT type, data FROM events FINAL WHERE force_id = '{force}' ORDER BY id")


def test_dlq_replay_stop_reinsert_and_drop(
    own_tansu: TansuBroker, tmp_path: Path, hub_worker: Callable[..., HubWorker]
) -> None:
    bootstrap = own_tansu.bootstrap
    served, newcomer = "dlqa" + uuid.uuid4().hex[:6], "dlqb" + uuid.uuid4().hex[:6]
    only_served = json.dumps([served])
    start = datetime.now(UTC) - timedelta(hours=5)
    first, second = call_events(2, newcomer, start)[:4], call_events(2, newcomer, start)[4:]
    first[0]["data"]["caller_name"] = "Zebedee Quuxley"  # dropped field: hashed in the DLQ
    worker = hub_worker(data_dir=tmp_path / "hub", bootstrap=bootstrap, DEMANDHUB_ALLOWED_FORCES=only_served)
    produce(bootstrap, CALLS, call_events(3, served, start))
    produce(bootstrap, CALLS, first)  # one call of the newcomer: 4 dead letters
    wait_until(lambda: rejected(worker) == 4, what="first dead letters")
    produce(bootstrap, CALLS, [b"{not json", json.dumps(dict(first[1], type="call.teleported.v1")).encode()])
    wait_until(lambda: rejected(worker) == 6, what="garbage dead letters")
    produce(bootstrap, CALLS, second)
    wait_until(lambda: rejected(worker) == 10, what="second call dead-lettered")
    assert ledger(worker, newcomer) == []
    worker.stop()

    both = [served, newcomer]
    stop = dlq_replay(bootstrap, tmp_path / "ops", "stop", both)
    assert stop | {"still_failing_by_reason": None} == {
        "domain": "contacts",
        "policy": "stop",
        "read": 5,
        "reinserted": 4,
        "still_failing": 1,
        "dropped": 0,
        "stopped_at": 4,
        "still_failing_by_reason": None,
    }
    again = dlq_replay(bootstrap, tmp_path / "ops", "stop", both)  # starts at the offending message
    assert (again["read"], again["reinserted"], again["stopped_at"]) == (1, 0, 4)

    reinsert = dlq_replay(bootstrap, tmp_path / "ops", "reinsert", both)
    assert (reinsert["read"], reinsert["reinserted"], reinsert["still_failing"]) == (6, 4, 2)
    assert reinsert["still_failing_by_reason"] == {"undecodable": 1, "unknown_type": 1}
    assert dlq_replay(bootstrap, tmp_path / "ops", "reinsert", both)["read"] == 0  # group moved on

    worker = hub_worker(
        data_dir=tmp_path / "hub", bootstrap=bootstrap, DEMANDHUB_ALLOWED_FORCES=json.dumps(both)
    )
    wait_until(lambda: len(ledger(worker, newcomer)) == 8, what="replayed events counted")
    offered = [json.loads(r["data"]) for r in ledger(worker, newcomer) if r["type"] == "call.offered.v1"]
    assert all(o.get("caller_name") is None for o in offered)
    assert all(str(o["caller_number"]).startswith("h:") for o in offered)

    produce(bootstrap, CALLS, [b"\xff\xfe garbage", b"[1, 2]"])
    wait_until(lambda: rejected(worker) == 12, what="more garbage dead-lettered")
    dropped = dlq_replay(bootstrap, tmp_path / "ops", "drop", both, "--max", "1")
    assert (dropped["read"], dropped["dropped"], dropped["reinserted"]) == (1, 1, 0)
    dropped = dlq_replay(bootstrap, tmp_path / "ops", "drop", both)
    assert (dropped["read"], dropped["dropped"]) == (1, 1)
    assert dlq_replay(bootstrap, tmp_path / "ops", "reinsert", both)["read"] == 0
    assert len(ledger(worker, newcomer)) == 8
