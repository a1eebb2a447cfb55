"""`demandhub up` killed with SIGKILL: its children go with it, and the next `up` says what happened.

Runs the real `demandhub up` (tansu, worker, chDB, web, live simulator) as a child process on loopback
ports, kills it with SIGKILL, and checks through /proc that tansu and the simulator died with it; a
second `up` on the same data directory then reports the unclean stop (events in the old in-memory
broker may be lost), and its simulator continues with new ids: nothing is dropped as a duplicate or
quarantined. Every process started here is stopped at the end, whatever the outcome.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demandhub.embedded import ProcessStamp, free_port, stop_process
from tests.fixtures.hub import REPO, HubWorker, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(420),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and PR_SET_PDEATHSIG"),
]


class Up(HubWorker):
    """A `demandhub up` child process; its stderr goes to ``worker.log`` (read by the helpers)."""

    def launch_up(self, *options: str) -> Up:
        self.port = free_port()
        env = os.environ.copy() | {"DEMANDHUB_BATCH_MAX_SECONDS": "0.2"}
        env.pop("DEMANDHUB_KAFKA_BOOTSTRAP", None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "demandhub.cli", "up", "--data-dir", str(self.data_dir)]
        with open(self.data_dir / "worker.log", "ab") as err, open(self.data_dir / "up.out", "ab") as out:
            self.proc = subprocess.Popen(
                [*argv, "--port", str(self.port), *options],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_until(self._healthy, timeout=120, what=f"`demandhub up` (log {self.data_dir}/worker.log)")
        return self

    def children(self) -> dict[str, ProcessStamp]:
        record = json.loads((self.data_dir / "processes.json").read_text())
        stamps = {c["role"]: ProcessStamp.from_dict(c) for c in record["children"]}
        return {role: stamp for role, stamp in stamps.items() if stamp is not None}


@pytest.fixture
def ups(tmp_path: Path) -> Iterator[Callable[..., Up]]:
    """Start `up` processes; after the test every one of them and every child they recorded is gone."""
    started: list[Up] = []
    seen: list[ProcessStamp] = []

    def start(*options: str, data_dir: Path | None = None) -> Up:
        up = Up("", data_dir or tmp_path / "hub")
        started.append(up)
        up.launch_up(*options)
        seen.extend(up.children().values())
        return up

    yield start
    for up in started:
        up.stop(signal.SIGTERM, 30)
    for stamp in seen:
        if stamp.running():
            os.kill(stamp.pid, signal.SIGKILL)


def gone(stamps: Iterator[ProcessStamp] | list[ProcessStamp]) -> bool:
    return not any(s.running() for s in stamps)


def test_kill_9_of_up_takes_its_children_and_a_restart_continues_with_new_ids(
    ups: Callable[..., Up],
) -> None:
    first = ups("--speed", "120")
    wait_until(lambda: first.scalar("SELECT count() FROM events") >= 20, 120, 0.5, "events from run 1")
    children = first.children()
    assert set(children) == {"tansu", "simulator"}
    assert all(s.running() for s in children.values())

    first.kill()  # SIGKILL: no finally, no signal handler runs in `up`

    wait_until(lambda: gone(list(children.values())), 15, 0.05, "tansu and the simulator to die with up")

    second = ups("--speed", "120", data_dir=first.data_dir)
    said = second.log_tail(20_000)
    assert "did not stop cleanly" in said and "lost" in said
    assert set(second.children()) == {"tansu", "simulator"}
    wait_until(lambda: second.metric("demandhub_events_accepted_total") >= 30, 120, 0.5, "run 2 events")
    # a restarted demo continues: none of its events reuses an id of the first run's
    assert second.metric("demandhub_events_duplicate_total") == 0
    assert second.metric("demandhub_events_quarantined_total") == 0
    runs = second.scalar("SELECT uniqExact(splitByChar('-', id)[2]) FROM events WHERE source = 'telephony'")
    assert runs == 2

    run2 = list(second.children().values())
    assert second.stop(signal.SIGTERM, 30) == 0
    assert gone(run2)
    assert not (second.data_dir / "processes.json").exists()  # a clean stop leaves nothing to report


def test_a_restarted_up_stops_a_leftover_child_it_finds_in_the_data_directory(
    ups: Callable[..., Up], tmp_path: Path
) -> None:
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True, stdin=subprocess.DEVNULL)
    try:
        stamp = ProcessStamp.of(leftover.pid)
        assert stamp is not None
        dead = subprocess.Popen(["true"])
        dead.wait(10)
        data_dir = tmp_path / "hub"
        data_dir.mkdir()
        (data_dir / "processes.json").write_text(
            json.dumps(
                {
                    "owner": {"pid": dead.pid, "start": 1, "boot": stamp.boot},
                    "started_at": "2026-12-05T09:00:00+00:00",
                    "children": [{"role": "simulator", **stamp.as_dict()}],
                }
            )
        )

        up = ups("--no-simulator", data_dir=data_dir)

        assert leftover.wait(15) == -signal.SIGTERM
        said = up.log_tail(20_000)
        assert f"simulator pid {leftover.pid} (sleep 300)" in said
        assert set(up.children()) == {"tansu"}
    finally:
        stop_process(leftover, 5, signal.SIGKILL)
