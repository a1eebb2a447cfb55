"""The pack as one self-contained HTML page, from the Jinja2 templates in ``templates/``.

One template per section (``contents``, ``dashboard``, ``channels``, ``narrative``, ``trends``, and
the ``revisions`` and ``definitions`` appendices) under ``pack.html``, with one stylesheet
(``pack.css``) whose print rules lay the same page out as the PDF (:mod:`demandhub.board.render.pdf`
feeds this page to the typesetting engine). The web page (``GET /api/board?format=html``) and the
file are these bytes. Every value goes through the templates' autoescaping; charts are embedded as
SVG data URIs, so the page needs nothing from the network.

Dashboard: by theme; each measure's real-month headers above its figures (compact; the full form on hover); labels coloured by
polarity (:mod:`demandhub.board.maths.layout`); each measure's name links to its trend chart.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from demandhub.board.maths.dashboard import COLUMNS, LABEL_COLUMNS
from demandhub.board.maths.layout import (
    COLUMN_TITLES,
    MSF_TONE_OF,
    TONE_RGB,
    cell_text,
    channel_rows,
    compact_header,
    comparison_rows,
    definitions_lines,
    label_tone,
    msf_label,
    overridden_lines,
    row_headers,
    themes,
)
from demandhub.board.maths.months import YearMonth
from demandhub.board.render.charts import chart_note, chart_title, trend_svg
from demandhub.board.report import BoardReport


@cache
def environment() -> Environment:
    """The templates' environment: autoescaping on for every template, undefined names fail."""
    return Environment(
        loader=PackageLoader("demandhub.board.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _cell(entry: Mapping[str, Any], column: str) -> dict[str, str]:
    text = cell_text(entry, column)
    if column in LABEL_COLUMNS:
        return {"text": text, "css": label_tone(text, entry["polarity"])}
    if column == "msf" and (label := msf_label(entry)) is not None:
        return {"text": text, "css": label_tone(MSF_TONE_OF.get(label, label), entry["polarity"])}
    return {"text": text, "css": "na" if entry[column] is None else ""}


def _themes(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for n, (theme, entries) in enumerate(themes(data), start=1):
        measures = [
            {
                "id": entry["id"],
                "name": entry["name"],
                "as_of": entry["as_of"],
                "periods": [{"text": compact_header(h), "full": h} for h in row_headers(entry)],
                "cells": [_cell(entry, c) for c in COLUMNS],
            }
            for entry in entries
        ]
        out.append({"name": theme, "anchor": f"theme-{n}", "measures": measures})
    return out


def _revisions(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "measure": r["measure"],
            "as_of": r["as_of"],
            "column": COLUMN_TITLES.get(r["column"], r["column"]),
            "old": "n/a" if r["old"] is None else r["old"],
            "new": "n/a" if r["new"] is None else r["new"],
            "note": r["note"],
        }
        for r in data["revisions"]
    ]


def _charts(report: BoardReport) -> list[dict[str, str | None]]:
    """One figure per measure; a measure with no data has no chart (``src`` None: "no data")."""
    out: list[dict[str, str | None]] = []
    for chart in report.trends:
        src = None
        if chart.has_data:
            svg = base64.b64encode(trend_svg(chart).encode()).decode()
            src = f"data:image/svg+xml;base64,{svg}"
        out.append(
            {
                "id": chart.measure_id,
                "title": chart_title(chart),
                "alt": f"{chart.name}: {len(chart.months)}-month control chart",
                "note": chart_note(chart),
                "src": src,
            }
        )
    return out


def pack_context(report: BoardReport) -> dict[str, Any]:
    """Everything the templates print, already in printed form."""
    data = report.data
    month = YearMonth.from_str(data["month"])
    table = data.get("channels")
    theme_list = _themes(data)
    compared = data.get("comparison")
    sections: list[dict[str, Any]] = [
        {
            "anchor": "dashboard",
            "title": "Dashboard",
            "children": [{"anchor": t["anchor"], "title": t["name"]} for t in theme_list],
        },
        {"anchor": "channels", "title": "Contacts by channel", "children": []},
        {"anchor": "narrative", "title": "Narrative", "children": []},
        {"anchor": "trends", "title": "Trends", "children": []},
        *([{"anchor": "comparison", "title": "Definitions compared", "children": []}] if compared else []),
        {"anchor": "revisions", "title": "Appendix A. Revisions", "children": []},
        {"anchor": "definitions", "title": "Appendix B. Definitions", "children": []},
    ]
    channels = None
    if table:
        header, rows = channel_rows(table)
        channels = {"caption": table["caption"], "header": header, "rows": rows}
    chart_months = len(report.trends[0].months) if report.trends else 36
    metrics = data["definitions"]["metrics"]
    return {
        "title": f"Business Coordination Board pack: {report.display_name}, {month.long()}",
        "force_name": report.display_name,
        "force_id": data["force"],
        "month_long": month.long(),
        "extract_time": data["extract_time"],
        "publication": data.get("publication"),
        "tones": list(TONE_RGB),
        "tone_colours": TONE_RGB,
        "sections": sections,
        "columns": [COLUMN_TITLES[c] for c in COLUMNS],
        "themes": theme_list,
        "channels": channels,
        "narrative": data["narrative"],
        "briefing": data.get("briefing"),
        "ever_published": data.get("ever_published", True),
        "chart_months": chart_months,
        "charts": _charts(report),
        "revisions": _revisions(data),
        "label_rule": data["label_rule"],
        "fdr": data.get("fdr"),
        "column_titles": COLUMN_TITLES,
        "config_hash": data["definitions"]["config_hash"],
        "definitions_id": metrics["definition_id"],
        "definitions_version": metrics["version"],
        "definitions_hash": metrics["config_hash"],
        "definitions_in_words": data.get("definitions_in_words", []),
        "definitions": definitions_lines(data),
        "configured_hash": metrics.get("configured_hash", metrics["config_hash"]),
        "overridden": overridden_lines(data),
        "comparison": _comparison(compared, data),
    }


def _comparison(compared: Mapping[str, Any] | None, data: Mapping[str, Any]) -> dict[str, Any] | None:
    if not compared:
        return None
    changed = compared["alternative"].get("differs_from_configured") or {}
    return {
        "configured": compared["configured"],
        "alternative": compared["alternative"],
        "settings": [
            (path, *(v if isinstance(v, str) else _json_text(v) for v in (d["configured"], d["alternative"])))
            for path, d in changed.items()
        ],
        "rows": comparison_rows(data),
    }


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def page_html(report: BoardReport) -> str:
    """The page as text (module docstring)."""
    return environment().get_template("pack.html").render(pack_context(report))


def render_html(report: BoardReport) -> bytes:
    """The page as UTF-8 bytes (module docstring)."""
    return page_html(report).encode()
