"""Completeness of a pack month: which event measures are incomplete and why, and when to refuse."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse.completeness import assess, month_not_ended, no_data

pytestmark = pytest.mark.unit

CATALOGUE = load_catalogue()
MARCH = YearMonth(2019, 3)


def marks(crime: datetime, others: datetime) -> dict[str, datetime]:
    entities = {e for m in CATALOGUE.measures for e in m.entities}
    return {e: (crime if e == "crime" else others) for e in entities}


def test_crime_three_days_after_month_end_is_incomplete_and_named_with_its_watermark() -> None:
    late = datetime(2019, 4, 3, 12, 0, 0, 123456, tzinfo=UTC)
    found = assess(CATALOGUE, marks(late, late), PackSettings(), "Europe/London", MARCH)
    crime = [m for m in found.incomplete if m.measure == "crime_all"]
    assert crime and crime[0].complete_through == YearMonth(2019, 2)
    assert (
        crime[0].reason() == "crime events to 2019-04-03T12:00:00Z, 240 h settling; complete through 2019-02"
    )
    assert found.incomplete and all("crime" in m.feeds for m in found.incomplete)
    assert 0 < found.share < 1
    refusal = found.refusal(0.0)
    assert refusal is not None and "\n" not in refusal
    assert "sources: " in refusal and "crime (events to 2019-04-03T12:00:00Z)" in refusal
    assert found.refusal(1.0) is None
    warning = found.warning()
    assert warning is not None and warning.startswith("warning: 2019-03: ")
    # Ten days after the month's end crime has settled: nothing to warn about.
    settled = datetime(2019, 4, 12, tzinfo=UTC)
    assert (
        assess(CATALOGUE, marks(settled, settled), PackSettings(), "Europe/London", MARCH).warning() is None
    )


def test_a_feed_with_no_events_is_named_but_not_counted_as_incomplete() -> None:
    settled = datetime(2019, 4, 12, tzinfo=UTC)
    only_calls = {"call": settled}
    found = assess(CATALOGUE, only_calls, PackSettings(), "Europe/London", MARCH)
    assert found.without_events and not found.lagging
    assert found.share == 0.0 and found.refusal(0.0) is None
    warning = found.warning()
    assert warning is not None and "no events at all for" in warning and "crime (no events)" in warning


def test_months_not_ended_and_months_without_data_are_refused() -> None:
    assert month_not_ended(YearMonth(2030, 1), date(2026, 12, 5)) == (
        "2030-01 is in the future (today is 2026-12-05): choose an ended month, or --month auto"
    )
    assert month_not_ended(YearMonth(2026, 12), date(2026, 12, 5)) is not None
    assert month_not_ended(YearMonth(2026, 11), date(2026, 12, 5)) is None
    empty = {"measures": [{"id": "a", "current": None}, {"id": "b", "current": None}]}
    assert no_data(YearMonth(2020, 1), "cambs", empty) == (
        "no data for force cambs in 2020-01: every measure is n/a (before the data starts?)"
    )
    assert no_data(YearMonth(2020, 1), "cambs", {"measures": [{"id": "a", "current": 3.0}]}) is None
