"""2. Freshness: time from an event produced to its effect visible on the hub's API, at 1,000 events/s.

One fresh broker, one ``demandhub worker`` and, in the same run on the same stream, the baseline: a
bare aiokafka consumer (``bench.bare markers``, its own consumer group). After a warm-up (both have
joined and the worker has written its first events), simulated events are produced paced at
``RATE`` events/s (ticks of 10 ms) for ``SECONDS`` s; every ``MARK_EVERY``-th event is a marker whose
send time is recorded. A poller asks the worker's ``POST /api/sql`` every ``POLL_SECONDS`` which
outstanding markers are in the ledger (the last write of a batch, so the marker's whole effect is
visible); a marker's latency is the poll response time minus its send time (so it includes up to
one poll interval). The bare consumer notes when it receives each marker.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.harness import (
    BenchError,
    Record,
    RunContext,
    Worker,
    broker,
    child_result,
    percentile,
    producer,
    ratio,
    simulated_records,
    start_child,
    wait_for,
)
from bench.result import Figure, Result

RATE = 1000
SECONDS_FULL = 45
SECONDS_QUICK = 8
MARK_EVERY = 50
WARMUP = 200
POLL_SECONDS = 0.05
TICK = 0.01
TARGET_P99 = 1.0
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")


class MarkerPoller(threading.Thread):
    """Polls the worker for sent-but-unseen markers; ``seen[id]`` = time.time() of the answer."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.sent: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.errors = 0
        self.polls = 0

    def mark(self, event_id: str, at: float) -> None:
        with self.lock:
            self.sent[event_id] = at

    def outstanding(self) -> list[str]:
        with self.lock:
            return [i for i in self.sent if i not in self.seen]

    def run(self) -> None:
        while not self.stopping.is_set():
            todo = self.outstanding()
            if todo:
                self._poll(todo)
            self.stopping.wait(POLL_SECONDS)

    def _poll(self, todo: list[str]) -> None:
        ids = ",".join(f"'{i}'" for i in todo[:500])
        try:
            rows = self.worker.sql(f"SELECT DISTINCT id FROM events WHERE id IN ({ids})", timeout=10)
        except Exception:  # a slow or refused poll is counted and retried, never fatal
            self.errors += 1
            return
        answered = time.time()
        self.polls += 1
        with self.lock:
            for (eid,) in rows:
                self.seen.setdefault(eid, answered)


def _records(ctx: RunContext) -> tuple[list[Record], int]:
    seconds = SECONDS_QUICK if ctx.quick else SECONDS_FULL
    wanted = WARMUP + RATE * seconds
    start = date.today() - timedelta(days=int(wanted / 7000) + 3)
    records = simulated_records(start, int(wanted / 7000) + 2, 1.0, seed=7)
    if len(records) < wanted:
        raise BenchError(f"simulator gave {len(records)} events, {wanted} wanted")
    return records[:wanted], seconds


def _paced(prod: Any, records: list[Record], poller: MarkerPoller) -> float:
    """Send ``records`` at RATE per second in ticks; returns the achieved rate."""
    per_tick = max(1, round(RATE * TICK))
    started = time.perf_counter()
    for i in range(0, len(records), per_tick):
        due = started + (i / RATE)
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        for j, r in enumerate(records[i : i + per_tick], start=i):
            if j % MARK_EVERY == 0:
                poller.mark(r.event_id, time.time())
            prod.send(r.topic, key=r.key, value=r.value)
    prod.flush(timeout=60)
    return len(records) / (time.perf_counter() - started)


def _stats(latencies: list[float]) -> dict[str, float]:
    return {
        "n": len(latencies),
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
    }


def run(ctx: RunContext) -> Result:
    records, seconds = _records(ctx)
    warm, paced = records[:WARMUP], records[WARMUP:]
    markers = [r.event_id for i, r in enumerate(paced) if i % MARK_EVERY == 0]
    if not all(_SAFE_ID.match(m) for m in markers):
        raise BenchError("unexpected characters in simulated event ids")
    ids_file = ctx.work / "markers.txt"
    ids_file.write_text("\n".join(markers))
    ready = ctx.work / "bare.ready"
    with broker(ctx.work / "tansu.log") as b:
        worker = Worker(b.bootstrap, ctx.work / "worker").launch()
        bare = start_child(
            "bench.bare",
            [
                "markers",
                "--bootstrap",
                b.bootstrap,
                "--count",
                str(len(records)),
                "--deadline",
                str(seconds + 240),
                "--ids",
                str(ids_file),
                "--ready",
                str(ready),
            ],
            ctx.work / "bare.log",
        )
        try:
            worker.wait_healthy()
            wait_for(ready.exists, 120, 0.1, "the bare consumer's partitions")
            prod = producer(b.bootstrap, linger_ms=5)
            try:
                for r in warm:
                    prod.send(r.topic, key=r.key, value=r.value)
                prod.flush(timeout=60)
                wait_for(lambda: worker.distinct_events() >= WARMUP, 120, 0.2, "warm-up events")
                poller = MarkerPoller(worker)
                poller.start()
                achieved = _paced(prod, paced, poller)
            finally:
                prod.close()
            wait_for(lambda: not poller.outstanding(), 120, 0.2, "every marker in the ledger")
            poller.stopping.set()
            poller.join(5)
            baseline = child_result(bare, 120, ctx.work / "bare.log")
        finally:
            worker.stop()
    hub_lat = [poller.seen[m] - poller.sent[m] for m in markers]
    missing = [m for m in markers if m not in baseline["received"]]
    if missing:
        raise BenchError(f"bare consumer missed {len(missing)} markers")
    bare_lat = [baseline["received"][m] - poller.sent[m] for m in markers]
    hub, base = _stats(hub_lat), _stats(bare_lat)
    return Result(
        name="freshness",
        title="Freshness (produce to visible on the API)",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"{len(paced):,} events produced at {RATE:,}/s for {seconds} s after {WARMUP} warm-up "
        f"events; {len(markers)} markers (every {MARK_EVERY}th); API polled every "
        f"{POLL_SECONDS * 1000:.0f} ms; events of one force at scale 1 (simulated time runs ~10,000x)",
        figures=[
            Figure("achieved production rate", achieved, "events/s"),
            Figure("hub p50: produced -> in the ledger via /api/sql", hub["p50"], "s"),
            Figure("hub p99", hub["p99"], "s"),
            Figure("hub max", hub["max"], "s"),
            Figure("bare consumer p50: produced -> received", base["p50"], "s"),
            Figure("bare consumer p99", base["p99"], "s"),
            Figure("API polls answered / failed", poller.polls, "polls", f"{poller.errors} failed"),
        ],
        ratio=ratio(hub["p99"], base["p99"]),
        ratio_label="hub p99 / bare consumer p99 (lower is better; the target is on the hub p99)",
        target=f"hub p99 <= {TARGET_P99} s",
        met=hub["p99"] <= TARGET_P99,
        extra={"hub": hub, "bare": base, "measured_at": datetime.now(UTC).isoformat()},
    )
