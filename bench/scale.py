"""5. Scale: the throughput test with 1, 2 and 4 ``demandhub worker`` processes in one consumer group.

For each worker count: a fresh tansu broker, the same pre-produced events (call, incident and crime
topics have 4 partitions, web chat and online reports 2), the workers launched together, each with
its own data directory (its own embedded warehouse). Done when the ledgers together hold every
distinct event: the per-worker ``uniqExact(source, id)`` counts are summed, and once the sum reaches
N the union of the workers' ids is checked exactly (a partition that moved between workers before a
commit leaves the same event in two ledgers). Rates are from the first launch (start-up included),
from the first ledger row, and once started: from the poll at which every worker has written a row,
over the events written after it (so a late worker's start-up and the group's rebalances count in
start-up, reported separately). The headline is the issue's target: 2 workers once started against
1 worker once started, >= 1.5 on two cores. Ratios are against the one-worker run of the same
invocation.
"""

from __future__ import annotations

from datetime import date

from bench.harness import RunContext, ratio, simulated_records
from bench.result import Figure, Result
from bench.throughput import HubRun, hub_run

START = date(2024, 4, 8)
DAYS_FULL = 7
DAYS_QUICK = 1
WORKERS = (1, 2, 4)
TARGET = 1.5
"""2 workers once started / 1 worker once started."""


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"x{value:.2f}"


def run(ctx: RunContext) -> Result:
    days = DAYS_QUICK if ctx.quick else DAYS_FULL
    records = simulated_records(START, days, 1.0, seed=2)
    runs: dict[int, HubRun] = {k: hub_run(records, k, ctx, f"w{k}") for k in WORKERS}
    one = runs[1]
    figures: list[Figure] = []
    for k, r in runs.items():
        figures += [
            Figure(
                f"{k} worker(s), launch to all events",
                r.wall_rate,
                "events/s",
                _times(ratio(r.wall_rate, one.wall_rate))
                + f" of 1 worker; start-up {r.startup_seconds:.0f} s",
            ),
            Figure(
                f"{k} worker(s), once every worker has written",
                r.started_rate,
                "events/s",
                _times(ratio(r.started_rate, one.started_rate)) + " of 1 worker",
            ),
            Figure(
                f"{k} worker(s), first ledger row to all events",
                r.steady_rate,
                "events/s",
                _times(ratio(r.steady_rate, one.steady_rate)) + f" of 1 worker; {r.duplicates} held twice",
            ),
        ]
    two = runs[2]
    headline = ratio(two.started_rate, one.started_rate)
    return Result(
        name="scale",
        title="Scale-out over worker processes",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"{len(records):,} events ({days} day(s) of one force at scale 1 from {START}) per run; "
        f"{', '.join(str(k) for k in WORKERS)} workers in one consumer group, fresh broker each",
        figures=figures,
        ratio=headline,
        ratio_label="2 workers events/s / 1 worker events/s, once every worker has written (start-up apart)",
        target=f">= {TARGET:g}",
        met=headline is not None and headline >= TARGET,
        extra={str(k): r.__dict__ for k, r in runs.items()},
    )
