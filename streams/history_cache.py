"""The pipeline's in-process cache of subject histories, bounded so a long-running worker's memory is flat.

A subject's next event is folded with its whole history; the cache keeps the histories of live
subjects so that history is not re-read from the warehouse ledger. It holds what it is for:

- a subject whose lifecycle has ended (:func:`settled`: a call or chat that ended, an incident
  closed, cancelled or merged, a thread closed, an online report linked) is dropped as soon as it is
  folded. A late event for it reloads its history from the ledger, which holds every kept copy, so
  the fold gives the same rows; the reload is grouped with the batch's new subjects of the same force
  and entity, which need a ledger read anyway (a new subject is always a miss);
- the rest is a least-recently-used map bounded by the number of events it holds (``max_events``,
  the ``history_cache_events`` setting). A cached event costs 2-3 KB of Python heap (a validated,
  de-identified :class:`~schemas.envelope.Envelope` and its payload model, measured with
  tracemalloc: 1.8 KB averaged over every kind, 2.9 KB over what stays once ended subjects leave,
  mostly crimes), so the default of 10,000 events bounds the cache near 30 MB. Crimes, whose
  outcomes come weeks later, are the subjects this bound ends up evicting: at 50 events/s about one
  event in nine stays cached (about 330 a minute), so the cache fills in about half an hour (31
  minutes in a two-hour soak, ``demandhub_history_cache_events``; a bound of 20,000 took an hour
  and was most of a soak's memory growth after its warm-up). An evicted subject's next event
  costs little: its ledger read joins the batch's read for new subjects of its force and entity.

Before this bound the cache held up to 50,000 subjects of any kind (about 220,000 events, 4.4 per
subject in the simulator's mix): at 50 events/s it only filled after about an hour, so a worker's
memory grew for that hour. Eviction never changes a result, only whether the history comes from
here or from the ledger. The pipeline runs its write cycles on worker threads, hence the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from schemas.envelope import Envelope
from schemas.events import verb_of
from streams.domain.base import event_sort_key

SubjectKey = tuple[str, str, str]
"""(force_id, entity, subject): a call and an incident may share an id string, never a history."""

DEFAULT_MAX_EVENTS = 10_000

CLOSING_VERBS: dict[str, frozenset[str]] = {
    "call": frozenset({"ended"}),
    "webchat": frozenset({"ended"}),
    "online_report": frozenset({"linked"}),
    "incident": frozenset({"closed", "cancelled", "merged_as_duplicate"}),
    "social": frozenset({"closed"}),
}
"""Per entity, the verbs that end a subject's lifecycle. A crime has none: its outcome can change
for months, so crimes leave the cache by the event bound alone."""

REOPENING_VERBS: dict[str, frozenset[str]] = {"incident": frozenset({"reopened"})}
"""Per entity, the verbs that bring an ended subject back to life."""


def settled(entity: str, history: Sequence[Envelope]) -> bool:
    """Whether a subject's lifecycle has ended: the latest (in event order) of its closing and
    reopening events is a closing one. A judgement of likelihood only (a late event may still come,
    and is then read from the ledger)."""
    closing = CLOSING_VERBS.get(entity)
    if not closing or not history:
        return False
    reopening = REOPENING_VERBS.get(entity, frozenset())
    last: Envelope | None = None
    for e in history:
        verb = verb_of(e.type)
        if (verb in closing or verb in reopening) and (
            last is None or event_sort_key(e) > event_sort_key(last)
        ):
            last = e
    return last is not None and verb_of(last.type) in closing


class HistoryCache:
    """LRU of the histories of live subjects, bounded by the number of events held."""

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        if max_events < 0:
            raise ValueError("max_events must be >= 0")
        self.max_events = max_events
        self._items: OrderedDict[SubjectKey, tuple[Envelope, ...]] = OrderedDict()
        self._events = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def events(self) -> int:
        """The number of events held (over every subject)."""
        return self._events

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: SubjectKey) -> tuple[Envelope, ...] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
                self._items.move_to_end(key)
            return found

    def put(self, key: SubjectKey, events: tuple[Envelope, ...]) -> None:
        """Keep a subject's history (its most recent use), unless its lifecycle has ended or it alone
        is over the bound; then evict the least recently used subjects until the bound holds."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._events -= len(old)
            if len(events) > self.max_events or settled(key[1], events):
                return
            self._items[key] = events
            self._events += len(events)
            while self._events > self.max_events:
                _, gone = self._items.popitem(last=False)
                self._events -= len(gone)

    def discard(self, key: SubjectKey) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._events -= len(old)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._events = 0
