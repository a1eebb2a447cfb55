"""Prometheus updates for incidents: the attendance-time histogram, per batch.

:func:`observe` is called by the agent after each batch. It observes ``ATTENDANCE_SECONDS`` (creation
to first arrival, labelled by grade at arrival and urban/rural) once per incident: when the batch
brought the event that completed the response (the created event or the first arrival) and the
incident has a response time by its facts (created, attended, graded at arrival, not cancelled, not a
duplicate) and is not self-initiated. The histogram is a live indicator with this fixed rule; the
published figures apply the definitions when read. A first arrival that is itself replaced by an earlier late
arrival is observed again (rare; the warehouse figures are exact, the histogram is a live indicator).

The open and breached incident gauges, read from the warehouse, are set by :mod:`demandhub.gauges`.
"""

from __future__ import annotations

from datetime import datetime

from schemas.events import verb_of
from sinks.prometheus.metrics import ATTENDANCE_SECONDS, observe_by_labels
from streams.domain.incidents import INCIDENTS_TABLE
from streams.pipeline import BatchReport


def completing_events(report: BatchReport) -> set[tuple[str, str, datetime]]:
    """(force, incident, time) of the batch's incident ``created`` and ``resource_arrived`` events."""
    return {
        (e.force_id, e.subject, e.time)
        for e in report.events_by_entity().get("incident", ())
        if verb_of(e.type) in ("created", "resource_arrived")
    }


def attendance_observations(report: BatchReport) -> list[tuple[str, str, float]]:
    """(grade at arrival, urban/rural, seconds) to observe for this batch (see the module docstring)."""
    done = completing_events(report)
    out: list[tuple[str, str, float]] = []
    for row in report.new_rows.get(INCIDENTS_TABLE, []):
        if row["attendance_exclusion"] != "" or row["self_initiated"]:
            continue
        key = (row["force_id"], row["incident_id"])
        if (*key, row["first_arrival_at"]) in done or (*key, row["created_at"]) in done:
            out.append((row["grade_at_arrival"], row["urban_rural"], row["response_seconds_created"]))
    return out


def observe(report: BatchReport) -> None:
    """Update the attendance histogram from one processed batch."""
    observe_by_labels(
        ATTENDANCE_SECONDS,
        (((grade, urban_rural), seconds) for grade, urban_rural, seconds in attendance_observations(report)),
    )
