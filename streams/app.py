"""The faust application: one thin agent per input topic.

Each agent takes batches with ``Stream.noack_take`` (faust's ``take()`` acknowledges its buffer in a
``finally:`` block even when the consumer raised, which would lose a batch whose insert failed), hands
them to :class:`~streams.pipeline.Pipeline` in a worker thread, retries transient warehouse failures
with capped exponential back-off (the batch stays unacknowledged, so its offsets stay uncommitted and
the partition does not advance), produces dead letters to the domain's ``.dlq`` topic and waits for the
broker to confirm them, and only then acknowledges the batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import faust
from faust.types import EventT

from demandhub.settings import Settings
from schemas.topics import DLQ_PARTITIONS, DLQ_TOPICS, TOPICS, Topic
from sinks.clickhouse.errors import data_location, is_out_of_space
from sinks.clickhouse.rollups import Refresher
from sinks.prometheus import metrics as m
from streams import heap
from streams.pipeline import BatchReport, Pipeline, RawMessage

log = logging.getLogger(__name__)

BatchObserver = Callable[[BatchReport], None]


def raw_message(event: EventT) -> RawMessage:
    """The pipeline's view of a faust event (bytes and where they came from)."""
    msg = event.message
    value = msg.value if isinstance(msg.value, bytes) else bytes(msg.value or b"")
    key = msg.key if isinstance(msg.key, bytes) or msg.key is None else bytes(msg.key)
    return RawMessage(msg.topic, msg.partition, msg.offset, value, key, int(msg.timestamp * 1000))


class BatchRunner:
    """Runs one batch through the pipeline until it is durable; never lets a batch be skipped."""

    def __init__(
        self, pipeline: Pipeline, settings: Settings, observers: Sequence[BatchObserver] = ()
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.observers = list(observers)

    async def run(self, topic: str, raws: list[RawMessage]) -> BatchReport:
        """Process ``raws``; on failure back off and retry the same batch (never raises, except
        cancellation). Dead letters are not produced here (see :func:`build_app`)."""
        delay = 0.5
        while True:
            started = time.perf_counter()
            try:
                report = await asyncio.to_thread(self.pipeline.process, raws)
            except Exception as exc:  # transient by contract: validation never raises
                m.SINK_FAILURES.labels(topic).inc()
                m.SINK_BACKING_OFF.labels(topic).set(1)
                full = is_out_of_space(exc)
                m.SINK_OUT_OF_SPACE.labels(topic).set(1 if full else 0)
                if full:
                    log.error(
                        "batch of %d from %s not written: the warehouse is out of disk space in %s. "
                        "Free space on that volume (or move the data directory to a larger one); "
                        "the batch is held, nothing is lost, retrying in %.1fs",
                        len(raws),
                        topic,
                        data_location(self.settings.resolved_dsn),
                        delay,
                    )
                else:
                    log.warning(
                        "batch of %d from %s failed (%s); retrying in %.1fs",
                        len(raws),
                        topic,
                        type(exc).__name__,
                        delay,
                    )
                self.pipeline.cache.clear()  # history may be half-written: reload it
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.sink_retry_max_seconds)
                continue
            m.SINK_BACKING_OFF.labels(topic).set(0)
            m.SINK_OUT_OF_SPACE.labels(topic).set(0)
            m.SINK_WRITE_SECONDS.labels(topic).observe(time.perf_counter() - started)
            self._account(topic, raws, report)
            return report

    def _account(self, topic: str, raws: list[RawMessage], report: BatchReport) -> None:
        m.EVENTS_CONSUMED.labels(topic).inc(report.consumed)
        m.EVENTS_ACCEPTED.labels(topic).inc(report.accepted)
        m.EVENTS_DUPLICATE.labels(topic).inc(report.duplicates)
        m.EVENTS_QUARANTINED.labels(topic).inc(len(report.quarantined))
        m.SINK_BATCHES.labels(topic).inc()
        for dl in report.dead_letters:
            m.EVENTS_INVALID.labels(topic, dl.reason_class).inc()
        for table, n in report.rows_written.items():
            m.SINK_ROWS.labels(table).inc(n)
        now_ms = time.time() * 1000
        for raw in raws:
            if raw.timestamp_ms:
                m.END_TO_END_SECONDS.labels(topic).observe(max(0.0, (now_ms - raw.timestamp_ms) / 1000))
        for observe in self.observers:
            try:
                observe(report)
            except Exception:  # metrics must never stop the pipeline
                log.exception("metrics observer failed")


def build_app(
    settings: Settings,
    pipeline: Pipeline,
    broker: str,
    observers: Sequence[BatchObserver] = (),
    app_id: str = "demandhub",
    refresher: Refresher | None = None,
) -> faust.App:
    """A faust app with one agent per input topic, wired to ``pipeline``; with ``refresher``, a
    timer that refreshes the rollup buckets the batches logged (at most every
    ``settings.rollup_refresh_seconds``)."""
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
    runner = BatchRunner(pipeline, settings, observers)
    dlq_topics = {
        name: app.topic(name, partitions=DLQ_PARTITIONS, key_type=bytes, value_type=bytes)
        for name in DLQ_TOPICS
    }
    for spec in TOPICS.values():
        _add_agent(app, spec, settings, runner, dlq_topics)
    _add_lag_timer(app)
    _add_heap_settling(app)
    if refresher is not None:
        _add_rollup_refresh(app, refresher, settings.rollup_refresh_seconds)
    app.conf.demandhub_runner = runner  # type: ignore[attr-defined]
    return app


def _add_agent(
    app: faust.App, spec: Topic, settings: Settings, runner: BatchRunner, dlq_topics: dict[str, Any]
) -> None:
    topic = app.topic(spec.name, partitions=spec.partitions, key_type=bytes, value_type=bytes)

    async def consume(stream: faust.StreamT) -> None:
        async for events in stream.noack_take(settings.batch_max_events, within=settings.batch_max_seconds):
            raws = [raw_message(e) for e in events]
            report = await runner.run(spec.name, raws)
            for dl in report.dead_letters:
                fut = await dlq_topics[dl.dlq_topic].send(key=dl.key, value=dl.payload, headers=dl.headers())
                await fut
                m.DLQ_PRODUCED.labels(dl.dlq_topic).inc()
            for event in events:
                await stream.ack(event)

    consume.__name__ = f"consume_{spec.entity}"
    consume.__qualname__ = consume.__name__
    app.agent(topic, name=f"demandhub.{spec.entity}", concurrency=1)(consume)


def _add_rollup_refresh(app: faust.App, refresher: Refresher, interval: float) -> None:
    """The worker's one rollup refresher (see :mod:`sinks.clickhouse.rollups`): on a warehouse
    handle of its own, so it never waits for the pipeline's writes, nor they for it."""

    @app.task
    async def refresh_rollups() -> None:
        while True:
            started = time.monotonic()
            try:
                await asyncio.to_thread(refresher.refresh)
            except Exception as exc:  # the buckets stay logged: the next cycle retries them
                log.warning("rollup refresh failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


HEAP_SETTLE_SECONDS = 10.0


def _add_heap_settling(app: faust.App) -> None:
    """Freeze what start-up left alive, then every few seconds the cache entries added since (see
    :mod:`streams.heap`), so no full collection walks the history cache."""

    @app.task
    async def settle_heap() -> None:
        heap.settle_after_startup()
        while True:
            await asyncio.sleep(HEAP_SETTLE_SECONDS)
            heap.settle()


def _add_lag_timer(app: faust.App) -> None:
    @app.timer(interval=5.0)
    async def consumer_lag() -> None:
        consumer = app.consumer
        per_topic: dict[str, int] = {}
        for tp in consumer.assignment():
            try:
                position = await consumer.position(tp)
                high = consumer.highwater(tp)
            except Exception:  # not yet fetched
                continue
            if position is None or high is None:
                continue
            per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(0, high - position)
        for topic, lag in per_topic.items():
            m.CONSUMER_LAG.labels(topic).set(lag)
