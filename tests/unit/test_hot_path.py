"""The worker's hot path: one write cycle per fetch, offsets committed only after it is durable."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from demandhub.settings import Settings
from schemas.topics import TOPICS
from streams.app import BatchRunner, HotPath, Opened, build_app
from streams.pipeline import BatchReport, DeadLetter, RawMessage
from streams.startup import Opening

pytestmark = pytest.mark.unit

CALLS = TOPICS["call"].name
INCIDENTS = TOPICS["incident"].name


def record(topic: str, partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, partition, offset, 1_700_000_000_000, 0, b"k", b"{}", None, 1, 2, ())


class Journal:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []


class FakeRunner:
    def __init__(self, journal: Journal, dead: bool = False) -> None:
        self.journal, self.dead = journal, dead

    async def run(self, topics: list[str], raws: list[RawMessage], stalled: list[str]) -> BatchReport:
        self.journal.calls.append(("write", (sorted(set(topics)), [(r.topic, r.offset) for r in raws])))
        report = BatchReport(consumed=len(raws))
        if self.dead:
            report.dead_letters.append(DeadLetter(raws[0], "why", "invalid_fields", b"{}"))
        return report


class FakeTopic:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def send(self, **kwargs: Any) -> asyncio.Future[None]:
        self.journal.calls.append(("dlq", kwargs["value"]))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FakeConsumer:
    def __init__(self, journal: Journal, held: set[TopicPartition]) -> None:
        self.journal, self.held = journal, held

    def assignment(self) -> set[TopicPartition]:
        return self.held

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.journal.calls.append(("commit", dict(offsets)))


def hot_path(tmp_path: Path, journal: Journal, dead: bool = False) -> HotPath:
    dlq = {t.dlq: FakeTopic(journal) for t in TOPICS.values()}
    return HotPath(None, "", "g", Settings(data_dir=tmp_path), FakeRunner(journal, dead), dlq)  # type: ignore[arg-type]


def test_one_write_for_every_topic_of_a_fetch_then_dead_letters_then_the_commit(tmp_path: Path) -> None:
    journal = Journal()
    calls, incidents = TopicPartition(CALLS, 1), TopicPartition(INCIDENTS, 0)
    consumer = FakeConsumer(journal, {calls, incidents})
    fetched = {calls: [record(CALLS, 1, 7), record(CALLS, 1, 8)], incidents: [record(INCIDENTS, 0, 3)]}
    asyncio.run(hot_path(tmp_path, journal, dead=True)._cycle(consumer, fetched))  # type: ignore[arg-type]
    assert [kind for kind, _ in journal.calls] == ["write", "dlq", "commit"]
    assert journal.calls[0][1] == ([CALLS, INCIDENTS], [(CALLS, 7), (CALLS, 8), (INCIDENTS, 3)])
    assert journal.calls[2][1] == {calls: 9, incidents: 4}


def test_records_of_a_partition_no_longer_held_are_left_to_its_new_owner(tmp_path: Path) -> None:
    journal = Journal()
    kept, moved = TopicPartition(CALLS, 0), TopicPartition(CALLS, 1)
    consumer = FakeConsumer(journal, {kept})
    fetched = {kept: [record(CALLS, 0, 1)], moved: [record(CALLS, 1, 5)]}
    asyncio.run(hot_path(tmp_path, journal)._cycle(consumer, fetched))  # type: ignore[arg-type]
    assert journal.calls == [("write", ([CALLS], [(CALLS, 1)])), ("commit", {kept: 2})]


def test_the_default_worker_has_no_faust_agents_and_no_faust_consumer(tmp_path: Path) -> None:
    app = build_app(Settings(data_dir=tmp_path), None, "127.0.0.1:1")  # type: ignore[arg-type]
    assert not app.agents
    assert app.boot_strategy.enable_kafka_consumer is False
    assert isinstance(app.conf.demandhub_hot_path, HotPath)  # type: ignore[attr-defined]
    exactly_once = build_app(
        Settings(data_dir=tmp_path, processing_guarantee="exactly_once"),
        None,  # type: ignore[arg-type]
        "127.0.0.1:1",
    )
    assert len(exactly_once.agents) == len(TOPICS)


class Declarable:
    async def maybe_declare(self) -> None:
        return None


class DeclaringApp:
    def topic(self, name: str, partitions: int) -> Declarable:
        return Declarable()


class FetchOnce:
    """A consumer whose first fetch stops the hot path (as a stopping worker cancels its task)."""

    def __init__(self) -> None:
        self.fetches: list[tuple[int, int]] = []
        self.stopped = False

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.topics = topics

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        self.fetches.append((timeout_ms, max_records))
        raise asyncio.CancelledError


def test_a_backlog_is_written_in_fetches_of_twenty_thousand_events_and_a_slow_feed_every_quarter_second(
    tmp_path: Path,
) -> None:
    # A write cycle costs about a dozen warehouse statements whatever its size: under a backlog the
    # default fetch spreads them over 20,000 events; at low rates the time bound closes a cycle.
    journal = Journal()
    consumer = FetchOnce()
    hot = hot_path(tmp_path, journal)
    hot.app = DeclaringApp()  # type: ignore[assignment]
    hot.dlq_topics = {name: Declarable() for name in hot.dlq_topics}
    hot._consumer = lambda: consumer  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(hot.run())
    assert consumer.fetches == [(250, 20_000)]
    assert consumer.stopped
    assert sorted(consumer.topics) == sorted(t.name for t in TOPICS.values())


class JoiningConsumer(FetchOnce):
    """Joins its group (``start``), hands out one fetch, then stops the hot path like ``FetchOnce``."""

    def __init__(self, journal: Journal, fetch: dict[TopicPartition, list[Any]]) -> None:
        super().__init__()
        self.journal, self.fetch = journal, fetch
        self.assigned = threading.Event()

    async def start(self) -> None:
        self.journal.calls.append(("assigned", None))
        self.assigned.set()

    async def stop(self) -> None:
        self.journal.calls.append(("left the group", None))
        self.stopped = True

    def assignment(self) -> set[TopicPartition]:
        return set(self.fetch)

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        if self.fetch and not self.fetches:
            self.fetches.append((timeout_ms, max_records))
            return self.fetch
        if timeout_ms == 0:
            return {}  # nothing prefetched: the cycles in progress end
        raise asyncio.CancelledError

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.journal.calls.append(("commit", dict(offsets)))


class RecordingPipeline:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def process(self, raws: list[RawMessage]) -> BatchReport:
        return self.write(self.prepare(raws))

    def prepare(self, raws: list[RawMessage]) -> list[RawMessage]:
        return raws

    def write(self, raws: list[RawMessage]) -> BatchReport:
        self.journal.calls.append(("write", [(r.topic, r.offset) for r in raws]))
        return BatchReport(consumed=len(raws))

    def read_history_apart(self) -> None:
        return None

    def forget(self) -> None:
        self.journal.calls.append(("forget", None))


def opening_hot_path(
    tmp_path: Path, journal: Journal, consumer: JoiningConsumer, open_: Any
) -> tuple[HotPath, BatchRunner]:
    settings = Settings(data_dir=tmp_path)
    runner = BatchRunner(Opening(open_, "test-opening").start(), settings)
    hot = HotPath(DeclaringApp(), "", "g", settings, runner, {})  # type: ignore[arg-type]
    hot._consumer = lambda: consumer  # type: ignore[method-assign]
    return hot, runner


def test_the_consumer_joins_its_group_while_the_warehouse_opens_and_the_first_write_waits_for_it(
    tmp_path: Path,
) -> None:
    # The warehouse opening blocks until the consumer holds its partitions: a start-up that opened
    # the warehouse before starting the consumer would never get there (the opening gives up).
    journal = Journal()
    calls = TopicPartition(CALLS, 0)
    consumer = JoiningConsumer(journal, {calls: [record(CALLS, 0, 4), record(CALLS, 0, 5)]})

    def open_warehouse() -> Opened:
        if not consumer.assigned.wait(60):
            raise RuntimeError("the consumer never joined while the warehouse was opening")
        journal.calls.append(("warehouse open", None))
        return Opened(RecordingPipeline(journal), None)  # type: ignore[arg-type]

    hot, runner = opening_hot_path(tmp_path, journal, consumer, open_warehouse)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(hot.run())
    assert [kind for kind, _ in journal.calls] == [
        "assigned",
        "warehouse open",
        "write",
        "commit",
        "left the group",
    ]
    assert journal.calls[3][1] == {calls: 6}
    assert not runner.waiting_for_warehouse


def test_a_warehouse_that_fails_to_open_stops_the_hot_path_and_its_consumer_leaves_the_group(
    tmp_path: Path,
) -> None:
    journal = Journal()
    calls = TopicPartition(CALLS, 0)
    consumer = JoiningConsumer(journal, {calls: [record(CALLS, 0, 4)]})

    def failing_open() -> Opened:
        consumer.assigned.wait(60)
        raise RuntimeError("migration 0001_core changed after it was applied")

    hot, runner = opening_hot_path(tmp_path, journal, consumer, failing_open)
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        asyncio.run(hot.run())
    assert journal.calls == [("assigned", None), ("left the group", None)]  # nothing written or committed
    assert runner.waiting_for_warehouse


class Backlog(JoiningConsumer):
    """Hands out one fetch, then (asked with no wait, as the hot path asks while a write is in
    flight) a second one prefetched meanwhile, then nothing; the next waiting fetch stops the path."""

    def __init__(
        self,
        journal: Journal,
        first: dict[TopicPartition, list[Any]],
        second: dict[TopicPartition, list[Any]],
    ) -> None:
        super().__init__(journal, first)
        self.second: dict[TopicPartition, list[Any]] | None = second

    def assignment(self) -> set[TopicPartition]:
        return set(self.fetch) | set(self.second or {})

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        if timeout_ms == 0 and self.second is not None:
            second, self.second = self.second, None
            return second
        return await super().getmany(timeout_ms, max_records)


class SettlingBacklog(Backlog):
    """A :class:`Backlog` whose first commit returns only once a second write has begun: a hot path
    that settled a fetch (dead letters, commit) before it began the next write would fail."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not any(name == "commit" for name, _ in self.journal.calls):
            for _ in range(3000):
                if sum(1 for name, _ in self.journal.calls if name == "write") >= 2:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the next write did not begin while the fetch before was settled")
        await super().commit(offsets)


class OverlapPipeline:
    """Records prepare and write; the first write waits until the next fetch is being prepared (so
    a hot path that did not overlap them would fail the test), and may fail once."""

    def __init__(self, journal: Journal, fail_first_write: bool = False) -> None:
        self.journal = journal
        self.fail_first_write = fail_first_write
        self.prepared_twice = threading.Event()
        self.prepares = 0

    def process(self, raws: list[RawMessage]) -> BatchReport:
        return self.write(self.prepare(raws))

    def prepare(self, raws: list[RawMessage]) -> list[RawMessage]:
        self.journal.calls.append(("prepare", [r.offset for r in raws]))
        self.prepares += 1
        if self.prepares == 2:
            self.prepared_twice.set()
        return raws

    def write(self, raws: list[RawMessage]) -> BatchReport:
        if not self.prepared_twice.wait(30):
            raise AssertionError("the next fetch was not prepared while this one was written")
        if self.fail_first_write:
            self.fail_first_write = False
            self.journal.calls.append(("write failed", [r.offset for r in raws]))
            raise RuntimeError("the warehouse went away")
        self.journal.calls.append(("write", [r.offset for r in raws]))
        return BatchReport(consumed=len(raws))

    def read_history_apart(self) -> None:
        return None

    def forget(self) -> None:
        self.journal.calls.append(("forget", None))


def run_backlog(
    tmp_path: Path, pipeline: OverlapPipeline, journal: Journal, kind: type[Backlog] = Backlog
) -> None:
    calls = TopicPartition(CALLS, 0)
    consumer = kind(
        journal, {calls: [record(CALLS, 0, 1), record(CALLS, 0, 2)]}, {calls: [record(CALLS, 0, 3)]}
    )
    settings = Settings(data_dir=tmp_path)
    hot = HotPath(DeclaringApp(), "", "g", settings, BatchRunner(pipeline, settings), {})  # type: ignore[arg-type]
    hot._consumer = lambda: consumer  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(hot.run())


def test_the_next_fetch_is_prepared_while_one_is_written_and_each_is_committed_only_once_written(
    tmp_path: Path,
) -> None:
    journal = Journal()
    run_backlog(tmp_path, OverlapPipeline(journal), journal, SettlingBacklog)
    calls = TopicPartition(CALLS, 0)
    assert journal.calls == [
        ("assigned", None),
        ("prepare", [1, 2]),
        ("prepare", [3]),
        ("write", [1, 2]),
        ("write", [3]),  # begun once the first write was durable, while the first is settled
        ("commit", {calls: 3}),
        ("commit", {calls: 4}),
        ("left the group", None),
    ]


def test_a_failed_write_drops_every_history_and_both_fetches_are_prepared_again_in_order(
    tmp_path: Path,
) -> None:
    # The second fetch was prepared against the first, whose write failed: nothing is committed
    # until each is written again from scratch, the first before the second.
    journal = Journal()
    run_backlog(tmp_path, OverlapPipeline(journal, fail_first_write=True), journal)
    calls = TopicPartition(CALLS, 0)
    assert journal.calls == [
        ("assigned", None),
        ("prepare", [1, 2]),
        ("prepare", [3]),
        ("write failed", [1, 2]),
        ("forget", None),
        ("prepare", [1, 2]),
        ("write", [1, 2]),
        ("commit", {calls: 3}),
        ("forget", None),
        ("prepare", [3]),
        ("write", [3]),
        ("commit", {calls: 4}),
        ("left the group", None),
    ]
