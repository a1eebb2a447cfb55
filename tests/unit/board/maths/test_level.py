"""Golden tests for "level" measures (a stock such as the QA/Linking queue's month-end depth).

A level month is one observation: ``Cell.level(x) == Cell(x, 1, x*x)``. A period's value is the
mean of its months' levels, never their sum. Labels treat each month as one observation: Welch's
t-test on the monthly levels (both sides >= 2 months), the t prediction interval for a single month
against a period, n/a for a single month against a single month.

The history (April 2015 .. April 2019) is a financial-year base B plus an alternating pattern:
April +3, May -3, June +3, ... March -3 (six +3 and six -3 a year), so each full year has mean B
and a sum of squared deviations 12 * 9 = 108 (sample variance 108 / 11).

* B = 40, 50, 60, 70 in FY15/16 .. FY18/19;
* March 2016 (would be 37) is NULL;
* March 2019 = 90 (instead of 67); April 2019 = 75.

Every expected value below is arithmetic on these monthly depths; p-values come from textbook
formulas (board_fixtures.welch_by_hand and :func:`prediction_by_hand`), never the code under test.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.maths import narrative as nv
from demandhub.board.maths.cells import Cell, pool
from demandhub.board.maths.dashboard import DashboardRow, MeasureSpec, compute_row, mean_month
from demandhub.board.maths.format import fmt_value
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.stats import compare_cells, level_test
from demandhub.board.warehouse.imports import CsvImportError, parse_csv
from tests.unit.board.board_fixtures import welch_by_hand

pytestmark = pytest.mark.unit

RULES = BoardRules()
QUEUE = MeasureSpec(
    "qa_linking_queue_month_end",
    "QA/Linking queue at month end",
    "level",
    "lower_is_better",
    "Transformation",
    0,
    "crimes awaiting QA/Linking",
)
FIRST = YearMonth(2015, 4)
MAR16 = YearMonth(2016, 3)
MAR18 = YearMonth(2018, 3)
MAR19 = YearMonth(2019, 3)
APR19 = YearMonth(2019, 4)
WELCH = "welch_t_monthly_levels"
PREDICTION = "t_prediction_interval"


def level_history() -> dict[YearMonth, Cell | None]:
    base = {2015: 40, 2016: 50, 2017: 60, 2018: 70}
    series: dict[YearMonth, Cell | None] = {}
    for i, month in enumerate(month_range(FIRST, MAR19)):
        fy = month.year if month.month >= 4 else month.year - 1
        series[month] = Cell.level(base[fy] + (3 if i % 2 == 0 else -3))
    series[MAR16] = None
    series[MAR19] = Cell.level(90)
    series[APR19] = Cell.level(75)
    return series


def prediction_by_hand(x: float, values: list[float]) -> tuple[float, float]:
    """t = (x - mean) / (s * sqrt(1 + 1/n)) with n - 1 degrees of freedom; two-sided p."""
    n = len(values)
    mean = sum(values) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = (x - mean) / (s * math.sqrt(1 + 1 / n))
    return t, 2 * float(sps.t.sf(abs(t), n - 1))


def assert_values(row: DashboardRow, expected: dict[str, float | None]) -> None:
    for column, value in expected.items():
        got = getattr(row, column).value
        if value is None:
            assert got is None, column
        else:
            assert got == pytest.approx(value, rel=1e-12), column


def assert_label(row: DashboardRow, column: str, label: str, test: str, p: float | None) -> None:
    comparison = getattr(row, column).comparison
    assert (comparison.label, comparison.test) == (label, test), column
    if p is None:
        assert comparison.p_value is None, column
    else:
        assert comparison.p_value == pytest.approx(p, rel=1e-9), column


# The years as lists of month-end depths (April first).
FY17 = [63, 57] * 6  # Apr-17..Mar-18, mean 60
FY18 = [73, 67] * 5 + [73, 90]  # Apr-18..Feb-19 and March 2019 = 90


def test_history_is_as_documented() -> None:
    series = level_history()
    assert series[FIRST] == Cell(43, 1, 43 * 43)
    assert series[YearMonth(2015, 5)] == Cell(37, 1, 37 * 37)
    assert series[MAR16] is None
    assert series[MAR18] == Cell.level(57)
    assert [c.num for m in month_range(YearMonth(2017, 4), MAR18) if (c := series[m])] == FY17
    assert [c.num for m in month_range(YearMonth(2018, 4), MAR19) if (c := series[m])] == FY18


def test_level_cells_pool_to_the_mean_month() -> None:
    pooled = pool([Cell.level(10), Cell.level(20), Cell.level(45)])
    assert pooled == Cell(75, 3, 100 + 400 + 2025)
    assert pooled is not None and pooled.value("level") == 25.0  # mean, not the sum 75
    assert Cell.level(7).value("level") == 7.0


# --- March 2019: every column by hand -------------------------------------------------------------


def test_march_every_column() -> None:
    row = compute_row(QUEUE, level_history(), MAR19, RULES)
    fy18_mean = (6 * 73 + 5 * 67 + 90) / 12  # (438 + 335 + 90) / 12 = 863 / 12 = 71.9166...
    assert_values(
        row,
        {
            "current": 90,  # Mar-19
            "minus_1y": 57,  # Mar-18: 60 - 3
            "minus_2y": 47,  # Mar-17: 50 - 3
            "minus_3y": None,  # Mar-16 is null
            "fytd": fy18_mean,  # Apr-18..Mar-19: the MEAN month-end depth, not 863
            "fytd_minus_1y": 60,  # Apr-17..Mar-18: (6 * 63 + 6 * 57) / 12 = 720 / 12
            "rolling_12": fy18_mean,
            "baseline": 60,
        },
    )
    assert row.fytd.cell == Cell(863, 12, 6 * 73**2 + 5 * 67**2 + 90**2)
    # Current v 1yr avg: March 2019 (90) against the 12 baseline months, by the prediction interval.
    _, p = prediction_by_hand(90, FY17)
    assert p < 0.05
    assert_label(row, "v1y", "Higher", PREDICTION, p)
    assert (row.v1y.subject_value, row.v1y.reference_value) == (90, 60)
    # Current v 3yr avg: Apr-15..Mar-18 holds the null March 2016, so the reference is null.
    assert row.v3y.reference.value is None and row.v3y.reference.missing == (MAR16,)
    assert_label(row, "v3y", "n/a", WELCH, None)
    # Perf v Benchmark: Welch on the 12 rolling months against the 12 baseline months.
    rolling = (12, 863, 6 * 73**2 + 5 * 67**2 + 90**2)  # (n, sum, sumsq) = (12, 863, 62519)
    baseline = (12, 720, 6 * 63**2 + 6 * 57**2)  # (12, 720, 43308)
    assert rolling[2] == 62519 and baseline[2] == 43308
    _, _, p = welch_by_hand(rolling, baseline)
    assert p < 0.05
    assert_label(row, "perf_v_benchmark", "Higher", WELCH, p)
    assert row.perf_v_benchmark.subject_value == pytest.approx(863 / 12)
    assert row.perf_v_benchmark.reference_value == pytest.approx(60)


def test_march_invariant_for_levels() -> None:
    for month in (MAR18, MAR19):
        row = compute_row(QUEUE, level_history(), month, RULES)
        assert (row.fytd.months, row.fytd.cell, row.fytd.value) == (
            row.rolling_12.months,
            row.rolling_12.cell,
            row.rolling_12.value,
        )
        assert (row.fytd_minus_1y.months, row.fytd_minus_1y.cell, row.fytd_minus_1y.value) == (
            row.baseline.months,
            row.baseline.cell,
            row.baseline.value,
        )
    # March 2018: FYTD = R12 = FY17/18 (mean 60); FYTD-1yr = baseline = FY16/17 (mean 50).
    row = compute_row(QUEUE, level_history(), MAR18, RULES)
    assert (row.fytd.value, row.fytd_minus_1y.value) == (60, 50)


def test_march_printed_columns() -> None:
    row = compute_row(QUEUE, level_history(), MAR19, RULES)
    printed = {name: fmt_value(col.value, "level") for name, col in row.value_columns().items()}
    assert printed == {
        "current": "90",
        "minus_1y": "57",
        "minus_2y": "47",
        "minus_3y": "n/a",
        "fytd": "72",  # 71.92 as a count
        "fytd_minus_1y": "60",
        "rolling_12": "72",
        "baseline": "60",
    }
    assert {name: col.label for name, col in row.label_columns().items()} == {
        "v1y": "Higher",
        "v3y": "n/a",
        "perf_v_benchmark": "Higher",
    }
    assert row.headers()["rolling_12"] == "Apr-18 to Mar-19"
    assert row.headers()["v3y"] == "Mar-19 v Apr-15 to Mar-18"


def test_level_formats_as_a_count() -> None:
    assert fmt_value(1234.4, "level") == "1,234"
    assert fmt_value(1234.5, "level") == "1,235"
    assert fmt_value(None, "level") == "n/a"


# --- April 2019: a new financial year -------------------------------------------------------------


def test_april_every_column() -> None:
    row = compute_row(QUEUE, level_history(), APR19, RULES)
    rolling_months = [67, 73] * 5 + [90, 75]  # May-18..Feb-19, Mar-19, Apr-19: sum 865
    baseline_months = [57, 63] * 5 + [57, 73]  # May-17..Feb-18, Mar-18, Apr-18: sum 730
    assert sum(rolling_months) == 865 and sum(baseline_months) == 730
    assert_values(
        row,
        {
            "current": 75,
            "minus_1y": 73,  # Apr-18
            "minus_2y": 63,  # Apr-17
            "minus_3y": 53,  # Apr-16
            "fytd": 75,  # April only
            "fytd_minus_1y": 73,  # Apr-18 only
            "rolling_12": 865 / 12,  # 72.0833...
            "baseline": 730 / 12,  # 60.8333...
        },
    )
    assert row.fytd.cell == Cell(75, 1, 5625)
    _, p = prediction_by_hand(75, baseline_months)
    assert_label(row, "v1y", "Higher", PREDICTION, p)
    assert row.v1y.reference_value == pytest.approx(730 / 12)
    assert_label(row, "v3y", "n/a", WELCH, None)  # May-15..Apr-18 still holds March 2016
    sums = (12, 865, sum(v * v for v in rolling_months))
    ref = (12, 730, 6 * 57**2 + 5 * 63**2 + 73**2)  # 19494 + 19845 + 5329 = 44668
    assert ref[2] == 44668
    _, _, p = welch_by_hand(sums, ref)
    assert_label(row, "perf_v_benchmark", "Higher", WELCH, p)
    assert mean_month(row.rolling_12, "level") == pytest.approx(865 / 12)


def test_incomplete_periods_pool_the_months_present() -> None:
    """With ``require_complete_periods`` off, Current v 3yr avg uses the 35 months present."""
    rules = BoardRules(require_complete_periods=False)
    row = compute_row(QUEUE, level_history(), MAR19, rules)
    fy15 = [43, 37] * 5 + [43]  # Apr-15..Feb-16 (March 2016 null): 11 months, sum 443
    fy16 = [53, 47] * 6  # sum 600
    window = fy15 + fy16 + FY17  # 35 months, sum 443 + 600 + 720 = 1763
    assert (len(window), sum(window)) == (35, 1763)
    assert row.v3y.reference.cell == Cell(1763, 35, 17939 + 30108 + 43308)
    assert row.v3y.reference_value == pytest.approx(1763 / 35)
    _, p = prediction_by_hand(90, window)
    assert_label(row, "v3y", "Higher", PREDICTION, p)
    assert row.minus_3y.value is None  # a single null month stays null


# --- the label rule for levels --------------------------------------------------------------------


def test_single_month_against_single_month_is_not_available() -> None:
    comparison = compare_cells("level", Cell.level(9), 1, Cell.level(3), 1, RULES)
    assert (comparison.label, comparison.test) == ("n/a", PREDICTION)


def test_a_single_reference_month_reverses_the_prediction_test() -> None:
    # Subject: 4 months 10, 12, 14, 16 (mean 13); reference: one month of 30.
    subject = pool(Cell.level(v) for v in (10, 12, 14, 16))
    assert subject is not None
    comparison = level_test(subject, Cell.level(30), RULES)
    t, p = prediction_by_hand(30, [10, 12, 14, 16])
    assert (comparison.label, comparison.test) == ("Lower", PREDICTION)
    assert comparison.p_value == pytest.approx(p, rel=1e-9)
    assert comparison.statistic == pytest.approx(-t)


def test_welch_needs_variation_and_two_months_a_side() -> None:
    flat = pool([Cell.level(5), Cell.level(5)])
    assert flat is not None
    assert level_test(flat, flat, RULES).label == "n/a"  # no variation on either side
    a = pool(Cell.level(v) for v in (40, 42, 44))
    b = pool(Cell.level(v) for v in (40, 41, 43, 44))
    assert a is not None and b is not None
    comparison = level_test(a, b, RULES)
    _, _, p = welch_by_hand((3, 126, 1600 + 1764 + 1936), (4, 168, 1600 + 1681 + 1849 + 1936))
    assert (comparison.label, comparison.test) == ("Comparable", WELCH)
    assert comparison.p_value == pytest.approx(p, rel=1e-9)


def test_a_flat_reference_gives_not_available() -> None:
    flat = pool([Cell.level(5)] * 12)
    assert flat is not None
    assert level_test(Cell.level(6), flat, RULES).reason == "no variation in the reference months"


# --- narrative: never a "total" for a level -------------------------------------------------------


def test_narrative_speaks_of_averages_not_totals() -> None:
    series = level_history()
    row = compute_row(QUEUE, series, MAR19, RULES)
    sentences = nv.narrate_measure(QUEUE, series, row, RULES)
    assert sentences and all("total" not in s.text for s in sentences)
    assert nv.t7_year_ending(QUEUE, series, MAR19, RULES) is None
    eight = nv.t8_benchmark_trend(QUEUE, series, row, RULES)
    assert eight is not None
    assert eight.text == (
        "The rolling 12 month average of QA/Linking queue at month end continues to trend upwards "
        "and is now significantly higher than the long term benchmark."
    )
    # Rolling means to Dec-18, Jan-19, Feb-19, Mar-19: 810, 820, 830, 863 over 12 months.
    values = [v for _, v in eight.facts["rolling_12_values"]]
    assert values == pytest.approx([810 / 12, 820 / 12, 830 / 12, 863 / 12])
    six = nv.t6_vs_same_month_last_year(QUEUE, row)
    assert six is not None
    assert six.text == (
        "QA/Linking queue at month end increased compared to March 2018 with 33 additional crimes "
        "awaiting QA/Linking."
    )
    twelve = nv.t12_vs_average(QUEUE, compute_row(QUEUE, series, APR19, RULES))
    assert twelve is not None
    assert twelve.text == (
        "QA/Linking queue at month end in April was above average (75 compared to the average of 60.8)."
    )


def test_rolling_high_since_for_a_level() -> None:
    # 60 a month in 2015, 40 in 2016 and 2017, 60 in 2018: the rolling average to December 2018
    # (60) equals December 2015's (60); every window in between mixes in 40s and is lower.
    series: dict[YearMonth, Cell | None] = {}
    for month in month_range(YearMonth(2015, 1), YearMonth(2018, 12)):
        series[month] = Cell.level(40 if month.year in (2016, 2017) else 60)
    sentence = nv.t4_rolling_high_since(QUEUE, series, YearMonth(2018, 12), RULES)
    assert sentence is not None
    assert sentence.text == (
        "The rolling 12 month average of QA/Linking queue at month end to the end of December 2018 "
        "is the highest since December 2015."
    )
    assert sentence.facts["rolling_12"] == 60


def test_comparable_year_quotes_the_average() -> None:
    series = {m: Cell.level(43 if m.month % 2 else 37) for m in month_range(FIRST, MAR19)}
    sentence = nv.t10_comparable_previous_year(QUEUE, series, MAR19, RULES)
    assert sentence is not None
    assert sentence.text == (
        "QA/Linking queue at month end has remained comparable to the previous year at an average of 40."
    )


# --- catalogue and imports -------------------------------------------------------------------------


def test_catalogue_marks_the_queue_as_a_level() -> None:
    assert load_catalogue().by_id()["qa_linking_queue_month_end"].spec.unit == "level"


def test_imported_levels_take_no_n() -> None:
    catalogue = load_catalogue()
    header = "force_id,measure_id,month,numerator,n,source,as_of"
    ok = parse_csv(f"{header}\nbeds,qa_linking_queue_month_end,2019-01,41,,peer,2019-02-05\n", catalogue)
    assert ok[0].numerator == 41 and ok[0].n is None
    with pytest.raises(CsvImportError) as err:
        parse_csv(f"{header}\nbeds,qa_linking_queue_month_end,2019-01,41,3,peer,2019-02-05\n", catalogue)
    assert "n must be empty for a level measure" in str(err.value.args)
