"""The worker's refresher postpones rollup refreshes while it catches up a backlog, for at most a
bounded time, and gives its lease up meanwhile."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from sinks.prometheus import metrics as m
from streams.app import Postponement, refresh_loop

pytestmark = pytest.mark.unit


def test_no_backlog_never_postpones() -> None:
    p = Postponement(seconds=60, backlog=20_000)
    assert not p.postpones(0, 0.0)
    assert not p.postpones(20_000, 1.0)
    assert p.since is None


def test_a_backlog_postpones_for_at_most_the_bound_then_refreshes_once() -> None:
    p = Postponement(seconds=60, backlog=20_000)
    assert p.postpones(100_000, 10.0)
    assert p.postpones(90_000, 69.9)
    assert not p.postpones(80_000, 70.0)  # 60 s since it began: this refresh runs
    assert p.postpones(70_000, 75.0)  # and the next ones wait again
    assert p.since == 75.0
    assert not p.postpones(10, 76.0)  # caught up: at once
    assert p.since is None


def test_zero_seconds_never_postpones() -> None:
    p = Postponement(seconds=0, backlog=20_000)
    assert not p.postpones(10**9, 0.0)


@dataclass
class _Wh:
    dsn: str = "http://localhost:8123"  # not embedded: no engine memory sample


@dataclass
class FakeRefresher:
    wh: _Wh = field(default_factory=_Wh)
    refreshes: int = 0
    releases: int = 0

    def refresh(self) -> int:
        self.refreshes += 1
        return 0

    def release(self) -> None:
        self.releases += 1


async def _until(check: object, limit: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not check():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def test_the_loop_postpones_during_a_backlog_gives_the_lease_up_once_and_resumes() -> None:
    refresher = FakeRefresher()
    waiting = [100_000]
    passes = [0]

    def lag() -> int:
        passes[0] += 1
        return waiting[0]

    async def scenario() -> None:
        task = asyncio.create_task(
            refresh_loop(refresher, 0.001, Postponement(seconds=3600, backlog=20_000), lag)  # type: ignore[arg-type]
        )
        await _until(lambda: passes[0] >= 20)
        assert refresher.refreshes == 0
        assert refresher.releases == 1  # given up once, when the postponement began
        assert m.ROLLUP_REFRESH_POSTPONED._value.get() == 1
        waiting[0] = 5
        await _until(lambda: refresher.refreshes >= 3)
        assert m.ROLLUP_REFRESH_POSTPONED._value.get() == 0
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert refresher.releases == 2  # and on the way out

    asyncio.run(scenario())


def test_the_loop_without_a_postponement_refreshes_whatever_waits() -> None:
    refresher = FakeRefresher()

    async def scenario() -> None:
        task = asyncio.create_task(refresh_loop(refresher, 0.001, None, lambda: 10**9))  # type: ignore[arg-type]
        await _until(lambda: refresher.refreshes >= 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
