"""1. Whole-hub throughput: pre-produced events through ``demandhub worker`` into the warehouse.

A fresh tansu broker gets ``N`` simulated events (one force at scale 1 over whole days). Baseline: a
bare aiokafka consumer (``bench.bare drain``) reads them all. Then one ``demandhub worker`` child is
launched and timed until its ledger holds every distinct event (through ``/api/sql``). Both are
timed from their process launch, so each carries its own start-up (imports, group join; the worker
also loads chDB and migrates); the rates after the first record / first ledger row are reported
beside them.

The bare consumer notes its last record itself; the worker's ledger is watched from outside, so its
end is the answer of a poll (:func:`_watch`): ``SELECT count() FROM events`` every
:data:`POLL_SECONDS` (the engine answers from its parts' row counts: about 5 ms of the worker's CPU
a poll on the full ledger), then, once the rows reach the events produced, one exact check. The run
ends at the poll whose count the check confirms (the same rows, every one a distinct event), or else
at the check itself. (Was: ``uniqExact(source, id)`` every 0.5 s, about 40 ms of the worker's CPU a
poll on the full ledger and up to half a second late.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bench.harness import (
    BenchError,
    Record,
    RunContext,
    Worker,
    broker,
    produce_all,
    ratio,
    run_child,
    simulated_records,
)
from bench.result import Figure, Result
from demandhub.settings import Settings
from streams.startup import STAGES as STARTUP_STAGES

BATCH_EVENTS = int(Settings.model_fields["batch_max_events"].default)
BATCH_SECONDS = float(Settings.model_fields["batch_max_seconds"].default)
START = date(2024, 3, 4)
DAYS_FULL = 14
DAYS_QUICK = 1
POLL_SECONDS = 0.1
TARGET = 0.4  # issue 16: >= 0.4 of the bare consumer, from launch


@dataclass
class HubRun:
    """One timed run of ``workers`` worker processes over ``events`` pre-produced events."""

    workers: int
    events: int
    produce_seconds: float
    wall_seconds: float  # first launch -> every distinct event in the ledger(s)
    steady_seconds: float  # first ledger row seen -> every distinct event
    startup_seconds: float  # launch -> the last worker's web server answers
    duplicates: int  # rows held twice across workers (partitions that moved before a commit)
    pipeline_seconds: float  # sum of the workers' demandhub_sink_write_seconds (Pipeline.process)
    batches: int
    cpu_seconds: float = 0.0  # user + system CPU of the worker processes, launch to the last event
    first_row_seconds: float = 0.0  # launch -> the first ledger row seen (to within one poll)
    startup_marks: dict[str, float] = field(default_factory=dict)  # the first worker's, by stage
    started_rate: float = 0.0  # events/s once every worker has written its first row (to the last event)
    fetched_rate: float = 0.0  # events/s once every worker has made its first fetch (to the last event)

    @property
    def wall_rate(self) -> float:
        return self.events / self.wall_seconds

    @property
    def steady_rate(self) -> float:
        return self.events / self.steady_seconds if self.steady_seconds else 0.0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process and its threads (Linux ``/proc``; 0 elsewhere).
    Unlike a rate, it hardly moves with the load of a shared machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


STARTUP_METRIC = "demandhub_worker_startup_seconds"
FIRST_FETCH_MARK = "first_fetch"


def startup_marks(worker: Worker) -> dict[str, float]:
    """Seconds from the worker's launch to each start-up step (``streams.startup``), from /metrics."""
    status, body = worker.get("metrics")
    marks: dict[str, float] = {}
    if status != 200:
        return marks
    for line in body.decode().splitlines():
        if line.startswith(STARTUP_METRIC + "{"):
            head, _, value = line.rpartition(" ")
            stage = head.split('stage="', 1)[1].split('"', 1)[0]
            marks[stage] = float(value)
    return marks


def sizes(ctx: RunContext) -> tuple[int, float]:
    """(days, scale) of the event set."""
    return (DAYS_QUICK if ctx.quick else DAYS_FULL), 1.0


def _union_size(workers: list[Worker]) -> int:
    """Distinct (source, id) over every worker's ledger (pages of 50,000 ids per query)."""
    seen: set[tuple[str, str]] = set()
    for w in workers:
        offset = 0
        while True:
            rows = w.sql(
                f"SELECT DISTINCT source, id FROM events ORDER BY source, id LIMIT 50000 OFFSET {offset}"
            )
            seen.update((r[0], r[1]) for r in rows)
            if len(rows) < 50000:
                break
            offset += 50000
    return len(seen)


def hub_run(records: list[Record], workers: int, ctx: RunContext, label: str) -> HubRun:
    """Fresh broker, produce ``records``, launch ``workers`` workers at once, time until the
    ledgers hold every event. Workers and broker are stopped before returning."""
    n = len(records)
    timeout = max(240.0, n / 150)
    with broker(ctx.work / f"{label}-tansu.log") as b:
        produce_seconds = produce_all(records, b.bootstrap)
        hub = [Worker(b.bootstrap, ctx.work / f"{label}-w{i}") for i in range(workers)]
        try:
            for w in hub:
                w.launch()
            launched = hub[0].launched_at
            for w in hub:
                w.wait_healthy()
            startup = time.perf_counter() - launched
            first_seen, all_started, polls, done, total = _watch(hub, n, timeout, label)
            pipeline_seconds = sum(w.metric("demandhub_sink_write_seconds_sum") for w in hub)
            batches = int(sum(w.metric("demandhub_sink_batches_total") for w in hub))
            cpu_seconds = sum(process_cpu_seconds(w.proc.pid) for w in hub if w.proc is not None)
            every_marks = [startup_marks(w) for w in hub]
            marks = every_marks[0]
        finally:
            for w in hub:
                w.stop()
    assert first_seen is not None
    started_at, started_total = all_started if all_started is not None else (first_seen, 0)
    fetched_rate = _fetched_rate(hub, every_marks, polls, n, done)
    return HubRun(
        workers,
        n,
        produce_seconds,
        done - launched,
        done - first_seen,
        startup,
        total - n,
        pipeline_seconds,
        batches,
        cpu_seconds,
        first_seen - launched,
        marks,
        (n - started_total) / (done - started_at) if done > started_at else 0.0,
        fetched_rate,
    )


def _watch(
    hub: list[Worker],
    n: int,
    timeout: float,
    label: str,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> tuple[float, tuple[float, int] | None, list[tuple[float, int]], float, int]:
    """Poll the workers' ledgers until they hold all ``n`` events (see the module docstring):
    (first row seen, (when every worker had a row, the rows then) or None, every poll's (time,
    rows), the end, the distinct events summed over the workers' ledgers at the end). Times are
    ``clock``'s."""
    first_seen: float | None = None
    all_started: tuple[float, int] | None = None
    polls: list[tuple[float, int]] = []
    deadline = monotonic() + timeout
    total = 0
    while monotonic() < deadline:
        counts = [w.ledger_rows() for w in hub]
        total = sum(counts)
        now = clock()
        polls.append((now, total))
        if total and first_seen is None:
            first_seen = now
        if all_started is None and all(counts):
            all_started = (now, total)
        if total >= n:
            exact = [w.ledger_rows_distinct() for w in hub]
            distinct = sum(d for _, d in exact)
            if distinct >= n and (len(hub) == 1 or _union_size(hub) >= n):
                same_rows = all(r == d == c for (r, d), c in zip(exact, counts, strict=True))
                assert first_seen is not None
                return first_seen, all_started, polls, now if same_rows else clock(), distinct
        sleep(POLL_SECONDS)
    raise BenchError(f"{label}: {total} of {n} events after {timeout:.0f}s")


def _fetched_rate(
    hub: list[Worker], marks: list[dict[str, float]], polls: list[tuple[float, int]], n: int, done: float
) -> float:
    """Events/s from the moment every worker had made its first fetch (its launch plus its own
    ``first_fetch`` start-up mark) to the last event, over the events not yet in the ledgers at the
    last poll before that moment; 0 when a worker reported no first fetch."""
    fetched = [
        w.launched_at + m[FIRST_FETCH_MARK] for w, m in zip(hub, marks, strict=True) if FIRST_FETCH_MARK in m
    ]
    if len(fetched) < len(hub) or max(fetched) >= done:
        return 0.0
    start = max(fetched)
    before = max((total for when, total in polls if when <= start), default=0)
    return (n - before) / (done - start)


def bare_run(records: list[Record], ctx: RunContext, label: str = "bare") -> dict[str, Any]:
    """Fresh broker, produce ``records``, time the bare consumer from launch to the last record."""
    n = len(records)
    with broker(ctx.work / f"{label}-tansu.log") as b:
        produce_all(records, b.bootstrap)
        launched = time.time()
        out = run_child(
            "bench.bare",
            ["drain", "--bootstrap", b.bootstrap, "--count", str(n), "--deadline", "240"],
            timeout=270,
            log_path=ctx.work / f"{label}.log",
        )
    if out["records"] < n:
        raise BenchError(f"bare consumer read {out['records']} of {n} records")
    wall = out["last_at"] - launched
    steady = out["last_at"] - out["first_at"]
    return {"events": n, "wall_seconds": wall, "steady_seconds": steady, "bytes": out["bytes"]}


def run(ctx: RunContext) -> Result:
    days, scale = sizes(ctx)
    records = simulated_records(START, days, scale)
    n = len(records)
    bare = bare_run(records, ctx)
    hub = hub_run(records, 1, ctx, "hub")
    bare_rate = n / bare["wall_seconds"]
    bare_steady = n / bare["steady_seconds"] if bare["steady_seconds"] else 0.0
    headline = ratio(hub.wall_rate, bare_rate)
    mean_batch = n / hub.batches if hub.batches else None
    mean_process = hub.pipeline_seconds / hub.batches if hub.batches else None
    return Result(
        name="throughput",
        title="Whole-hub throughput",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"{n:,} events ({days} day(s) of one force at scale {scale:g}, from {START}), pre-produced "
        f"to a fresh tansu broker; product default batching ({BATCH_EVENTS:,} events or {BATCH_SECONDS:g} s)",
        figures=[
            Figure("bare aiokafka consumer, launch to last record", bare_rate, "events/s"),
            Figure("bare consumer, first to last record", bare_steady, "events/s"),
            Figure("demandhub worker, launch to all events in the ledger", hub.wall_rate, "events/s"),
            Figure("worker, first ledger row to all events", hub.steady_rate, "events/s"),
            Figure("worker start-up (launch to web server answering)", hub.startup_seconds, "s"),
            Figure(
                "worker launch to its first ledger row seen",
                hub.first_row_seconds,
                "s",
                f"polled every {POLL_SECONDS:g} s",
            ),
            *(
                Figure(f"worker launch to {stage.replace('_', ' ')}", hub.startup_marks.get(stage), "s")
                for stage in STARTUP_STAGES
            ),
            Figure(
                "worker CPU per event (user + system, launch to all events)",
                hub.cpu_seconds / n * 1e6 if hub.cpu_seconds else None,
                "us",
                f"{hub.cpu_seconds:.1f} s of CPU; steadier than the rates on a loaded machine",
            ),
            Figure("mean batch size (events per Pipeline.process call)", mean_batch, "events"),
            Figure(
                "mean Pipeline.process time per batch (one write cycle per fetch)",
                mean_process,
                "s",
                f"{hub.pipeline_seconds:.1f} s summed over {hub.batches} batches",
            ),
            Figure("producing the events (kafka-python, acks=1)", n / hub.produce_seconds, "events/s"),
        ],
        ratio=headline,
        ratio_label="worker events/s / bare consumer events/s (both from launch)",
        target=f">= {TARGET}",
        met=None if headline is None else headline >= TARGET,
        extra={
            "bare": bare,
            "hub": hub.__dict__,
            "steady_ratio": ratio(hub.steady_rate, bare_steady),
        },
    )
