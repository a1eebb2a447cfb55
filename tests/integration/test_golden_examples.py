"""Every golden example payload in schemas/examples/ validates and goes through the processors cleanly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from demandhub.settings import Settings
from schemas.events import PAYLOADS, parse_event
from schemas.topics import TOPICS, topic_for_type
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
FILES = sorted(EXAMPLES.glob("*/*.json"))


def load(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    return data if isinstance(data, list) else [data]


def test_every_event_type_has_examples() -> None:
    types = {e["type"] for path in FILES for e in load(path)}
    assert types == set(PAYLOADS)


def test_example_folders_are_topics() -> None:
    names = {t.name for t in TOPICS.values()}
    assert {p.parent.name for p in FILES} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_examples_validate_and_process(path: Path, wh: Warehouse, settings: Settings) -> None:
    events = load(path)
    for event in events:
        parsed = parse_event(event)
        assert topic_for_type(parsed.type).name == path.parent.name
    pipeline = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    messages = [RawMessage(path.parent.name, 0, i, json.dumps(e).encode()) for i, e in enumerate(events)]
    report = pipeline.process(messages)
    assert report.dead_letters == []
    assert report.accepted == len({(e["source"], e["id"]) for e in events})
    stored = wh.query("SELECT count() FROM events").rows[0][0]
    assert stored == report.accepted
