"""The contacts reader checks its rollups once per read of a pack's months (demandhub/queries/contacts.py,
sinks/clickhouse/contacts_sql.py ``month_rows``)."""

from __future__ import annotations

from typing import Any

import pytest

from demandhub.board.maths.months import YearMonth
from demandhub.queries import contacts
from schemas.definitions import Definitions
from sinks.clickhouse.client import QueryResult
from sinks.clickhouse.rollups import all_rollups
from sinks.clickhouse.rollups_contacts import CHANNEL_ROLLUP, QUEUE_ROLLUP

pytestmark = pytest.mark.unit


class _Recording:
    """Stands in for a read handle: both contact rollups recorded under ``recorded`` (or none),
    nothing logged for a refresh, no rows; keeps each statement."""

    dsn = "chdb://memory-recording"

    def __init__(self, recorded: Definitions | None) -> None:
        self.recorded = recorded
        self.statements: list[str] = []

    def query(self, sql: str, parameters: dict[str, Any] | None = None, **_: Any) -> QueryResult:
        self.statements.append(sql)
        if "FROM applied_definitions" in sql and self.recorded is not None:
            assert parameters is not None
            names = parameters.get("ns") or [parameters["n"]]
            rows = [(name, _hash(name, self.recorded), self.recorded.model_dump_json()) for name in names]
            return QueryResult(("name", "definition_hash", "definitions"), (), rows)
        return QueryResult((), (), [])


def _hash(table: str, definitions: Definitions) -> str:
    return next(r for r in all_rollups() if r.table == table).definition_hash(definitions)


def _statements(recorded: Definitions | None, definitions: Definitions) -> list[str]:
    wh = _Recording(recorded)
    cells = contacts.monthly_cells(wh, "cambs", YearMonth(2024, 1), YearMonth(2024, 12), definitions)  # type: ignore[arg-type]
    assert all(not months for months in cells.values())
    return wh.statements


def test_the_rollups_are_checked_once_before_the_reads() -> None:
    definitions = Definitions()
    statements = _statements(definitions, definitions)
    assert sum("FROM applied_definitions" in s for s in statements) == 1
    assert sum("FROM rollup_dirty" in s for s in statements) == 1
    reads = [s for s in statements if "applied_definitions" not in s and "rollup_dirty" not in s]
    # the channel rollup is recorded under the definitions asked: one read of it answers both the
    # volumes and each channel's first month
    assert len(reads) == 2
    assert [f"FROM {CHANNEL_ROLLUP.table} FINAL" in s for s in reads] == [True, False]
    assert "{lo:" not in reads[0]
    assert f"FROM {QUEUE_ROLLUP.table} FINAL" in reads[1]
    assert statements.index(next(s for s in statements if "rollup_dirty" in s)) < statements.index(reads[0])


def test_under_other_definitions_the_facts_are_read_and_nothing_is_refreshed() -> None:
    other = Definitions().with_overrides(["calls.abandon_convention=count_as_met"])
    statements = _statements(Definitions(), other)
    assert sum("FROM rollup_dirty" in s for s in statements) == 1  # the first months are read stored
    reads = [s for s in statements if "applied_definitions" not in s and "rollup_dirty" not in s]
    assert len(reads) == 3  # volumes and first months under different definitions: two channel reads
    assert f"FROM {CHANNEL_ROLLUP.table} FINAL" not in reads[0]
    assert f"FROM {CHANNEL_ROLLUP.table} FINAL" in reads[1]  # offers depend on no definition
    assert f"FROM {QUEUE_ROLLUP.table} FINAL" not in reads[2]
    none_recorded = _statements(None, Definitions())
    assert not any("rollup_dirty" in s for s in none_recorded)
    assert not any(" FINAL WHERE definition_hash" in s for s in none_recorded)
