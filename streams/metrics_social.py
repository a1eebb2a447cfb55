"""Prometheus updates for social media threads: the received counter and the first-response
histogram, per batch.

:func:`observe` counts every newly accepted ``social.received`` event (a receipt is never held back,
and a second receipt of a thread is quarantined and not counted), and observes the wait from receipt
to first response once per thread: when the batch brought the ``social.responded`` event that is the
thread's first response by its facts (including responses held until their receipt arrived). An
earlier response arriving after a later one was observed is observed again (rare; the warehouse
figures are exact, the histogram is a live indicator). The label is the platform, from reference data
(``schemas/reference/platforms.csv``), or ``other``: never an id, a handle or any personal value.

The live gauges read from the warehouse (threads waiting, the oldest unanswered, those past the
target) are set by :mod:`demandhub.gauges`.
"""

from __future__ import annotations

from datetime import datetime

from schemas.envelope import Envelope
from schemas.events import verb_of
from sinks.prometheus.metrics import (
    SOCIAL_FIRST_RESPONSE_SECONDS,
    SOCIAL_THREADS_RECEIVED,
    inc_by_labels,
    observe_by_labels,
)
from streams.domain.reference import default_reference
from streams.domain.social import THREADS
from streams.pipeline import BatchReport


def platform_label(force_id: str, platform: str | None) -> str:
    """The platform as the reference data names it, ``other`` when it lists no such platform for the
    force."""
    if platform and default_reference().knows("platform", force_id, platform):
        return platform
    return "other"


def _social_events(report: BatchReport) -> list[Envelope]:
    return report.counted("social")


def received_platforms(report: BatchReport) -> list[str]:
    """The platform label of every thread the batch received."""
    return [
        platform_label(e.force_id, getattr(e.data, "platform", None))
        for e in _social_events(report)
        if verb_of(e.type) == "received"
    ]


def first_response_observations(report: BatchReport) -> list[tuple[str, float]]:
    """(platform label, seconds from receipt to first response) to observe for this batch."""
    responded: set[tuple[str, str, datetime]] = {
        (e.force_id, e.subject, e.time) for e in _social_events(report) if verb_of(e.type) == "responded"
    }
    out: list[tuple[str, float]] = []
    for row in report.new_rows.get(THREADS, []):
        first, seconds = row.get("first_response_at"), row.get("first_response_seconds")
        if first is None or seconds is None:
            continue
        if (row["force_id"], row["thread_id"], first) in responded:
            out.append((platform_label(row["force_id"], row["platform"]), float(seconds)))
    return out


def observe(report: BatchReport) -> None:
    """Update the social media counter and histogram from one processed batch."""
    inc_by_labels(SOCIAL_THREADS_RECEIVED, ((platform,) for platform in received_platforms(report)))
    observe_by_labels(
        SOCIAL_FIRST_RESPONSE_SECONDS,
        (((platform,), seconds) for platform, seconds in first_response_observations(report)),
    )
