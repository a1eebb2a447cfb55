"""Days lost per person print to 2 decimal places (0.84, not 1) in the dashboard cells, the
narrative, the revisions and the workbook; counts and other levels still print whole."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import load_catalogue, parse_catalogue
from demandhub.board.catalogue.msf import parse_msf
from demandhub.board.maths.cells import Cell
from demandhub.board.maths.dashboard import MeasureSpec, compute_row
from demandhub.board.maths.format import fmt_value
from demandhub.board.maths.layout import cell_text
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.pack import BoardPack, build_pack, find_revisions
from demandhub.board.maths.rules import BoardRules
from demandhub.board.render.xlsx import render_xlsx
from demandhub.board.report import BoardConfig, BoardReport, extra_definitions, report_from
from demandhub.board.warehouse.source import BoardSource
from schemas.definitions import Definitions

pytestmark = pytest.mark.unit

MAR19 = YearMonth(2019, 3)
MONTHS = month_range(YearMonth(2015, 1), MAR19)
IDS = ("crime_all", "sickness_officers", "specials_hours")
CATALOGUE = load_catalogue()
SICKNESS_AS_OF = YearMonth(2018, 12)  # the catalogue's 3-month lag


def _sickness() -> dict[YearMonth, Cell | None]:
    """About half a day lost per officer a month (0.50 to 0.52), then 0.84 in December 2018 (the
    measure's as-of month in the March 2019 pack)."""
    out: dict[YearMonth, Cell | None] = {m: Cell.level(0.50 + 0.01 * (i % 3)) for i, m in enumerate(MONTHS)}
    out[SICKNESS_AS_OF] = Cell.level(0.84)
    return out


def _series() -> dict[str, dict[YearMonth, Cell | None]]:
    return {
        "crime_all": {m: Cell(1234.4 if m == MAR19 else 1000.0) for m in MONTHS},
        "sickness_officers": _sickness(),
        "specials_hours": {m: Cell.level(7420.5) for m in MONTHS},
    }


def _pack_and_report(rules: BoardRules) -> tuple[BoardPack, BoardReport]:
    full = load_catalogue()
    catalogue = dataclasses.replace(full, measures=tuple(m for m in full.measures if m.id in IDS))
    cfg = BoardConfig(catalogue, Definitions(), rules, PackSettings(), parse_msf(""))
    data = _series()
    source = BoardSource(
        force_id="cambs",
        month=MAR19,
        first=MONTHS[0],
        series=data,
        complete_through={k: max(v) for k, v in data.items()},
        channel_series={},
        district_series={},
        group_district_series={},
        msf={},
        entity_watermarks={"crime": datetime(2019, 4, 2, tzinfo=UTC)},
        source_watermarks=[],
    )
    pack = build_pack(
        "cambs",
        MAR19,
        cfg.catalogue.specs(),
        data,
        cfg.rules,
        None,
        None,
        extra_definitions=extra_definitions(cfg),
    )
    return pack, report_from(pack, source, cfg, datetime(2019, 4, 2, 6, tzinfo=UTC))


@pytest.fixture(scope="module")
def pack_and_report() -> tuple[BoardPack, BoardReport]:
    return _pack_and_report(BoardRules(min_effect="printed"))


def test_fmt_value_takes_the_measures_decimals_for_counts_and_levels_only() -> None:
    assert fmt_value(0.84, "level", 2) == "0.84"
    assert fmt_value(0.845, "level", 2) == "0.85"  # half away from zero, not a binary artefact
    assert fmt_value(0.84, "level") == "1"
    assert fmt_value(1234.4, "count") == "1,234"
    assert fmt_value(None, "level", 2) == "n/a"


def test_the_catalogue_gives_days_per_person_two_decimals_and_other_measures_none() -> None:
    by_id = CATALOGUE.by_id()
    for measure in CATALOGUE.measures:
        expected = 2 if measure.quantity == "days_per_person" else 0
        assert measure.spec.decimals == expected, measure.id
    assert by_id["sickness_officers"].spec.decimals == by_id["sickness_staff"].spec.decimals == 2
    # a days_per_person quantity on a count is still refused as a quantity error, not a spec error
    entry = (
        '[[measure]]\nid = "x"\nname = "X"\nunit = "count"\npolarity = "neutral"\ntheme = "Victims"\n'
        'source = "imported"\nimport_sources = ["s"]\n'
        'quantity = "days_per_person"\n'
    )
    with pytest.raises(ValueError, match="quantity"):
        parse_catalogue(entry)


def test_decimals_are_only_for_counts_and_levels() -> None:
    with pytest.raises(ValueError, match="decimals"):
        MeasureSpec("p", "P", "percent", "neutral", "Victims", decimals=2)
    with pytest.raises(ValueError, match="decimals"):
        MeasureSpec("l", "L", "level", "neutral", "Victims", decimals=-1)


def test_dashboard_cells_print_days_per_person_to_two_decimals_and_counts_whole(
    pack_and_report: tuple[BoardPack, BoardReport],
) -> None:
    entries = {e["id"]: e for e in pack_and_report[0].as_json_dict()["measures"]}
    sickness, crime, hours = entries["sickness_officers"], entries["crime_all"], entries["specials_hours"]
    assert (sickness["decimals"], crime["decimals"], hours["decimals"]) == (2, 0, 0)
    assert cell_text(sickness, "current") == "0.84"
    assert cell_text(sickness, "minus_1y") == fmt_value(sickness["minus_1y"], "level", 2)
    assert cell_text(sickness, "minus_1y") in ("0.50", "0.51", "0.52")
    assert cell_text(crime, "current") == "1,234"
    assert cell_text(hours, "current") == "7,421"
    # a pack JSON written before decimals were kept still prints whole
    assert cell_text({k: v for k, v in sickness.items() if k != "decimals"}, "current") == "1"


def test_the_narrative_prints_days_per_person_to_two_decimals(
    pack_and_report: tuple[BoardPack, BoardReport],
) -> None:
    texts = [s.text for s in pack_and_report[0].narrative if s.facts.get("measure") == "sickness_officers"]
    assert texts and any("0.84" in t for t in texts), texts
    summary = [i.text for i in pack_and_report[0].briefing.summary if i.measure == "sickness_officers"]
    assert summary and all("0.84" in t for t in summary), summary


def test_equal_when_printed_uses_the_measures_decimals() -> None:
    # 0.84 against about 0.51: both print "1" as whole numbers, but not to 2 decimals.
    rules = BoardRules(min_effect="printed", label_method="stat")
    spec = CATALOGUE.by_id()["sickness_officers"].spec
    whole = dataclasses.replace(spec, decimals=0)
    series = _sickness()
    assert compute_row(whole, series, MAR19, rules).v1y.label == "Comparable"
    row = compute_row(spec, series, MAR19, rules)
    assert row.v1y.label == "Higher"
    assert row.v1y.comparison.reason != "equal when rounded as printed"


def test_a_restatement_in_the_second_decimal_is_a_revision() -> None:
    spec = CATALOGUE.by_id()["sickness_officers"].spec
    rules = BoardRules()
    published = {"sickness_officers": {"2018-12": {"current": 0.86}}}
    revisions = find_revisions([spec], {"sickness_officers": _sickness()}, rules, published)
    assert [(r.column, r.note) for r in revisions] == [
        ("current", "restated from 0.86 to 0.84: late or amended records since publication")
    ]
    whole = dataclasses.replace(spec, decimals=0)
    assert find_revisions([whole], {"sickness_officers": _sickness()}, rules, published) == []


def test_the_workbook_shows_days_per_person_with_a_two_decimal_format(
    pack_and_report: tuple[BoardPack, BoardReport],
) -> None:
    wb = load_workbook(io.BytesIO(render_xlsx(pack_and_report[1])))
    ws = wb["Dashboard"]
    rows = {
        ws.cell(row=r, column=2).value: r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=2).value
    }
    sickness = ws.cell(row=rows[CATALOGUE.by_id()["sickness_officers"].spec.name], column=4)
    assert sickness.value == pytest.approx(0.84) and sickness.number_format == "#,##0.00"
    crime = ws.cell(row=rows[CATALOGUE.by_id()["crime_all"].spec.name], column=4)
    assert (crime.value, crime.number_format) == (pytest.approx(1234.4), "#,##0")
    data = wb["Chart data"]
    formats = {
        data.cell(row=r, column=1).value: data.cell(row=r, column=3).number_format
        for r in range(5, data.max_row + 1)
        if isinstance(data.cell(row=r, column=3).value, float)
    }
    assert formats[CATALOGUE.by_id()["sickness_officers"].spec.name] == "#,##0.00"
    assert formats[CATALOGUE.by_id()["crime_all"].spec.name] == "#,##0"
