"""Which pure fold handles which event entity, and which rollups refresh after which fact table.

The one place the pipeline's domain plug-ins are listed (imported by the worker, replay and tests).
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.domain.base import Fold
from streams.pipeline import RollupRefresher


def folds() -> list[Fold]:
    """Every domain fold (one per kind of subject)."""
    found: list[Fold] = []
    return found


def refreshers() -> Mapping[str, RollupRefresher]:
    """Rollup refreshers keyed by the fact table whose writes trigger them."""
    found: dict[str, RollupRefresher] = {}
    return found
