"""A real Apache Kafka broker (single KRaft node, on disk) for the integration suite and the soak
benchmark (``tests/fixtures/apache_kafka.py`` wraps it in a pytest fixture).

The jars come from Maven Central through ``deploy/kafka/fetch.sh`` (Maven and Java 17 are the only
prerequisites); the broker runs as a ``java`` child process listening on 127.0.0.1 only, with its
data in a temporary directory that survives :meth:`ApacheKafkaBroker.restart` and is removed by
:meth:`ApacheKafkaBroker.close`.

Tests needing exactly-once semantics, transactions, compaction or anything else tansu does not
implement use the ``apache_kafka`` fixture or :class:`ApacheKafkaBroker` directly (a context manager).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from demandhub.embedded import stop_process

REPO_ROOT = Path(__file__).resolve().parents[1]
FETCH_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "fetch.sh"
KAFKA_HOME_ENV = "DEMANDHUB_KAFKA_HOME"
NODE_ID = 1
_PR_SET_PDEATHSIG = 1

LOG4J2_PROPERTIES = """\
status = warn
name = demandhub-test-broker
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class KafkaBrokerError(RuntimeError):
    """The broker could not be fetched, formatted, started or stopped; the message ends with the
    tail of the server log."""


def default_lib_dir() -> Path:
    """Where fetch.sh puts the jars: ``$DEMANDHUB_KAFKA_HOME``, else ``<repo>/.cache/kafka-libs``."""
    configured = os.environ.get(KAFKA_HOME_ENV)
    return Path(configured) if configured else REPO_ROOT / ".cache" / "kafka-libs"


def ensure_kafka_libs(lib_dir: Path | None = None) -> Path:
    """Return a directory holding the broker's jars, running fetch.sh when it has no Kafka jar.

    Raises KafkaBrokerError with Maven's output when the fetch fails.
    """
    target = lib_dir or default_lib_dir()
    if any(target.glob("kafka_2.13-*.jar")):
        return target
    result = subprocess.run(
        ["bash", str(FETCH_SCRIPT), str(target)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise KafkaBrokerError(f"{FETCH_SCRIPT} failed ({result.returncode}):\n{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_cluster_id() -> str:
    """A random KRaft cluster id (a UUID in Kafka's 22-character URL-safe base64 form). Like Kafka's
    own ``Uuid.randomUuid``, never one that starts with "-": the storage tool would read it as an
    option and refuse to format."""
    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not found.startswith("-"):
            return found


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` when set, else ``java`` from PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaBrokerError("no java on PATH (Java 17 is required)")
    return found


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM the broker when the test process dies.

    Linux ties this to the thread that started the child: start the broker from the main thread.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ApacheKafkaBroker:
    """One Apache Kafka node (broker and controller) on 127.0.0.1 with its data on disk.

    Ports, cluster id and data directory are chosen once, at construction, and kept by
    :meth:`restart`, so clients keep the same ``bootstrap`` and topics, records, committed offsets
    and transaction state survive a restart. ``overrides`` are extra server.properties entries
    (they win over the defaults written here).
    """

    def __init__(
        self,
        lib_dir: Path | None = None,
        work_dir: Path | None = None,
        heap: str = "512m",
        start_timeout_s: float = 180.0,
        stop_timeout_s: float = 30.0,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self._lib_dir = lib_dir
        self._owns_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="demandhub-kafka-"))
        self.heap = heap
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.port = free_port()
        self.controller_port = free_port()
        self.cluster_id = new_cluster_id()
        self.data_dir = self.work_dir / "data"
        self.config_path = self.work_dir / "server.properties"
        self.log_path = self.work_dir / "server.log"
        self._overrides = dict(overrides or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._starts = 0
        atexit.register(self._kill_if_running)

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of the PLAINTEXT listener."""
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process has been started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def server_properties(self) -> dict[str, str]:
        """The broker configuration written to server.properties (single node, loopback only)."""
        properties = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{self.controller_port}",
            "listeners": (f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
        }
        properties.update(self._overrides)
        return properties

    def start(self) -> None:
        """Format the storage on first start, launch the broker and wait until it serves clients.

        Raises KafkaBrokerError (with the log tail) if the process exits or is not ready within
        ``start_timeout_s``; the process is stopped in that case.
        """
        if self.running:
            return
        libs = ensure_kafka_libs(self._lib_dir)
        self._write_config()
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage(libs)
        self._starts += 1
        self._log_marker(f"start #{self._starts} on {self.bootstrap}")
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [*self._java_command(libs), "kafka.Kafka", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM (controlled shutdown), wait up to ``stop_timeout_s``, then SIGKILL. Idempotent."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        stop_process(process, self.stop_timeout_s)
        self._log_marker(f"stopped with exit code {process.returncode}")

    def kill(self) -> None:
        """SIGKILL the broker (a crash: no controlled shutdown, no flush). Idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=self.stop_timeout_s)
            self._log_marker("killed")

    def restart(self) -> None:
        """Stop, then start again on the same ports, cluster id and data directory."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the broker and remove the work directory if this object created it."""
        self.stop()
        atexit.unregister(self._kill_if_running)
        if self._owns_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the server log (stdout and stderr of every start)."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> ApacheKafkaBroker:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _java_command(self, libs: Path) -> list[str]:
        return [
            java_executable(),
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.work_dir / 'log4j2.properties'}",
            "-cp",
            f"{libs}/*",
        ]

    def _write_config(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{key}={value}" for key, value in self.server_properties().items()]
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        (self.work_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES, encoding="utf-8")

    def _format_storage(self, libs: Path) -> None:
        self._log_marker(f"formatting {self.data_dir} for cluster {self.cluster_id}")
        command = [
            *self._java_command(libs),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            self.cluster_id,
            "--config",
            str(self.config_path),
        ]
        with self.log_path.open("ab") as log:
            result = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.work_dir, check=False
            )
        if result.returncode != 0:
            raise KafkaBrokerError(f"storage format failed:\n{self.log_tail()}")

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise KafkaBrokerError(f"broker exited during start:\n{self.log_tail()}")
            if self._accepts_connections() and self._serves_metadata():
                return
            time.sleep(0.5)
        raise KafkaBrokerError(f"broker not ready within {self.start_timeout_s} s:\n{self.log_tail()}")

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                return True
        except OSError:
            return False

    def _serves_metadata(self) -> bool:
        """True once an admin client sees this node as a registered, unfenced broker."""
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                client_id="demandhub-broker-probe",
                request_timeout_ms=5000,
            )
        except KafkaError:
            return False
        try:
            admin.list_topics()
            brokers = admin.describe_cluster().get("brokers", [])
            return any(
                broker.get("broker_id") == NODE_ID and not broker.get("is_fenced", False)
                for broker in brokers
            )
        except KafkaError:
            return False
        finally:
            admin.close()

    def _log_marker(self, message: str) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"=== {stamp} demandhub test broker: {message} ===\n")

    def _kill_if_running(self) -> None:
        with contextlib.suppress(Exception):
            self.kill()
