"""Evicting histories from the pipeline's cache never changes a result.

The same events, in any order and split into batches anywhere, go through a pipeline whose cache
keeps every history (no bound, nothing settled) and through one whose cache keeps almost nothing (a
bound of one event, subjects dropped once their lifecycle ended): every late event of the second
reloads its history from the ledger. The fact tables and open quarantines must be identical.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demandhub.settings import Settings
from schemas.topics import topic_for_type
from sinks.clickhouse.client import Warehouse
from streams import history_cache, registry
from streams.pipeline import Pipeline, RawMessage
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.integration

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "schemas" / "examples"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _examples() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES_DIR.glob("*/*.json")):
        loaded = json.loads(path.read_text())
        found.extend(loaded if isinstance(loaded, list) else [loaded])
    return [e for e in found if e["force_id"] == "cambs" and datetime.fromisoformat(e["time"]) < NOW]


EXAMPLES = _examples()
FACT_TABLES = sorted({t for fold in registry.folds() for t in fold.tables})


def _empty(wh: Warehouse) -> None:
    for (name,) in wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows:
        wh.command(f"TRUNCATE TABLE `{name}`")


def _state(wh: Warehouse) -> dict[str, list[str]]:
    out = {t: sorted(repr(r) for r in wh.query(f"SELECT * FROM `{t}` FINAL").rows) for t in FACT_TABLES}
    out["open_quarantines"] = sorted(
        repr(r)
        for r in wh.query(
            "SELECT subject, reason FROM rejected_events FINAL "
            "WHERE kind = 'quarantine' AND resolved_at IS NULL"
        ).rows
    )
    return out


def _run(
    wh: Warehouse, config: Settings, batches: list[list[dict[str, Any]]], max_events: int
) -> dict[str, Any]:
    _empty(wh)
    pipe = Pipeline(
        config,
        wh,
        registry.folds(),
        TEST_KEY,
        registry.refreshers(),
        cache_max_events=max_events,
        now=lambda: NOW,
    )
    offset = 0
    for batch in batches:
        raws = []
        for e in batch:
            raws.append(RawMessage(topic_for_type(e["type"]).name, 0, offset, json.dumps(e).encode()))
            offset += 1
        pipe.process(raws)
    return _state(wh)


@given(
    order=st.permutations(range(len(EXAMPLES))), cuts=st.sets(st.integers(1, len(EXAMPLES) - 1), max_size=6)
)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_tiny_cache_folds_to_the_same_rows_as_one_that_keeps_everything(
    wh: Warehouse, settings: Settings, monkeypatch: pytest.MonkeyPatch, order: list[int], cuts: set[int]
) -> None:
    events = [EXAMPLES[i] for i in order]
    bounds = [0, *sorted(cuts), len(events)]
    batches = [events[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    tiny = _run(wh, settings, batches, max_events=1)
    with monkeypatch.context() as patched:
        patched.setattr(history_cache, "settled", lambda entity, history: False)
        everything = _run(wh, settings, batches, max_events=10**9)
    assert any(everything[t] for t in FACT_TABLES)
    assert tiny == everything
