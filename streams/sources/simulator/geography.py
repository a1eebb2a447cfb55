"""Districts, areas and urban shares per force (reference data for the simulator).

Cambridgeshire: South = Cambridge City, South Cambridgeshire, East Cambridgeshire, Huntingdonshire;
North = Peterborough, Fenland (DOMAIN 2). Any other force gets six generic districts
``<force>-d1`` .. ``<force>-d6`` in two areas (``<force>-north``, ``<force>-south``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    name: str
    area: str
    weight: float  # share of the force's demand
    urban_share: float  # probability an incident location is urban
    beat_prefix: str


CAMBS: tuple[District, ...] = (
    District("Cambridge City", "South", 0.20, 0.97, "CC"),
    District("South Cambridgeshire", "South", 0.15, 0.35, "SC"),
    District("East Cambridgeshire", "South", 0.09, 0.35, "EC"),
    District("Huntingdonshire", "South", 0.18, 0.50, "HU"),
    District("Peterborough", "North", 0.26, 0.88, "PE"),
    District("Fenland", "North", 0.12, 0.40, "FE"),
)


def _generic(force: str) -> tuple[District, ...]:
    weights = (0.24, 0.18, 0.12, 0.20, 0.16, 0.10)
    urban = (0.92, 0.45, 0.35, 0.80, 0.55, 0.30)
    return tuple(
        District(
            f"{force}-d{i + 1}",
            f"{force}-north" if i >= 3 else f"{force}-south",
            weights[i],
            urban[i],
            f"D{i + 1}",
        )
        for i in range(6)
    )


def districts(force: str) -> tuple[District, ...]:
    """The district table of ``force``."""
    return CAMBS if force == "cambs" else _generic(force)


def force_size(force: str) -> float:
    """Relative demand of ``force`` (Cambridgeshire = 1; others a stable 0.6-1.6 from the name)."""
    if force == "cambs":
        return 1.0
    digest = hashlib.sha256(force.encode()).digest()
    return 0.6 + digest[0] / 255.0
