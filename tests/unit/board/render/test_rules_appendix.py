"""The definitions appendix prints the label settings of board rules 1.2.0 and, when it is on, what the
false-discovery-rate control withheld."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from demandhub.board.maths.pack import build_pack
from demandhub.board.maths.rules import BoardRules
from demandhub.board.render.html import render_html
from demandhub.board.report import BoardReport, extra_definitions, report_from
from demandhub.board.warehouse.source import BoardSource
from tests.unit.board.render.test_render import MAR19, MONTHS, config, series

pytestmark = pytest.mark.unit


def report_under(rules: BoardRules) -> BoardReport:
    cfg = dataclasses.replace(config(), rules=rules)
    data = series()
    source = BoardSource(
        force_id="cambs",
        month=MAR19,
        first=MONTHS[0],
        series=data,
        complete_through={k: max(v) if v else None for k, v in data.items()},
        channel_series={},
        district_series={},
        group_district_series={},
        msf={},
        entity_watermarks={"call": datetime(2019, 4, 2, tzinfo=UTC)},
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
    return report_from(pack, source, cfg, datetime(2019, 4, 2, 6, tzinfo=UTC))


def appendix(report: BoardReport) -> str:
    page = render_html(report).decode()
    found = re.search(r'<section id="definitions".*?</section>', page, re.S)
    assert found is not None
    return found.group(0)


def test_appendix_lists_the_statistical_settings() -> None:
    text = appendix(report_under(BoardRules()))
    for setting, value in (
        ("board_rules.count_test", "poisson"),
        ("board_rules.proportion_test", "binomial"),
        ("board_rules.overdispersion_min_months", "6"),
        ("board_rules.min_effect", "printed"),
        ("board_rules.min_effect_abs", "null"),
        ("board_rules.min_effect_rel", "null"),
        ("board_rules.fdr_q", "null"),
    ):
        assert f'<td class="setting">{setting}</td><td class="value">{value}</td>' in text
    assert "False-discovery-rate control</b>" not in text


def test_appendix_says_what_the_fdr_control_withheld() -> None:
    report = report_under(BoardRules(fdr_q=0.2))
    fdr = report.data["fdr"]
    assert fdr["q"] == 0.2 and fdr["tests"] > 0
    text = appendix(report)
    assert f"(Benjamini-Hochberg, q = 0.2): of the {fdr['tests']} labels tested, {fdr['withheld']} " in text
    assert "Benjamini-Hochberg" in report.data["label_rule"]
