"""The pack as a multi-page PDF drawn with matplotlib (PdfPages; no other dependency).

Pages (A4 landscape): the dashboard table (by theme; each cell shows its figure over its real-month
period; labels coloured by polarity), the channel table, trend charts six to a page (36 months,
control limits, current month marked), the narrative, the revisions, and the definitions with the
label rule and configuration hash.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from demandhub.board.charts import draw_trend
from demandhub.board.layout import (
    COLUMN_TITLES,
    TONE_RGB,
    cell_text,
    channel_rows,
    definitions_lines,
    label_tone,
    row_headers,
    themes,
)
from demandhub.board.report import BoardReport
from streams.domain.board.dashboard import COLUMNS, LABEL_COLUMNS
from streams.domain.board.months import YearMonth

PAGE = (11.69, 8.27)
TABLE_ROWS_PER_PAGE = 15
CHARTS_PER_PAGE = 6
TEXT_LINES_PER_PAGE = 52
THEME_RGB = "#1f4e79"


def _page(title: str) -> Figure:
    fig = Figure(figsize=PAGE)
    FigureCanvasAgg(fig)
    fig.text(0.03, 0.965, title, fontsize=13, weight="bold", va="top")
    return fig


def _hex(rgb: str) -> str:
    return f"#{rgb}"


def compact_header(header: str) -> str:
    """``"Apr-18 to Mar-19"`` -> ``"Apr-18-Mar-19"``; a label's ``"Mar-19 v X"`` -> ``"v X"``."""
    if " v " in header:
        header = "v " + header.split(" v ", 1)[1]
    return header.replace(" to ", "-")


def _table_rows(data: Mapping[str, Any]) -> list[tuple[str, list[str], list[str]]]:
    """(kind, texts, face colours) rows: kind 'theme' or 'measure'."""
    out: list[tuple[str, list[str], list[str]]] = []
    for theme, entries in themes(data):
        out.append(("theme", [theme] + [""] * len(COLUMNS), [THEME_RGB] * (len(COLUMNS) + 1)))
        for entry in entries:
            texts, colours = [textwrap.fill(entry["name"], 34)], ["white"]
            for column, header in zip(COLUMNS, row_headers(entry), strict=True):
                text = cell_text(entry, column)
                texts.append(f"{text}\n{compact_header(header)}" if header else text)
                tone = label_tone(text, entry["polarity"]) if column in LABEL_COLUMNS else None
                colours.append(_hex(TONE_RGB[tone][0]) if tone else "white")
            out.append(("measure", texts, colours))
    return out


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _dashboard_pages(pdf: PdfPages, data: Mapping[str, Any], title: str) -> None:
    rows = _table_rows(data)
    header = ["Measure"] + [COLUMN_TITLES[c] for c in COLUMNS]
    for n, chunk in enumerate(_chunks(rows, TABLE_ROWS_PER_PAGE), start=1):
        fig = _page(f"{title}: dashboard ({n})")
        ax = fig.add_axes((0.02, 0.03, 0.96, 0.88))
        ax.axis("off")
        table = ax.table(
            cellText=[r[1] for r in chunk],
            cellColours=[r[2] for r in chunk],
            colLabels=header,
            colColours=["#d9e1f2"] * len(header),
            colWidths=[0.2] + [0.8 / len(COLUMNS)] * len(COLUMNS),
            loc="upper center",
            cellLoc="center",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(6)
        for (r, _c), cell in table.get_celld().items():
            cell.set_height(0.055 if r else 0.05)
            if r and chunk[r - 1][0] == "theme":
                cell.get_text().set_color("white")
                cell.get_text().set_weight("bold")
                cell.set_height(0.03)
        pdf.savefig(fig)


def _channel_page(pdf: PdfPages, data: Mapping[str, Any], title: str) -> None:
    table_data = data.get("channels")
    if not table_data:
        return
    fig = _page(f"{title}: contacts by channel")
    fig.text(0.03, 0.9, textwrap.fill(table_data["caption"], 150), fontsize=8, va="top")
    header, body = channel_rows(table_data)
    ax = fig.add_axes((0.03, 0.5, 0.94, 0.35))
    ax.axis("off")
    table = ax.table(
        cellText=body, colLabels=header, colColours=["#d9e1f2"] * len(header), loc="upper center"
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.8)
    pdf.savefig(fig)


def _chart_pages(pdf: PdfPages, report: BoardReport, title: str) -> None:
    for n, chunk in enumerate(_chunks(report.trends, CHARTS_PER_PAGE), start=1):
        fig = _page(f"{title}: trends with control limits ({n})")
        for i, chart in enumerate(chunk):
            ax = fig.add_subplot(3, 2, i + 1)
            draw_trend(ax, chart)
        fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.07, hspace=0.75, wspace=0.18)
        pdf.savefig(fig)


def _text_pages(pdf: PdfPages, heading: str, lines: list[str]) -> None:
    wrapped: list[str] = []
    for line in lines or ["(none)"]:
        wrapped.extend(textwrap.wrap(line, 170, subsequent_indent="    ") or [""])
    for n, chunk in enumerate(_chunks(wrapped, TEXT_LINES_PER_PAGE), start=1):
        fig = _page(f"{heading} ({n})" if len(wrapped) > TEXT_LINES_PER_PAGE else heading)
        fig.text(0.03, 0.92, "\n".join(chunk), fontsize=7, va="top", family="monospace")
        pdf.savefig(fig)


def _revision_lines(data: Mapping[str, Any]) -> list[str]:
    if not data["revisions"]:
        return ["No published figure has changed since it was published."]
    return [
        f"{r['measure']} {r['as_of']} {COLUMN_TITLES.get(r['column'], r['column'])}: "
        f"published {'n/a' if r['old'] is None else r['old']}, now "
        f"{'n/a' if r['new'] is None else r['new']}. {r['note']}"
        for r in data["revisions"]
    ]


def render_pdf(report: BoardReport) -> bytes:
    """The PDF as bytes (module docstring)."""
    data = report.data
    month = YearMonth.from_str(data["month"])
    title = f"Board pack {data['force']}, {month.long()}"
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "CreationDate": None}) as pdf:
        _dashboard_pages(pdf, data, title)
        _channel_page(pdf, data, title)
        _chart_pages(pdf, report, title)
        _text_pages(pdf, f"{title}: narrative", [s["text"] for s in data["narrative"]])
        _text_pages(pdf, f"{title}: revisions", _revision_lines(data))
        definitions = [
            f"Label rule: {data['label_rule']}",
            f"Configuration hash: {data['definitions']['config_hash']}",
            f"Extracted: {data['extract_time']}",
            "",
            *(f"{k} = {v}" for k, v in definitions_lines(data)),
        ]
        _text_pages(pdf, f"{title}: definitions", definitions)
    return buf.getvalue()
