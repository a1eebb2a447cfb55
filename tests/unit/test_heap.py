"""The collector settings of the worker and replay: start-up objects frozen, thresholds raised."""

from __future__ import annotations

import gc
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
