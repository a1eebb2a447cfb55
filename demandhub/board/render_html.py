"""The pack as one self-contained HTML page: styles inline, charts embedded as base64 PNG.

Sections: the dashboard (by theme; each measure's real-month headers above its figures; labels
coloured by polarity), the channel table, the narrative, the trend charts (36 months with control
limits, the current month marked), revisions, and the definitions used with the label rule.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from html import escape
from typing import Any

from demandhub.board.charts import trend_png
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

STYLE = """
body{font-family:Arial,Helvetica,sans-serif;font-size:12px;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:2px solid #1f4e79}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:center}
th{background:#d9e1f2}td.name{text-align:left}tr.theme td{background:#1f4e79;color:#fff;font-weight:bold;text-align:left}
tr.period td{font-size:10px;color:#595959;font-style:italic;border-bottom:none}
.good{background:#C6EFCE;color:#006100;font-weight:bold}.bad{background:#FFC7CE;color:#9C0006;font-weight:bold}
.neutral{background:#EDEDED;color:#595959}.na{color:#595959}
.charts{display:flex;flex-wrap:wrap;gap:8px}.charts img{width:460px;border:1px solid #ddd}
pre{white-space:pre-wrap}td.setting{text-align:left;font-family:monospace}td.value{text-align:left}
""".strip()


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _cell(entry: Mapping[str, Any], column: str) -> str:
    text = cell_text(entry, column)
    if column in LABEL_COLUMNS:
        tone = label_tone(text, entry["polarity"])
        return f'<td class="{tone}">{_e(text)}</td>'
    css = ' class="na"' if entry[column] is None else ""
    return f"<td{css}>{_e(text)}</td>"


def _dashboard(data: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{_e(COLUMN_TITLES[c])}</th>" for c in COLUMNS)
    parts = ['<table class="dashboard">', f"<tr><th>Measure</th>{head}</tr>"]
    for theme, entries in themes(data):
        parts.append(f'<tr class="theme"><td colspan="{len(COLUMNS) + 1}">{_e(theme)}</td></tr>')
        for entry in entries:
            periods = "".join(f"<td>{_e(h)}</td>" for h in row_headers(entry))
            parts.append(f'<tr class="period"><td class="name">as of {_e(entry["as_of"])}</td>{periods}</tr>')
            cells = "".join(_cell(entry, c) for c in COLUMNS)
            parts.append(
                f'<tr id="m-{_e(entry["id"])}"><td class="name">{_e(entry["name"])}</td>{cells}</tr>'
            )
    parts.append("</table>")
    return "\n".join(parts)


def _channels(data: Mapping[str, Any]) -> str:
    table = data.get("channels")
    if not table:
        return "<p>No channel data for this period.</p>"
    cols = table["columns"]
    head = "".join(f"<th>{_e(table['column_names'][k])}</th>" for k in cols)
    rows = [f"<p>{_e(table['caption'])}</p>", '<table class="channels">', f"<tr><th>Period</th>{head}</tr>"]
    for row in table["rows"]:
        cells = []
        for key in cols:
            text = row["counts_text"][key]
            if row["pct_change_text"]:
                text += f" ({row['pct_change_text'][key]})"
            cells.append(f"<td>{_e(text)}</td>")
        rows.append(f'<tr><td class="name">{_e(row["label"])}</td>{"".join(cells)}</tr>')
    rows.append("</table>")
    return "\n".join(rows)


def _narrative(data: Mapping[str, Any]) -> str:
    items = "".join(
        f'<li title="template {_e(s["template"])}">{_e(s["text"])}</li>' for s in data["narrative"]
    )
    return f"<ul>{items}</ul>" if items else "<p>No narrative.</p>"


def _revisions(data: Mapping[str, Any]) -> str:
    if not data["revisions"]:
        return "<p>No published figure has changed since it was published.</p>"
    rows = [
        "<table><tr><th>Measure</th><th>As of</th><th>Column</th><th>Published</th><th>Now</th><th>Note</th></tr>"
    ]
    for r in data["revisions"]:
        old = "n/a" if r["old"] is None else r["old"]
        new = "n/a" if r["new"] is None else r["new"]
        column = COLUMN_TITLES.get(r["column"], r["column"])
        rows.append(
            f'<tr><td class="name">{_e(r["measure"])}</td><td>{_e(r["as_of"])}</td><td>{_e(column)}</td>'
            f'<td>{_e(old)}</td><td>{_e(new)}</td><td class="name">{_e(r["note"])}</td></tr>'
        )
    rows.append("</table>")
    return "\n".join(rows)


def _charts(report: BoardReport) -> str:
    images = []
    for chart in report.trends:
        png = base64.b64encode(trend_png(chart)).decode()
        alt = f"{chart.name}: 36-month trend with control limits"
        images.append(f'<img alt="{_e(alt)}" src="data:image/png;base64,{png}">')
    return f'<div class="charts">{"".join(images)}</div>'


def _definitions(data: Mapping[str, Any]) -> str:
    rows = "".join(
        f'<tr><td class="setting">{_e(k)}</td><td class="value">{_e(v)}</td></tr>'
        for k, v in definitions_lines(data)
    )
    return (
        f"<p><b>Label rule.</b> {_e(data['label_rule'])}</p>"
        f"<p><b>Configuration hash</b> {_e(data['definitions']['config_hash'])}</p>"
        f"<table><tr><th>Setting</th><th>Value</th></tr>{rows}</table>"
    )


def render_html(report: BoardReport) -> bytes:
    """The page as UTF-8 bytes (module docstring)."""
    data = report.data
    month = YearMonth.from_str(data["month"])
    title = f"Business Coordination Board pack: {data['force']}, {month.long()}"
    legend = "".join(f'<span class="{t}">&nbsp;{t}&nbsp;</span> ' for t in TONE_RGB)
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p>Extracted {_e(data['extract_time'])}. Label colours by polarity: {legend}</p>",
        "<h2>Dashboard</h2>",
        _dashboard(data),
        "<h2>Contacts by channel</h2>",
        _channels(data),
        "<h2>Narrative</h2>",
        _narrative(data),
        "<h2>Trends (36 months, mean ± k·σ control limits, current month marked)</h2>",
        _charts(report),
        "<h2>Revisions</h2>",
        _revisions(data),
        "<h2>Definitions</h2>",
        _definitions(data),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    return page.encode()
