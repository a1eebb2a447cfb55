"""Months, cells, formatting and rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from demandhub.board.maths.cells import Cell, pool, value_of
from demandhub.board.maths.format import (
    fmt_count,
    fmt_minutes,
    fmt_pct_change,
    fmt_percent,
    fmt_value,
    join_names,
    ordinal,
    span_phrase,
    twelve_months_ending,
    year_ending,
)
from demandhub.board.maths.months import (
    YearMonth,
    fy_end,
    fy_label,
    fy_start,
    fytd_months,
    month_range,
)
from demandhub.board.maths.rules import BoardRules

pytestmark = pytest.mark.unit


# --- months --------------------------------------------------------------------------------------


def test_year_month_text_forms() -> None:
    m = YearMonth.from_str("2019-03")
    assert m == YearMonth(2019, 3)
    assert str(m) == "2019-03"
    assert m.label() == "Mar-19"
    assert m.long() == "March 2019"
    assert YearMonth(2009, 11).label() == "Nov-09"


@pytest.mark.parametrize("text", ["2019-3", "2019-13", "19-03", "2019/03", ""])
def test_year_month_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError):
        YearMonth.from_str(text)


def test_year_month_arithmetic_and_order() -> None:
    m = YearMonth(2019, 3)
    assert m + 10 == YearMonth(2020, 1)
    assert m - 3 == YearMonth(2018, 12)
    assert m - 47 == YearMonth(2015, 4)
    assert m - YearMonth(2018, 4) == 11
    assert YearMonth(2018, 12) < YearMonth(2019, 1) < m
    assert sorted([m, YearMonth(2018, 12)]) == [YearMonth(2018, 12), m]
    assert len(month_range(YearMonth(2018, 4), m)) == 12
    assert month_range(m, m - 1) == ()


def test_financial_year_helpers() -> None:
    assert fy_start(YearMonth(2019, 3)) == YearMonth(2018, 4)
    assert fy_start(YearMonth(2019, 4)) == YearMonth(2019, 4)
    assert fy_end(YearMonth(2018, 7)) == YearMonth(2019, 3)
    assert fytd_months(YearMonth(2019, 4)) == (YearMonth(2019, 4),)
    assert len(fytd_months(YearMonth(2019, 3))) == 12
    assert fy_label(YearMonth(2019, 3)) == "2018/19"
    assert fy_label(YearMonth(2019, 3), start_month=1) == "2019"
    assert fy_start(YearMonth(2019, 8), start_month=9) == YearMonth(2018, 9)


# --- cells ---------------------------------------------------------------------------------------


def test_pooling_adds_numerators_and_denominators() -> None:
    pooled = pool([Cell(9, 10), Cell(1, 90)])
    assert pooled == Cell(10, 100)
    assert pooled is not None
    assert pooled.value("percent") == pytest.approx(10.0)  # not the mean of 90% and 1.1%


def test_cell_values_by_unit() -> None:
    assert Cell(7).value("count") == 7
    assert Cell(3, 4).value("percent") == 75.0
    assert Cell(600, 40, 9975).value("minutes") == 15.0
    assert Cell.level(12) == Cell(12, 1, 144)
    assert (Cell.level(12) + Cell.level(18)).value("level") == 15.0  # mean month, not 30
    assert Cell(0, 0).value("percent") is None
    assert value_of(None, "count") is None
    assert pool([]) is None


def test_cells_without_sumsq_lose_it_and_mixed_denominators_fail() -> None:
    assert (Cell(10, 2, 60) + Cell(5, 1)).sumsq is None
    with pytest.raises(ValueError):
        _ = Cell(1) + Cell(1, 2)
    with pytest.raises(ValueError):
        Cell(1).value("percent")


# --- format --------------------------------------------------------------------------------------


def test_board_number_formats() -> None:
    assert fmt_count(1234567) == "1,234,567"
    assert fmt_count(12345.5) == "12,346"
    assert fmt_percent(72.45) == "72.5%"  # half away from zero, not banker's rounding
    assert fmt_percent(0.0) == "0.0%"
    assert fmt_minutes(12.5) == "13"
    assert fmt_minutes(12.49) == "12"
    for unit in ("count", "percent", "minutes", "level"):
        assert fmt_value(None, unit) == "n/a"
    assert fmt_pct_change(4.6) == "+5%"
    assert fmt_pct_change(-0.5) == "-1%"
    assert fmt_pct_change(0.4) == "0%"
    assert fmt_pct_change(None) == "n/a"


def test_period_phrases() -> None:
    assert year_ending(YearMonth(2018, 3)) == "year ending March 2018"
    assert twelve_months_ending(YearMonth(2019, 11)) == "12 months ending November 2019"
    assert span_phrase(YearMonth(2019, 1), YearMonth(2019, 11)) == "January to November 2019"
    assert span_phrase(YearMonth(2018, 11), YearMonth(2019, 10)) == "November 2018 to October 2019"
    assert span_phrase(YearMonth(2019, 3), YearMonth(2019, 3)) == "March 2019"
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "101st",
    ]
    assert join_names(["Fenland"]) == "Fenland"
    assert join_names(["A", "B", "C"]) == "A, B and C"


# --- rules ---------------------------------------------------------------------------------------


def test_rule_defaults_are_the_domain_defaults() -> None:
    rules = BoardRules()
    assert rules.alpha == 0.05
    assert rules.label_method == "stat"
    assert rules.spc_k == 2.0
    assert rules.spc_months == 36
    assert (rules.baseline, rules.baseline_from_offset, rules.baseline_to_offset) == ("rolling", 23, 12)
    assert (rules.v3y_from_offset, rules.v3y_to_offset) == (47, 12)
    assert rules.fy_start_month == 4
    assert rules.require_complete_periods is True
    assert rules.narrative_district_growth_pct == 10.0


def test_every_rule_is_documented_and_printed() -> None:
    rules = BoardRules()
    for name, info in BoardRules.model_fields.items():
        assert info.description, name
    settings = rules.as_dict()
    assert set(settings) == set(BoardRules.model_fields)
    definitions = rules.definitions()
    assert definitions["version"] == rules.version
    assert len(definitions["config_hash"]) == 64
    assert "alpha = 0.05" in rules.label_rule_text()


def test_config_hash_tracks_settings() -> None:
    assert BoardRules().config_hash() == BoardRules().config_hash()
    assert BoardRules().config_hash() != BoardRules(alpha=0.01).config_hash()


def test_rules_validation_and_immutability() -> None:
    with pytest.raises(ValidationError):
        BoardRules(baseline="fixed")
    with pytest.raises(ValidationError):
        BoardRules(baseline="fixed", baseline_from="2018-04", baseline_to="2017-03")
    with pytest.raises(ValidationError):
        BoardRules(alpha=1.5)
    with pytest.raises(ValidationError):
        BoardRules(unknown_setting=1)
    with pytest.raises(ValidationError):
        BoardRules(v3y_from_offset=10, v3y_to_offset=12)
    rules = BoardRules()
    with pytest.raises(ValidationError):
        rules.alpha = 0.1  # type: ignore[misc]
