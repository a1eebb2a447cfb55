"""The label tests against textbook values and hand formulas."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.stats import (
    compare_cells,
    poisson_rate_test,
    spc_test,
    two_proportion_test,
    welch_test,
)
from tests.unit.board.board_fixtures import binomial_two_sided_by_hand, poisson_normal_by_hand, welch_by_hand

pytestmark = pytest.mark.unit

RULES = BoardRules()
LOOSE = BoardRules(min_n_mean=2, min_n_proportion=1)


def test_conditional_binomial_textbook_value() -> None:
    # 10 against 20 events over equal exposure: P(X <= 10 | n = 30, p = 1/2) = 0.04937, and the
    # symmetric two-sided p is twice that, 0.0987 (Przyborowski-Wilenski conditional test).
    lower_tail = sum(math.comb(30, i) for i in range(11)) / 2**30
    assert lower_tail == pytest.approx(0.04937, abs=5e-6)
    result = poisson_rate_test(10, 12, 20, 12, RULES)
    assert result.test == "poisson_conditional_exact_binomial"
    assert result.p_value == pytest.approx(2 * lower_tail, rel=1e-9)
    assert result.p_value == pytest.approx(0.0987, abs=5e-5)
    assert result.label == "Comparable"


def test_exposure_one_month_against_twelve() -> None:
    # 14 events this month against 60 in the last 12 (5 a month): share p0 = 1/13 of 74 events.
    result = poisson_rate_test(14, 1, 60, 12, RULES)
    expected = binomial_two_sided_by_hand(14, 74, 1 / 13)
    assert result.p_value == pytest.approx(expected, rel=1e-9)
    assert expected < 0.05
    assert result.label == "Higher"
    assert result.statistic == pytest.approx(14 / 74)


def test_normal_approximation_above_the_threshold() -> None:
    rules = BoardRules(count_exact_max_total=100)
    result = poisson_rate_test(80, 1, 840, 12, rules)  # n = 920 > 100
    z, p = poisson_normal_by_hand(80, 1, 840, 12)
    # z = (80 - 920/13) / sqrt(920 * (1/13) * (12/13)) = 9.231 / 8.082 = 1.142
    assert z == pytest.approx((80 - 920 / 13) / math.sqrt(920 * 12 / 169))
    assert result.test == "poisson_conditional_normal"
    assert result.statistic == pytest.approx(z)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert result.label == "Comparable"


def test_exact_and_normal_agree_for_large_counts() -> None:
    exact = poisson_rate_test(500, 12, 430, 12, BoardRules(count_exact_max_total=10_000))
    normal = poisson_rate_test(500, 12, 430, 12, BoardRules(count_exact_max_total=0))
    assert exact.test != normal.test
    assert exact.p_value == pytest.approx(normal.p_value, rel=0.1)
    assert exact.label == normal.label == "Higher"


def test_non_integer_counts_use_the_normal_approximation() -> None:
    result = poisson_rate_test(10.5, 1, 60, 12, RULES)
    assert result.test == "poisson_conditional_normal"


def test_count_below_minimum_is_na() -> None:
    result = poisson_rate_test(1, 1, 3, 12, RULES)  # 4 events < 5
    assert result.label == "n/a"
    assert result.p_value is None
    assert result.reason is not None


def test_lower_direction_for_counts() -> None:
    result = poisson_rate_test(0, 1, 120, 12, RULES)
    assert result.label == "Lower"
    assert result.p_value == pytest.approx(binomial_two_sided_by_hand(0, 120, 1 / 13), rel=1e-9)


def test_two_proportion_textbook_value() -> None:
    # 45/100 against 30/100: pooled p = 75/200 = 0.375, se = sqrt(0.375 * 0.625 * (2/100))
    # = 0.068465, z = 0.15 / 0.068465 = 2.1909, two-sided p = 0.02846.
    result = two_proportion_test(45, 100, 30, 100, RULES)
    se = math.sqrt(0.375 * 0.625 * 0.02)
    assert result.statistic == pytest.approx(0.15 / se)
    assert result.statistic == pytest.approx(2.1909, abs=1e-4)
    assert result.p_value == pytest.approx(math.erfc((0.15 / se) / math.sqrt(2)), rel=1e-9)
    assert result.p_value == pytest.approx(0.02846, abs=1e-5)
    assert result.label == "Higher"


def test_two_proportion_small_denominator_is_na() -> None:
    assert two_proportion_test(10, 20, 300, 1000, RULES).label == "n/a"
    assert two_proportion_test(10, 20, 300, 1000, LOOSE).label != "n/a"


def test_two_proportion_all_successes_is_comparable() -> None:
    result = two_proportion_test(50, 50, 100, 100, RULES)
    assert (result.label, result.p_value) == ("Comparable", 1.0)


def test_welch_matches_raw_records() -> None:
    # Two small samples; the test works from (n, sum, sum of squares) as the rollups store them.
    a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
    side_a = (len(a), sum(a), sum(x * x for x in a))
    side_b = (len(b), sum(b), sum(x * x for x in b))
    result = welch_test(side_a, side_b, LOOSE)
    t, df, p = welch_by_hand(side_a, side_b)
    raw = sps.ttest_ind(a, b, equal_var=False)
    assert result.statistic == pytest.approx(t, rel=1e-9)
    assert result.statistic == pytest.approx(float(raw.statistic), rel=1e-9)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert result.p_value == pytest.approx(float(raw.pvalue), rel=1e-9)
    # Published values for this example: t = -2.46, p = 0.021.
    assert t == pytest.approx(-2.46, abs=0.005)
    assert p == pytest.approx(0.021, abs=0.001)
    assert df == pytest.approx(24.99, abs=0.01)
    assert result.label == "Lower"


def test_welch_minimum_records_and_no_variation() -> None:
    assert welch_test((10, 100, 1100), (100, 1000, 11000), RULES).label == "n/a"
    flat = welch_test((40, 400, 4000), (40, 400, 4000), RULES)  # every record equal on both sides
    assert flat.label == "n/a"


def test_spc() -> None:
    history = [100.0, 104.0, 96.0, 100.0] * 3  # mean 100; squared deviations 3 * 32 = 96
    mean = 100.0
    sigma = math.sqrt(sum((x - mean) ** 2 for x in history) / (len(history) - 1))
    # SD = sqrt(96 / 11) = 2.954; limits 100 ± 5.908 with k = 2.
    assert sigma == pytest.approx(math.sqrt(96 / 11))
    assert spc_test(106.0, history, RULES).label == "Higher"
    assert spc_test(105.0, history, RULES).label == "Comparable"
    assert spc_test(94.0, history, RULES).label == "Lower"
    assert spc_test(106.0, history, RULES).statistic == pytest.approx(6 / sigma)
    assert spc_test(None, history, RULES).label == "n/a"
    assert spc_test(106.0, history[:5], RULES).label == "n/a"  # fewer than 12 months


def test_compare_cells_dispatches_by_unit_and_handles_nulls() -> None:
    assert compare_cells("count", Cell(14), 1, Cell(60), 12, RULES).test.startswith("poisson")
    assert compare_cells("percent", Cell(45, 100), 1, Cell(30, 100), 1, RULES).test == ("two_proportion_z")
    minutes = compare_cells("minutes", Cell(500, 50, 6225), 1, Cell(6240, 480, 92820), 12, RULES)
    assert minutes.test == "welch_t"
    no_sumsq = compare_cells("minutes", Cell(500, 50), 1, Cell(6240, 480), 12, RULES)
    assert no_sumsq.label == "n/a"
    for unit in ("count", "percent", "minutes", "level"):
        assert compare_cells(unit, None, 1, Cell(1, 1, 1), 12, RULES).label == "n/a"


def test_alpha_is_respected() -> None:
    # p = 0.02846 from the textbook example: Higher at 0.05, Comparable at 0.01.
    assert two_proportion_test(45, 100, 30, 100, BoardRules(alpha=0.01)).label == "Comparable"


def test_rate_above_one_uses_the_poisson_rate_test() -> None:
    # A period outcome rate: 130 outcomes this month against 100 crimes recorded, 120 against 100.
    # The pooled "proportion" is 1.25, so p(1 - p) is negative: the old z-test raised
    # "math domain error". The numerators are counts over exposures (the denominators).
    result = two_proportion_test(130, 100, 120, 100, RULES)
    k1, t1, k2, t2 = 130, 100, 120, 100
    p_by_hand = binomial_two_sided_by_hand(k1, k1 + k2, t1 / (t1 + t2))
    assert result.test == "poisson_conditional_exact_binomial"
    assert result.p_value == pytest.approx(p_by_hand, rel=1e-9)
    assert result.label == "Comparable"
    assert compare_cells("percent", Cell(130, 100), 1, Cell(120, 100), 1, RULES).label == "Comparable"
    big = two_proportion_test(1300, 1000, 1100, 1000, RULES)
    assert big.label == "Higher"
