"""A first-come-first-served queue with impatient callers (Erlang-A style), simulated event by event.

Agents are a heap of the instants they next become free. Staffing changes on the hour: extra agents
join free at the boundary; surplus agents leave (the one free soonest first, after its current contact).
Callers are handled in arrival order: a caller would start with the agent free soonest, at
``max(arrival, free)`` plus a ring time of a few seconds; if that wait exceeds the caller's patience the caller abandons at
``arrival + patience`` and the agent stays free for the next caller (the virtual-waiting-time
construction, exact for FCFS). A caller willing to take a callback leaves at their callback instant
when the wait would exceed ``callback_after``. Waits and abandonment therefore come from load.

Approximation: a staffing change is applied once the first caller who would still be waiting at the
boundary is handled, so callers arriving just before an hour see the next hour's staffing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.sources.simulator.clock import HOUR

ANSWERED, ABANDONED, CALLBACK = "answered", "abandoned", "callback"


@dataclass(slots=True)
class Entry:
    """A contact joining the queue at ``arrival`` (ms) with its own patience and service (ms)."""

    arrival: int
    patience: int
    service: int
    callback_at: int | None  # ms after arrival the caller asks for a callback, if willing
    pickup: int  # ms an agent takes to pick up once free (ring time)
    on_done: Callable[[Entry, str, int], None]  # (entry, outcome, instant)
    ctx: Any = None


@dataclass
class QueueSim:
    """One queue. ``staffing(hour_start_ms)`` gives the agents on duty for that hour (>= 1)."""

    name: str
    staffing: Callable[[int], int]
    start_ms: int
    callback_after: int = 120_000
    free: list[int] = field(default_factory=list)
    pending: list[tuple[int, int, Entry]] = field(default_factory=list)
    _seq: int = 0
    _boundary: int = 0

    def __post_init__(self) -> None:
        self._boundary = self.start_ms - self.start_ms % HOUR
        self._apply(self._boundary)

    def add(self, entry: Entry) -> None:
        """Queue ``entry`` for processing (any order; processed by arrival time)."""
        self._seq += 1
        self.pending.append((entry.arrival, self._seq, entry))

    def run_until(self, end_ms: int) -> None:
        """Handle every pending contact that arrived before ``end_ms``, in arrival order."""
        if not self.pending:
            return
        batch = sorted(self.pending)
        self.pending = []
        for i, (arrival, _, entry) in enumerate(batch):
            if arrival >= end_ms:
                self.pending.extend(batch[i:])
                break
            self._handle(entry)

    def _apply(self, boundary: int) -> None:
        target = max(1, self.staffing(boundary))
        free = self.free
        while len(free) < target:
            heapq.heappush(free, boundary)
        while len(free) > target:
            heapq.heappop(free)
        self._boundary = boundary + HOUR

    def _handle(self, e: Entry) -> None:
        arrival = e.arrival
        while self._boundary <= arrival:
            self._apply(self._boundary)
        limit = arrival + e.patience
        while True:
            start = max(arrival, self.free[0]) + e.pickup
            if start > self._boundary and self._boundary <= limit:
                self._apply(self._boundary)
                continue
            break
        wait = start - arrival
        if e.callback_at is not None and wait > self.callback_after and e.callback_at < e.patience:
            e.on_done(e, CALLBACK, arrival + e.callback_at)
        elif wait > e.patience:
            e.on_done(e, ABANDONED, limit)
        else:
            heapq.heapreplace(self.free, start + e.service)
            e.on_done(e, ANSWERED, start)
