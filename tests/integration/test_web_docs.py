"""The analyst documentation: every example query runs, and the data dictionary matches the schema."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from demandhub import sqlguard
from demandhub.datadict import data_dictionary_markdown, read_relations, select_list
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from tests.integration.test_web_api import (
    NOW,
    Feed,
    abandoned_call,
    event,
    make_settings,
    open_incident,
    scene,
)

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = re.findall(r"```sql\n(.*?)```", (DOCS / "ANALYSTS.md").read_text(), re.DOTALL)


def _history() -> list[dict[str, object]]:
    """The API scene plus an attended incident, a short abandon, a crime that left the QA queue, a
    domestic-abuse crime and a social media thread answered in 30 minutes."""
    m = timedelta(minutes=1)
    return [
        *scene(),
        *open_incident("I9", "IMMEDIATE", NOW - 50 * m, "Peterborough", "urban"),
        event("incident.resource_arrived.v1", "I9", NOW - 38 * m),
        *abandoned_call("C9", "101-primary", NOW - 25 * m, 2),
        event("crime.qa_queue_exited.v1", "R1", NOW - 10 * m),
        event("crime.reported.v1", "R7", NOW - 90 * m),
        event(
            "crime.recorded.v1",
            "R7",
            NOW - 60 * m,
            offence_code="8N",
            district="Fenland",
            flags={"domestic_abuse": True},
        ),
        event("social.received.v1", "S1", NOW - 70 * m, platform="facebook"),
        event("social.responded.v1", "S1", NOW - 40 * m),
    ]


def test_the_document_has_examples_for_the_common_questions() -> None:
    text = "\n".join(EXAMPLES)
    for view in ("calls_service_level_month", "incident_response_by_district_monthly", "crime_monthly"):
        assert view in text
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("query", EXAMPLES, ids=[f"example-{i + 1}" for i in range(len(EXAMPLES))])
def test_every_example_query_passes_the_rules_and_answers(query: str, wh: Warehouse, tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path)
    Feed(settings, wh, lambda: NOW).send(_history())
    checked = sqlguard.check(query, wh)
    result = wh.query(checked, settings=sqlguard.limits(settings))
    assert result.rows, "the example should answer something for a day of activity"


def test_the_dictionary_lists_every_table_view_and_column(wh: Warehouse) -> None:
    text = data_dictionary_markdown(wh)
    relations = read_relations(wh)
    for name, rel in relations.items():
        assert f"### `{name}`" in text
        for col in rel.columns:
            assert f"| `{col.name}` | `{col.type}` |" in text
    # own comments come through verbatim; view columns inherit or show their expression
    assert "| `ingest_time` | `DateTime64(3, 'UTC')` | When the hub received it |" in text
    assert "Ledger of accepted events, deduplicated on (source, id)" in text
    assert "| `watermark` | `DateTime64(3, 'UTC')` | Largest: when it happened (event time)" in text


def test_the_committed_dictionary_is_up_to_date(wh: Warehouse) -> None:
    committed = (DOCS / "DATA_DICTIONARY.md").read_text()
    assert committed == data_dictionary_markdown(wh), (
        "docs/DATA_DICTIONARY.md is out of date: run `python -m demandhub.datadict`"
    )


@pytest.mark.unit
def test_select_list_splits_only_the_outer_list() -> None:
    sql = "SELECT a, if(b = 0, NULL, c / b) AS r, 'x, y' AS s FROM (SELECT 1 AS a, 2 AS b, 3 AS c)"
    assert select_list(sql) == ["a", "if(b = 0, NULL, c / b) AS r", "'x, y' AS s"]
