"""The throughput benchmark's end of a run: the worker's ledger rows polled cheaply, then one exact
check; the run ends at the poll the check confirms, else at the check, never before every distinct
event is in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bench.throughput as throughput
from bench.harness import BenchError

pytestmark = pytest.mark.unit


class _Clock:
    """A clock that moves one second each time it is read (so each poll and check has its own time)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class _Ledger:
    """A worker whose ledger answers from scripted (rows, distinct) states, one per call."""

    def __init__(self, states: list[tuple[int, int]]) -> None:
        self.states: Iterator[tuple[int, int]] = iter(states)
        self.last = (0, 0)
        self.checks = 0

    def _next(self) -> tuple[int, int]:
        self.last = next(self.states, self.last)
        return self.last

    def ledger_rows(self) -> int:
        return self._next()[0]

    def ledger_rows_distinct(self) -> tuple[int, int]:
        self.checks += 1
        return self._next()


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


def _watch(ledger: Any, n: int, clock: _Clock) -> tuple[float, Any, list[tuple[float, int]], float, int]:
    return throughput._watch([ledger], n, 60, "hub", clock=clock, sleep=lambda _s: None)


def test_the_run_ends_at_the_poll_the_check_confirms(clock: _Clock) -> None:
    ledger = _Ledger([(0, 0), (40, 40), (100, 100), (100, 100)])
    first, _started, polls, done, distinct = _watch(ledger, 100, clock)
    assert polls == [(1.0, 0), (2.0, 40), (3.0, 100)]
    assert (first, done, distinct) == (2.0, 3.0, 100)
    assert ledger.checks == 1


def test_rows_added_after_the_poll_end_the_run_at_the_check(clock: _Clock) -> None:
    # the poll saw 100 rows; by the check 103 (three copies of events already in): the poll's count
    # held copies, so the run ends when the check saw every distinct event
    ledger = _Ledger([(100, 0), (103, 100)])
    _first, _started, _polls, done, distinct = _watch(ledger, 100, clock)
    assert (done, distinct) == (2.0, 100)


def test_copies_in_the_count_keep_the_run_going_until_every_event_is_in(clock: _Clock) -> None:
    # 100 rows at the first poll, but only 97 distinct events: not done; the next poll and check
    # confirm 103 rows holding all 100
    ledger = _Ledger([(100, 97), (100, 97), (103, 100), (103, 100)])
    _first, _started, polls, done, distinct = _watch(ledger, 100, clock)
    assert [rows for _, rows in polls] == [100, 103]
    assert ledger.checks == 2
    assert (done, distinct) == (3.0, 100)  # the check after the second poll, not the poll


def test_a_ledger_that_never_fills_is_an_error(clock: _Clock) -> None:
    ticks = iter(range(1000))
    with pytest.raises(BenchError, match="40 of 100 events"):
        throughput._watch(
            [_Ledger([(40, 40)])],
            100,
            5,
            "hub",
            clock=clock,
            sleep=lambda _s: None,
            monotonic=lambda: float(next(ticks)),
        )
