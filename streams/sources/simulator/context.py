"""Per-force generation context: random streams, event emission, district choice, truth facts."""

from __future__ import annotations

import heapq
import random
from bisect import bisect
from collections import defaultdict
from collections.abc import Sequence
from itertools import accumulate, count
from typing import Any

from streams.sources.simulator.clock import MonthIndex, iso
from streams.sources.simulator.geography import District, districts
from streams.sources.simulator.truth import TruthBook

SOURCE_PREFIX = {"telephony": "t", "chat": "w", "portal": "p", "cad": "c", "crime": "k", "social": "s"}


class EventBuffer:
    """Events of every force, released in event-time order one chunk at a time.

    Events before the current chunk's end go to a list sorted at release; later ones wait in a heap.
    Emitting an event earlier than what was already released is a bug and raises.
    """

    def __init__(self) -> None:
        self.ready: list[tuple[int, int, dict[str, Any]]] = []
        self.future: list[tuple[int, int, dict[str, Any]]] = []
        self.chunk_end = 0
        self.released_until = -(2**62)
        self._seq = count()

    def push(self, t: int, event: dict[str, Any]) -> None:
        """Hold ``event`` (event time ``t`` ms) until its chunk is released."""
        if t < self.released_until:
            raise RuntimeError(f"event at {t} emitted after release up to {self.released_until}")
        item = (t, next(self._seq), event)
        if t < self.chunk_end:
            self.ready.append(item)
        else:
            heapq.heappush(self.future, item)

    def release(self, until: int) -> list[dict[str, Any]]:
        """Every held event with time before ``until``, in (time, emission) order."""
        ready = self.ready
        future = self.future
        while future and future[0][0] < until:
            ready.append(heapq.heappop(future))
        ready.sort()
        self.ready = []
        self.released_until = until
        return [item[2] for item in ready]


class ForceContext:
    """Everything one force's generators share. ``keep_events=False`` records truth only (faster)."""

    def __init__(
        self,
        force: str,
        seed: int,
        end_ms: int,
        buffer: EventBuffer,
        months: MonthIndex,
        book: TruthBook,
        keep_events: bool = True,
        run: str = "",
    ) -> None:
        self.force = force
        self.rng = random.Random(f"demandhub-sim:{seed}:{force}")
        self.end = end_ms
        self.buffer = buffer
        self.months = months
        self.book = book
        self.keep_events = keep_events
        self.districts: tuple[District, ...] = districts(force)
        self._district_cum = list(accumulate(d.weight for d in self.districts))
        self._ids = {src: count(1) for src in SOURCE_PREFIX}
        self._prefix = f"{force}-{run}-" if run else f"{force}-"  # a run id keeps runs' ids apart
        self._id_prefix = {src: f"{self._prefix}{p}" for src, p in SOURCE_PREFIX.items()}
        self._subjects: defaultdict[str, count[int]] = defaultdict(lambda: count(1))

    def subject(self, kind: str) -> str:
        """A new entity id of ``kind`` (C call, W web chat, O online report, I incident, R crime)."""
        return f"{self._prefix}{kind}{next(self._subjects[kind])}"

    def emit(self, source: str, etype: str, t: int, subject: str, data: dict[str, Any]) -> bool:
        """Emit one event at ``t`` ms unless it falls after the run's end; True when emitted."""
        if t >= self.end:
            return False
        if self.keep_events:
            self.buffer.push(
                t,
                {
                    "specversion": "1.0",
                    "id": f"{self._id_prefix[source]}{next(self._ids[source])}",
                    "source": source,
                    "type": etype,
                    "time": iso(t),
                    "force_id": self.force,
                    "subject": subject,
                    "data": data,
                },
            )
        return True

    def record(self, kind: str, facts: Any) -> None:
        """Record one entity's raw facts for the truth (see :class:`TruthBook`)."""
        self.book.add(self.force, kind, facts)

    def district(self) -> District:
        """A district drawn by demand weight."""
        return self.districts[bisect(self._district_cum, self.rng.random() * self._district_cum[-1])]

    def weighted_code(self, weighted: Sequence[tuple[str, float]]) -> str:
        """A code drawn by weight with one draw of the force's random stream (the last code when
        rounding leaves the draw past every weight)."""
        u = self.rng.random() * sum(w for _, w in weighted)
        for code, w in weighted:
            if u < w:
                return code
            u -= w
        return weighted[-1][0]
