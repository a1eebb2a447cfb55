"""The worker's memory gauges read every few seconds: the history cache's events among them, so a soak
can tell the cache filling (start-up) from a growth."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from demandhub.settings import Settings
from sinks.prometheus import metrics as m
from streams.app import sample_memory
from streams.replay_shards import offline_pipeline
from tests.conftest import TEST_KEY
from tests.unit.test_history_cache import call, key

pytestmark = pytest.mark.unit


def test_the_history_cache_gauge_follows_the_events_it_holds(tmp_path: Path) -> None:
    pipeline = offline_pipeline(Settings(data_dir=tmp_path, force_id="cambs"), TEST_KEY)
    live, other = call("C-1", ended=False), call("C-2", ended=False)
    pipeline.cache.put(key(live[0]), live)
    pipeline.cache.put(key(other[0]), other)
    sample_memory(pipeline)
    assert m.HISTORY_CACHE_EVENTS._value.get() == len(live) + len(other) == 6
    pipeline.cache.discard(key(live[0]))
    sample_memory(pipeline)
    assert m.HISTORY_CACHE_EVENTS._value.get() == 3
    assert 0 < m.WORKER_PYTHON_BLOCKS._value.get() <= sys.getallocatedblocks() * 2
