"""Which pure fold handles which event entity, and which rollups refresh after which fact table.

The one place the pipeline's domain plug-ins are listed (imported by the worker, replay and tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from streams.domain.base import Fold
from streams.pipeline import BatchReport, RollupRefresher


def folds() -> list[Fold]:
    """Every domain fold (one per kind of subject)."""
    found: list[Fold] = []
    from streams.domain.incidents import IncidentFold

    found.append(IncidentFold())
    from streams.domain.crimes import CrimeFold

    found.append(CrimeFold())
    from streams.domain.contacts import CallFold, OnlineReportFold, WebchatFold

    found.extend([CallFold(), WebchatFold(), OnlineReportFold()])
    return found


def refreshers() -> Mapping[str, RollupRefresher]:
    """Rollup refreshers keyed by the fact table whose writes trigger them."""
    found: dict[str, RollupRefresher] = {}
    from sinks.clickhouse.rollups_incidents import refresh_incidents_hourly

    found["incidents"] = refresh_incidents_hourly
    from sinks.clickhouse.rollups_contacts import refresh_channel_rollup, refresh_queue_rollup

    found["contact_legs"] = refresh_queue_rollup
    found["contacts"] = refresh_channel_rollup
    return found


def observers() -> list[Callable[[BatchReport], None]]:
    """Per-batch metric observers (live counters and histograms)."""
    found: list[Callable[[BatchReport], None]] = []
    from streams import metrics_incidents

    found.append(metrics_incidents.observe)
    from streams import metrics_contacts

    found.append(metrics_contacts.observe)
    return found


def gauge_refreshers() -> list[Callable[[Warehouse, str, datetime, Definitions], None]]:
    """Live gauges computed from the warehouse every few seconds: (warehouse, force, now, definitions)."""
    found: list[Callable[[Warehouse, str, datetime, Definitions], None]] = []
    from streams import metrics_incidents

    found.append(metrics_incidents.refresh_live_gauges)
    from streams import metrics_crimes

    found.append(metrics_crimes.refresh_live_gauges)
    from streams import metrics_contacts

    found.append(metrics_contacts.refresh_live_gauges)
    return found
