"""The board's distribution functions against scipy.stats, which they replace, to a relative 1e-12.

Inputs are drawn over the ranges the pack meets (counts up to ``count_exact_max_total``, exposures of
1 to 36 months, Welch degrees of freedom from 1 to a million, |t| and |z| into the far tails) and a
few hand-picked hard cases (large df with |t| from 1 to 5, where the plain continued fraction loses
digits). p-values scipy rounds to 0 (below 1e-290) are skipped."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as sps

from demandhub.board.maths import distributions as dist
from tests.fixtures.child import run_python

pytestmark = pytest.mark.unit

REL = 1e-12
FLOOR = 1e-290


def close(got: float, want: float) -> bool:
    return abs(got - want) <= REL * abs(want)


def test_norm_sf_matches_scipy() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        z = rng.uniform(-38.0, 38.0)
        want = float(sps.norm.sf(z))
        if want < FLOOR:
            continue
        assert close(dist.norm_sf(z), want), z


@pytest.mark.parametrize(
    ("t", "df"),
    [
        (1.7552621733131861, 446991.0326933937),
        (2.2226981084618522, 198466.19087770666),
        (5.0, 100000.0),
        (1.0, 1e6),
        (0.5, 100000.0),
        (13.4, 128837.0),
        (0.73, 2.7455),
        (1.2, 0.7),
        (30.0, 3.1),
        (-2.5, 17.3),
        (0.0, 5.0),
    ],
)
def test_t_sf_hard_cases(t: float, df: float) -> None:
    assert close(dist.t_sf(t, df), float(sps.t.sf(t, df)))


def test_t_sf_matches_scipy() -> None:
    rng = random.Random(12)
    for _ in range(4000):
        df = math.exp(rng.uniform(math.log(0.5), math.log(2e6)))
        t = rng.choice((1.0, -1.0)) * math.exp(rng.uniform(-10.0, math.log(80.0)))
        want = float(sps.t.sf(t, df))
        if want < FLOOR:
            continue
        assert close(dist.t_sf(t, df), want), (t, df)


def test_welch_matches_scipy() -> None:
    rng = random.Random(13)
    for _ in range(1500):
        m1, m2 = rng.uniform(0, 100), rng.uniform(0, 100)
        s1, s2 = rng.uniform(0, 50), rng.uniform(0, 50)
        n1, n2 = rng.randint(2, 100_000), rng.randint(2, 100_000)
        want = sps.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False)
        if want.pvalue < FLOOR:
            continue
        t, p = dist.welch_t(m1, s1, n1, m2, s2, n2)
        assert close(t, float(want.statistic)), (m1, s1, n1, m2, s2, n2)
        assert close(p, float(want.pvalue)), (m1, s1, n1, m2, s2, n2)


def test_welch_one_side_without_variation_matches_scipy() -> None:
    want = sps.ttest_ind_from_stats(10.0, 0.0, 40, 12.0, 3.0, 50, equal_var=False)
    t, p = dist.welch_t(10.0, 0.0, 40, 12.0, 3.0, 50)
    assert close(t, float(want.statistic))
    assert close(p, float(want.pvalue))


def test_binomial_test_matches_scipy() -> None:
    rng = random.Random(14)
    for _ in range(2500):
        n = rng.randint(1, 1000)
        t1, t2 = rng.randint(1, 36), rng.randint(1, 36)
        p = t1 / (t1 + t2)
        if rng.random() < 0.3:
            k = rng.randint(0, n)
        else:
            k = min(n, max(0, round(rng.gauss(n * p, 3 * math.sqrt(n * p * (1 - p))))))
        want = float(sps.binomtest(k, n, p).pvalue)
        if want < FLOOR:
            continue
        assert close(dist.binom_test_two_sided(k, n, p), want), (k, n, p)


@pytest.mark.parametrize(
    ("k", "n", "p"), [(10, 30, 0.5), (15, 30, 0.5), (0, 5, 0.5), (5, 5, 0.5), (3, 40, 0.25)]
)
def test_binomial_test_symmetric_and_edge_cases(k: int, n: int, p: float) -> None:
    assert close(dist.binom_test_two_sided(k, n, p), float(sps.binomtest(k, n, p).pvalue))


def test_benjamini_hochberg_matches_scipy_exactly() -> None:
    rng = random.Random(15)
    for size in (0, 1, 2, 7, 120):
        ps = [rng.random() ** 3 for _ in range(size)]
        ps += ps[:3]  # ties
        want = [float(x) for x in sps.false_discovery_control(ps)] if len(ps) > 1 else ps
        assert dist.bh_adjust(ps) == want


def test_board_does_not_import_scipy_or_numpy() -> None:
    code = (
        "import sys, demandhub.board.commands, demandhub.board.maths.pack, demandhub.board.maths.fdr;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'numpy')))"
    )
    assert run_python(code).strip() == "[]"
