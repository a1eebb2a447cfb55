"""streams reads its configuration through protocols it owns; the shell's Settings satisfies them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from demandhub.settings import Settings
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from streams.config import PipelineConfig, WorkerConfig
from streams.pipeline import DeadLetter, Pipeline, RawMessage

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CALLS = "demandhub.contacts.call.v1"


@dataclass(frozen=True)
class OnlyPipelineConfig:
    """Exactly the attributes of PipelineConfig and nothing of Settings besides."""

    definitions: Definitions = field(default_factory=Definitions)
    max_event_bytes: int = 1_000_000
    max_event_depth: int = 32
    max_event_items: int = 10_000
    future_tolerance_seconds: int = 300
    earliest_event_year: int = 2000
    allowed_forces: tuple[str, ...] = ("cambs",)


def test_settings_satisfy_the_stream_protocols() -> None:
    settings = Settings()
    assert isinstance(settings, PipelineConfig)
    assert isinstance(settings, WorkerConfig)
    assert isinstance(settings.data_dir, Path) and isinstance(settings.resolved_dsn, str)


def test_a_config_without_worker_settings_is_no_worker_config() -> None:
    assert isinstance(OnlyPipelineConfig(), PipelineConfig)
    assert not isinstance(OnlyPipelineConfig(), WorkerConfig)


def test_the_pipeline_runs_on_nothing_but_its_protocol() -> None:
    pipeline = Pipeline(OnlyPipelineConfig(), cast(Warehouse, None), (), b"k", now=lambda: NOW)
    event = {
        "id": "e1",
        "source": "telephony",
        "type": "call.queued.v1",
        "time": "2026-06-01T11:00:00Z",
        "force_id": "cambs",
        "subject": "C1",
        "data": {"queue": "999"},
    }
    ok = pipeline.decode(RawMessage(CALLS, 0, 0, json.dumps(event).encode()))
    assert not isinstance(ok, DeadLetter) and ok.subject == "C1"
    other = pipeline.decode(RawMessage(CALLS, 0, 1, json.dumps(event | {"force_id": "kent"}).encode()))
    assert isinstance(other, DeadLetter)
