"""7. Board and SQL start-up: ``demandhub sql "SELECT 1"`` and ``demandhub board`` (JSON) from launch
on the ten-year warehouse, against ``python -c "import demandhub"``, and the board pack in process.

On the warehouse the replay benchmark left (or, run alone, a replay made here at the same scale):

- From launch: ``python -c "import demandhub"`` (the baseline), ``demandhub sql "SELECT 1"`` and
  ``demandhub board --month M --format json --out FILE`` read the warehouse directly (no hub runs),
  ``REPEAT`` times each, interleaved (A B C A B C ...), after one untimed run of each. Wall time comes
  from ``perf_counter`` around ``subprocess.run`` and CPU time from the children's resource usage.
  Bytecode is cached (``PYTHONPYCACHEPREFIX`` in the scratch directory, written by the untimed runs),
  as an installed package runs; the ratios are the medians of the per-round ratios, so machine drift
  cancels out.
- In process: one child (``bench.child board_pack``) times the ``board`` command's own function
  (``run_board``, the same JSON pack) on an open warehouse, ``REPEAT`` times after one untimed run,
  then profiles one run.

M is the last complete month of the warehouse (the month before its last, which is still settling).
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from bench import board
from bench.cli_startup import _timed
from bench.harness import PYTHON, BenchError, RunContext, run_child
from bench.result import Figure, Result

REPEAT = 7
REPEAT_QUICK = 2
TARGET_LAUNCH = 1.0  # seconds more than `python -c "import demandhub"`
TARGET_PACK = 0.3  # seconds, board pack in process


def previous_month(month: str) -> str:
    """``YYYY-MM`` of the month before ``month``."""
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


def _env(work: Path) -> dict[str, str]:
    """The children's environment: bytecode written to and read from a cache in the scratch dir."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def commands(data_dir: str, month: str, out: Path) -> dict[str, list[str]]:
    """The three command lines timed from launch, by name."""
    cli = [PYTHON, "-m", "demandhub.cli"]
    return {
        "import": [PYTHON, "-c", "import demandhub"],
        "sql": [*cli, "sql", "SELECT 1", "--data-dir", data_dir, "--format", "csv"],
        "board": [
            *cli,
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
            f"{month}-28T12:00:00+00:00",
        ],
    }


def from_launch(ctx: RunContext, data_dir: str, month: str, repeat: int) -> dict[str, Any]:
    """(wall, CPU) of every run of each command, interleaved, after one untimed run of each."""
    log = ctx.work / "startup.log"
    out = ctx.work / "board.json"
    env = _env(ctx.work)
    lines = commands(data_dir, month, out)
    for args in lines.values():
        _timed(args, log, env)  # untimed: writes the bytecode cache, warms the page cache
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in lines}
    for _ in range(repeat):
        for name, args in lines.items():
            runs[name].append(_timed(args, log, env))
    if not out.exists() or out.stat().st_size == 0:
        raise BenchError("demandhub board wrote no pack")
    return {"runs": runs, "pack_bytes": out.stat().st_size}


def _median(runs: list[tuple[float, float]], i: int) -> float:
    return statistics.median(r[i] for r in runs)


def _ratio(runs: dict[str, list[tuple[float, float]]], name: str) -> float | None:
    """Median over rounds of ``name`` wall / baseline wall (same round)."""
    pairs = [a[0] / b[0] for a, b in zip(runs[name], runs["import"], strict=True) if b[0] > 0]
    return statistics.median(pairs) if pairs else None


def _extra(runs: dict[str, list[tuple[float, float]]], name: str) -> float:
    """Median over rounds of ``name`` wall minus the baseline wall (same round)."""
    return statistics.median(a[0] - b[0] for a, b in zip(runs[name], runs["import"], strict=True))


def run(ctx: RunContext) -> Result:
    wh = board.ten_year_warehouse(ctx)
    month = previous_month(wh["last"])
    repeat = REPEAT_QUICK if ctx.quick else REPEAT
    pack = run_child(
        "bench.child",
        ["board_pack", "--data-dir", wh["data_dir"], "--month", month, "--repeat", str(repeat)],
        timeout=600,
        log_path=ctx.work / "board-pack.log",
    )
    launched = from_launch(ctx, wh["data_dir"], month, repeat)
    runs = launched["runs"]
    in_process = float(pack["board"]["median"])
    sql_extra, board_extra = _extra(runs, "sql"), _extra(runs, "board")
    board_ratio = _ratio(runs, "board")

    def verdict(ok: bool) -> str:
        return "met" if ok else "missed"

    figures = [
        Figure('`python -c "import demandhub"`, wall (baseline)', _median(runs["import"], 0), "s"),
        Figure('`demandhub sql "SELECT 1"`, wall from launch', _median(runs["sql"], 0), "s"),
        Figure("the same, CPU (user + system)", _median(runs["sql"], 1), "s"),
        Figure(
            "sql / baseline, pair by pair",
            _ratio(runs, "sql"),
            "x",
            f"{sql_extra * 1000:,.0f} ms more than the baseline; target <= "
            f"{TARGET_LAUNCH * 1000:,.0f} ms more {verdict(sql_extra <= TARGET_LAUNCH)}",
        ),
        Figure(
            f"`demandhub board --month {month} --format json`, wall from launch",
            _median(runs["board"], 0),
            "s",
        ),
        Figure("the same, CPU (user + system)", _median(runs["board"], 1), "s"),
        Figure(
            "board / baseline, pair by pair",
            board_ratio,
            "x",
            f"{board_extra * 1000:,.0f} ms more than the baseline; target <= "
            f"{TARGET_LAUNCH * 1000:,.0f} ms more {verdict(board_extra <= TARGET_LAUNCH)}",
        ),
        Figure(
            "board pack in process (run_board on an open warehouse)",
            in_process,
            "s",
            f"median of {repeat}; target <= {TARGET_PACK:g} s {verdict(in_process <= TARGET_PACK)}",
        ),
        Figure(
            "board from launch / board pack in process",
            _median(runs["board"], 0) / in_process if in_process else None,
            "x",
            "what start-up adds to the pack",
        ),
        Figure(
            "1-minute load average at the end",
            os.getloadavg()[0],
            "",
            f"{ctx.machine.get('cores')} cores; at the start: {ctx.machine.get('load_average_at_start')}",
        ),
    ]
    return Result(
        name="startup",
        title="Board and SQL start-up",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"board for {month} over {pack['ledger_rows']:,} ledger events ({wh['first']} to "
        f"{wh['last']}, the replay benchmark's ten years; {launched['pack_bytes']:,}-byte JSON pack); "
        f"{repeat} rounds from launch (baseline, sql, board), interleaved, after one untimed run of "
        "each, bytecode cached; no hub running",
        figures=figures,
        ratio=board_ratio,
        ratio_label='`demandhub board` from launch / `python -c "import demandhub"` (wall)',
        target=f"sql and board <= baseline + {TARGET_LAUNCH:g} s; board pack in process <= {TARGET_PACK:g} s",
        met=sql_extra <= TARGET_LAUNCH and board_extra <= TARGET_LAUNCH and in_process <= TARGET_PACK,
        extra={"runs": runs, "pack": pack, "month": month},
    )
