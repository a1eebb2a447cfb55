"""A consumer that stops silently is reported: the stall watchdog, its gauge and ``/health``."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiokafka import ConsumerRecord, TopicPartition

from demandhub.settings import Settings
from demandhub.web.server import HEALTH_CHECKS_KEY, health
from schemas.topics import TOPICS
from sinks.prometheus import metrics as m
from streams.app import BatchRunner, HotPath, Opened, observe_consumer
from streams.pipeline import BatchReport, RawMessage
from streams.startup import Opening
from streams.watchdog import ProgressWatchdog

pytestmark = pytest.mark.unit

CALLS = TopicPartition(TOPICS["call"].name, 0)


def test_no_progress_with_messages_waiting_is_a_stall_and_progress_ends_it() -> None:
    wd = ProgressWatchdog(stall_seconds=30)
    wd.observe(progress=100, lag=5, now=0)
    wd.observe(progress=100, lag=9, now=29)
    assert not wd.stalled and wd.reason() is None
    wd.observe(progress=100, lag=12, now=30)
    assert wd.stalled
    assert wd.reason() == (
        "consumer stalled: no records fetched or committed for 30 s with 12 messages waiting (limit 30 s)"
    )
    wd.observe(progress=101, lag=12, now=31)
    assert not wd.stalled and wd.reason() is None


def test_an_idle_consumer_is_not_stalled_and_zero_turns_the_check_off() -> None:
    idle = ProgressWatchdog(stall_seconds=30)
    for now in range(0, 300, 5):
        idle.observe(progress=7, lag=0, now=now)
    assert not idle.stalled
    idle.observe(progress=7, lag=3, now=301)  # messages arrive: the clock starts now, not at 0
    assert not idle.stalled
    off = ProgressWatchdog(stall_seconds=0)
    off.observe(progress=1, lag=50, now=0)
    off.observe(progress=1, lag=50, now=10_000)
    assert not off.stalled and off.reason() is None


class GatedRunner:
    """Writes return at once while the gate is open; with it closed a write cycle blocks (a stuck
    warehouse call, a lost await): the getmany loop stops while records keep arriving."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.blocked = asyncio.Event()
        self.waiting_for_warehouse = False

    async def ready(self) -> None:
        return None

    async def run(self, topics: list[str], raws: list[RawMessage], stalled: list[str]) -> BatchReport:
        if not self.gate.is_set():
            self.blocked.set()
            await self.gate.wait()
        return BatchReport(consumed=len(raws))


class GatedPipeline:
    """A pipeline whose write cycles do nothing (for a runner given a warehouse opening)."""

    def process(self, raws: list[RawMessage]) -> BatchReport:
        return self.write(self.prepare(raws))

    def prepare(self, raws: list[RawMessage]) -> list[RawMessage]:
        return raws

    def write(self, raws: list[RawMessage]) -> BatchReport:
        return BatchReport(consumed=len(raws))

    def read_history_apart(self) -> None:
        return None

    def forget(self) -> None:
        return None


class GrowingTopicConsumer:
    """One partition whose high-watermark the test moves; getmany hands out what lies below it."""

    def __init__(self) -> None:
        self.high = 0
        self.pos = 0

    def subscribe(self, topics: list[str], listener: Any) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def assignment(self) -> set[TopicPartition]:
        return {CALLS}

    async def position(self, tp: TopicPartition) -> int:
        return self.pos

    def highwater(self, tp: TopicPartition) -> int:
        return self.high

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        if self.pos >= self.high:
            await asyncio.sleep(0.001)
            return {}
        offsets = range(self.pos, min(self.high, self.pos + max_records))
        self.pos = offsets[-1] + 1
        return {
            CALLS: [ConsumerRecord(CALLS.topic, 0, o, 0, 0, b"k", b"{}", None, 1, 2, ()) for o in offsets]
        }

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        return None


class NoTopics:
    def topic(self, name: str, partitions: int = 1) -> Any:
        return self

    async def maybe_declare(self) -> None:
        return None


async def _status(wd: ProgressWatchdog) -> tuple[int, str]:
    app = web.Application()
    app[HEALTH_CHECKS_KEY] = [wd.reason]
    response = await health(make_mocked_request("GET", "/health", app=app))
    return response.status, str(response.text)


async def _until(predicate: Any) -> None:
    for _ in range(10_000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def test_a_blocked_getmany_loop_turns_health_and_the_gauge_then_they_recover(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[int, str, float]]:
        runner, consumer = GatedRunner(), GrowingTopicConsumer()
        settings = Settings(data_dir=tmp_path, consumer_stall_seconds=60)
        hot = HotPath(NoTopics(), "", "g", settings, runner, {})  # type: ignore[arg-type]
        hot._consumer = lambda: consumer  # type: ignore[method-assign]
        wd = ProgressWatchdog(settings.consumer_stall_seconds)
        seen: list[tuple[int, str, float]] = []

        async def look(now: float) -> None:
            await observe_consumer(hot.consumer, wd, hot.cycles, now)
            seen.append((*(await _status(wd)), m.CONSUMER_STALLED._value.get()))

        task = asyncio.create_task(hot.run())
        consumer.high = 10
        await _until(lambda: hot.cycles >= 1)
        await look(0)  # moving
        runner.gate.clear()
        consumer.high = 20
        await _until(runner.blocked.is_set)
        consumer.high = 35  # records keep arriving; the loop is stuck in its write cycle
        await look(5)
        await look(70)  # 65 s without progress, 15 messages waiting
        runner.gate.set()
        await _until(lambda: consumer.pos == 35 and hot.cycles >= 3)
        await look(75)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == (200, "ok", 0.0)
    assert seen[1] == (200, "ok", 0.0)
    status, text, gauge = seen[2]
    assert (status, gauge) == (503, 1.0)
    assert text == (
        "not ready: consumer stalled: no records fetched or committed for 65 s with 15 messages waiting "
        "(limit 60 s)"
    )
    assert seen[3] == (200, "ok", 0.0)


def test_no_stall_is_reported_while_the_warehouse_is_still_opening(tmp_path: Path) -> None:
    # The consumer joined and fetched, records keep arriving, but the first write cycle waits for the
    # warehouse (opening and migrating on its thread): that is start-up, not a stalled consumer.
    async def scenario() -> list[tuple[int, str, float]]:
        consumer = GrowingTopicConsumer()
        settings = Settings(data_dir=tmp_path, consumer_stall_seconds=60)
        opened = threading.Event()

        def open_warehouse() -> Opened:
            opened.wait(60)
            return Opened(GatedPipeline(), None)  # type: ignore[arg-type]

        runner = BatchRunner(Opening(open_warehouse, "test-opening").start(), settings)
        hot = HotPath(NoTopics(), "", "g", settings, runner, {})  # type: ignore[arg-type]
        hot._consumer = lambda: consumer  # type: ignore[method-assign]
        wd = ProgressWatchdog(settings.consumer_stall_seconds)
        seen: list[tuple[int, str, float]] = []

        async def look(now: float) -> None:
            await observe_consumer(hot.consumer, wd, hot.cycles, now, runner.waiting_for_warehouse)
            seen.append((*(await _status(wd)), m.CONSUMER_STALLED._value.get()))

        task = asyncio.create_task(hot.run())
        consumer.high = 10
        await _until(lambda: consumer.pos == 10)  # fetched; the cycle waits for the warehouse
        consumer.high = 25
        await look(0)
        await look(70)  # 70 s without progress and 15 waiting, while the warehouse opens
        opened.set()
        await asyncio.wait_for(runner.ready(), 60)
        await _until(lambda: hot.cycles >= 2)
        await look(75)
        await look(140)  # moving: still no stall
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return seen

    seen = asyncio.run(scenario())
    assert seen == [(200, "ok", 0.0)] * 4
