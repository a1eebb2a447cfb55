"""The worker's live-gauge loop runs every refresher of demandhub.gauges with its settings."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, cast

import pytest

from demandhub import gauges
from demandhub.runtime import refresh_gauges_forever
from demandhub.settings import Settings
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse

pytestmark = pytest.mark.unit


class Stop(BaseException):
    """Ends the endless loop from inside a refresher (not an Exception, so the loop does not log it)."""


class NoWarehouse:
    """Any use ends the loop too, so a loop that ran other refreshers stops instead of retrying."""

    def __getattr__(self, name: str) -> Any:
        raise Stop


def test_the_loop_runs_every_gauge_refresher(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def record(wh: Warehouse, force_id: str, now: datetime, definitions: Definitions) -> None:
        calls.append((wh, force_id, now, definitions))

    def stop(wh: Warehouse, force_id: str, now: datetime, definitions: Definitions) -> None:
        raise Stop

    monkeypatch.setattr(gauges, "gauge_refreshers", lambda: [record, stop])
    settings = Settings(force_id="kent")
    wh = cast(Warehouse, NoWarehouse())
    with pytest.raises(Stop):
        asyncio.run(refresh_gauges_forever(settings, wh))
    ((seen_wh, force, now, definitions),) = calls
    assert seen_wh is wh and force == "kent" and definitions == settings.definitions
    assert now.tzinfo is not None


def test_every_domain_has_its_gauges() -> None:
    assert gauges.gauge_refreshers() == [
        gauges.refresh_contact_gauges,
        gauges.refresh_incident_gauges,
        gauges.refresh_crime_gauges,
        gauges.refresh_social_gauges,
    ]
