"""The contract between the pipeline and a domain's pure lifecycle code.

A :class:`Fold` turns the complete, de-duplicated event history of ONE subject (a call, a chat, an
incident, a crime) into fact rows for the warehouse. It must be a pure function of the set of events:
the same events in any order, with any duplicates, give the same rows (the pipeline de-duplicates on
``(source, id)`` and sorts with :func:`event_sort_key` before calling). Rows are plain dicts keyed by
column name; the pipeline adds the ``version`` column (the number of distinct events folded), so a
fuller history replaces an older row in the ReplacingMergeTree fact tables.

Events a fold finds impossible (negative durations, events after closure, a contact with no offer,
...) are returned in ``quarantined`` with a reason and left out of the facts. A fold is re-run over the
whole history each time, so a quarantine that a later event resolves (the offer arrives after the
answer) simply disappears from the next result; the pipeline records both transitions.

Copies: two events with the same ``(source, id)`` are copies of one event. Identical copies
(redeliveries) are one event. Copies that differ (a source that re-used an id, or a hostile one) are
a conflict: :func:`dedupe_sorted` keeps one of them by a total order on the copies that does not
depend on delivery (:func:`copy_rank`), and :func:`conflicts` lists the others with the names (never
the values) of the fields that differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.canonical import json_hash
from schemas.definitions import Definitions
from schemas.envelope import Envelope
from schemas.events import verb_of

Row = dict[str, Any]

OPENING_VERBS = frozenset({"offered", "submitted", "created", "recorded", "received"})
"""Verbs that open a subject's lifecycle (a contact without its opening event has no fact; ``received``
opens a social media thread)."""

CONFLICT_CLASS = "conflicting_duplicate"


@dataclass(frozen=True)
class FoldResult:
    """A fold's rows and quarantines. Every row is a dict made for this result, which its caller
    owns (the pipeline adds the ``version`` column to the rows it writes, in place)."""

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


def _content(event: Envelope) -> dict[str, Any]:
    """What the ledger keeps of an event besides its identity: type, time and payload."""
    dumped = event.model_dump(mode="json")
    return {"type": dumped["type"], "time": dumped["time"], "data": dumped["data"]}


def fingerprint(event: Envelope) -> str:
    """Hash of an event's content (type, time, payload); identical copies share it, whatever the
    order of keys or the path (broker or ledger) they came by."""
    return json_hash(_content(event))


def copy_key(event: Envelope) -> tuple[str, str, str]:
    """One distinct copy: ``(source, id, fingerprint)``."""
    return (*event.dedup_key, fingerprint(event))


def copy_rank(event: Envelope) -> tuple[int, str]:
    """Total order on the copies of one ``(source, id)``; the smallest is kept.

    A copy that opens a lifecycle (offered, submitted, created, recorded, received) ranks first, so a conflict
    never takes away the event a subject's facts hang on; then the smallest content hash. Neither
    depends on which copy arrived first."""
    return (0 if verb_of(event.type) in OPENING_VERBS else 1, fingerprint(event))


def _kept(events: Sequence[Envelope]) -> dict[tuple[str, str], Envelope]:
    """The kept copy per (source, id); content is hashed only where there are several copies."""
    groups: dict[tuple[str, str], list[Envelope]] = {}
    for e in events:
        groups.setdefault(e.dedup_key, []).append(e)
    return {k: copies[0] if len(copies) == 1 else min(copies, key=copy_rank) for k, copies in groups.items()}


def _all_distinct(events: Sequence[Envelope]) -> bool:
    """Whether no two events share a ``(source, id)`` (the usual case: nothing to choose between)."""
    return len({(e.source, e.id) for e in events}) == len(events)


def dedupe(events: Sequence[Envelope]) -> list[Envelope]:
    """One copy of each (source, id), the smallest by :func:`copy_rank`, in no particular order (for
    a fold that sorts them by an order of its own that ends with source and id)."""
    if _all_distinct(events):  # every event is its own kept copy
        return list(events)
    return list(_kept(events).values())


class _DedupedSorted(list[Envelope]):
    """A result of :func:`dedupe_sorted` (never changed after it is made): given back to it, as the
    pipeline gives a subject's history to a fold that dedupes and sorts it again, it is its own
    answer, and a copy of it is returned without hashing or sorting anything."""

    __slots__ = ()


def dedupe_sorted(events: Sequence[Envelope]) -> list[Envelope]:
    """One copy of each (source, id), the smallest by :func:`copy_rank`, in :func:`event_sort_key`
    order. The result depends only on the set of copies, never on their order. (A list this function
    returned is already one; the callers never change one.)"""
    if type(events) is _DedupedSorted:
        return _DedupedSorted(events)
    return _DedupedSorted(sorted(dedupe(events), key=event_sort_key))


def sorted_distinct(events: Sequence[Envelope]) -> list[Envelope]:
    """:func:`dedupe_sorted` of events the caller knows to be distinct (no two share a ``(source,
    id)``), without looking for copies: the events in :func:`event_sort_key` order."""
    return _DedupedSorted(sorted(events, key=event_sort_key))


def differing_fields(a: Envelope, b: Envelope) -> list[str]:
    """Dotted names of the content fields in which two copies differ (names only, never values)."""
    out: list[str] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                walk(x.get(k), y.get(k), f"{path}.{k}" if path else str(k))
        elif x != y:
            out.append(path or "content")

    walk(_content(a), _content(b), "")
    return out


def conflicts(events: Sequence[Envelope]) -> list[tuple[Envelope, str]]:
    """Every copy that :func:`dedupe_sorted` does not keep, with its reason; one entry per distinct
    copy, in a deterministic order."""
    if _all_distinct(events):
        return []
    counts: dict[tuple[str, str], int] = {}
    for e in events:
        counts[e.dedup_key] = counts.get(e.dedup_key, 0) + 1
    several = [e for e in events if counts[e.dedup_key] > 1]
    if not several:
        return []
    kept = _kept(several)
    seen: set[tuple[str, str, str]] = set()
    out: list[tuple[Envelope, str]] = []
    for e in sorted(several, key=copy_key):
        winner = kept[e.dedup_key]
        key = copy_key(e)
        if key in seen or key == copy_key(winner):
            continue
        seen.add(key)
        fields = ", ".join(differing_fields(winner, e))
        out.append(
            (
                e,
                f"{CONFLICT_CLASS}: another copy of this (source, id) differs in {fields}; "
                "the copy first by the hub's total order (opening event, then content hash) is kept",
            )
        )
    return out
