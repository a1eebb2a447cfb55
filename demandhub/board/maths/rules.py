"""Board rules: every definition the domain leaves open for the monthly board pack.

The defaults are the domain's defaults. Every setting is printed in the pack (``as_dict``), together
with ``version``, ``definition_id`` and a hash of the settings, so each published figure names the
rules it was computed with. Change a default only by issuing a new ``version``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from demandhub.board.maths.months import YearMonth
from schemas.canonical import json_hash


class BoardRules(BaseModel):
    """Versioned, frozen settings for the dashboard, its labels, the channel table and narrative."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(
        "1.2.0",
        description=(
            "Version of these rules; printed with every figure. 1.1.0 added the label rule for "
            "level measures. 1.2.0 made min_effect 'printed' the default and added count_test, "
            "proportion_test, overdispersion_min_months, min_effect_abs, min_effect_rel and fdr_q."
        ),
    )
    definition_id: str = Field(
        "bcb-board-rules", description="Identifier of this definition set; printed in the pack."
    )

    # --- Higher / Lower / Comparable -------------------------------------------------------------
    alpha: float = Field(
        0.05, gt=0, lt=1, description="Two-sided significance level for Higher/Lower labels."
    )
    label_method: Literal["stat", "spc"] = Field(
        "stat",
        description=(
            "'stat': significance tests (counts: Poisson rates, proportions: two-proportion z, "
            "means: Welch t, levels: Welch t on monthly levels or a t prediction interval). 'spc': Current v 1yr avg "
            "is Higher/Lower when the current month lies outside mean ± spc_k·σ of the monthly "
            "values of the baseline months, Current v 3yr avg of the months of its own window; "
            "Perf v Benchmark (a 12-month total, not a single month) keeps the statistical test."
        ),
    )
    spc_k: float = Field(2.0, gt=0, description="Width of the SPC control limits in σ.")
    spc_months: int = Field(
        36,
        ge=2,
        description=(
            "Length of the monthly series (months before m) for the trend chart's SPC limits. The "
            "SPC labels use their own reference windows (baseline; v3y window)."
        ),
    )
    spc_min_months: int = Field(
        12, ge=2, description="Fewest non-null months in the SPC series; fewer gives n/a."
    )
    min_n_count: int = Field(
        5,
        ge=0,
        description="Counts: the test needs at least this many events on both sides together.",
    )
    min_n_proportion: int = Field(
        30, ge=1, description="Proportions: each side's denominator must be at least this."
    )
    min_n_mean: int = Field(30, ge=2, description="Means: each side must hold at least this many records.")
    count_exact_max_total: int = Field(
        1000,
        ge=0,
        description=(
            "Counts are compared by the conditional test of two Poisson rates: given k1+k2 events, "
            "k1 ~ Binomial(k1+k2, t1/(t1+t2)) under equal rates (t = exposure in months). When "
            "k1+k2 is at most this, the exact binomial test is used; above it, its normal "
            "approximation (score z). Non-integer counts always use the normal approximation."
        ),
    )

    count_test: Literal["poisson", "quasi_poisson"] = Field(
        "poisson",
        description=(
            "Counts: 'poisson' is the conditional Poisson rate test above. 'quasi_poisson' allows "
            "for overdispersion: the dispersion φ = Σ(x - x̄)²/x̄/(n - 1) of the reference months' "
            "counts scales the score, t = z/√φ on n - 1 degrees of freedom (test "
            "'quasi_poisson_t'). With fewer than overdispersion_min_months reference months, or "
            "φ <= 1, the Poisson test runs and its name is printed."
        ),
    )
    proportion_test: Literal["binomial", "overdispersed"] = Field(
        "binomial",
        description=(
            "Proportions: 'binomial' is the two-proportion z-test. 'overdispersed' (a Laney-style "
            "inflated binomial) scales z by the Pearson dispersion φ of the reference months' "
            "rates about their pooled rate, t = z/√φ on n - 1 degrees of freedom (test "
            "'quasi_binomial_t'), so many correlated calls do not make a small difference "
            "significant. Falls back to the z-test like count_test."
        ),
    )
    overdispersion_min_months: int = Field(
        6,
        ge=2,
        description=(
            "Fewest reference months from which quasi_poisson / overdispersed estimate the "
            "dispersion; fewer falls back to the plain test."
        ),
    )
    fdr_q: float | None = Field(
        None,
        gt=0,
        lt=1,
        description=(
            "False-discovery-rate control across the pack's labels (null: off). When set, the "
            "p-values of every statistical label in the pack are adjusted by Benjamini-Hochberg "
            "(scipy false_discovery_control); a Higher / Lower whose adjusted p-value is not "
            "below fdr_q is withheld (printed Comparable, reason given) and the pack counts them."
        ),
    )

    # --- Periods ---------------------------------------------------------------------------------
    fy_start_month: int = Field(4, ge=1, le=12, description="First month of the financial year.")
    baseline: Literal["rolling", "fixed"] = Field(
        "rolling",
        description=(
            "'rolling': months m-baseline_from_offset..m-baseline_to_offset (default the 12 months "
            "before the rolling year). 'fixed': baseline_from..baseline_to."
        ),
    )
    baseline_from_offset: int = Field(23, ge=0, description="Rolling baseline: first month, m-N.")
    baseline_to_offset: int = Field(12, ge=0, description="Rolling baseline: last month, m-N.")
    baseline_from: str | None = Field(
        None, description="Fixed baseline: first month, 'YYYY-MM' (required when fixed)."
    )
    baseline_to: str | None = Field(
        None, description="Fixed baseline: last month, 'YYYY-MM' (required when fixed)."
    )
    v3y_window: Literal["span", "same_month"] = Field(
        "span",
        description=(
            "Current v 3yr avg reference. 'span': the mean month of m-v3y_from_offset.."
            "m-v3y_to_offset (default m-47..m-12). 'same_month': the mean of the same calendar "
            "month in the three prior years (m-36, m-24, m-12), which removes seasonality."
        ),
    )
    v3y_from_offset: int = Field(47, ge=0, description="Current v 3yr avg window: first month m-N.")
    v3y_to_offset: int = Field(12, ge=0, description="Current v 3yr avg window: last month m-N.")
    min_effect: Literal["none", "printed"] = Field(
        "printed",
        description=(
            "Minimum effect before Higher / Lower. 'printed' (the default: a label contradicting "
            "the printed figures is wrong): a significant difference whose two compared values are "
            "equal when rounded as the pack prints them (counts to the measure's decimals, "
            "percentages to 0.1, minutes to whole minutes) is labelled Comparable. 'none': the "
            "test alone decides."
        ),
    )
    min_effect_abs: float | None = Field(
        None,
        ge=0,
        description=(
            "Optional absolute minimum effect (null: off): Higher / Lower needs the compared values "
            "to differ by more than this, in the measure's units (percentage points for "
            "percentages, minutes, events a month for counts)."
        ),
    )
    min_effect_rel: float | None = Field(
        None,
        ge=0,
        description=(
            "Optional relative minimum effect (null: off): Higher / Lower needs |subject - "
            "reference| to exceed this fraction of |reference| (0.05 = 5%)."
        ),
    )
    require_complete_periods: bool = Field(
        True,
        description=(
            "When true, a period with any null month is null (a partial year is never compared as "
            "if whole). When false, the months present are pooled and the exposure is their number."
        ),
    )

    # --- Channel table ---------------------------------------------------------------------------
    channel_comparison_offset_months: int = Field(
        12, ge=1, description="Channel table: % changes compare with the span this many months earlier."
    )

    # --- Narrative -------------------------------------------------------------------------------
    narrative_trend_months: int = Field(
        3,
        ge=1,
        description=(
            "Templates 2 and 8: the rolling 12 month value must have moved the same way in each of "
            "the last N months to 'continue to' rise or fall."
        ),
    )
    narrative_record_min_years: int = Field(
        10,
        ge=2,
        description="Template 3: 'highest/lowest in {month} for the last N years' needs N >= this.",
    )
    narrative_since_min_months: int = Field(
        12,
        ge=1,
        description="Templates 4 and 5: 'highest since X' only when X is at least this many months back.",
    )
    narrative_consecutive_years: int = Field(
        3, ge=1, description="Template 11: k, the number of earlier years' same months compared."
    )
    narrative_consecutive_min_months: int = Field(
        2, ge=1, description="Template 11: fewest consecutive months before it is reported."
    )
    narrative_district_growth_pct: float = Field(
        10.0, description="Template 13: districts named when year-on-year growth exceeds this (%)."
    )
    narrative_top_groups: int = Field(
        2, ge=1, description="Template 14: the number of offence groups named as driving growth."
    )

    @model_validator(mode="after")
    def _check(self) -> BoardRules:
        if self.baseline == "fixed":
            if self.baseline_from is None or self.baseline_to is None:
                raise ValueError("a fixed baseline needs baseline_from and baseline_to")
            if YearMonth.from_str(self.baseline_from) > YearMonth.from_str(self.baseline_to):
                raise ValueError("baseline_from is after baseline_to")
        if self.baseline_from_offset < self.baseline_to_offset:
            raise ValueError("baseline_from_offset must be >= baseline_to_offset")
        if self.v3y_from_offset < self.v3y_to_offset:
            raise ValueError("v3y_from_offset must be >= v3y_to_offset")
        return self

    def as_dict(self) -> dict[str, Any]:
        """Every setting as plain JSON values, for printing in the pack."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        """SHA-256 of the settings in canonical JSON; two packs with the same hash used the same rules."""
        return json_hash(self.as_dict())

    def definitions(self) -> dict[str, Any]:
        """The settings plus the configuration hash: the pack's ``definitions`` block."""
        return {**self.as_dict(), "config_hash": self.config_hash()}

    def _v3y_text(self) -> str:
        if self.v3y_window == "same_month":
            return "the mean of the same calendar month in the three prior years (m-36, m-24, m-12)"
        return f"the mean month of m-{self.v3y_from_offset}..m-{self.v3y_to_offset}"

    def _min_effect_text(self) -> str:
        out = ""
        if self.min_effect == "printed":
            out += " Two values equal when rounded as printed are Comparable whatever the test."
        if self.min_effect_abs is not None:
            out += f" A difference of at most {self.min_effect_abs} (in the measure's units) is Comparable."
        if self.min_effect_rel is not None:
            out += f" A difference of at most {self.min_effect_rel:.0%} of the reference is Comparable."
        if self.fdr_q is not None:
            out += (
                " False-discovery-rate control: the p-values of all the pack's statistical labels "
                f"are adjusted by Benjamini-Hochberg and a label whose adjusted p-value is not below "
                f"{self.fdr_q} is withheld (Comparable)."
            )
        return out

    def _dispersion_text(self) -> str:
        out = ""
        if self.count_test == "quasi_poisson":
            out += (
                "; counts allow for overdispersion (quasi-Poisson: t = z/√φ, φ the dispersion of the "
                f"reference months' counts, when at least {self.overdispersion_min_months} months "
                "and φ > 1, else the Poisson test)"
            )
        if self.proportion_test == "overdispersed":
            out += (
                "; proportions allow for overdispersion (inflated binomial: t = z/√φ, φ the "
                "dispersion of the reference months' rates, when at least "
                f"{self.overdispersion_min_months} months and φ > 1, else the z-test)"
            )
        return out

    def label_rule_text(self) -> str:
        """The Higher/Lower/Comparable rule in words, printed with the pack."""
        stat = (
            f"two-sided tests at alpha = {self.alpha}: counts by the conditional test of two Poisson "
            f"rates with exposure in months (exact binomial when the two counts total at most "
            f"{self.count_exact_max_total}, otherwise its normal approximation); proportions by the "
            "two-proportion z-test with n = denominators; means by Welch's t-test on the underlying "
            "records (count, sum and sum of squares); levels (a stock read at each month end, "
            "whose period value is the mean of its months) treat each month as one observation: "
            "Welch's t-test on the monthly levels when both sides have at least 2 months, a single "
            "month against the other side's months by the t prediction interval "
            "(t = (x - mean) / (s * sqrt(1 + 1/n)), n - 1 degrees of freedom), and n/a for a "
            "single month against a single month"
            f"{self._dispersion_text()}"
        )
        spc = (
            f"Current v 1yr avg and Current v 3yr avg are Higher or Lower when the current month "
            f"lies outside the mean ± {self.spc_k}σ of the monthly values of the label's own "
            f"reference months (the baseline; the 3yr window), with at least "
            f"{self.spc_min_months} of them non-null; Perf v Benchmark uses {stat}"
        )
        body = stat if self.label_method == "stat" else spc
        return (
            "Higher / Lower / Comparable are directional, not good or bad. "
            f"Current v 1yr avg compares the current month with the mean month of the baseline; "
            f"Current v 3yr avg with {self._v3y_text()}; Perf v Benchmark compares the rolling "
            f"12 months with the baseline. Rule: {body}.{self._min_effect_text()} "
            f"A side that is null or below the minimum size (counts: "
            f"{self.min_n_count} events in total; proportions: denominator {self.min_n_proportion}; "
            f"means: {self.min_n_mean} records) is n/a. Rules {self.definition_id} version "
            f"{self.version}."
        )
