"""Settings of the warehouse-backed board pack: completeness, history span and revisions.

Completeness rule (printed in every pack): an event-derived month M of a measure is complete once
the watermark of each of the measure's event entities has passed the end of M (local calendar, ``Definitions.timezone``) plus the
measure's settling period (``settle_hours[settling]``). A month that is not complete is null ("n/a"),
never a partial value shown as final. Watermarks are kept per source system (the latest event time
the ledger holds for that force and source, of any type): an entity's watermark is the earliest of
its sources' (``demandhub.board.warehouse.source.watermarks_by_source``), so one lagging feed holds back every
measure it feeds, and backfill counts only where no live source feeds the entity. Crime settles longer than calls (late recording, transfers and
reclassifications). An entity with no events at all is ignored when the measure has others; a
measure none of whose entities has events has no complete month. Imported months are complete as
imported; a month with no imported row is null.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from demandhub.board.maths.pack import CHART_MONTHS
from schemas.canonical import json_hash


class PackSettings(BaseModel):
    """Versioned, frozen settings for reading the warehouse into a pack."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field("1.0.0", description="Version of these settings; printed in the pack.")
    settle_hours: dict[str, float] = Field(
        default={"contacts": 1.0, "incidents": 4.0, "queue": 1.0, "crimes": 240.0, "social": 24.0},
        description=(
            "Settling periods in hours after month end before an event-derived month counts as "
            "complete, by the catalogue's 'settling' name. Calls settle within the hour; incidents "
            "need their late arrivals; crime needs ten days for late recording and classification; social "
            "media threads received late in a month are answered within a day."
        ),
    )
    history_months: int = Field(
        131,
        ge=59,
        description=(
            "Months of history read before the pack month (the dashboard needs m-47..m and the "
            "36-month charts; the narrative's 'highest in N years' needs ten years or more)."
        ),
    )
    revision_lookback_months: int = Field(
        24, ge=0, description="Published figures for as-of months this far back are re-checked."
    )
    msf_period: Literal["current", "rolling_12"] = Field(
        "rolling_12",
        description=(
            "MSF column: the peer forces' pooled value over the rolling 12 months to the measure's "
            "as-of month ('rolling_12') or for the as-of month alone ('current')."
        ),
    )
    chart_months: int = Field(CHART_MONTHS, ge=12, description="Months shown in each trend chart.")

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        return json_hash(self.as_dict())

    def completeness_rule(self) -> str:
        hours = ", ".join(f"{k} {v:g} h" for k, v in sorted(self.settle_hours.items()))
        return (
            "An event-derived month is complete once every source system feeding it (telephony, "
            "chat, command and control, crime system, portal, social; backfill only where no live "
            "source feeds it) has events later than the month's end plus its settling period "
            f"({hours}); an incomplete month "
            "is n/a, never a partial figure. Imported figures are complete as imported; a month "
            "with no imported figure is n/a."
        )
