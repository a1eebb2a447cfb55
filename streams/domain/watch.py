"""The open-incident watch rule, on its own so that readers of the warehouse (the live page, the
board's open breaches) use it without importing the event contract that the incident fold needs.

:mod:`streams.domain.incidents` re-exports these names."""

from __future__ import annotations

from typing import Literal

WATCH_GRADES: tuple[str, ...] = ("IMMEDIATE", "PRIORITY")
"""The grades whose open, unattended incidents are watched against their targets."""

WatchStatus = Literal["ok", "amber", "red"]


def watch_status(elapsed_seconds: float, target: float, amber_share: float) -> WatchStatus:
    """Open-incident watch: ``red`` once past the target, ``amber`` once ``amber_share`` of it has
    elapsed, else ``ok``."""
    if elapsed_seconds > target:
        return "red"
    if elapsed_seconds >= amber_share * target:
        return "amber"
    return "ok"
