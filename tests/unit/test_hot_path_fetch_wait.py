"""The hot path's consumer lets the broker hold an idle fetch for at most FETCH_MAX_WAIT_MS, and the
benchmarks' bare consumer reads the broker the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import aiokafka
import pytest

import bench.bare
import streams.app
from demandhub.settings import Settings
from streams.app import HotPath
from streams.hot_consumer import FETCH_MAX_WAIT_MS

pytestmark = pytest.mark.unit


class Recorded:
    """Stands in for AIOKafkaConsumer: keeps the arguments it was built with."""

    last: ClassVar[dict[str, Any]] = {}

    def __init__(self, *topics: str, **kwargs: Any) -> None:
        Recorded.last = kwargs


def test_the_hot_path_consumer_lets_an_idle_fetch_wait_well_under_the_freshness_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tansu looks for new records again only after half the remaining wait, so aiokafka's default
    # (500 ms) delays an event produced during the wait by up to 250 ms: most of a 0.3 s budget.
    monkeypatch.setattr(streams.app, "AIOKafkaConsumer", Recorded)
    hot = HotPath(None, "", "g", Settings(data_dir=tmp_path), None, {})  # type: ignore[arg-type]
    hot._consumer()
    assert Recorded.last["fetch_max_wait_ms"] == FETCH_MAX_WAIT_MS
    assert FETCH_MAX_WAIT_MS <= 100


def test_the_bare_baseline_consumer_waits_like_the_hot_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", Recorded)
    bench.bare._consumer("127.0.0.1:1", "g")
    assert Recorded.last["fetch_max_wait_ms"] == FETCH_MAX_WAIT_MS
