"""Renderers on a hand-made pack: the workbook's layout, formats and colours, the HTML page with its
embedded charts, and the PDF's pages (rendered with pdftoppm, read back with pdftotext)."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from demandhub.board.catalogue import load_catalogue
from demandhub.board.config import PackSettings
from demandhub.board.layout import COLUMN_TITLES, label_tone
from demandhub.board.msf import parse_msf
from demandhub.board.render_html import render_html
from demandhub.board.render_pdf import render_pdf
from demandhub.board.render_xlsx import render_xlsx
from demandhub.board.report import BoardConfig, BoardReport, extra_definitions, report_from
from demandhub.board.source import BoardSource, MsfFigure
from schemas.definitions import Definitions
from streams.domain.board.cells import Cell
from streams.domain.board.dashboard import COLUMNS
from streams.domain.board.months import YearMonth, month_range
from streams.domain.board.pack import build_pack
from streams.domain.board.rules import BoardRules

pytestmark = pytest.mark.unit

MAR19 = YearMonth(2019, 3)
IDS = (
    "crime_all",
    "crime_domestic_abuse",
    "calls_999_answered_within_10s",
    "immediate_time_to_respond_mins",
    "victim_satisfaction_overall",
)
MONTHS = month_range(YearMonth(2015, 1), MAR19)


def fy(m: YearMonth) -> int:
    return m.year if m.month >= 4 else m.year - 1


def series() -> dict[str, dict[YearMonth, Cell]]:
    level = {2014: 100, 2015: 100, 2016: 110, 2017: 120, 2018: 130}
    crime = {m: Cell(level[fy(m)]) for m in MONTHS}
    # Crime is lagged one month here (config() sets the lag, which stays a setting; the catalogue's
    # default is 0): its as-of month is Feb-19.
    crime[YearMonth(2019, 2)] = Cell(190)
    calls = {m: Cell(900, 1000) for m in MONTHS}
    calls[MAR19] = Cell(960, 1000)
    minutes = {m: Cell(40 * 12.0, 40, 39 * 25 + 40 * 144.0) for m in MONTHS}
    return {
        "crime_all": crime,
        "crime_domestic_abuse": dict(crime),
        "calls_999_answered_within_10s": calls,
        "immediate_time_to_respond_mins": minutes,
        "victim_satisfaction_overall": {},  # nothing imported: every figure n/a
    }


def config() -> BoardConfig:
    full = load_catalogue()
    subset = tuple(
        dataclasses.replace(m, spec=dataclasses.replace(m.spec, as_of_lag_months=1))
        if m.module == "crimes"
        else m
        for m in full.measures
        if m.id in IDS
    )
    catalogue = dataclasses.replace(full, measures=subset)
    return BoardConfig(catalogue, Definitions(), BoardRules(), PackSettings(), parse_msf(""))


@pytest.fixture(scope="module")
def report() -> BoardReport:
    cfg = config()
    data = series()
    msf = {"crime_all": MsfFigure(123.0, ("beds",), ("2018-03", "2019-02"))}
    source = BoardSource(
        force_id="cambs",
        month=MAR19,
        first=MONTHS[0],
        series=data,
        complete_through={k: max(v) if v else None for k, v in data.items()},
        channel_series={},
        district_series={},
        group_district_series={},
        msf=msf,
        entity_watermarks={"call": datetime(2019, 4, 2, tzinfo=UTC)},
        source_watermarks=[],
    )
    pack = build_pack(
        "cambs",
        MAR19,
        cfg.catalogue.specs(),
        data,
        cfg.rules,
        {"crime_all": 123.0},
        None,
        extra_definitions=extra_definitions(cfg),
    )
    return report_from(pack, source, cfg, datetime(2019, 4, 2, 6, tzinfo=UTC))


def test_label_tone_follows_polarity() -> None:
    assert label_tone("Higher", "higher_is_better") == "good"
    assert label_tone("Higher", "lower_is_better") == "bad"
    assert label_tone("Lower", "lower_is_better") == "good"
    assert label_tone("Lower", "higher_is_better") == "bad"
    assert label_tone("Higher", "neutral") == "neutral"
    assert label_tone("Comparable", "higher_is_better") == "neutral"
    assert label_tone("n/a", "lower_is_better") == "neutral"


def _rows_by_name(ws) -> dict[str, int]:
    return {
        ws.cell(row=r, column=1).value: r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=1).value
    }


def test_workbook_layout_formats_and_colours(report: BoardReport) -> None:
    wb = load_workbook(io.BytesIO(render_xlsx(report)))
    assert wb.sheetnames == ["Dashboard", "Channels", "Narrative", "Revisions", "Definitions"]
    ws = wb["Dashboard"]
    rows = _rows_by_name(ws)
    header_row = rows["Measure"]
    assert [ws.cell(row=header_row, column=c).value for c in range(2, 14)] == [
        COLUMN_TITLES[c] for c in COLUMNS
    ]
    crime = rows["All crime"]
    # The grey row above each measure holds its own real months (crime is as of Feb-19).
    periods = [ws.cell(row=crime - 1, column=c).value for c in range(2, 14)]
    assert periods[:4] == ["Feb-19", "Feb-18", "Feb-17", "Feb-16"]
    assert periods[6] == "Apr-18 to Feb-19" and periods[11] is None  # MSF has no period
    current = ws.cell(row=crime, column=2)
    assert (current.value, current.number_format) == (190, "#,##0")
    assert ws.cell(row=crime, column=13).value == 123  # MSF
    # 190 against a baseline mean month of 120 (Mar-17..Feb-18 = 120 a month): Higher, bad for crime.
    v1y = ws.cell(row=crime, column=6)
    assert v1y.value == "Higher" and v1y.fill.fgColor.rgb.endswith("FFC7CE")
    abuse = rows["Domestic abuse crimes"]
    assert ws.cell(row=abuse, column=6).value == "Higher"
    assert ws.cell(row=abuse, column=6).fill.fgColor.rgb.endswith("EDEDED")  # neutral polarity
    calls = rows["999 calls answered within 10 seconds"]
    rate = ws.cell(row=calls, column=2)
    assert (rate.value, rate.number_format) == (96.0, '0.0"%"')
    assert ws.cell(row=calls, column=6).fill.fgColor.rgb.endswith("C6EFCE")  # 96% v 90%: good
    assert ws.cell(row=calls, column=13).value == "-"  # no MSF
    minutes = rows["Immediate incidents: mean time to respond (minutes)"]
    assert ws.cell(row=minutes, column=2).number_format == "0"
    survey = rows["Victim satisfaction: whole experience"]
    assert [ws.cell(row=survey, column=c).value for c in (2, 3, 8, 10)] == ["n/a"] * 4
    assert ws.cell(row=survey, column=6).value == "n/a"
    definitions = {ws_row[0].value: ws_row[1].value for ws_row in wb["Definitions"].iter_rows()}
    assert "board_rules.alpha" in definitions and definitions["board_rules.alpha"] == "0.05"
    assert definitions["measures.calls_999_answered_within_10s.calls.abandon_convention"] == "answered_basis"
    assert wb["Revisions"]["A2"].value == "No published figure has changed."
    assert wb["Narrative"]["A2"].value


def test_html_is_self_contained_with_the_table_and_embedded_charts(report: BoardReport) -> None:
    page = render_html(report).decode()
    assert '<table class="dashboard">' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    row = re.search(r'<tr id="m-crime_all">(.*?)</tr>', page).group(1)
    assert "<td>190</td>" in row and '<td class="bad">Higher</td>' in row
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(IDS)
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Label rule." in page and report.data["definitions"]["config_hash"] in page


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_pdf_renders_into_pages_with_the_table_and_charts(report: BoardReport, tmp_path: Path) -> None:
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(render_pdf(report))
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    # dashboard, one chart page (5 charts), narrative, revisions, definitions (two pages or more)
    assert len(pages) >= 5
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in pages)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Current month" in text and "All crime" in text and "Higher" in text
    assert "trends with control limits" in text
    assert "Label rule" in text and "board_rules.alpha = 0.05" in text
