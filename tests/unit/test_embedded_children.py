"""Children of the embedded stack die with their parent, and a restarted `up` deals with leftovers.

These start real (tiny) processes: `sleep`, and a Python parent that is killed with SIGKILL.
Every process started here is stopped by the test, whatever its outcome.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demandhub.embedded import ProcessStamp, poll, stop_process
from demandhub.errors import BUSY, BusyError
from demandhub.runtime import EmbeddedProcesses, HubAlreadyRunning

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and PR_SET_PDEATHSIG"),
]

REPO = Path(__file__).resolve().parents[2]

_PARENT = """
import sys, time
from demandhub.embedded import start_child
child = start_child(["sleep", "300"], die_with_parent=sys.argv[1] == "1")
print(child.pid, flush=True)
time.sleep(300)
"""


def _gone(stamp: ProcessStamp) -> bool:
    return not stamp.running()


def _kill_if_running(stamp: ProcessStamp | None) -> None:
    if stamp is not None and stamp.running():
        os.kill(stamp.pid, signal.SIGKILL)


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """`sleep` processes in sessions of their own (like the hub's children); all stopped after."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        stop_process(proc, 5, signal.SIGKILL)


def _sleeper(started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True, stdin=subprocess.DEVNULL)
    started.append(proc)
    return proc


def _grandchild_of_killed_parent(die_with_parent: bool) -> ProcessStamp:
    """Start a parent that starts `sleep` through start_child, SIGKILL the parent, return the sleep."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, "1" if die_with_parent else "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        stamp = ProcessStamp.of(pid)
        assert stamp is not None and stamp.running()
        # the leash execs: the child's pid is already running `sleep`, not the wrapper
        poll(lambda: Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep"), 10, 0.02, "exec")
    finally:
        parent.kill()
        parent.wait(10)
        assert parent.stdout is not None
        parent.stdout.close()
    return stamp


def test_a_child_dies_when_its_parent_is_killed_with_sigkill() -> None:
    stamp = _grandchild_of_killed_parent(die_with_parent=True)
    try:
        poll(lambda: _gone(stamp), 10, 0.05, "the orphaned child to die")
    finally:
        _kill_if_running(stamp)


def test_without_the_leash_the_child_outlives_its_parent() -> None:
    """The control: what `up` did before (a child re-parented to init, still running)."""
    stamp = _grandchild_of_killed_parent(die_with_parent=False)
    try:
        assert stamp.running()
    finally:
        _kill_if_running(stamp)


def _record(path: Path, owner: dict[str, object], children: list[dict[str, object]]) -> None:
    path.write_text(
        json.dumps(
            {"owner": owner, "started_at": "2026-01-01T00:00:00+00:00", "children": children, "broker": "b:1"}
        )
    )


def _dead_owner() -> dict[str, object]:
    proc = subprocess.Popen(["true"])
    proc.wait(10)
    return {"pid": proc.pid, "start": 1, "boot": "gone"}


def test_a_restarted_up_stops_leftovers_and_says_events_may_be_lost(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    tansu, sim = _sleeper(sleepers), _sleeper(sleepers)
    children = []
    for role, proc in (("tansu", tansu), ("simulator", sim)):
        stamp = ProcessStamp.of(proc.pid)
        assert stamp is not None
        children.append({"role": role, **stamp.as_dict()})
    path = tmp_path / "processes.json"
    _record(path, _dead_owner(), children)
    said: list[str] = []

    EmbeddedProcesses(path, said.append).claim()

    assert tansu.wait(10) == -signal.SIGTERM and sim.wait(10) == -signal.SIGTERM
    assert len(said) == 2
    assert f"tansu pid {tansu.pid}" in said[0] and f"simulator pid {sim.pid}" in said[0]
    assert "did not stop cleanly" in said[1] and "lost" in said[1] and "b:1" in said[1]
    mine = json.loads(path.read_text())
    assert mine["owner"]["pid"] == os.getpid() and mine["children"] == []


def test_a_reused_pid_is_never_taken_for_a_leftover(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    stranger = _sleeper(sleepers)
    stamp = ProcessStamp.of(stranger.pid)
    assert stamp is not None
    path = tmp_path / "processes.json"
    _record(path, _dead_owner(), [{"role": "tansu", **stamp.as_dict(), "start": stamp.start - 1}])
    said: list[str] = []

    EmbeddedProcesses(path, said.append).claim()

    assert stranger.poll() is None  # same pid, another start time: not ours, left alone
    assert len(said) == 1 and "lost" in said[0]


def test_a_running_up_is_not_disturbed_by_a_second_one(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    child = _sleeper(sleepers)
    me, stamp = ProcessStamp.of(os.getpid()), ProcessStamp.of(child.pid)
    assert me is not None and stamp is not None
    path = tmp_path / "processes.json"
    _record(path, me.as_dict(), [{"role": "tansu", **stamp.as_dict()}])
    before = path.read_text()
    said: list[str] = []

    with pytest.raises(HubAlreadyRunning, match=f"pid {os.getpid()}") as refused:
        EmbeddedProcesses(path, said.append).claim()

    assert isinstance(refused.value, BusyError) and refused.value.code == BUSY
    assert child.poll() is None and path.read_text() == before and said == []


def test_a_clean_stop_leaves_nothing_for_the_next_up(tmp_path: Path) -> None:
    path = tmp_path / "processes.json"
    said: list[str] = []
    first = EmbeddedProcesses(path, said.append)
    first.claim()
    first.add("simulator", os.getpid())
    assert json.loads(path.read_text())["children"][0]["role"] == "simulator"
    first.release()
    EmbeddedProcesses(path, said.append).claim()
    assert said == []
