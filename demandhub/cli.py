"""The `demandhub` command line: one entry point, a subcommand per job, `--help` on each.

The settings object is built once here (from DEMANDHUB_* variables and the options given) and passed
down. Heavy modules (chDB, faust) are imported inside the commands that need them, and the embedded
stack starts its child processes before chDB is loaded (a process must not fork after loading it).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from demandhub.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


def make_settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for option, field in (
        ("data_dir", "data_dir"),
        ("port", "web_port"),
        ("kafka", "kafka_bootstrap"),
        ("dsn", "clickhouse_dsn"),
        ("force", "force_id"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            overrides[field] = value
    return Settings(**overrides)


# -- up / worker / web -----------------------------------------------------------------------------
@command("up")
def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Start the embedded stack: tansu, the worker + web server + warehouse, and the simulator."""
    from contextlib import ExitStack

    from demandhub.runtime import embedded_stack, print_tokens, run_worker

    simulator = ["--speed", str(args.speed), "--scale", str(args.scale), "--seed", str(args.seed)]
    children = ExitStack()  # tansu, topics, simulator; leftovers of a killed `up` are stopped first
    bootstrap = children.enter_context(
        embedded_stack(settings, None if args.no_simulator else [*simulator, "--force", settings.force_id])
    )
    tokens = print_tokens(settings)

    def ready(url: str) -> None:
        print(f"demandhub is up. Broker {bootstrap}; warehouse {settings.resolved_dsn}", flush=True)
        print(f"  live page:   {url}login   (log in with the supervisor or analyst token)", flush=True)
        print(f"  supervisor token: {tokens['supervisor']}", flush=True)
        print(f"  analyst token:    {tokens['analyst']}", flush=True)
        print(f"  metrics:     {url}metrics", flush=True)
        print(
            f"  query:       demandhub sql --data-dir {settings.data_dir} "
            '"SELECT type, count() FROM events GROUP BY type"',
            flush=True,
        )
        print("  Ctrl-C stops everything.", flush=True)

    try:
        run_worker(settings, bootstrap, serve_web=True, on_ready=ready)
    finally:
        children.close()
        print("demandhub stopped.", flush=True)
    return 0


@command("worker")
def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the stream processors (and, unless --no-web, the web server) against a Kafka cluster."""
    from demandhub.embedded import create_topics
    from demandhub.runtime import run_worker

    if not settings.kafka_bootstrap:
        print("set DEMANDHUB_KAFKA_BOOTSTRAP or --kafka (or use `demandhub up`)", file=sys.stderr)
        return 2
    if args.create_topics:
        create_topics(settings.kafka_bootstrap)
    run_worker(settings, settings.kafka_bootstrap, serve_web=not args.no_web)
    return 0


@command("web")
def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the live page, API and SQL endpoint alone (for deployments with a ClickHouse server)."""
    from aiohttp import web

    from demandhub.auth import credentials
    from demandhub.runtime import open_warehouse
    from demandhub.web.live import add_live_routes
    from demandhub.web.server import build_web_app

    wh = open_warehouse(settings, apply_migrations=False)
    app = build_web_app(settings, wh, credentials(settings))
    add_live_routes(app)
    web.run_app(app, host=settings.web_host, port=settings.web_port, print=None)
    return 0


# -- warehouse ------------------------------------------------------------------------------------
@command("migrate")
def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending warehouse migrations in order (--dry-run prints their SQL)."""
    from sinks.clickhouse.client import connect
    from sinks.clickhouse.migrate import migrate

    wh = connect(settings.resolved_dsn)
    done = migrate(wh, dry_run=args.dry_run)
    for m in done:
        print(f"{'would apply' if args.dry_run else 'applied'} {m.number:04d}_{m.name}")
        if args.dry_run:
            for statement in m.statements():
                print(statement + ";\n")
    if not done:
        print("warehouse schema is up to date")
    wh.close()
    return 0


@command("topics")
def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    """Create the hub's topics (input and dead-letter) with their final partition counts."""
    from demandhub.embedded import create_topics

    if not settings.kafka_bootstrap:
        print("set DEMANDHUB_KAFKA_BOOTSTRAP or --kafka", file=sys.stderr)
        return 2
    created = create_topics(settings.kafka_bootstrap)
    print("\n".join(f"created {t}" for t in created) or "all topics exist")
    return 0


def _format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    from demandhub.web.server import to_jsonable

    if fmt == "json":
        return json.dumps([dict(zip(columns, to_jsonable(list(r)), strict=True)) for r in rows], indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        writer.writerows(to_jsonable(list(r)) for r in rows)
        return buf.getvalue().rstrip("\n")
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    # Cells and headers are Text, never markup: a value such as "[a-z]" or "[/bold]" is data.
    table = Table(*(Column(header=Text(str(c))) for c in columns), show_lines=False)
    for r in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in to_jsonable(list(r))))
    console = Console(
        file=io.StringIO(), width=200, color_system=None, markup=False, emoji=False, highlight=False
    )
    console.print(table)
    return console.file.getvalue().rstrip("\n")  # type: ignore[attr-defined]


def _sql_via_hub(url: str, token: str, query: str) -> tuple[list[str], list[list[Any]]]:
    request = urllib.request.Request(
        url.rstrip("/") + "/api/sql",
        data=json.dumps({"sql": query}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        error = str(json.loads(exc.read()).get("error", exc.reason))
        print(error, file=sys.stderr)  # "refused by policy: ..." or "the engine says: ..."
        raise SystemExit(2 if error.startswith("refused by policy") else 1) from exc
    return body["columns"], body["rows"]


@command("sql")
def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    """Run one read-only query (SELECT only, no system tables, time and memory limits)."""
    from demandhub import sqlguard
    from demandhub.auth import embedded_tokens
    from demandhub.runtime import running_hub

    hub = running_hub(settings) if settings.resolved_dsn.startswith("chdb:") else None
    if hub:  # the hub checks the query against its warehouse
        columns, rows = _sql_via_hub(hub, embedded_tokens(settings)["analyst"], args.query)
    else:
        from sinks.clickhouse.client import connect

        wh = connect(settings.resolved_dsn)
        try:
            query = sqlguard.check(args.query, wh)
            result = wh.query(query, settings=sqlguard.limits(settings))
            sqlguard.cap_rows(result.rows, settings.sql_max_result_bytes)
        except Exception as exc:
            if not sqlguard.is_query_failure(exc):
                raise
            print(sqlguard.failure_text(exc, settings), file=sys.stderr)
            return 2 if isinstance(exc, sqlguard.RejectedQuery) else 1
        finally:
            wh.close()
        columns, rows = list(result.columns), [list(r) for r in result.rows]
    print(_format_rows(columns, rows, args.format))
    return 0


# -- ingest ---------------------------------------------------------------------------------------
FAULT_RATES: dict[str, dict[str, Any]] = {
    "duplicates": {"duplicate_rate": 0.02},
    "late": {"late_rate": 0.01},
    "out_of_order": {"out_of_order_rate": 0.02},
    "malformed": {"malformed_rate": 0.005},
    "hostile": {"hostile_rate": 0.002},
    "pii": {"pii_free_text": True},
}


def parse_faults(names: str) -> dict[str, Any]:
    """`--faults duplicates,late` -> the simulator's fault settings (documented default rates)."""
    out: dict[str, Any] = {}
    for name in filter(None, (n.strip() for n in names.split(","))):
        if name not in FAULT_RATES:
            raise SystemExit(f"unknown fault {name!r}; choose from {', '.join(FAULT_RATES)}")
        out |= FAULT_RATES[name]
    return out


@command("simulate")
def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    """Generate realistic events: to a JSONL file, or to Kafka (optionally paced in live time)."""
    from streams.sources import simulator as sim

    forces = tuple(args.forces.split(",")) if args.forces else (settings.force_id,)
    config = sim.SimConfig(
        start=date.fromisoformat(args.start) if args.start else date.today(),
        days=args.days if not args.live or args.days > 1 else 3650,
        seed=args.seed,
        forces=forces,
        scale=args.scale,
        faults=sim.Faults(**parse_faults(args.faults)),
    )
    if args.truth:
        Path(args.truth).write_text(json.dumps(sim.truth(config), indent=1, sort_keys=True))
    if args.live:
        if not settings.kafka_bootstrap:
            print("--live needs --kafka or DEMANDHUB_KAFKA_BOOTSTRAP", file=sys.stderr)
            return 2
        sim.produce_kafka(
            sim.simulate_live(config, speed=args.speed),
            settings.kafka_bootstrap,
            linger_ms=5,
            flush_every=200,
        )
        return 0
    if args.out:
        counts = sim.write_jsonl(sim.simulate(config), Path(args.out), config.faults, seed=args.seed)
        print(json.dumps(counts | {"file": args.out}))
        return 0
    if settings.kafka_bootstrap:
        print(json.dumps(sim.produce_kafka(sim.simulate(config), settings.kafka_bootstrap)))
        return 0
    print("give --out FILE.jsonl, --kafka BOOTSTRAP or --live", file=sys.stderr)
    return 2


@command("replay")
def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Put a JSONL file of events through the same processors into the warehouse."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from demandhub.runtime import build_pipeline, file_messages, open_warehouse, replay, running_hub

    if running_hub(settings):
        print(
            "a hub is running on this data directory; stop it first or produce to its Kafka", file=sys.stderr
        )
        return 2
    path = Path(args.file)
    wh = open_warehouse(settings)
    pipeline = build_pipeline(settings, wh)
    started = time.perf_counter()
    with Progress(
        TextColumn("replay"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} lines"),
        TimeElapsedColumn(),
        disable=args.quiet,
    ) as progress:
        task = progress.add_task("replay", total=_count_lines(path))
        totals = replay(pipeline, file_messages(path, args.chunk), lambda n: progress.advance(task, n))
    wh.close()
    out = totals.as_dict() | {"seconds": round(time.perf_counter() - started, 2)}
    print(json.dumps(out))
    return 0


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
    return count


@command("reconcile")
def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    """Recompute a day's contact rollups from the facts and report every difference (exit 1 if any)."""
    from demandhub.queries.contacts import reconcile_day
    from demandhub.runtime import open_warehouse

    wh = open_warehouse(settings)
    try:
        diffs = reconcile_day(wh, settings.force_id, date.fromisoformat(args.day), settings.definitions)
    finally:
        wh.close()
    for d in diffs:
        print(json.dumps(d, default=str))
    print(f"{len(diffs)} difference(s) between rollups and facts for {args.day}")
    return 1 if diffs else 0


# -- board pack -----------------------------------------------------------------------------------
@command("board")
def cmd_board(args: argparse.Namespace, settings: Settings) -> int:
    """The monthly board pack (json, xlsx, html, pdf), publishing, and `board import FILE.csv`."""
    from demandhub.board.commands import run_board

    return run_board(args, settings)


@command("channels")
def cmd_channels(args: argparse.Namespace, settings: Settings) -> int:
    """Contacts by channel for any period, with the change against a year earlier."""
    from demandhub.board.commands import run_channels

    return run_channels(args, settings)


@command("docs")
def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    """Regenerate the analyst data dictionary from the migrations (default docs/DATA_DICTIONARY.md)."""
    from demandhub.datadict import main as datadict_main

    return datadict_main([args.out] if args.out else [])


@command("dlq-replay")
def cmd_dlq_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Check a domain's dead letters again; re-produce those that now validate (see demandhub.dlq)."""
    from demandhub.dlq import replay_dlq

    if not settings.kafka_bootstrap:
        print("set DEMANDHUB_KAFKA_BOOTSTRAP or --kafka", file=sys.stderr)
        return 2
    summary = replay_dlq(settings, args.domain, args.policy, args.max)
    print(json.dumps(summary.as_dict()))
    return 0


# -- contract -------------------------------------------------------------------------------------
@command("schemas")
def cmd_schemas(args: argparse.Namespace, settings: Settings) -> int:
    """Export the JSON Schema of every event type into schemas/jsonschema/ (or --check it is current)."""
    from schemas.export import check_exported, export_all

    if args.action == "check":
        problems = check_exported()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    written = export_all()
    print(f"wrote {len(written)} schema files")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demandhub", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--data-dir", type=Path, help="data directory of the embedded run")
        p.add_argument("--force", help="force id (default DEMANDHUB_FORCE_ID or cambs)")
        return p

    p = add("up", "start the embedded stack (tansu, worker, warehouse, live web, simulator)")
    p.add_argument("--port", type=int, help="port of the live page (default 8765)")
    p.add_argument("--speed", type=float, default=10.0, help="simulator speed (1 = real time; default 10)")
    p.add_argument("--scale", type=float, default=1.0, help="simulator volume multiplier")
    p.add_argument("--seed", type=int, default=1, help="simulator seed")
    p.add_argument("--no-simulator", action="store_true", help="do not start the simulator")
    p.add_argument("--kafka", help="use this Kafka instead of starting tansu")

    p = add("worker", "run the stream processors against Kafka")
    p.add_argument("--kafka", help="Kafka bootstrap host:port")
    p.add_argument("--port", type=int, help="web port")
    p.add_argument("--no-web", action="store_true", help="do not serve the web API in this process")
    p.add_argument("--create-topics", action="store_true", help="create missing topics first")

    p = add("web", "serve the live page and API (no stream processing)")
    p.add_argument("--port", type=int, help="web port")

    p = add("migrate", "apply warehouse migrations")
    p.add_argument("--dry-run", action="store_true", help="print pending migrations' SQL only")
    p.add_argument("--dsn", help="ClickHouse DSN (http(s)://... or chdb:///abs/path)")

    p = add("topics", "create the hub's Kafka topics")
    p.add_argument("--kafka", help="Kafka bootstrap host:port")

    p = add("sql", "run a read-only query against the warehouse")
    p.add_argument("query", help="SELECT ... (quote it)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--dsn", help="ClickHouse DSN")

    p = add("simulate", "generate events (JSONL file, Kafka, or live)")
    p.add_argument("--start", help="first day YYYY-MM-DD (default today)")
    p.add_argument("--days", type=int, default=1, help="number of days")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every volume")
    p.add_argument("--forces", help="comma-separated force ids (default: the configured force)")
    p.add_argument(
        "--faults", default="", help="comma-separated: duplicates,late,out_of_order,malformed,hostile,pii"
    )
    p.add_argument("--out", help="write JSONL to this file")
    p.add_argument("--truth", help="write the expected monthly figures (JSON) to this file")
    p.add_argument("--kafka", help="produce to this Kafka bootstrap host:port")
    p.add_argument("--live", action="store_true", help="produce paced to the wall clock, from now")
    p.add_argument("--speed", type=float, default=1.0, help="live pace multiplier")

    p = add("replay", "put a JSONL file through the processors into the warehouse")
    p.add_argument("file")
    p.add_argument("--chunk", type=int, default=20_000, help="events per batch")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dsn", help="ClickHouse DSN")

    p = add("reconcile", "recompute a day's rollups from the facts and report differences")
    p.add_argument("--day", required=True, help="local day YYYY-MM-DD")

    p = add("docs", "generate the analyst data dictionary from the migrations")
    p.add_argument("what", choices=("datadict",))
    p.add_argument("--out", help="file to write (default docs/DATA_DICTIONARY.md)")

    p = add("dlq-replay", "re-check a domain's dead letters; re-produce those that now validate")
    p.add_argument("--domain", required=True, choices=("contacts", "incidents", "crimes"))
    p.add_argument("--policy", required=True, choices=("stop", "reinsert", "drop"))
    p.add_argument("--max", type=int, help="read at most this many dead letters")
    p.add_argument("--kafka", help="Kafka bootstrap host:port")

    p = add("schemas", "export or check the JSON Schemas of the event contract")
    p.add_argument("action", choices=("export", "check"))

    from demandhub.board.commands import add_board_arguments, add_channels_arguments

    add_board_arguments(add("board", "build (and optionally publish) the monthly board pack"))
    add_channels_arguments(add("channels", "contacts by channel for a period against a year earlier"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = make_settings(args)
    return COMMANDS[args.command](args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
