"""The answer-wait histogram runs on the service clock of the worker's definitions (facts hold none)."""

from __future__ import annotations

import pytest

from schemas.definitions import Definitions
from sinks.prometheus.metrics import ANSWER_WAIT_SECONDS
from streams import registry
from streams.pipeline import BatchReport
from tests.unit.test_contacts_golden import FOLDS, golden_events

pytestmark = pytest.mark.unit


def _c7_report() -> BatchReport:
    events = [e for e in golden_events() if e.subject == "C7"]
    report = BatchReport(events=events)
    for table, rows in FOLDS["call"].fold(events, Definitions()).rows.items():
        report.new_rows[table].extend(rows)
    return report


def _observed(definitions: Definitions) -> float:
    histogram = ANSWER_WAIT_SECONDS.labels("999")
    before = histogram._sum.get()  # type: ignore[attr-defined]
    observe = registry.observers(definitions)[0]
    observe(_c7_report())
    return float(histogram._sum.get() - before)  # type: ignore[attr-defined]


def test_answer_wait_follows_the_999_clock_of_the_definitions() -> None:
    # C7: BT connect 6 s before the offer, queued at the offer, answered 9 s later
    assert _observed(Definitions()) == 9
    assert _observed(Definitions().with_overrides(["calls.clock_start_999=bt_connect"])) == 15
