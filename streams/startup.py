"""The worker's start-up: what runs at once, and when each step ended.

From launch the worker has three long waits that do not depend on each other: its consumer's group
join (tansu holds a join for about half the 6 s session timeout), importing faust and the web
server (about 1 s), and opening the warehouse (loading chDB's library, the engine opening every
part, then the migrations). The join starts first, on the event loop faust later runs on
(:class:`streams.hot_consumer.EarlyJoin`), while the imports run on a thread; :class:`Opening` runs
the warehouse's opening on a thread of its own. The hot path takes the joined consumer once faust
runs it and waits for the warehouse only before its first write cycle (:mod:`streams.app`).
Threads only: a process must not fork once chDB is loaded.

:class:`StartupMarks` records the seconds from the process's launch to each step (:data:`STAGES`),
logs them at debug and sets ``demandhub_worker_startup_seconds{stage}`` (read by the throughput
benchmark).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Generic, TypeVar

from sinks.prometheus import metrics as m

log = logging.getLogger(__name__)

T = TypeVar("T")

JOIN_STARTED = "join_started"
IMPORTS = "imports"
WAREHOUSE_OPEN = "warehouse_open"
MIGRATED = "migrated"
FAUST_STARTED = "faust_started"
TOPICS_DECLARED = "topics_declared"
CONSUMER_ASSIGNED = "consumer_assigned"
FIRST_FETCH = "first_fetch"
FIRST_CYCLE = "first_cycle"
STAGES = (
    JOIN_STARTED,
    TOPICS_DECLARED,
    IMPORTS,
    WAREHOUSE_OPEN,
    MIGRATED,
    FAUST_STARTED,
    CONSUMER_ASSIGNED,
    FIRST_FETCH,
    FIRST_CYCLE,
)
"""The marks, in about the order the worker reaches them: the consumer's topic declaration and group
join begin first (:class:`streams.hot_consumer.EarlyJoin`) and run beside the imports, the
warehouse's two steps (on a thread of their own) and faust's start; the join ends at
``consumer_assigned``. (With ``processing_guarantee=exactly_once`` faust's agents consume instead of
the hot path: only ``imports``, the warehouse's two and ``faust_started`` are marked.)"""


def process_started_at() -> float | None:
    """The wall-clock time this process was launched (Linux ``/proc``, to 10 ms); None elsewhere."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))


class StartupMarks:
    """Seconds from launch to each start-up step (the first time each is reached)."""

    def __init__(self, launched_at: float | None = None) -> None:
        self.launched_at = launched_at or process_started_at() or time.time()
        self._marks: dict[str, float] = {}

    def mark(self, stage: str) -> None:
        if stage in self._marks:
            return
        seconds = time.time() - self.launched_at
        self._marks[stage] = seconds
        m.WORKER_STARTUP_SECONDS.labels(stage).set(seconds)
        log.debug("start-up: %s %.3f s after launch", stage, seconds)

    def __contains__(self, stage: object) -> bool:
        return stage in self._marks

    def seconds(self) -> dict[str, float]:
        return dict(self._marks)


class Opening(Generic[T]):
    """``open_()`` run once on a thread of its own, started at once; its result (or exception) is
    awaited by the event loop (:meth:`wait`) or waited for by a plain thread (:meth:`result`)."""

    def __init__(self, open_: Callable[[], T], name: str = "opening") -> None:
        self._open = open_
        self._future: Future[T] = Future()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @classmethod
    def of(cls, value: T) -> Opening[T]:
        """An opening that is already done with ``value``."""
        done: Opening[T] = cls(lambda: value)
        done._future.set_result(value)
        return done

    def start(self) -> Opening[T]:
        if not self._future.done():
            self._thread.start()
        return self

    def _run(self) -> None:
        # Running, the future can no longer be cancelled: a waiter cancelled meanwhile (a worker
        # stopping during start-up cancels its tasks, and asyncio passes that on to the future it
        # wrapped) leaves the result to the others, and to whoever closes what was opened.
        if not self._future.set_running_or_notify_cancel():
            return
        try:
            self._future.set_result(self._open())
        except BaseException as exc:  # handed to whoever waits
            self._future.set_exception(exc)

    @property
    def done(self) -> bool:
        return self._future.done()

    async def wait(self) -> T:
        """The result, once open (raises what the opening raised)."""
        return await asyncio.wrap_future(self._future)

    def result(self, timeout: float | None = None) -> T:
        """The result, blocking this thread until open (raises what the opening raised)."""
        return self._future.result(timeout)
