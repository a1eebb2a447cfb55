"""A small hand-made history for the board golden tests, and independent hand formulas.

History runs April 2015 .. April 2019. Levels are set per financial year (April..March):

* ``COUNT`` (All crime): 100, 110, 120, 130 a month in FY15/16..FY18/19; March 2019 = 160;
  April 2019 = 125.
* ``SMALL`` (Serious sexual offences): 4, 5, 6, 7 a month; March 2019 = 15; April 2019 = 2.
* ``PERCENT`` (an answer rate): denominator 1000 a month, numerator 700, 720, 750, 780; March 2016
  has NO data (null); March 2019 = 450/500; April 2019 = 390/500.
* ``MINUTES`` (a mean): 40 records a month with SD 5 and mean 15, 14, 13, 12; March 2019 = 50
  records, mean 10, SD 5; April 2019 = 40 records, mean 12, SD 5.

The formulas below are written from their textbook definitions and do not call the code under test.
"""

from __future__ import annotations

import math

from scipy import stats as sps

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth

FIRST = YearMonth(2015, 4)
MAR19 = YearMonth(2019, 3)
APR19 = YearMonth(2019, 4)


def _months() -> list[YearMonth]:
    return [FIRST + i for i in range(APR19 - FIRST + 1)]


def _fy(month: YearMonth) -> int:
    return month.year if month.month >= 4 else month.year - 1


def count_history() -> dict[YearMonth, Cell | None]:
    level = {2015: 100, 2016: 110, 2017: 120, 2018: 130}
    series: dict[YearMonth, Cell | None] = {m: Cell(level.get(_fy(m), 0)) for m in _months()}
    series[MAR19] = Cell(160)
    series[APR19] = Cell(125)
    return series


def small_count_history() -> dict[YearMonth, Cell | None]:
    level = {2015: 4, 2016: 5, 2017: 6, 2018: 7}
    series: dict[YearMonth, Cell | None] = {m: Cell(level.get(_fy(m), 0)) for m in _months()}
    series[MAR19] = Cell(15)
    series[APR19] = Cell(2)
    return series


def percent_history() -> dict[YearMonth, Cell | None]:
    level = {2015: 700, 2016: 720, 2017: 750, 2018: 780}
    series: dict[YearMonth, Cell | None] = {m: Cell(level.get(_fy(m), 0), 1000) for m in _months()}
    series[YearMonth(2016, 3)] = None
    series[MAR19] = Cell(450, 500)
    series[APR19] = Cell(390, 500)
    return series


def minutes_cell(n: int, mean: float, sd: float) -> Cell:
    """n records with this mean and sample SD: sum = n*mean, sumsq = (n-1)*sd^2 + n*mean^2."""
    return Cell(n * mean, n, (n - 1) * sd * sd + n * mean * mean)


def minutes_history() -> dict[YearMonth, Cell | None]:
    level = {2015: 15, 2016: 14, 2017: 13, 2018: 12}
    series: dict[YearMonth, Cell | None] = {m: minutes_cell(40, level.get(_fy(m), 0), 5) for m in _months()}
    series[MAR19] = minutes_cell(50, 10, 5)
    series[APR19] = minutes_cell(40, 12, 5)
    return series


# --- hand formulas -------------------------------------------------------------------------------


def normal_two_sided(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal: erfc(|z| / sqrt 2)."""
    return math.erfc(abs(z) / math.sqrt(2))


def poisson_normal_by_hand(k1: float, t1: float, k2: float, t2: float) -> tuple[float, float]:
    """Score z and p of the conditional Poisson test: k1 | n ~ Bin(n, t1/(t1+t2))."""
    n = k1 + k2
    p0 = t1 / (t1 + t2)
    z = (k1 - n * p0) / math.sqrt(n * p0 * (1 - p0))
    return z, normal_two_sided(z)


def binomial_two_sided_by_hand(k: int, n: int, p: float) -> float:
    """Exact two-sided binomial p: the total probability of outcomes no likelier than k."""
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    cutoff = pmf[k] * (1 + 1e-7)
    return min(1.0, sum(q for q in pmf if q <= cutoff))


def two_proportion_by_hand(x1: float, n1: float, x2: float, n2: float) -> tuple[float, float]:
    """Pooled two-proportion z and its two-sided p."""
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return z, normal_two_sided(z)


def welch_by_hand(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float, float]:
    """Welch t, Welch-Satterthwaite df and two-sided p from (n, sum, sumsq) on each side."""
    (n1, s1, q1), (n2, s2, q2) = a, b
    v1 = (q1 - s1 * s1 / n1) / (n1 - 1)
    v2 = (q2 - s2 * s2 / n2) / (n2 - 1)
    e1, e2 = v1 / n1, v2 / n2
    t = (s1 / n1 - s2 / n2) / math.sqrt(e1 + e2)
    df = (e1 + e2) ** 2 / (e1 * e1 / (n1 - 1) + e2 * e2 / (n2 - 1))
    return t, df, 2 * float(sps.t.sf(abs(t), df))
