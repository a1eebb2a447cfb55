"""Social media metrics: threads received by platform and the first-response histogram, per batch,
labelled by platform only (no ids, handles or other personal values)."""

from __future__ import annotations

import pytest

from schemas.definitions import Definitions
from schemas.envelope import Envelope
from sinks.prometheus.metrics import REGISTRY
from streams import registry
from streams.domain.social import THREADS, SocialFold
from streams.metrics_social import first_response_observations, platform_label, received_platforms
from streams.pipeline import BatchReport
from tests.unit.test_social_fold import thread

pytestmark = pytest.mark.unit


def report(events: list[Envelope], facts: list[Envelope] | None = None) -> BatchReport:
    """A batch that accepted ``events`` and rewrote the facts of the threads of ``facts`` (all by
    default)."""
    out = BatchReport(events=events)
    for subject in sorted({e.subject for e in facts or events}):
        history = [e for s in ("S1", "S2", "S3") for e in thread(s) if e.subject == subject]
        out.new_rows[THREADS].extend(SocialFold().fold(history, Definitions()).rows[THREADS])
    return out


def sample(name: str, platform: str) -> float:
    return REGISTRY.get_sample_value(name, {"platform": platform}) or 0.0


def test_received_by_platform_and_first_response_once() -> None:
    events = [*thread("S1"), *thread("S2"), *thread("S3")]
    batch = report(events)
    assert sorted(received_platforms(batch)) == ["facebook", "instagram", "x"]
    # S1 answered 31 min after receipt; S2 abandoned and S3 open have no first response
    assert first_response_observations(batch) == [("facebook", 1860.0)]
    # a later batch with only S1's further response and close observes nothing again
    later = [e for e in thread("S1") if e.type in ("social.closed.v1",)]
    assert first_response_observations(report(later)) == []
    assert received_platforms(report(later)) == []


def test_the_worker_observer_updates_the_registered_metrics() -> None:
    before = (
        sample("demandhub_social_threads_received_total", "facebook"),
        sample("demandhub_social_first_response_seconds_count", "facebook"),
        sample("demandhub_social_first_response_seconds_sum", "facebook"),
    )
    for observe in registry.observers(Definitions()):
        observe(report(thread("S1")))
    after = (
        sample("demandhub_social_threads_received_total", "facebook"),
        sample("demandhub_social_first_response_seconds_count", "facebook"),
        sample("demandhub_social_first_response_seconds_sum", "facebook"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1860.0]
    within_30_min = REGISTRY.get_sample_value(
        "demandhub_social_first_response_seconds_bucket", {"platform": "facebook", "le": "1800.0"}
    )
    within_45_min = REGISTRY.get_sample_value(
        "demandhub_social_first_response_seconds_bucket", {"platform": "facebook", "le": "2700.0"}
    )
    assert within_30_min is not None and within_45_min is not None and within_45_min > within_30_min


def test_a_quarantined_receipt_is_not_counted_and_labels_stay_bounded() -> None:
    [received] = [e for e in thread("S1") if e.type == "social.received.v1"]
    batch = report([received])
    batch.quarantined.append((received, "second received event for the thread"))
    assert received_platforms(batch) == []
    assert platform_label("cambs", "facebook") == "facebook"
    assert platform_label("cambs", "@someone") == "other"
    assert platform_label("cambs", None) == "other"
