"""``python -m bench [NAME ...] [--quick]``: run benchmarks and rewrite BENCHMARKS.md.

With no NAME every benchmark runs (``make bench``) except those run only on request (``soak``, two
hours: ``python -m bench soak [--minutes N]``; a run shorter than its full length is a short run,
kept in the scratch directory like a quick one). ``--render`` only rewrites the report from the
stored results. ``--quick`` is a smoke run with small sizes:
its results are written under the scratch directory only, never to ``bench/results/`` or
BENCHMARKS.md. A full run stores each result in ``bench/results/<name>.json`` and renders
BENCHMARKS.md from every stored result (so one benchmark can be re-run alone).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import board, cli_startup, freshness, profile, replay, scale, soak, startup, throughput
from bench.harness import REPO, BenchError, RunContext, stop_everything
from bench.machine import describe
from bench.report import render
from bench.result import RESULTS_DIR, Result, load_all

BENCHMARKS: dict[str, Callable[[RunContext], Result]] = {
    "throughput": throughput.run,
    "freshness": freshness.run,
    "replay": replay.run,
    "board": board.run,
    "scale": scale.run,
    "profile": profile.run,
    "cli": cli_startup.run,
    "startup": startup.run,
    "soak": soak.run,
}
ON_REQUEST = ("soak",)
"""Run only when named: not by ``make bench`` nor ``--quick`` without names."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes; results not published")
    parser.add_argument("--work-dir", type=Path, help="scratch directory (default: a fresh temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--minutes",
        type=float,
        help=f"soak length (default {soak.FULL_MINUTES:g}; shorter runs are not published)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "BENCHMARKS.md", help="report to rewrite (full runs)"
    )
    parser.add_argument(
        "--render", action="store_true", help="only rewrite the report from the stored results"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    if args.render:
        args.out.write_text(render(load_all()))
        print(f"wrote {args.out}")
        return 0
    names = args.names or [n for n in BENCHMARKS if n not in ON_REQUEST]
    options = {"minutes": args.minutes} if args.minutes else {}
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="demandhub-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    command = "python -m bench" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    failed: list[str] = []
    published = False
    started = time.perf_counter()
    try:
        for name in names:
            quick = args.quick or (name == "soak" and _short_soak(args.minutes))
            failed += _run_one(name, work, quick, command, options)
            published = published or not quick
    finally:
        stop_everything()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"scratch kept in {work}")
    print(f"benchmarks took {time.perf_counter() - started:.0f} s")
    if published:
        args.out.write_text(render(load_all()))
        print(f"wrote {args.out}")
    return 1 if failed else 0


def _short_soak(minutes: float | None) -> bool:
    return minutes is not None and minutes < soak.FULL_MINUTES


def _run_one(
    name: str, work: Path, quick: bool, command: str, options: dict[str, float] | None = None
) -> list[str]:
    """Run one benchmark; store its result (full runs). Returns [name] if it failed."""
    ctx = RunContext(work / name, quick, command, describe(), dict(options or {}))
    ctx.work.mkdir(parents=True, exist_ok=True)
    print(f"== {name}", flush=True)
    t0 = time.perf_counter()
    try:
        result = BENCHMARKS[name](ctx)
    except (BenchError, OSError, ValueError, KeyError) as exc:
        traceback.print_exc()
        print(f"!! {name} failed: {exc}", flush=True)
        return [name]
    finally:
        stop_everything()
    result.seconds = round(time.perf_counter() - t0, 1)
    result.quick = quick
    path = result.save(ctx.work / "results" if quick else RESULTS_DIR)
    ratio = "n/a" if result.ratio is None else f"{result.ratio:.3g}"
    print(f"   {result.ratio_label}: {ratio} (target {result.target}); {result.seconds:.0f} s", flush=True)
    for f in result.figures:
        value = "n/a" if f.value is None else f"{f.value:,.4g}"
        print(f"   {f.label}: {value} {f.unit}", flush=True)
    print(f"   saved {path}", flush=True)
    return []


if __name__ == "__main__":
    raise SystemExit(main())
