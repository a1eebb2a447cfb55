"""A batch report's events by entity, and what the live counters count of them, grouped once for
every metric observer of a batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.envelope import Envelope
from schemas.events import parse_event
from streams.pipeline import BatchReport

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 6, 9, tzinfo=UTC)


def _event(etype: str, subject: str, n: int, **data: object) -> Envelope:
    source = {"call": "telephony", "webchat": "chat", "incident": "cad"}[etype.split(".")[0]]
    return parse_event(
        {
            "id": f"{subject}-{n}",
            "source": source,
            "type": etype,
            "time": (T0 + timedelta(seconds=n)).isoformat(),
            "force_id": "cambs",
            "subject": subject,
            "data": data,
        }
    )


def test_events_by_entity_keep_their_order_and_follow_a_growing_report() -> None:
    a = _event("webchat.offered.v1", "W1", 0)
    b = _event("webchat.answered.v1", "W1", 1)
    report = BatchReport(events=[a])
    assert report.events_by_entity() == {"webchat": [a]}
    report.events.append(b)
    assert report.events_by_entity() == {"webchat": [a, b]}


def test_counted_leaves_out_quarantined_events_and_takes_in_resolved_ones() -> None:
    offer = _event("webchat.offered.v1", "W1", 0)
    second = _event("webchat.offered.v1", "W1", 2)
    held_answer = _event("webchat.answered.v1", "W2", 5)
    other_reason = _event("webchat.answered.v1", "W3", 6)
    report = BatchReport(
        events=[offer, second],
        quarantined=[(second, "duplicate_opening: a second offer")],
        resolved=[
            (held_answer, "missing_opening: answered for a chat with no offer"),
            (other_reason, "after_close: answered after the chat closed"),
        ],
    )
    assert report.counted("webchat") == [offer, held_answer]
    assert report.counted("call") == []
    # a resolved event of another entity is not taken in under this one
    assert report.counted("incident") == []
