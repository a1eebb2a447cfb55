"""The force against its most similar forces (MSF): rates per 1,000 population and a labelled test.

Counts differ with a force's size, so a count is compared as a rate per 1,000 residents (the
force's count over the period divided by its population at the period's last month, times 1,000);
percentages, means and levels are compared as they are. Each peer force is one observation.

The stated test (:func:`compare_with_peers`): if the home force's figure were one more force
drawn from the peers' distribution, t = (home - mean) / (s * sqrt(1 + 1/k)) follows Student's t
with k - 1 degrees of freedom (k peers, s their sample SD). The home figure outside the peers'
(1 - alpha) prediction interval is "Above MSF average" or "Below MSF average"; inside it, "In line
with MSF average". Fewer than :data:`MIN_PEERS` peers, or peers with no variation, give "n/a".
The MSF average is the plain mean of the peers' figures (each force counts once) and the range is
their lowest and highest figure. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.stats import TEST_PREDICTION, prediction_test

MIN_PEERS = 3
TEST_PEERS = f"{TEST_PREDICTION}_over_peer_forces"
ABOVE, BELOW, IN_LINE, NOT_AVAILABLE = (
    "Above MSF average",
    "Below MSF average",
    "In line with MSF average",
    "n/a",
)
_LABELS = {"Higher": ABOVE, "Lower": BELOW, "Comparable": IN_LINE}


def per_thousand(count: float, population: float) -> float:
    """``count`` per 1,000 of ``population`` (which must be positive)."""
    if population <= 0:
        raise ValueError("population must be positive")
    return 1000.0 * count / population


@dataclass(frozen=True)
class PeerComparison:
    """The home force's figure against its peers' (module docstring)."""

    label: str
    test: str
    home: float | None
    mean: float | None
    low: float | None
    high: float | None
    peers: int
    p_value: float | None
    reason: str | None = None

    def range_text(self, fmt: Any = None) -> str:
        """``"peers 7.1 to 9.3"`` (formatted with ``fmt`` when given), or "" without peers."""
        if self.low is None or self.high is None:
            return ""
        show = fmt or (lambda v: f"{v:,.1f}")
        return f"peers {show(self.low)} to {show(self.high)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "test": self.test,
            "home": self.home,
            "mean": self.mean,
            "low": self.low,
            "high": self.high,
            "peers": self.peers,
            "p_value": self.p_value,
            "reason": self.reason,
        }


def compare_with_peers(home: float | None, peers: Mapping[str, float], rules: BoardRules) -> PeerComparison:
    """Label ``home`` against the ``peers``' figures (force -> figure) by the stated test."""
    values = [float(v) for v in peers.values()]
    k = len(values)
    mean = sum(values) / k if k else None
    low, high = (min(values), max(values)) if values else (None, None)

    def na(reason: str) -> PeerComparison:
        return PeerComparison(NOT_AVAILABLE, TEST_PEERS, home, mean, low, high, k, None, reason)

    if home is None:
        return na("no figure for the force")
    if k < MIN_PEERS:
        return na(f"fewer than {MIN_PEERS} peer forces with figures")
    sums = (float(k), sum(values), sum(v * v for v in values))
    comparison = prediction_test(home, sums, rules)
    if comparison.label not in _LABELS:
        return na(comparison.reason or "no variation among the peers")
    return PeerComparison(_LABELS[comparison.label], TEST_PEERS, home, mean, low, high, k, comparison.p_value)
