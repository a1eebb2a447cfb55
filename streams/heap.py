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
  has to walk the cache;
- :func:`reclaim`: called every few minutes, it gives the frozen objects back to the collector, runs
  one full collection and freezes the survivors again. A settle freezes whatever is alive at that
  instant, in-flight objects included (a fetch's records, asyncio futures and their callbacks, a web
  request, the Kafka client's buffers), and the ones among them that form reference cycles are never
  freed while frozen, whatever happens to them: a steady leak of about 4,000 objects a minute in a
  worker at 50 events/s until the insert contexts' cycle was broken (about 55 a minute since). The
  full collection costs 35-50 ms of CPU over 123,000 tracked objects (in process, the write path with
  faust, aiokafka and aiohttp imported; a soak worker holds about 200,000), every five minutes: far
  from the freshness tail's one event in a hundred.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache

THRESHOLDS = (1_000_000, 20, 100)
"""Generation 0 collects after 1,000,000 net allocations (default 700); gen 1 after 20 of those, gen
2 after 100 gen-1 collections (and, as always, only when enough long-lived objects are pending).

A write cycle's objects (its events, fold rows, ledger rows) hold no reference cycles and live until
the cycle is written, so a young collection during a cycle walks them and frees nothing. At 50,000
(the earlier value) a worker under a backlog ran one every 6,000 events or so, 8-30 ms each and
every one of them finding nothing; at 1,000,000 none ran in three cycles of 20,000 between two
:func:`settle` calls (which collect the young generations every ``HEAP_SETTLE_SECONDS`` whatever
this says, so cyclic garbage still lives at most that long). In process over 14 simulated days in
cycles of 20,000: collections 3.8 -> 1.5 us of CPU an event; the longest pause is a settle's either
way (87-130 ms under that backlog)."""


def settle_after_startup() -> None:
    """Collect once, freeze everything alive, and raise the collection thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def settle() -> None:
    """Collect the young generations and freeze their survivors (cheap: they are few)."""
    gc.collect(1)
    gc.freeze()


def reclaim() -> int:
    """Unfreeze, collect every generation, freeze the survivors again; the number of unreachable
    objects the collection found (the cycles that died while frozen, and their garbage)."""
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    return found


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@cache
def _mallinfo2() -> object | None:
    """glibc's ``mallinfo2`` (2.33 and later), or None where there is none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        fn = ctypes.CDLL(name).mallinfo2
    except (OSError, AttributeError, TypeError):
        return None
    fn.restype = _MallInfo2
    fn.argtypes = []
    return fn


def native_heap() -> dict[str, int]:
    """What the C allocator Python uses (glibc's malloc) holds, summed over every arena, in bytes:
    ``glibc_system`` (taken from the system: the arenas' heaps and the large blocks mapped on their
    own), ``glibc_in_use`` (handed out and not freed). Their difference is memory the allocator keeps
    for reuse. Empty where glibc's ``mallinfo2`` is missing. The embedded engine allocates through
    an allocator of its own, which neither figure counts (see ``WORKER_NATIVE_HEAP_BYTES``)."""
    fn = _mallinfo2()
    if fn is None:
        return {}
    info = fn()  # type: ignore[operator]
    return {
        "glibc_system": int(info.arena + info.hblkhd),
        "glibc_in_use": int(info.uordblks + info.hblkhd),
    }
