"""Arrival realities through the pipeline: the same events shuffled, duplicated, split into batches
and reloaded from the ledger give the same facts and the same rollups as the clean stream."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from tests.integration.test_contacts_warehouse import messages, pipeline
from tests.unit.test_contacts_golden import golden_raw

pytestmark = pytest.mark.integration

TABLES = ("events", "rejected_events", "contact_legs", "contacts", "contact_queue_15m", "contact_channel_15m")
SNAPSHOTS = {
    "contact_legs": "SELECT * EXCEPT version FROM contact_legs FINAL ORDER BY leg_id",
    "contacts": "SELECT * EXCEPT version FROM contacts FINAL ORDER BY contact_id",
    "queue": "SELECT * EXCEPT (version, answer_wait_quantiles), "
    "finalizeAggregation(answer_wait_quantiles) AS q FROM contact_queue_15m FINAL ORDER BY ALL",
    "channel": "SELECT * EXCEPT version FROM contact_channel_15m FINAL ORDER BY ALL",
}


def _empty(wh: Warehouse) -> None:
    for table in TABLES:
        wh.command(f"TRUNCATE TABLE IF EXISTS {table}")


def _snapshot(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    return {name: wh.query(sql).rows for name, sql in SNAPSHOTS.items()}


@pytest.fixture
def clean(wh: Warehouse, settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Warehouse figures of the clean stream, processed in one batch."""
    _empty(wh)
    pipeline(settings, wh).process(messages(golden_raw()))
    found = _snapshot(wh)
    _empty(wh)
    return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    duplicates=st.integers(0, 30),
    batches=st.integers(1, 8),
    reload=st.booleans(),
)
def test_same_warehouse_figures_whatever_the_arrival(
    wh: Warehouse,
    settings: Settings,
    clean: dict[str, list[tuple[Any, ...]]],
    seed: int,
    duplicates: int,
    batches: int,
    reload: bool,
) -> None:
    _empty(wh)
    rnd = random.Random(seed)
    raw = golden_raw()
    arrival = raw + [rnd.choice(raw) for _ in range(duplicates)]
    rnd.shuffle(arrival)
    cuts = sorted(rnd.sample(range(1, len(arrival)), min(batches - 1, len(arrival) - 1)))
    pipe = pipeline(settings, wh)
    for n, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, len(arrival)], strict=True)):
        if reload and n % 2:
            pipe.cache.clear()  # the next batch reloads histories from the ledger
        pipe.process(messages(arrival[lo:hi], lo))
    assert _snapshot(wh) == clean
