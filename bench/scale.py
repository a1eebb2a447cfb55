"""5. Scale: the throughput test with 1, 2 and 4 ``demandhub worker`` processes in one consumer group.

For each worker count: a fresh tansu broker, the same pre-produced events (call, incident and crime
topics have 4 partitions, web chat and online reports 2), the workers launched together, each with
its own data directory (its own embedded warehouse). Done when the ledgers together hold every
distinct event: the per-worker ledger row counts are summed (polled as in the throughput test), and
once the sum reaches N each ledger's distinct events are counted and their union checked exactly (a
partition that moved between workers before a commit leaves the same event in two ledgers). Rates
are from the first launch (start-up included), from the first ledger row, and once started. "Once
started" is from the moment every worker has made its first fetch (its launch plus its own
``first_fetch`` start-up mark) to the last event, over the events not yet in the ledgers at the last
poll before that moment: a later worker's start-up and the group's join count in start-up, reported
separately. Beside it, the rate from the poll at which every worker has written a row (the headline
before): a first write cycle holds up to 20,000 events and takes seconds, so that window began late
and its few polls left the rate rough (two runs of the same code gave 1.27 and 2.68). The headline
is the issue's target: 2 workers once started against 1 worker once started, >= 1.5 on two cores.
Ratios are against the one-worker runs of the same invocation. The counts run in the order
:data:`ORDER` (1, 2, 4, 2, 1): each rate of a count run twice is the mean of its two runs, so a
drift of the host's speed over the benchmark's minutes weighs on the one- and two-worker rates alike
(with single runs of 1, 2 and 4 workers, the headline of the same code moved from 1.25 to 1.52
between two invocations).
"""

from __future__ import annotations

from datetime import date

from bench.harness import RunContext, ratio, simulated_records
from bench.result import Figure, Result
from bench.throughput import HubRun, hub_run

START = date(2024, 4, 8)
DAYS_FULL = 28
DAYS_QUICK = 1
ORDER = (1, 2, 4, 2, 1)
"""Worker counts in the order they run: the one- and two-worker runs twice, around the four, so a
host whose speed drifts over the minutes of the benchmark moves both counts alike."""
ORDER_QUICK = (1, 2)
TARGET = 1.5
"""2 workers once started / 1 worker once started."""


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"x{value:.2f}"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _window_mean(values: list[float]) -> float | None:
    """The mean of runs' rates once every worker has fetched; None when a run has none (a worker
    reported no first fetch before the last event), rather than a mean pulled down by it."""
    return None if any(v <= 0 for v in values) else _mean(values)


def _over(value: float | None, baseline: float | None) -> float | None:
    return None if value is None or baseline is None else ratio(value, baseline)


def _means(runs: list[HubRun]) -> dict[str, float | None]:
    """The mean rates of one worker count's runs, by window."""
    return {
        "wall": _mean([r.wall_rate for r in runs]),
        "fetched": _window_mean([r.fetched_rate for r in runs]),
        "started": _mean([r.started_rate for r in runs]),
        "steady": _mean([r.steady_rate for r in runs]),
    }


def run(ctx: RunContext) -> Result:
    days = DAYS_QUICK if ctx.quick else DAYS_FULL
    records = simulated_records(START, days, 1.0, seed=2)
    order = ORDER_QUICK if ctx.quick else ORDER
    done: list[tuple[int, HubRun]] = [(k, hub_run(records, k, ctx, f"w{k}-{i}")) for i, k in enumerate(order)]
    runs: dict[int, list[HubRun]] = {}
    for k, r in done:
        runs.setdefault(k, []).append(r)
    means = {k: _means(rs) for k, rs in runs.items()}
    one = means[1]
    figures: list[Figure] = []
    for k in sorted(runs):
        rs, m = runs[k], means[k]
        each = f" (runs: {', '.join(f'{r.fetched_rate:,.0f}' for r in rs)})" if len(rs) > 1 else ""
        cpu, wall = sum(r.cpu_seconds for r in rs), sum(r.wall_seconds for r in rs)
        figures += [
            Figure(
                f"{k} worker(s), launch to all events",
                m["wall"],
                "events/s",
                _times(_over(m["wall"], one["wall"]))
                + f" of 1 worker; start-up {max(r.startup_seconds for r in rs):.0f} s",
            ),
            Figure(
                f"{k} worker(s), once every worker has fetched",
                m["fetched"],
                "events/s",
                _times(_over(m["fetched"], one["fetched"])) + " of 1 worker" + each,
            ),
            Figure(
                f"{k} worker(s), once every worker has written",
                m["started"],
                "events/s",
                _times(_over(m["started"], one["started"])) + " of 1 worker",
            ),
            Figure(
                f"{k} worker(s), first ledger row to all events",
                m["steady"],
                "events/s",
                _times(_over(m["steady"], one["steady"]))
                + f" of 1 worker; {sum(r.duplicates for r in rs)} held twice",
            ),
            Figure(
                f"{k} worker(s), cores used (their CPU / launch to all events)",
                cpu / wall,
                "cores",
                f"{cpu / sum(r.events for r in rs) * 1e6:.0f} us of CPU an event (user + system, every "
                "worker process, start-up included)",
            ),
        ]
    headline = _over(means[2]["fetched"], one["fetched"])
    counts = ", ".join(str(k) for k in order)
    return Result(
        name="scale",
        title="Scale-out over worker processes",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"{len(records):,} events ({days} day(s) of one force at scale 1 from {START}) per run; "
        f"runs of {counts} workers, in that order, in one consumer group, fresh broker each; a "
        "count run more than once gives the mean of its runs' rates",
        figures=figures,
        ratio=headline,
        ratio_label="2 workers events/s / 1 worker events/s, once every worker has fetched (start-up apart)",
        target=f">= {TARGET:g}",
        met=headline is not None and headline >= TARGET,
        extra={f"{k}-{i}": r.__dict__ for i, (k, r) in enumerate(done)},
    )
