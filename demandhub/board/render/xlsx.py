"""The pack as an Excel workbook that opens like a finished report (openpyxl).

Sheets, one per section: ``Dashboard`` (one row per measure, grouped by theme in a Theme column;
the measure's as-of month is a real date in its own column, and the header row names each column's
period relative to it), ``Channels`` (counts and their % change as numbers), ``Narrative`` (the
briefing as printed, then every generated sentence with its template and facts), ``Charts`` (a native Excel line chart per
measure: the monthly values, the control chart's centre line and limits and the months that
signal), ``Chart data`` (the series the charts read), ``Revisions`` and ``Definitions``.

Every sheet prints on A4 landscape, one page wide, with its header rows repeated on each page and
a print area; the panes freeze below the header (and right of the measure name). Figures are
numbers with a number format (percentages 1 dp, counts with thousands separators, minutes whole),
never text; a null figure is an empty cell with a comment saying why ("n/a: ..."). Labels keep
their polarity colours.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.chart.axis import ChartLines, TextAxis
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from demandhub.board.maths.dashboard import COLUMNS, LABEL_COLUMNS
from demandhub.board.maths.layout import (
    COLUMN_TITLES,
    MSF_TONE_OF,
    TONE_RGB,
    comparison_rows,
    decimals,
    definitions_lines,
    label_tone,
    msf_cell,
    msf_label,
    msf_text,
    overridden_lines,
    themes,
)
from demandhub.board.maths.months import YearMonth
from demandhub.board.report import BoardReport, TrendChart

NUMBER_FORMATS: dict[str, str] = {
    "percent": '0.0"%"',
    "count": "#,##0",
    "minutes": "0",
    "level": "#,##0",
}
DEFAULT_NUMBER_FORMAT = "#,##0.0"
MONTH_FORMAT = "mmm-yy"
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
THEME_FONT = Font(bold=True, color="1F4E79")
RULE = Side(style="thin", color="BFBFBF")
FIXED_TIME = datetime(2000, 1, 1)
AUTHOR = "demandhub"

# Dashboard columns before the 12 figure columns.
LEAD = ("Theme", "Measure", "As of")
PERIOD_HEADERS: dict[str, str] = {
    "current": "as-of month",
    "minus_1y": "same month, 1 yr before",
    "minus_2y": "same month, 2 yrs before",
    "minus_3y": "same month, 3 yrs before",
    "v1y": "as-of month v baseline mean month",
    "v3y": "as-of month v 3-yr mean month",
    "fytd": "financial year to as-of month",
    "fytd_minus_1y": "the same span 1 yr before",
    "rolling_12": "12 months to as-of month",
    "baseline": "the 12 months before those",
    "perf_v_benchmark": "rolling 12 v baseline",
    "msf": "most similar forces",
}


def number_format(unit: str, decimals: int = 0) -> str:
    """The Excel number format of a unit; a count or level with ``decimals`` shows that many."""
    if decimals and unit in ("count", "level"):
        return "#,##0." + "0" * decimals
    return NUMBER_FORMATS.get(unit, DEFAULT_NUMBER_FORMAT)


def _fill(rgb: str) -> PatternFill:
    return PatternFill("solid", fgColor=rgb)


def _month_date(text: str) -> date:
    ym = YearMonth.from_str(text)
    return date(ym.year, ym.month, 1)


def _note(text: str) -> Comment:
    comment = Comment(text, AUTHOR)
    comment.width, comment.height = 220, 60
    return comment


def _print_setup(ws: Worksheet, header_rows: str, last_col: int, freeze: str | None) -> None:
    """A4 landscape, one page wide, header rows repeated, print area over the used range."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    page_setup = ws.sheet_properties.pageSetUpPr
    assert page_setup is not None  # every worksheet openpyxl creates has one
    page_setup.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.print_title_rows = header_rows
    ws.print_area = f"A1:{get_column_letter(last_col)}{max(ws.max_row, 1)}"
    if freeze is not None:
        ws.freeze_panes = freeze


def _header(ws: Worksheet, row: int, names: Sequence[str]) -> None:
    for c, name in enumerate(names, start=1):
        cell = ws.cell(row=row, column=c, value=name)
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = Border(bottom=RULE)


def _na_reason(entry: Mapping[str, Any], column: str) -> str:
    if column == "msf":
        return "n/a: no most similar forces figure"
    cells = entry.get("cells", {}).get(column) or {}
    missing = cells.get("missing") or []
    if missing:
        months = ", ".join(YearMonth.from_str(m).label() for m in missing[:6])
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        return f"n/a: no complete data for {months}{more}"
    return "n/a: not defined for this period (no data or a zero denominator)"


def _write_figure(ws: Worksheet, row: int, col: int, entry: Mapping[str, Any], column: str) -> None:
    cell = ws.cell(row=row, column=col)
    raw = entry[column]
    cell.alignment = Alignment(horizontal="center")
    if column in LABEL_COLUMNS:
        label = str(raw["label"])
        fill, font = TONE_RGB[label_tone(label, entry["polarity"])]
        cell.value = label
        cell.fill, cell.font = _fill(fill), Font(color=font, bold=label in ("Higher", "Lower"))
        if raw.get("test"):
            p = raw.get("p_value")
            cell.comment = _note(f"{raw['test']}" + ("" if p is None else f", p = {p:.3g}"))
        return
    if raw is None:
        cell.comment = _note(_na_reason(entry, column))
        return
    if column == "msf" and (msf := msf_label(entry)) is not None:
        # The comparison's label, as the other label columns; the figures behind it in a note.
        detail = msf_cell(entry)
        comparison = detail.get("comparison") or {}
        fill, font = TONE_RGB[label_tone(MSF_TONE_OF.get(msf, msf), entry["polarity"])]
        cell.value = msf_text(entry)
        cell.fill, cell.font = _fill(fill), Font(color=font)
        p = comparison.get("p_value")
        cell.comment = _note(
            f"MSF average {raw:,.2f} ({detail.get('basis')}), force {comparison.get('home'):,.2f}; "
            f"{comparison.get('peers')} peers, peer data {entry['headers'].get('msf')}; "
            f"{comparison.get('test')}" + ("" if p is None else f", p = {p:.3g}")
        )
        return
    cell.value = float(raw)
    rated = column == "msf" and msf_cell(entry).get("basis") == "rate per 1,000 population"
    cell.number_format = '0.0" per 1,000"' if rated else number_format(entry["unit"], decimals(entry))


def _dashboard(ws: Worksheet, report: BoardReport) -> None:
    data = report.data
    month = YearMonth.from_str(data["month"])
    ws["A1"] = f"Business Coordination Board dashboard: {report.display_name}, {month.long()}"
    ws["A1"].font = TITLE
    ws["A2"] = (
        f"Figures for each measure's as-of month (column C; crime rows may lag the pack month). "
        f"Extracted {data['extract_time']}; configuration {data['definitions']['config_hash'][:16]}. "
        "An empty figure is n/a: its comment says why."
    )
    ws["A2"].font = Font(italic=True, size=9, color="595959")
    names = [*LEAD, *(f"{COLUMN_TITLES[c]}\n({PERIOD_HEADERS[c]})" for c in COLUMNS)]
    _header(ws, 3, names)
    ws.row_dimensions[3].height = 44
    r = 4
    for theme, entries in themes(data):
        for entry in entries:
            ws.cell(row=r, column=1, value=theme).font = THEME_FONT
            ws.cell(row=r, column=2, value=entry["name"])
            as_of = ws.cell(row=r, column=3, value=_month_date(entry["as_of"]))
            as_of.number_format, as_of.alignment = MONTH_FORMAT, Alignment(horizontal="center")
            for c, column in enumerate(COLUMNS, start=len(LEAD) + 1):
                _write_figure(ws, r, c, entry, column)
            r += 1
    last_col = len(LEAD) + len(COLUMNS)
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 48
    ws.column_dimensions["C"].width = 9
    for c in range(len(LEAD) + 1, last_col + 1):
        ws.column_dimensions[get_column_letter(c)].width = 13
    if r > 4:
        ws.auto_filter.ref = f"A3:{get_column_letter(last_col)}{r - 1}"
    _print_setup(ws, "3:3", last_col, "C4")


def _channels(ws: Worksheet, data: Mapping[str, Any]) -> None:
    table = data.get("channels")
    if not table:
        ws["A1"] = "Contacts by channel"
        ws["A1"].font = TITLE
        ws["A3"] = "No channel data for this period."
        _print_setup(ws, "1:1", 1, None)
        return
    ws["A1"] = table["caption"]
    ws["A1"].font = Font(bold=True, size=12)
    columns = table["columns"]
    names = ["Period"]
    for key in columns:
        names += [str(table["column_names"][key]), f"{table['column_names'][key]} % change"]
    _header(ws, 3, names)
    for r, row in enumerate(table["rows"], start=4):
        ws.cell(row=r, column=1, value=row["label"])
        changes = row.get("pct_change") or {}
        for k, key in enumerate(columns):
            c = 2 + 2 * k
            count = row["counts"][key]
            cell = ws.cell(row=r, column=c)
            if count is None:
                cell.comment = _note("n/a: no complete data for this span")
            else:
                cell.value, cell.number_format = float(count), "#,##0"
            change = changes.get(key)
            pct = ws.cell(row=r, column=c + 1)
            if change is not None:
                pct.value, pct.number_format = float(change) / 100, "+0.0%;-0.0%;0.0%"
            elif row.get("pct_change") is not None:
                pct.comment = _note("n/a: no comparison (a null or zero count)")
    ws.column_dimensions["A"].width = 30
    for c in range(2, len(names) + 1):
        ws.column_dimensions[get_column_letter(c)].width = 14
    _print_setup(ws, "3:3", len(names), "B4")


def _briefing_rows(briefing: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    """(section, text, tone) rows of the briefing, in the order the pack prints it."""
    rows: list[tuple[str, str, str | None]] = []
    if briefing.get("as_of_note"):
        rows.append(("Note", str(briefing["as_of_note"]), None))
    summary = briefing.get("summary") or []
    for item in summary:
        rows.append(("Summary", f"{item['text']} [{item['footnote']}]", item.get("tone")))
    if not summary:
        rows.append(("Summary", "No measure is significantly higher or lower than its comparisons.", None))
    for note in briefing.get("footnotes") or []:
        rows.append((f"Note {note['number']}", str(note["text"]), None))
    for paragraph in briefing.get("paragraphs") or []:
        rows.append((str(paragraph["theme"]), str(paragraph["text"]), None))
    if briefing.get("unremarkable_text"):
        rows.append(("Unremarkable", str(briefing["unremarkable_text"]), None))
    if briefing.get("no_data"):
        rows.append(("No data", "; ".join(str(m["name"]) for m in briefing["no_data"]), None))
    return rows


def _narrative(ws: Worksheet, data: Mapping[str, Any]) -> None:
    """The briefing (summary first, a paragraph per theme) and then every generated sentence with
    its template; the facts behind each sentence sit in column D, outside the print area."""
    ws["A1"] = "Narrative"
    ws["A1"].font = TITLE
    _header(ws, 3, ("Section", "Text", "Template", "Facts"))
    top = Alignment(wrap_text=True, vertical="top")
    r = 4
    briefing = data.get("briefing")
    if isinstance(briefing, Mapping):
        for section, text, tone in _briefing_rows(briefing):
            ws.cell(row=r, column=1, value=section).font = BOLD
            cell = ws.cell(row=r, column=2, value=text)
            cell.alignment = top
            if tone in TONE_RGB:
                cell.font = Font(color=TONE_RGB[tone][1])
            r += 1
        r += 1
        ws.cell(row=r, column=1, value="Every sentence").font = BOLD
        r += 1
    for sentence in data.get("narrative") or []:
        ws.cell(row=r, column=1, value="Sentence")
        ws.cell(row=r, column=2, value=sentence.get("text")).alignment = top
        ws.cell(row=r, column=3, value=sentence.get("template")).alignment = Alignment(vertical="top")
        if sentence.get("facts") is not None:
            ws.cell(row=r, column=4, value=json.dumps(sentence["facts"], ensure_ascii=False))
        r += 1
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 110
    ws.column_dimensions["C"].width = 12
    ws.column_dimensions["D"].width = 60
    _print_setup(ws, "3:3", 3, "B4")  # the facts are for analysts, not for print


def _revisions(ws: Worksheet, data: Mapping[str, Any]) -> None:
    ws["A1"] = "Revisions"
    ws["A1"].font = TITLE
    heads = ("Measure", "As of", "Column", "Published", "Now", "Note")
    _header(ws, 3, heads)
    if not data["revisions"]:
        ever = data.get("ever_published", True)
        ws["A4"] = "No published figure has changed." if ever else "Nothing published yet."
    units = {m["id"]: m["unit"] for m in data["measures"]}
    places = {m["id"]: decimals(m) for m in data["measures"]}
    names = {m["id"]: m["name"] for m in data["measures"]}
    for r, rev in enumerate(data["revisions"], start=4):
        ws.cell(row=r, column=1, value=names.get(rev["measure"], rev["measure"]))
        as_of = ws.cell(row=r, column=2, value=_month_date(rev["as_of"]))
        as_of.number_format = MONTH_FORMAT
        ws.cell(row=r, column=3, value=COLUMN_TITLES.get(rev["column"], rev["column"]))
        unit = units.get(rev["measure"], "")
        for c, key in ((4, "old"), (5, "new")):
            value, cell = rev[key], ws.cell(row=r, column=c)
            if value is None:
                cell.comment = _note("n/a")
            elif isinstance(value, Mapping):
                cell.value = str(value.get("label", ""))
            elif isinstance(value, int | float):
                cell.value, cell.number_format = (
                    float(value),
                    number_format(unit, places.get(rev["measure"], 0)),
                )
            else:
                cell.value = str(value)
        ws.cell(row=r, column=6, value=rev["note"]).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["C"].width = 18
    ws.column_dimensions["F"].width = 90
    _print_setup(ws, "3:3", len(heads), "B4")


def _definitions(ws: Worksheet, data: Mapping[str, Any]) -> None:
    """Each measure in words first, then every setting (the machine-readable form)."""
    metrics = data["definitions"]["metrics"]
    wrap = Alignment(wrap_text=True, vertical="top")
    ws["A1"] = "Definitions"
    ws["A1"].font = TITLE
    ws["A2"] = (
        f"Definitions {metrics['definition_id']} version {metrics['version']} (hash "
        f"{metrics['config_hash']}); configuration hash {data['definitions']['config_hash']}"
    )
    if changed := overridden_lines(data):
        listed = "; ".join(f"{path}: {was} -> {now}" for path, was, now in changed)
        ws["A2"] = (
            f"{ws['A2'].value}. Overridden for this pack from the configured definitions (hash "
            f"{metrics.get('configured_hash')}): {listed}"
        )
    _header(ws, 3, ("Measure", "Definition"))
    row = 4
    for entry in data.get("definitions_in_words", []):
        ws.cell(row=row, column=1, value=entry["name"]).alignment = wrap
        ws.cell(row=row, column=2, value=entry["definition"]).alignment = wrap
        row += 1
    row += 1
    ws.cell(row=row, column=1, value="Settings (machine-readable)").font = BOLD
    _header(ws, row + 1, ("Setting", "Value"))
    ws.cell(row=row + 2, column=1, value="Label rule").font = BOLD
    ws.cell(row=row + 2, column=2, value=data["label_rule"]).alignment = wrap
    for r, (name, value) in enumerate(definitions_lines(data), start=row + 3):
        ws.cell(row=r, column=1, value=name)
        ws.cell(row=r, column=2, value=value).alignment = wrap
    ws.column_dimensions["A"].width = 60
    ws.column_dimensions["B"].width = 100
    _print_setup(ws, "3:3", 2, "A4")


def _comparison(ws: Worksheet, data: Mapping[str, Any]) -> None:
    """Each measure whose figures differ under the pack's and the alternative definitions: one row
    per column that differs, the figures as numbers (labels as text) side by side."""
    section = data["comparison"]
    base, other = section["configured"], section["alternative"]
    ws["A1"] = "Definitions compared"
    ws["A1"].font = TITLE
    changed = "; ".join(
        f"{path}: {_json_text(d['configured'])} -> {_json_text(d['alternative'])}"
        for path, d in (other.get("differs_from_configured") or {}).items()
    )
    ws["A2"] = (
        f"Pack: {base['definition_id']} version {base['version']} (hash {base['config_hash']}). "
        f"Alternative: {other['definition_id']} version {other['version']} (hash {other['config_hash']}), "
        f"differing in {changed or 'nothing'}"
    )
    heads = ("Measure", "Column", "Period", "Pack", "Alternative")
    _header(ws, 3, heads)
    rows = comparison_rows(data)
    if not rows:
        ws["A4"] = "No figure of the pack differs under the alternative definitions."
    for r, row in enumerate(rows, start=4):
        ws.cell(row=r, column=1, value=row["measure"])
        ws.cell(row=r, column=2, value=row["column"])
        ws.cell(row=r, column=3, value=row["period"])
        for c, (value, text) in enumerate(
            zip(row["values"], (row["configured"], row["alternative"]), strict=True), start=4
        ):
            cell = ws.cell(row=r, column=c)
            if value is None:
                cell.comment = _note("n/a")
            elif row["label"] or not isinstance(value, int | float):
                cell.value = text
            else:
                cell.value, cell.number_format = float(value), number_format(row["unit"], row["decimals"])
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 18
    ws.column_dimensions["C"].width = 20
    ws.column_dimensions["D"].width = 16
    ws.column_dimensions["E"].width = 16
    _print_setup(ws, "3:3", len(heads), "B4")


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


CHART_SERIES = ("Month", "Centre", "Upper limit", "Lower limit", "Signal")
CHART_COLOURS = ("1F4E79", "595959", "C00000", "C00000", "C00000")


def _chart_data(
    ws: Worksheet, trends: Sequence[TrendChart], places: Mapping[str, int] | None = None
) -> dict[str, tuple[int, int, int]]:
    """One block per measure with data: a header row and a row per month from its first month with
    data (``places``: measure id -> its decimals). Returns measure id -> (header row, first row,
    last row)."""
    ws["A1"] = "Chart data: the series behind the Charts sheet"
    ws["A1"].font = TITLE
    _header(ws, 3, ("Measure", "Month", *CHART_SERIES, "Rules"))
    blocks: dict[str, tuple[int, int, int]] = {}
    r = 4
    for chart in trends:
        if not chart.has_data:
            continue
        k = next(i for i, v in enumerate(chart.values) if v is not None)
        head = r
        ws.cell(row=r, column=1, value=chart.name).font = BOLD
        for c, name in enumerate(CHART_SERIES, start=3):
            ws.cell(row=r, column=c, value=name).font = BOLD
        r += 1
        fmt = number_format(chart.unit, (places or {}).get(chart.measure_id, 0))
        for i in range(k, len(chart.months)):
            m = chart.months[i]
            ws.cell(row=r, column=1, value=chart.name)
            month = ws.cell(row=r, column=2, value=date(m.year, m.month, 1))
            month.number_format = MONTH_FORMAT
            spc = chart.spc
            row_values: list[float | None] = [chart.values[i]]
            if spc is not None:
                signal = chart.values[i] if spc.signals[i] else None
                row_values += [spc.centre[i], spc.upper[i], spc.lower[i], signal]
            for c, value in enumerate(row_values, start=3):
                if value is not None:
                    cell = ws.cell(row=r, column=c, value=float(value))
                    cell.number_format = fmt
            if spc is not None and spc.signals[i]:
                ws.cell(row=r, column=8, value=", ".join(spc.signals[i]))
            r += 1
        blocks[chart.measure_id] = (head, head + 1, r - 1)
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["H"].width = 26
    _print_setup(ws, "3:3", 8, "C4")
    return blocks


def _line_chart(data_ws: Worksheet, chart: TrendChart, block: tuple[int, int, int]) -> LineChart:
    head, first, last = block
    lc = LineChart()
    name = "" if chart.spc is None else f" ({chart.spc.name})"
    lc.title = f"{chart.name} (to {chart.as_of.label()}){name}"
    # centimetres; openpyxl's stubs say int, its own default is 7.5
    lc.height, lc.width = 7.0, 15.5  # type: ignore[assignment]
    lc.y_axis.title = {"percent": "%", "count": "count", "minutes": "minutes"}.get(chart.unit, chart.unit)
    lc.y_axis.number_format = number_format(chart.unit)
    lc.y_axis.majorGridlines = ChartLines()
    lc.x_axis.number_format = MONTH_FORMAT
    # a line chart's x axis is a TextAxis (typed as the base axis in openpyxl's stubs)
    cast(TextAxis, lc.x_axis).tickLblSkip = 3
    assert lc.legend is not None  # a new chart has a legend
    lc.legend.position = "b"
    series_count = len(CHART_SERIES) if chart.spc is not None else 1
    values = Reference(data_ws, min_col=3, max_col=2 + series_count, min_row=head, max_row=last)
    lc.add_data(values, titles_from_data=True)
    lc.set_categories(Reference(data_ws, min_col=2, min_row=first, max_row=last))
    # Axes shown (openpyxl's default hides them in newer Excel).
    lc.x_axis.delete = False
    lc.y_axis.delete = False
    for s, colour in zip(lc.series, CHART_COLOURS, strict=False):
        s.smooth = False
        s.graphicalProperties.line.solidFill = colour
        s.graphicalProperties.line.width = 15000
        s.marker.symbol = "none"
    if chart.spc is not None:
        for s in lc.series[2:4]:
            s.graphicalProperties.line.dashStyle = "dash"
            s.graphicalProperties.line.width = 9000
        signal = lc.series[4]
        signal.graphicalProperties.line.noFill = True
        signal.marker.symbol = "circle"
        signal.marker.size = 6
        signal.marker.graphicalProperties.solidFill = "FFFFFF"
        signal.marker.graphicalProperties.line.solidFill = "C00000"
    if chart.unit == "percent":
        # Excel's automatic axis may run past 100 %; a share never does.
        tops = [v for v in chart.values if v is not None]
        if chart.spc is not None:
            tops += list(chart.spc.upper)
        if max(tops) > 90:
            lc.y_axis.scaling.max = 100
    return lc


def _charts(ws: Worksheet, data_ws: Worksheet, report: BoardReport) -> None:
    ws["A1"] = "Charts: each measure's control chart (series on the Chart data sheet)"
    ws["A1"].font = TITLE
    ws["A2"] = (
        "XmR for means and levels, p-chart (per-month limits) for percentages, u-chart for counts; "
        "Laney's p′/u′ when over-dispersed. Circled months signal: beyond limits, run of 8, trend of 6."
    )
    ws["A2"].font = Font(italic=True, size=9, color="595959")
    places = {m["id"]: decimals(m) for m in report.data["measures"]}
    blocks = _chart_data(data_ws, report.trends, places)
    rows_per_chart = 15
    for n, chart in enumerate(report.trends):
        row = 4 + (n // 2) * rows_per_chart
        col = 1 if n % 2 == 0 else 11
        anchor = f"{get_column_letter(col)}{row}"
        if chart.measure_id not in blocks:
            ws.cell(
                row=row, column=col, value=f"{chart.name} (to {chart.as_of.label()}): no data"
            ).font = BOLD
            continue
        ws.add_chart(_line_chart(data_ws, chart, blocks[chart.measure_id]), anchor)
    last_row = 4 + ((len(report.trends) + 1) // 2) * rows_per_chart
    ws.cell(row=last_row, column=1, value=None)
    _print_setup(ws, "1:2", 20, None)
    ws.print_area = f"A1:T{last_row}"
    ws.page_setup.fitToHeight = 0


def render_xlsx(report: BoardReport) -> bytes:
    """The workbook as bytes (module docstring)."""
    wb = Workbook()
    wb.properties.created = wb.properties.modified = FIXED_TIME
    data = report.data
    dashboard = wb.active
    assert dashboard is not None
    dashboard.title = "Dashboard"
    _dashboard(dashboard, report)
    _channels(wb.create_sheet("Channels"), data)
    _narrative(wb.create_sheet("Narrative"), data)
    charts = wb.create_sheet("Charts")
    chart_data = wb.create_sheet("Chart data")
    _charts(charts, chart_data, report)
    if data.get("comparison"):
        _comparison(wb.create_sheet("Definitions compared"), data)
    _revisions(wb.create_sheet("Revisions"), data)
    _definitions(wb.create_sheet("Definitions"), data)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
