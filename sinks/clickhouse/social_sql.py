"""The social media definitions as SQL, written once: every reader of ``social_threads`` (the board's
monthly cells, the wallboard, lineage) applies the ``social`` definitions at read time through these
fragments and :func:`social_params`, so the facts keep raw times only and a change of definition
needs no replay.

Query parameters (all named ``d_*``):
- ``d_target_seconds`` (UInt32): ``social.first_response_target_minutes`` in seconds;
- ``d_short_abandon_seconds`` (UInt32): ``social.short_abandon_minutes`` in seconds;
- ``d_received_basis`` (UInt8): 1 when ``social.target_basis`` is ``received``.
"""

from __future__ import annotations

from typing import Any

from schemas.definitions import Definitions

WITHIN_TARGET = "(first_response_seconds IS NOT NULL AND first_response_seconds <= {d_target_seconds:UInt32})"
"""The thread's first response came within the target."""

SHORT_ABANDON = "(abandoned AND abandon_seconds < {d_short_abandon_seconds:UInt32})"
"""Closed by the public, before any response, within the short-abandon threshold (sent in error)."""

COUNTED_ABANDON = "(abandoned AND abandon_seconds >= {d_short_abandon_seconds:UInt32})"
"""An abandon that counts: closed by the public before any response, not a short abandon."""

TARGET_DENOMINATOR = (
    "if({d_received_basis:UInt8} = 1, NOT " + SHORT_ABANDON + ", first_response_seconds IS NOT NULL)"
)
"""In the first-response target's denominator: responded threads, or (received basis) every thread
except short abandons."""

RESOLVED = "(closed_by = 'handler')"
"""Closed by a handler with a disposition."""

RESOLVED_WITHOUT_INCIDENT = "(closed_by = 'handler' AND disposition != 'incident_created')"


def social_params(definitions: Definitions) -> dict[str, Any]:
    """The ``d_*`` query parameters of the fragments above under ``definitions``."""
    social = definitions.social
    return {
        "d_target_seconds": social.first_response_target_minutes * 60,
        "d_short_abandon_seconds": social.short_abandon_minutes * 60,
        "d_received_basis": 1 if social.target_basis == "received" else 0,
    }
