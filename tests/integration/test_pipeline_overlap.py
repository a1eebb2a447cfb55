"""The worker prepares a fetch while the one before is still being written (``Pipeline.prepare`` /
``Pipeline.write``): a subject whose events span consecutive fetches must be folded with every
earlier event, including those of the batch not yet written, even when its history is in no cache
(evicted, or a lifecycle that ended) and would otherwise be read from a ledger that lacks them."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline
from tests.integration.test_contacts_properties import _empty, _snapshot
from tests.integration.test_contacts_warehouse import messages
from tests.unit.test_contacts_golden import golden_raw

pytestmark = pytest.mark.integration


def _pipeline(settings: Settings, wh: Warehouse, cache_max_events: int) -> Pipeline:
    return Pipeline(
        settings,
        wh,
        folds=registry.folds(),
        pseudonymisation_key=b"k",
        refreshers=registry.refreshers(),
        cache_max_events=cache_max_events,
    )


def _clean(wh: Warehouse, settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    _empty(wh)
    _pipeline(settings, wh, 20_000).process(messages(golden_raw()))
    found = _snapshot(wh)
    _empty(wh)
    return found


def _one_ahead(pipe: Pipeline, batches: list[list[dict[str, Any]]]) -> None:
    """Prepare every batch before the one before it is written (the worst case of the overlap: the
    batch in flight has written nothing yet), then write them in order."""
    offset = 0
    unwritten = None
    for batch in batches:
        prepared = pipe.prepare(messages(batch, offset))
        offset += len(batch)
        if unwritten is not None:
            pipe.write(unwritten)
        unwritten = prepared
    if unwritten is not None:
        pipe.write(unwritten)


def test_a_subject_split_over_two_fetches_is_folded_whole_with_no_cache(
    wh: Warehouse, settings: Settings
) -> None:
    clean = _clean(wh, settings)
    raw = golden_raw()
    half = len(raw) // 2
    _one_ahead(_pipeline(settings, wh, 0), [raw[:half], raw[half:]])  # a cache of 0 events holds nothing
    assert _snapshot(wh) == clean


def test_a_failed_write_forgets_what_was_prepared_behind_it(wh: Warehouse, settings: Settings) -> None:
    # The second batch was prepared against the first, whose write then failed: the worker forgets
    # both and prepares them again; the figures are those of the clean stream.
    clean = _clean(wh, settings)
    raw = golden_raw()
    half = len(raw) // 2
    pipe = _pipeline(settings, wh, 20_000)
    pipe.prepare(messages(raw[:half]))
    pipe.prepare(messages(raw[half:], half))
    pipe.forget()  # the first write failed before it wrote anything
    _one_ahead(pipe, [raw[:half], raw[half:]])
    assert _snapshot(wh) == clean


@pytest.fixture
def clean(wh: Warehouse, settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """The figures of the clean stream (computed once, not per example)."""
    return _clean(wh, settings)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    duplicates=st.integers(0, 20),
    batches=st.integers(2, 8),
    cache_max_events=st.sampled_from([0, 3, 20_000]),
)
def test_same_figures_whatever_the_split_when_each_fetch_is_prepared_during_the_write_before(
    wh: Warehouse,
    settings: Settings,
    clean: dict[str, list[tuple[Any, ...]]],
    seed: int,
    duplicates: int,
    batches: int,
    cache_max_events: int,
) -> None:
    _empty(wh)
    rnd = random.Random(seed)
    raw = golden_raw()
    arrival = raw + [rnd.choice(raw) for _ in range(duplicates)]
    rnd.shuffle(arrival)
    cuts = sorted(rnd.sample(range(1, len(arrival)), min(batches - 1, len(arrival) - 1)))
    split = [arrival[lo:hi] for lo, hi in zip([0, *cuts], [*cuts, len(arrival)], strict=True)]
    _one_ahead(_pipeline(settings, wh, cache_max_events), split)
    assert _snapshot(wh) == clean
