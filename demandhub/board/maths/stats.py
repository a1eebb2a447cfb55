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

from demandhub.board.maths.cells import Cell, Unit
from demandhub.board.maths.distributions import binom_test_two_sided, norm_sf, t_sf, welch_t
from demandhub.board.maths.rules import BoardRules

Label = Literal["Higher", "Lower", "Comparable", "n/a"]

TEST_POISSON_EXACT = "poisson_conditional_exact_binomial"
TEST_POISSON_NORMAL = "poisson_conditional_normal"
TEST_TWO_PROPORTION = "two_proportion_z"
TEST_WELCH = "welch_t"
TEST_WELCH_MONTHS = "welch_t_monthly_levels"
TEST_PREDICTION = "t_prediction_interval"
TEST_SPC = "spc_mean_k_sigma"
TEST_QUASI_POISSON = "quasi_poisson_t"
TEST_QUASI_BINOMIAL = "quasi_binomial_t"
LEVEL_MIN_MONTHS = 2


@dataclass(frozen=True)
class Comparison:
    """A label with the rule that produced it.

    ``statistic`` is z for the z-tests, t for Welch and the prediction test, the observed share k1/(k1+k2) for the exact
    conditional binomial test and (x - mean)/σ for SPC. ``reason`` explains an n/a label.
    """

    label: Label
    test: str
    p_value: float | None = None
    statistic: float | None = None
    reason: str | None = None
    dispersion: float | None = None

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
    two-sided binomial test (as scipy ``binomtest``) is used when n <= ``count_exact_max_total`` and the
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
        p = binom_test_two_sided(round(k1), round(n), p0)
        return Comparison(_decide(diff, p, rules.alpha), TEST_POISSON_EXACT, p, k1 / n)
    z = (k1 - n * p0) / math.sqrt(n * p0 * (1 - p0))
    p = 2 * norm_sf(abs(z))
    return Comparison(_decide(diff, p, rules.alpha), TEST_POISSON_NORMAL, p, z)


def two_proportion_test(x1: float, n1: float, x2: float, n2: float, rules: BoardRules) -> Comparison:
    """Two-sided two-proportion z-test of x1/n1 against x2/n2 with the pooled standard error.

    The z-test assumes each numerator counts successes among its denominator's trials
    (x <= n, variance p(1 - p)/n). A ratio whose numerator is not a subset of its denominator
    can exceed 1: the period outcome rate divides the outcomes recorded in a period (of crimes
    recorded at any time) by the crimes recorded in it. There p(1 - p) is negative and the
    binomial model is simply wrong. Such a numerator is a count of events over an exposure (the
    denominator), so when either side's numerator exceeds its denominator the two rates are
    compared by the conditional Poisson rate test (:func:`poisson_rate_test` with the
    denominators as exposures), whose test name is printed with the label.
    """
    if min(n1, n2) < rules.min_n_proportion:
        return not_available(TEST_TWO_PROPORTION, f"denominator below {rules.min_n_proportion}")
    if x1 > n1 or x2 > n2:
        return poisson_rate_test(x1, n1, x2, n2, rules)
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        # All successes or all failures on both sides: the proportions are equal.
        return Comparison("Comparable", TEST_TWO_PROPORTION, 1.0, 0.0)
    z = (p1 - p2) / se
    p = 2 * norm_sf(abs(z))
    return Comparison(_decide(p1 - p2, p, rules.alpha), TEST_TWO_PROPORTION, p, z)


def _mean_sd(n: float, total: float, sumsq: float) -> tuple[float, float]:
    mean = total / n
    variance = max((sumsq - total * total / n) / (n - 1), 0.0)
    return mean, math.sqrt(variance)


Sums = tuple[float, float, float]


def _welch(a: Sums, b: Sums, rules: BoardRules, test: str) -> Comparison:
    (n1, s1, ss1), (n2, s2, ss2) = a, b
    m1, sd1 = _mean_sd(n1, s1, ss1)
    m2, sd2 = _mean_sd(n2, s2, ss2)
    if sd1 == 0 and sd2 == 0:
        return not_available(test, "no variation on either side")
    statistic, p = welch_t(m1, sd1, n1, m2, sd2, n2)
    return Comparison(_decide(m1 - m2, p, rules.alpha), test, p, statistic)


def welch_test(a: Sums, b: Sums, rules: BoardRules) -> Comparison:
    """Welch's t-test from (n, sum, sum of squares) on each side (as scipy ``ttest_ind_from_stats``)."""
    if min(a[0], b[0]) < rules.min_n_mean:
        return not_available(TEST_WELCH, f"fewer than {rules.min_n_mean} records")
    return _welch(a, b, rules, TEST_WELCH)


def prediction_test(value: float, reference: Sums, rules: BoardRules) -> Comparison:
    """One new observation ``value`` against n reference observations given as (n, sum, sumsq).

    If ``value`` were one more draw from the reference months' (normal) distribution,
    t = (value - mean) / (s * sqrt(1 + 1/n)) would follow Student's t with n - 1 degrees of freedom
    (s the sample SD). Two-sided p from that t; Higher / Lower when p < alpha, i.e. when ``value``
    lies outside the reference's (1 - alpha) prediction interval. n/a with fewer than
    ``LEVEL_MIN_MONTHS`` reference months or no variation among them."""
    n, total, sumsq = reference
    if n < LEVEL_MIN_MONTHS:
        return not_available(TEST_PREDICTION, f"fewer than {LEVEL_MIN_MONTHS} reference months")
    mean, sd = _mean_sd(n, total, sumsq)
    if sd == 0:
        return not_available(TEST_PREDICTION, "no variation in the reference months")
    t = (value - mean) / (sd * math.sqrt(1 + 1 / n))
    p = 2 * t_sf(abs(t), n - 1)
    return Comparison(_decide(value - mean, p, rules.alpha), TEST_PREDICTION, p, t)


def level_test(subject: Cell, reference: Cell, rules: BoardRules) -> Comparison:
    """Compare two periods of a level measure; each month is one observation (see :mod:`cells`:
    ``den`` is the number of months, ``num`` and ``sumsq`` the sum and sum of squares of levels).

    * both sides with at least ``LEVEL_MIN_MONTHS`` months: Welch's t-test on the monthly levels;
    * one side a single month: that month against the other side's months by
      :func:`prediction_test` (direction always subject minus reference);
    * a single month on each side: n/a (no variance to judge a difference by)."""
    if subject.den is None or reference.den is None or subject.sumsq is None or reference.sumsq is None:
        raise ValueError("a level cell needs a number of months and a sum of squares")
    a: Sums = (subject.den, subject.num, subject.sumsq)
    b: Sums = (reference.den, reference.num, reference.sumsq)
    if min(a[0], b[0]) >= LEVEL_MIN_MONTHS:
        return _welch(a, b, rules, TEST_WELCH_MONTHS)
    if a[0] == 1 and b[0] >= LEVEL_MIN_MONTHS:
        return prediction_test(subject.num, b, rules)
    if b[0] == 1 and a[0] >= LEVEL_MIN_MONTHS:
        flipped = prediction_test(reference.num, a, rules)
        return _reverse(flipped)
    return not_available(TEST_PREDICTION, "a single month on each side")


def _reverse(comparison: Comparison) -> Comparison:
    swap: dict[Label, Label] = {"Higher": "Lower", "Lower": "Higher"}
    statistic = None if comparison.statistic is None else -comparison.statistic
    label = swap.get(comparison.label, comparison.label)
    return Comparison(label, comparison.test, comparison.p_value, statistic, comparison.reason)


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


def count_dispersion(monthly: Sequence[float]) -> float | None:
    """Pearson dispersion of monthly counts about their mean: Σ(x - x̄)² / x̄ / (n - 1).

    1 for Poisson months with a constant rate; above 1 when months vary more than Poisson
    (seasonality, trend, clustering). None when fewer than 2 months or a zero mean."""
    n = len(monthly)
    if n < 2:
        return None
    mean = statistics.fmean(monthly)
    if mean <= 0:
        return None
    return sum((x - mean) ** 2 for x in monthly) / mean / (n - 1)


def proportion_dispersion(monthly: Sequence[tuple[float, float]]) -> float | None:
    """Pearson dispersion of monthly proportions (x successes of n) about the pooled rate p̄:
    Σ (x - n p̄)² / (n p̄ (1 - p̄)) / (k - 1) over the k months with n > 0 (the quasi-binomial
    scale, the square of Laney's σ_z). None with fewer than 2 such months or p̄ of 0 or 1."""
    months = [(x, n) for x, n in monthly if n > 0]
    k = len(months)
    if k < 2:
        return None
    total_x = sum(x for x, _ in months)
    total_n = sum(n for _, n in months)
    pooled = total_x / total_n
    if pooled <= 0 or pooled >= 1:
        return None
    chi2 = sum((x - n * pooled) ** 2 / (n * pooled * (1 - pooled)) for x, n in months)
    return chi2 / (k - 1)


def _fallback(comparison: Comparison, why: str) -> Comparison:
    reason = why if comparison.reason is None else f"{comparison.reason}; {why}"
    return Comparison(
        comparison.label,
        comparison.test,
        comparison.p_value,
        comparison.statistic,
        reason,
        comparison.dispersion,
    )


def _overdispersed(
    plain: Comparison,
    diff: float,
    z: float,
    phi: float | None,
    months: int,
    test: str,
    rules: BoardRules,
) -> Comparison:
    """The plain test's score ``z`` rescaled by the reference months' dispersion ``phi``:
    t = z / sqrt(phi) on months - 1 degrees of freedom. With too few months, no estimate, or
    phi <= 1 (no more variation than the plain model) the plain test stands, and ``reason``
    says why."""
    if months < rules.overdispersion_min_months or phi is None:
        return _fallback(
            plain, f"fewer than {rules.overdispersion_min_months} reference months to estimate dispersion"
        )
    if phi <= 1:
        return _fallback(
            Comparison(plain.label, plain.test, plain.p_value, plain.statistic, plain.reason, phi),
            "reference months not overdispersed",
        )
    t = z / math.sqrt(phi)
    p = 2 * t_sf(abs(t), months - 1)
    return Comparison(_decide(diff, p, rules.alpha), test, p, t, None, phi)


def _score_z(k1: float, t1: float, k2: float, t2: float) -> float:
    n = k1 + k2
    p0 = t1 / (t1 + t2)
    return (k1 - n * p0) / math.sqrt(n * p0 * (1 - p0))


def quasi_poisson_test(
    k1: float, t1: float, k2: float, t2: float, reference_monthly: Sequence[float], rules: BoardRules
) -> Comparison:
    """The conditional Poisson rate test allowing for overdispersion (quasi-Poisson).

    The dispersion φ is estimated from the between-month variance of the reference months' counts
    (:func:`count_dispersion`); the score z of :func:`poisson_rate_test` becomes t = z / √φ, judged
    on Student's t with (reference months - 1) degrees of freedom. Falls back to the Poisson test
    (its test name printed, ``reason`` saying why) with fewer than ``overdispersion_min_months``
    reference months or φ <= 1."""
    plain = poisson_rate_test(k1, t1, k2, t2, rules)
    if plain.label == "n/a":
        return plain
    return _overdispersed(
        plain,
        k1 / t1 - k2 / t2,
        _score_z(k1, t1, k2, t2),
        count_dispersion(reference_monthly),
        len(reference_monthly),
        TEST_QUASI_POISSON,
        rules,
    )


def quasi_binomial_test(
    x1: float,
    n1: float,
    x2: float,
    n2: float,
    reference_monthly: Sequence[tuple[float, float]],
    rules: BoardRules,
) -> Comparison:
    """The two-proportion z-test allowing for overdispersion (a Laney-style inflated binomial).

    Calls in a month are not independent trials (a busy hour delays many at once), so monthly rates
    vary far more than p(1 - p)/n. φ, the Pearson dispersion of the reference months' rates
    (:func:`proportion_dispersion`), inflates the binomial variance: t = z / √φ on (reference
    months - 1) degrees of freedom. Falls back to the two-proportion z-test like
    :func:`quasi_poisson_test`. A ratio above 1 takes the Poisson rate route of
    :func:`two_proportion_test` unscaled, and ``reason`` says so."""
    plain = two_proportion_test(x1, n1, x2, n2, rules)
    if plain.label == "n/a" or plain.statistic is None:
        return plain
    if plain.test != TEST_TWO_PROPORTION:
        return _fallback(plain, "a ratio above 1: the Poisson rate test, not adjusted for dispersion")
    return _overdispersed(
        plain,
        x1 / n1 - x2 / n2,
        plain.statistic,
        proportion_dispersion(reference_monthly),
        len(reference_monthly),
        TEST_QUASI_BINOMIAL,
        rules,
    )


def default_test_for(unit: Unit) -> str:
    """The statistical test used for a unit (for n/a labels with no data)."""
    return {
        "count": TEST_POISSON_EXACT,
        "percent": TEST_TWO_PROPORTION,
        "minutes": TEST_WELCH,
        "level": TEST_WELCH_MONTHS,
    }[unit]


def compare_cells(
    unit: Unit,
    subject: Cell | None,
    subject_months: int,
    reference: Cell | None,
    reference_months: int,
    rules: BoardRules,
    reference_cells: Sequence[Cell] = (),
) -> Comparison:
    """Compare a subject period with a reference period of the same measure by its unit's test.

    For counts the exposures are the numbers of months; for proportions and means the months do
    not matter (the mean month of a ratio is the pooled ratio); for levels the cells carry their
    own number of months (:func:`level_test`).

    ``reference_cells`` are the reference period's monthly cells: with ``count_test =
    "quasi_poisson"`` or ``proportion_test = "overdispersed"`` the between-month variation among them
    sets the test's dispersion (with none, the plain test runs and ``reason`` says so).
    """
    if subject is None or reference is None:
        return not_available(default_test_for(unit), "a side is null")
    if unit == "count":
        if rules.count_test == "quasi_poisson":
            monthly = [c.num for c in reference_cells]
            return quasi_poisson_test(
                subject.num, subject_months, reference.num, reference_months, monthly, rules
            )
        return poisson_rate_test(subject.num, subject_months, reference.num, reference_months, rules)
    if unit == "level":
        return level_test(subject, reference, rules)
    if subject.den is None or reference.den is None:
        raise ValueError(f"a {unit} cell needs a denominator")
    if unit == "percent":
        if rules.proportion_test == "overdispersed":
            pairs = [(c.num, c.den) for c in reference_cells if c.den is not None]
            return quasi_binomial_test(subject.num, subject.den, reference.num, reference.den, pairs, rules)
        return two_proportion_test(subject.num, subject.den, reference.num, reference.den, rules)
    if subject.sumsq is None or reference.sumsq is None:
        return not_available(TEST_WELCH, "no sum of squares")
    return welch_test(
        (subject.den, subject.num, subject.sumsq),
        (reference.den, reference.num, reference.sumsq),
        rules,
    )
