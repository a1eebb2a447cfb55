"""False-discovery-rate control across the pack's labels (``BoardRules.fdr_q``).

A pack prints about 120 labels, each from a test at ``alpha``; even with no real change anywhere,
about ``alpha`` of them would read Higher or Lower. With ``fdr_q`` set, the p-values of every
statistical label in the pack (the label columns whose test gave a p-value: not n/a, not SPC) are
adjusted together by Benjamini-Hochberg (as scipy ``false_discovery_control``). A Higher / Lower whose
adjusted p-value is not below ``fdr_q`` is withheld: printed Comparable with its raw p-value, the
reason naming the adjusted one. The pack lists what was withheld (:class:`FdrSummary`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from demandhub.board.maths.dashboard import LABEL_COLUMNS, DashboardRow, LabelColumn
from demandhub.board.maths.distributions import bh_adjust
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.stats import Comparison

METHOD = "benjamini_hochberg"


@dataclass(frozen=True)
class FdrSummary:
    """What the control did: the q, how many labels were in the family, which were withheld."""

    q: float
    tests: int
    withheld: tuple[tuple[str, str, str], ...]
    """(measure id, measure name, label column) of each label withheld."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "q": self.q,
            "tests": self.tests,
            "withheld": len(self.withheld),
            "withheld_labels": [{"measure": m, "name": n, "column": c} for m, n, c in self.withheld],
        }


def _withhold(column: LabelColumn, adjusted: float, q: float) -> LabelColumn:
    c = column.comparison
    reason = (
        f"withheld by false-discovery-rate control (Benjamini-Hochberg adjusted p = {adjusted:.3g}, q = {q})"
    )
    return replace(
        column, comparison=Comparison("Comparable", c.test, c.p_value, c.statistic, reason, c.dispersion)
    )


def _with_label(row: DashboardRow, name: str, column: LabelColumn) -> DashboardRow:
    if name == "v1y":
        return replace(row, v1y=column)
    if name == "v3y":
        return replace(row, v3y=column)
    return replace(row, perf_v_benchmark=column)


def control_fdr(
    rows: Sequence[DashboardRow], rules: BoardRules
) -> tuple[tuple[DashboardRow, ...], FdrSummary | None]:
    """``rows`` with labels withheld by Benjamini-Hochberg at ``rules.fdr_q``, and the summary
    (``rows`` unchanged and None when ``fdr_q`` is off)."""
    q = rules.fdr_q
    if q is None:
        return tuple(rows), None
    family: list[tuple[int, str, float]] = []
    for i, row in enumerate(rows):
        for name in LABEL_COLUMNS:
            comparison: Comparison = getattr(row, name).comparison
            if comparison.label != "n/a" and comparison.p_value is not None:
                family.append((i, name, comparison.p_value))
    if not family:
        return tuple(rows), FdrSummary(q, 0, ())
    adjusted = bh_adjust([p for _, _, p in family])
    out = list(rows)
    withheld: list[tuple[str, str, str]] = []
    for (i, name, _), p_adj in zip(family, adjusted, strict=True):
        column: LabelColumn = getattr(out[i], name)
        if column.label in ("Higher", "Lower") and float(p_adj) >= q:
            out[i] = _with_label(out[i], name, _withhold(column, float(p_adj), q))
            withheld.append((out[i].measure.id, out[i].measure.name, name))
    return tuple(out), FdrSummary(q, len(family), tuple(withheld))
