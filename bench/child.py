"""Benchmark steps that open a chDB warehouse, each run as its own child process (one process per
data path; no fork after chDB is loaded). Each prints one JSON object on its last stdout line.

- ``bulk``: the replay baseline. Builds the ledger rows of a JSONL file in memory (untimed), then
  times the warehouse's own bulk insert (clickhouse-connect ``insert`` through
  :meth:`Warehouse.insert`) of those rows, in chunks, into a fresh migrated warehouse.
- ``readers``: times the domain readers' ``monthly_cells`` (all three domains) for one force over a
  range of months, the ``board`` command's own function (``run_board``, JSON pack of the last month)
  if present, and ``SELECT 1`` on the same warehouse, ``--repeat`` times each.
- ``board_pack``: times the ``board`` command's own function alone (the start-up benchmark).
- ``profile``: pyinstrument over ``Pipeline.process`` (the replay path, in process) for chunks of
  simulated events; returns the rate and the functions with the most self time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from demandhub.settings import Settings


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


def _ledger_rows(path: Path) -> list[list[Any]]:
    """The ledger columns of every event in a JSONL file (as the pipeline writes them, without the
    de-identification and validation it does)."""
    ingest = datetime.now(UTC)
    rows: list[list[Any]] = []
    with path.open("rb") as fh:
        for line in fh:
            e = json.loads(line)
            rows.append(
                [
                    e["force_id"],
                    e["subject"],
                    e["source"],
                    e["id"],
                    e["type"],
                    datetime.fromisoformat(e["time"]),
                    ingest,
                    json.dumps(e["data"], separators=(",", ":"), sort_keys=True),
                ]
            )
    return rows


def bulk(args: argparse.Namespace) -> dict[str, Any]:
    from demandhub.runtime import open_warehouse
    from sinks.clickhouse.history_sql import LEDGER_COLUMNS

    t0 = time.perf_counter()
    rows = _ledger_rows(args.file)
    build = time.perf_counter() - t0
    wh = open_warehouse(_settings(args.data_dir))
    try:
        t1 = time.perf_counter()
        for i in range(0, len(rows), args.chunk):
            wh.insert("events", rows[i : i + args.chunk], LEDGER_COLUMNS)
        seconds = time.perf_counter() - t1
        stored = int(wh.query("SELECT count() FROM events").rows[0][0])
    finally:
        wh.close()
    return {"rows": len(rows), "stored": stored, "seconds": seconds, "build_seconds": build}


def _timed(fn: Callable[[], Any], repeat: int) -> dict[str, Any]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": repeat}


def readers(args: argparse.Namespace) -> dict[str, Any]:
    from demandhub.board.maths.months import YearMonth
    from demandhub.queries import contacts, crimes, incidents
    from demandhub.runtime import open_warehouse

    settings = _settings(args.data_dir)
    defs = settings.definitions
    force = settings.force_id
    lo, hi = (YearMonth(int(m[:4]), int(m[5:7])) for m in (args.first, args.month))
    now = datetime(hi.year + (hi.month // 12), hi.month % 12 + 1, 3, tzinfo=UTC)
    wh = open_warehouse(settings, apply_migrations=False)
    out: dict[str, Any] = {}
    try:

        def cells() -> int:
            found = {}
            found.update(contacts.monthly_cells(wh, force, lo, hi, defs))
            found.update(incidents.monthly_cells(wh, force, lo, hi, defs, now=now))
            found.update(crimes.monthly_cells(wh, force, lo, hi, defs))
            return len(found)

        out["measures"] = cells()
        out["select1"] = _timed(lambda: wh.query("SELECT 1"), args.repeat * 4)
        out["monthly_cells"] = _timed(cells, args.repeat)
        board = _board_runner(settings, wh, args)
        if board is not None:
            board()  # first run outside the timing (imports, catalogue parsing)
            out["board"] = _timed(board, args.repeat)
            out["board_profile"] = _profiled(board)
        out["ledger_rows"] = int(wh.query("SELECT count() FROM events").rows[0][0])
        out["months"] = (hi.year - lo.year) * 12 + hi.month - lo.month + 1
    finally:
        wh.close()
    return out


def board_pack(args: argparse.Namespace) -> dict[str, Any]:
    """The board pack in process: ``run_board`` (JSON pack of ``--month``) on an open warehouse,
    ``--repeat`` times after one untimed run, then once under the profiler."""
    from demandhub.runtime import open_warehouse

    settings = _settings(args.data_dir)
    wh = open_warehouse(settings, apply_migrations=False)
    try:
        board = _board_runner(settings, wh, args)
        if board is None:
            raise RuntimeError("no board command")
        board()  # first run outside the timing (imports, catalogue parsing)
        out: dict[str, Any] = {"board": _timed(board, args.repeat), "board_profile": _profiled(board)}
        out["ledger_rows"] = int(wh.query("SELECT count() FROM events").rows[0][0])
    finally:
        wh.close()
    return out


def _board_runner(settings: Settings, wh: Any, args: argparse.Namespace) -> Callable[[], None] | None:
    """``demandhub board --month M --format json --out FILE`` in this process on the open
    warehouse (the command's own function), or None when the board command is not there."""
    try:
        from demandhub.board.commands import run_board
    except ImportError:
        return None
    from demandhub.cli import build_parser

    out = args.data_dir / "bench-board.json"
    argv = ["board", "--month", args.month, "--format", "json", "--out", str(out)]
    argv += ["--extract-time", f"{args.month}-28T12:00:00+00:00"]
    parsed = build_parser().parse_args(argv)

    def board() -> None:
        if run_board(parsed, settings, wh) != 0:
            raise RuntimeError("demandhub board failed")

    return board


def _top_frames(root: Any, limit: int) -> list[dict[str, Any]]:
    """Functions by self time summed over the whole call tree (pyinstrument frames)."""
    self_time: dict[str, float] = defaultdict(float)
    stack = [root]
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        if frame.is_synthetic:
            continue
        where = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
        self_time[where] += frame.total_self_time
    total = sum(self_time.values()) or 1.0
    ranked = sorted(self_time.items(), key=lambda kv: kv[1], reverse=True)[:limit]
    return [{"frame": k, "seconds": v, "share": v / total} for k, v in ranked]


def _profiled(fn: Callable[[], Any], top: int = 12) -> dict[str, Any]:
    """One run of ``fn`` under pyinstrument: seconds, top frames by self time, call tree."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    t0 = time.perf_counter()
    profiler.start()
    fn()
    profiler.stop()
    seconds = time.perf_counter() - t0
    session = profiler.last_session
    assert session is not None
    return {
        "events": 0,
        "seconds": seconds,
        "top_self": _top_frames(session.root_frame(), top),
        "tree": profiler.output_text(unicode=False, color=False, show_all=False),
    }


def profile(args: argparse.Namespace) -> dict[str, Any]:
    from pyinstrument import Profiler

    from demandhub.runtime import build_pipeline, open_warehouse
    from streams.pipeline import RawMessage
    from streams.sources.simulator import SimConfig, simulate
    from streams.sources.simulator.output import encode, topic_name_for

    config = SimConfig(start=date.fromisoformat(args.start), days=args.days, scale=args.scale, seed=3)
    # Simulator ids count from 1 in every run: a marker after the force prefix keeps this day's
    # entities apart from those of a replayed history in the same warehouse (links stay consistent).
    prefix = f'"{config.forces[0]}-'.encode()
    messages = [
        RawMessage(topic_name_for(e), 0, i, encode(e).replace(prefix, prefix + b"p"))
        for i, e in enumerate(simulate(config))
    ]
    wh = open_warehouse(_settings(args.data_dir))
    # As the worker runs it: batches log their rollup buckets; one refresh recomputes them (the
    # worker's refresher runs at most once a second, and this day takes about that long).
    pipeline = build_pipeline(_settings(args.data_dir), wh, lazy_rollups=True)
    chunks = [messages[i : i + args.chunk] for i in range(0, len(messages), args.chunk)]
    profiler = Profiler(interval=0.002)
    try:
        t0 = time.perf_counter()
        profiler.start()
        for chunk in chunks:
            pipeline.process(chunk)
        pipeline.refresh_rollups()
        profiler.stop()
        seconds = time.perf_counter() - t0
    finally:
        wh.close()
    session = profiler.last_session
    assert session is not None
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    return {
        "events": len(messages),
        "chunk": args.chunk,
        "seconds": seconds,
        "rate": len(messages) / seconds,
        "top_self": _top_frames(session.root_frame(), args.top),
        "tree": text,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="task", required=True)
    p = sub.add_parser("bulk")
    p.add_argument("--file", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--chunk", type=int, default=20_000)
    p = sub.add_parser("readers")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--month", required=True, help="YYYY-MM: last month")
    p.add_argument("--first", required=True, help="YYYY-MM: first month")
    p.add_argument("--repeat", type=int, default=5)
    p = sub.add_parser("board_pack")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--month", required=True, help="YYYY-MM: the board's month")
    p.add_argument("--repeat", type=int, default=5)
    p = sub.add_parser("profile")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--start", default="2024-05-06")
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--chunk", type=int, default=2000)
    p.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    task = {"bulk": bulk, "readers": readers, "board_pack": board_pack, "profile": profile}[args.task]
    print(json.dumps(task(args), default=str))


if __name__ == "__main__":
    main()
