"""The contract between the pipeline and a domain's pure lifecycle code.

A :class:`Fold` turns the complete, de-duplicated event history of ONE subject (a call, a chat, an
incident, a crime) into fact rows for the warehouse. It must be a pure function of the set of events:
the same events in any order, with any duplicates, give the same rows (the pipeline de-duplicates on
``(source, id)`` and sorts with :func:`event_sort_key` before calling). Rows are plain dicts keyed by
column name; the pipeline adds the ``version`` column (the number of distinct events folded), so a
fuller history replaces an older row in the ReplacingMergeTree fact tables.

Events a fold finds impossible (negative durations, events after closure, ...) are returned in
``quarantined`` with a reason and left out of the facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.definitions import Definitions
from schemas.envelope import Envelope

Row = dict[str, Any]


@dataclass(frozen=True)
class FoldResult:
    rows: dict[str, list[Row]] = field(default_factory=dict)
    quarantined: list[tuple[Envelope, str]] = field(default_factory=list)


class Fold(Protocol):
    """Pure lifecycle of one kind of subject."""

    name: str
    entities: tuple[str, ...]  # event entities (first part of the type) this fold handles
    tables: tuple[str, ...]  # fact tables it writes

    def fold(self, events: Sequence[Envelope], definitions: Definitions) -> FoldResult: ...


def event_sort_key(event: Envelope) -> tuple[Any, ...]:
    """Deterministic order: event time, then source and id (ties broken stably)."""
    return (event.time, event.source, event.id)


def dedupe_sorted(events: Sequence[Envelope]) -> list[Envelope]:
    """One copy of each (source, id), in :func:`event_sort_key` order."""
    seen: dict[tuple[str, str], Envelope] = {}
    for e in events:
        seen.setdefault((e.source, e.id), e)
    return sorted(seen.values(), key=event_sort_key)
