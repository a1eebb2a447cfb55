"""Garbage-collector settings for long-running processes that hold a large history cache.

The subject-history cache of a busy worker holds about a million objects (26k subjects), and a full
collection of that many takes over a second on this class of machine: a stall that lands on the
freshness tail. The cache holds no reference cycles (frozen pydantic models and tuples), so the
collector has nothing to find in it. Hence:

- :func:`settle_after_startup`: one collection, then :func:`gc.freeze` moves every object alive after
  start-up (modules, models, the contract's validators) out of the collector's reach, and the
  thresholds are raised so young collections run less often;
- :func:`settle`: called every few seconds while running (never per event), it collects the young
  generations and freezes their survivors (the cache entries added since), so a full collection never
  has to walk the cache. Cycles that die after being frozen are not reclaimed until the process ends;
  the pipeline's long-lived objects form none.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)
"""Generation 0 collects after 50,000 net allocations (default 700); gen 1 after 20 of those, gen 2
after 100 gen-1 collections (and, as always, only when enough long-lived objects are pending)."""


def settle_after_startup() -> None:
    """Collect once, freeze everything alive, and raise the collection thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def settle() -> None:
    """Collect the young generations and freeze their survivors (cheap: they are few)."""
    gc.collect(1)
    gc.freeze()
