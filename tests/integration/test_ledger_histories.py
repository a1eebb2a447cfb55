"""The histories read back from the ledger are exactly those of the subjects asked for.

The statement names forces and subjects only (the ledger's sorting key); a subject is a (force,
entity, subject) key, and a call and an incident may carry the same id string, so the rows of the
other entity's subject, and of the same id in another force, must not come back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sinks.clickhouse import history_sql
from sinks.clickhouse.client import Warehouse

pytestmark = pytest.mark.integration

T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


def _row(force: str, subject: str, eid: str, etype: str, minute: int) -> list[object]:
    at = T0.replace(minute=minute)
    return [force, subject, "src", eid, etype, at, at, "{}"]


def test_only_the_keys_asked_for_come_back(wh: Warehouse) -> None:
    history_sql.insert_ledger(
        wh,
        [
            _row("cambs", "X1", "e1", "call.offered.v1", 1),
            _row("cambs", "X1", "e2", "call.answered.v1", 2),
            _row("cambs", "X1", "e3", "incident.created.v1", 3),
            _row("herts", "X1", "e4", "call.offered.v1", 4),
            _row("cambs", "X2", "e5", "incident.created.v1", 5),
        ],
    )

    calls = history_sql.ledger_histories(wh, [("cambs", "call", "X1")])
    assert sorted((r[0], r[1], r[2], r[4]) for r in calls) == [
        ("cambs", "call", "X1", "e1"),
        ("cambs", "call", "X1", "e2"),
    ]

    both = history_sql.ledger_histories(wh, [("cambs", "incident", "X1"), ("herts", "call", "X1")])
    assert sorted((r[0], r[1], r[2], r[4]) for r in both) == [
        ("cambs", "incident", "X1", "e3"),
        ("herts", "call", "X1", "e4"),
    ]

    assert history_sql.ledger_histories(wh, [("cambs", "crime", "X1")]) == []
    assert history_sql.ledger_histories(wh, []) == []
