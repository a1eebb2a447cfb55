"""Which pure fold handles which event entity, and which rollups and metric observers belong to which
domain (the live gauges read from the warehouse are listed in ``demandhub.gauges``).

The one place the pipeline's domain plug-ins are listed (imported by the worker, replay and tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from schemas.definitions import Definitions
from sinks.clickhouse.rollups import all_rollups, by_fact_table
from streams import metrics_contacts, metrics_incidents, metrics_social
from streams.domain.base import Fold
from streams.domain.contacts import CallFold, OnlineReportFold, WebchatFold
from streams.domain.crimes import CrimeFold
from streams.domain.incidents import IncidentFold
from streams.domain.social import SocialFold
from streams.pipeline import BatchReport, RollupRefresher


def folds() -> list[Fold]:
    """Every domain fold (one per kind of subject)."""
    return [CallFold(), WebchatFold(), OnlineReportFold(), IncidentFold(), CrimeFold(), SocialFold()]


def refreshers() -> Mapping[str, RollupRefresher]:
    """The rollups keyed by the fact table whose writes touch their buckets (contact_legs: queues per
    15 minutes, contacts: channels per 15 minutes, incidents: incidents per hour; crime readers query
    the deduplicated facts directly)."""
    return by_fact_table(all_rollups())


def observers(definitions: Definitions | None = None) -> list[Callable[[BatchReport], None]]:
    """Per-batch metric observers (live counters and histograms), under the worker's ``definitions``
    (the answer-wait histogram runs on their service clock; default: the defaults)."""

    def contacts(report: BatchReport) -> None:
        metrics_contacts.observe(report, definitions)

    return [contacts, metrics_incidents.observe, metrics_social.observe]
