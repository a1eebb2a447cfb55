"""The offence-group and outcome-type reference data and the classifier."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from schemas.crimes import OFFENCE_CODE_PATTERN
from streams.domain.classification import (
    GROUPS,
    UNCLASSIFIED,
    classify,
    is_conditional_subtype,
    offence_groups,
    outcome_types,
    parse_offence_groups,
)

pytestmark = pytest.mark.unit

MIGRATION = Path(__file__).resolve().parents[2] / "sinks/clickhouse/migrations/0301_crime_views.sql"


def test_every_code_is_well_formed_and_every_group_known() -> None:
    mapping = offence_groups()
    assert len(mapping) > 100
    for code, rows in mapping.items():
        assert re.match(OFFENCE_CODE_PATTERN, code), code
        assert all(r.group in GROUPS for r in rows)


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("8N", "violence_with_injury"),
        ("105A", "violence_without_injury"),
        ("28E", "burglary_dwelling"),
        ("19C", "serious_sexual"),
        ("92A", "drugs"),
        ("46", "shoplifting"),
        ("44", "pedal_cycle_theft"),
        ("8Q", "stalking_harassment"),
        ("9A", "public_order"),
        ("58A", "criminal_damage"),
        ("34B", "robbery"),
        ("4/1", "homicide"),
    ],
)
def test_board_groups_of_current_codes(code: str, group: str) -> None:
    found = classify(code, date(2024, 1, 1))
    assert (found.group, found.known) == (group, True)


def test_effective_dating_of_the_2017_burglary_codes() -> None:
    assert classify("28A", date(2017, 3, 31)).group == "burglary_dwelling"
    assert classify("28A", date(2017, 4, 1)).known is False  # retired: reported, not dropped
    assert classify("28E", date(2017, 3, 31)).known is False
    assert classify("28E", date(2017, 4, 1)).group == "burglary_dwelling"


def test_unknown_code_is_unclassified() -> None:
    found = classify("999Z", date(2024, 1, 1))
    assert (found.group, found.known, found.code) == (UNCLASSIFIED, False, "999Z")


def test_overlapping_periods_and_unknown_groups_are_refused() -> None:
    header = "offence_code,description,offence_group,effective_from,effective_to\n"
    with pytest.raises(ValueError, match="overlapping"):
        parse_offence_groups(header + "1,a,homicide,,2020-01-01\n1,b,homicide,2019-01-01,\n")
    with pytest.raises(ValueError, match="unknown group"):
        parse_offence_groups(header + "1,a,murders,,\n")
    ok = parse_offence_groups("# comment\n" + header + "1,a,homicide,,2020-01-01\n1,b,other,2020-01-01,\n")
    assert [r.group for r in ok["1"]] == ["homicide", "other"]


def test_outcome_types_one_to_twenty_two_with_default_prosecution_possible() -> None:
    types = outcome_types()
    assert sorted(types) == list(range(1, 23))
    assert [n for n, o in types.items() if o.prosecution_possible_default] == list(range(1, 9))


def test_migration_outcome_view_matches_the_csv() -> None:
    sql = MIGRATION.read_text()
    found = {
        int(n): (name, flag == "true")
        for n, name, flag in re.findall(r"\((\d+), '([^']*)', (true|false)\)", sql)
    }
    assert found == {n: (o.name, o.prosecution_possible_default) for n, o in outcome_types().items()}


def test_conditional_subtypes() -> None:
    assert is_conditional_subtype("conditional") and is_conditional_subtype("conditional_cara")
    assert not is_conditional_subtype(None) and not is_conditional_subtype("simple")


def test_burglary_definitional_breaks_are_marked() -> None:
    from streams.domain.classification import discontinuities

    breaks = discontinuities()
    burglary = [(d.starts, d.group) for d in breaks if d.group == "burglary_dwelling"]
    # April 2017: burglary in a dwelling 28A-28D became burglary residential 28E-28H (outbuildings
    # within the boundary now count); April 2023: residential burglary split into home and
    # unconnected building.
    assert burglary == [(date(2017, 4, 1), "burglary_dwelling"), (date(2023, 4, 1), "burglary_dwelling")]
    assert all(d.note for d in breaks)
    assert any(d.group == "burglary_business" and d.starts == date(2017, 4, 1) for d in breaks)
    # The marker does not change the mapping: 28E is residential burglary on both sides of 2023.
    assert (
        classify("28E", date(2022, 6, 1)).group
        == classify("28E", date(2024, 6, 1)).group
        == "burglary_dwelling"
    )


def test_outcome_types_carry_their_home_office_group() -> None:
    types = outcome_types()
    assert all(t.home_office_group for t in types.values())
    # Type 5 (offender has died) is published with prosecution prevented, though the force's
    # default prosecution-possible set counts it; type 22 is diversionary activity.
    assert types[5].home_office_group == "prosecution_prevented_or_not_in_public_interest"
    assert types[5].prosecution_possible_default
    prevented = {n for n, t in types.items() if t.home_office_group == types[5].home_office_group}
    assert prevented == {5, 9, 10, 11, 12, 13, 17}
    assert types[22].home_office_group == "diversionary_educational_intervention"
    assert not types[22].prosecution_possible_default
