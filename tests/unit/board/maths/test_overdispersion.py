"""Board rules 1.2.0: tests that allow for overdispersion, the minimum-effect floor and the optional
false-discovery-rate control across the pack's labels.

Expected statistics are written from their textbook definitions (board_fixtures and below), not
taken from the code under test.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.dashboard import MeasureSpec, compute_row
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.pack import build_pack, published_from_pack
from demandhub.board.maths.rules import BoardRules
from tests.unit.board.board_fixtures import (
    MAR19,
    count_history,
    poisson_normal_by_hand,
    two_proportion_by_hand,
)

pytestmark = pytest.mark.unit

FIRST = YearMonth(2015, 4)
MONTHS = [FIRST + i for i in range(MAR19 - FIRST + 1)]
CALLS = MeasureSpec("calls", "Calls", "count", "neutral", "T", 0, "calls")
RATE = MeasureSpec("answered", "Answer rate", "percent", "higher_is_better", "T")


def seasonal_counts(current: float) -> dict[YearMonth, Cell | None]:
    """1000 and 1400 in alternate months (mean 1200): far more between-month variation than Poisson."""
    series: dict[YearMonth, Cell | None] = {
        m: Cell(1000 if i % 2 == 0 else 1400) for i, m in enumerate(MONTHS)
    }
    series[MAR19] = Cell(current)
    return series


def t_two_sided(t: float, df: int) -> float:
    return float(2 * sps.t.sf(abs(t), df))


# --- counts: quasi-Poisson ---------------------------------------------------------------------


def test_quasi_poisson_scales_the_score_by_the_reference_months_dispersion() -> None:
    series = seasonal_counts(1300)
    plain = compute_row(CALLS, series, MAR19, BoardRules())
    z, p = poisson_normal_by_hand(1300, 1, 12 * 1200, 12)
    assert plain.v1y.comparison.test == "poisson_conditional_normal"
    assert plain.v1y.comparison.p_value == pytest.approx(p)
    assert plain.v1y.label == "Higher"  # z = 2.8: fooled by the seasonal swing

    quasi = compute_row(CALLS, series, MAR19, BoardRules(count_test="quasi_poisson"))
    # Baseline Apr-17..Mar-18: six months of 1000 and six of 1400, mean 1200.
    phi = 12 * 200**2 / 1200 / 11
    t = z / math.sqrt(phi)
    c = quasi.v1y.comparison
    assert (c.label, c.test) == ("Comparable", "quasi_poisson_t")
    assert c.dispersion == pytest.approx(phi)
    assert c.statistic == pytest.approx(t)
    assert c.p_value == pytest.approx(t_two_sided(t, 11))
    assert quasi.v1y.cells_dict()["dispersion"] == pytest.approx(phi)


def test_quasi_poisson_falls_back_to_poisson_and_says_why() -> None:
    series = seasonal_counts(1300)
    # The same calendar month of three prior years: 3 reference months, fewer than 6.
    rules = BoardRules(count_test="quasi_poisson", v3y_window="same_month")
    c = compute_row(CALLS, series, MAR19, rules).v3y.comparison
    assert c.test == "poisson_conditional_normal"
    assert c.reason is not None and "fewer than 6 reference months" in c.reason
    # With 2 months allowed the estimate runs, but March is 1400 in every year: no overdispersion.
    rules = BoardRules(count_test="quasi_poisson", v3y_window="same_month", overdispersion_min_months=2)
    c = compute_row(CALLS, series, MAR19, rules).v3y.comparison
    assert c.test == "poisson_conditional_normal"
    assert c.reason == "reference months not overdispersed"


# --- proportions: inflated binomial --------------------------------------------------------------


def correlated_calls() -> dict[YearMonth, Cell | None]:
    """The issue's example: 10,000 calls a month. Baseline (Apr-17..Mar-18) alternates 93.1% and
    97.1% (95.1% pooled over 120,000 calls); the rolling year (Apr-18..Mar-19) is 93.8% each month."""
    series: dict[YearMonth, Cell | None] = {}
    for i, m in enumerate(MONTHS):
        if m >= MAR19 - 11:
            series[m] = Cell(9380, 10_000)
        elif m >= MAR19 - 23:
            series[m] = Cell(9310 if i % 2 == 0 else 9710, 10_000)
        else:
            series[m] = Cell(9510, 10_000)
    return series


def test_overdispersed_proportions_are_not_fooled_by_120000_correlated_calls() -> None:
    series = correlated_calls()
    plain = compute_row(RATE, series, MAR19, BoardRules()).perf_v_benchmark
    z, _ = two_proportion_by_hand(112_560, 120_000, 114_120, 120_000)
    assert z == pytest.approx(-13.9, abs=0.1)  # "z = 14"
    assert (plain.label, plain.comparison.test) == ("Lower", "two_proportion_z")

    over = compute_row(RATE, series, MAR19, BoardRules(proportion_test="overdispersed")).perf_v_benchmark
    pbar = 0.951
    phi = 12 * 200**2 / (10_000 * pbar * (1 - pbar)) / 11
    c = over.comparison
    assert (c.label, c.test) == ("Comparable", "quasi_binomial_t")
    assert c.dispersion == pytest.approx(phi)
    assert c.statistic == pytest.approx(z / math.sqrt(phi))
    assert c.p_value == pytest.approx(t_two_sided(z / math.sqrt(phi), 11))


def test_overdispersed_proportions_keep_a_real_change_when_months_are_binomial() -> None:
    # A flat baseline (95.1% every month) is not overdispersed: the z-test runs and says so.
    series = correlated_calls()
    for m in MONTHS:
        if MAR19 - 23 <= m < MAR19 - 11:
            series[m] = Cell(9510, 10_000)
    c = compute_row(
        RATE, series, MAR19, BoardRules(proportion_test="overdispersed")
    ).perf_v_benchmark.comparison
    assert (c.label, c.test) == ("Lower", "two_proportion_z")
    assert c.reason == "reference months not overdispersed"


# --- minimum effect ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "label"),
    [
        (BoardRules(), "Higher"),
        (BoardRules(min_effect_rel=0.4), "Comparable"),  # 160 v 120: +33%
        (BoardRules(min_effect_rel=0.3), "Higher"),
        (BoardRules(min_effect_abs=40), "Comparable"),  # a difference of exactly 40
        (BoardRules(min_effect_abs=39), "Higher"),
    ],
)
def test_optional_minimum_effect(rules: BoardRules, label: str) -> None:
    row = compute_row(MeasureSpec("c", "C", "count", "neutral", "T"), count_history(), MAR19, rules)
    assert (row.v1y.subject_value, row.v1y.reference_value) == (160, 120)
    assert row.v1y.label == label
    if label == "Comparable":
        assert row.v1y.comparison.reason is not None and "minimum effect" in row.v1y.comparison.reason


def test_the_printed_floor_is_the_default_and_is_versioned() -> None:
    rules = BoardRules()
    assert rules.min_effect == "printed" and rules.version == "1.2.0"
    assert "equal when rounded as printed are Comparable" in rules.label_rule_text()
    for name in (
        "count_test",
        "proportion_test",
        "overdispersion_min_months",
        "min_effect_abs",
        "min_effect_rel",
        "fdr_q",
    ):
        assert name in rules.definitions()
    assert BoardRules(count_test="quasi_poisson").config_hash() != rules.config_hash()
    text = BoardRules(
        count_test="quasi_poisson", proportion_test="overdispersed", fdr_q=0.1
    ).label_rule_text()
    assert "quasi-Poisson" in text and "inflated binomial" in text and "Benjamini-Hochberg" in text


# --- false-discovery-rate control ----------------------------------------------------------------


def flat(current: float) -> dict[YearMonth, Cell | None]:
    series: dict[YearMonth, Cell | None] = {m: Cell(1000) for m in MONTHS}
    series[MAR19] = Cell(current)
    return series


FDR_MEASURES = [MeasureSpec(f"n{i}", f"Null {i}", "count", "neutral", "T") for i in range(8)] + [
    MeasureSpec("strong", "Strong", "count", "neutral", "T"),
    MeasureSpec("marginal", "Marginal", "count", "neutral", "T"),
]


def fdr_series() -> dict[str, dict[YearMonth, Cell | None]]:
    out = {m.id: flat(1000) for m in FDR_MEASURES}
    out["strong"] = flat(2000)
    out["marginal"] = flat(1070)  # v1y p = 0.034, v3y p = 0.029: not after 30 tests
    return out


def fdr_pack(rules: BoardRules, published: dict | None = None):  # type: ignore[no-untyped-def]
    return build_pack("f", MAR19, FDR_MEASURES, fdr_series(), rules, None, None, published=published)


def label(pack_json: dict, measure: str, column: str) -> str:
    entry = next(e for e in pack_json["measures"] if e["id"] == measure)
    return str(entry[column]["label"])


def test_fdr_withholds_marginal_labels_and_the_pack_says_how_many() -> None:
    off = fdr_pack(BoardRules()).as_json_dict()
    assert off["fdr"] is None
    assert label(off, "marginal", "v1y") == "Higher" and label(off, "marginal", "v3y") == "Higher"

    on = fdr_pack(BoardRules(fdr_q=0.05)).as_json_dict()
    _, p1 = poisson_normal_by_hand(1070, 1, 12_000, 12)
    _, p3 = poisson_normal_by_hand(1070, 1, 36_000, 36)
    assert max(p1, p3) < 0.05 and min(p1 * 30 / 5, p3 * 30 / 4) > 0.05  # BH ranks 4 and 5 of 30
    assert on["fdr"] == {
        "method": "benjamini_hochberg",
        "q": 0.05,
        "tests": 30,
        "withheld": 2,
        "withheld_labels": [
            {"measure": "marginal", "name": "Marginal", "column": "v1y"},
            {"measure": "marginal", "name": "Marginal", "column": "v3y"},
        ],
    }
    assert label(on, "marginal", "v1y") == "Comparable"
    entry = next(e for e in on["measures"] if e["id"] == "marginal")
    assert entry["v1y"]["p_value"] == pytest.approx(p1)  # the raw p-value is still printed
    assert "false-discovery-rate" in entry["cells"]["v1y"]["reason"]
    assert all(label(on, "strong", c) == "Higher" for c in ("v1y", "v3y", "perf_v_benchmark"))
    # The narrative follows the withheld labels.
    assert "Marginal" not in " ".join(s["text"] for s in on["narrative"] if "significantly" in s["text"])


def test_fdr_labels_are_not_reported_as_revisions_of_themselves() -> None:
    rules = BoardRules(fdr_q=0.05)
    published = published_from_pack(fdr_pack(rules).as_json_dict())
    assert fdr_pack(rules, published).revisions == ()


def test_the_briefing_footnote_names_the_overdispersed_test() -> None:
    pack = build_pack(
        "f",
        MAR19,
        [CALLS],
        {"calls": seasonal_counts(3000)},
        BoardRules(count_test="quasi_poisson"),
        None,
        None,
    )
    assert pack.rows[0].v1y.comparison.test == "quasi_poisson_t"
    assert pack.briefing is not None
    notes = [n.text for n in pack.briefing.footnotes]
    assert any("quasi-Poisson test of two rates (dispersion from the reference months)" in n for n in notes)
