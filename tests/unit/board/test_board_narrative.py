"""Narrative sentences: text, template id and the facts behind each, on hand-made series."""

from __future__ import annotations

import pytest
from board_fixtures import APR19, MAR19, count_history

from streams.domain.board import narrative as nv
from streams.domain.board.cells import Cell
from streams.domain.board.dashboard import MeasureSpec, compute_row
from streams.domain.board.months import YearMonth, month_range
from streams.domain.board.rules import BoardRules

pytestmark = pytest.mark.unit

RULES = BoardRules()
CRIME = MeasureSpec("crime_all", "All crime", "count", "lower_is_better", "Victims", 0, "crimes")
RATE = MeasureSpec("rate", "The answer rate", "percent", "higher_is_better", "T")


def constant(first: YearMonth, last: YearMonth, cell: Cell) -> dict[YearMonth, Cell | None]:
    return dict.fromkeys(month_range(first, last), cell)


def by_year(levels: dict[int, int], last: YearMonth) -> dict[YearMonth, Cell | None]:
    """Calendar-year levels, from January of the first year to ``last``."""
    first = YearMonth(min(levels), 1)
    return {m: Cell(levels[m.year]) for m in month_range(first, last)}


# --- templates on the golden count history (see board_fixtures) ----------------------------------


def test_1_month_on_month() -> None:
    series = count_history()
    rose = nv.t1_month_on_month(CRIME, series, MAR19)  # 160 against 130
    assert rose is not None
    assert (rose.text, rose.template_id) == ("All crime rose month on month.", "1")
    assert (rose.facts["value"], rose.facts["previous_value"]) == (160, 130)
    fell = nv.t1_month_on_month(CRIME, series, APR19)  # 125 against 160
    assert fell is not None and fell.text == "All crime fell month on month."
    assert nv.t1_month_on_month(CRIME, series, YearMonth(2019, 2)) is None  # 130 and 130


def test_6_same_month_last_year() -> None:
    series = count_history()
    row = compute_row(CRIME, series, MAR19, RULES)
    sentence = nv.t6_vs_same_month_last_year(CRIME, row)
    assert sentence is not None
    # 160 in March 2019 against 120 in March 2018.
    assert sentence.text == "All crime increased compared to March 2018 with 40 additional crimes."
    april = nv.t6_vs_same_month_last_year(CRIME, compute_row(CRIME, series, APR19, RULES))
    assert april is not None
    assert april.text == "All crime decreased compared to April 2018 with 5 fewer crimes."
    no_noun = MeasureSpec("x", "Incidents", "count", "neutral", "T")
    plain = nv.t6_vs_same_month_last_year(no_noun, compute_row(no_noun, series, MAR19, RULES))
    assert plain is not None and plain.text.endswith("with 40 more.")


def test_7_year_ending() -> None:
    sentence = nv.t7_year_ending(CRIME, count_history(), MAR19, RULES)
    assert sentence is not None
    # 1590 against 1440: +150, 150/1440 = 10.4166...%
    assert sentence.text == (
        "All crime was up by 10.4% (150) comparing year ending March 2019 to year ending March 2018."
    )
    assert sentence.facts["pct_change"] == pytest.approx(100 * 150 / 1440)


def test_12_above_average() -> None:
    series = count_history()
    march = nv.t12_vs_average(CRIME, compute_row(CRIME, series, MAR19, RULES))
    assert march is not None
    assert march.text == "All crime in March was above average (160 compared to the average of 120)."
    april = nv.t12_vs_average(CRIME, compute_row(CRIME, series, APR19, RULES))
    assert april is not None
    # Baseline May-17..Apr-18 = 1450 over 12 months = 120.83
    assert april.text == "All crime in April was above average (125 compared to the average of 120.8)."
    assert april.facts["v1y"]["label"] == "Comparable"


def test_9_discrete_rate_only_when_both_labels_agree() -> None:
    series = count_history()
    march = compute_row(CRIME, series, MAR19, RULES)
    sentence = nv.t9_discrete_vs_averages(CRIME, march)
    assert sentence is not None
    assert sentence.text == (
        "The discrete rate in March was significantly higher than both the one and three year averages."
    )
    assert sentence.facts["v1y"]["p_value"] < 0.05 and sentence.facts["v3y"]["p_value"] < 0.05
    april = compute_row(CRIME, series, APR19, RULES)  # both Comparable
    assert nv.t9_discrete_vs_averages(CRIME, april) is None


def test_8_and_2_trend_against_the_benchmark() -> None:
    series = count_history()
    row = compute_row(CRIME, series, MAR19, RULES)
    eight = nv.t8_benchmark_trend(CRIME, series, row, RULES)
    assert eight is not None
    assert eight.text == (
        "The rolling 12 month total continues to trend upwards and is now significantly higher "
        "than the long term benchmark."
    )
    # Rolling 12 at Dec-18 = 3*120 + 9*130 = 1530, then 1540, 1550, and 1590 at Mar-19.
    assert eight.facts["rolling_12_values"] == [
        ("2018-12", 1530),
        ("2019-01", 1540),
        ("2019-02", 1550),
        ("2019-03", 1590),
    ]
    two = nv.t2_long_term_trend(CRIME, series, MAR19, RULES)
    assert two is not None and two.text == "The long term trend for All crime continues to increase."
    texts = [s.template_id for s in nv.narrate_measure(CRIME, series, row, RULES)]
    assert "8" in texts and "2" not in texts


def test_a_rising_trend_that_is_not_significant_is_not_called_significant() -> None:
    series = by_year({2015: 100, 2016: 100, 2017: 100, 2018: 100, 2019: 100}, MAR19)
    series[YearMonth(2019, 1)], series[YearMonth(2019, 2)] = Cell(101), Cell(102)
    series[MAR19] = Cell(103)
    row = compute_row(CRIME, series, MAR19, RULES)
    assert row.perf_v_benchmark.label == "Comparable"  # 1206 against 1200
    assert nv.t8_benchmark_trend(CRIME, series, row, RULES) is None
    sentences = nv.narrate_measure(CRIME, series, row, RULES)
    assert "2" in [s.template_id for s in sentences]
    assert not any("significantly" in s.text for s in sentences)


# --- records and "since" -------------------------------------------------------------------------


def test_3_highest_for_the_month_in_n_years() -> None:
    # Every month 100, except March of 2009..2019 = 100, 110, ..., 200.
    series = constant(YearMonth(2009, 1), MAR19, Cell(100))
    for i in range(11):
        series[YearMonth(2009 + i, 3)] = Cell(100 + 10 * i)
    sentence = nv.t3_record_for_month(CRIME, series, MAR19, RULES)
    assert sentence is not None
    assert sentence.text == "The highest All crime in March for the last 11 years."
    assert sentence.facts["years"] == 11
    # Five years of history fall short of the default ten.
    assert nv.t3_record_for_month(CRIME, count_history(), MAR19, RULES) is None
    lowest = {m: Cell(300 - c.num) for m, c in series.items() if c is not None}
    low = nv.t3_record_for_month(CRIME, lowest, MAR19, RULES)
    assert low is not None and low.text.startswith("The lowest All crime in March")


def since_series() -> dict[YearMonth, Cell | None]:
    """2015: 100, 2016: 150, 2017-2018: 100 a month; 2019: January 120, February 130, March 140."""
    series = by_year({2015: 100, 2016: 150, 2017: 100, 2018: 100, 2019: 140}, MAR19)
    series[YearMonth(2019, 1)], series[YearMonth(2019, 2)] = Cell(120), Cell(130)
    return series


def test_4_rolling_total_highest_since() -> None:
    # R12 at Mar-19 = 9*100 + 120 + 130 + 140 = 1290. Back in time: R12(Nov-17) = 150 + 11*100
    # = 1250 and every R12 from Nov-17 to Feb-19 is lower still; R12(Oct-17) = 2*150 + 10*100
    # = 1300 >= 1290.
    sentence = nv.t4_rolling_high_since(CRIME, since_series(), MAR19, RULES)
    assert sentence is not None
    assert sentence.text == (
        "The rolling 12 month total to the end of March 2019 is the highest since October 2017."
    )
    assert (sentence.facts["rolling_12"], sentence.facts["since_rolling_12"]) == (1290, 1300)
    # With a 24-month minimum gap (17 months here) nothing is said.
    rules = BoardRules(narrative_since_min_months=24)
    assert nv.t4_rolling_high_since(CRIME, since_series(), MAR19, rules) is None


def test_5_single_month_highest_since() -> None:
    # 140 in March 2019; the last month at least as high is December 2016 (150).
    sentence = nv.t5_single_month_high_since(CRIME, since_series(), MAR19, RULES)
    assert sentence is not None
    assert sentence.text == (
        "All crime in March 2019 was 140, the highest for a single month since December 2016."
    )


def test_a_joint_highest_is_not_called_the_highest_since() -> None:
    series = since_series()
    series[YearMonth(2019, 2)] = Cell(140)  # February equals March
    assert nv.t5_single_month_high_since(CRIME, series, MAR19, RULES) is None


def test_since_is_not_claimed_across_a_null_month() -> None:
    series = since_series()
    series[YearMonth(2018, 6)] = None
    assert nv.t5_single_month_high_since(CRIME, series, MAR19, RULES) is None


def test_11_consecutive_months() -> None:
    series = by_year({2015: 100, 2016: 100, 2017: 100, 2018: 100, 2019: 100}, MAR19)
    series[YearMonth(2019, 1)] = Cell(95)
    series[YearMonth(2019, 2)] = Cell(90)
    series[MAR19] = Cell(85)
    sentence = nv.t11_consecutive(CRIME, series, MAR19, RULES)
    assert sentence is not None
    # Jan, Feb and Mar 2019 are each below the month before and below the same month of 2016-18;
    # December 2018 (100) is not below November 2018 (100).
    assert sentence.text == (
        "All crime was lower than last month and the same month in each of the last 3 years for "
        "the 3rd consecutive month."
    )
    assert sentence.facts["consecutive_months"] == 3
    series[YearMonth(2019, 2)] = Cell(96)  # February is no longer below January
    assert nv.t11_consecutive(CRIME, series, MAR19, RULES) is None


# --- comparable, stable, fragments ---------------------------------------------------------------


def test_10_comparable_and_17_stable() -> None:
    series = constant(YearMonth(2014, 1), MAR19, Cell(780, 1000))
    sentence = nv.t10_comparable_previous_year(RATE, series, MAR19, RULES)
    assert sentence is not None
    assert (
        sentence.text == "The answer rate has remained comparable to the previous year at 78.0% (n=12,000)."
    )
    assert sentence.facts["label"] == "Comparable"
    row = compute_row(RATE, series, MAR19, RULES)
    stable = nv.t17_stable(RATE, row)
    assert stable is not None and stable.text == "The answer rate remained stable."
    ids = [s.template_id for s in nv.narrate_measure(RATE, series, row, RULES)]
    assert "10" in ids and "17" not in ids
    assert nv.t17_stable(CRIME, compute_row(CRIME, count_history(), MAR19, RULES)) is None


def test_18_fragments() -> None:
    per_month = nv.t18_pct_per_month(12.345, 1230, 12)
    assert (per_month.text, per_month.template_id) == ("12.3% (103 a month)", "18")
    with_n = nv.t18_pct_n(78.0, 12000)
    assert with_n.text == "78.0% (n=12,000)"


# --- districts -----------------------------------------------------------------------------------


def district(before: int, after: int) -> dict[YearMonth, Cell | None]:
    """``before`` a month in Apr-17..Mar-18 and ``after`` a month in Apr-18..Mar-19."""
    series = constant(YearMonth(2017, 4), YearMonth(2018, 3), Cell(before))
    series.update(constant(YearMonth(2018, 4), MAR19, Cell(after)))
    return series


def districts() -> dict[str, dict[YearMonth, Cell | None]]:
    return {
        "Cambridge": district(100, 105),  # +5%
        "Fenland": district(100, 112),  # +12%
        "Huntingdonshire": district(50, 51),  # +2%
        "Peterborough": district(200, 230),  # +15%
    }


def test_13_and_14_district_growth_and_drivers() -> None:
    groups = {
        "Fenland": {
            "violence without injury": district(40, 48),  # +96 a year
            "burglary": district(20, 23),  # +36
            "drug offences": district(10, 11),  # +12
            "theft": district(30, 30),  # no change
        }
    }
    sentences = nv.narrate_districts(CRIME, districts(), groups, MAR19, RULES)
    assert [s.template_id for s in sentences] == ["13", "14"]
    assert sentences[0].text == (
        "All districts have seen growth year on year; however Peterborough and Fenland have "
        "recorded over 10% growth when comparing year ending March 2019 to March 2018."
    )
    assert sentences[0].facts["districts"]["Fenland"]["pct_change"] == pytest.approx(12.0)
    assert sentences[1].text == "In Fenland this growth is driven by violence without injury and burglary."
    assert sentences[1].facts["group_changes"]["violence without injury"] == 12 * 8


def test_13_needs_growth_everywhere() -> None:
    shrinking = {**districts(), "Cambridge": district(100, 95)}
    assert nv.t13_district_growth(CRIME, shrinking, MAR19, RULES) is None
    missing = districts()
    missing["Cambridge"][MAR19] = None
    assert nv.t13_district_growth(CRIME, missing, MAR19, RULES) is None
    high = BoardRules(narrative_district_growth_pct=20)
    assert nv.t13_district_growth(CRIME, districts(), MAR19, high) is None


# --- nulls ---------------------------------------------------------------------------------------


def test_no_sentence_from_a_null_month() -> None:
    series = count_history()
    del series[MAR19]
    row = compute_row(CRIME, series, MAR19, RULES)
    assert nv.narrate_measure(CRIME, series, row, RULES) == []


def test_every_sentence_keeps_json_facts() -> None:
    import json

    series = count_history()
    row = compute_row(CRIME, series, MAR19, RULES)
    for sentence in nv.narrate_measure(CRIME, series, row, RULES):
        assert sentence.facts["measure"] == "crime_all"
        json.dumps(sentence.as_dict())
