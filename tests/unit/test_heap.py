"""The collector settings of the worker and replay: start-up objects frozen, thresholds raised."""

from __future__ import annotations

import ctypes
import gc
import weakref
from collections.abc import Iterator

import pytest

from streams import heap

pytestmark = pytest.mark.unit


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_startup_objects_are_frozen_and_thresholds_raised(restored_gc: None) -> None:
    gc.unfreeze()
    heap.settle_after_startup()
    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold() == heap.THRESHOLDS
    assert gc.get_threshold()[0] > 700


def test_objects_kept_after_startup_are_frozen_too(restored_gc: None) -> None:
    heap.settle_after_startup()
    before = gc.get_freeze_count()
    cache = {i: (str(i), [i]) for i in range(20_000)}  # a history cache growing while running
    heap.settle()
    assert gc.get_freeze_count() >= before + len(cache)
    assert gc.get_count()[2] == 0  # nothing left in the oldest generation for a full collection to walk


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _frozen_cycle() -> weakref.ref[_Node]:
    """A reference cycle alive at a settle (an in-flight future and its callback, say), dropped after."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    heap.settle()
    return weakref.ref(a)


def test_a_cycle_that_dies_while_frozen_is_freed_by_the_periodic_reclaim(restored_gc: None) -> None:
    heap.settle_after_startup()
    gone = _frozen_cycle()
    heap.settle()
    gc.collect(1)
    assert gone() is not None  # frozen: no young collection frees it
    assert heap.reclaim() >= 2
    assert gone() is None
    assert gc.get_freeze_count() > 1000  # the survivors are frozen again


@pytest.mark.skipif(not heap.native_heap(), reason="no glibc mallinfo2 here")
def test_native_heap_counts_what_the_c_allocator_holds() -> None:
    before = heap.native_heap()
    assert 0 < before["glibc_in_use"] <= before["glibc_system"]
    block = ctypes.create_string_buffer(64 << 20)  # 64 MiB through malloc: a block mapped on its own
    during = heap.native_heap()
    assert during["glibc_in_use"] - before["glibc_in_use"] >= 64 << 20
    assert during["glibc_system"] - before["glibc_system"] >= 64 << 20
    del block
    after = heap.native_heap()
    assert after["glibc_in_use"] < during["glibc_in_use"] - (32 << 20)
