"""Prometheus gauges of the crime domain, computed from the warehouse.

:func:`refresh_live_gauges` is called every few seconds by the web server; it sets the QA/Linking
queue depth and the age of its oldest item (0 when the queue is empty). The crime domain has no
per-batch counters: its figures are monthly and come from the facts.
"""

from __future__ import annotations

from datetime import datetime

from demandhub.queries.crimes import live_qa_queue
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from sinks.prometheus.metrics import QA_QUEUE_DEPTH, QA_QUEUE_OLDEST_SECONDS


def refresh_live_gauges(wh: Warehouse, force_id: str, now: datetime, definitions: Definitions) -> None:
    """Set QA_QUEUE_DEPTH and QA_QUEUE_OLDEST_SECONDS from the warehouse as of ``now``."""
    live = live_qa_queue(wh, force_id, now, definitions)
    QA_QUEUE_DEPTH.set(live["depth"])
    QA_QUEUE_OLDEST_SECONDS.set(live["oldest_age_seconds"] or 0.0)
