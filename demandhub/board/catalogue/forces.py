"""Force display names (reference data in ``forces.toml``): ``cambs`` -> "Cambridgeshire
Constabulary". ``Settings.force_name`` overrides the name of the configured force; an id that is
not listed prints as itself."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources


@cache
def force_names() -> dict[str, str]:
    """Force id -> display name, from the packaged ``forces.toml``."""
    text = (resources.files("demandhub.board.catalogue") / "forces.toml").read_text(encoding="utf-8")
    return {str(k): str(v) for k, v in tomllib.loads(text).get("forces", {}).items()}


def display_name(force_id: str, configured: str | None = None) -> str:
    """``configured`` if set, else the reference name of ``force_id``, else the id itself."""
    return configured or force_names().get(force_id, force_id)
