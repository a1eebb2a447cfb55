"""The pack as an Excel workbook laid out like the board's dashboard (openpyxl).

Sheets: ``Dashboard`` (grouped by theme; per measure a grey row of its real-month headers above its
figures; numbers keep their value with a number format: percentages 1 dp, counts with thousands
separators, minutes whole; labels coloured by polarity; "n/a" for nulls and "-" for no MSF),
``Channels``, ``Narrative`` (each sentence with its template and facts), ``Revisions`` and
``Definitions`` (every setting used, the label rule and the configuration hash).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from demandhub.board.layout import (
    COLUMN_TITLES,
    TONE_RGB,
    cell_text,
    definitions_lines,
    label_tone,
    row_headers,
    themes,
)
from demandhub.board.report import BoardReport
from streams.domain.board.dashboard import COLUMNS, LABEL_COLUMNS
from streams.domain.board.months import YearMonth

NUMBER_FORMATS: dict[str, str] = {
    "percent": '0.0"%"',
    "count": "#,##0",
    "minutes": "0",
    "level": "#,##0",
}
BOLD = Font(bold=True)
THEME_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
PERIOD_FONT = Font(italic=True, size=8, color="595959")
FIXED_TIME = datetime(2000, 1, 1)


def _fill(rgb: str) -> PatternFill:
    return PatternFill("solid", fgColor=rgb)


def _write_value(ws: Worksheet, row: int, col: int, entry: Mapping[str, Any], column: str) -> None:
    cell = ws.cell(row=row, column=col)
    raw = entry[column]
    if column in LABEL_COLUMNS:
        label = str(raw["label"])
        fill, font = TONE_RGB[label_tone(label, entry["polarity"])]
        cell.value = label
        cell.fill, cell.font = _fill(fill), Font(color=font, bold=label in ("Higher", "Lower"))
    elif raw is None:
        cell.value = cell_text(entry, column)
        cell.font = Font(color=TONE_RGB["neutral"][1])
    else:
        cell.value = float(raw)
        cell.number_format = NUMBER_FORMATS[entry["unit"]]
    cell.alignment = Alignment(horizontal="center")


def _dashboard(ws: Worksheet, data: Mapping[str, Any]) -> None:
    month = YearMonth.from_str(data["month"])
    ws["A1"] = f"Business Coordination Board dashboard: {data['force']}, {month.long()}"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = f"Extracted {data['extract_time']}; configuration {data['definitions']['config_hash'][:16]}"
    r = 4
    for theme, entries in themes(data):
        ws.cell(row=r, column=1, value=theme).font = Font(bold=True, color="FFFFFF")
        for c in range(1, len(COLUMNS) + 2):
            ws.cell(row=r, column=c).fill = THEME_FILL
        r += 1
        for c, column in enumerate(["Measure", *COLUMNS], start=1):
            title = "Measure" if column == "Measure" else COLUMN_TITLES[column]
            cell = ws.cell(row=r, column=c, value=title)
            cell.font, cell.fill = BOLD, HEADER_FILL
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        r += 1
        for entry in entries:
            ws.cell(row=r, column=1, value=f"as of {entry['as_of']}").font = PERIOD_FONT
            for c, header in enumerate(row_headers(entry), start=2):
                cell = ws.cell(row=r, column=c, value=header)
                cell.font, cell.alignment = PERIOD_FONT, Alignment(horizontal="center")
            r += 1
            ws.cell(row=r, column=1, value=entry["name"])
            for c, column in enumerate(COLUMNS, start=2):
                _write_value(ws, r, c, entry, column)
            r += 1
        r += 1
    ws.column_dimensions["A"].width = 52
    for c in range(2, len(COLUMNS) + 2):
        ws.column_dimensions[ws.cell(row=1, column=c).column_letter].width = 17
    ws.freeze_panes = "B4"


def _channels(ws: Worksheet, data: Mapping[str, Any]) -> None:
    table = data.get("channels")
    if not table:
        ws["A1"] = "No channel data for this period."
        return
    ws["A1"] = table["caption"]
    columns = table["columns"]
    for c, name in enumerate(["Period", *(table["column_names"][k] for k in columns)], start=1):
        ws.cell(row=3, column=c, value=name).font = BOLD
    for r, row in enumerate(table["rows"], start=4):
        ws.cell(row=r, column=1, value=row["label"])
        for c, key in enumerate(columns, start=2):
            count = row["counts"][key]
            text = row["pct_change_text"][key] if row["pct_change_text"] else None
            if count is None:
                ws.cell(row=r, column=c, value="n/a")
                continue
            cell = ws.cell(row=r, column=c, value=float(count))
            cell.number_format = "#,##0"
            if text is not None:
                cell.number_format = f'#,##0" ({text})"'
    ws.column_dimensions["A"].width = 36


def _narrative(ws: Worksheet, data: Mapping[str, Any]) -> None:
    for c, name in enumerate(("Sentence", "Template", "Facts"), start=1):
        ws.cell(row=1, column=c, value=name).font = BOLD
    for r, sentence in enumerate(data["narrative"], start=2):
        ws.cell(row=r, column=1, value=sentence["text"])
        ws.cell(row=r, column=2, value=sentence["template"])
        ws.cell(row=r, column=3, value=json.dumps(sentence["facts"], ensure_ascii=False))
    ws.column_dimensions["A"].width = 100
    ws.column_dimensions["C"].width = 80


def _revisions(ws: Worksheet, data: Mapping[str, Any]) -> None:
    heads = ("Measure", "As of", "Column", "Published", "Now", "Note")
    for c, name in enumerate(heads, start=1):
        ws.cell(row=1, column=c, value=name).font = BOLD
    if not data["revisions"]:
        ws["A2"] = "No published figure has changed."
        return
    for r, rev in enumerate(data["revisions"], start=2):
        values = (rev["measure"], rev["as_of"], COLUMN_TITLES.get(rev["column"], rev["column"]))
        for c, value in enumerate((*values, _plain(rev["old"]), _plain(rev["new"]), rev["note"]), start=1):
            ws.cell(row=r, column=c, value=value)
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["F"].width = 90


def _plain(value: Any) -> Any:
    return "n/a" if value is None else value


def _definitions(ws: Worksheet, data: Mapping[str, Any]) -> None:
    ws["A1"], ws["B1"] = "Label rule", data["label_rule"]
    ws["A2"], ws["B2"] = "Configuration hash", data["definitions"]["config_hash"]
    ws["A1"].font = ws["A2"].font = BOLD
    ws.cell(row=4, column=1, value="Setting").font = BOLD
    ws.cell(row=4, column=2, value="Value").font = BOLD
    for r, (name, value) in enumerate(definitions_lines(data), start=5):
        ws.cell(row=r, column=1, value=name)
        ws.cell(row=r, column=2, value=value)
    ws.column_dimensions["A"].width = 70
    ws.column_dimensions["B"].width = 100


def render_xlsx(report: BoardReport) -> bytes:
    """The workbook as bytes (module docstring)."""
    wb = Workbook()
    wb.properties.created = wb.properties.modified = FIXED_TIME
    data = report.data
    dashboard = wb.active
    assert dashboard is not None
    dashboard.title = "Dashboard"
    _dashboard(dashboard, data)
    _channels(wb.create_sheet("Channels"), data)
    _narrative(wb.create_sheet("Narrative"), data)
    _revisions(wb.create_sheet("Revisions"), data)
    _definitions(wb.create_sheet("Definitions"), data)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
