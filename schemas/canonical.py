"""Canonical JSON and its hash, written once: every configuration, definition, document and content
hash of the project is :func:`json_hash` of plain JSON values.

The canonical form sorts object keys and uses compact separators. Hashes that are stored and compared
across releases keep the form they were first stored in: the definitions' hash (``definition_hash`` in
the warehouse, ``applied_definitions``), a published pack's figures hash and lineage digests use
``compact=False`` (``", "`` and ``": "``); changing their form would make every stored hash differ.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(data: Any, *, compact: bool = True, allow_nan: bool = True) -> str:
    """``data`` as JSON with sorted keys (compact separators unless ``compact`` is False); with
    ``allow_nan`` False a NaN or infinity raises ValueError instead of being written."""
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(data, sort_keys=True, separators=separators, allow_nan=allow_nan)


def json_hash(data: Any, *, compact: bool = True, allow_nan: bool = True, length: int | None = None) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``data``, cut to ``length`` characters if given."""
    digest = hashlib.sha256(canonical_json(data, compact=compact, allow_nan=allow_nan).encode()).hexdigest()
    return digest if length is None else digest[:length]
