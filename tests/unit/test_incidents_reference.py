"""NICL catalogue, district mapping and the pure response-time rules."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.definitions import IncidentDefinitions
from streams.domain.geography import default_districts, parse_districts
from streams.domain.incidents import target_minutes, watch_status, within_target
from streams.domain.nicl import default_catalogue, parse_catalogue

pytestmark = pytest.mark.unit


def test_asb_chapter_codes() -> None:
    nicl = default_catalogue()
    assert nicl.codes_in("ASB") == ("ASB_ENVIRONMENTAL", "ASB_NUISANCE", "ASB_PERSONAL")
    assert nicl.is_asb("ASB_PERSONAL") and not nicl.is_asb("CRIME_VIOLENCE")
    assert not nicl.is_asb(None) and nicl.chapter_of("NOT_LISTED") is None


def test_catalogue_rejects_bad_codes_and_repeats() -> None:
    with pytest.raises(ValueError, match="not a NICL code"):
        parse_catalogue("code,chapter\nasb-lower,ASB\n")
    with pytest.raises(ValueError, match="twice"):
        parse_catalogue("code,chapter\nASB_X,ASB\nASB_X,ASB\n")


def test_cambridgeshire_areas() -> None:
    mapping = default_districts().districts("cambs", date(2024, 3, 1))
    south = {d for d, a in mapping.items() if a == "South"}
    north = {d for d, a in mapping.items() if a == "North"}
    assert south == {"Cambridge City", "South Cambridgeshire", "East Cambridgeshire", "Huntingdonshire"}
    assert north == {"Peterborough", "Fenland"}


def test_effective_dated_lookup_and_overlap() -> None:
    text = (
        "force_id,district,area,valid_from,valid_to\n"
        "x,Fenland,Old,2010-01-01,2020-01-01\n"
        "x,Fenland,North,2020-01-01,\n"
    )
    mapping = parse_districts(text)
    assert mapping.lookup("x", " fenland ", date(2019, 12, 31)).area == "Old"  # type: ignore[union-attr]
    assert mapping.lookup("x", "Fenland", date(2020, 1, 1)).area == "North"  # type: ignore[union-attr]
    assert mapping.lookup("x", "Fenland", date(2009, 1, 1)) is None
    with pytest.raises(ValueError, match="overlapping"):
        parse_districts(text + "x,Fenland,Other,2015-01-01,2016-01-01\n")


def test_targets_and_watch_status() -> None:
    defs = IncidentDefinitions()
    assert target_minutes(defs, "IMMEDIATE", "urban") == 15
    assert target_minutes(defs, "IMMEDIATE", "rural") == 20
    assert target_minutes(defs, "PRIORITY", "rural") == 60
    assert target_minutes(defs, "SCHEDULED", "urban") is None
    assert within_target(900, 900) is True and within_target(900.001, 900) is False
    # 15 min target, amber at 0.75 * 15 = 11.25 min
    assert watch_status(11 * 60, 900, 0.75) == "ok"
    assert watch_status(11.25 * 60, 900, 0.75) == "amber"
    assert watch_status(900, 900, 0.75) == "amber"
    assert watch_status(901, 900, 0.75) == "red"
