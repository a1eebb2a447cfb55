"""8. Soak: one worker on Apache Kafka at a steady 50 events/s for two hours.

faust-streaming issues #175 and #640 report consumers that stop silently; this run checks that the
worker never stalls and that its resident memory stays flat. One Apache Kafka node (KRaft, on disk,
127.0.0.1, :mod:`bench.apache_kafka`) and one ``demandhub worker``; simulated events of one force
are produced paced at ``RATE`` events/s (ticks of 100 ms) for ``--minutes`` (default 120). Every
``MARK_EVERY``-th event is a marker whose send time is kept; a poller asks the worker's
``POST /api/sql`` every ``POLL_SECONDS`` which outstanding markers are in the ledger (latency =
answer time - send time, as in :mod:`bench.freshness`). Every ``SAMPLE_SECONDS`` the run records:

- the worker's resident memory (``VmRSS`` of ``/proc/<pid>/status``) and its parts (``RssAnon``,
  ``RssFile``: the libraries' pages read in, ``RssShmem``), and the worker's own memory gauges;
- events produced (acknowledged by the broker) and distinct events in the ledger (progress);
- the consumer group's lag on the input topics as the broker sees it (end offsets - committed
  offsets), and the worker's own ``demandhub_consumer_lag_messages`` and stall gauge.

Verdicts:
- never stalls: the ledger grew in every sampling window while events were produced, and the
  group lag was above ``LAG_BOUND_SECONDS`` of events (500 records) in no two consecutive samples;
- memory flat: the highest RSS over the second half (the second hour) is within 10% of the highest
  RSS over the ten minutes (a twelfth of the run) after the warm-up. Warm-up is excluded because
  the worker's first minutes load chDB (~350 MB mapped), open the warehouse, fill the history cache
  and page in the code paths; that growth is start-up, not a leak. It ends at the later of the first
  twelfth (10 minutes of 120) and the first sample whose history cache holds at least
  ``CACHE_FULL`` of its bound (``demandhub_history_cache_events`` against the worker's
  ``history_cache_events`` setting), and no later than one twelfth before the half, so
  both windows always exist. Both sides are the highest of their windows: the resident memory
  swings by tens of MiB from one sample to the next (the engine's freed pages), and a single
  sample against the highest of 120 would judge that swing, not a growth. The result also gives
  the ratio by the earlier rule (the one sample at minute 10), ``rss_growth_from_first_twelfth``.

The run always writes what it measured: an exception, a dead worker or SIGTERM ends the production
early and the result is written with ``extra.ended_early`` (and ``met`` false); every sample is
also appended to ``<work>/samples.jsonl`` as it is taken, which survives even ``kill -9``.
A run shorter than ``FULL_MINUTES`` is a short run: ``python -m bench`` keeps its result in the
scratch directory and does not rewrite BENCHMARKS.md.
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
import urllib.error
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from bench.apache_kafka import ApacheKafkaBroker
from bench.harness import (
    BenchError,
    Record,
    RunContext,
    Worker,
    percentile,
    producer,
    records_of,
)
from bench.result import Figure, Result

FULL_MINUTES = 120.0
RATE = 50
TICK = 0.1
MARK_EVERY = 50
POLL_SECONDS = 0.1
SAMPLE_SECONDS = 30.0
WINDOWS = 12
"""Latency and memory are reported per twelfth of the run (10-minute windows over two hours)."""
LAG_BOUND_SECONDS = 10.0
RSS_TOLERANCE = 0.10
CACHE_FULL = 0.98
"""The share of its bound at which the worker's history cache counts as full (the warm-up's end)."""
GROUP = "demandhub"
DRAIN_SECONDS = 300.0


class _Stop(BaseException):
    """SIGTERM arrived: end the production and write what was measured (a BaseException, so no
    ``except Exception`` around a sample swallows it)."""


def _status(pid: int, field: str) -> int | None:
    """The first number of ``field`` in ``/proc/<pid>/status`` (None once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def rss_kib(pid: int) -> int | None:
    """``VmRSS`` of ``pid`` in KiB (None once the process is gone)."""
    return _status(pid, "VmRSS")


def threads(pid: int) -> int | None:
    """The number of threads of ``pid`` (None once the process is gone)."""
    return _status(pid, "Threads")


def event_stream(minutes: float) -> Iterator[Record]:
    """Simulated events of one force, generated lazily (enough for ``minutes`` at RATE)."""
    from streams.sources.simulator import SimConfig, simulate

    wanted = int(RATE * minutes * 60) + 1000
    days = wanted // 5000 + 5
    start = date.today() - timedelta(days=days + 3)
    for event in simulate(SimConfig(start=start, days=days, scale=1.0, seed=11)):
        yield from records_of([event])


def _quoted(text: str) -> str:
    """A SQL string literal of ``text``."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MarkerPoller(threading.Thread):
    """Polls the worker for outstanding markers; latencies are kept with their send time."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.pending: dict[str, tuple[float, str]] = {}
        """Outstanding markers: event id -> (send time, subject)."""
        self.latencies: list[tuple[float, float]] = []
        """(send time as seconds since the run started, latency in seconds)."""
        self.started = time.time()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.errors = 0
        self.polls = 0

    def mark(self, event_id: str, at: float, subject: str) -> None:
        with self.lock:
            self.pending[event_id] = (at, subject)

    def outstanding(self) -> int:
        with self.lock:
            return len(self.pending)

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                todo = [(eid, subject) for eid, (_, subject) in list(self.pending.items())[:500]]
            if todo:
                self._poll(todo)
            self.stopping.wait(POLL_SECONDS)

    def _poll(self, todo: list[tuple[str, str]]) -> None:
        # By subject too: the ledger is sorted by (force_id, subject, ...), so the poll reads the
        # markers' granules only, not the id column of the whole ledger (which grows through the run).
        ids = ",".join(_quoted(eid) for eid, _ in todo)
        subjects = ",".join(sorted({_quoted(subject) for _, subject in todo}))
        try:
            rows = self.worker.sql(
                f"SELECT DISTINCT id FROM events WHERE subject IN ({subjects}) AND id IN ({ids})",
                timeout=10,
            )
        except Exception:  # a slow or refused poll is counted and retried, never fatal
            self.errors += 1
            return
        answered = time.time()
        self.polls += 1
        with self.lock:
            for (eid,) in rows:
                marker = self.pending.pop(eid, None)
                if marker is not None:
                    self.latencies.append((marker[0] - self.started, answered - marker[0]))


class Producer(threading.Thread):
    """Sends the event stream at RATE per second for ``seconds``; counts acknowledged records."""

    def __init__(self, bootstrap: str, seconds: float, poller: MarkerPoller, minutes: float) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.seconds = seconds
        self.poller = poller
        self.minutes = minutes
        self.stopping = threading.Event()
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.elapsed = 0.0
        self.error: str | None = None
        self.lock = threading.Lock()

    def _ack(self, _meta: Any) -> None:
        with self.lock:
            self.acked += 1

    def _fail(self, _exc: BaseException) -> None:
        with self.lock:
            self.failed += 1

    def run(self) -> None:
        prod = producer(self.bootstrap, linger_ms=5)
        stream = event_stream(self.minutes)
        per_tick = max(1, round(RATE * TICK))
        started = time.perf_counter()
        try:
            while not self.stopping.is_set():
                due = started + self.sent / RATE
                if due - started >= self.seconds:
                    break
                pause = due - time.perf_counter()
                if pause > 0:
                    self.stopping.wait(pause)
                for _ in range(per_tick):
                    r = next(stream, None)
                    if r is None:
                        raise BenchError(f"simulator ran out after {self.sent} events")
                    if self.sent % MARK_EVERY == 0:
                        self.poller.mark(r.event_id, time.time(), r.key.decode())
                    fut = prod.send(r.topic, key=r.key, value=r.value)
                    fut.add_callback(self._ack)
                    fut.add_errback(self._fail)
                    self.sent += 1
            prod.flush(timeout=60)
        except Exception as exc:  # recorded and reported in the result
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.elapsed = time.perf_counter() - started
            prod.close(timeout=10)


def group_lag(bootstrap: str) -> int | None:
    """Records on the input topics not yet committed by the worker's group (None if unknown)."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    from schemas.topics import TOPICS

    parts = [TopicPartition(t.name, p) for t in TOPICS.values() for p in range(t.partitions)]
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        try:
            committed = dict(admin.list_group_offsets({GROUP: None})[GROUP])
        finally:
            admin.close()
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        try:
            ends = consumer.end_offsets(parts)
        finally:
            consumer.close()
    except Exception:  # a slow broker answer is a missing sample, not a failed run
        return None
    return int(sum(ends[tp] - (max(0, committed[tp].offset) if tp in committed else 0) for tp in parts))


def _worker_metric(worker: Worker, name: str, labels: str | None = None) -> float | None:
    try:
        return worker.metric(name, labels)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def _ledger(worker: Worker) -> int | None:
    try:
        return int(worker.sql("SELECT uniqExact(source, id) FROM events", timeout=30)[0][0])
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, KeyError, IndexError):
        return None


def _sample(worker: Worker, bootstrap: str, prod: Producer, t0: float) -> dict[str, Any]:
    pid = worker.proc.pid if worker.proc is not None else -1
    alive = worker.proc is not None and worker.proc.poll() is None
    return {
        "t": round(time.time() - t0, 1),
        "produced": prod.acked,
        "sent": prod.sent,
        "ledger": _ledger(worker),
        "group_lag": group_lag(bootstrap),
        "worker_lag": _worker_metric(worker, "demandhub_consumer_lag_messages"),
        "stalled_gauge": _worker_metric(worker, "demandhub_consumer_stalled"),
        "rss_kib": rss_kib(pid),
        "rss_anon_kib": _status(pid, "RssAnon"),
        "rss_file_kib": _status(pid, "RssFile"),
        "rss_shmem_kib": _status(pid, "RssShmem"),
        "frozen": _worker_metric(worker, "demandhub_worker_gc_frozen_objects"),
        "py_blocks": _worker_metric(worker, "demandhub_worker_python_allocated_blocks"),
        "history_cache_events": _worker_metric(worker, "demandhub_history_cache_events"),
        "gc_reclaimed": _worker_metric(worker, "demandhub_worker_gc_reclaimed_objects_total"),
        **{
            f"{kind}_bytes": _worker_metric(worker, "demandhub_worker_native_heap_bytes", f'kind="{kind}"')
            for kind in (
                "glibc_system",
                "glibc_in_use",
                "engine_tracked",
                "engine_allocated",
                "engine_resident",
                "engine_thread_cached",
                "engine_active",
                "engine_metadata",
                "engine_dirty",
            )
        },
        "threads": threads(pid),
        "alive": alive,
        "producing": prod.is_alive(),
    }


def _verdicts(samples: list[dict[str, Any]], seconds: float, cache_bound: int) -> dict[str, Any]:
    """Stall and memory verdicts over ``samples`` of a run planned for ``seconds`` (the worker's
    history cache bounded at ``cache_bound`` events)."""
    bound = int(RATE * LAG_BOUND_SECONDS)
    producing = [s for s in samples if s["producing"]]
    no_progress: list[float] = []
    for prev, cur in itertools.pairwise(producing):
        if prev["ledger"] is None or cur["ledger"] is None or cur["ledger"] <= prev["ledger"]:
            no_progress.append(cur["t"])
    over = [s["group_lag"] is not None and s["group_lag"] > bound for s in producing]
    runs = longest = 0
    for flag in over:
        runs = runs + 1 if flag else 0
        longest = max(longest, runs)
    width = seconds / WINDOWS
    full = CACHE_FULL * cache_bound
    cache_full_at = next((s["t"] for s in samples if (s.get("history_cache_events") or 0) >= full), None)
    latest = seconds / 2 - width
    warm_end = min(max(width, cache_full_at if cache_full_at is not None else latest), latest)
    rss = [(s["t"], s["rss_kib"]) for s in samples if s["rss_kib"]]
    after_warm_up = [v for t, v in rss if warm_end <= t < warm_end + width]
    # a short run's twelfth can fall between two samples: then the first sample after the warm-up
    baseline = max(after_warm_up) if after_warm_up else next((v for t, v in rss if t >= warm_end), None)
    second_half = [v for t, v in rss if seconds / 2 <= t <= seconds + SAMPLE_SECONDS]
    peak = max(second_half) if second_half else None
    growth = peak / baseline if peak and baseline else None
    at_first_twelfth = next((v for t, v in rss if t >= width), None)
    return {
        "lag_bound_records": bound,
        "windows_without_progress": no_progress,
        "longest_run_over_lag_bound": longest,
        "never_stalls": bool(producing) and not no_progress and longest <= 1,
        "history_cache_bound": cache_bound,
        "history_cache_full_at_s": cache_full_at,
        "rss_baseline_kib": baseline,
        "rss_baseline_at_s": warm_end,
        "rss_peak_second_half_kib": peak,
        "rss_growth": growth,
        "rss_growth_from_first_twelfth": peak / at_first_twelfth if peak and at_first_twelfth else None,
        "memory_flat": growth is not None and growth <= 1 + RSS_TOLERANCE,
    }


def _windows(
    samples: list[dict[str, Any]], latencies: list[tuple[float, float]], seconds: float
) -> list[dict[str, Any]]:
    width = seconds / WINDOWS
    out = []
    for i in range(WINDOWS):
        lo, hi = i * width, (i + 1) * width
        lat = [v for t, v in latencies if lo <= t < hi]
        rss = [s["rss_kib"] for s in samples if lo <= s["t"] < hi and s["rss_kib"]]
        lag = [s["group_lag"] for s in samples if lo <= s["t"] < hi and s["group_lag"] is not None]
        out.append(
            {
                "from_s": round(lo),
                "to_s": round(hi),
                "markers": len(lat),
                "p50_s": percentile(lat, 0.5) if lat else None,
                "p99_s": percentile(lat, 0.99) if lat else None,
                "rss_max_mib": round(max(rss) / 1024, 1) if rss else None,
                "group_lag_max": max(lag) if lag else None,
            }
        )
    return out


def run(ctx: RunContext) -> Result:
    minutes = float(ctx.options.get("minutes") or (3.0 if ctx.quick else FULL_MINUTES))
    seconds = minutes * 60
    samples: list[dict[str, Any]] = []
    ended_early: str | None = None
    log = ctx.work / "samples.jsonl"

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        raise _Stop("SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_term)
    kafka = ApacheKafkaBroker(work_dir=ctx.work / "kafka")
    worker: Worker | None = None
    poller: MarkerPoller | None = None
    prod: Producer | None = None
    try:
        kafka.start()
        from demandhub.embedded import create_topics

        create_topics(kafka.bootstrap)
        worker = Worker(kafka.bootstrap, ctx.work / "worker").launch()
        worker.wait_healthy(300)
        poller = MarkerPoller(worker)
        prod = Producer(kafka.bootstrap, seconds, poller, minutes)
        poller.start()
        t0 = time.time()
        poller.started = t0
        prod.start()
        next_at = t0
        while prod.is_alive():
            prod.join(max(0.0, next_at - time.time()))
            if prod.is_alive() and time.time() < next_at:
                continue
            samples.append(_sample(worker, kafka.bootstrap, prod, t0))
            with log.open("a") as f:
                f.write(json.dumps(samples[-1]) + "\n")
            print(f"   soak {json.dumps(samples[-1])}", flush=True)
            if not samples[-1]["alive"]:
                raise BenchError(f"worker exited: {worker.log_tail(500)}")
            next_at += SAMPLE_SECONDS
        if prod.error:
            raise BenchError(f"producer stopped: {prod.error}")
        drain_until = time.time() + DRAIN_SECONDS
        while time.time() < drain_until and (poller.outstanding() or _ledger(worker) != prod.acked):
            time.sleep(1)
        samples.append(_sample(worker, kafka.bootstrap, prod, t0))
        with log.open("a") as f:
            f.write(json.dumps(samples[-1]) + "\n")
    except (_Stop, BenchError, OSError, ValueError, KeyError, RuntimeError) as exc:
        ended_early = f"{type(exc).__name__}: {str(exc)[:300]}"
        print(f"   soak ended early: {ended_early}", flush=True)
    finally:
        if prod is not None:
            prod.stopping.set()
            prod.join(30)
        if poller is not None:
            poller.stopping.set()
            poller.join(5)
        if worker is not None:
            worker.stop()
        kafka.close()
        signal.signal(signal.SIGTERM, previous)
    return _result(ctx, minutes, samples, poller, prod, ended_early)


def _worker_cache_bound() -> int:
    """The worker's ``history_cache_events``: it reads its settings from this process's environment
    (:func:`bench.harness.spawn`), and the soak adds no override."""
    from demandhub.settings import Settings

    return Settings().history_cache_events


def _result(
    ctx: RunContext,
    minutes: float,
    samples: list[dict[str, Any]],
    poller: MarkerPoller | None,
    prod: Producer | None,
    ended_early: str | None,
) -> Result:
    seconds = minutes * 60
    latencies = poller.latencies if poller is not None else []
    v = _verdicts(samples, seconds, _worker_cache_bound())
    windows = _windows(samples, latencies, seconds)
    lat = [x for _, x in latencies]
    achieved = prod.sent / prod.elapsed if prod is not None and prod.elapsed else None
    ledger_end = samples[-1]["ledger"] if samples else None
    lags = [s["group_lag"] for s in samples if s["group_lag"] is not None and s["producing"]]
    p99s = [w["p99_s"] for w in windows if w["p99_s"] is not None]
    short = minutes < FULL_MINUTES
    met = (
        None
        if ended_early is None and not samples
        else (ended_early is None and v["never_stalls"] and v["memory_flat"])
    )
    kib = 1024.0
    return Result(
        name="soak",
        title="Soak (Apache Kafka, steady load)",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"{RATE} events/s for {minutes:g} min{' (short run)' if short else ''} on one Apache Kafka "
        f"node (KRaft, loopback) and one worker; sampled every {SAMPLE_SECONDS:.0f} s; one marker "
        f"every {MARK_EVERY} events, ledger polled every {POLL_SECONDS * 1000:.0f} ms"
        + (f"; ENDED EARLY: {ended_early}" if ended_early else ""),
        figures=[
            Figure("achieved production rate", achieved, "events/s"),
            Figure("events produced (acknowledged)", prod.acked if prod else None, "events"),
            Figure("distinct events in the ledger at the end", ledger_end, "events"),
            Figure(
                "sampling windows without ledger progress",
                len(v["windows_without_progress"]),
                "windows",
                "while producing; any is a stall",
            ),
            Figure(
                "highest group lag while producing",
                max(lags) if lags else None,
                "records",
                f"bound {v['lag_bound_records']} ({LAG_BOUND_SECONDS:.0f} s of events)",
            ),
            Figure(
                "longest run of samples over the lag bound",
                v["longest_run_over_lag_bound"],
                "samples",
                "more than 1 is a stall",
            ),
            Figure(
                "history cache full (warm-up's end)",
                v["history_cache_full_at_s"] / 60 if v["history_cache_full_at_s"] is not None else None,
                "min",
                f"{CACHE_FULL:.0%} of {v['history_cache_bound']:,} events",
            ),
            Figure(
                "worker RSS, highest over the ten minutes after warm-up",
                v["rss_baseline_kib"] / kib if v["rss_baseline_kib"] else None,
                "MiB",
                f"from {v['rss_baseline_at_s'] / 60:.1f} min",
            ),
            Figure(
                "worker RSS, highest over the second half",
                v["rss_peak_second_half_kib"] / kib if v["rss_peak_second_half_kib"] else None,
                "MiB",
            ),
            Figure(
                "the same ratio by the earlier rule",
                v["rss_growth_from_first_twelfth"],
                "",
                f"highest over the second half / the sample at {seconds / WINDOWS / 60:.0f} min",
            ),
            Figure("latency p50 (produced -> in the ledger)", percentile(lat, 0.5) if lat else None, "s"),
            Figure("latency p99", percentile(lat, 0.99) if lat else None, "s"),
            Figure(
                "latency p99, worst window",
                max(p99s) if p99s else None,
                "s",
                f"windows of {seconds / WINDOWS / 60:.0f} min",
            ),
            Figure(
                "API polls answered / failed",
                poller.polls if poller else None,
                "polls",
                f"{poller.errors if poller else 0} failed",
            ),
        ],
        ratio=v["rss_growth"],
        ratio_label="worker RSS: highest over the second half / highest over the ten minutes after warm-up",
        target=f"<= {1 + RSS_TOLERANCE:.2f} and no stall (ledger progress in every window, group lag over "
        f"{LAG_BOUND_SECONDS:.0f} s of events in no two consecutive samples)",
        met=met,
        extra={
            "minutes": minutes,
            "short": short,
            "ended_early": ended_early,
            "verdicts": v,
            "windows": windows,
            "samples": samples,
            "measured_at": datetime.now(UTC).isoformat(),
        },
    )
