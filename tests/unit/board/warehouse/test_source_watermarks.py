"""Completeness watermarks are kept per source system, not per entity: an entity is complete only as
far as the slowest source feeding it; backfill counts only where no live source feeds an entity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse.completeness import assess
from demandhub.board.warehouse.source import entity_watermarks, watermarks_by_source

pytestmark = pytest.mark.unit

APR2 = datetime(2019, 4, 2, 12, tzinfo=UTC)
MAR20 = datetime(2019, 3, 20, tzinfo=UTC)
FEB1 = datetime(2019, 2, 1, tzinfo=UTC)


@dataclass
class _Result:
    rows: list[tuple[Any, ...]]


class FakeWarehouse:
    """Answers the watermark query with fixed (entity, source, latest time) rows."""

    def __init__(self, rows: list[tuple[str, str, datetime]]) -> None:
        self.rows = rows
        self.sql: list[str] = []

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> _Result:
        self.sql.append(sql)
        return _Result(list(self.rows))


def test_a_lagging_source_is_not_hidden_by_another_source_of_the_same_entity() -> None:
    # Calls arrive from telephony to 2 April, but a second feed of the same entity stopped on 20 March.
    wh = FakeWarehouse([("call", "telephony", APR2), ("call", "telephony-2", MAR20)])
    marks = entity_watermarks(wh, "cambs")  # type: ignore[arg-type]
    assert "GROUP BY entity, source" in wh.sql[0]
    assert marks == {"call": MAR20}


def test_a_rare_event_type_is_current_while_its_source_is() -> None:
    # The CAD sent incident events to 2 April; its last "unit" event is from February.
    assert watermarks_by_source([("incident", "cad", APR2), ("unit", "cad", FEB1)]) == {
        "incident": APR2,
        "unit": APR2,
    }


def test_backfill_counts_only_where_no_live_source_feeds_the_entity() -> None:
    rows = [
        ("call", "backfill", datetime(2017, 3, 31, tzinfo=UTC)),
        ("call", "telephony", APR2),
        ("crime", "backfill", FEB1),
    ]
    assert watermarks_by_source(rows) == {"call": APR2, "crime": FEB1}


def test_the_pack_month_is_incomplete_while_one_source_of_a_measure_lags() -> None:
    catalogue = load_catalogue()
    rows = [(e, "live", datetime(2019, 5, 1, tzinfo=UTC)) for m in catalogue.measures for e in m.entities]
    rows.append(("call", "telephony-2", MAR20))
    found = assess(catalogue, watermarks_by_source(rows), PackSettings(), "Europe/London", YearMonth(2019, 3))
    lagging = {m.measure for m in found.lagging}
    call_measures = {m.id for m in catalogue.measures if m.source == "events" and "call" in m.entities}
    assert call_measures and call_measures <= lagging
    assert all("call" in m.blocking for m in found.lagging)
