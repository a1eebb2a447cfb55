"""Assembling the hub: warehouse, pipeline, faust worker and web server, from one Settings object.

The embedded stack (:func:`embedded_stack`, used by ``demandhub up``) and what happens when its
process dies without stopping:

- tansu and the live simulator are children that die with ``up`` (parent-death signal, see
  :func:`demandhub.embedded.start_child`), so after a ``kill -9`` no one keeps producing to a
  broker the next ``up`` will not use.
- ``up`` records itself and its children (pid, start time, boot id, role) in
  ``<data dir>/processes.json`` and removes the file when it stops. A restarted ``up`` that finds
  the file knows the previous one did not stop: it refuses to start if that ``up`` is in fact still
  running, otherwise it stops any leftover child still running (where the death signal could not
  act: a platform without it, or an older version) and says so.
- tansu keeps events in memory only. Events produced to the previous broker that the worker had not
  yet written to the warehouse are gone with it, so a restarted ``up`` after an unclean stop prints
  one line saying that events may have been lost and what to re-send, rather than switching silently
  to an empty broker. (Reusing the old broker was rejected: with the death signal it is normally
  gone already, and an adopted broker could not be tied to the new ``up``.) With ``--kafka`` the
  broker is not ours: its events and the worker's committed offsets survive, and nothing is lost.
- The live simulator stamps every id with a run id (see
  :func:`streams.sources.simulator.simulate_live`), so a restarted demo continues with new ids
  instead of colliding with the previous run's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from demandhub.auth import credentials, embedded_tokens, pseudonymisation_key
from demandhub.errors import BusyError
from demandhub.settings import Settings
from sinks.clickhouse import admin_sql, history_sql
from sinks.clickhouse.client import (
    REFRESH_PRIORITY,
    Warehouse,
    connect,
    is_embedded,
    wait_all,
)
from sinks.clickhouse.migrate import migrate, rebuild_notice

if TYPE_CHECKING:  # the pipeline and registry load with the commands that process events
    from streams.pipeline import BatchReport, Pipeline, RawMessage
    from streams.replay_shards import FileSegment, Line, ShardPool, ShardRows

log = logging.getLogger(__name__)
HUB_FILE = "hub.json"
PROCESSES_FILE = "processes.json"


def open_warehouse(settings: Settings, apply_migrations: bool = True) -> Warehouse:
    """Connect to the configured warehouse and bring its schema up to date."""
    if settings.resolved_dsn.startswith("chdb:"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    wh = connect(settings.resolved_dsn)
    if apply_migrations:
        notice = rebuild_notice(wh, migrate(wh))
        if notice:
            print(f"demandhub: {notice}", file=sys.stderr)
    return wh


def build_pipeline(settings: Settings, wh: Warehouse, lazy_rollups: bool = False) -> Pipeline:
    """The pipeline with every registered fold and rollup (and the chaos switch, if set).

    ``lazy_rollups``: batches only log the rollup buckets they touch; the caller refreshes them (the
    worker's refresher loop, the end of a replay)."""
    from sinks.clickhouse.faults import maybe_flaky
    from streams import registry
    from streams.pipeline import Pipeline

    sink = maybe_flaky(wh, settings.fault_sink_fail_flag)
    return Pipeline(
        settings,
        sink,
        registry.folds(),
        pseudonymisation_key(settings),
        registry.refreshers(),
        cache_max_events=settings.history_cache_events,
        lazy_rollups=lazy_rollups,
    )


def hub_file(settings: Settings) -> Path:
    return settings.data_dir / HUB_FILE


def write_hub_file(settings: Settings, url: str) -> None:
    """Tell other processes (e.g. `demandhub sql`) where the running hub serves its API."""
    path = hub_file(settings)
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    os.chmod(path, 0o600)


# -- the embedded stack's processes ------------------------------------------------------------------
class HubAlreadyRunning(BusyError):
    """Another ``demandhub up`` is running on this data directory (exit code BUSY)."""


def _say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class EmbeddedProcesses:
    """The record of one ``up`` and its children in ``<data dir>/processes.json``."""

    path: Path
    say: Callable[[str], None] = _say_on_stderr
    _record: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def claim(self) -> None:
        """Deal with a previous ``up``'s record (see the module docstring), then record this one.

        Raises :class:`HubAlreadyRunning`, changing nothing, if that ``up`` is still running."""
        from demandhub.embedded import ProcessStamp

        previous = self._read()
        if previous is not None:
            owner = ProcessStamp.from_dict(previous.get("owner"))
            if owner is not None and owner.running():
                raise HubAlreadyRunning(
                    f"another demandhub up (pid {owner.pid}) is running on {self.path.parent}; "
                    "stop it first, or use another --data-dir"
                )
            self._clean_up_after(previous, owner.pid if owner else None)
        me = ProcessStamp.of(os.getpid())
        self._record = {
            "owner": me.as_dict() if me else {"pid": os.getpid()},
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "children": [],
        }
        self._write()

    def _clean_up_after(self, previous: dict[str, Any], pid: int | None) -> None:
        from demandhub.embedded import ProcessStamp, process_command, stop_stamped

        children = [c for c in previous.get("children", []) if isinstance(c, dict)]
        stopped = []
        for child in children:
            stamp = ProcessStamp.from_dict(child)
            if stamp is None or not stamp.running():
                continue
            command = process_command(stamp.pid)
            if stop_stamped(stamp):
                stopped.append(f"{child.get('role', 'child')} pid {stamp.pid} ({command[:100]})")
        who = f"the previous demandhub up (pid {pid if pid else '?'}, started {previous.get('started_at', '?')})"
        if stopped:
            self.say(f"{who} left processes running; stopped: {'; '.join(stopped)}")
        if any(c.get("role") == "tansu" for c in children):
            self.say(
                f"{who} did not stop cleanly: its in-memory broker {previous.get('broker', '')} is gone, so "
                "events produced to it that were not yet in the warehouse are lost; the simulator goes on "
                "with new ids, other sources must re-send what they sent after the warehouse's latest event"
            )
        else:
            self.say(f"{who} did not stop cleanly")

    def add(self, role: str, pid: int, **extra: str) -> None:
        """Record a child just started (before it can produce anything)."""
        from demandhub.embedded import ProcessStamp

        stamp = ProcessStamp.of(pid)
        entry: dict[str, Any] = {"role": role, **(stamp.as_dict() if stamp else {"pid": pid})}
        self._record["children"].append(entry)
        self._record.update(extra)
        self._write()

    def release(self) -> None:
        """This ``up`` stopped its children itself: nothing is left for the next one to clean up."""
        self.path.unlink(missing_ok=True)

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            self.say(f"ignoring an unreadable {self.path}")
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self._record, indent=1))
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)


@contextlib.contextmanager
def embedded_stack(
    settings: Settings, simulator_args: Sequence[str] | None, say: Callable[[str], None] = _say_on_stderr
) -> Iterator[str]:
    """Start what ``demandhub up`` runs beside the worker and yield the Kafka bootstrap.

    That is: tansu (unless ``settings.kafka_bootstrap`` is set), the topics and, unless
    ``simulator_args`` is None, the live simulator (``demandhub simulate --live --kafka BOOTSTRAP
    *simulator_args``). Leftovers of a previous ``up`` on the same data directory are dealt with
    first (:meth:`EmbeddedProcesses.claim`, which may raise :class:`HubAlreadyRunning`); on exit the
    children are stopped and the record removed. Call it from the main thread (the children's
    parent-death signal follows the thread that starts them); chDB may already be loaded, since
    children are started by fork+exec with no Python code run between the two."""
    from demandhub.embedded import TansuBroker, create_topics, start_child, stop_process

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    record = EmbeddedProcesses(settings.data_dir / PROCESSES_FILE, say)
    record.claim()
    broker: TansuBroker | None = None
    sim = None
    try:
        bootstrap = settings.kafka_bootstrap
        if bootstrap is None:
            broker = TansuBroker(log_path=log_dir / "tansu.log").start()
            bootstrap = broker.bootstrap
            if broker.process is not None:
                record.add("tansu", broker.process.pid, broker=bootstrap)
        create_topics(bootstrap)
        if simulator_args is not None:
            argv = [sys.executable, "-m", "demandhub.cli", "simulate", "--live", "--kafka", bootstrap]
            sim = start_child([*argv, *simulator_args], log_dir / "simulator.log")
            record.add("simulator", sim.pid)
        yield bootstrap
    finally:
        stop_process(sim, 10)
        if broker is not None:
            broker.stop()
        record.release()


async def refresh_gauges_forever(settings: Settings, wh: Warehouse, interval: float = 5.0) -> None:
    """Recompute the warehouse-backed live gauges every ``interval`` seconds (``wh``: a read handle
    of their own, so the gauges never wait for the writer or analysts)."""
    from demandhub.gauges import gauge_refreshers

    refreshers = gauge_refreshers()
    while True:
        now = datetime.now(UTC)
        for refresh in refreshers:
            try:
                await asyncio.to_thread(refresh, wh, settings.force_id, now, settings.definitions)
            except Exception:
                log.exception("live gauge refresh failed")
        await asyncio.sleep(interval)


class LogStream(Protocol):
    """A text stream the worker can log to (``logging.StreamHandler`` writes and flushes it)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


WORKER_SWITCH_INTERVAL_SECONDS = 0.001
"""How long a thread of the worker may hold Python's lock while another waits for it (the
interpreter's default is 5 ms). A write cycle's thread gives the lock up for every engine statement
and waits for it again after each one, as do the event loop (the fetches, the live page, ``/api/sql``)
and the thread preparing the next fetch, so every hand-over waited up to the whole interval behind
the thread that was decoding or folding. Four same-run pairs of the freshness and throughput
benchmarks, two in each order, 5 ms against 1 ms: hub p99 at 50 events/s 663, 682, 461, 629 against
601, 483, 380, 508 ms (lower in all four); at 1,000/s 1.67, 1.13, 0.97, 1.40 against 1.44, 1.29,
0.84, 1.29 s; throughput from launch 0.258, 0.264, 0.287, 0.341 against 0.292, 0.324, 0.335, 0.247."""


def run_worker(
    settings: Settings,
    broker: str,
    serve_web: bool = True,
    on_ready: Callable[[str], None] | None = None,
    log: LogStream | None = None,
) -> None:
    """Run the faust worker (and the web server in the same process) until stopped by a signal.

    Start-up overlaps its three long waits (:mod:`streams.startup`): first, on the event loop the
    worker will run on, the hot path's consumer declares the topics and begins its group join
    (:class:`streams.hot_consumer.EarlyJoin`; not for ``exactly_once``, where faust's agents
    consume); meanwhile a thread imports faust, the app and the web server, after starting the
    warehouse's opening and migration on a thread of its own. Once the imports are done faust runs
    on the same loop and the hot path takes the joined consumer; the first write cycle, the web
    server, the live gauges and the rollup refresher wait for the warehouse. A failure to start
    (broker unreachable, web port taken, the warehouse or a migration failing) or a crash raises the
    original exception (faust's own ``execute_from_commandline`` would log it and exit 0 or 1
    without it). SIGINT or SIGTERM during the imports stops the worker cleanly once they are done
    (the consumer leaves its group). ``log`` is the stream the worker logs to (default standard
    error); its ``release()``, if it has one, is called once the worker is up. The process's
    switch interval is set to :data:`WORKER_SWITCH_INTERVAL_SECONDS` first."""
    sys.setswitchinterval(WORKER_SWITCH_INTERVAL_SECONDS)
    from streams import startup

    marks = startup.StartupMarks()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # faust's app and worker run on it (mode takes the thread's loop)
    early: Any = None
    if settings.processing_guarantee != "exactly_once":
        from streams.hot_consumer import GROUP, EarlyJoin

        early = EarlyJoin(broker, GROUP, settings.broker_session_timeout, marks)
    opening: list[Any] = []
    try:
        stopped = loop.run_until_complete(_begin(settings, marks, early, opening, serve_web))
        if not stopped:
            _run_worker(settings, broker, opening[0], marks, serve_web, on_ready, log, early)
    finally:
        if not loop.is_closed():  # the worker did not run (it closes the loop)
            if early is not None:
                loop.run_until_complete(early.abandon())
            loop.close()
        asyncio.set_event_loop(None)
        if opening:
            with contextlib.suppress(Exception):  # its failure, if any, was raised by the worker
                opening[0].result().close()


async def _begin(settings: Settings, marks: Any, early: Any, opening: list[Any], serve_web: bool) -> bool:
    """Start the consumer's join (if ``early``), then import and start the warehouse opening on a
    thread (appended to ``opening``); returns once the imports are done, the join still under way.
    True: a signal asked the worker to stop meanwhile."""
    loop = asyncio.get_running_loop()
    stop: list[int] = []
    handled: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread
            loop.add_signal_handler(sig, stop.append, sig)
            handled[sig] = previous
    try:
        if early is not None:
            early.start()
        await asyncio.to_thread(_import_and_open, settings, marks, opening, serve_web)
    finally:
        for sig, previous in handled.items():  # mode's worker installs its own once it starts
            loop.remove_signal_handler(sig)
            signal.signal(sig, previous)
    return bool(stop)


def _import_and_open(settings: Settings, marks: Any, opening: list[Any], serve_web: bool) -> None:
    """On the start-up thread: start the warehouse opening on a thread of its own, then import faust,
    the app and the web server."""
    # What both threads use is imported first, before the opening thread starts, so the two never
    # import one module at once; the opening thread then loads chDB while this one loads faust.
    from sinks.clickhouse import faults, rollups  # noqa: F401
    from streams import registry, startup  # noqa: F401

    opening.append(
        startup.Opening(lambda: open_worker_warehouse(settings, marks), "warehouse-opening").start()
    )
    import faust
    import faust.app.base
    import faust.transport.drivers.aiokafka
    import faust.worker

    import streams.app  # noqa: F401

    if serve_web:
        import demandhub.web.live
        import demandhub.web.server  # noqa: F401
    faust.App, faust.Worker  # noqa: B018  (faust loads its names lazily)


@dataclass(frozen=True)
class _WorkerWarehouse:
    """The worker's warehouse handles and what writes through them (a :class:`streams.app.Opened`)."""

    wh: Warehouse
    pipeline: Pipeline
    refresher: Any  # sinks.clickhouse.rollups.Refresher, imported with the warehouse

    def close(self) -> None:
        from sinks.clickhouse import rollups

        rollups.unregister(self.refresher)
        with contextlib.suppress(Exception):  # the lease lapses by itself if this fails
            self.refresher.release()
        self.refresher.wh.close()
        self.wh.close()


def open_worker_warehouse(settings: Settings, marks: Any) -> _WorkerWarehouse:
    """Open and migrate the warehouse, then build the pipeline and the rollup refresher on it (run on
    the opening thread; ``marks``: the worker's :class:`streams.startup.StartupMarks`)."""
    from sinks.clickhouse import rollups
    from streams import startup

    wh = open_warehouse(settings, apply_migrations=False)
    marks.mark(startup.WAREHOUSE_OPEN)
    try:
        notice = rebuild_notice(wh, migrate(wh))
        if notice:
            print(f"demandhub: {notice}", file=sys.stderr)
        marks.mark(startup.MIGRATED)
        # Write cycles only log the rollup buckets they touch; the refresher recomputes them.
        pipeline = build_pipeline(settings, wh, lazy_rollups=True)
        refresher = rollups.Refresher(
            connect(settings.resolved_dsn, priority=REFRESH_PRIORITY),
            pipeline.rollups,
            definitions=settings.definitions,
        )
    except BaseException:
        wh.close()
        raise
    rollups.register(refresher)  # readers in this process (web routes) refresh through it
    return _WorkerWarehouse(wh, pipeline, refresher)


def _run_worker(
    settings: Settings,
    broker: str,
    opening: Any,
    marks: Any,
    serve_web: bool,
    on_ready: Callable[[str], None] | None,
    log: LogStream | None,
    early: Any,
) -> None:
    from streams import registry, startup
    from streams.app import build_app

    app = build_app(
        settings,
        opening,
        broker,
        observers=registry.observers(settings.definitions),
        marks=marks,
        early=early,
    )
    url = f"http://{settings.web_host}:{settings.web_port}/"

    if serve_web:
        from demandhub.web.live import add_live_routes
        from demandhub.web.server import HEALTH_CHECKS_KEY, build_web_app, start_web

        @app.task
        async def web_server() -> None:
            try:
                wh = (await opening.wait()).wh
            except Exception:  # the hot path's opening task stops the worker
                return
            web_app = build_web_app(settings, wh, credentials(settings))
            web_app[HEALTH_CHECKS_KEY] = [app.conf.demandhub_watchdog.reason]
            add_live_routes(web_app)
            await start_web(web_app, settings.web_host, settings.web_port)
            write_hub_file(settings, url)
            _release(log)
            if on_ready:
                on_ready(url)

        @app.task
        async def live_gauges() -> None:
            try:
                wh = (await opening.wait()).wh
            except Exception:
                return
            await refresh_gauges_forever(settings, wh.open_reader("gauges"))

    else:

        @app.task
        async def started() -> None:
            _release(log)

    worker = faust_worker(app, log)
    marks.mark(startup.IMPORTS)
    try:
        run_until_stopped(worker, early.abandon if early is not None else None)
    finally:
        _close_idle_thread_loop(app)
        hub_file(settings).unlink(missing_ok=True)


def faust_worker(app: Any, log: LogStream | None = None) -> Any:
    """faust's worker for ``app``, logging warnings and errors to ``log`` (default standard error),
    without faust's terminal spinner. The spinner advances once per log record of any level, so
    faust sets the root logger to DEBUG for it, for the life of the process (it writes its control
    codes to a log file too): every library's debug call then builds a record and walks the stack
    for its caller, only for the handlers to drop it (aiokafka logs several per fetch; an idle
    worker's event loop used a sixth to a third less CPU without it,
    bench/manual/worker-cycle-timeline.md)."""
    import faust

    worker = faust.Worker(
        app,
        loglevel="WARNING",
        quiet=True,
        redirect_stdouts=False,
        logging_config=None if log is None else _log_config(log),
    )
    worker.spinner = None
    return worker


def _log_config(stream: LogStream) -> dict[str, Any]:
    """Logging to ``stream`` (mode's own set-up ignores a stream given as ``logfile`` and writes to
    standard error)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"}},
        "handlers": {"held": {"class": "logging.StreamHandler", "formatter": "plain", "stream": stream}},
        "root": {"level": "WARNING", "handlers": ["held"]},
    }


def _close_idle_thread_loop(app: Any) -> None:
    """faust's consumer thread has an event loop of its own; after a failed start that loop never ran
    and would be left to the garbage collector at exit (which prints "Exception ignored ...")."""
    thread = getattr(getattr(app, "_consumer", None), "_thread", None)
    loop = getattr(thread, "thread_loop", None)
    if loop is not None and not loop.is_running() and not loop.is_closed():
        loop.close()


def _release(log: LogStream | None) -> None:
    release = getattr(log, "release", None)
    if release is not None:
        release()


def run_until_stopped(worker: Any, before_stop: Callable[[], Awaitable[None]] | None = None) -> None:
    """mode's ``Worker.execute_from_commandline`` without its ``exiting`` wrapper: run until a signal
    stops the worker; re-raise a start-up failure or the crash reason instead of turning them into
    ``SystemExit`` (which the caller could not tell from a clean stop). ``before_stop`` runs on the
    worker's loop before the worker stops (and closes the loop)."""
    from mode.utils.futures import maybe_cancel

    worker._starting_fut = None
    try:
        worker._starting_fut = asyncio.ensure_future(worker.start(), loop=worker.loop)
        worker.loop.run_until_complete(worker._starting_fut)
    except asyncio.CancelledError:
        pass
    finally:
        maybe_cancel(worker._starting_fut)
        worker.on_worker_shutdown()
        if before_stop is not None:
            with contextlib.suppress(Exception):
                worker.loop.run_until_complete(before_stop())
        worker.stop_and_shutdown()  # raises the crash reason, if the app crashed


# -- file replay -----------------------------------------------------------------------------------
@dataclass
class ReplayTotals:
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    quarantined: int = 0

    def add(self, report: BatchReport) -> None:
        self.lines += report.consumed
        self.accepted += report.accepted
        self.duplicates += report.duplicates
        self.dead_letters += len(report.dead_letters)
        self.quarantined += report.quarantine_change  # left out at the end, not held for a while

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def file_messages(path: Path, chunk: int) -> Iterator[list[RawMessage]]:
    """The lines of a JSONL file as batches of messages (offset = line number)."""
    from schemas.topics import topic_for_type
    from streams.pipeline import RawMessage

    batch: list[RawMessage] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            topic = ""
            head = line[:400]
            marker = head.find(b'"type"')
            if marker >= 0:
                try:
                    etype = head[marker:].split(b'"')[3].decode()
                    topic = topic_for_type(etype).name
                except (IndexError, KeyError, UnicodeDecodeError):
                    topic = ""
            batch.append(RawMessage(topic, 0, number, line))
            if len(batch) >= chunk:
                yield batch
                batch = []
    if batch:
        yield batch


def replay(
    pipeline: Pipeline, batches: Iterable[list[RawMessage]], progress: Callable[[int], None] | None = None
) -> ReplayTotals:
    """Put batches through the same pipeline as the worker; returns the totals."""
    from streams import heap

    totals = ReplayTotals()
    heap.settle_after_startup()
    for batch in batches:
        totals.add(pipeline.process(batch))
        heap.settle()
        if progress:
            progress(len(batch))
    if pipeline.lazy_rollups:
        pipeline.refresh_rollups()  # once per file, in runs of months
    return totals


SHARDS_PER_WORKER = 4
"""Shards of a file per worker process: this process writes each shard as it comes while the workers
fold the next ones."""


def default_replay_workers() -> int:
    """Processes a file replay decodes and folds in by default: one per core, at most four (the
    warehouse's inserts, in this process, take the rest)."""
    return max(1, min(4, os.cpu_count() or 1))


def start_replay_workers(settings: Settings, workers: int) -> ShardPool | None:
    """The worker processes of a file replay (None for one: it folds in this process). Call it
    before the warehouse is opened: they are spawned, never forked, and start while it opens."""
    if workers <= 1:
        return None
    from streams.replay_shards import ShardPool

    return ShardPool(workers, settings, pseudonymisation_key(settings))


class _Inserters:
    """A few threads, each inserting on a writer handle of its own (one statement at a time per
    handle): chDB runs the statements of several handles at once, outside Python's lock."""

    THREADS = 3

    def __init__(self, dsn: str) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.dsn = dsn
        self._local = threading.local()
        self._handles: list[Warehouse] = []
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(self.THREADS, thread_name_prefix="replay-insert")

    def _handle(self) -> Warehouse:
        found: Warehouse | None = getattr(self._local, "wh", None)
        if found is None:
            found = self._local.wh = connect(self.dsn)
            with self._lock:
                self._handles.append(found)
        return found

    def _insert(self, table: str, columns: Sequence[str], block: bytes) -> None:
        from sinks.clickhouse import replay_sql

        replay_sql.insert_block(self._handle(), table, columns, block)

    def insert(self, table: str, columns: Sequence[str], block: bytes) -> Future[None]:
        """Insert a block encoded by :class:`sinks.clickhouse.replay_sql.BlockEncoder`."""
        return self._threads.submit(self._insert, table, columns, block)

    def run(self, statements: Callable[[Warehouse], None]) -> Future[None]:
        """Run ``statements`` on one of the threads' handles (after what was submitted before)."""
        return self._threads.submit(lambda: statements(self._handle()))

    def __enter__(self) -> _Inserters:
        return self

    def __exit__(self, *exc: object) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        for handle in self._handles:
            handle.close()


FLUSH_BYTES = 512 * 2**20
"""Encoded rows a file replay holds before it writes them (one insert per table for all it holds):
every insert writes a part in each month it covers, and parts written apart are merged again by the
engine (in the background, by :func:`sinks.clickhouse.compact.compact`, and by every ``FINAL`` read
of the rollup rebuild), so the fewer inserts the less the engine does."""


class _Held:
    """Folded shards' encoded rows not yet written, per table, with what their writing needs."""

    def __init__(self) -> None:
        self.blocks: dict[str, tuple[list[str], list[bytes]]] = {}
        self.ledger: tuple[list[str], list[bytes]] | None = None
        self.withdrawals: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = []
        self.buckets: list[list[Any]] = []
        self.lines = 0
        self.size = 0

    def add(self, part: ShardRows, buckets: list[list[Any]]) -> None:
        for table, (columns, block) in part.blocks.items():
            found = self.blocks.setdefault(table, (columns, []))
            if found[0] != columns:
                raise ValueError(f"encoded rows of {table} with different columns")
            found[1].append(block)
            self.size += len(block)
        part.blocks.clear()
        self.withdrawals.extend((t, old, part.current.get(t, [])) for t, old in part.previous.items())
        self.buckets.extend(buckets)
        self.lines += part.consumed

    def write(
        self,
        pipeline: Pipeline,
        inserters: _Inserters,
        sole_writer: bool,
    ) -> Future[None] | None:
        """As one write cycle writes: the facts and rejected events (each table in one statement, the
        tables at once), the rows no longer produced withdrawn, the buckets logged again unless this
        process is the only writer, and last the ledger: returns its insert, under way."""
        from sinks.clickhouse.rollups import log_dirty

        ledger = self.blocks.pop("events", None)
        wait_all(
            [inserters.insert(t, columns, b"".join(blocks)) for t, (columns, blocks) in self.blocks.items()]
        )
        self.blocks.clear()
        wh = pipeline.warehouse
        with wh.exclusive():
            for table, old, current in self.withdrawals:
                pipeline._withdraw(table, old, current)
            if not sole_writer:
                log_dirty(wh, self.buckets)
        return inserters.insert("events", ledger[0], b"".join(ledger[1])) if ledger is not None else None


SEGMENT_BYTES = 512 * 2**20
"""A file replay holds the lines of at most about this many bytes of its file at once (in memory
about 1.6 times as many; into a new warehouse, where each worker process reads the file itself, up
to that in each worker): a larger file is read once per segment of its subjects (see
:func:`streams.replay_shards.shard_lines`)."""


def replay_segments(path: Path, segment_bytes: int = SEGMENT_BYTES) -> int:
    """How many segments a file replay reads ``path`` in."""
    return max(1, -(-path.stat().st_size // max(1, segment_bytes)))


def read_shards(
    path: Path, pool: ShardPool | None, segment: int = 0, segment_bytes: int = SEGMENT_BYTES
) -> list[list[Line]]:
    """The lines of ``segment`` of a file in the shards :func:`replay_file` folds with ``pool``."""
    from streams.replay_shards import shard_lines

    per = pool.workers * SHARDS_PER_WORKER if pool is not None else 1
    return shard_lines(path, per, segment, replay_segments(path, segment_bytes))[0]


def file_segment(
    path: Path, pool: ShardPool, segment: int = 0, segment_bytes: int = SEGMENT_BYTES
) -> FileSegment:
    """``segment`` of a file as :func:`replay_file` has ``pool``'s workers read it themselves (into a
    warehouse that holds no event yet: no subject's history is needed, so this process need not
    know the subjects)."""
    from streams.replay_shards import FileSegment

    per = pool.workers * SHARDS_PER_WORKER
    return FileSegment.of(path, per, segment, replay_segments(path, segment_bytes))


def replay_file(
    pipeline: Pipeline,
    path: Path,
    pool: ShardPool | None = None,
    progress: Callable[[int], None] | None = None,
    lines: list[list[Line]] | None = None,
    flush_bytes: int = FLUSH_BYTES,
    segment_bytes: int = SEGMENT_BYTES,
) -> ReplayTotals:
    """Put a whole JSONL file through the pipeline, each subject folded once (see
    :mod:`streams.replay_shards`): the result equals the worker's, or :func:`replay`'s, for the same
    lines. The file's lines are read into :data:`SHARDS_PER_WORKER` shards per worker process (one in
    all without ``pool``); each shard is decoded and folded (in the pool), with the ledger's history
    of the subjects it already holds (none is read on a fresh warehouse), and its rows encoded for
    insertion there. As each shard comes back the rollup buckets it touches are logged (only of
    rollups a reader may use: see :func:`sinks.clickhouse.rollups.needless_logs`) and its
    encoded rows held; once ``flush_bytes`` are held, and at the end, they are written as one write
    cycle is and in its order, each table in one statement: the facts (rows no longer produced
    withdrawn), the buckets logged again, the rejected events and, last, the ledger (a shard holds
    every line of its subjects). Lines
    whose event names another subject than their line seemed to go through :meth:`Pipeline.process`
    after that. Last, every month holding a logged bucket is recomputed whole, and a rollup not yet
    adopted in every month its facts hold (:func:`sinks.clickhouse.rollups.rebuild_logged_months`).
    Interrupted, it is run again: events already in the ledger are recognised as duplicates, the
    logged buckets are still refreshed and the rollups not adopted yet are adopted whole.
    A file of more than ``segment_bytes`` is read and folded in segments of its subjects, one after
    the other (:func:`replay_segments`), so its lines are never all held at once.
    ``lines``: the file's first segment as :func:`read_shards` read it for ``pool``, if it was read
    already (the list is emptied). Without it, into a warehouse that holds no event yet, each worker
    process reads the segment itself (:func:`file_segment`; ``pool.preload`` may have begun it), so
    this process neither reads the lines nor sends them."""
    from sinks.clickhouse import replay_sql
    from sinks.clickhouse.rollups import log_dirty, needless_logs, rebuild_logged_months
    from streams import heap
    from streams.replay_shards import HistoryRow, ShardSource, file_shards, fold_all, peek_subject, shard_of

    heap.settle_after_startup()
    wh = pipeline.warehouse
    segments = replay_segments(path, segment_bytes)
    fresh = replay_sql.ledger_is_empty(wh)
    encoder = replay_sql.block_encoder(
        wh, {t for fold in pipeline.folds.values() for t in fold.tables} | {"rejected_events", "events"}
    )
    if pool is not None:
        pool.wait_started()
    totals = ReplayTotals()
    strays: list[RawMessage] = []
    # Embedded, this process is the warehouse's only one and holds the writer lock: no refresh can run
    # between a bucket's first log and the last facts written in it (the refresh is at the end), so
    # a bucket is logged once, before the first facts in it, and not again after them.
    sole_writer = is_embedded(wh.dsn)
    logged: set[tuple[str, str, datetime]] = set()
    # A rollup no reader uses yet (as in a new warehouse) is recomputed whole by the refresh at the
    # end, or by the first refresher after an interruption: its buckets are not logged at all.
    unlogged = needless_logs(wh, pipeline.rollups) if sole_writer else set()
    logging_any = any(r.table not in unlogged for r in pipeline.rollups)
    with _Inserters(wh.dsn) as inserters:
        held = _Held()
        for segment in range(segments):
            shards: Sequence[ShardSource]
            histories: dict[int, list[HistoryRow]] = defaultdict(list)
            if fresh and pool is not None and (segment or lines is None):
                shards = file_shards(file_segment(path, pool, segment, segment_bytes))
            else:
                if not segment and lines is not None:
                    read = lines[:]
                    lines.clear()  # the caller's list lets go of the lines: they go once folded
                else:
                    read = read_shards(path, pool, segment, segment_bytes)
                if not fresh:
                    count = len(read)
                    subjects = {peek_subject(line) for shard in read for _, line in shard}
                    for row in replay_sql.ledger_events_of(wh, sorted(subjects - {""})):
                        index = shard_of(row[1], count * segments) - segment * count
                        if 0 <= index < count:
                            histories[index].append(row)
                shards, read = read, []
            for part in fold_all(
                shards, histories, pipeline, pool, encoder, segment, segments, buckets=logging_any
            ):
                totals.lines += part.consumed
                totals.accepted += part.accepted
                totals.duplicates += part.duplicates
                totals.dead_letters += part.dead_letters
                totals.quarantined += part.quarantine_change
                strays.extend(part.strays)
                buckets = [list(d) for d in sorted(set(part.dirty) - logged) if d[0] not in unlogged]
                if buckets:
                    with wh.exclusive():
                        log_dirty(wh, buckets)
                if sole_writer:
                    logged.update(part.dirty)
                held.add(part, buckets)
                if held.size >= flush_bytes:
                    _written(held.write(pipeline, inserters, sole_writer), held.lines, progress)
                    held = _Held()
            del shards, histories
        ledger, last = held.write(pipeline, inserters, sole_writer), held.lines
        del held
        if strays:
            # Their subjects' histories are read from the ledger: once it is in.
            _written(ledger, last, progress)
            ledger, last = None, 0
            totals.add(pipeline.process(strays))
            if progress:
                progress(len(strays))
        # The rollups read only the facts, all in by now: they are rebuilt while the last ledger
        # insert runs (interrupted before it ends, a replay run again folds and logs it all again),
        # their month ranges at once on the inserters' other handles.
        with wh.exclusive():
            rebuild_logged_months(
                wh, pipeline.rollups, pipeline.settings.definitions, sole_writer, inserters.run
            )
        _written(ledger, last, progress)
    return totals


def _written(ledger: Future[None] | None, lines: int, progress: Callable[[int], None] | None) -> None:
    """Until a ledger insert is done (its failure raised); then ``lines`` more are saved."""
    if ledger is not None:
        ledger.result()
    if progress and lines:
        progress(lines)


def print_tokens(settings: Settings) -> dict[str, str]:
    return embedded_tokens(settings)


# -- rebuild from the ledger ------------------------------------------------------------------------
@dataclass
class RebuildTotals:
    subjects: int = 0
    events: int = 0
    rows: int = 0
    quarantined: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def ledger_subjects(wh: Warehouse) -> list[tuple[str, str, int]]:
    """(force, entity, subjects) held in the ``events`` ledger."""
    rows = admin_sql.ledger_subject_counts(wh)
    return [(str(f), str(e), int(n)) for f, e, n in rows]


def _subject_pages(wh: Warehouse, force_id: str, entity: str, size: int) -> Iterator[list[str]]:
    after = ""
    while True:
        page = admin_sql.ledger_subject_page(wh, force_id, entity, after, size)
        if not page:
            return
        yield page
        after = page[-1]


def rebuild(
    pipeline: Pipeline, progress: Callable[[int], None] | None = None, chunk: int = 2000
) -> RebuildTotals:
    """Re-fold every subject of the ``events`` ledger into the facts, from scratch.

    Used after a migration that changes fact columns (facts written before it lack the new raw
    columns) or to prove the facts are a recompute of the ledger. The fact tables of every fold and
    the rollups are emptied first; then each subject's whole history is read from the ledger and
    folded by the same folds as ``replay`` and the worker (``version`` = events folded, as they
    write it), its rows written with their rollup buckets logged, and the rollups are refreshed
    once at the end. The ledger, dead letters and quarantine records are left as they are. Not for
    a warehouse a worker is writing to: the command holds the data directory. Interrupted, it is
    run again from the start."""
    from sinks.clickhouse.rollups import dirty_rows, log_dirty
    from streams.domain.base import dedupe_sorted
    from streams.pipeline import BatchReport

    wh = pipeline.warehouse
    held = admin_sql.rollup_lease_holder(wh)
    if held is not None:
        raise BusyError(
            f"a worker is writing to this warehouse (it holds the rollup lease: {held}); "
            "stop the workers, then run demandhub rebuild"
        )
    present = admin_sql.present_tables(wh)
    facts = sorted({t for fold in pipeline.folds.values() for t in fold.tables} & present)
    rollup_tables = sorted({r.table for r in pipeline.rollups} & present)
    with wh.exclusive():
        admin_sql.empty_for_rebuild(wh, (*facts, *rollup_tables))
    totals = RebuildTotals()
    for force_id, entity, _count in ledger_subjects(wh):
        if entity not in pipeline.folds:
            continue
        for page in _subject_pages(wh, force_id, entity, chunk):
            keys = {(force_id, entity, subject) for subject in page}
            histories = pipeline._load_histories(keys)
            report = BatchReport()
            new_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for key in sorted(keys):
                merged = dedupe_sorted(histories[key])
                if merged:
                    pipeline._fold_subject(key, [], merged, defaultdict(list), new_rows, report)
                    totals.events += len(merged)
            with wh.exclusive():
                log_dirty(wh, dirty_rows(pipeline.refreshers, {}, new_rows))
                for table, rows in new_rows.items():
                    history_sql.insert_facts(wh, table, rows)
                    totals.rows += len(rows)
            totals.subjects += len(page)
            totals.quarantined += len(report.quarantined)
            if progress:
                progress(len(page))
    pipeline.refresh_rollups()
    return totals
