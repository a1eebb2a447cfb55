"""4. Board and live API: the monthly board over ten years of history, and ``GET /api/live``.

Board: on the warehouse the replay benchmark left (or, run alone, a replay made here at the same
scale), one child process (``bench.child readers``) times, ``REPEAT`` times each after one untimed
run: the ``board`` command's own function building the JSON pack of the last month, the domain
readers' ``monthly_cells`` for all three domains over the ten years, and ``SELECT 1`` (the
baseline). The whole commands ``demandhub board ... --format json --out FILE`` and ``demandhub sql
"SELECT 1"`` are also timed from launch (``CLI_REPEAT`` times, interleaved) to show what start-up
adds. Without a ``board`` command only the readers are measured (and the result says so).

Live: a ``demandhub worker`` holding a realistic day (one force at scale 1, the 24 hours up to now)
answers ``LIVE_REQUESTS`` ``GET /api/live`` spaced past the live cache's 0.5 s life (so every one is
computed from the warehouse), interleaved with ``GET /health`` (the baseline).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import replay
from bench.harness import (
    PYTHON,
    BenchError,
    RunContext,
    Worker,
    broker,
    percentile,
    produce_all,
    ratio,
    records_of,
    run_child,
    wait_for,
)
from bench.result import Figure, Result

REPEAT = 5
CLI_REPEAT = 3
LIVE_REQUESTS = 50
LIVE_SPACING = 0.6
TARGET_BOARD = 0.3
TARGET_LIVE = 0.1


def ten_year_warehouse(ctx: RunContext) -> dict[str, str]:
    """The ten-year warehouse: the replay benchmark's, or one replayed here."""
    found = replay.replayed_warehouse(ctx.work.parent)
    if found:
        return found
    scale = replay.SCALE_QUICK if ctx.quick else replay.SCALE_FULL
    days = replay.days_of(replay.YEARS)
    file = ctx.work / "ten-years.jsonl"
    n = replay.simulate_file(file, scale, days)["events"]
    data_dir = ctx.work / "hub"
    replay.run_replay(file, data_dir, ctx.work / "replay.log", timeout=max(600.0, n / 500))
    last = datetime.fromordinal(replay.START.toordinal() + days - 1)
    return {"data_dir": str(data_dir), "first": replay.START.isoformat()[:7], "last": f"{last:%Y-%m}"}


def _cli_seconds(args: list[str], log: Path) -> float:
    """Wall time of one ``demandhub`` command run as a child; BenchError if it fails."""
    t0 = time.perf_counter()
    with open(log, "ab") as out:
        done = subprocess.run(
            [PYTHON, "-m", "demandhub.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )
    if done.returncode != 0:
        raise BenchError(f"demandhub {' '.join(args[:2])} exited {done.returncode}; see {log}")
    return time.perf_counter() - t0


def board_cli(ctx: RunContext, data_dir: str, month: str) -> dict[str, Any]:
    """Median wall times of ``demandhub board`` and of ``demandhub sql "SELECT 1"``, interleaved."""
    log = ctx.work / "board-cli.log"
    out = ctx.work / "board.json"
    extract = f"{month}-28T12:00:00+00:00"
    board, select1 = [], []
    for _ in range(CLI_REPEAT):
        select1.append(_cli_seconds(["sql", "SELECT 1", "--data-dir", data_dir, "--format", "csv"], log))
        board.append(
            _cli_seconds(
                [
                    "board",
                    "--month",
                    month,
                    "--format",
                    "json",
                    "--out",
                    str(out),
                    "--data-dir",
                    data_dir,
                    "--extract-time",
                    extract,
                ],
                log,
            )
        )
    if not out.exists() or out.stat().st_size == 0:
        raise BenchError("demandhub board wrote no pack")
    return {
        "board": statistics.median(board),
        "select1": statistics.median(select1),
        "bytes": out.stat().st_size,
    }


def _timed_get(url: str, headers: dict[str, str]) -> float:
    req = urllib.request.Request(url, headers=headers)
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
        if r.status != 200:
            raise BenchError(f"GET {url} answered {r.status}")
    return time.perf_counter() - t0


def live_api(ctx: RunContext) -> dict[str, Any]:
    """A worker holding the last 24 hours at scale 1; timings of /api/live and /health."""
    from streams.sources.simulator import SimConfig, simulate

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    records = records_of(simulate(SimConfig(start=start, days=1, scale=1.0, seed=5)))
    with broker(ctx.work / "live-tansu.log") as b:
        produce_all(records, b.bootstrap)
        worker = Worker(b.bootstrap, ctx.work / "live-worker").launch().wait_healthy()
        try:
            wait_for(lambda: worker.distinct_events() >= len(records), 300, 0.5, "the day in the ledger")
            auth = {"Authorization": f"Bearer {worker.token('supervisor')}"}
            status, body = worker.get("api/live", role="supervisor")
            if status != 200 or json.loads(body).get("errors"):
                raise BenchError(f"/api/live answered {status}: {body[:500]!r}")
            live, health = [], []
            for _ in range(LIVE_REQUESTS):
                time.sleep(LIVE_SPACING)
                health.append(_timed_get(worker.url + "health", {}))
                live.append(_timed_get(worker.url + "api/live", auth))
        finally:
            worker.stop()
    return {
        "events": len(records),
        "live_median": statistics.median(live),
        "live_p90": percentile(live, 0.9),
        "health_median": statistics.median(health),
        "document_bytes": len(body),
    }


def run(ctx: RunContext) -> Result:
    wh = ten_year_warehouse(ctx)
    month = wh["last"]
    readers = run_child(
        "bench.child",
        [
            "readers",
            "--data-dir",
            wh["data_dir"],
            "--first",
            wh["first"],
            "--month",
            month,
            "--repeat",
            str(REPEAT),
        ],
        timeout=600,
        log_path=ctx.work / "readers.log",
    )
    cli = board_cli(ctx, wh["data_dir"], month) if "board" in readers else None
    live = live_api(ctx)
    cells, select1 = readers["monthly_cells"]["median"], readers["select1"]["median"]
    in_process = readers.get("board", {}).get("median")
    figures = []
    if in_process is not None:
        figures.append(
            Figure(
                f"demandhub board --month {month} --format json, in process",
                in_process,
                "s",
                f"the command's run_board on an open warehouse; median of {REPEAT}; "
                f"target <= {TARGET_BOARD:g} s {'met' if in_process <= TARGET_BOARD else 'missed'}",
            )
        )
        board_seconds, board_ratio = in_process, ratio(in_process, select1)
        label = "board pack in process / SELECT 1 in the same process"
    else:
        board_seconds, board_ratio = cells, ratio(cells, select1)
        label = "monthly_cells (3 domains, ten years) / SELECT 1, in process (no board command)"
    figures += [
        Figure(
            f"monthly_cells, three domains, {readers['months']} months, in process",
            cells,
            "s",
            f"{readers['measures']} measures; median of {REPEAT}",
        ),
        Figure("SELECT 1 in the same process (baseline)", select1, "s"),
    ]
    if cli:
        figures += [
            Figure(
                "demandhub board ... (whole command, from launch)",
                cli["board"],
                "s",
                f"median of {CLI_REPEAT}",
            ),
            Figure('demandhub sql "SELECT 1" (whole command, from launch)', cli["select1"], "s"),
        ]
    figures += [
        Figure(
            "GET /api/live (median, computed each time)",
            live["live_median"],
            "s",
            f"p90 {live['live_p90'] * 1000:.0f} ms; {LIVE_REQUESTS} requests; target <= "
            f"{TARGET_LIVE * 1000:.0f} ms {'met' if live['live_median'] <= TARGET_LIVE else 'missed'}",
        ),
        Figure("GET /health (median, baseline)", live["health_median"], "s"),
        Figure("GET /api/live / GET /health", ratio(live["live_median"], live["health_median"]), "x"),
    ]
    return Result(
        name="board",
        title="Board pack and live API",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"board for {month} over {readers['ledger_rows']:,} ledger events ({wh['first']} to "
        f"{wh['last']}, the replay benchmark's warehouse); live API over a worker holding "
        f"{live['events']:,} events (the last 24 hours of one force at scale 1)",
        figures=figures,
        ratio=board_ratio,
        ratio_label=label,
        target=f"board <= {TARGET_BOARD:g} s; live API median <= {TARGET_LIVE * 1000:.0f} ms",
        met=board_seconds <= TARGET_BOARD and live["live_median"] <= TARGET_LIVE,
        extra={"readers": readers, "cli": cli, "live": live, "board_command": "board" in readers},
    )
