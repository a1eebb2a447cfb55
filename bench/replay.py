"""3. Replay: ten years of one force through ``demandhub replay`` into a fresh embedded warehouse.

The simulator writes ten years of one force at a documented scale to a JSONL file (untimed). Then:

- ``demandhub replay FILE --data-dir DIR --quiet`` (its default: the whole file, each subject
  folded once, in one process per core) runs as a child; its rate is lines over the
  seconds it reports (its processing loop: the whole pipeline, facts, rollups, ledger); the
  command's wall time from launch (start-up and migrations included) is reported beside it.
- Baseline, same run: ``bench.child bulk`` builds the ledger rows of the same file in memory
  (untimed) and times the warehouse's own bulk insert of them (clickhouse-connect ``insert``, the
  same 20,000-row chunks) into another fresh warehouse.

The replayed warehouse is kept for the board benchmark (``replayed_warehouse``).
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

from bench.harness import PYTHON, BenchError, RunContext, ratio, run_child
from bench.result import Figure, Result

START = date(2015, 1, 1)
YEARS = 10
SCALE_FULL = 0.02
SCALE_QUICK = 0.002
CHUNK = 20_000
TARGET = 0.25
STATE_FILE = "replayed.json"


def replayed_warehouse(work_root: Path) -> dict[str, str] | None:
    """``{"data_dir", "first", "last"}`` of the warehouse a replay run left under ``work_root``."""
    path = work_root / "replay" / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def days_of(years: int) -> int:
    return (date(START.year + years, START.month, START.day) - START).days


def simulate_file(path: Path, scale: float, days: int) -> dict[str, int]:
    """Write the clean event stream of ``days`` from START at ``scale`` to ``path``."""
    from streams.sources.simulator import SimConfig, simulate, write_jsonl

    config = SimConfig(start=START, days=days, scale=scale, seed=11)
    return write_jsonl(simulate(config), path)


def run_replay(file: Path, data_dir: Path, log: Path, timeout: float) -> dict[str, float]:
    """``demandhub replay`` as a child: its JSON totals plus ``wall_seconds`` from launch."""
    import subprocess

    t0 = time.perf_counter()
    with open(log, "ab") as err:
        done = subprocess.run(
            [
                PYTHON,
                "-m",
                "demandhub.cli",
                "replay",
                str(file),
                "--data-dir",
                str(data_dir),
                "--quiet",
            ],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    wall = time.perf_counter() - t0
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BenchError(f"demandhub replay exited {done.returncode}; see {log}")
    return dict(json.loads(lines[-1])) | {"wall_seconds": wall}


def run(ctx: RunContext) -> Result:
    scale = SCALE_QUICK if ctx.quick else SCALE_FULL
    days = days_of(YEARS)
    file = ctx.work / "ten-years.jsonl"
    t0 = time.perf_counter()
    written = simulate_file(file, scale, days)
    simulate_seconds = time.perf_counter() - t0
    n = written["events"]
    data_dir = ctx.work / "hub"
    replayed = run_replay(file, data_dir, ctx.work / "replay.log", timeout=max(600.0, n / 500))
    if replayed["accepted"] + replayed["duplicates"] != n:
        raise BenchError(f"replay accepted {replayed['accepted']} of {n} events: {replayed}")
    bulk = run_child(
        "bench.child",
        ["bulk", "--file", str(file), "--data-dir", str(ctx.work / "bulk"), "--chunk", str(CHUNK)],
        timeout=600,
        log_path=ctx.work / "bulk.log",
    )
    if bulk["stored"] != n:
        raise BenchError(f"bulk insert stored {bulk['stored']} of {n} rows")
    last = date.fromordinal(START.toordinal() + days - 1)
    (ctx.work / STATE_FILE).write_text(
        json.dumps({"data_dir": str(data_dir), "first": START.isoformat()[:7], "last": last.isoformat()[:7]})
    )
    replay_rate = n / replayed["seconds"]
    bulk_rate = n / bulk["seconds"]
    headline = ratio(replay_rate, bulk_rate)
    return Result(
        name="replay",
        title="Replay of ten years into the embedded warehouse",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"{n:,} events: {YEARS} years ({START} to {last}) of one force at scale {scale:g} "
        f"(scale 1 would be ~30 M events: too long for the time budget; nothing is extrapolated); "
        "`demandhub replay` (the whole file, each subject folded once, one process per core)",
        figures=[
            Figure(
                "demandhub replay (its processing loop)",
                replay_rate,
                "events/s",
                f"{replayed['seconds']:.1f} s",
            ),
            Figure(
                "demandhub replay, command wall time from launch",
                n / replayed["wall_seconds"],
                "events/s",
                f"{replayed['wall_seconds']:.1f} s",
            ),
            Figure(
                "bulk insert of the same ledger rows (clickhouse-connect insert)",
                bulk_rate,
                "rows/s",
                f"{bulk['seconds']:.1f} s",
            ),
            Figure("simulating and writing the file (untimed in both)", n / simulate_seconds, "events/s"),
            Figure("events quarantined by the folds", replayed["quarantined"], "events"),
        ],
        ratio=headline,
        ratio_label="replay events/s / bulk insert rows/s",
        target=f">= {TARGET}",
        met=None if headline is None else headline >= TARGET,
        extra={"replay": replayed, "bulk": bulk, "file_bytes": written["bytes"]},
    )
