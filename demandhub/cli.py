"""The `demandhub` command line: one entry point, a subcommand per job, `--help` on each.

The settings object is built once here (from DEMANDHUB_* variables and the options given) and passed
down. Heavy modules (chDB, faust) are imported inside the commands that need them, and the embedded
stack starts its child processes before chDB is loaded (a process must not fork after loading it).

Failures: :func:`main` is the one boundary. A known failure (see :mod:`demandhub.errors` for the exit
codes) ends the command with one line on standard error naming the problem and what to do; the
traceback is shown only with ``--debug``. Before a command touches an embedded data directory it is
checked (:mod:`demandhub.datadir`): reading commands never create one, a directory held by another
process names that process, and an unwritable one is refused before anything starts. While a hub
runs on the data directory, ``sql``, ``board``, ``channels`` and ``reconcile`` ask it over its API.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from demandhub import argtypes
from demandhub.errors import (
    BUSY,
    DIFFERENCES,
    INPUT,
    USAGE,
    BusyError,
    HubError,
    InputError,
    Interrupted,
    UsageError,
    describe,
)

if TYPE_CHECKING:
    from demandhub.settings import Settings

Command = Callable[[argparse.Namespace, "Settings"], int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


def make_settings(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from demandhub.settings import Settings

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
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "settings"
        raise InputError(
            f"invalid setting {where} (DEMANDHUB_{where.upper()}): {first.get('msg', 'invalid')}"
        ) from None
    if settings.clickhouse_dsn and getattr(args, "dsn", None) is None:
        try:
            argtypes.dsn(settings.clickhouse_dsn)
        except argparse.ArgumentTypeError as exc:
            raise InputError(f"DEMANDHUB_CLICKHOUSE_DSN: {exc}") from None
    return settings


# -- data directory checks and logs ----------------------------------------------------------------
READERS = frozenset({"sql", "board", "channels", "reconcile"})
HOLDERS = frozenset({"up", "worker", "web", "migrate", "replay", "rebuild"})


def _writes(args: argparse.Namespace) -> bool:
    """A reading command asked to write (board import / --publish)."""
    return args.command == "board" and (args.action == "import" or args.publish)


def preflight(args: argparse.Namespace, settings: Settings) -> None:
    """Refuse early, in one line, what would fail later inside chDB or faust (module docstring)."""
    from demandhub import datadir

    warehouse = datadir.embedded_path(settings.resolved_dsn)
    if warehouse is None or args.command not in READERS | HOLDERS:
        return
    if args.command == "replay" and args.kafka:
        return  # sends to Kafka: the data directory is not touched
    data_dir = settings.data_dir
    if args.command in READERS and not _writes(args):
        if datadir.hub_serving(data_dir, settings.resolved_dsn) is not None:
            return  # the command asks the running hub
        datadir.ensure_present(data_dir, warehouse)
        datadir.ensure_free(data_dir, warehouse, "wait until it has finished, then run this again")
        return
    wait = "wait until it has finished, then run this again"
    if args.command in READERS:
        if datadir.hub_serving(data_dir, settings.resolved_dsn) is None:
            datadir.ensure_present(data_dir, warehouse)
        if_hub = "publishing or importing writes to the warehouse: stop the hub first, or do it later"
    elif args.command == "replay":
        broker = _hub_broker(data_dir) or "HOST:PORT-of-the-hub's-broker"
        if_hub = (
            "the hub owns the warehouse: stop it and replay then, or let the hub take the file: "
            f"demandhub replay {args.file} --kafka {broker}"
        )
    elif args.command == "up":
        if_hub = "stop it first (Ctrl-C in its terminal), or use another --data-dir"
    else:
        if_hub = "stop it first, or use another --data-dir"
    datadir.ensure_free(data_dir, warehouse, wait, if_hub)
    datadir.ensure_writable(data_dir)


def _hub_broker(data_dir: Path) -> str | None:
    """The broker of the `up` running on ``data_dir`` (from its record of processes), if known."""
    try:
        record = json.loads((data_dir / "processes.json").read_text())
    except (OSError, ValueError):
        return None
    broker = record.get("broker") if isinstance(record, dict) else None
    return str(broker) if broker else None


class HeldLog(io.TextIOBase):
    """The worker's log stream: held in memory until the worker is up (then written to standard
    error, and everything after it), so a failed start prints one line, its log kept in a file."""

    def __init__(self, target: IO[str] | None = None) -> None:
        self._target = target or sys.stderr
        self._held: list[str] | None = []

    def write(self, text: str) -> int:
        if self._held is None:
            self._target.write(text)
        else:
            self._held.append(text)
        return len(text)

    def flush(self) -> None:
        if self._held is None:
            self._target.flush()

    def isatty(self) -> bool:
        return False

    def release(self) -> None:
        held, self._held = self._held, None
        if held:
            self._target.write("".join(held))
            self._target.flush()

    def keep(self, path: Path) -> Path | None:
        """Write the held start-up log to ``path``; returns it (None when nothing was held)."""
        if not self._held:
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write("".join(self._held))
        except OSError:
            return None
        return path


def _worker_log(args: argparse.Namespace) -> HeldLog | None:
    return None if getattr(args, "debug", False) else HeldLog()


def _kept_log(log: HeldLog | None, settings: Settings, exc: BaseException) -> NoReturn:
    """Re-raise ``exc`` as its one-line error, naming the file the start-up log was kept in."""
    error = describe(exc)
    kept = log.keep(settings.data_dir / "logs" / "worker-start.log") if log is not None else None
    if kept is not None:
        raise type(error)(f"{error}; log: {kept}", error.code) from exc
    raise error from exc


# -- up / worker / web -----------------------------------------------------------------------------
@command("up")
def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Start the embedded stack: tansu, the worker + web server + warehouse, and the simulator."""
    from contextlib import ExitStack

    from demandhub.runtime import embedded_stack, print_tokens, run_worker

    simulator = ["--speed", str(args.speed), "--scale", str(args.scale), "--seed", str(args.seed)]
    simulator += ["--scenario", args.scenario]
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

    log = _worker_log(args)
    try:
        run_worker(settings, bootstrap, serve_web=True, on_ready=ready, log=log)
    except Exception as exc:
        _kept_log(log, settings, exc)
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
        raise UsageError("set DEMANDHUB_KAFKA_BOOTSTRAP or --kafka (or use `demandhub up`)")
    if args.create_topics:
        create_topics(settings.kafka_bootstrap)
    log = _worker_log(args)
    try:
        run_worker(settings, settings.kafka_bootstrap, serve_web=not args.no_web, log=log)
    except Exception as exc:
        _kept_log(log, settings, exc)
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
    from sinks.clickhouse.migrate import migrate, rebuild_notice

    wh = connect(settings.resolved_dsn)
    done = migrate(wh, dry_run=args.dry_run)
    notice = None if args.dry_run else rebuild_notice(wh, done)
    for m in done:
        print(f"{'would apply' if args.dry_run else 'applied'} {m.number:04d}_{m.name}")
        if args.dry_run:
            for statement in m.statements():
                print(statement + ";\n")
    if not done:
        print("warehouse schema is up to date")
    if notice:
        print(f"demandhub: {notice}", file=sys.stderr)
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


EX_TEMPFAIL = BUSY  # every analyst session of the hub is taken: try again later (demandhub.errors)


def _sql_via_hub(url: str, token: str, query: str) -> tuple[list[str], list[list[Any]], list[str]]:
    import urllib.error
    import urllib.request

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
        if exc.code == 503:  # every analyst session is taken: a temporary refusal, not an error
            retry = exc.headers.get("Retry-After", "a few")
            print(f"query not run: the hub is busy; try again in {retry} s", file=sys.stderr)
            raise SystemExit(EX_TEMPFAIL) from exc
        error = str(json.loads(exc.read()).get("error", exc.reason))
        print(error, file=sys.stderr)  # "refused by policy: ..." or "the engine says: ..."
        raise SystemExit(2 if error.startswith("refused by policy") else 1) from exc
    return body["columns"], body["rows"], body.get("types", [])


@command("sql")
def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    """Run one read-only query (SELECT only, no system tables, time and memory limits)."""
    from demandhub.auth import embedded_tokens
    from demandhub.datadir import hub_serving

    info = hub_serving(settings.data_dir, settings.resolved_dsn)
    if info:  # the hub checks the query against its warehouse
        columns, rows, types = _sql_via_hub(
            str(info["url"]), embedded_tokens(settings)["analyst"], args.query
        )
    else:
        from demandhub import sqlguard  # (not imported for the hub: the hub checks the query)
        from sinks.clickhouse.client import connect

        wh = connect(settings.resolved_dsn)
        try:
            query = sqlguard.check(args.query, wh)
            limit = settings.sql_max_result_bytes  # streamed: the query is cancelled past it
            result = wh.query(query, settings=sqlguard.limits(settings), max_bytes=limit)
            sqlguard.cap_rows(result.rows, limit)
        except Exception as exc:
            if not sqlguard.is_query_failure(exc):
                raise
            print(sqlguard.failure_text(exc, settings), file=sys.stderr)
            return 2 if isinstance(exc, sqlguard.RejectedQuery) else 1
        finally:
            wh.close()
        columns, rows, types = list(result.columns), [list(r) for r in result.rows], list(result.types)
    from demandhub.tables import format_rows

    zone = "UTC" if args.utc else settings.definitions.timezone
    print(format_rows(columns, local_times(rows, types, zone), args.format))
    return 0


def local_times(rows: Sequence[Sequence[Any]], types: Sequence[str], zone: str) -> list[list[Any]]:
    """``rows`` with every date-time value (a datetime, or the ISO text the hub's API sends for a
    ``DateTime``/``DateTime64`` column) shown in ``zone`` with its offset. Naive values are UTC."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    timed = {
        i for i, t in enumerate(types) if "DateTime" in t and not t.startswith(("Array", "Map", "Tuple"))
    }

    def shift(value: Any, text_ok: bool) -> Any:
        if isinstance(value, str) and text_ok:
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            return aware.astimezone(tz)
        return value

    return [[shift(v, i in timed) for i, v in enumerate(row)] for row in rows]


class HubClient:
    """The analyst routes of the hub running on the data directory (``demandhub.web.server``)."""

    def __init__(self, settings: Settings, info: dict[str, Any]) -> None:
        from demandhub.auth import embedded_tokens

        self.url = str(info["url"]).rstrip("/")
        self.pid = info.get("pid")
        self.data_dir = settings.data_dir
        self._token = embedded_tokens(settings)["analyst"]

    @classmethod
    def of(cls, settings: Settings) -> HubClient | None:
        """A client of the hub owning this data directory's embedded warehouse, if one runs."""
        from demandhub.datadir import hub_serving

        info = hub_serving(settings.data_dir, settings.resolved_dsn)
        return cls(settings, info) if info else None

    def owns(self, why: str) -> str:
        return f"a hub (pid {self.pid}) is running on {self.data_dir} and owns its warehouse; {why}"

    def get(self, path: str, **params: str | Sequence[str]) -> tuple[bytes, Any]:
        import urllib.error
        import urllib.request
        from urllib.parse import urlencode

        request = urllib.request.Request(
            f"{self.url}{path}?{urlencode(params, doseq=True)}",
            headers={"Authorization": f"Bearer {self._token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.read(), response.headers
        except urllib.error.HTTPError as exc:
            try:
                message = str(json.loads(exc.read()).get("error", exc.reason))
            except ValueError:
                message = str(exc.reason)
            if exc.code in (400, 404):
                raise InputError(message) from None
            if exc.code == 503:
                raise BusyError(f"the hub is busy ({message}); try again shortly") from None
            raise HubError(f"the hub answered {exc.code}: {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            from demandhub.errors import UnavailableError

            raise UnavailableError(
                f"cannot reach the hub at {self.url} ({exc}); is it still running?"
            ) from None

    def board(
        self,
        month: str,
        fmt: str,
        extract_time: str,
        defines: Sequence[str] = (),
        compare: Sequence[str] = (),
    ) -> tuple[bytes, str]:
        body, headers = self.get(
            "/api/board",
            month=month,
            format=fmt,
            extract_time=extract_time,
            define=list(defines),
            compare_define=list(compare),
        )
        return body, str(headers.get("X-Board-Month", month))

    def channels(self, first: str, last: str, defines: Sequence[str] = ()) -> dict[str, Any]:
        return dict(
            json.loads(self.get("/api/channels", **{"from": first, "to": last, "define": list(defines)})[0])
        )

    def reconcile(self, day: str) -> list[dict[str, Any]]:
        return list(json.loads(self.get("/api/reconcile", day=day)[0])["differences"])


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
            raise InputError(f"unknown fault {name!r}; choose from {', '.join(FAULT_RATES)}")
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
            sim.simulate_live(config, speed=args.speed, scenario=sim.SCENARIOS[args.scenario]),
            settings.kafka_bootstrap,
            linger_ms=5,
            flush_every=200,
        )
        return 0
    if args.out:
        with _progress("simulate", "days", args.quiet) as progress:
            events = _day_progress(sim.simulate(config), config.start, config.days, progress)
            counts = sim.write_jsonl(events, Path(args.out), config.faults, seed=args.seed)
        print(json.dumps(counts | {"file": args.out}))
        return 0
    if settings.kafka_bootstrap:
        with _progress("simulate", "days", args.quiet) as progress:
            events = _day_progress(sim.simulate(config), config.start, config.days, progress)
            counts = sim.produce_kafka(events, settings.kafka_bootstrap)
        print(json.dumps(counts))
        return 0
    print("give --out FILE.jsonl, --kafka BOOTSTRAP or --live", file=sys.stderr)
    return 2


def _day_progress(
    events: Iterable[dict[str, Any]], start: date, days: int, progress: Any
) -> Iterator[dict[str, Any]]:
    """``events`` unchanged, advancing ``progress`` by simulated days (event time; ends at 100%)."""
    from datetime import datetime

    task = progress.add_task("simulate", total=days)
    origin = datetime(start.year, start.month, start.day).timestamp()
    reached = 0.0
    for n, event in enumerate(events):
        if n % 500 == 0:
            try:
                stamp = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
                elapsed = (stamp.replace(tzinfo=None).timestamp() - origin) / 86400
            except (KeyError, ValueError):
                elapsed = reached
            if elapsed > reached:
                reached = min(float(days), elapsed)
                progress.update(task, completed=reached)
        yield event
    progress.update(task, completed=days)


@command("replay")
def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Put a JSONL file of events through the same processors into the warehouse (or, with
    --kafka, send its lines to the hub's topics for a running hub to take)."""
    path = Path(args.file)
    lines = _count_lines(path)
    if args.kafka:
        return _replay_to_kafka(path, lines, args.kafka, args.quiet)
    from demandhub.runtime import (
        build_pipeline,
        default_replay_workers,
        file_messages,
        file_segment,
        open_warehouse,
        read_shards,
        replay,
        replay_file,
        start_replay_workers,
    )
    from sinks.clickhouse.client import is_new_embedded

    started = time.perf_counter()
    done = [0]
    wh = None
    shards = None
    # The worker processes start first: spawned before this process loads chDB, they start while
    # this one reads the file and opens the warehouse; into a new embedded warehouse they read the
    # file themselves meanwhile (no subject's history to look up: its lines need not pass here).
    pool = None if args.chunk else start_replay_workers(settings, args.workers or default_replay_workers())
    try:
        if pool is not None and is_new_embedded(settings.resolved_dsn):
            pool.preload(file_segment(path, pool))
        elif not args.chunk:
            shards = read_shards(path, pool)
        wh = open_warehouse(settings)
        pipeline = build_pipeline(settings, wh, lazy_rollups=True)  # rollups refreshed once at the end
        with _progress("replay", "lines", args.quiet) as progress:
            task = progress.add_task("replay", total=lines)

            def advance(n: int) -> None:
                done[0] += n
                progress.advance(task, n)

            if args.chunk:
                totals = replay(pipeline, file_messages(path, args.chunk), advance)
            else:
                totals = replay_file(pipeline, path, pool, advance, shards)
        from sinks.clickhouse.compact import compact

        compact(wh)  # one part per partition: fewer parts to open, nothing left for FINAL to merge
    except KeyboardInterrupt:
        if pool is not None:
            pool.close(now=True)  # the shards being folded are lost with the rest
        raise Interrupted(
            f"replay interrupted after {done[0]:,} of {lines:,} lines of {path} (every batch before "
            "that is saved); running the same command again is safe: events already kept are "
            "recognised as duplicates"
        ) from None
    finally:
        if pool is not None:
            pool.close()
        if wh is not None:
            wh.close()
    out = totals.as_dict() | {"seconds": round(time.perf_counter() - started, 2)}
    print(json.dumps(out))
    return 0


@command("rebuild")
def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """Re-fold every subject of the events ledger into the facts, from scratch, then refresh the
    rollups (after a migration that changes fact columns, or to prove a recompute)."""
    from demandhub.runtime import build_pipeline, ledger_subjects, open_warehouse, rebuild

    started = time.perf_counter()
    done = [0]
    wh = None
    try:
        wh = open_warehouse(settings)
        pipeline = build_pipeline(settings, wh, lazy_rollups=True)
        total = sum(n for _, entity, n in ledger_subjects(wh) if entity in pipeline.folds)
        with _progress("rebuild", "subjects", args.quiet) as progress:
            task = progress.add_task("rebuild", total=total)

            def advance(n: int) -> None:
                done[0] += n
                progress.advance(task, n)

            totals = rebuild(pipeline, advance, args.chunk)
        from sinks.clickhouse.compact import compact

        compact(wh)  # one part per partition: fewer parts to open, nothing left for FINAL to merge
    except KeyboardInterrupt:
        raise Interrupted(
            f"rebuild interrupted after {done[0]:,} subjects: the facts are incomplete until "
            "`demandhub rebuild` is run again (it starts from the ledger each time)"
        ) from None
    finally:
        if wh is not None:
            wh.close()
    print(json.dumps(totals.as_dict() | {"seconds": round(time.perf_counter() - started, 2)}))
    return 0


def _replay_to_kafka(path: Path, lines: int, bootstrap: str, quiet: bool) -> int:
    """Each line of ``path``, unchanged, to its topic (by its ``type``), keyed by its ``subject``.
    A line whose type names no topic goes to the first input topic, where the hub dead-letters it
    as it would in a file replay. Prints the lines sent per topic."""
    from kafka import KafkaProducer

    from demandhub.runtime import file_messages
    from schemas.topics import TOPICS

    fallback = next(iter(TOPICS.values())).name
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024, acks="all", max_request_size=4 << 20
    )
    counts: dict[str, int] = {"total": 0}
    try:
        with _progress("send", "lines", quiet) as progress:
            task = progress.add_task("send", total=lines)
            for batch in file_messages(path, 2000):
                for message in batch:
                    topic = message.topic or fallback
                    producer.send(topic, key=_subject_of(message.value), value=message.value)
                    counts[topic] = counts.get(topic, 0) + 1
                    counts["total"] += 1
                producer.flush()
                progress.advance(task, len(batch))
    except KeyboardInterrupt:
        raise Interrupted(
            f"sending interrupted after {counts['total']:,} of {lines:,} lines of {path}; sending the "
            "file again is safe: the hub recognises events it already has"
        ) from None
    finally:
        producer.close()
    print(json.dumps(counts | {"file": str(path), "kafka": bootstrap}))
    return 0


def _subject_of(line: bytes) -> bytes | None:
    try:
        subject = json.loads(line).get("subject")
    except (ValueError, AttributeError):
        return None
    return str(subject).encode() if subject else None


def _progress(label: str, unit: str, quiet: bool) -> Any:
    """A rich progress bar (on standard error): percentage, count, rate and time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed or 0:,.0f} {unit}/s")

    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn(f"{{task.completed:,.0f}}/{{task.total:,.0f}} {unit}"),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )


def _count_lines(path: Path) -> int:
    """Lines that hold something (blank lines are skipped by the replay, so not counted)."""
    count = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                count += 1
    return count


@command("reconcile")
def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    """Recompute a day's contact rollups from the facts and report every difference (exit 1 if any)."""
    hub = HubClient.of(settings)
    if hub is not None:
        diffs = hub.reconcile(args.day)
    else:
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
    return DIFFERENCES if diffs else 0


# -- board pack -----------------------------------------------------------------------------------
@command("board")
def cmd_board(args: argparse.Namespace, settings: Settings) -> int:
    """The monthly board pack (json, xlsx, html, pdf), publishing, and `board import FILE.csv`."""
    from demandhub.board.commands import run_board

    return run_board(args, settings, hub=HubClient.of(settings))


@command("public")
def cmd_public(args: argparse.Namespace, settings: Settings) -> int:
    """The public force dashboard and feed written as static files (`public build --out DIR`)."""
    from demandhub.board.warehouse.public import run_public

    return run_public(args, settings, hub=HubClient.of(settings))


@command("channels")
def cmd_channels(args: argparse.Namespace, settings: Settings) -> int:
    """Contacts by channel for any period, with the change against a year earlier."""
    from demandhub.board.commands import run_channels

    return run_channels(args, settings, hub=HubClient.of(settings))


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


@command("display")
def cmd_display(args: argparse.Namespace, settings: Settings) -> int:
    """Wall-screen display sessions: create (prints a one-time pairing code), list, revoke HANDLE."""
    from demandhub.web.sessions import SessionStore, run_display

    store = SessionStore.for_data_dir(
        settings.data_dir, settings.session_ttl_seconds, settings.display_session_ttl_seconds
    )
    return run_display(args.action, args.label, args.handle, store)


# -- contract -------------------------------------------------------------------------------------
@command("schemas")
def cmd_schemas(args: argparse.Namespace, settings: Settings) -> int:
    """Export the JSON Schema of every event type into schemas/jsonschema/ (or --check it is current)."""
    from schemas.export import check_exported, export_all

    if args.action == "check":
        problems = check_exported()
        for p in problems:
            print(p)
        if problems:
            print(
                f"demandhub: {len(problems)} schema problem(s), listed above; if the change is intended, "
                "run `demandhub schemas export`",
                file=sys.stderr,
            )
        return DIFFERENCES if problems else 0
    written = export_all()
    print(f"wrote {len(written)} schema files")
    return 0


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: a malformed value (an argument type refused it) is an input
    error (exit 3), anything else a usage error (exit 2)."""

    def error(self, message: str) -> NoReturn:
        current = sys.exc_info()[1]
        code = (
            INPUT if isinstance(getattr(current, "__context__", None), argparse.ArgumentTypeError) else USAGE
        )
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)", code)


DEBUG_HELP = "show the traceback of a failure (and the worker's log as it starts)"
SCENARIO_NAMES = ("normal", "peak")  # streams.sources.simulator.SCENARIOS (not imported: start-up)
SCENARIO_HELP = (
    "live simulator scenario: normal (the calendar is the wall clock) or peak (a Friday-night "
    "peak with twice the demand and queues at 60%% of staffing, 40 minutes under way)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="demandhub",
        description=__doc__.splitlines()[0],
        epilog="Exit codes: 0 done, 1 unexpected error, 2 usage, 3 input, 4 busy, 5 dependency "
        "unavailable, 6 differences found, 130 interrupted (README: When something goes wrong).",
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        p.add_argument("--data-dir", type=Path, help="data directory of the embedded run")
        p.add_argument("--force", help="force id (default DEMANDHUB_FORCE_ID or cambs)")
        return p

    p = add("up", "start the embedded stack (tansu, worker, warehouse, live web, simulator)")
    p.add_argument("--port", type=int, help="port of the live page (default 8765)")
    p.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="simulator arrivals per minute x this (every wait and handling time stays real; default 10)",
    )
    p.add_argument("--scenario", choices=SCENARIO_NAMES, default="normal", help=SCENARIO_HELP)
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
    p.add_argument("--dsn", type=argtypes.dsn, help="ClickHouse DSN (http(s)://... or chdb:///abs/path)")

    p = add("topics", "create the hub's Kafka topics")
    p.add_argument("--kafka", help="Kafka bootstrap host:port")

    p = add("sql", "run a read-only query against the warehouse")
    p.add_argument("query", help="SELECT ... (quote it)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--utc", action="store_true", help="show date-times in UTC (default: the force's zone)")
    p.add_argument("--dsn", type=argtypes.dsn, help="ClickHouse DSN")

    p = add("simulate", "generate events (JSONL file, Kafka, or live)")
    p.add_argument("--start", type=argtypes.day, help="first day YYYY-MM-DD (default today)")
    p.add_argument("--days", type=argtypes.positive_int, default=1, help="number of days")
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
    p.add_argument(
        "--speed", type=float, default=1.0, help="live: arrivals x this, durations real (default 1)"
    )
    p.add_argument("--scenario", choices=SCENARIO_NAMES, default="normal", help=SCENARIO_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("replay", "put a JSONL file through the processors into the warehouse")
    p.add_argument("file", type=argtypes.existing_file, help="JSONL file, one event per line")
    p.add_argument(
        "--chunk",
        type=argtypes.positive_int,
        help="put the file through the worker's write cycle in batches of this many events, instead "
        "of folding each subject once over the whole file: slower, but it streams the file, where "
        "the default holds up to 512 MiB of the file's lines at a time (a larger file is read once "
        "per segment of its subjects)",
    )
    p.add_argument(
        "--workers",
        type=argtypes.positive_int,
        help="processes that decode and fold the file (default: one per core, at most 4)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--kafka",
        metavar="HOST:PORT",
        help="send the lines to this Kafka's topics instead (for a running hub to take them)",
    )
    p.add_argument("--dsn", type=argtypes.dsn, help="ClickHouse DSN")

    p = add("rebuild", "re-fold every subject of the events ledger into the facts, then refresh rollups")
    p.add_argument("--chunk", type=argtypes.positive_int, default=2000, help="subjects per batch")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dsn", type=argtypes.dsn, help="ClickHouse DSN")

    p = add("reconcile", "recompute a day's rollups from the facts and report differences")
    p.add_argument("--day", required=True, type=argtypes.day, help="local day YYYY-MM-DD")

    p = add("docs", "generate the analyst data dictionary from the migrations")
    p.add_argument("what", choices=("datadict",))
    p.add_argument("--out", help="file to write (default docs/DATA_DICTIONARY.md)")

    p = add("dlq-replay", "re-check a domain's dead letters; re-produce those that now validate")
    p.add_argument("--domain", required=True, choices=("contacts", "incidents", "crimes"))
    p.add_argument("--policy", required=True, choices=("stop", "reinsert", "drop"))
    p.add_argument("--max", type=int, help="read at most this many dead letters")
    p.add_argument("--kafka", help="Kafka bootstrap host:port")

    p = add("display", "create, list or revoke the long-lived sessions of wall screens")
    p.add_argument("action", choices=("create", "list", "revoke"))
    p.add_argument("handle", nargs="?", help="revoke: the display's handle (from list or create)")
    p.add_argument("--label", help="create: where the screen is, e.g. 'Control room wall 1'")

    p = add("schemas", "export or check the JSON Schemas of the event contract")
    p.add_argument("action", choices=("export", "check"))

    from demandhub.board.commands import add_board_arguments, add_channels_arguments

    add_board_arguments(add("board", "build (and optionally publish) the monthly board pack"))
    add_channels_arguments(add("channels", "contacts by channel for a period against a year earlier"))
    p = add("public", "write the public force dashboard and its CSV/JSON feed as static files")
    p.add_argument("action", choices=("build",))
    p.add_argument("--out", required=True, help="directory to write (created if missing)")
    p.add_argument("--dsn", type=argtypes.dsn, help="ClickHouse DSN")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure ends here as one line on standard error and its exit code
    (:mod:`demandhub.errors`); ``--debug`` adds the traceback."""
    return _main(argv)[0]


def _main(argv: Sequence[str] | None) -> tuple[int, str | None]:
    """:func:`main`'s exit code, and the command it ran (None if the arguments were not understood)."""
    import logging

    raw = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in raw
    command: str | None = None
    try:
        args = build_parser().parse_args(raw)
        command = args.command
        debug = bool(getattr(args, "debug", False))
        if not debug and not logging.getLogger().handlers:
            # libraries' warnings would otherwise reach stderr through logging's last resort; the
            # failure they lead to is reported below in one line (the worker sets up its own log)
            logging.getLogger().addHandler(logging.NullHandler())
        settings = make_settings(args)
        preflight(args, settings)
        return COMMANDS[args.command](args, settings), command
    except (Exception, KeyboardInterrupt) as exc:
        error = describe(exc)
        if debug:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        line = str(error) if str(error).startswith("demandhub") else f"demandhub: {error}"
        print(line, file=sys.stderr, flush=True)
        return error.code, command


QUICK_EXIT = frozenset({"board", "sql"})
"""Commands whose process ends at once when they return (:func:`run`)."""


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``demandhub`` executable: :func:`main`, then the process ends with its exit code.

    After ``board`` and ``sql`` it ends at once (``os._exit``) once standard output and error are
    flushed, without tearing the embedded engine down or finalising the interpreter: about 0.07 s of
    a command whose answer is already out (the engine's teardown about 50 ms, Python's 40-60 ms, on
    this machine). Nothing is pending by then: every statement is durable when it returns (inserts
    are synchronous), files are written by ``Path.write_bytes`` and closed, and a merge the engine
    began in the background is abandoned as a killed process abandons it, which the warehouse is
    built for (its temporary parts are removed at the next open). Other commands (servers, workers,
    replays with worker processes) end the ordinary way."""
    code, command = _main(argv)
    if command in QUICK_EXIT:
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
