"""Renderers on hand-made packs: the workbook's layout, formats and colours; the HTML page from the
templates (autoescaped, charts embedded as SVG); and the PDF typeset from the same page, read back with
poppler (pdftotext, pdfinfo, pdffonts, pdfimages, pdftoppm): page numbers, running header, contents,
rows never cut across pages, vector charts, embedded fonts."""

from __future__ import annotations

import base64
import dataclasses
import inspect
import io
import random
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.catalogue.msf import parse_msf
from demandhub.board.maths.cells import Cell
from demandhub.board.maths.dashboard import COLUMNS
from demandhub.board.maths.layout import COLUMN_TITLES, cell_text, label_tone
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.pack import BoardPack, build_pack
from demandhub.board.maths.rules import BoardRules
from demandhub.board.render import html as render_html_module
from demandhub.board.render.charts import trend_svg
from demandhub.board.render.html import render_html
from demandhub.board.render.pdf import render_pdf
from demandhub.board.render.png import pdf_page_png
from demandhub.board.render.xlsx import render_xlsx
from demandhub.board.report import BoardConfig, BoardReport, extra_definitions, report_from
from demandhub.board.warehouse.source import BoardSource, MsfFigure
from demandhub.errors import InputError
from schemas.definitions import Definitions

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


def config(definitions: Definitions | None = None) -> BoardConfig:
    full = load_catalogue()
    subset = tuple(
        dataclasses.replace(m, spec=dataclasses.replace(m.spec, as_of_lag_months=1))
        if m.module == "crimes"
        else m
        for m in full.measures
        if m.id in IDS
    )
    catalogue = dataclasses.replace(full, measures=subset)
    return BoardConfig(catalogue, definitions or Definitions(), BoardRules(), PackSettings(), parse_msf(""))


@pytest.fixture(scope="module")
def report() -> BoardReport:
    return pack_and_report(series())[1]


def pack_and_report(
    data: dict[str, dict[YearMonth, Cell]], definitions: Definitions | None = None
) -> tuple[BoardPack, BoardReport]:
    cfg = config(definitions)
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
    return pack, report_from(pack, source, cfg, datetime(2019, 4, 2, 6, tzinfo=UTC))


def test_label_tone_follows_polarity() -> None:
    assert label_tone("Higher", "higher_is_better") == "good"
    assert label_tone("Higher", "lower_is_better") == "bad"
    assert label_tone("Lower", "lower_is_better") == "good"
    assert label_tone("Lower", "higher_is_better") == "bad"
    assert label_tone("Higher", "neutral") == "neutral"
    assert label_tone("Comparable", "higher_is_better") == "neutral"
    assert label_tone("n/a", "lower_is_better") == "neutral"


def _rows_by_name(ws, column: int = 2) -> dict[str, int]:
    return {
        ws.cell(row=r, column=column).value: r
        for r in range(1, ws.max_row + 1)
        if ws.cell(row=r, column=column).value
    }


FIRST_FIGURE = 4  # Theme, Measure, As of, then the 12 columns


def test_workbook_layout_formats_and_colours(report: BoardReport) -> None:
    wb = load_workbook(io.BytesIO(render_xlsx(report)))
    assert wb.sheetnames == [
        "Dashboard",
        "Channels",
        "Narrative",
        "Charts",
        "Chart data",
        "Revisions",
        "Definitions",
    ]
    ws = wb["Dashboard"]
    rows = _rows_by_name(ws)
    header = [ws.cell(row=3, column=c).value for c in range(1, 16)]
    assert header[:3] == ["Theme", "Measure", "As of"]
    assert [h.split("\n")[0] for h in header[3:]] == [COLUMN_TITLES[c] for c in COLUMNS]
    crime = rows["All crime"]
    # One row per measure: the as-of month is a date in its own column (crime is as of Feb-19),
    # not a row of period headers above the figures.
    as_of = ws.cell(row=crime, column=3)
    assert as_of.value.date() == date(2019, 2, 1) and as_of.number_format == "mmm-yy"
    measure_rows = [r for r in range(4, ws.max_row + 1) if ws.cell(row=r, column=2).value]
    assert measure_rows == list(range(4, 4 + len(IDS)))  # no period rows between measures
    current = ws.cell(row=crime, column=FIRST_FIGURE)
    assert (current.value, current.number_format) == (190, "#,##0")
    assert ws.cell(row=crime, column=FIRST_FIGURE + 11).value == 123  # MSF
    # 190 against a baseline mean month of 120 (Mar-17..Feb-18 = 120 a month): Higher, bad for crime.
    v1y = ws.cell(row=crime, column=FIRST_FIGURE + 4)
    assert v1y.value == "Higher" and v1y.fill.fgColor.rgb.endswith("FFC7CE")
    abuse = rows["Domestic abuse crimes"]
    assert ws.cell(row=abuse, column=FIRST_FIGURE + 4).value == "Higher"
    assert ws.cell(row=abuse, column=FIRST_FIGURE + 4).fill.fgColor.rgb.endswith("EDEDED")  # neutral
    calls = rows["999 calls answered within 10 seconds"]
    rate = ws.cell(row=calls, column=FIRST_FIGURE)
    assert (rate.value, rate.number_format) == (96.0, '0.0"%"')
    assert ws.cell(row=calls, column=FIRST_FIGURE + 4).fill.fgColor.rgb.endswith("C6EFCE")  # 96% v 90%
    no_msf = ws.cell(row=calls, column=FIRST_FIGURE + 11)
    assert no_msf.value is None and no_msf.comment.text.startswith("n/a")
    minutes = rows["Immediate incidents: mean time to respond (minutes)"]
    assert ws.cell(row=minutes, column=FIRST_FIGURE).number_format == "0"
    survey = rows["Victim satisfaction: whole experience"]
    for c in (0, 1, 6, 8):  # current, -1 yr, FYTD, rolling 12: empty, with why in a comment
        na = ws.cell(row=survey, column=FIRST_FIGURE + c)
        assert na.value is None and na.comment.text.startswith("n/a")
    assert ws.cell(row=survey, column=FIRST_FIGURE + 4).value == "n/a"  # a label stays a label
    definitions = {r[0].value: r[1].value for r in wb["Definitions"].iter_rows(min_row=4)}
    # The measures in words first (one row each, dashboard order), then the settings.
    words = report.data["definitions_in_words"]
    sheet = wb["Definitions"]
    assert [sheet.cell(row=r, column=1).value for r in range(4, 4 + len(words))] == [w["name"] for w in words]
    assert definitions["999 calls answered within 10 seconds"].startswith(
        "answered 999 calls whose wait from the offer"
    )
    assert "Settings (machine-readable)" in definitions
    assert "version 1.0.0" in sheet["A2"].value
    assert "board_rules.alpha" in definitions and definitions["board_rules.alpha"] == "0.05"
    assert definitions["measures.calls_999_answered_within_10s.calls.abandon_convention"] == "answered_basis"
    assert wb["Revisions"]["A4"].value == "No published figure has changed."
    narrative = wb["Narrative"]
    sections = [narrative.cell(row=r, column=1).value for r in range(4, narrative.max_row + 1)]
    texts = [narrative.cell(row=r, column=2).value for r in range(4, narrative.max_row + 1)]
    briefing = report.data["briefing"]
    # The briefing first (summary, then a paragraph per theme), every sentence after it.
    first_summary = sections.index("Summary")
    assert first_summary < sections.index("Every sentence") < sections.index("Sentence")
    assert texts[first_summary].startswith(briefing["summary"][0]["text"])
    for paragraph in briefing["paragraphs"]:
        assert paragraph["text"] in texts
    assert narrative.print_area.endswith(f"$C${narrative.max_row}")  # facts (D) not printed


def test_workbook_prints_freezes_and_keeps_figures_numeric(report: BoardReport) -> None:
    wb = load_workbook(io.BytesIO(render_xlsx(report)))
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows, ws.title
        assert ws.print_area, ws.title
    ws = wb["Dashboard"]
    assert ws.print_title_rows == "$3:$3"
    assert ws.freeze_panes == "C4"  # below the header row, right of the measure name
    assert ws.print_area == "'Dashboard'!$A$1:$O$" + str(ws.max_row)
    # One row per measure, each a measure name, in the pack's order.
    names = [ws.cell(row=r, column=2).value for r in range(4, ws.max_row + 1)]
    assert names == [m["name"] for m in report.data["measures"]]
    # Every figure cell is a number with a number format, or empty with an n/a comment; the
    # numbers are the JSON's figures.
    for r, entry in zip(range(4, ws.max_row + 1), report.data["measures"], strict=True):
        for c, column in enumerate(COLUMNS, start=FIRST_FIGURE):
            cell = ws.cell(row=r, column=c)
            if column in ("v1y", "v3y", "perf_v_benchmark"):
                assert cell.value == entry[column]["label"]
            elif entry[column] is None:
                assert cell.value is None and cell.comment.text.startswith("n/a")
            else:
                assert isinstance(cell.value, int | float) and cell.value == entry[column]
                assert cell.number_format != "General"


def test_workbook_has_a_native_line_chart_per_measure_with_data(report: BoardReport) -> None:
    wb = load_workbook(io.BytesIO(render_xlsx(report)))
    ws = wb["Charts"]
    with_data = [t for t in report.trends if t.has_data]
    assert len(ws._charts) == len(with_data) == len(IDS) - 1
    crime = ws._charts[0]
    assert type(crime).__name__ == "LineChart"
    titles = []
    for s in crime.series:
        ref = s.tx.strRef.f
        _sheet, cell = ref.rsplit("!", 1)
        titles.append(wb["Chart data"][cell.replace("$", "")].value)
    assert titles == ["Month", "Centre", "Upper limit", "Lower limit", "Signal"]
    # The survey has no data: a note instead of an empty chart.
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(t.startswith("Victim satisfaction: whole experience") and t.endswith("no data") for t in texts)
    data = wb["Chart data"]
    chart = next(t for t in report.trends if t.measure_id == "calls_999_answered_within_10s")
    rows = [r for r in data.iter_rows(min_row=4, values_only=True) if r[0] == chart.name and r[1] is not None]
    assert len(rows) == len(chart.months) and all(isinstance(r[2], int | float) for r in rows)
    assert all(0 <= r[5] <= r[3] <= r[4] <= 100 for r in rows)  # lower <= centre <= upper in range


def _appendix(page: str) -> str:
    return re.search(r'<section id="definitions".*?</section>', page, re.S).group(0)


def test_definitions_appendix_gives_each_measure_in_words_from_the_settings_applied(
    report: BoardReport,
) -> None:
    words = report.data["definitions_in_words"]
    keys = list(report.data)
    assert keys.index("definitions_in_words") == keys.index("definitions") + 1
    assert [w["measure"] for w in words] == [e["id"] for e in report.data["measures"]]  # dashboard order
    appendix = _appendix(render_html(report).decode())
    for w in words:
        assert f'<td class="measure">{w["name"]}</td>' in appendix
    sl = next(w["definition"] for w in words if w["measure"] == "calls_999_answered_within_10s")
    assert "whose wait from the offer (the call reaching the force) to the answer is under 10 s, " in sl
    assert "as a share of calls answered; abandoned calls are not counted (convention: answered_basis)" in sl
    assert f'<td class="words">{sl}</td>' in appendix
    assert "demandhub-default version 1.0.0" in appendix
    assert report.data["definitions"]["metrics"]["config_hash"] in appendix
    # The machine-readable settings follow, under their own heading.
    assert appendix.index("Measures in words") < appendix.index("Settings (machine-readable)")
    assert "board_rules.alpha" in appendix
    # Other definitions applied: the words say so (threshold, convention, version), the figures'
    # settings block records the same values.
    other = Definitions(
        version="2.1.0",
        calls=Definitions().calls.model_copy(
            update={
                "service_threshold_seconds": {
                    "999": 12,
                    "101-primary": 30,
                    "101-secondary": 30,
                    "webchat": 30,
                },
                "abandon_convention": "count_as_missed",
            }
        ),
    )
    changed = pack_and_report(series(), other)[1]
    recorded = changed.data["definitions"]["metrics"]["settings"]["calls"]
    assert recorded["service_threshold_seconds"]["999"] == 12
    page = _appendix(render_html(changed).decode())
    assert (
        "is under 12 s, as a share of calls answered or abandoned; every abandoned call counts as missed"
        in page
    )
    assert "(convention: count_as_missed)" in page and "under 10 s" not in page
    assert "demandhub-default version 2.1.0" in page


def test_html_comes_from_autoescaped_templates_with_embedded_svg_charts(report: BoardReport) -> None:
    page = render_html(report).decode()
    assert '<table class="dashboard">' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    row = re.search(r'<tr id="m-crime_all">(.*?)</tr>', page, re.S).group(1)
    assert "<td>190</td>" in row and '<td class="bad">Higher</td>' in row
    assert '<a href="#trend-crime_all">All crime</a>' in row
    images = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
    # The survey has no data: its figure says so instead of drawing an empty chart.
    assert len(images) == len(IDS) - 1
    assert b"<svg" in base64.b64decode(images[0])
    survey = re.search(r'<figure id="trend-victim_satisfaction_overall">(.*?)</figure>', page, re.S).group(1)
    assert "no data" in survey and "<img" not in survey
    assert 'id="trend-crime_all"' in page
    assert "Label rule." in page and report.data["definitions"]["config_hash"] in page
    for anchor in ("dashboard", "channels", "narrative", "trends", "revisions", "definitions"):
        assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page


def test_every_printed_value_is_escaped(report: BoardReport) -> None:
    hostile = '<img src=x onerror="alert(1)"> & Co'
    data = dict(report.data)
    data["measures"] = [{**data["measures"][0], "name": hostile}, *data["measures"][1:]]
    data["narrative"] = [{"text": hostile, "template": "<em>", "facts": {}}]
    page = render_html(dataclasses.replace(report, data=data, force_name=hostile)).decode()
    assert hostile not in page and "<img src=x" not in page and "<em>" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; Co" in page


def test_no_html_is_assembled_in_python() -> None:
    source = inspect.getsource(render_html_module)
    assert not re.search(r"<(table|tr|td|th|p|div|h[1-6]|ul|li|img|span)\b", source)


POPPLER = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("pdftotext", "pdfinfo", "pdffonts", "pdfimages", "pdftoppm")),
    reason="poppler-utils is not installed",
)
FORCE_NAME = "Cambridgeshire Constabulary"


@pytest.fixture(scope="module")
def long_report() -> BoardReport:
    """Every catalogue measure over ten years of made-up figures: a dashboard of several pages."""
    cfg = BoardConfig(load_catalogue(), Definitions(), BoardRules(), PackSettings(), parse_msf(""))
    month = YearMonth(2024, 12)
    months = month_range(YearMonth(2015, 1), month)
    rng = random.Random(7)
    data: dict[str, dict[YearMonth, Cell]] = {}
    for m in cfg.catalogue.measures:
        base = rng.uniform(50, 2000)
        cells: dict[YearMonth, Cell] = {}
        for i, ym in enumerate(months):
            v = max(1.0, base * (1 + 0.002 * i) + rng.gauss(0, base * 0.08))
            if m.spec.unit == "count":
                cells[ym] = Cell(round(v))
            elif m.spec.unit == "percent":
                cells[ym] = Cell(round(1000 * rng.uniform(0.6, 0.95)), 1000)
            elif m.spec.unit == "minutes":
                x = rng.uniform(10, 20)
                cells[ym] = Cell(x * 40, 40, 40 * (x * x + 25))
            else:
                level = rng.uniform(100, 200)
                cells[ym] = Cell(level, 1.0, level * level)
        data[m.id] = cells
    source = BoardSource(
        force_id="cambs",
        month=month,
        first=months[0],
        series=data,
        complete_through={k: max(v) for k, v in data.items()},
        channel_series={},
        district_series={},
        group_district_series={},
        msf={},
        entity_watermarks={},
        source_watermarks=[],
    )
    pack = build_pack(
        "cambs",
        month,
        cfg.catalogue.specs(),
        data,
        cfg.rules,
        {},
        None,
        extra_definitions=extra_definitions(cfg),
    )
    report = report_from(pack, source, cfg, datetime(2025, 1, 2, 6, tzinfo=UTC))
    return dataclasses.replace(report, force_name=FORCE_NAME)


@pytest.fixture(scope="module")
def long_pdf(long_report: BoardReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "pack.pdf"
    path.write_bytes(render_pdf(long_report))
    return path


def _run(*argv: str | Path) -> str:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def _pages(pdf: Path, layout: bool = True, crop: tuple[int, int] | None = None) -> list[str]:
    """Each page's text; ``crop`` = (top, height) in points keeps only that band of every page."""
    band = ["-x", "0", "-W", "842", "-y", str(crop[0]), "-H", str(crop[1])] if crop else []
    text = _run("pdftotext", *(["-layout"] if layout else []), *band, pdf, "-")
    return text.split("\f")[:-1]  # every page ends with a form feed


def _first_column(line: str) -> str:
    """The text of a laid-out line's first (left-aligned) table column: up to the first wide gap."""
    return "" if line[:1].isspace() else re.split(r"\s{3,}", line)[0]


def _flat(text: str) -> str:
    return " ".join(text.split())


@POPPLER
def test_pdf_is_a4_landscape_with_page_n_of_m_and_a_running_header(long_pdf: Path) -> None:
    info = _run("pdfinfo", long_pdf)
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    width, height = map(float, re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.M).groups())
    assert (round(width), round(height)) == (842, 595)  # A4 landscape in points
    assert "Title:" in info and FORCE_NAME in info
    # The top and bottom margins of every page (points: A4 landscape is 842 x 595).
    headers = _pages(long_pdf, crop=(0, 45))
    footers = _pages(long_pdf, crop=(555, 40))
    assert len(headers) == len(footers) == pages > 10
    for n, (header, footer) in enumerate(zip(headers, footers, strict=True), start=1):
        assert f"{FORCE_NAME} · Board pack December 2024" in header
        assert f"page {n} of {pages}" in footer
    assert "Dashboard" in headers[1] and "Appendix B. Definitions" in headers[-1]  # the section


@POPPLER
def test_pdf_contents_lists_every_section_at_its_page(long_pdf: Path) -> None:
    texts = _pages(long_pdf)
    headers = _pages(long_pdf, crop=(0, 45))
    contents = texts[0]
    assert "Contents" in contents
    sections = (
        "Dashboard",
        "Contacts by channel",
        "Narrative",
        "Trends",
        "Appendix A. Revisions",
        "Appendix B. Definitions",
    )
    for title in (*sections, "Victims", "Offenders", "Communities", "Transformation"):
        entry = re.search(rf"{re.escape(title)}\s*\.[ .]*\s(\d+)\s*$", contents, re.M)
        assert entry, title
        page = int(entry.group(1))
        if title in sections:  # each section starts its page with its heading
            assert title in headers[page - 1]
            assert re.search(rf"^{re.escape(title)}\s*$", texts[page - 1], re.M)
            assert page == 1 or title not in headers[page - 2]
        else:  # a theme's first row is on the page the contents gives
            assert re.search(rf"^{title}\s*$", texts[page - 1], re.M)
    links = _run("pdfinfo", "-dests", long_pdf)
    for anchor in ("dashboard", "channels", "narrative", "trends", "revisions", "definitions"):
        assert re.search(rf"\b{anchor}\b", links), anchor


@POPPLER
def test_pdf_tables_split_across_pages_with_headers_and_no_row_cut(
    long_report: BoardReport, long_pdf: Path
) -> None:
    layout = _pages(long_pdf)
    headers = _pages(long_pdf, crop=(0, 45))
    dashboard_pages = [n for n, t in enumerate(headers) if "Dashboard" in t]
    assert len(dashboard_pages) >= 3  # the table really splits
    for n in dashboard_pages:  # its header row is repeated on every page
        assert re.search(r"^Measure\s.*-1 yr\s+-2 yr\s+-3 yr", layout[n], re.M), n + 1
    for entry in long_report.data["measures"]:
        # A row is whole when its twelve figures share one printed line and its name (wrapped in its
        # column above and below that line) and its period row are on the same page.
        figures = re.compile(r"\s+".join(re.escape(cell_text(entry, c)) for c in COLUMNS) + r"\s*$")
        hits = [
            (n, lines, i)
            for n, lines in enumerate(page.splitlines() for page in layout)
            for i, line in enumerate(lines)
            if figures.search(line)
        ]
        assert len(hits) == 1, (entry["name"], len(hits))
        _n, lines, i = hits[0]
        left = _flat(" ".join(_first_column(line) for line in lines[max(0, i - 5) : i + 5]))
        assert f"as of {entry['as_of']} {entry['name']}" in left, (entry["name"], left)
    definitions = [n for n, t in enumerate(headers) if "Appendix B. Definitions" in t]
    assert len(definitions) >= 2
    words = [n for n in definitions if re.search(r"^Measure\s+Definition\s*$", layout[n], re.M)]
    settings = [n for n in definitions if re.search(r"^Setting\s+Value\s*$", layout[n], re.M)]
    # The words table, then the settings table; each repeats its header row on every page it spans.
    assert words and settings and words[0] == definitions[0] and settings[-1] == definitions[-1]
    assert sorted(set(words) | set(settings)) == definitions


@POPPLER
def test_pdf_charts_are_vectors_and_fonts_are_embedded(long_report: BoardReport, long_pdf: Path) -> None:
    images = _run("pdfimages", "-list", long_pdf).strip().splitlines()
    assert len(images) == 2  # the listing's two header lines: no raster image at all
    fonts = _run("pdffonts", long_pdf).strip().splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts)  # emb column
    text = _flat(_run("pdftotext", long_pdf, "-"))
    for chart in long_report.trends[:3]:
        assert f"{chart.name} (to {chart.as_of.label()})" in text  # each chart captioned as text


@POPPLER
def test_pdf_pages_render_to_png(long_pdf: Path, tmp_path: Path) -> None:
    pdf = long_pdf.read_bytes()
    png = pdf_page_png(pdf, 2, dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert abs(width - 585) <= 1 and abs(height - 413) <= 1  # A4 landscape at 50 dpi
    with pytest.raises(InputError, match="the pack has"):
        pdf_page_png(pdf, 999)
    _run("pdftoppm", "-r", "20", "-png", long_pdf, tmp_path / "page")
    assert len(list(tmp_path.glob("page-*.png"))) == len(_pages(long_pdf))


def test_charts_and_workbook_never_change_the_figures(report: BoardReport) -> None:
    # The JSON is the pack's record; the control charts are drawn beside it, never into it.
    before = report.json_text()
    render_xlsx(report)
    render_html(report)
    assert report.json_text() == before
    # The JSON holds each chart's signals, as computed by the pack (the charts drawn read the same).
    entries = {m["id"]: m["control_chart"] for m in report.data["measures"]}
    for trend in report.trends:
        entry = entries[trend.measure_id]
        if trend.spc is None:
            assert entry is None
            continue
        fired = {str(m): list(r) for m, r in zip(trend.months, trend.spc.fired, strict=True) if r}
        assert {s["month"]: [r["rule"] for r in s["rules"]] for s in entry["signals"]} == fired
        assert entry["name"] == trend.spc.name and entry["upper"] == trend.upper


def test_chart_drawn_and_briefing_summary_read_the_same_control_chart() -> None:
    """A measure with Comparable labels whose chart fires a rule on its as-of month is in the
    summary; its footnote names the chart drawn, which names the same rule on that month."""
    data = series()
    as_of = YearMonth(2019, 2)  # crime lags one month here
    cycle = (100.0, 96.0, 104.0, 98.0, 102.0)
    trend = {m: Cell(cycle[i % 5]) for i, m in enumerate(MONTHS) if m <= as_of}
    for k, value in enumerate(reversed((90.0, 110.0, 100.0, 101.0, 102.0, 104.0, 105.0, 107.0))):
        trend[as_of - k] = Cell(value)
    data["crime_domestic_abuse"] = trend
    pack, report = pack_and_report(data)
    row = next(r for r in pack.rows if r.measure.id == "crime_domestic_abuse")
    assert {c.label for c in row.label_columns().values()} == {"Comparable"}
    for drawn, computed in zip(report.trends, pack.charts, strict=True):
        assert drawn.spc is computed.spc  # one computation, not two
        assert drawn.months == computed.months and drawn.values == computed.values
    drawn = next(t for t in report.trends if t.measure_id == "crime_domestic_abuse")
    assert drawn.spc is not None and drawn.spc.fired[-1] == ("trend of 6",)
    summary = report.data["briefing"]["summary"]
    item = next(i for i in summary if i["measure"] == "crime_domestic_abuse")
    assert item["column"] == "control_chart" and item["facts"]["rules"] == ["trend of 6"]
    note = next(n for n in report.data["briefing"]["footnotes"] if n["number"] == item["footnote"])
    assert f"{drawn.spc.name}, 36 months to Feb-19" in note["text"] and "trend of 6" in note["text"]
    assert "trend of 6" in trend_svg(drawn)  # the chart names the rule on the point
