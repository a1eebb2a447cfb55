"""CSV import validation: whole-file refusal with line numbers, units, months and duplicates."""

from __future__ import annotations

from datetime import date

import pytest

from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.warehouse.imports import CsvImportError, parse_csv

pytestmark = pytest.mark.unit

HEADER = "force_id,measure_id,month,numerator,n,source,as_of"
CATALOGUE = load_catalogue()


def parse(*lines: str) -> list:
    return parse_csv("\n".join([HEADER, *lines]) + "\n", CATALOGUE)


def problems(*lines: str) -> list[str]:
    with pytest.raises(CsvImportError) as caught:
        parse(*lines)
    return caught.value.problems


def test_valid_rows_are_parsed() -> None:
    rows = parse(
        "cambs,victim_satisfaction_overall,2019-01,412,520,victim_survey,2019-04-10",
        "beds,crime_all,2019-01,3100,,hmic,2019-02",
    )
    assert rows[0].month == date(2019, 1, 1)
    assert (rows[0].numerator, rows[0].n, rows[0].as_of) == (412.0, 520.0, date(2019, 4, 10))
    assert rows[1].n is None and rows[1].as_of == date(2019, 2, 1)


def test_columns_in_any_order_and_a_byte_order_mark() -> None:
    text = "\ufeffsource,as_of,force_id,measure_id,month,numerator,n\nvictim_survey,2019-05-01,cambs,victim_satisfaction_hate,2019-02,40,50\n"
    (row,) = parse_csv(text, CATALOGUE)
    assert (row.measure_id, row.numerator) == ("victim_satisfaction_hate", 40.0)


def test_missing_columns() -> None:
    with pytest.raises(CsvImportError, match="missing columns: n, as_of"):
        parse_csv("force_id,measure_id,month,numerator,source\n", CATALOGUE)


def test_every_bad_line_is_reported_and_nothing_is_accepted() -> None:
    found = problems(
        "cambs,victim_satisfaction_overall,2019-01,412,520,victim_survey,2019-04-10",  # line 2 ok
        "cambs,no_such_measure,2019-01,1,2,victim_survey,2019-04-10",  # line 3
        "cambs,victim_satisfaction_overall,2019-13,1,2,victim_survey,2019-04-10",  # line 4
        "cambs,victim_satisfaction_overall,2019-02,600,520,victim_survey,2019-04-10",  # line 5
        "cambs,victim_satisfaction_overall,2019-03,10,,victim_survey,2019-04-10",  # line 6
        "cambs,crime_all,2019-03,10,5,hmic,2019-04-10",  # line 7
        "cambs,victim_satisfaction_overall,2019-06,10,20,victim_survey,2019-04-10",  # line 8
        "cambs,victim_satisfaction_overall,2019-01,1,2,victim_survey,2019-05-01",  # line 9 duplicate
        "Cambs!,crime_all,2019-03,10,,hmic,2019-04-10",  # line 10
        "cambs,crime_all,2019-03,-1,,hmic,2019-04-10",  # line 11
        "cambs,crime_all,2019-03,nan,,hmic,2019-04-10",  # line 12
    )
    assert [p.split(":")[0] for p in found] == [f"line {n}" for n in range(3, 13)]
    text = "\n".join(found)
    assert "unknown measure_id 'no_such_measure'" in text
    assert "numerator is larger than n" in text
    assert "n is required for a percent measure" in text
    assert "n must be empty for a count measure" in text
    assert "as_of is before the month" in text
    assert "same force, measure, month and source as line 2" in text
    assert "numerator must be a finite number >= 0" in text


def test_an_empty_file_is_refused() -> None:
    assert problems() == ["the file holds no rows"]
