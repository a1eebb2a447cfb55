"""calls.callbacks_in_service_level: callback requests left out of the service level, or misses."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.definitions import Definitions
from streams.domain.servicelevel import (
    CONVENTIONS,
    QueueCounters,
    Ratio,
    all_service_levels,
    leg_counters,
    service_level,
)

pytestmark = pytest.mark.unit

# A=4 answered (A_T=3 within T), B=2 abandoned (B_T=1 within T, S=1 short), C=3 callback requests
COUNTERS = QueueCounters(
    entered=9, answered=4, answered_within=3, abandoned=2, abandoned_within=1, short_abandoned=1, callbacks=3
)


def test_the_default_leaves_callbacks_out() -> None:
    assert Definitions().calls.callbacks_in_service_level == "excluded"
    assert service_level(COUNTERS, "answered_basis") == Ratio(3, 4)
    assert service_level(COUNTERS, "answered_basis", "excluded") == Ratio(3, 4)


def test_missed_adds_every_callback_to_the_denominator_under_every_convention() -> None:
    excluded = all_service_levels(COUNTERS)
    missed = all_service_levels(COUNTERS, "missed")
    assert missed == {
        "answered_basis": Ratio(3, 4 + 3),
        "ignore": Ratio(3, 4 + 2 - 1 + 3),
        "count_as_met": Ratio(3 + 1, 4 + 2 + 3),
        "count_as_missed": Ratio(3, 4 + 2 + 3),
        "offered_basis": Ratio(3, 4 + 2 - 1 + 3),
    }
    for name in CONVENTIONS:
        assert missed[name].num == excluded[name].num
        assert missed[name].den == excluded[name].den + 3


def test_an_unknown_basis_is_refused() -> None:
    with pytest.raises(ValueError, match="callbacks basis"):
        service_level(COUNTERS, "answered_basis", "met")  # type: ignore[arg-type]


def _leg(outcome: str, wait: float | None, **extra: Any) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "service_wait_seconds": wait,
        "entered_queue": True,
        "abandoned_in_queue": outcome == "abandoned",
        "callback_requested": outcome == "callback",
        **extra,
    }


def test_leg_counters_count_callback_legs_and_they_only_move_the_missed_basis() -> None:
    legs = [_leg("answered", 12.0), _leg("answered", 45.0), _leg("callback", 95.0), _leg("abandoned", 3.0)]
    c = leg_counters(legs, threshold_seconds=30, short_seconds=5)
    assert (c.entered, c.answered, c.answered_within, c.abandoned, c.callbacks) == (4, 2, 1, 1, 1)
    assert service_level(c, "answered_basis") == Ratio(1, 2)
    assert service_level(c, "answered_basis", "missed") == Ratio(1, 3)
    assert service_level(c, "count_as_missed", "missed") == Ratio(1, 4)


def test_counters_add_callbacks() -> None:
    assert (COUNTERS + COUNTERS).callbacks == 6


def test_the_leaf_is_a_named_definition_with_two_values() -> None:
    assert "calls.callbacks_in_service_level" in Definitions.leaves()
    changed = Definitions().with_overrides(["calls.callbacks_in_service_level=missed"])
    assert changed.calls.callbacks_in_service_level == "missed"
    assert changed.group_hash("calls") != Definitions().group_hash("calls")
    with pytest.raises(ValueError, match=r"calls\.callbacks_in_service_level"):
        Definitions().with_overrides(["calls.callbacks_in_service_level=sometimes"])
