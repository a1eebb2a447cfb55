"""2. Freshness: time from an event produced to its effect visible to the wallboard's readers, at
1,000 events/s and at 50 events/s (about a national peak), in one run.

One fresh broker, one ``demandhub worker`` and, in the same run on the same stream, the baseline: a
bare aiokafka consumer (``bench.bare markers``, its own consumer group). After a warm-up (both have
joined and the worker has written its first events), simulated events are produced in
:data:`PHASES`: first at 1,000 events/s, then, once the worker has caught up, at 50 events/s, each
paced in ticks of 10 ms; every ``mark_every``-th event of a phase is a marker whose send time is
recorded. A poller asks the worker's ``POST /api/sql`` which outstanding markers are in the ledger,
waiting ``POLL_SECONDS`` after each answer. The bare consumer notes when it receives each marker.

What is measured is the wallboard's data: the live readers (``demandhub/web/live.py``: contact
legs, open incidents, the QA queue, social threads) read fact tables, never rollups, and a write
cycle writes its facts before its ledger rows, so a marker in the ledger means its facts are
visible to the live page's reader. (The live document itself is then cached for up to
``CACHE_TTL_SECONDS`` and pushed to open pages every ``STREAM_CHECK_SECONDS``: a presentation
interval, not counted here.)

A marker's latency is the answer time of the first poll that finds it minus its send time: an upper
bound. It was not visible when the previous poll started, so the measurement's resolution for a
marker is that answer minus the later of its send time and the previous poll's start; its p50 and
p99 are reported beside the figures.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Phase:
    """Events produced at ``rate`` per second for ``seconds`` (``quick_seconds`` in a quick run);
    every ``mark_every``-th is a marker; the phase's target is ``p99 <= target_p99`` s."""

    rate: int
    seconds: int
    quick_seconds: int
    mark_every: int
    target_p99: float

    def duration(self, quick: bool) -> int:
        return self.quick_seconds if quick else self.seconds


PHASES: tuple[Phase, ...] = (
    Phase(rate=1000, seconds=45, quick_seconds=8, mark_every=50, target_p99=1.0),
    Phase(rate=50, seconds=40, quick_seconds=10, mark_every=1, target_p99=0.3),
)
WARMUP = 200
POLL_SECONDS = 0.02
TICK = 0.01
SETTLE_SECONDS = 1.0
WRITE_SECONDS = "demandhub_sink_write_seconds"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")


class MarkerPoller(threading.Thread):
    """Polls the worker for sent-but-unseen markers: ``seen[id]`` = time.time() of the answer that
    found it, ``resolution[id]`` = that answer minus the later of its send time and the start of
    the poll before."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.sent: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.resolution: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.errors = 0
        self.polls = 0
        self._previous_start = 0.0

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
            else:
                self._previous_start = time.time()  # nothing outstanding: nothing was visible-unseen
            self.stopping.wait(POLL_SECONDS)

    def _poll(self, todo: list[str]) -> None:
        ids = ",".join(f"'{i}'" for i in todo[:500])
        started = time.time()
        try:
            rows = self.worker.sql(f"SELECT DISTINCT id FROM events WHERE id IN ({ids})", timeout=10)
        except Exception:  # a slow or refused poll is counted and retried, never fatal
            self.errors += 1
            return
        answered = time.time()
        self.polls += 1
        with self.lock:
            for (eid,) in rows:
                if eid not in self.seen:
                    self.seen[eid] = answered
                    self.resolution[eid] = answered - max(self.sent[eid], self._previous_start)
        self._previous_start = started


def _records(ctx: RunContext) -> list[Record]:
    wanted = WARMUP + sum(p.rate * p.duration(ctx.quick) for p in PHASES)
    days = int(wanted / 7000) + 2
    start = date.today() - timedelta(days=days + 1)
    records = simulated_records(start, days, 1.0, seed=7)
    if len(records) < wanted:
        raise BenchError(f"simulator gave {len(records)} events, {wanted} wanted")
    return records[:wanted]


def _paced(prod: Any, records: list[Record], phase: Phase, poller: MarkerPoller) -> float:
    """Send ``records`` at ``phase.rate`` per second in ticks; returns the achieved rate."""
    per_tick = max(1, round(phase.rate * TICK))
    started = time.perf_counter()
    for i in range(0, len(records), per_tick):
        due = started + (i / phase.rate)
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        for j, r in enumerate(records[i : i + per_tick], start=i):
            if j % phase.mark_every == 0:
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


def _caught_up(worker: Worker) -> None:
    """Wait until the ledger stops growing for ``SETTLE_SECONDS`` (the worker has no backlog)."""
    last = [-1]

    def settled() -> bool:
        now = worker.distinct_events()
        done = now == last[0]
        last[0] = now
        return done

    wait_for(settled, 120, SETTLE_SECONDS, "the worker to catch up")


@dataclass
class _Measured:
    phase: Phase
    produced: int
    markers: list[str]
    achieved: float = 0.0
    write_sum: float = 0.0
    write_count: float = 0.0


def _split(paced: list[Record], quick: bool) -> list[tuple[Phase, list[Record]]]:
    out, at = [], 0
    for phase in PHASES:
        n = phase.rate * phase.duration(quick)
        out.append((phase, paced[at : at + n]))
        at += n
    return out


def run(ctx: RunContext) -> Result:
    records = _records(ctx)
    warm, paced = records[:WARMUP], records[WARMUP:]
    plan = _split(paced, ctx.quick)
    measured = [
        _Measured(p, len(rs), [r.event_id for i, r in enumerate(rs) if i % p.mark_every == 0])
        for p, rs in plan
    ]
    every_marker = [m for ms in measured for m in ms.markers]
    if not all(_SAFE_ID.match(m) for m in every_marker):
        raise BenchError("unexpected characters in simulated event ids")
    if len(set(every_marker)) != len(every_marker):
        raise BenchError("a marker id repeats across phases")
    ids_file = ctx.work / "markers.txt"
    ids_file.write_text("\n".join(every_marker))
    ready = ctx.work / "bare.ready"
    total_seconds = sum(p.duration(ctx.quick) for p in PHASES)
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
                str(total_seconds + 480),
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
            poller = MarkerPoller(worker)
            try:
                for r in warm:
                    prod.send(r.topic, key=r.key, value=r.value)
                prod.flush(timeout=60)
                wait_for(lambda: worker.distinct_events() >= WARMUP, 120, 0.2, "warm-up events")
                poller.start()
                for m, (phase, rs) in zip(measured, plan, strict=True):
                    _caught_up(worker)
                    sum0, count0 = (
                        worker.metric(f"{WRITE_SECONDS}_sum"),
                        worker.metric(f"{WRITE_SECONDS}_count"),
                    )
                    m.achieved = _paced(prod, rs, phase, poller)
                    wait_for(
                        lambda: not poller.outstanding(),
                        120,
                        0.2,
                        f"every {phase.rate}/s marker in the ledger",
                    )
                    m.write_sum = worker.metric(f"{WRITE_SECONDS}_sum") - sum0
                    m.write_count = worker.metric(f"{WRITE_SECONDS}_count") - count0
            finally:
                prod.close()
                poller.stopping.set()
                if poller.is_alive():
                    poller.join(5)
            baseline = child_result(bare, 120, ctx.work / "bare.log")
        finally:
            worker.stop()
    missing = [m for m in every_marker if m not in baseline["received"]]
    if missing:
        raise BenchError(f"bare consumer missed {len(missing)} markers")
    return _result(ctx, measured, poller, baseline["received"])


def _result(
    ctx: RunContext, measured: list[_Measured], poller: MarkerPoller, received: dict[str, float]
) -> Result:
    figures: list[Figure] = []
    verdicts: list[bool] = []
    extra: dict[str, Any] = {"measured_at": datetime.now(UTC).isoformat(), "phases": {}}
    ratios: list[float | None] = []
    for m in measured:
        rate = f"{m.phase.rate:,}/s"
        hub = _stats([poller.seen[i] - poller.sent[i] for i in m.markers])
        base = _stats([received[i] - poller.sent[i] for i in m.markers])
        res = _stats([poller.resolution[i] for i in m.markers])
        cycle = m.write_sum / m.write_count if m.write_count else None
        met = hub["p99"] <= m.phase.target_p99
        verdicts.append(met)
        ratios.append(ratio(hub["p99"], base["p99"]))
        verdict = f"target <= {m.phase.target_p99} s: {'met' if met else 'missed'}"
        figures += [
            Figure(f"{rate}: achieved production rate", m.achieved, "events/s"),
            Figure(f"{rate}: hub p50, produced -> in the ledger via /api/sql", hub["p50"], "s"),
            Figure(f"{rate}: hub p99", hub["p99"], "s", verdict),
            Figure(f"{rate}: hub max", hub["max"], "s"),
            Figure(f"{rate}: bare consumer p50, produced -> received", base["p50"], "s"),
            Figure(f"{rate}: bare consumer p99", base["p99"], "s"),
            Figure(f"{rate}: hub p99 / bare consumer p99", ratios[-1], "x", "lower is better"),
            Figure(
                f"{rate}: poll resolution p50 / p99",
                res["p50"],
                "s",
                f"p99 {res['p99'] * 1000:.0f} ms (answer minus the previous poll's start)",
            ),
            Figure(f"{rate}: mean write cycle (worker's {WRITE_SECONDS})", cycle, "s"),
        ]
        extra["phases"][str(m.phase.rate)] = {
            "hub": hub,
            "bare": base,
            "resolution": res,
            "mean_write_cycle": cycle,
            "met": met,
        }
    figures.append(Figure("API polls answered / failed", poller.polls, "polls", f"{poller.errors} failed"))
    sizes = "; ".join(
        f"{m.produced:,} events at {m.phase.rate:,}/s for {m.phase.duration(ctx.quick)} s, "
        f"{len(m.markers):,} markers (every {_nth(m.phase.mark_every)})"
        for m in measured
    )
    head = measured[0].phase
    target = " and ".join(f"<= {m.phase.target_p99} s at {m.phase.rate:,}/s" for m in measured)
    return Result(
        name="freshness",
        title="Freshness (produced to visible to the wallboard's readers)",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"after {WARMUP} warm-up events: {sizes}; the phases run one after the other on one "
        f"worker, the next once it has caught up; /api/sql polled {POLL_SECONDS * 1000:.0f} ms "
        "after each answer; events of one force at scale 1 (simulated time runs ~10,000x)",
        figures=figures,
        ratio=ratios[0],
        ratio_label=f"hub p99 / bare consumer p99 at {head.rate:,}/s (lower is better; the targets "
        "are on the hub p99)",
        target=f"hub p99 {target}",
        met=all(verdicts),
        extra=extra,
    )


def _nth(n: int) -> str:
    return "event" if n == 1 else f"{n}th"
