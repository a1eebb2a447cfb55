"""`demandhub sql` prints what the warehouse returned, character for character, in every format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from demandhub.tables import format_rows

pytestmark = pytest.mark.unit

VALUES = [
    "[a-z]",
    "[/bold]",
    "[bold red]alarm[/bold red]",
    "[link=http://x]y[/link]",
    ":smile: :police_car:",
    "\\[escaped]",
    "[/]",
]


def test_the_table_prints_markup_like_values_verbatim() -> None:
    out = format_rows(["value", "[b]header[/b]"], [[v, i] for i, v in enumerate(VALUES)], "table")
    for value in VALUES:
        assert value in out, value
    assert "[b]header[/b]" in out


def test_a_closing_tag_alone_does_not_crash_the_table() -> None:
    assert "[/bold]" in format_rows(["[/bold]"], [["[/bold]"]], "table")


def test_json_and_csv_keep_the_values_too() -> None:
    rows = [[v] for v in VALUES]
    assert [r["value"] for r in json.loads(format_rows(["value"], rows, "json"))] == VALUES
    parsed = list(csv.reader(io.StringIO(format_rows(["value"], rows, "csv"))))
    assert [r[0] for r in parsed[1:]] == VALUES
