"""Most similar forces: counts as rates per 1,000 population (effective-dated), the force labelled
against its peers by the stated test with the peer range, and the peer data's own as-of month."""

from __future__ import annotations

from datetime import date

import pytest

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.catalogue.msf import parse_msf
from demandhub.board.catalogue.population import load_populations, parse_populations
from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.peers import (
    ABOVE,
    BELOW,
    IN_LINE,
    NOT_AVAILABLE,
    TEST_PEERS,
    compare_with_peers,
    per_thousand,
)
from demandhub.board.maths.rules import BoardRules
from demandhub.board.warehouse.source import ForceSeries, latest_available, msf_figure

pytestmark = pytest.mark.unit

CATALOGUE = load_catalogue()
CRIME = CATALOGUE.by_id()["crime_all"]
ANSWERED = CATALOGUE.by_id()["calls_999_answered_within_10s"]
FEB19 = YearMonth(2019, 2)
POPULATIONS = parse_populations(
    "force_id,effective_from,population\n"
    "home,2018-07-01,500000\n"
    "home,2019-07-01,1000000\n"
    "a,2018-07-01,200000\n"
    "b,2018-07-01,400000\n"
    "c,2018-07-01,1000000\n"
    "d,2018-07-01,250000\n"
)
CURRENT = PackSettings(msf_period="current")


def peer(force: str, measure_id: str, cells: dict[YearMonth, Cell]) -> ForceSeries:
    return ForceSeries(force, {measure_id: cells}, {measure_id: max(cells)}, {})


def test_rate_per_thousand_uses_the_population_in_effect_for_the_month() -> None:
    assert per_thousand(250, 500_000) == pytest.approx(0.5)
    assert POPULATIONS.at("home", YearMonth(2019, 6)) == 500_000
    assert POPULATIONS.at("home", YearMonth(2019, 7)) == 1_000_000
    assert POPULATIONS.at("home", YearMonth(2018, 6)) is None
    with pytest.raises(ValueError):
        per_thousand(1, 0)


def test_msf_of_a_count_is_the_peers_mean_rate_per_thousand_not_their_mean_count() -> None:
    peers = {
        "a": peer("a", CRIME.id, {FEB19: Cell(2000)}),  # 10 per 1,000
        "b": peer("b", CRIME.id, {FEB19: Cell(4400)}),  # 11 per 1,000
        "c": peer("c", CRIME.id, {FEB19: Cell(12000)}),  # 12 per 1,000
        "d": peer("d", CRIME.id, {FEB19: Cell(2750)}),  # 11 per 1,000
    }
    home = ("home", {FEB19: Cell(5500)})  # 11 per 1,000 of 500,000
    figure = msf_figure(CRIME, FEB19, peers, CURRENT, home, POPULATIONS, BoardRules())
    assert figure.basis == "rate per 1,000 population"
    assert figure.peer_values == pytest.approx({"a": 10.0, "b": 11.0, "c": 12.0, "d": 11.0})
    assert figure.value == pytest.approx(11.0)  # the raw counts' mean would be 5,287.5
    assert figure.comparison is not None
    assert figure.comparison.home == pytest.approx(11.0)
    assert (figure.comparison.low, figure.comparison.high) == (pytest.approx(10.0), pytest.approx(12.0))
    assert figure.comparison.label == IN_LINE
    assert figure.comparison.range_text() == "peers 10.0 to 12.0"
    assert figure.as_dict()["comparison"]["label"] == IN_LINE


def test_a_peer_without_a_population_is_left_out_of_a_count() -> None:
    peers = {
        "a": peer("a", CRIME.id, {FEB19: Cell(2000)}),
        "zz": peer("zz", CRIME.id, {FEB19: Cell(99999)}),
    }
    figure = msf_figure(CRIME, FEB19, peers, CURRENT, None, POPULATIONS)
    assert figure.peers == ("a",) and figure.value == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("home", "label"),
    [(20.0, ABOVE), (3.0, BELOW), (11.2, IN_LINE), (None, NOT_AVAILABLE)],
)
def test_the_force_is_labelled_above_below_or_in_line_with_its_peers(home: float | None, label: str) -> None:
    peers = {"a": 10.0, "b": 11.0, "c": 12.0, "d": 11.0, "e": 10.5}
    comparison = compare_with_peers(home, peers, BoardRules())
    assert comparison.label == label
    assert comparison.test == TEST_PEERS
    assert (comparison.low, comparison.high, comparison.peers) == (10.0, 12.0, 5)
    assert comparison.mean == pytest.approx(10.9)


def test_the_label_is_the_prediction_interval_over_the_peers() -> None:
    # k = 5 peers, mean 10.9, s = 0.74162; 95% prediction half-width = t(0.975, 4) * s * sqrt(1.2)
    peers = {"a": 10.0, "b": 11.0, "c": 12.0, "d": 11.0, "e": 10.5}
    half = 2.7764451 * 0.7416198 * (1.2**0.5)
    assert compare_with_peers(10.9 + half * 1.01, peers, BoardRules()).label == ABOVE
    assert compare_with_peers(10.9 + half * 0.99, peers, BoardRules()).label == IN_LINE
    assert compare_with_peers(10.9 - half * 1.01, peers, BoardRules()).label == BELOW


def test_too_few_peers_or_no_spread_is_not_labelled() -> None:
    assert compare_with_peers(5.0, {"a": 1.0, "b": 2.0}, BoardRules()).label == NOT_AVAILABLE
    flat = compare_with_peers(5.0, {"a": 1.0, "b": 1.0, "c": 1.0}, BoardRules())
    assert flat.label == NOT_AVAILABLE and flat.reason


def test_a_percentage_is_compared_as_it_is() -> None:
    peers = {
        f: peer(f, ANSWERED.id, {FEB19: Cell(x, 1000)})
        for f, x in (("a", 900), ("b", 910), ("c", 905), ("d", 895))
    }
    home = ("home", {FEB19: Cell(700, 1000)})
    figure = msf_figure(ANSWERED, FEB19, peers, CURRENT, home, POPULATIONS, BoardRules())
    assert figure.basis == "as measured"
    assert figure.value == pytest.approx(100 * 3610 / 4000)  # pooled, as before
    assert figure.comparison is not None and figure.comparison.label == BELOW


def test_the_peer_data_as_of_month_comes_from_the_peer_import_file() -> None:
    # Peer figures are imported a month behind: crime_all (an event measure for the home force)
    # counts from the peers' file, whatever its source.
    rows = [
        ("crime_all", "hmic", date(2019, 1, 1)),
        ("victim_satisfaction_overall", "victim_survey", date(2018, 12, 1)),
    ]
    assert latest_available(rows, CATALOGUE) == {"victim_satisfaction_overall": YearMonth(2018, 12)}
    peer_months = latest_available(rows, CATALOGUE, events_too=True)
    assert peer_months["crime_all"] == YearMonth(2019, 1)
    peers = {"a": peer("a", CRIME.id, {YearMonth(2019, 1): Cell(2000)})}
    figure = msf_figure(CRIME, peer_months["crime_all"], peers, CURRENT, None, POPULATIONS)
    assert figure.as_of == "2019-01" and figure.as_dict()["as_of"] == "2019-01"
    assert figure.months == ("2019-01", "2019-01")


def test_the_reference_populations_cover_the_msf_group_forces() -> None:
    populations = load_populations()
    example = parse_msf(
        '[[group]]\nforce = "cambs"\nfrom = "2015-04"\npeers = ["beds", "herts", "norfolk", "suffolk"]\n'
    )
    for force in ("cambs", *example.groups[0].peers):
        assert populations.at(force, YearMonth(2019, 2)) is not None, force
        assert 300_000 < (populations.at(force, YearMonth(2019, 2)) or 0) < 2_000_000


def _entry(
    comparison: dict[str, object] | None, basis: str = "rate per 1,000 population"
) -> dict[str, object]:
    detail = {"value": 11.0, "basis": basis, "as_of": "2019-01", "comparison": comparison}
    return {
        "id": "crime_all",
        "unit": "count",
        "polarity": "lower_is_better",
        "msf": 11.0,
        "headers": {"msf": "Jan-19"},
        "cells": {"msf": detail},
    }


def test_the_msf_cell_prints_the_label_with_the_peer_range_and_its_colour() -> None:
    from demandhub.board.maths.layout import cell_text, label_tone, msf_label
    from demandhub.board.render.html import _cell

    above = _entry({"label": ABOVE, "low": 10.0, "high": 12.04, "home": 14.0, "peers": 4})
    assert cell_text(above, "msf") == "Above MSF average (peers 10.0 to 12.0 per 1,000)"
    assert msf_label(above) == ABOVE
    assert _cell(above, "msf")["css"] == label_tone("Higher", "lower_is_better") == "bad"
    in_line = _entry({"label": IN_LINE, "low": 80.0, "high": 90.0}, basis="as measured")
    in_line["unit"] = "percent"
    assert cell_text(in_line, "msf") == "In line with MSF average (peers 80.0% to 90.0%)"
    not_compared = _entry({"label": NOT_AVAILABLE, "low": 10.0, "high": 10.0})
    assert cell_text(not_compared, "msf") == "11.0 per 1,000"
    assert cell_text({**not_compared, "msf": None}, "msf") == "-"


def test_the_peer_data_period_heads_the_msf_cell() -> None:
    peers = {"a": peer("a", CRIME.id, {YearMonth(2019, 1): Cell(2000)})}
    figure = msf_figure(CRIME, YearMonth(2019, 1), peers, CURRENT, None, POPULATIONS)
    assert figure.header() == "Jan-19"
    rolling = {"a": peer("a", CRIME.id, {YearMonth(2018, 2) + i: Cell(100) for i in range(12)})}
    figure = msf_figure(
        CRIME, YearMonth(2019, 1), rolling, PackSettings(msf_period="rolling_12"), None, POPULATIONS
    )
    assert figure.header() == "Feb-18 to Jan-19" and figure.value == pytest.approx(6.0)


def test_the_workbook_msf_cell_holds_the_label_and_a_note_with_the_figures() -> None:
    from openpyxl import Workbook

    from demandhub.board.render.xlsx import _write_figure

    ws = Workbook().active
    assert ws is not None
    above = _entry({"label": BELOW, "low": 10.0, "high": 12.0, "home": 8.0, "peers": 4, "test": TEST_PEERS})
    _write_figure(ws, 1, 1, above, "msf")
    assert ws.cell(1, 1).value == "Below MSF average (peers 10.0 to 12.0 per 1,000)"
    assert "peer data Jan-19" in ws.cell(1, 1).comment.text and TEST_PEERS in ws.cell(1, 1).comment.text
    plain = _entry({"label": NOT_AVAILABLE})
    _write_figure(ws, 2, 1, plain, "msf")
    assert ws.cell(2, 1).value == 11.0 and "per 1,000" in ws.cell(2, 1).number_format
