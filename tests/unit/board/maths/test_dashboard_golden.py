"""Golden dashboard rows on the hand-made history of board_fixtures.

Every expected value is written out as arithmetic on the history's monthly figures; p-values come
from the textbook formulas in board_fixtures, never from the code under test.
"""

from __future__ import annotations

import pytest

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.dashboard import DashboardRow, MeasureSpec, compute_row
from demandhub.board.maths.format import fmt_value
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.rules import BoardRules
from tests.unit.board.board_fixtures import (
    APR19,
    MAR19,
    binomial_two_sided_by_hand,
    count_history,
    minutes_history,
    percent_history,
    poisson_normal_by_hand,
    small_count_history,
    two_proportion_by_hand,
    welch_by_hand,
)

pytestmark = pytest.mark.unit

RULES = BoardRules()
COUNT = MeasureSpec("crime_all", "All crime", "count", "lower_is_better", "Victims", 0, "crimes")
SMALL = MeasureSpec("crime_serious_sexual", "Serious sexual", "count", "neutral", "Victims")
PERCENT = MeasureSpec(
    "calls_999_answered_within_10s", "999 answered in 10s", "percent", "higher_is_better", "T"
)
MINUTES = MeasureSpec(
    "immediate_time_to_respond_mins", "Immediate response", "minutes", "lower_is_better", "T"
)


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
        assert comparison.p_value is None
    else:
        assert comparison.p_value == pytest.approx(p, rel=1e-9), column


# --- count, normal approximation (large counts) --------------------------------------------------


def test_count_march_every_column() -> None:
    row = compute_row(COUNT, count_history(), MAR19, RULES, msf=101.5)
    assert_values(
        row,
        {
            "current": 160,  # Mar-19
            "minus_1y": 120,  # Mar-18, FY17/18 level
            "minus_2y": 110,  # Mar-17
            "minus_3y": 100,  # Mar-16
            "fytd": 11 * 130 + 160,  # Apr-18..Feb-19 at 130, Mar-19 160 = 1590
            "fytd_minus_1y": 12 * 120,  # Apr-17..Mar-18 = 1440
            "rolling_12": 11 * 130 + 160,  # Apr-18..Mar-19 = 1590
            "baseline": 12 * 120,  # m-23..m-12 = Apr-17..Mar-18 = 1440
        },
    )
    # 1 month against 12 months: n = 160 + 1440 = 1600 > 1000, so the normal approximation.
    _, p = poisson_normal_by_hand(160, 1, 1440, 12)
    assert_label(row, "v1y", "Higher", "poisson_conditional_normal", p)
    assert row.v1y.reference_value == pytest.approx(1440 / 12)  # mean month 120
    # m-47..m-12 = Apr-15..Mar-18 = 12*100 + 12*110 + 12*120 = 3960 over 36 months (mean 110).
    _, p = poisson_normal_by_hand(160, 1, 3960, 36)
    assert_label(row, "v3y", "Higher", "poisson_conditional_normal", p)
    assert row.v3y.reference_value == pytest.approx(110.0)
    _, p = poisson_normal_by_hand(1590, 12, 1440, 12)
    assert_label(row, "perf_v_benchmark", "Higher", "poisson_conditional_normal", p)
    assert row.msf == 101.5


def test_count_april_financial_year_boundary() -> None:
    row = compute_row(COUNT, count_history(), APR19, RULES)
    assert_values(
        row,
        {
            "current": 125,
            "minus_1y": 130,  # Apr-18 is in FY18/19
            "minus_2y": 120,
            "minus_3y": 110,
            "fytd": 125,  # a new financial year: April only
            "fytd_minus_1y": 130,  # Apr-18 only
            "rolling_12": 10 * 130 + 160 + 125,  # May-18..Feb-19, Mar-19, Apr-19 = 1585
            "baseline": 11 * 120 + 130,  # May-17..Mar-18, Apr-18 = 1450
        },
    )
    assert row.fytd.months == (APR19,)
    assert row.headers()["fytd"] == "Apr-19"
    assert row.headers()["fytd_minus_1y"] == "Apr-18"
    assert row.headers()["rolling_12"] == "May-18 to Apr-19"
    _, p = poisson_normal_by_hand(125, 1, 1450, 12)
    assert_label(row, "v1y", "Comparable", "poisson_conditional_normal", p)
    # May-15..Apr-18 = 11*100 + 12*110 + 12*120 + 130 = 3990
    _, p = poisson_normal_by_hand(125, 1, 3990, 36)
    assert_label(row, "v3y", "Comparable", "poisson_conditional_normal", p)
    _, p = poisson_normal_by_hand(1585, 12, 1450, 12)
    assert_label(row, "perf_v_benchmark", "Higher", "poisson_conditional_normal", p)
    assert row.msf is None


def test_count_headers_show_real_months() -> None:
    row = compute_row(COUNT, count_history(), MAR19, RULES)
    assert row.headers() == {
        "current": "Mar-19",
        "minus_1y": "Mar-18",
        "minus_2y": "Mar-17",
        "minus_3y": "Mar-16",
        "v1y": "Mar-19 v Apr-17 to Mar-18",
        "v3y": "Mar-19 v Apr-15 to Mar-18",
        "fytd": "Apr-18 to Mar-19",
        "fytd_minus_1y": "Apr-17 to Mar-18",
        "rolling_12": "Apr-18 to Mar-19",
        "baseline": "Apr-17 to Mar-18",
        "perf_v_benchmark": "Apr-18 to Mar-19 v Apr-17 to Mar-18",
        "msf": None,
    }


# --- small counts: exact conditional binomial ----------------------------------------------------


def test_small_count_march_uses_exact_binomial() -> None:
    row = compute_row(SMALL, small_count_history(), MAR19, RULES)
    assert_values(
        row,
        {
            "current": 15,
            "minus_1y": 6,
            "minus_2y": 5,
            "minus_3y": 4,
            "fytd": 11 * 7 + 15,  # 92
            "fytd_minus_1y": 12 * 6,  # 72
            "rolling_12": 92,
            "baseline": 72,
        },
    )
    # 15 of n = 87 events, share of exposure 1/13 under equal rates.
    p = binomial_two_sided_by_hand(15, 15 + 72, 1 / 13)
    assert_label(row, "v1y", "Higher", "poisson_conditional_exact_binomial", p)
    # m-47..m-12 = 12*4 + 12*5 + 12*6 = 180 events in 36 months.
    p = binomial_two_sided_by_hand(15, 15 + 180, 1 / 37)
    assert_label(row, "v3y", "Higher", "poisson_conditional_exact_binomial", p)
    p = binomial_two_sided_by_hand(92, 92 + 72, 1 / 2)
    assert_label(row, "perf_v_benchmark", "Comparable", "poisson_conditional_exact_binomial", p)


def test_small_count_april() -> None:
    row = compute_row(SMALL, small_count_history(), APR19, RULES)
    assert_values(
        row,
        {
            "current": 2,
            "minus_1y": 7,
            "minus_2y": 6,
            "minus_3y": 5,
            "fytd": 2,
            "fytd_minus_1y": 7,
            "rolling_12": 10 * 7 + 15 + 2,  # 87
            "baseline": 11 * 6 + 7,  # 73
        },
    )
    p = binomial_two_sided_by_hand(2, 2 + 73, 1 / 13)
    assert_label(row, "v1y", "Comparable", "poisson_conditional_exact_binomial", p)
    # May-15..Apr-18 = 11*4 + 12*5 + 12*6 + 7 = 183
    p = binomial_two_sided_by_hand(2, 2 + 183, 1 / 37)
    assert_label(row, "v3y", "Comparable", "poisson_conditional_exact_binomial", p)
    p = binomial_two_sided_by_hand(87, 87 + 73, 1 / 2)
    assert_label(row, "perf_v_benchmark", "Comparable", "poisson_conditional_exact_binomial", p)


# --- percent: pooled, with a null month ----------------------------------------------------------


def test_percent_march_pools_and_keeps_the_null_month_null() -> None:
    row = compute_row(PERCENT, percent_history(), MAR19, RULES)
    assert_values(
        row,
        {
            "current": 100 * 450 / 500,  # 90.0
            "minus_1y": 100 * 750 / 1000,  # Mar-18
            "minus_2y": 100 * 720 / 1000,  # Mar-17
            "minus_3y": None,  # Mar-16 has no data
            # Pooled: (11*780 + 450) / (11*1000 + 500) = 9030 / 11500, not the mean of monthly rates
            "fytd": 100 * 9030 / 11500,
            "fytd_minus_1y": 100 * 9000 / 12000,
            "rolling_12": 100 * 9030 / 11500,
            "baseline": 100 * 9000 / 12000,
        },
    )
    mean_of_monthly_rates = (11 * 78.0 + 90.0) / 12
    assert row.fytd.value != pytest.approx(mean_of_monthly_rates)
    assert row.fytd.cell == Cell(9030, 11500)
    assert fmt_value(row.minus_3y.value, "percent") == "n/a"
    assert fmt_value(row.fytd.value, "percent") == "78.5%"
    _, p = two_proportion_by_hand(450, 500, 9000, 12000)
    assert_label(row, "v1y", "Higher", "two_proportion_z", p)
    # Apr-15..Mar-18 contains Mar-16 (null): the period is null and the label n/a, never a 0.
    assert row.v3y.label == "n/a"
    assert row.v3y.reference.value is None
    assert row.v3y.reference.missing == (YearMonth(2016, 3),)
    _, p = two_proportion_by_hand(9030, 11500, 9000, 12000)
    assert_label(row, "perf_v_benchmark", "Higher", "two_proportion_z", p)


def test_percent_april() -> None:
    row = compute_row(PERCENT, percent_history(), APR19, RULES)
    assert_values(
        row,
        {
            "current": 100 * 390 / 500,  # 78.0
            "minus_1y": 100 * 780 / 1000,
            "minus_2y": 100 * 750 / 1000,
            "minus_3y": 100 * 720 / 1000,
            "fytd": 100 * 390 / 500,
            "fytd_minus_1y": 100 * 780 / 1000,
            # May-18..Apr-19: (10*780 + 450 + 390) / (10*1000 + 500 + 500) = 8640 / 11000
            "rolling_12": 100 * 8640 / 11000,
            # May-17..Apr-18: (11*750 + 780) / 12000 = 9030 / 12000
            "baseline": 100 * 9030 / 12000,
        },
    )
    _, p = two_proportion_by_hand(390, 500, 9030, 12000)
    assert_label(row, "v1y", "Comparable", "two_proportion_z", p)
    assert row.v3y.label == "n/a"
    _, p = two_proportion_by_hand(8640, 11000, 9030, 12000)
    assert_label(row, "perf_v_benchmark", "Higher", "two_proportion_z", p)


def test_partial_periods_pool_the_months_present_when_allowed() -> None:
    rules = BoardRules(require_complete_periods=False)
    row = compute_row(PERCENT, percent_history(), MAR19, rules)
    # Apr-15..Mar-18 without Mar-16: 11*700 + 12*720 + 12*750 = 25340 over 35000.
    assert row.v3y.reference.value == pytest.approx(100 * 25340 / 35000)
    assert row.v3y.reference.exposure == 35
    _, p = two_proportion_by_hand(450, 500, 25340, 35000)
    assert_label(row, "v3y", "Higher", "two_proportion_z", p)


# --- minutes: Welch on the underlying records ----------------------------------------------------


def test_minutes_march_every_column() -> None:
    row = compute_row(MINUTES, minutes_history(), MAR19, RULES)
    # A month of 40 records with mean mu and SD 5: sum 40*mu, sumsq 39*25 + 40*mu^2.
    # R12 = Apr-18..Feb-19 (11 months, mean 12) + Mar-19 (50 records, mean 10):
    #   n = 11*40 + 50 = 490, sum = 11*480 + 500 = 5780, sumsq = 11*6735 + 6225 = 80310.
    # Baseline FY17/18 (mean 13): n = 480, sum = 6240, sumsq = 12*(975 + 40*169) = 92820.
    assert_values(
        row,
        {
            "current": 500 / 50,
            "minus_1y": 13.0,
            "minus_2y": 14.0,
            "minus_3y": 15.0,
            "fytd": 5780 / 490,
            "fytd_minus_1y": 6240 / 480,
            "rolling_12": 5780 / 490,
            "baseline": 6240 / 480,
        },
    )
    assert row.rolling_12.cell == Cell(5780, 490, 80310)
    assert fmt_value(row.rolling_12.value, "minutes") == "12"  # 11.80 as a whole minute
    _, _, p = welch_by_hand((50, 500, 6225), (480, 6240, 92820))
    assert_label(row, "v1y", "Lower", "welch_t", p)
    # Apr-15..Mar-18: n = 1440, sum = 480*(15+14+13) = 20160,
    #   sumsq = 12*((975 + 9000) + (975 + 7840) + (975 + 6760)) = 318300.
    _, _, p = welch_by_hand((50, 500, 6225), (1440, 20160, 318300))
    assert_label(row, "v3y", "Lower", "welch_t", p)
    _, _, p = welch_by_hand((490, 5780, 80310), (480, 6240, 92820))
    assert_label(row, "perf_v_benchmark", "Lower", "welch_t", p)


def test_minutes_april() -> None:
    row = compute_row(MINUTES, minutes_history(), APR19, RULES)
    # Baseline May-17..Apr-18: 11 months at 13 (n 440, sum 5720, sumsq 11*7735 = 85085) and
    #   Apr-18 at 12 (40, 480, 6735): n = 480, sum = 6200, sumsq = 91820.
    # v3y May-15..Apr-18: 11 months at 15 (440, 6600, 11*9975 = 109725), 12 at 14 (480, 6720,
    #   12*8815 = 105780), 12 at 13 (480, 6240, 92820), Apr-18 (40, 480, 6735):
    #   n = 1440, sum = 20040, sumsq = 315060.
    assert_values(
        row,
        {
            "current": 12.0,
            "minus_1y": 12.0,
            "minus_2y": 13.0,
            "minus_3y": 14.0,
            "fytd": 12.0,
            "fytd_minus_1y": 12.0,
            "rolling_12": 5780 / 490,
            "baseline": 6200 / 480,
        },
    )
    _, _, p = welch_by_hand((40, 480, 6735), (480, 6200, 91820))  # p = 0.27
    assert_label(row, "v1y", "Comparable", "welch_t", p)
    _, _, p = welch_by_hand((40, 480, 6735), (1440, 20040, 315060))  # p = 0.021
    assert_label(row, "v3y", "Lower", "welch_t", p)
    _, _, p = welch_by_hand((490, 5780, 80310), (480, 6200, 91820))
    assert_label(row, "perf_v_benchmark", "Lower", "welch_t", p)


# --- nulls, zeros, lags, fixed baseline, SPC -----------------------------------------------------


def test_null_current_month_is_na_never_zero() -> None:
    series = count_history()
    del series[MAR19]
    row = compute_row(COUNT, series, MAR19, RULES)
    for column in ("current", "fytd", "rolling_12"):
        assert getattr(row, column).value is None, column
        assert fmt_value(getattr(row, column).value, "count") == "n/a"
    for column in ("v1y", "v3y", "perf_v_benchmark"):
        assert getattr(row, column).label == "n/a", column
    # Periods without the null month are unaffected.
    assert row.baseline.value == 1440
    assert row.fytd_minus_1y.value == 1440


def test_true_zero_is_a_value() -> None:
    series = small_count_history()
    series[MAR19] = Cell(0)
    row = compute_row(SMALL, series, MAR19, RULES)
    assert row.current.value == 0
    assert fmt_value(row.current.value, "count") == "0"
    # P(0 of 72) = (12/13)^72 = 0.0031; the two-sided rule adds the upper tail: p = 0.0063.
    p = binomial_two_sided_by_hand(0, 0 + 72, 1 / 13)
    assert (12 / 13) ** 72 < p < 0.05
    assert_label(row, "v1y", "Lower", "poisson_conditional_exact_binomial", p)


def test_as_of_lag_gives_the_measure_its_own_months() -> None:
    lagged = MeasureSpec("survey", "Satisfaction", "count", "higher_is_better", "V", 3)
    row = compute_row(lagged, count_history(), MAR19, RULES)
    assert row.as_of == YearMonth(2018, 12)
    assert row.headers()["current"] == "Dec-18"
    assert row.headers()["fytd"] == "Apr-18 to Dec-18"
    assert row.fytd.value == 9 * 130  # Apr-18..Dec-18


def test_fixed_baseline() -> None:
    rules = BoardRules(baseline="fixed", baseline_from="2016-04", baseline_to="2017-03")
    row = compute_row(COUNT, count_history(), MAR19, rules)
    assert row.baseline.value == 12 * 110  # FY16/17
    assert row.fytd_minus_1y.value == 12 * 120  # no longer equal to the baseline
    _, p = poisson_normal_by_hand(160, 1, 1320, 12)
    assert_label(row, "v1y", "Higher", "poisson_conditional_normal", p)
    _, p = poisson_normal_by_hand(1590, 12, 1320, 12)
    assert_label(row, "perf_v_benchmark", "Higher", "poisson_conditional_normal", p)


def test_spc_labels() -> None:
    import statistics

    rules = BoardRules(label_method="spc")
    row = compute_row(COUNT, count_history(), MAR19, rules)
    # Current v 3yr avg: the 36 months m-47..m-12 (Apr-15..Mar-18): 12 x 100, 12 x 110, 12 x 120.
    history = [100] * 12 + [110] * 12 + [120] * 12
    mean = 110.0
    sigma = statistics.stdev(history)
    assert mean + 2 * sigma < 160
    comparison = row.v3y.comparison
    assert (comparison.label, comparison.test) == ("Higher", "spc_mean_k_sigma")
    assert comparison.statistic == pytest.approx((160 - mean) / sigma)
    assert row.v3y.reference_value == pytest.approx(mean)
    assert (row.v1y.label, row.v1y.comparison.test) == ("Higher", "spc_mean_k_sigma")
    # Perf v Benchmark compares 12-month totals and keeps the statistical test.
    assert row.perf_v_benchmark.comparison.test == "poisson_conditional_normal"
    wide = compute_row(COUNT, count_history(), MAR19, BoardRules(label_method="spc", spc_k=7.0))
    assert (160 - mean) / sigma < 7
    assert wide.v3y.label == "Comparable"


def test_control_limits_for_the_trend_chart() -> None:
    import statistics

    from demandhub.board.maths.dashboard import control_limits

    limits = control_limits(count_history(), "count", MAR19, RULES)
    assert limits is not None
    # The 36 months Mar-16..Feb-19, as in test_spc_labels.
    assert (limits.months[0], limits.months[-1]) == (YearMonth(2016, 3), YearMonth(2019, 2))
    history = [100] + [110] * 12 + [120] * 12 + [130] * 11
    assert limits.mean == pytest.approx(4290 / 36)
    assert limits.sigma == pytest.approx(statistics.stdev(history))
    assert limits.upper == pytest.approx(4290 / 36 + 2 * statistics.stdev(history))
    assert limits.lower == pytest.approx(4290 / 36 - 2 * statistics.stdev(history))
    # Null months are skipped; too few months left gives no limits.
    sparse = {m: c for m, c in count_history().items() if m >= YearMonth(2018, 6)}
    assert control_limits(sparse, "count", MAR19, RULES) is None  # Jun-18..Feb-19 is 9 months
    assert control_limits(sparse, "count", MAR19, BoardRules(spc_min_months=9)) is not None


def test_spc_labels_use_each_label_s_reference_window() -> None:
    # v1y judges the current month against the baseline months (Apr-17..Mar-18, all 120);
    # v3y against m-47..m-12 (Apr-15..Mar-18: 12 x 100, 12 x 110, 12 x 120).
    import statistics

    rules = BoardRules(label_method="spc")
    row = compute_row(COUNT, count_history(), MAR19, rules)
    assert row.v1y.reference.months == row.baseline.months
    assert row.v1y.reference_value == pytest.approx(120)
    v3y_history = [100] * 12 + [110] * 12 + [120] * 12
    assert row.v3y.reference.months[0] == YearMonth(2015, 4)
    assert row.v3y.reference_value == pytest.approx(110)
    assert row.v3y.comparison.statistic == pytest.approx((160 - 110) / statistics.stdev(v3y_history))
    # The baseline months do not vary at all: 160 lies outside any band around 120.
    assert row.v1y.label == "Higher"
    assert row.v1y.reference_value != row.v3y.reference_value


def test_v3y_against_the_same_calendar_month_of_three_prior_years() -> None:
    rules = BoardRules(v3y_window="same_month")
    row = compute_row(COUNT, count_history(), MAR19, rules)
    # Mar-16 (FY15/16: 100), Mar-17 (110), Mar-18 (120): mean 110.
    assert row.v3y.reference.months == (YearMonth(2016, 3), YearMonth(2017, 3), YearMonth(2018, 3))
    assert row.v3y.reference_value == pytest.approx(110)
    assert row.v3y.comparison.test == "poisson_conditional_exact_binomial"  # 160 + 330 events
    assert "same calendar month" in rules.label_rule_text()
    default = compute_row(COUNT, count_history(), MAR19, RULES)
    assert len(default.v3y.reference.months) == 36  # the default window is unchanged


def test_equal_printed_values_are_not_labelled_with_the_floor() -> None:
    # 95.04 % against 95.01 % over ten million calls a month: z is about 3, but both print 95.0 %.
    months = [YearMonth(2015, 4) + i for i in range(48)]
    series: dict[YearMonth, Cell | None] = {m: Cell(9_501_000, 10_000_000) for m in months}
    series[MAR19] = Cell(9_504_000, 10_000_000)
    rate = MeasureSpec("answer_rate", "Answer rate", "percent", "higher_is_better", "T")
    plain = compute_row(rate, series, MAR19, BoardRules(min_effect="none"))
    assert plain.v1y.label == "Higher"
    floored = compute_row(rate, series, MAR19, RULES)  # the floor is the default
    assert RULES.min_effect == "printed"
    assert floored.v1y.label == "Comparable"
    assert floored.v1y.comparison.reason == "equal when rounded as printed"
    assert floored.v1y.comparison.p_value == plain.v1y.comparison.p_value
