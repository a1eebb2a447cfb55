"""The open-incident watch's statement reads what its clock needs (sinks/clickhouse/incidents_sql.py)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.definitions import Definitions
from sinks.clickhouse import incidents_sql
from sinks.clickhouse.client import QueryResult

pytestmark = pytest.mark.unit


class _Recording:
    """Stands in for the warehouse: keeps each statement and answers no rows."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def query(self, sql: str, parameters: dict[str, Any] | None = None, **_: Any) -> QueryResult:
        self.statements.append(sql)
        return QueryResult((), (), [])


def _statement(clock: str) -> str:
    wh = _Recording()
    definitions = Definitions().with_overrides([f"incidents.response_clock={clock}"])
    assert incidents_sql.open_incidents(wh, "cambs", ("IMMEDIATE", "PRIORITY"), definitions) == []  # type: ignore[arg-type]
    (sql,) = wh.statements
    return sql


@pytest.mark.parametrize("clock", ["created", "graded_at_arrival_grade"])
def test_the_watch_reads_no_contacts_unless_its_clock_starts_at_the_offer(clock: str) -> None:
    sql = _statement(clock)
    assert "contacts" not in sql
    assert "SELECT *" not in sql  # the incident columns it needs, not every column
    assert incidents_sql.LINKED_OFFERED_NULL in sql


def test_the_contact_offered_clock_joins_the_linked_contacts() -> None:
    sql = _statement("contact_offered")
    assert sql.count("FROM contacts FINAL") == 2
    assert "linked_offered_at" in sql
    assert "SELECT *" not in sql
