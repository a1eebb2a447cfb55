"""The scale-out benchmark's "once started" window: from the moment every worker has made its first
fetch to the last event, over the events not yet written at the last poll before that moment."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bench.throughput import FIRST_FETCH_MARK, _fetched_rate

pytestmark = pytest.mark.unit


def _workers(*launched: float) -> Any:
    return [SimpleNamespace(launched_at=t) for t in launched]


def test_window_starts_at_the_last_workers_first_fetch() -> None:
    hub = _workers(100.0, 100.2)
    marks = [{FIRST_FETCH_MARK: 3.0}, {FIRST_FETCH_MARK: 4.8}]  # fetched at 103.0 and 105.0
    polls = [(103.5, 0), (104.5, 2_000), (105.5, 9_000), (110.0, 60_000)]
    # 2,000 events were in at the last poll before 105.0; 58,000 more by 110.0
    assert _fetched_rate(hub, marks, polls, 60_000, 110.0) == pytest.approx(58_000 / 5.0)


def test_nothing_written_before_the_window_counts_every_event() -> None:
    hub = _workers(10.0)
    assert _fetched_rate(hub, [{FIRST_FETCH_MARK: 2.0}], [(12.5, 0), (20.0, 500)], 500, 20.0) == 500 / 8.0


def test_a_worker_without_a_first_fetch_gives_no_rate() -> None:
    hub = _workers(10.0, 10.0)
    assert _fetched_rate(hub, [{FIRST_FETCH_MARK: 2.0}, {}], [(20.0, 500)], 500, 20.0) == 0.0


def test_a_first_fetch_after_the_last_event_gives_no_rate() -> None:
    hub = _workers(10.0, 10.0)
    marks = [{FIRST_FETCH_MARK: 2.0}, {FIRST_FETCH_MARK: 11.0}]
    assert _fetched_rate(hub, marks, [(20.0, 500)], 500, 20.0) == 0.0


def test_a_run_without_a_window_leaves_its_count_without_a_rate() -> None:
    from bench.scale import _window_mean

    assert _window_mean([18_000.0, 20_000.0]) == 19_000.0
    assert _window_mean([18_000.0, 0.0]) is None  # not a mean pulled down by a run with no window
