"""The pack under two sets of definitions: the comparison section, the overridden paths, and how the
HTML page and the workbook print them (no warehouse: the figures are given)."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from openpyxl import load_workbook

from demandhub.board.maths.cells import Cell
from demandhub.board.render.html import page_html
from demandhub.board.render.xlsx import render_xlsx
from demandhub.board.report import BoardReport, comparison, extra_definitions, overridden, with_comparison
from schemas.definitions import Definitions
from tests.unit.board.render.test_render import config, pack_and_report, series

pytestmark = pytest.mark.unit

ALTERNATIVE = Definitions().with_overrides(["calls.service_threshold_seconds.999=5"])


def reports() -> tuple[BoardReport, BoardReport]:
    base = pack_and_report(series())[1]
    data = series()
    calls = {m: Cell(c.num - 50, c.den) for m, c in data["calls_999_answered_within_10s"].items()}
    other = pack_and_report({**data, "calls_999_answered_within_10s": calls}, ALTERNATIVE)[1]
    return base, other


def test_overridden_names_each_changed_leaf_with_both_values() -> None:
    assert overridden(Definitions(), Definitions()) == {}
    changed = Definitions().with_overrides(["calls.abandon_convention=ignore", "crimes.ncrs_hours=24"])
    assert overridden(Definitions(), changed) == {
        "calls.abandon_convention": {"configured": "answered_basis", "applied": "ignore"}
    }


def test_the_comparison_lists_only_measures_whose_figures_differ() -> None:
    base, other = reports()
    section = comparison(base, other)
    assert section["configured"]["config_hash"] == Definitions().config_hash()
    assert section["alternative"]["config_hash"] == ALTERNATIVE.config_hash()
    assert section["alternative"]["differs_from_configured"] == {
        "calls.service_threshold_seconds": {
            "configured": Definitions().calls.service_threshold_seconds,
            "alternative": ALTERNATIVE.calls.service_threshold_seconds,
        }
    }
    assert [m["id"] for m in section["measures"]] == ["calls_999_answered_within_10s"]
    entry = section["measures"][0]
    assert "current" in entry["differs"] and "msf" not in entry["cells"]
    assert entry["cells"]["current"] == {"configured": 96.0, "alternative": 91.0}
    same = comparison(base, base)
    assert same["measures"] == [] and same["alternative"]["differs_from_configured"] == {}


def test_html_and_workbook_print_definitions_compared() -> None:
    base, other = reports()
    report = with_comparison(base, other)
    keys = list(report.data)
    assert keys.index("comparison") == keys.index("definitions_in_words") + 1
    page = page_html(report)
    section = re.search(r'<section id="comparison".*?</section>', page, re.S)
    assert section is not None and 'href="#comparison"' in page
    text = section.group(0)
    assert ALTERNATIVE.config_hash() in text and Definitions().config_hash() in text
    assert "calls.service_threshold_seconds" in text
    assert re.search(r"<td>96\.0%</td><td>91\.0%</td>", text), text
    assert '<section id="comparison"' not in page_html(base)
    book = load_workbook(io.BytesIO(render_xlsx(report)))
    ws = book["Definitions compared"]
    assert ALTERNATIVE.config_hash() in str(ws["A2"].value)
    row = [c.value for c in ws[4]]
    assert row[0] and row[3] == pytest.approx(96.0) and row[4] == pytest.approx(91.0)
    assert "Definitions compared" not in load_workbook(io.BytesIO(render_xlsx(base))).sheetnames


def test_the_appendix_names_the_paths_overridden_for_the_pack() -> None:
    cfg = config()
    overriding = dataclasses.replace(cfg, definitions=ALTERNATIVE, configured=Definitions())
    metrics = extra_definitions(overriding)["metrics"]
    assert metrics["config_hash"] == ALTERNATIVE.config_hash()
    assert metrics["configured_hash"] == Definitions().config_hash()
    assert list(metrics["overridden"]) == ["calls.service_threshold_seconds"]
    assert extra_definitions(cfg)["metrics"]["overridden"] == {}
    base = reports()[0]
    data = {**base.data, "definitions": {**base.data["definitions"], "metrics": metrics}}
    page = page_html(dataclasses.replace(base, data=data))
    appendix = page[page.index('<section id="definitions"') :]
    assert "Overridden for this pack" in appendix and Definitions().config_hash() in appendix
    assert re.search(r'<td class="setting">calls\.service_threshold_seconds</td>', appendix)
    assert "Overridden for this pack" not in page_html(base)
