"""The board pack's reads started ahead, on read handles of their own, and collected where used.

Most of a pack's time is statements run one after another (the ledger scan, then each domain
reader's monthly rows), and they are independent reads. The engine runs a statement outside
Python's lock, and two handles never wait for each other (``sinks.clickhouse.client``), so
:class:`ReadsAhead` runs the domain readers that do not need the ledger's watermarks on a few
*lanes* (a thread and a read handle each) while the caller scans the ledger and reads the rest on
its own handle. :func:`~demandhub.board.warehouse.source.event_series` then takes each result
where it would have read it.

What a pack reads and computes is unchanged: a read started ahead is the same call with the same
arguments, taken only when its arguments equal those of the read it replaces (anything else is read
in place, as before), and the results are used in the same order. A read that fails raises its own
exception where the read would have run; a lane whose handle cannot be opened runs its reads on the
caller's handle. :meth:`ReadsAhead.close` gives up reads not yet started, waits for those running
and closes every handle it opened.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sinks.clickhouse.client import Warehouse

LANES = 2
"""Read handles (and threads) of a pack: the caller's own thread reads too, and the machines the
pack runs on have two cores or more."""


class _Lane:
    """One thread and the read handle it opens for itself on its first read."""

    def __init__(self, wh: Warehouse, name: str) -> None:
        self._wh = wh
        self._name = name
        self._handle: Warehouse | None = None
        self._broken = False
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def handle(self) -> Warehouse:
        """The lane's read handle (opened on the lane's thread, so the opening overlaps the caller's
        work); the caller's handle when none can be opened."""
        if self._handle is None and not self._broken:
            try:
                self._handle = self._wh.open_reader(self._name)
            except Exception:  # any failure: read on the caller's handle, as before
                self._broken = True
        return self._handle or self._wh

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class ReadsAhead:
    """Reads of one pack started ahead on :data:`LANES` lanes (module docstring). Use as a context
    manager, or call :meth:`close`."""

    def __init__(self, wh: Warehouse, lanes: int = LANES) -> None:
        self._lanes = [_Lane(wh, f"board-{n}") for n in range(max(1, lanes))]
        self._reads: dict[Hashable, Future[Any]] = {}
        self._closed = False

    def start(self, lane: int, key: Hashable, read: Callable[[Warehouse], Any]) -> None:
        """Run ``read(handle)`` on lane ``lane`` (reads of one lane run in the order started);
        :meth:`take` with an equal ``key`` collects it."""
        if self._closed:
            raise RuntimeError("reads ahead are closed")
        chosen = self._lanes[lane % len(self._lanes)]
        self._reads[key] = chosen.executor.submit(lambda: read(chosen.handle()))

    def take(self, key: Hashable) -> Future[Any] | None:
        """The read started under ``key`` (once; its result or exception is the read's own), or
        None when none was: the caller then reads in place."""
        return self._reads.pop(key, None)

    @property
    def started(self) -> Sequence[Hashable]:
        """Keys of the reads started and not yet taken."""
        return list(self._reads)

    def close(self) -> None:
        """Give up reads not started, wait for those running, close every handle opened."""
        if self._closed:
            return
        self._closed = True
        self._reads.clear()
        for lane in self._lanes:
            lane.close()

    def __enter__(self) -> ReadsAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
