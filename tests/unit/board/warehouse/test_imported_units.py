"""Rows imported from other systems: trial rates, Specials and PSV establishment, Specials' hours,
killed or seriously injured road casualties, sickness. Their units, the tests that suit them, and
each row's as-of month taken from the import file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from demandhub.board.catalogue.measures import PER_PERSON, CatalogueError, load_catalogue, parse_catalogue
from demandhub.board.maths.cells import Cell
from demandhub.board.maths.dashboard import compute_row
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.stats import TEST_POISSON_EXACT, TEST_POISSON_NORMAL
from demandhub.board.warehouse.imports import CsvImportError, parse_csv
from demandhub.board.warehouse.source import imported_series, latest_available, specs_as_of

pytestmark = pytest.mark.unit

CATALOGUE = load_catalogue()
EXAMPLE = Path(__file__).resolve().parents[4] / "docs" / "examples" / "board_import.csv"
HEADER = "force_id,measure_id,month,numerator,n,source,as_of"
NEW_ROWS = {
    "trials_effective": ("percent", None),
    "trials_cracked": ("percent", None),
    "trials_ineffective": ("percent", None),
    "trials_vacated": ("percent", None),
    "specials_establishment": ("level", "headcount"),
    "specials_hours": ("level", "hours"),
    "psv_establishment": ("level", "headcount"),
    "ksi_road_casualties": ("count", None),
    "sickness_officers": ("level", "days_per_person"),
    "sickness_staff": ("level", "days_per_person"),
}
POISSON = {TEST_POISSON_EXACT, TEST_POISSON_NORMAL}


@dataclass
class _Result:
    rows: list[tuple[Any, ...]]


class FakeWarehouse:
    """Answers every query with the rows given."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> _Result:
        return _Result(self.rows)


def test_the_seed_rows_are_in_the_catalogue_with_their_units_polarity_and_theme() -> None:
    by_id = CATALOGUE.by_id()
    for measure_id, (unit, quantity) in NEW_ROWS.items():
        measure = by_id[measure_id]
        assert measure.source == "imported" and measure.import_sources, measure_id
        assert (measure.spec.unit, measure.quantity) == (unit, quantity), measure_id
        assert measure.spec.theme in CATALOGUE.themes
    assert by_id["trials_effective"].spec.polarity == "higher_is_better"
    assert by_id["trials_cracked"].spec.polarity == "lower_is_better"
    assert by_id["ksi_road_casualties"].spec.polarity == "lower_is_better"
    assert by_id["sickness_staff"].spec.polarity == "lower_is_better"
    assert by_id["specials_hours"].as_dict()["as_of"] == "from the import file"


def test_a_quantity_is_only_allowed_on_a_level_measure() -> None:
    entry = (
        '[[measure]]\nid = "x"\nname = "X"\nunit = "count"\npolarity = "neutral"\ntheme = "Victims"\n'
        'source = "imported"\nimport_sources = ["s"]\nquantity = "hours"\n'
    )
    with pytest.raises(CatalogueError, match="quantity"):
        parse_catalogue(entry)
    with pytest.raises(CatalogueError, match="quantity"):
        parse_catalogue(entry.replace('"count"', '"level"').replace('"hours"', '"litres"'))
    assert parse_catalogue(entry.replace('"count"', '"level"')).measures[0].quantity == "hours"


def test_the_example_import_file_is_accepted_whole() -> None:
    rows = parse_csv(EXAMPLE.read_text(), CATALOGUE)
    assert {r.measure_id for r in rows} >= set(NEW_ROWS)


def test_days_per_person_needs_people_and_a_headcount_takes_none() -> None:
    with pytest.raises(CsvImportError) as caught:
        parse_csv(
            "\n".join(
                [
                    HEADER,
                    "cambs,sickness_officers,2018-04,1190,,hr_sickness,2018-05-08",
                    "cambs,specials_establishment,2018-04,221,230,hr_establishment,2018-05-02",
                ]
            ),
            CATALOGUE,
        )
    assert caught.value.problems == [
        "line 2: n (people) is required for a days_per_person measure",
        "line 3: n must be empty for a level measure",
    ]


def test_days_per_person_is_days_lost_over_people_and_hours_are_one_level_a_month() -> None:
    wh = FakeWarehouse(
        [
            ("cambs", "sickness_officers", date(2018, 4, 1), "hr_sickness", 1190.5, 1421.0),
            ("cambs", "specials_hours", date(2018, 4, 1), "specials_duty", 7420.5, None),
        ]
    )
    series = imported_series(wh, CATALOGUE, ["cambs"], YearMonth(2018, 1), YearMonth(2018, 4))["cambs"]
    assert series["sickness_officers"][YearMonth(2018, 4)] == Cell.level(1190.5 / 1421.0)
    assert series["specials_hours"][YearMonth(2018, 4)] == Cell.level(7420.5)


def _level_history(first: YearMonth, months: int) -> dict[YearMonth, Cell | None]:
    return {first + i: Cell.level(200.0 + (i * 7) % 13) for i in range(months)}


@pytest.mark.parametrize("label_method", ["spc", "stat"])
def test_hours_headcounts_and_days_per_person_are_never_given_the_poisson_test(label_method: str) -> None:
    rules = BoardRules(label_method=label_method)
    month = YearMonth(2019, 4)
    series = _level_history(YearMonth(2014, 4), 61)
    levels = [m for m in CATALOGUE.measures if m.quantity is not None]
    assert {m.quantity for m in levels} == {"headcount", "hours", "days_per_person"}
    for measure in levels:
        row = compute_row(measure.spec, series, month, rules)
        tests = {column.comparison.test for column in row.label_columns().values()}
        assert not tests & POISSON, (measure.id, tests)
    # the stated test for a period against a period is Welch's t on the monthly values
    row = compute_row(CATALOGUE.by_id()["specials_hours"].spec, series, month, rules)
    assert row.perf_v_benchmark.comparison.test == "welch_t_monthly_levels"


def test_the_as_of_month_of_an_imported_row_comes_from_its_file() -> None:
    # One survey current to March, another to December, trials to February: each row its own month.
    rows = [
        ("victim_satisfaction_overall", "victim_survey", date(2019, 3, 1)),
        ("confidence_local_concerns", "telephone_survey", date(2018, 12, 1)),
        ("trials_effective", "court_trials", date(2019, 2, 1)),
        ("trials_effective", "not_a_trials_source", date(2019, 4, 1)),
        ("crime_all", "hmic", date(2019, 4, 1)),
    ]
    available = latest_available(rows, CATALOGUE)
    assert available == {
        "victim_satisfaction_overall": YearMonth(2019, 3),
        "confidence_local_concerns": YearMonth(2018, 12),
        "trials_effective": YearMonth(2019, 2),
    }
    pack_month = YearMonth(2019, 4)
    specs = {s.id: s for s in specs_as_of(CATALOGUE, pack_month, available)}
    assert specs["victim_satisfaction_overall"].as_of(pack_month) == YearMonth(2019, 3)
    assert specs["confidence_local_concerns"].as_of(pack_month) == YearMonth(2018, 12)
    assert specs["trials_effective"].as_of(pack_month) == YearMonth(2019, 2)
    # not from the catalogue's fixed lag (3 months for the surveys)
    assert CATALOGUE.by_id()["victim_satisfaction_overall"].spec.as_of(pack_month) == YearMonth(2019, 1)
    # event rows and imported rows without a file keep their catalogue lag
    assert specs["crime_all"] == CATALOGUE.by_id()["crime_all"].spec
    assert specs["sickness_staff"] == CATALOGUE.by_id()["sickness_staff"].spec
    series = {YearMonth(2019, 3): Cell(412, 520)}
    row = compute_row(specs["victim_satisfaction_overall"], series, pack_month, BoardRules())
    assert row.as_of == YearMonth(2019, 3) and row.current.value == pytest.approx(100 * 412 / 520)


def test_per_person_quantities_are_the_ones_imported_with_people() -> None:
    assert PER_PERSON == ("days_per_person",)


def test_the_catalogue_has_46_event_rows_and_19_imported_rows() -> None:
    # 46 event-derived rows (40, plus the social media channel's 6); 9 survey rows plus the 10 rows
    # above from other systems.
    assert (len(CATALOGUE.event_ids()), len(CATALOGUE.imported_ids())) == (46, 19)
    assert len(CATALOGUE.measures) == 65
