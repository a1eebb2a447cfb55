"""The trends' per-slot service level is the board's rule under the call definitions (abandon
convention and callbacks), not a fixed answered-within / answered."""

from __future__ import annotations

import pytest

from demandhub.queries.trends import SlotCounts
from demandhub.web.trends import _slot_service_level
from schemas.definitions import Definitions
from streams.domain.servicelevel import QueueCounters

pytestmark = pytest.mark.unit

SLOT = SlotCounts(
    20,
    QueueCounters(
        entered=20,
        answered=12,
        answered_within=9,
        abandoned=5,
        abandoned_within=2,
        short_abandoned=1,
        callbacks=3,
    ),
)


def test_the_default_definitions_keep_the_answered_basis() -> None:
    assert _slot_service_level(SLOT, Definitions().calls) == pytest.approx(9 / 12)


def test_the_slot_follows_the_abandon_convention_and_the_callbacks_option() -> None:
    defs = Definitions().with_overrides(
        ["calls.abandon_convention=count_as_missed", "calls.callbacks_in_service_level=missed"]
    )
    assert _slot_service_level(SLOT, defs.calls) == pytest.approx(9 / (12 + 5 + 3))


def test_a_slot_without_a_denominator_has_no_service_level() -> None:
    assert _slot_service_level(SlotCounts(0, QueueCounters()), Definitions().calls) is None
    assert _slot_service_level(None, Definitions().calls) is None
