"""Fault injection on the event stream (pure: dicts in, dicts out; bytes-level faults live in
``output.write_jsonl``).

Order of operations per clean event: fill personal fields (``pii_free_text``); maybe emit an extra
malformed or hostile event beside it (fresh id, always invalid against the contract); then hold it
back (late / out of order) or emit it, maybe twice (duplicate). Held events are released once the
stream's event time passes their release instant, and all are released at the end. The random
stream here is separate from the generator's, so faults never change what is generated.
"""

from __future__ import annotations

import copy
import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streams.sources.simulator.clock import SECOND
from streams.sources.simulator.config import Faults
from streams.sources.simulator.pii import fill_personal_fields

MALFORMED_KINDS = (
    "missing_time",
    "naive_time",
    "unknown_type",
    "bad_force",
    "missing_data_field",
    "wrong_enum",
    "not_a_date",
)
HOSTILE_KINDS = ("huge_string", "wrong_types", "deep_nesting", "unknown_fields", "data_not_object")


@dataclass
class FaultReport:
    """How many of each fault were injected (filled while the stream is consumed)."""

    events: int = 0
    duplicates: int = 0
    late: int = 0
    out_of_order: int = 0
    malformed: int = 0
    hostile: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def invalid(self) -> int:
        """Events in the stream that must fail validation."""
        return self.malformed + self.hostile


def _time_ms(event: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(event["time"]).timestamp() * 1000)


class FaultInjector:
    """Applies :class:`Faults` to a clean, ordered stream."""

    def __init__(self, faults: Faults, seed: int, report: FaultReport) -> None:
        self.f = faults
        self.rng = random.Random(f"demandhub-sim-faults:{seed}")
        self.report = report
        self._held: list[tuple[int, int, dict[str, Any]]] = []
        self._seq = 0
        self._bad = 0

    def apply(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        f, rng, report = self.f, self.rng, self.report
        for event in events:
            report.events += 1
            now = _time_ms(event)
            yield from self._release(now)
            if f.pii_free_text:
                fill_personal_fields(event, rng)
            if f.malformed_rate and rng.random() < f.malformed_rate:
                yield self._malformed(event)
            if f.hostile_rate and rng.random() < f.hostile_rate:
                yield self._hostile(event)
            u = rng.random()
            if u < f.late_rate:
                report.late += 1
                self._hold(now + 1 + int(rng.random() * f.max_lateness_seconds * SECOND), event)
            elif u < f.late_rate + f.out_of_order_rate:
                report.out_of_order += 1
                self._hold(now + SECOND + rng.randrange(120 * SECOND), event)
            else:
                yield from self._emit(event)
        yield from self._release(None)

    def _emit(self, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield event
        if self.f.duplicate_rate and self.rng.random() < self.f.duplicate_rate:
            self.report.duplicates += 1
            yield copy.deepcopy(event)

    def _hold(self, release: int, event: dict[str, Any]) -> None:
        self._seq += 1
        heapq.heappush(self._held, (release, self._seq, event))

    def _release(self, now: int | None) -> Iterator[dict[str, Any]]:
        held = self._held
        while held and (now is None or held[0][0] <= now):
            yield from self._emit(heapq.heappop(held)[2])

    def _bad_copy(self, event: dict[str, Any], kinds: tuple[str, ...]) -> tuple[dict[str, Any], str]:
        self._bad += 1
        bad = copy.deepcopy(event)
        bad["id"] = f"{event['id']}-x{self._bad}"
        kind = kinds[self._bad % len(kinds)]
        self.report.by_kind[kind] = self.report.by_kind.get(kind, 0) + 1
        return bad, kind

    def _malformed(self, event: dict[str, Any]) -> dict[str, Any]:
        self.report.malformed += 1
        bad, kind = self._bad_copy(event, MALFORMED_KINDS)
        if kind == "missing_time":
            del bad["time"]
        elif kind == "naive_time":
            bad["time"] = bad["time"].rstrip("Z")
        elif kind == "unknown_type":
            bad["type"] = bad["type"].rsplit(".", 2)[0] + ".exploded.v1"
        elif kind == "bad_force":
            bad["force_id"] = "Not A Force!"
        elif kind == "missing_data_field":
            bad["data"] = {}
            bad["type"] = "incident.graded.v1" if bad["type"].startswith("incident") else "call.queued.v1"
        elif kind == "wrong_enum":
            bad["type"] = "call.abandoned.v1"
            bad["data"] = {"stage": "on_hold_forever"}
        else:
            bad["time"] = "yesterday-ish"
        return bad

    def _hostile(self, event: dict[str, Any]) -> dict[str, Any]:
        self.report.hostile += 1
        bad, kind = self._bad_copy(event, HOSTILE_KINDS)
        if kind == "huge_string":
            bad["type"] = "call.ended.v1"
            bad["data"] = {"disposition": "advice_given", "notes": "A" * 100_000}
        elif kind == "wrong_types":
            bad["subject"] = {"$ne": None}
            bad["time"] = 1_700_000_000
        elif kind == "deep_nesting":
            nested: dict[str, Any] = {}
            for _ in range(200):
                nested = {"x": nested}
            bad["data"] = nested
        elif kind == "unknown_fields":
            bad["data"] = {**bad["data"], "__proto__": {"admin": True}, "'; DROP TABLE events; --": 1}
        else:
            bad["data"] = ["not", "an", "object"]
        return bad
