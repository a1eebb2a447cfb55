"""Higher / Lower / Comparable: the documented tests behind every dashboard label.

Every function returns a :class:`Comparison` that names its test, so a printed label can always be
traced to its rule. Labels are directional (the subject is higher or lower than the reference), not
good or bad. A side that is null, or smaller than the rule's minimum, gives ``"n/a"``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scipy import stats as sps

from streams.domain.board.cells import Cell, Unit
from streams.domain.board.rules import BoardRules

Label = Literal["Higher", "Lower", "Comparable", "n/a"]

TEST_POISSON_EXACT = "poisson_conditional_exact_binomial"
TEST_POISSON_NORMAL = "poisson_conditional_normal"
TEST_TWO_PROPORTION = "two_proportion_z"
TEST_WELCH = "welch_t"
TEST_SPC = "spc_mean_k_sigma"


@dataclass(frozen=True)
class Comparison:
    """A label with the rule that produced it.

    ``statistic`` is z for the z-tests, t for Welch, the observed share k1/(k1+k2) for the exact
    conditional binomial test and (x - mean)/σ for SPC. ``reason`` explains an n/a label.
    """

    label: Label
    test: str
    p_value: float | None = None
    statistic: float | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The pack's label column: label, test and p-value."""
        return {"label": self.label, "test": self.test, "p_value": self.p_value}


def not_available(test: str, reason: str) -> Comparison:
    """An n/a label, with why."""
    return Comparison(label="n/a", test=test, reason=reason)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _decide(diff: float, p_value: float, alpha: float) -> Label:
    if p_value < alpha and diff > 0:
        return "Higher"
    if p_value < alpha and diff < 0:
        return "Lower"
    return "Comparable"


def _is_integral(x: float) -> bool:
    return abs(x - round(x)) < 1e-9


def poisson_rate_test(k1: float, t1: float, k2: float, t2: float, rules: BoardRules) -> Comparison:
    """Compare the rate of ``k1`` events in exposure ``t1`` with ``k2`` events in ``t2``.

    Conditional on n = k1 + k2, k1 ~ Binomial(n, t1 / (t1 + t2)) when the rates are equal. The exact
    two-sided binomial test (scipy ``binomtest``) is used when n <= ``count_exact_max_total`` and the
    counts are whole numbers; otherwise the score z = (k1 - n p0) / sqrt(n p0 (1 - p0)).
    """
    if t1 <= 0 or t2 <= 0:
        raise ValueError("exposures must be positive")
    if k1 < 0 or k2 < 0:
        raise ValueError("counts must be non-negative")
    n = k1 + k2
    if n < rules.min_n_count:
        return not_available(TEST_POISSON_EXACT, f"fewer than {rules.min_n_count} events")
    p0 = t1 / (t1 + t2)
    diff = k1 / t1 - k2 / t2
    if n <= rules.count_exact_max_total and _is_integral(k1) and _is_integral(k2):
        result = sps.binomtest(round(k1), round(n), p0, alternative="two-sided")
        p = float(result.pvalue)
        return Comparison(_decide(diff, p, rules.alpha), TEST_POISSON_EXACT, p, k1 / n)
    z = (k1 - n * p0) / math.sqrt(n * p0 * (1 - p0))
    p = float(2 * sps.norm.sf(abs(z)))
    return Comparison(_decide(diff, p, rules.alpha), TEST_POISSON_NORMAL, p, z)


def two_proportion_test(x1: float, n1: float, x2: float, n2: float, rules: BoardRules) -> Comparison:
    """Two-sided two-proportion z-test of x1/n1 against x2/n2 with the pooled standard error."""
    if min(n1, n2) < rules.min_n_proportion:
        return not_available(TEST_TWO_PROPORTION, f"denominator below {rules.min_n_proportion}")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        # All successes or all failures on both sides: the proportions are equal.
        return Comparison("Comparable", TEST_TWO_PROPORTION, 1.0, 0.0)
    z = (p1 - p2) / se
    p = float(2 * sps.norm.sf(abs(z)))
    return Comparison(_decide(p1 - p2, p, rules.alpha), TEST_TWO_PROPORTION, p, z)


def _mean_sd(n: float, total: float, sumsq: float) -> tuple[float, float]:
    mean = total / n
    variance = max((sumsq - total * total / n) / (n - 1), 0.0)
    return mean, math.sqrt(variance)


def welch_test(a: tuple[float, float, float], b: tuple[float, float, float], rules: BoardRules) -> Comparison:
    """Welch's t-test from (n, sum, sum of squares) on each side (scipy ``ttest_ind_from_stats``)."""
    (n1, s1, ss1), (n2, s2, ss2) = a, b
    if min(n1, n2) < rules.min_n_mean:
        return not_available(TEST_WELCH, f"fewer than {rules.min_n_mean} records")
    m1, sd1 = _mean_sd(n1, s1, ss1)
    m2, sd2 = _mean_sd(n2, s2, ss2)
    if sd1 == 0 and sd2 == 0:
        return not_available(TEST_WELCH, "no variation on either side")
    result = sps.ttest_ind_from_stats(m1, sd1, n1, m2, sd2, n2, equal_var=False)
    p = float(result.pvalue)
    return Comparison(_decide(m1 - m2, p, rules.alpha), TEST_WELCH, p, float(result.statistic))


def spc_test(value: float | None, history: Sequence[float], rules: BoardRules) -> Comparison:
    """Higher / Lower when ``value`` lies outside mean ± k·σ (sample SD) of ``history``."""
    if value is None:
        return not_available(TEST_SPC, "current month is null")
    if len(history) < rules.spc_min_months:
        return not_available(TEST_SPC, f"fewer than {rules.spc_min_months} months of history")
    mean = statistics.fmean(history)
    sigma = statistics.stdev(history)
    diff = value - mean
    score = diff / sigma if sigma > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    outside = abs(diff) > rules.spc_k * sigma
    label: Label = "Comparable" if not outside else ("Higher" if diff > 0 else "Lower")
    return Comparison(label, TEST_SPC, None, _finite(score))


def default_test_for(unit: Unit) -> str:
    """The statistical test used for a unit (for n/a labels with no data)."""
    return {"count": TEST_POISSON_EXACT, "percent": TEST_TWO_PROPORTION, "minutes": TEST_WELCH}[unit]


def compare_cells(
    unit: Unit,
    subject: Cell | None,
    subject_months: int,
    reference: Cell | None,
    reference_months: int,
    rules: BoardRules,
) -> Comparison:
    """Compare a subject period with a reference period of the same measure by its unit's test.

    For counts the exposures are the numbers of months; for proportions and means the months do
    not matter (the mean month of a ratio is the pooled ratio).
    """
    if subject is None or reference is None:
        return not_available(default_test_for(unit), "a side is null")
    if unit == "count":
        return poisson_rate_test(subject.num, subject_months, reference.num, reference_months, rules)
    if subject.den is None or reference.den is None:
        raise ValueError(f"a {unit} cell needs a denominator")
    if unit == "percent":
        return two_proportion_test(subject.num, subject.den, reference.num, reference.den, rules)
    if subject.sumsq is None or reference.sumsq is None:
        return not_available(TEST_WELCH, "no sum of squares")
    return welch_test(
        (subject.den, subject.num, subject.sumsq),
        (reference.den, reference.num, reference.sumsq),
        rules,
    )
