"""6. Analyst command start-up: ``demandhub sql "SELECT 1"`` answered by a running hub, against
``python -c pass``.

A ``demandhub worker`` (web included, empty warehouse) runs on a tansu broker; the command is run as a
whole process ``REPEAT`` times, interleaved with the baseline (A B A B ...), after one untimed run of
each. Each run's wall time comes from ``perf_counter`` around ``subprocess.run`` and its CPU time
from the children's resource usage (``resource.getrusage(RUSAGE_CHILDREN)`` before and after). The
headline is the median of the pairwise wall-time ratios, so machine drift cancels out.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from pathlib import Path

from bench.harness import PYTHON, REPO, BenchError, RunContext, Worker, broker
from bench.result import Figure, Result

REPEAT = 15
REPEAT_QUICK = 3
TARGET_SECONDS = 1.0


def _timed(args: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process (``env``: its whole environment, default
    this one's); BenchError if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "ab") as out:
        done = subprocess.run(
            args,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args[:4])} exited {done.returncode}; see {log}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run(ctx: RunContext) -> Result:
    repeat = REPEAT_QUICK if ctx.quick else REPEAT
    log = ctx.work / "cli.log"
    data_dir = ctx.work / "hub"
    command = [PYTHON, "-m", "demandhub.cli", "sql", "SELECT 1", "--data-dir", str(data_dir)]
    baseline = [PYTHON, "-c", "pass"]
    with broker(ctx.work / "tansu.log") as b:
        worker = Worker(b.bootstrap, data_dir).launch().wait_healthy()
        try:
            _timed(command, log)  # warm-up: page cache, the hub's first query
            _timed(baseline, log)
            sql: list[tuple[float, float]] = []
            bare: list[tuple[float, float]] = []
            for _ in range(repeat):
                sql.append(_timed(command, log))
                bare.append(_timed(baseline, log))
        finally:
            worker.stop()
    ratios = [a[0] / b[0] for a, b in zip(sql, bare, strict=True) if b[0] > 0]
    ratio = statistics.median(ratios) if ratios else None
    sql_wall = statistics.median(w for w, _ in sql)
    sql_cpu = statistics.median(c for _, c in sql)
    bare_wall = statistics.median(w for w, _ in bare)
    figures = [
        Figure('`demandhub sql "SELECT 1"` through the hub, wall', sql_wall, "s", f"median of {repeat}"),
        Figure("the same, CPU (user + system)", sql_cpu, "s", f"median of {repeat}"),
        Figure("`python -c pass`, wall", bare_wall, "s", f"median of {repeat}"),
        Figure("wall ratio, pair by pair", ratio, "x", "median of the A/B ratios"),
    ]
    return Result(
        name="cli",
        title="Analyst command start-up",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"{repeat} runs of each, interleaved, after one warm-up; hub with an empty warehouse",
        figures=figures,
        ratio=ratio,
        ratio_label='`demandhub sql "SELECT 1"` wall / `python -c pass` wall',
        target=f"answer <= {TARGET_SECONDS:g} s on a warm machine (ratio recorded)",
        met=sql_wall <= TARGET_SECONDS,
        limits=[
            "Start-up is imports: pydantic and the settings (about half), rich for the table, urllib. "
            "The command loads no chDB, Kafka, faust or web-server code when a hub answers, and the "
            "event models are built only when first used (``schemas`` loads its submodules lazily).",
        ],
        extra={"sql": sql, "bare": bare},
    )
