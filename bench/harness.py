"""What every benchmark shares: a broker, worker processes, producing, child runs, bounded waits.

Contracts:
- Every server is started on 127.0.0.1 and registered, so :func:`stop_everything` (called by
  ``python -m bench`` in a ``finally:``) stops whatever a failed benchmark left running.
- Every wait is bounded by a timeout and raises :class:`BenchError` when it runs out.
- chDB is never loaded in the bench process itself (one process per data path, and no fork after
  loading it): anything that opens a warehouse runs as a child (``python -m bench.child ...``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demandhub.embedded import TansuBroker, create_topics, free_port, poll, stop_process

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
_RUNNING: list[subprocess.Popen[bytes]] = []
_BROKERS: list[TansuBroker] = []


class BenchError(RuntimeError):
    """A benchmark could not complete (a wait ran out, a child failed)."""


@dataclass(frozen=True)
class Record:
    """One event ready to produce: topic, key (subject), value (JSON bytes), event id."""

    topic: str
    key: bytes
    value: bytes
    event_id: str


def wait_for(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.25, what: str = "condition"
) -> Any:
    """Poll ``predicate`` until it returns something truthy; BenchError after ``timeout`` s."""
    try:
        return poll(predicate, timeout, interval, what)
    except TimeoutError as exc:
        raise BenchError(str(exc)) from exc


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values`` by linear interpolation; ValueError when empty."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def ratio(value: float, baseline: float) -> float | None:
    """``value / baseline``, or None when the baseline is zero."""
    return value / baseline if baseline else None


# -- events -------------------------------------------------------------------------------------
def records_of(events: Iterable[dict[str, Any]]) -> list[Record]:
    """Simulator envelopes as records for their topics, keyed by subject (as the hub expects)."""
    from streams.sources.simulator.output import encode, topic_name_for

    return [
        Record(topic_name_for(e), str(e.get("subject", "")).encode(), encode(e), str(e.get("id", "")))
        for e in events
    ]


def simulated_records(start: Any, days: int, scale: float, seed: int = 1) -> list[Record]:
    """The clean event stream of one force (default ``cambs``) as records."""
    from streams.sources.simulator import SimConfig, simulate

    return records_of(simulate(SimConfig(start=start, days=days, scale=scale, seed=seed)))


def producer(bootstrap: str, linger_ms: int = 20) -> Any:
    """A kafka-python producer tuned for throughput (acks=1, 256 KiB batches)."""
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=linger_ms,
        batch_size=256 * 1024,
        acks=1,
        max_request_size=4 << 20,
    )


def produce_all(records: Sequence[Record], bootstrap: str) -> float:
    """Produce every record and wait for the broker to confirm them; returns the seconds taken."""
    started = time.perf_counter()
    prod = producer(bootstrap)
    try:
        futures = [prod.send(r.topic, key=r.key, value=r.value) for r in records]
        prod.flush(timeout=300)
        for fut in futures:
            if fut.failed():
                raise BenchError(f"produce failed: {fut.exception!r}")
    finally:
        prod.close()
    return time.perf_counter() - started


# -- servers ------------------------------------------------------------------------------------
@contextlib.contextmanager
def broker(log_path: Path) -> Iterator[TansuBroker]:
    """A fresh tansu broker (memory storage, 127.0.0.1) with the hub's topics; stopped after."""
    b = TansuBroker(log_path=log_path).start()
    _BROKERS.append(b)
    try:
        create_topics(b.bootstrap)
        yield b
    finally:
        b.stop()
        _BROKERS.remove(b)


def spawn(args: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a child in its own session (output to ``log_path``), registered for clean-up."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(args),
            cwd=REPO,
            env=(os.environ | (env or {})),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _RUNNING.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> int | None:
    """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
    code = stop_process(proc, timeout)
    if proc in _RUNNING:
        _RUNNING.remove(proc)
    return code


def stop_everything() -> None:
    """Stop every child and broker this process started and has not stopped yet."""
    for proc in list(_RUNNING):
        stop(proc, timeout=10)
    for b in list(_BROKERS):
        b.stop()
        _BROKERS.remove(b)


@dataclass
class Worker:
    """A ``demandhub worker`` child with its own data directory (its own chDB) and web port.

    Runs with the product's default batching settings; ``env`` adds DEMANDHUB_* overrides.
    """

    bootstrap: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    launched_at: float = 0.0

    def launch(self) -> Worker:
        """Start the process (``launched_at`` = perf_counter just before) without waiting."""
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "DEMANDHUB_DATA_DIR": str(self.data_dir),
            "DEMANDHUB_KAFKA_BOOTSTRAP": self.bootstrap,
            "DEMANDHUB_WEB_HOST": "127.0.0.1",
            "DEMANDHUB_WEB_PORT": str(self.port),
        } | self.env
        self.launched_at = time.perf_counter()
        self.proc = spawn([PYTHON, "-m", "demandhub.cli", "worker"], self.data_dir / "worker.log", env)
        return self

    def wait_healthy(self, timeout: float = 120.0) -> Worker:
        wait_for(self.healthy, timeout, 0.1, f"worker web server (log {self.data_dir}/worker.log)")
        return self

    def healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"worker exited with {self.proc.returncode}: {self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}health", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def token(self, role: str = "analyst") -> str:
        return str(json.loads((self.data_dir / "secrets" / "tokens.json").read_text())[role])

    def get(self, path: str, role: str = "analyst", auth: bool = True) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token(role)}"} if auth else {}
        req = urllib.request.Request(self.url + path.lstrip("/"), headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def sql(self, query: str, timeout: float = 60.0) -> list[list[Any]]:
        """Rows of a read-only query through the hub's ``POST /api/sql``."""
        req = urllib.request.Request(
            self.url + "api/sql",
            data=json.dumps({"sql": query}).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return list(json.loads(r.read())["rows"])

    def distinct_events(self) -> int:
        """Distinct (source, id) in this worker's ledger; 0 while the API is not up yet."""
        return self._ledger_count("uniqExact(source, id)")

    def ledger_rows(self) -> int:
        """Rows in this worker's ledger, copies included (the engine answers from its parts' row
        counts, reading no column); 0 while the API is not up yet."""
        return self._ledger_count("count()")

    def _ledger_count(self, aggregate: str) -> int:
        """``SELECT <aggregate> FROM events`` through the API; 0 while the API is not up yet."""
        try:
            return int(self.sql(f"SELECT {aggregate} FROM events")[0][0])
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, FileNotFoundError):
            return 0

    def ledger_rows_distinct(self) -> tuple[int, int]:
        """(rows, distinct (source, id)) of this worker's ledger, read in one statement."""
        rows = self.sql("SELECT count(), uniqExact(source, id) FROM events")
        return int(rows[0][0]), int(rows[0][1])

    def metric(self, name: str, labels: str | None = None) -> float:
        """Sum of every sample of ``name`` on the worker's ``/metrics`` (0 if absent); with ``labels``
        (the text between the braces, e.g. ``kind="glibc_system"``) only the samples labelled so."""
        status, body = self.get("metrics")
        if status != 200:
            return 0.0
        total = 0.0
        for line in body.decode().splitlines():
            head, _, value = line.rpartition(" ")
            if line.startswith("#"):
                continue
            metric, _, labelled = head.partition("{")
            if metric == name and (labels is None or labelled.rstrip("}") == labels):
                total += float(value)
        return total

    def log_tail(self, n: int = 3000) -> str:
        path = self.data_dir / "worker.log"
        return path.read_bytes()[-n:].decode(errors="replace") if path.exists() else ""

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        return stop(proc)


# -- children -----------------------------------------------------------------------------------
def run_child(module: str, args: Sequence[str], timeout: float, log_path: Path) -> dict[str, Any]:
    """Run ``python -m <module> args`` to completion; returns the JSON object on its last stdout
    line. BenchError if it fails or runs past ``timeout`` (it is then killed)."""
    return child_result(start_child(module, args, log_path), timeout, log_path)


def start_child(module: str, args: Sequence[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m <module> args`` with stdout piped (read it with :func:`child_result`)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as err:
        proc = subprocess.Popen(
            [PYTHON, "-m", module, *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _RUNNING.append(proc)
    return proc


def child_result(proc: subprocess.Popen[bytes], timeout: float, log_path: Path) -> dict[str, Any]:
    """Wait for a child started by :func:`start_child`; its last stdout line as JSON."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        stop(proc, timeout=5)
        raise BenchError(f"child {proc.args!r} ran past {timeout:.0f}s") from exc
    if proc in _RUNNING:
        _RUNNING.remove(proc)
    lines = out.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = log_path.read_bytes()[-2000:].decode(errors="replace") if log_path.exists() else ""
        raise BenchError(f"child {proc.args!r} exited {proc.returncode}: {tail}")
    return dict(json.loads(lines[-1]))


@dataclass(frozen=True)
class RunContext:
    """Where and how a benchmark runs: its scratch directory, quick mode, the command line, the
    machine description recorded in the result and options of one benchmark (``minutes`` of the
    soak)."""

    work: Path
    quick: bool
    command: str
    machine: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
