"""The hot path consumer's group join begun before faust runs (``streams.hot_consumer.EarlyJoin``):
handed to the hot path with its rebalance listener, left by a worker that stops first."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError

import streams.app
import streams.hot_consumer
from demandhub import runtime
from demandhub.settings import Settings
from schemas.topics import TOPICS
from streams import startup
from streams.app import BatchRunner, HotPath, build_app
from streams.hot_consumer import GROUP, EarlyJoin, HandOver
from streams.pipeline import BatchReport, RawMessage
from streams.startup import Opening, StartupMarks

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _switch_interval() -> Iterator[None]:
    """A test that starts the worker leaves the process's switch interval as it found it."""
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


CALLS = TOPICS["call"].name


def record(offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(CALLS, 0, offset, 1_700_000_000_000, 0, b"k", b"{}", None, 1, 2, ())


class Consumer:
    """Joins (``start``), hands out one fetch, reports nothing ready, then, once ``release`` is set,
    stops the hot path (as a stopping worker cancels its task)."""

    def __init__(self, journal: list[str], join: asyncio.Event | None = None) -> None:
        self.journal = journal
        self.join = join
        self.listener: HandOver | None = None
        self.topics: list[str] = []
        self.fetched = False
        self.release = asyncio.Event()

    def subscribe(self, topics: list[str], listener: HandOver) -> None:
        self.topics, self.listener = topics, listener

    async def start(self) -> None:
        if self.join is not None:
            await self.join.wait()
        self.journal.append("assigned")

    async def stop(self) -> None:
        self.journal.append("left the group")

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(CALLS, 0)}

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        if not self.fetched:
            self.fetched = True
            return {TopicPartition(CALLS, 0): [record(7)]}
        if timeout_ms == 0:
            return {}
        await self.release.wait()
        raise asyncio.CancelledError

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.journal.append(f"commit {offsets[TopicPartition(CALLS, 0)]}")


class SlowPipeline:
    """Its write waits until a rebalance is under way (``revoking``)."""

    def __init__(self, journal: list[str], revoking: threading.Event) -> None:
        self.journal, self.revoking = journal, revoking

    def prepare(self, raws: list[RawMessage]) -> list[RawMessage]:
        return raws

    def write(self, raws: list[RawMessage]) -> BatchReport:
        if not self.revoking.wait(30):
            raise AssertionError("no rebalance began during the write")
        time.sleep(0.05)
        self.journal.append("write")
        return BatchReport(consumed=len(raws))

    def process(self, raws: list[RawMessage]) -> BatchReport:
        return self.write(raws)

    def read_history_apart(self) -> None:
        return None

    def forget(self) -> None:
        return None


async def no_declare(broker: str) -> list[str]:
    return []


def test_the_hot_path_takes_the_early_consumer_and_a_revoke_waits_for_its_cycle_to_commit(
    tmp_path: Path,
) -> None:
    journal: list[str] = []
    consumer = Consumer(journal)
    revoking = threading.Event()
    settings = Settings(data_dir=tmp_path)
    marks = StartupMarks()

    def no_second_consumer() -> Any:
        raise AssertionError("the hot path made a consumer of its own")

    async def scenario() -> None:
        early = EarlyJoin("", GROUP, 6.0, marks, lambda: consumer, no_declare).start()
        runner = BatchRunner(SlowPipeline(journal, revoking), settings)  # type: ignore[arg-type]
        hot = HotPath(None, "", GROUP, settings, runner, {}, marks, early)  # type: ignore[arg-type]
        hot._consumer = no_second_consumer  # type: ignore[method-assign]
        task = asyncio.ensure_future(hot.run())
        while not consumer.fetched:
            await asyncio.sleep(0.01)
        assert consumer.listener is not None
        revoke = asyncio.ensure_future(consumer.listener.on_partitions_revoked({TopicPartition(CALLS, 0)}))
        await asyncio.sleep(0.05)
        revoking.set()
        await revoke
        journal.append("handed over")
        consumer.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert journal == ["assigned", "write", "commit 8", "handed over", "left the group"]
    assert consumer.topics == [t.name for t in TOPICS.values()]
    assert startup.JOIN_STARTED in marks and startup.CONSUMER_ASSIGNED in marks


def test_a_worker_stopping_before_the_hot_path_took_the_consumer_leaves_the_group() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        joined: list[str] = []
        early = EarlyJoin("", GROUP, 6.0, StartupMarks(), lambda: Consumer(joined), no_declare).start()
        while "assigned" not in joined:
            await asyncio.sleep(0.01)
        await early.abandon()
        joining: list[str] = []  # still waiting for its assignment
        never = asyncio.Event()
        early = EarlyJoin(
            "", GROUP, 6.0, StartupMarks(), lambda: Consumer(joining, never), no_declare
        ).start()
        await asyncio.sleep(0.05)
        await early.abandon()
        return joined, joining

    joined, joining = asyncio.run(scenario())
    assert joined == ["assigned", "left the group"]
    assert joining == ["left the group"]


def test_a_join_that_failed_stops_the_hot_path_with_its_error(tmp_path: Path) -> None:
    async def unreachable(broker: str) -> list[str]:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")

    async def scenario() -> None:
        settings = Settings(data_dir=tmp_path)
        early = EarlyJoin("", GROUP, 6.0, StartupMarks(), lambda: Consumer([]), unreachable).start()
        hot = HotPath(None, "", GROUP, settings, None, {}, None, early)  # type: ignore[arg-type]
        await hot.run()

    with pytest.raises(KafkaConnectionError):
        asyncio.run(scenario())


class Recorded:
    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        Recorded.made.append(kwargs)


def test_the_early_consumer_is_the_one_the_hot_path_would_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams.app, "AIOKafkaConsumer", Recorded)
    monkeypatch.setattr(streams.hot_consumer, "AIOKafkaConsumer", Recorded)
    settings = Settings(data_dir=tmp_path)
    HotPath(None, "b:9092", GROUP, settings, None, {})._consumer()  # type: ignore[arg-type]
    EarlyJoin("b:9092", GROUP, settings.broker_session_timeout, StartupMarks())._make()
    assert len(Recorded.made) == 2 and Recorded.made[0] == Recorded.made[1]
    assert Recorded.made[0]["group_id"] == GROUP and not Recorded.made[0]["enable_auto_commit"]


def test_an_early_join_is_refused_for_exactly_once_and_for_another_group(tmp_path: Path) -> None:
    early = EarlyJoin("127.0.0.1:1", GROUP, 6.0, StartupMarks())
    exactly_once = Settings(data_dir=tmp_path, processing_guarantee="exactly_once")
    with pytest.raises(ValueError, match="early join"):
        build_app(exactly_once, None, "127.0.0.1:1", early=early)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="early join"):
        build_app(Settings(data_dir=tmp_path), None, "127.0.0.1:1", app_id="other", early=early)  # type: ignore[arg-type]


class Closing:
    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    def close(self) -> None:
        self.journal.append("warehouse closed")


def test_a_signal_during_the_imports_stops_the_worker_and_its_consumer_leaves_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are set on the main thread only")
    journal: list[str] = []

    class Join:
        def __init__(self, broker: str, group: str, session_timeout: float, marks: StartupMarks) -> None:
            journal.append(f"join {group}")

        def start(self) -> Join:
            journal.append("join started")
            return self

        async def abandon(self) -> None:
            journal.append("left the group")

    def imports(settings: Settings, marks: StartupMarks, opening: list[Any], serve_web: bool) -> None:
        opening.append(Opening.of(Closing(journal)))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)

    def run(*args: Any) -> None:
        raise AssertionError("faust ran after the worker was asked to stop")

    monkeypatch.setattr(streams.hot_consumer, "EarlyJoin", Join)
    monkeypatch.setattr(runtime, "_import_and_open", imports)
    monkeypatch.setattr(runtime, "_run_worker", run)
    runtime.run_worker(Settings(data_dir=tmp_path), "127.0.0.1:1", serve_web=False)
    assert journal == ["join demandhub", "join started", "left the group", "warehouse closed"]


def test_a_waiter_cancelled_while_the_warehouse_opens_leaves_the_result_to_the_others() -> None:
    # A worker stopped during start-up cancels the tasks waiting for the warehouse; the opening must
    # still finish and hand its result over, so run_worker can close what it opened.
    release = threading.Event()

    def open_() -> str:
        release.wait(30)
        return "warehouse"

    opening = Opening(open_, "test-opening").start()

    async def cancel_a_waiter() -> None:
        waiter = asyncio.ensure_future(opening.wait())
        await asyncio.sleep(0.05)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)

    asyncio.run(cancel_a_waiter())
    release.set()
    assert opening.result(30) == "warehouse"


def test_the_worker_hands_the_interpreter_lock_over_sooner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's threads (the write cycle between engine statements, the event loop, the next
    fetch's preparation) wait for Python's lock at most a millisecond, not the default five."""

    class Started(Exception):
        pass

    def marks() -> None:
        raise Started

    sys.setswitchinterval(0.005)  # the interpreter's default
    monkeypatch.setattr(startup, "StartupMarks", marks)
    with pytest.raises(Started):
        runtime.run_worker(Settings(data_dir=tmp_path), "127.0.0.1:1", serve_web=False)
    assert sys.getswitchinterval() == pytest.approx(runtime.WORKER_SWITCH_INTERVAL_SECONDS)
    assert runtime.WORKER_SWITCH_INTERVAL_SECONDS < 0.005
