"""The faust application and the worker's hot path.

faust runs the worker: service start and stop, timers and tasks (rollup refresh, heap settling,
consumer lag), the producer of dead letters. The records themselves do not go through faust's
per-event dispatch: measured on this machine, a do-nothing faust worker shaped like the former one
(five agents, ``noack_take``, one ``ack`` per event) cost about 130 us of CPU per event and reached
0.009 of a bare aiokafka ``getmany`` loop after its first record (0.087 from launch), before any
processing (BENCHMARKS.md, "What changed"). So, for ``processing_guarantee=at_least_once`` (the
default), one faust task runs one aiokafka consumer (the library faust's own consumer is built on)
over the six input topics, in consumer group ``app_id``:

1. ``getmany`` takes up to ``batch_max_events`` of the records the consumer has prefetched, as soon
   as there are any (it waits up to ``batch_max_seconds`` only while there are none; records
   that arrive during a write cycle are prefetched and make the next fetch);
2. the fetch is one write cycle: :class:`~streams.pipeline.Pipeline` ``prepare`` (decode, fold) then
   ``write`` (one insert per table for every topic of the fetch, the fact tables at once on the
   writer handle and its sibling writer handles), each in a worker thread. While a fetch is written,
   the next fetch the consumer has ready is prepared on another thread (chDB releases the GIL while
   it runs a statement), at most one write in flight; a failed write is
   retried as a whole cycle (``process``) with capped exponential back-off until durable, after the
   histories held in process are dropped; :class:`BatchRunner` never skips a batch;
3. dead letters are produced to the domain's ``.dlq`` topic and confirmed by the broker;
4. only then are the fetch's offsets committed (a fetch prepared behind it is committed after its own
   write). A cycle and a rebalance never interleave: a revoked partition is handed over only after
   the cycles in progress committed (the rebalance listener waits for them, and no further fetch is
   prepared meanwhile), and records fetched for a partition no longer held are left to its new owner.

Start-up overlaps (:mod:`streams.startup`): the worker begins the hot path consumer's topic
declaration and group join before faust is imported (:class:`streams.hot_consumer.EarlyJoin`, on the
loop faust then runs on) and the hot path takes the joined consumer when faust starts it; the app is
built before the warehouse is open and is handed an :class:`~streams.startup.Opening` of the
:class:`Opened` parts, so the join and first fetch run while the warehouse opens and migrates on a
thread; the first write cycle waits for it, and a failed opening stops the worker (the hot path's
consumer leaves its group on the way out). While the warehouse is opening the stall watchdog counts
no stall. Without an early join (tests) the hot path declares the topics through faust and joins
itself.

With ``processing_guarantee=exactly_once`` the former agents run instead (one per topic, with
``Stream.noack_take``; faust's ``take()`` acknowledges its buffer in a ``finally:`` block even when
the consumer raised, which would lose a batch whose insert failed), so dead letters and offsets are
committed in faust's Kafka transactions.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from faust.types import EventT

from schemas.events import entity_of
from schemas.topics import DLQ_PARTITIONS, DLQ_TOPICS, TOPICS, Topic
from sinks.clickhouse import admin_sql
from sinks.clickhouse.client import is_embedded
from sinks.clickhouse.errors import data_location, is_out_of_space
from sinks.clickhouse.rollups import Refresher
from sinks.prometheus import metrics as m
from streams import heap, startup
from streams.config import WorkerConfig
from streams.hot_consumer import GROUP, EarlyJoin, HandOver, consumer_options, input_topics
from streams.pipeline import BatchReport, Pipeline, Prepared, RawMessage
from streams.startup import Opening, StartupMarks
from streams.watchdog import ProgressWatchdog

log = logging.getLogger(__name__)


def _topic_name(event_type: str) -> str:
    spec = TOPICS.get(entity_of(event_type))
    return spec.name if spec else ""


BatchObserver = Callable[[BatchReport], None]


def raw_message(event: EventT) -> RawMessage:
    """The pipeline's view of a faust event (bytes and where they came from)."""
    msg = event.message
    value = msg.value if isinstance(msg.value, bytes) else bytes(msg.value or b"")
    key = msg.key if isinstance(msg.key, bytes) or msg.key is None else bytes(msg.key)
    return RawMessage(msg.topic, msg.partition, msg.offset, value, key, int(msg.timestamp * 1000))


@dataclass(frozen=True)
class Opened:
    """What the write cycles need once the warehouse is open: the pipeline writing to it and the
    worker's rollup refresher (None: no refresh task)."""

    pipeline: Pipeline
    refresher: Refresher | None


class BatchRunner:
    """Runs one batch through the pipeline until it is durable; never lets a batch be skipped.

    Given an :class:`~streams.startup.Opening` instead of a pipeline, the first batch waits for it."""

    def __init__(
        self,
        pipeline: Pipeline | Opening[Opened],
        settings: WorkerConfig,
        observers: Sequence[BatchObserver] = (),
    ) -> None:
        self.opening: Opening[Opened] | None = pipeline if isinstance(pipeline, Opening) else None
        self._pipeline: Pipeline | None = None if isinstance(pipeline, Opening) else pipeline
        self.settings = settings
        self.observers = list(observers)

    @property
    def waiting_for_warehouse(self) -> bool:
        """True until the pipeline is there (the warehouse is still opening)."""
        return self._pipeline is None

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline, once the warehouse is open (:meth:`ready`)."""
        if self._pipeline is None:
            raise RuntimeError("the warehouse is still opening: await ready() first")
        return self._pipeline

    async def ready(self) -> None:
        """Wait until the warehouse is open (raises what its opening raised)."""
        if self._pipeline is None and self.opening is not None:
            self._pipeline = (await self.opening.wait()).pipeline

    async def run(
        self, topic: str | Sequence[str], raws: list[RawMessage], stalled: Sequence[str] = ()
    ) -> BatchReport:
        """Process ``raws`` (of ``topic``, or of several topics); on failure back off and retry the
        same batch (never raises, except cancellation). Dead letters are not produced here (see
        :func:`build_app`). While it backs off, the failure metrics name every topic in ``stalled``
        too (the hot path's one consumer holds all its partitions while a write cycle retries). The
        first batch waits for the warehouse to open (:meth:`ready`; raises if that failed)."""
        await self.ready()
        topics = [topic] if isinstance(topic, str) else sorted(set(topic))
        delay = 0.5
        while True:
            started = time.perf_counter()
            try:
                report = await asyncio.to_thread(self.pipeline.process, raws)
            except Exception as exc:  # transient by contract: validation never raises
                self.failed(topics, raws, exc, delay, stalled)
                self.pipeline.forget()  # history may be half-written: reload it
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.sink_retry_max_seconds)
                continue
            self.written(topics, raws, report, time.perf_counter() - started, stalled)
            return report

    def failed(
        self,
        topics: Sequence[str],
        raws: list[RawMessage],
        exc: Exception,
        delay: float,
        stalled: Sequence[str] = (),
    ) -> None:
        """Account a failed write of a batch of ``topics``, retried in ``delay`` seconds: the failure
        metrics of every topic held up, and one log line (a full disk named as such)."""
        topics = sorted(set(topics))
        where = ", ".join(topics)
        full = is_out_of_space(exc)
        for name in sorted({*topics, *stalled}):
            m.SINK_FAILURES.labels(name).inc()
            m.SINK_BACKING_OFF.labels(name).set(1)
            m.SINK_OUT_OF_SPACE.labels(name).set(1 if full else 0)
        if full:
            log.error(
                "batch of %d from %s not written: the warehouse is out of disk space in %s. "
                "Free space on that volume (or move the data directory to a larger one); "
                "the batch is held, nothing is lost, retrying in %.1fs",
                len(raws),
                where,
                data_location(self.settings.resolved_dsn),
                delay,
            )
        else:
            log.warning(
                "batch of %d from %s failed (%s); retrying in %.1fs",
                len(raws),
                where,
                type(exc).__name__,
                delay,
            )

    def written(
        self,
        topics: Sequence[str],
        raws: list[RawMessage],
        report: BatchReport,
        seconds: float,
        stalled: Sequence[str] = (),
    ) -> None:
        """Account a durable batch of ``topics`` written in ``seconds`` (metrics and observers)."""
        topics = sorted(set(topics))
        for name in sorted({*topics, *stalled}):
            m.SINK_BACKING_OFF.labels(name).set(0)
            m.SINK_OUT_OF_SPACE.labels(name).set(0)
        for name in topics:
            m.SINK_WRITE_SECONDS.labels(name).observe(seconds)
        self._account(topics, raws, report)

    def _account(self, topics: Sequence[str], raws: list[RawMessage], report: BatchReport) -> None:
        consumed: dict[str, int] = {}
        for raw in raws:
            consumed[raw.topic] = consumed.get(raw.topic, 0) + 1
        single = topics[0] if len(topics) == 1 else None
        for name in topics:
            m.EVENTS_CONSUMED.labels(name).inc(consumed.get(name, 0) if single is None else report.consumed)
            accepted = report.accepted if single else report.accepted_by_topic.get(name, 0)
            duplicates = report.duplicates if single else report.duplicates_by_topic.get(name, 0)
            m.EVENTS_ACCEPTED.labels(name).inc(accepted)
            m.EVENTS_DUPLICATE.labels(name).inc(duplicates)
            m.SINK_BATCHES.labels(name).inc()
        for event, _ in report.quarantined:
            m.EVENTS_QUARANTINED.labels(single or _topic_name(event.type)).inc()
        for dl in report.dead_letters:
            m.EVENTS_INVALID.labels(single or dl.message.topic, dl.reason_class).inc()
        for table, n in report.rows_written.items():
            m.SINK_ROWS.labels(table).inc(n)
        now_ms = time.time() * 1000
        m.observe_by_labels(
            m.END_TO_END_SECONDS,
            (
                ((single or raw.topic,), max(0.0, (now_ms - raw.timestamp_ms) / 1000))
                for raw in raws
                if raw.timestamp_ms
            ),
        )
        for observe in self.observers:
            try:
                observe(report)
            except Exception:  # metrics must never stop the pipeline
                log.exception("metrics observer failed")


def build_app(
    settings: WorkerConfig,
    opened: Opened | Opening[Opened],
    broker: str,
    observers: Sequence[BatchObserver] = (),
    app_id: str = GROUP,
    marks: StartupMarks | None = None,
    early: EarlyJoin | None = None,
) -> faust.App:
    """The worker's faust app, wired to the pipeline of ``opened`` (or of the opening, awaited
    before the first write cycle): the hot path over every input topic (or, for ``exactly_once``,
    one agent per topic; see the module docstring), the consumer-lag timer, heap settling and, with a
    refresher, a task that refreshes the rollup buckets the batches logged (at most every
    ``settings.rollup_refresh_seconds``). A task waits for the opening and stops the worker with its
    exception if it failed. ``early``: the hot path consumer's group join, begun before faust ran
    (in group ``app_id``; the hot path takes that consumer instead of joining itself); not for
    ``exactly_once``."""
    app = faust.App(
        app_id,
        broker=f"kafka://{broker}",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=True,
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=1.0,
        consumer_auto_offset_reset="earliest",
        processing_guarantee=settings.processing_guarantee,
        stream_wait_empty=False,
        broker_commit_interval=1.0,
        datadir=str(settings.data_dir / "faust"),  # not ./<app id>-data in the working directory
    )
    opening = opened if isinstance(opened, Opening) else Opening.of(opened)
    marks = marks or StartupMarks()
    runner = BatchRunner(opening, settings, observers)
    dlq_topics = {
        name: app.topic(name, partitions=DLQ_PARTITIONS, key_type=bytes, value_type=bytes)
        for name in DLQ_TOPICS
    }
    watchdog = ProgressWatchdog(settings.consumer_stall_seconds)
    app.conf.demandhub_watchdog = watchdog
    if early is not None and (settings.processing_guarantee == "exactly_once" or early.group != app_id):
        raise ValueError("an early join is for the hot path (at_least_once) of its own group")
    if settings.processing_guarantee == "exactly_once":
        for spec in TOPICS.values():
            _add_agent(app, spec, settings, runner, dlq_topics)
        _add_lag_timer(app, lambda: app.consumer, watchdog, opening_of=lambda: runner.waiting_for_warehouse)
    else:
        app.boot_strategy.enable_kafka_consumer = False  # the hot path's consumer joins the group
        hot = HotPath(app, broker, app_id, settings, runner, dlq_topics, marks, early)
        app.task(hot.run)
        _add_lag_timer(
            app, lambda: hot.consumer, watchdog, lambda: hot.cycles, lambda: runner.waiting_for_warehouse
        )
        app.conf.demandhub_hot_path = hot
    _add_opening(app, opening, runner, marks)
    _add_heap_settling(app, opening)
    _add_rollup_refresh(
        app,
        opening,
        settings.rollup_refresh_seconds,
        postpone=Postponement(settings.rollup_refresh_backlog_seconds, settings.batch_max_events),
        waiting=lambda: watchdog.lag,
    )
    app.conf.demandhub_runner = runner
    app.conf.demandhub_startup = marks
    return app


def _add_opening(app: faust.App, opening: Opening[Opened], runner: BatchRunner, marks: StartupMarks) -> None:
    """Mark faust started; wait for the warehouse and stop the worker if its opening failed (even
    with no record to write)."""

    @app.task
    async def warehouse_opening() -> None:
        marks.mark(startup.FAUST_STARTED)
        await runner.ready()


async def send_dead_letters(report: BatchReport, dlq_topics: dict[str, Any]) -> None:
    """Produce the batch's dead letters and wait until the broker confirmed each."""
    for dl in report.dead_letters:
        fut = await dlq_topics[dl.dlq_topic].send(key=dl.key, value=dl.payload, headers=dl.headers())
        await fut
        m.DLQ_PRODUCED.labels(dl.dlq_topic).inc()


def raw_record(record: ConsumerRecord[bytes, bytes]) -> RawMessage:
    """The pipeline's view of an aiokafka record."""
    return RawMessage(
        record.topic,
        record.partition,
        record.offset,
        record.value or b"",
        record.key,
        record.timestamp if record.timestamp and record.timestamp > 0 else None,
    )


class HotPath:
    """One aiokafka consumer over every input topic, one write cycle per fetch (module docstring)."""

    def __init__(
        self,
        app: faust.App,
        broker: str,
        group: str,
        settings: WorkerConfig,
        runner: BatchRunner,
        dlq_topics: dict[str, Any],
        marks: StartupMarks | None = None,
        early: EarlyJoin | None = None,
    ) -> None:
        self.marks = marks or StartupMarks()
        self.early = early
        self.app = app
        self.broker = broker
        self.group = group
        self.settings = settings
        self.runner = runner
        self.dlq_topics = dlq_topics
        self.consumer: AIOKafkaConsumer | None = None
        self.cycles = 0

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **consumer_options(self.broker, self.group, self.settings.broker_session_timeout)
        )

    async def _join(self) -> tuple[AIOKafkaConsumer, HandOver]:
        """Declare the topics through faust, then subscribe and join the group here (a worker
        without an :class:`~streams.hot_consumer.EarlyJoin`)."""
        declared = [self.app.topic(spec.name, partitions=spec.partitions) for spec in TOPICS.values()]
        await asyncio.gather(*(t.maybe_declare() for t in (*declared, *self.dlq_topics.values())))
        self.marks.mark(startup.TOPICS_DECLARED)
        handover = HandOver(asyncio.Lock())
        consumer = self._consumer()
        consumer.subscribe(input_topics(), listener=handover)
        try:
            await consumer.start()  # returns once the group assigned the partitions
        except BaseException:
            await consumer.stop()
            raise
        return consumer, handover

    async def run(self) -> None:
        """Fetch, write, confirm dead letters, commit; until the app stops. The consumer joined its
        group early (``early``, begun before faust was imported) or joins now, and fetches while
        the warehouse may still be opening: the first write cycle waits for it (outside the cycle
        lock, so a rebalance meanwhile is not held up; records of partitions it took away are left
        to their new owner)."""
        if self.early is not None:
            joined = await self.early.take()
            consumer, handover = joined.consumer, joined.handover
        else:
            consumer, handover = await self._join()
        cycle = handover.cycle
        self.consumer = consumer
        self.marks.mark(startup.CONSUMER_ASSIGNED)
        wait_ms = int(self.settings.batch_max_seconds * 1000)
        try:
            while True:
                fetched = await consumer.getmany(
                    timeout_ms=wait_ms, max_records=self.settings.batch_max_events
                )
                if not fetched:
                    continue
                self.marks.mark(startup.FIRST_FETCH)
                await self.runner.ready()  # at once once the warehouse is open
                async with cycle:
                    if isinstance(self.runner, BatchRunner):
                        await self._cycles(consumer, fetched, handover)
                    else:  # a runner of batches alone (no pipeline to prepare with): one by one
                        await self._cycle(consumer, fetched)
        finally:
            self.consumer = None
            await consumer.stop()

    @staticmethod
    def _held(consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[Any]]) -> _Fetch:
        """The records of partitions still held (records fetched before a rebalance took their
        partition are left to its new owner)."""
        held = consumer.assignment()
        records = {tp: rs for tp, rs in fetched.items() if rs and tp in held}
        return _Fetch(
            records, [raw_record(r) for rs in records.values() for r in rs], sorted(t.topic for t in held)
        )

    async def _cycle(self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[Any]]) -> None:
        """One fetch as one write cycle, nothing overlapped: write (retried until durable), dead
        letters, commit."""
        fetch = self._held(consumer, fetched)
        if fetch.records:
            await self._settle(consumer, fetch, await self.runner.run(fetch.topics, fetch.raws, fetch.held))

    async def _cycles(
        self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[Any]], handover: HandOver
    ) -> None:
        """Write ``fetched`` and the fetches the consumer has ready after it, each fetch prepared
        (decoded and folded, :meth:`Pipeline.prepare`) on a thread while the one before is written
        on another, so the warehouse's work overlaps the next fetch's Python work. At most one write
        is in flight, and a fetch's offsets are committed only once its write is durable and its dead
        letters confirmed (:meth:`_settle`). The next fetch's write begins as soon as the one before
        is durable, and that one's dead letters and commit (a round trip to the broker each) run
        while it is written, so they add nothing to an event's way to the ledger; fetches are still
        settled in order, each before the next write is awaited. Stops when no fetch is ready or a
        rebalance waits, after the last write is settled.

        A failed write or preparation drops every history held in process (written or prepared
        after it, histories may be half there) and falls back to the plain cycle (:meth:`_cycle`,
        retried with back-off): the failed fetch first, then the one prepared behind it."""
        pipeline = self.runner.pipeline
        pipeline.read_history_apart()
        writing: tuple[_Fetch, asyncio.Future[tuple[BatchReport, float]]] | None = None
        while True:
            fetch = self._held(consumer, fetched)
            prepared: Prepared | None = None
            preparing = 0.0
            failed = False
            if fetch.records:
                try:
                    started = time.perf_counter()
                    prepared = await asyncio.to_thread(pipeline.prepare, fetch.raws)
                    preparing = time.perf_counter() - started
                except Exception as exc:  # e.g. the ledger read failed: the plain cycle retries it
                    log.warning(
                        "batch of %d not prepared (%s); retrying", len(fetch.raws), type(exc).__name__
                    )
                    failed = True
            settle: tuple[_Fetch, BatchReport] | None = None
            if writing is not None:
                settle = await self._written(consumer, *writing)
                failed = failed or settle is None
                writing = None
            if failed:
                if settle is not None:
                    await self._settle(consumer, *settle)
                pipeline.forget()
                if fetch.records:
                    await self._settle(
                        consumer, fetch, await self.runner.run(fetch.topics, fetch.raws, fetch.held)
                    )
                return
            if prepared is not None:
                writing = (
                    fetch,
                    asyncio.ensure_future(asyncio.to_thread(self._write, pipeline, prepared, preparing)),
                )
            if settle is not None:
                try:
                    await self._settle(consumer, *settle)
                except BaseException:
                    if writing is not None:  # not left running unseen
                        await asyncio.wait({writing[1]})
                    raise
            fetched = (
                {}
                if handover.wanted or writing is None
                else await consumer.getmany(timeout_ms=0, max_records=self.settings.batch_max_events)
            )
            if not fetched:
                if writing is not None:
                    settle = await self._written(consumer, *writing)
                    if settle is not None:
                        await self._settle(consumer, *settle)
                return

    @staticmethod
    def _write(pipeline: Pipeline, prepared: Prepared, preparing: float) -> tuple[BatchReport, float]:
        """Write a prepared batch: its report and the seconds it spent in the pipeline (preparing,
        then writing; the time ``Pipeline.process`` would have taken)."""
        started = time.perf_counter() - preparing
        report = pipeline.write(prepared)
        return report, time.perf_counter() - started

    async def _written(
        self, consumer: AIOKafkaConsumer, fetch: _Fetch, write: asyncio.Future[tuple[BatchReport, float]]
    ) -> tuple[_Fetch, BatchReport] | None:
        """Wait for a fetch's write: the fetch and its report, to settle (:meth:`_settle`). A failed
        write is written again as a plain cycle once every history held is dropped, and settled
        (None: it failed)."""
        try:
            report, seconds = await write
        except Exception as exc:
            self.runner.failed(fetch.topics, fetch.raws, exc, 0.0, fetch.held)
            self.runner.pipeline.forget()
            await self._settle(consumer, fetch, await self.runner.run(fetch.topics, fetch.raws, fetch.held))
            return None
        self.runner.written(fetch.topics, fetch.raws, report, seconds, fetch.held)
        return fetch, report

    async def _settle(self, consumer: AIOKafkaConsumer, fetch: _Fetch, report: BatchReport) -> None:
        """After a fetch's write is durable: its dead letters confirmed, then its offsets committed."""
        await send_dead_letters(report, self.dlq_topics)
        try:
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in fetch.records.items()})
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning(
                "offsets of a written fetch not committed (%s): its partitions moved; their new owner "
                "writes the same records again, which changes nothing",
                type(exc).__name__,
            )
        self.cycles += 1
        self.marks.mark(startup.FIRST_CYCLE)


@dataclass(frozen=True)
class _Fetch:
    """The records of one fetch the consumer still holds, as the pipeline reads them."""

    records: dict[TopicPartition, list[Any]]
    raws: list[RawMessage]
    held: list[str]
    """The topics of every partition held (named by the failure metrics while a write retries)."""

    @property
    def topics(self) -> list[str]:
        return sorted({tp.topic for tp in self.records})


def _add_agent(
    app: faust.App, spec: Topic, settings: WorkerConfig, runner: BatchRunner, dlq_topics: dict[str, Any]
) -> None:
    topic = app.topic(spec.name, partitions=spec.partitions, key_type=bytes, value_type=bytes)

    async def consume(agent_stream: faust.StreamT[Any]) -> None:
        # faust hands an agent a Stream, whose noack_take yields the buffered events (typed as values)
        stream = cast("faust.Stream[EventT[Any]]", agent_stream)
        async for events in stream.noack_take(settings.batch_max_events, within=settings.batch_max_seconds):
            raws = [raw_message(e) for e in events]
            report = await runner.run(spec.name, raws)
            await send_dead_letters(report, dlq_topics)
            for event in events:
                await stream.ack(event)

    consume.__name__ = f"consume_{spec.entity}"
    consume.__qualname__ = consume.__name__
    app.agent(topic, name=f"demandhub.{spec.entity}", concurrency=1)(consume)


@dataclass
class Postponement:
    """When the worker's refresher postpones a refresh: while more records wait at the broker than one
    write cycle takes (``backlog``, the settings' ``batch_max_events``), for at most ``seconds`` at a
    time (the settings' ``rollup_refresh_backlog_seconds``; 0: never).

    A refresh recomputes every bucket the cycles since the last one touched, whatever their number, so
    during a backlog it is work done again a few seconds later for the same hours, on the cores the
    write cycles need; one refresh after the backlog does the work of all of them. Readers of rollups
    refresh the pending buckets themselves before they read (in this process through the same
    refresher, never postponed), and the live page reads the facts, so no figure is staler for it."""

    seconds: float
    backlog: int
    since: float | None = None
    """``time.monotonic()`` when the current postponement began (None: not postponing)."""

    def postpones(self, waiting: int, now: float) -> bool:
        """Whether a refresh due at ``now`` waits, with ``waiting`` records at the broker."""
        if self.seconds <= 0 or waiting <= self.backlog:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        if now - self.since < self.seconds:
            return True
        self.since = None  # refresh once now; a backlog still there postpones the next ones again
        return False


def _add_rollup_refresh(
    app: faust.App,
    opening: Opening[Opened],
    interval: float,
    postpone: Postponement | None = None,
    waiting: Callable[[], int] = lambda: 0,
) -> None:
    """The worker's one rollup refresher (see :mod:`sinks.clickhouse.rollups`), once the warehouse
    is open: on a warehouse handle of its own, so it never waits for the pipeline's writes, nor
    they for it. While the worker catches up a backlog it postpones refreshes (:class:`Postponement`;
    ``waiting``: the records waiting at the broker, as the lag timer last saw them) and gives its
    lease up, so a reader in another process need not wait for it to lapse."""

    @app.task
    async def refresh_rollups() -> None:
        try:
            refresher = (await opening.wait()).refresher
        except Exception:  # the opening task stops the worker
            return
        if refresher is not None:
            await refresh_loop(refresher, interval, postpone, waiting)


async def refresh_loop(
    refresher: Refresher,
    interval: float,
    postpone: Postponement | None = None,
    waiting: Callable[[], int] = lambda: 0,
) -> None:
    """Refresh the logged rollup buckets every ``interval`` seconds until cancelled (see
    :func:`_add_rollup_refresh`); the lease is given up on the way out."""
    sampled = 0.0
    try:
        while True:
            started = time.monotonic()
            if postpone is not None:
                was_postponing = postpone.since is not None
                postponing = postpone.postpones(waiting(), started)
                m.ROLLUP_REFRESH_POSTPONED.set(1 if postponing else 0)
                if postponing and not was_postponing:
                    log.info(
                        "rollup refresh postponed while the worker catches up a backlog "
                        "(at most %.0f s at a time)",
                        postpone.seconds,
                    )
                    await _give_lease_up(refresher)
                if postponing:
                    await asyncio.sleep(interval)
                    continue
            sample = is_embedded(refresher.wh.dsn) and started - sampled >= ENGINE_MEMORY_SECONDS
            try:
                await asyncio.to_thread(_refresh, refresher, sample)
            except Exception as exc:  # the buckets stay logged: the next cycle retries them
                log.warning("rollup refresh failed (%s); retrying", type(exc).__name__)
            if sample:
                sampled = started
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        # A stopping worker gives the lease up, so a reader or the next worker refreshes what
        # is still logged at once instead of waiting for the lease to lapse.
        _release(refresher)


def _release(refresher: Refresher) -> None:
    """Give the refresh lease up; a failure is logged (the lease lapses by itself)."""
    try:
        refresher.release()
    except Exception as exc:
        log.warning("rollup lease not released (%s); it lapses by itself", type(exc).__name__)


async def _give_lease_up(refresher: Refresher) -> None:
    await asyncio.to_thread(_release, refresher)


ENGINE_MEMORY_SECONDS = 60.0
"""How often the worker asks the embedded engine for its memory (a ``system.metrics`` and a
``system.jemalloc_stats`` read on the refresher's handle, after a refresh)."""


def _refresh(refresher: Refresher, sample_engine_memory: bool) -> None:
    """One refresh of the logged rollup buckets; then, if asked, the embedded engine's own memory
    accounting and its allocator's totals into ``demandhub_worker_native_heap_bytes`` (the
    ``engine_*`` kinds of :func:`sinks.clickhouse.admin_sql.engine_memory`)."""
    try:
        refresher.refresh()
    finally:
        if sample_engine_memory:
            for kind, size in admin_sql.engine_memory(refresher.wh).items():
                m.WORKER_NATIVE_HEAP_BYTES.labels(kind).set(size)


def sample_memory(pipeline: Pipeline) -> None:
    """The worker's memory gauges that cost nothing to read, set every ``HEAP_SETTLE_SECONDS``:
    frozen objects, Python's allocated blocks, the events in ``pipeline``'s history cache and the
    C allocator's totals (the engine's are sampled after a refresh, see :func:`_refresh`)."""
    m.WORKER_GC_FROZEN.set(gc.get_freeze_count())
    m.WORKER_PYTHON_BLOCKS.set(sys.getallocatedblocks())
    m.HISTORY_CACHE_EVENTS.set(pipeline.cache.events)
    for kind, size in heap.native_heap().items():
        m.WORKER_NATIVE_HEAP_BYTES.labels(kind).set(size)


HEAP_SETTLE_SECONDS = 10.0
HEAP_RECLAIM_SECONDS = 300.0
"""Every five minutes a full collection frees the cycles that died while frozen (see :mod:`streams.heap`)."""


def _add_heap_settling(app: faust.App, opening: Opening[Opened]) -> None:
    """Freeze what start-up left alive (once the warehouse is open), then every few seconds the cache
    entries added since (see :mod:`streams.heap`), so no young collection walks the history cache;
    every few minutes one full collection frees the cycles that died while frozen."""

    @app.task
    async def settle_heap() -> None:
        try:
            opened = await opening.wait()
        except Exception:  # the opening task stops the worker
            return
        heap.settle_after_startup()
        last_reclaim = time.monotonic()
        while True:
            await asyncio.sleep(HEAP_SETTLE_SECONDS)
            if time.monotonic() - last_reclaim >= HEAP_RECLAIM_SECONDS:
                started = time.monotonic()
                found = heap.reclaim()
                last_reclaim = time.monotonic()
                m.WORKER_GC_RECLAIMED.inc(found)
                log.info(
                    "heap: a full collection freed %d unreachable objects in %.2f s",
                    found,
                    last_reclaim - started,
                )
            else:
                heap.settle()
            sample_memory(opened.pipeline)


LAG_SECONDS = 5.0


def _add_lag_timer(
    app: faust.App,
    consumer_of: Callable[[], Any],
    watchdog: ProgressWatchdog,
    cycles_of: Callable[[], int] = lambda: 0,
    opening_of: Callable[[], bool] = lambda: False,
) -> None:
    @app.timer(interval=LAG_SECONDS)
    async def consumer_lag() -> None:
        await observe_consumer(consumer_of(), watchdog, cycles_of(), time.monotonic(), opening_of())


async def observe_consumer(
    consumer: Any, watchdog: ProgressWatchdog, cycles: int, now: float, opening: bool = False
) -> None:
    """Set the lag gauges from ``consumer``'s positions and high-watermarks and feed the stall
    watchdog (progress = positions summed + committed write cycles; see :mod:`streams.watchdog`).
    While the warehouse is ``opening`` the consumer waits by design: the watchdog counts no stall."""
    if consumer is None:
        return
    per_topic: dict[str, int] = {}
    fetched = 0
    for tp in consumer.assignment():
        try:
            position = await consumer.position(tp)
            high = consumer.highwater(tp)
        except Exception:  # not yet fetched
            continue
        if position is None or high is None:
            continue
        fetched += position
        per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(0, high - position)
    for topic, lag in per_topic.items():
        m.CONSUMER_LAG.labels(topic).set(lag)
    was_stalled = watchdog.stalled
    if opening:
        watchdog.wait(now)
    else:
        watchdog.observe(fetched + cycles, sum(per_topic.values()), now)
    m.CONSUMER_STALLED.set(1 if watchdog.stalled else 0)
    if watchdog.stalled and not was_stalled:
        log.error("%s; /health answers 503 until it moves again", watchdog.reason())
    elif was_stalled and not watchdog.stalled:
        log.warning("consumer moving again after a stall")
