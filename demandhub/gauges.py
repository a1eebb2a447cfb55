"""Live Prometheus gauges read from the warehouse every few seconds (by ``runtime.refresh_gauges_forever``).

They read through the live readers of :mod:`demandhub.queries`, so they live here in the shell, not in
``streams`` (which never imports the shell). The per-batch counters and histograms stay with the stream
processor (``streams/metrics_*.py``); the metrics themselves are declared once in
:mod:`sinks.prometheus.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from demandhub.queries.contacts import waiting_by_queue
from demandhub.queries.crimes import live_qa_queue
from demandhub.queries.incidents import live_open_incidents
from demandhub.queries.social import live_social
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from sinks.prometheus.metrics import (
    INCIDENTS_BREACHED,
    INCIDENTS_OPEN,
    QA_QUEUE_DEPTH,
    QA_QUEUE_OLDEST_SECONDS,
    QUEUE_LONGEST_WAIT,
    QUEUE_WAITING,
    SOCIAL_OLDEST_UNANSWERED_SECONDS,
    SOCIAL_THREADS_OVER_TARGET,
    SOCIAL_THREADS_WAITING,
)
from streams.domain.incidents import WATCH_GRADES

GaugeRefresher = Callable[[Warehouse, str, datetime, Definitions], None]


def refresh_contact_gauges(wh: Warehouse, force_id: str, now: datetime, definitions: Definitions) -> None:
    """Set contacts waiting and the longest current wait (0 when none) per live queue."""
    for queue, item in waiting_by_queue(wh, force_id, now, definitions.calls).items():
        QUEUE_WAITING.labels(queue).set(item["waiting"])
        QUEUE_LONGEST_WAIT.labels(queue).set(item["longest_wait_seconds"] or 0.0)


def refresh_incident_gauges(wh: Warehouse, force_id: str, now: datetime, definitions: Definitions) -> None:
    """Set the open and breached incident gauges for every watched grade (zero when none)."""
    items = live_open_incidents(wh, force_id, now, definitions)
    for grade in WATCH_GRADES:
        mine = [i for i in items if i["grade"] == grade]
        INCIDENTS_OPEN.labels(grade=grade).set(len(mine))
        INCIDENTS_BREACHED.labels(grade=grade).set(sum(1 for i in mine if i["status"] == "red"))


def refresh_crime_gauges(wh: Warehouse, force_id: str, now: datetime, definitions: Definitions) -> None:
    """Set the QA/Linking queue depth and the age of its oldest item (0 when the queue is empty)."""
    live = live_qa_queue(wh, force_id, now, definitions)
    QA_QUEUE_DEPTH.set(live["depth"])
    QA_QUEUE_OLDEST_SECONDS.set(live["oldest_age_seconds"] or 0.0)


def refresh_social_gauges(wh: Warehouse, force_id: str, now: datetime, definitions: Definitions) -> None:
    """Set the social media threads waiting for a first response, the age of the oldest (0 when none)
    and how many are past ``social.first_response_target_minutes``."""
    desk = live_social(wh, force_id, now, definitions)
    SOCIAL_THREADS_WAITING.set(desk["waiting"])
    SOCIAL_OLDEST_UNANSWERED_SECONDS.set(desk["oldest_age_seconds"] or 0.0)
    SOCIAL_THREADS_OVER_TARGET.set(desk["over_target"])


def gauge_refreshers() -> list[GaugeRefresher]:
    """Every live gauge refresher: (warehouse, force, now, definitions)."""
    return [refresh_contact_gauges, refresh_incident_gauges, refresh_crime_gauges, refresh_social_gauges]
