"""``definitions.timezone`` is applied when figures are read: no fold stores a value that depends on it.

Effective-dated reference data (the offence map, the district map) is dated in the force's own UK
calendar, so a fold looks it up on the UK local date whatever calendar the figures are read in.
The instants below are 00:30 BST on the first day of a reference period, i.e. 23:30 UTC the day
before: read in UTC they would fall before the period starts.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from schemas.definitions import Definitions
from schemas.events import parse_event
from streams.domain.crimes import CrimeFold
from streams.domain.geography import parse_districts
from streams.domain.incidents import IncidentFold
from streams.sources.simulator import SimConfig, simulate

pytestmark = pytest.mark.unit

UTC_DEFS = Definitions().with_overrides(["timezone=UTC"])


def _incident(at: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "I9-created-0",
        "source": "cad",
        "type": "incident.created.v1",
        "time": at,
        "force_id": "cambs",
        "subject": "I9",
        "data": {
            "channel": "999",
            "opening_category": "PSW_CONCERN_FOR_SAFETY",
            "location": {"district": "Fenland", "urban_rural": "rural", "address": "1 Road"},
        },
    }


def test_incident_district_is_mapped_on_the_uk_date_whatever_the_timezone() -> None:
    districts = parse_districts(
        "force_id,district,area,valid_from,valid_to\n"
        "cambs,Fenland,North,2000-01-01,2024-04-01\n"
        "cambs,Fenland,East,2024-04-01,\n"
    )
    fold = IncidentFold(districts=districts)
    events = [parse_event(_incident("2024-03-31T23:30:00+00:00"))]
    rows = [fold.fold(events, defs).rows["incidents"][0] for defs in (Definitions(), UTC_DEFS)]
    assert [(r["district"], r["area"]) for r in rows] == [("Fenland", "East")] * 2


def test_no_fold_depends_on_the_timezone() -> None:
    config = SimConfig(start=date(2024, 3, 30), days=3, scale=0.05, seed=3)
    by_subject: dict[tuple[str, str], list[Any]] = {}
    for raw in simulate(config):
        event = parse_event(raw)
        by_subject.setdefault((event.type.split(".")[0], event.subject), []).append(event)
    folds = {"incident": IncidentFold(), "crime": CrimeFold()}
    checked = 0
    for (kind, _), events in by_subject.items():
        fold = folds.get(kind)
        if fold is None:
            continue
        assert fold.fold(events, UTC_DEFS) == fold.fold(events, Definitions())
        checked += 1
    assert checked > 0
