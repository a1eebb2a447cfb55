"""The few distribution functions the board's tests need, in plain ``math`` (no numpy, no scipy).

The board labels every measure with a p-value from the standard normal, Student's t or the
binomial distribution, and adjusts them together by Benjamini-Hochberg. ``scipy.stats`` gives the
same figures but takes longer to import than the rest of a board pack takes to compute, so the
functions here reproduce ``scipy.stats`` (``norm.sf``, ``t.sf``, ``binomtest`` two-sided,
``ttest_ind_from_stats`` with ``equal_var=False``, ``false_discovery_control``) to within a relative
1e-12 (tests/unit/board/maths/test_distributions.py pins them against scipy). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

_SQRT1_2 = math.sqrt(0.5)
_EPS = 2.0**-60
_TINY = 1e-300
_MAX_ITERATIONS = 100_000


def norm_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z (``scipy.stats.norm.sf``)."""
    return 0.5 * math.erfc(z * _SQRT1_2)


def _log_gamma_ratio_half(a: float) -> float:
    """ln Γ(a + ½) − ln Γ(a) for a > 0, without the cancellation of two large ``lgamma`` values."""
    if a < 16.0:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    # Stirling: ln Γ(z) = (z - ½) ln z - z + ½ ln 2π + Σ B2k / (2k (2k - 1) z^(2k - 1)).
    b = a + 0.5
    main = a * math.log1p(0.5 / a) + 0.5 * math.log(a) - 0.5
    series = 0.0
    for coefficient, power in ((1 / 12, 1), (-1 / 360, 3), (1 / 1260, 5), (-1 / 1680, 7), (1 / 1188, 9)):
        series += coefficient * (b**-power - a**-power)
    return main + series


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError("incomplete beta continued fraction did not converge")


def _beta_fraction_near_one(a: float, b: float, x: float, y: float) -> float:
    """I_x(a, b) / (x^a y^b / B(a, b)) with y = 1 - x given exactly, by the continued fraction of
    DiDonato and Morris (ACM TOMS 708, ``bfrac``), which stays accurate for x near 1 when
    λ = (a + b) y - b >= 0."""
    lam = (a + b) * y - b
    c = 1.0 + lam
    c0 = b / a
    c1 = 1.0 + 1.0 / a
    yp1 = y + 1.0
    n, p, s = 0.0, 1.0, a + 1.0
    an, bn, anp1, bnp1 = 0.0, 1.0, 1.0, c / c1
    r = c1 / c
    for _ in range(_MAX_ITERATIONS):
        n += 1.0
        t = n / a
        w = n * (b - n) * x
        e = a / s
        alpha = (p * (p + c0) * e * e) * (w * x)
        e = (1.0 + t) / (c1 + t + t)
        beta = n + w / s + e * (c + n * yp1)
        p = 1.0 + t
        s += 2.0
        an, anp1 = anp1, alpha * an + beta * anp1
        bn, bnp1 = bnp1, alpha * bn + beta * bnp1
        r0 = r
        r = anp1 / bnp1
        if abs(r - r0) <= _EPS * r:
            return r
        an /= bnp1
        bn /= bnp1
        anp1 = r
        bnp1 = 1.0
    raise ArithmeticError("incomplete beta continued fraction did not converge")


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's T on ``df`` (> 0, not necessarily whole) degrees of freedom
    (``scipy.stats.t.sf``): ½ I_x(df/2, ½) with x = df / (df + t²) for t >= 0, by symmetry below."""
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return math.nan
    if t == 0:
        return 0.5
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    a, b = 0.5 * df, 0.5
    t2 = t * t
    x = df / (df + t2)
    y = t2 / (df + t2)
    # ln of x^a y^b / B(a, b), with x = df/(df + t²) and y = 1 - x = t²/(df + t²).
    log_front = (
        -a * math.log1p(t2 / df)
        - b * math.log1p(df / t2)
        + _log_gamma_ratio_half(a)
        - 0.5 * math.log(math.pi)
    )
    front = math.exp(log_front)
    if abs(t) >= 1.0:
        tail = front * _beta_fraction_near_one(a, b, x, y)  # I_x(a, b)
    elif x < (a + 1.0) / (a + b + 2.0):
        tail = front * _beta_continued_fraction(a, b, x) / a  # I_x(a, b)
    else:
        tail = 1.0 - front * _beta_continued_fraction(b, a, y) / b  # 1 - I_y(b, a)
    half = 0.5 * tail
    return half if t > 0 else 1.0 - half


def welch_t(mean1: float, sd1: float, n1: float, mean2: float, sd2: float, n2: float) -> tuple[float, float]:
    """(t, two-sided p) of Welch's unequal-variance t-test from each side's mean, SD and size
    (``scipy.stats.ttest_ind_from_stats(..., equal_var=False)``)."""
    vn1 = sd1**2 / n1
    vn2 = sd2**2 / n2
    bottom = vn1**2 / (n1 - 1) + vn2**2 / (n2 - 1)
    df = (vn1 + vn2) ** 2 / bottom if bottom > 0 else 1.0
    denom = math.sqrt(vn1 + vn2)
    t = (mean1 - mean2) / denom
    return t, 2 * t_sf(abs(t), df)


def _log_binom_pmf(k: int, n: int, p: float) -> float:
    if p == 0.0:
        return 0.0 if k == 0 else -math.inf
    if p == 1.0:
        return 0.0 if k == n else -math.inf
    return math.log(math.comb(n, k)) + k * math.log(p) + (n - k) * math.log1p(-p)


def binom_pmf(k: int, n: int, p: float) -> float:
    """P(K = k) for K ~ Binomial(n, p) (``scipy.stats.binom.pmf``)."""
    if k < 0 or k > n:
        return 0.0
    return math.exp(_log_binom_pmf(k, n, p))


def _tail_sum(start: int, stop: int, n: int, p: float) -> float:
    """Σ pmf(j) for j from ``start`` towards ``stop`` (inclusive, either direction), ``start``
    being the term nearest the mode: later terms shrink, so the sum stops once they no longer
    count. Each term is the previous one times the ratio of consecutive binomial terms."""
    if start < 0 or start > n:
        return 0.0
    term = binom_pmf(start, n, p)
    total = term
    q = 1.0 - p
    j = start
    step = 1 if stop >= start else -1
    while j != stop and term > 0:
        if step == 1:
            term *= (n - j) / (j + 1) * (p / q)
        else:
            term *= j / (n - j + 1) * (q / p)
        j += step
        total += term
        if term < total * _EPS:
            break
    return total


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(K <= k) for K ~ Binomial(n, p), summed from k down (meant for k on the lower tail)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return _tail_sum(k, 0, n, p)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(K > k) for K ~ Binomial(n, p), summed from k + 1 up (meant for k on the upper tail)."""
    if k >= n:
        return 0.0
    if k < 0:
        return 1.0
    return _tail_sum(k + 1, n, n, p)


def _search(f: Callable[[int], float], d: float, lo: int, hi: int) -> int:
    """scipy's binary search for the binomial test: i in [lo, hi] with f(i) <= d < f(i + 1), f
    ascending over [lo, hi]."""
    while lo < hi:
        mid = lo + (hi - lo) // 2
        value = f(mid)
        if value < d:
            lo = mid + 1
        elif value > d:
            hi = mid - 1
        else:
            return mid
    return lo if f(lo) <= d else lo - 1


def binom_test_two_sided(k: int, n: int, p: float) -> float:
    """The exact two-sided binomial test's p-value of k successes in n trials at p
    (``scipy.stats.binomtest(k, n, p).pvalue``): the probability of every outcome no more likely
    than k (within a relative 1e-7)."""
    if not 0 <= k <= n:
        raise ValueError("k must lie in [0, n]")
    if not 0.0 <= p <= 1.0:
        raise ValueError("p must lie in [0, 1]")
    d = binom_pmf(k, n, p)
    rerr = 1 + 1e-7
    if k == p * n:
        return 1.0
    if k < p * n:
        ix = _search(lambda x: -binom_pmf(x, n, p), -d * rerr, math.ceil(p * n), n)
        y = n - ix + int(d * rerr == binom_pmf(ix, n, p))
        pval = binom_cdf(k, n, p) + binom_sf(n - y, n, p)
    else:
        ix = _search(lambda x: binom_pmf(x, n, p), d * rerr, 0, math.floor(p * n))
        y = ix + 1
        pval = binom_cdf(y - 1, n, p) + binom_sf(k - 1, n, p)
    return min(1.0, pval)


def bh_adjust(ps: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values in the order given
    (``scipy.stats.false_discovery_control(ps, method="bh")``)."""
    m = len(ps)
    if m <= 1:
        return [float(p) for p in ps]
    order = sorted(range(m), key=lambda i: ps[i])
    scaled = [ps[i] * (m / (rank + 1)) for rank, i in enumerate(order)]
    for j in range(m - 2, -1, -1):
        scaled[j] = min(scaled[j], scaled[j + 1])
    out = [0.0] * m
    for rank, i in enumerate(order):
        out[i] = min(max(scaled[rank], 0.0), 1.0)
    return out
