"""The public force dashboard and its machine-readable feed, built from the warehouse.

:func:`build_site` returns every file of the public site as ``{relative path: bytes}``; the web server
serves them under ``/public/`` without login and ``demandhub public build --out DIR`` writes them as
static files, so a force can host them anywhere. Files:

* ``index.html`` the page (no script, no framework; every chart has its table), ``public.css``;
* ``feed/index.json`` the months published, ``feed/schema.json`` the documented JSON Schema of a
  month, ``feed/YYYY-MM.json`` and ``feed/YYYY-MM.csv`` one month each (the CSV's columns are
  described in the schema's ``csv_columns``).

What is published, per month and per area (district) and for the whole force:

* 999 answer times (the police.uk publication's bands): answered in under 10 seconds, in 10 to
  under 60 seconds, in 60 seconds or more, and the mean answer time;
* emergency (IMMEDIATE) attendance against 15 minutes urban / 20 minutes rural (the board's targets);
* crime outcomes ("resolution"): crimes recorded and those with a charge or summons-type outcome
  (the board's prosecution-possible outcome types, on the board's outcome-rate basis).

Rules: a month is shown only when the board has published it (``board_pack_versions``; a pack for
month M publishes calls and incidents as of M and crimes as of M minus the catalogue lag), and at
most the last 24 such months. A month whose board figure was revised after its first publication
carries a note. Counts from 1 to ``min_count - 1`` are shown as "fewer than N" with secondary
suppression (:mod:`demandhub.board.maths.suppression`); rates and means are shown only when
everything they are made from is shown and they rest on at least ``min_count`` records. Nothing
is per incident, per call or per crime, and no id or personal value is read.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from demandhub.board.catalogue.measures import Catalogue
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.suppression import Grid, Key, make_grid, suppress
from schemas.definitions import Definitions
from sinks.clickhouse import public_sql
from sinks.clickhouse.client import Warehouse

MONTHS_SHOWN = 24
UNKNOWN_AREA = "Area not known"
FORCE_ROW = "Whole force"
SECTIONS: tuple[str, ...] = ("answer_times_999", "emergency_attendance", "crime_outcomes")
BOARD_MEASURE = {
    "answer_times_999": "calls_999_answered_within_10s",
    "emergency_attendance": "immediate_within_target_rate",
    "crime_outcomes": "outcome_rate_all",
}
SECTION_TITLES = {
    "answer_times_999": "999 calls: how quickly they were answered",
    "emergency_attendance": "Emergency attendance against the target time",
    "crime_outcomes": "Crime outcomes (resolution)",
}


def band_edges_999(defs: Definitions) -> tuple[int, int]:
    """The two 999 band edges the public answer-time table uses (a single edge: an empty middle band)."""
    edges = tuple(defs.calls.band_edges_seconds.get("999", (10, 60))) or (10, 60)
    return (int(edges[0]), int(edges[1] if len(edges) > 1 else edges[0]))


def _day(ym: YearMonth) -> date:
    return date(ym.year, ym.month, 1)


def _ym(d: date) -> YearMonth:
    return YearMonth(d.year, d.month)


@dataclass(frozen=True)
class Section:
    """One published table: areas x columns of counts, optional per-area rate or mean."""

    key: str
    columns: tuple[str, ...]
    row_totals: bool
    areas: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    derived: str
    derived_parts: dict[str, tuple[float, int]]  # area or FORCE_ROW -> (numerator, records)


_CLOCK_WORDS = {
    "created": "when the incident is created",
    "graded_at_arrival_grade": "when the incident was given the grade it had when the officer arrived",
    "contact_offered": "when the call or contact that raised the incident reached us (when the "
    "incident was created if no call or contact raised it)",
}


def _definitions_text(defs: Definitions, catalogue: Catalogue) -> dict[str, str]:
    t = defs.incidents.target_minutes
    b1, b2 = band_edges_999(defs)
    lag = catalogue.by_id()[BOARD_MEASURE["crime_outcomes"]].spec.as_of_lag_months
    pp = ", ".join(str(x) for x in defs.crimes.prosecution_possible_types)
    basis = defs.crimes.outcome_rate_basis
    rate = (
        "the share of the month's recorded crimes that have such an outcome now"
        if basis == "cohort"
        else "such outcomes given in the month, divided by the crimes recorded in the month (an "
        "outcome can be given months after the crime was recorded, so this is not a share of the "
        "month's crimes)"
    )
    return {
        "answer_times_999": (
            "999 calls answered by our call handlers in the month, by how long the caller waited: "
            f"under {b1} seconds, {b1} to under {b2} seconds, {b2} seconds or more, and the average "
            "(mean) wait. The wait starts when the call is {defs.calls.clock_start_999.replace('_', ' ')} "
            "(the same clock as the board's 999 answer measure) and ends when a call handler answers. "
            "A call counts in the month it reached the 999 queue, by the district of the caller "
            "when known."
        ),
        "emergency_attendance": (
            "Emergency incidents (graded IMMEDIATE when an officer arrived) created in the month "
            f"and attended, by whether the first officer arrived within {t.get('IMMEDIATE_urban')} "
            f"minutes in urban areas or {t.get('IMMEDIATE_rural')} minutes in rural areas. The clock "
            f"starts {_CLOCK_WORDS[defs.incidents.response_clock]}. Duplicates"
            f"{', cancelled and officer-initiated' if defs.incidents.exclude_self_initiated else ' and cancelled'} "
            "incidents are left out, as on the board. Incidents still waiting for an officer are "
            "not in these figures."
        ),
        "crime_outcomes": (
            "Crimes recorded in the month (after removing cancelled and transferred crimes), and "
            f"crimes with an outcome where a prosecution or out-of-court disposal was possible "
            f"(Home Office outcome types {pp}: for example charge or summons, caution, community "
            f"resolution). The resolution rate is {rate}. Crime figures are published {lag} "
            "month later than calls, because crimes take longer to settle."
        ),
        "suppression": "",
        "restated": (
            "A note means the figure changed after it was first published, because late records "
            "arrived or records were corrected. The figures shown are the latest."
        ),
    }


def published_months(
    wh: Warehouse, force_id: str, catalogue: Catalogue
) -> tuple[dict[str, list[YearMonth]], datetime | None]:
    """Per section, the 24 months up to the latest as-of month the board has published (oldest
    first), and the time of the latest publication."""
    rows = public_sql.published_pack_months(wh, force_id)
    if not rows:
        return {s: [] for s in SECTIONS}, None
    packs = sorted(_ym(m) for m, _ in rows)
    latest = max(at for _, at in rows)
    by_id = catalogue.by_id()
    out: dict[str, list[YearMonth]] = {}
    for section in SECTIONS:
        lag = by_id[BOARD_MEASURE[section]].spec.as_of_lag_months
        last = packs[-1] - lag
        out[section] = [last - i for i in range(MONTHS_SHOWN - 1, -1, -1)]
    return out, latest


def restatements(wh: Warehouse, force_id: str) -> dict[tuple[str, YearMonth], str]:
    """(section, month) -> note, where the board's figure changed after it was first published."""
    ids = {v: k for k, v in BOARD_MEASURE.items()}
    rows = public_sql.current_history(wh, force_id, sorted(ids))
    first: dict[tuple[str, YearMonth], tuple[Any, Any]] = {}
    notes: dict[tuple[str, YearMonth], str] = {}
    for measure_id, as_of, _version, at, value in rows:
        key = (ids[str(measure_id)], _ym(as_of))
        if key not in first:
            first[key] = (value, at)
            continue
        if value != first[key][0]:
            notes[key] = (
                f"Revised since first published on {first[key][1]:%d %B %Y}: late or corrected "
                f"records changed this month's figures (latest revision {at:%d %B %Y})."
            )
    return notes


def _area(name: str) -> str:
    return name or UNKNOWN_AREA


def _section_rows(
    rows: list[dict[str, Any]], month: YearMonth, columns: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...], dict[str, dict[str, Any]]]:
    mine = {_area(r["area"]): r for r in rows if _ym(r["month"]) == month}
    areas = tuple(sorted(a for a in mine if a != UNKNOWN_AREA)) + (
        (UNKNOWN_AREA,) if UNKNOWN_AREA in mine else ()
    )
    counts = tuple(tuple(int(mine[a][c]) for c in columns) for a in areas)
    return areas, counts, mine


def answer_time_sections(
    wh: Warehouse, force_id: str, defs: Definitions, months: list[YearMonth]
) -> dict[YearMonth, Section]:
    """The 999 answer-time table of each month in ``months`` under ``defs`` (bands at
    :func:`band_edges_999`, waits on the ``calls.clock_start_999`` clock, months in ``timezone``)."""
    out: dict[YearMonth, Section] = {}
    if not months:
        return out
    b1, b2 = band_edges_999(defs)
    calls = public_sql.answer_time_rows(wh, force_id, defs, _day(min(months)), _day(max(months)), b1, b2)
    cols = ("under_10s", "from_10s_to_under_60s", "s60_and_over")
    for month in months:
        areas, counts, mine = _section_rows(calls, month, cols)
        if not areas:
            continue
        parts = {a: (float(mine[a]["wait_sum"]), sum(c)) for a, c in zip(areas, counts, strict=True)}
        parts[FORCE_ROW] = (sum(p[0] for p in parts.values()), sum(sum(c) for c in counts))
        out[month] = Section("answer_times_999", cols, True, areas, counts, "mean_answer_seconds", parts)
    return out


def read_sections(
    wh: Warehouse, force_id: str, defs: Definitions, months: dict[str, list[YearMonth]]
) -> dict[str, dict[YearMonth, Section]]:
    """Every published month's tables (see the module docstring)."""
    out: dict[str, dict[YearMonth, Section]] = {s: {} for s in SECTIONS}
    every = [m for ms in months.values() for m in ms]
    if not every:
        return out
    attend = public_sql.attendance_rows(wh, force_id, defs, _day(min(every)), _day(max(every)))
    out["answer_times_999"] = answer_time_sections(wh, force_id, defs, months["answer_times_999"])
    for month in months["emergency_attendance"]:
        cols = ("urban_within", "urban_over", "rural_within", "rural_over")
        areas, counts, _ = _section_rows(attend, month, cols)
        if not areas:
            continue
        parts = {a: (float(c[0] + c[2]), sum(c)) for a, c in zip(areas, counts, strict=True)}
        parts[FORCE_ROW] = (sum(p[0] for p in parts.values()), sum(sum(c) for c in counts))
        out["emergency_attendance"][month] = Section(
            "emergency_attendance", cols, True, areas, counts, "within_target_percent", parts
        )
    out["crime_outcomes"] = crime_outcome_sections(wh, force_id, defs, months["crime_outcomes"])
    return out


def crime_outcome_sections(
    wh: Warehouse, force_id: str, defs: Definitions, months: list[YearMonth]
) -> dict[YearMonth, Section]:
    """The crime outcomes table of each month in ``months``, under ``defs`` (period month by
    ``crimes.period_basis``, resolved = ``crimes.prosecution_possible_types``, the rate by
    ``crimes.outcome_rate_basis``, months in ``timezone``: sinks/clickhouse/crimes_sql.py)."""
    out: dict[YearMonth, Section] = {}
    if not months:
        return out
    recorded, resolved = public_sql.crime_outcome_rows(
        wh, force_id, defs, _day(min(months)), _day(max(months))
    )
    cohort = defs.crimes.outcome_rate_basis == "cohort"
    for month in months:
        if cohort:
            rows = [{**r, "not_resolved": r["recorded"] - r["resolved_cohort"]} for r in recorded]
            areas, counts, _ = _section_rows(
                [{**r, "resolved": r["resolved_cohort"]} for r in rows], month, ("resolved", "not_resolved")
            )
            row_totals = True
        else:
            merged: dict[tuple[Any, str], dict[str, Any]] = {}
            for r in recorded:
                merged[(r["month"], r["area"])] = {
                    "month": r["month"],
                    "area": r["area"],
                    "recorded": r["recorded"],
                    "resolved": 0,
                }
            for r in resolved:
                item = merged.setdefault(
                    (r["month"], r["area"]),
                    {"month": r["month"], "area": r["area"], "recorded": 0, "resolved": 0},
                )
                item["resolved"] = r["resolved"]
            areas, counts, _ = _section_rows(list(merged.values()), month, ("recorded", "resolved"))
            row_totals = False
        if not areas:
            continue
        cols = ("resolved", "not_resolved") if cohort else ("recorded", "resolved")
        res_i = cols.index("resolved")

        def denom(c: tuple[int, ...]) -> int:
            return sum(c) if cohort else c[0]

        parts = {a: (float(c[res_i]), denom(c)) for a, c in zip(areas, counts, strict=True)}
        parts[FORCE_ROW] = (sum(p[0] for p in parts.values()), sum(p[1] for p in parts.values()))
        out[month] = Section(
            "crime_outcomes", cols, row_totals, areas, counts, "resolution_rate_percent", parts
        )
    return out


def _fewer(min_count: int) -> str:
    return f"fewer than {min_count}"


def section_json(section: Section, min_count: int) -> dict[str, Any]:
    """The table of one section with suppression applied: rows per area plus the force row."""
    if not section.areas:
        return {"columns": [*section.columns, "total", section.derived], "rows": []}
    grid: Grid = make_grid(section.counts, section.row_totals, col_totals=True)
    hidden = suppress(grid, min_count)
    published = grid.published()

    def cell(key: Key) -> dict[str, Any]:
        if key not in published:
            return {"value": None, "shown": "not applicable", "suppressed": False}
        if key in hidden:
            return {
                "value": None,
                "shown": _fewer(min_count)
                if 0 < published[key] < min_count
                else "not shown (to protect a small number)",
                "suppressed": True,
            }
        return {"value": published[key], "shown": f"{published[key]:,}", "suppressed": False}

    def derived(name: str, keys: list[Key]) -> dict[str, Any]:
        num, records = section.derived_parts[name]
        if records < min_count or any(k in hidden for k in keys) or records == 0:
            return {
                "value": None,
                "shown": "not shown" if records else "no records",
                "suppressed": bool(records),
            }
        if section.derived == "mean_answer_seconds":
            value = round(num / records, 1)
            return {"value": value, "shown": f"{value:.1f} seconds", "suppressed": False}
        value = round(100.0 * num / records, 1)
        return {"value": value, "shown": f"{value:.1f}%", "suppressed": False}

    rows_out = []
    n_cols = len(section.columns)
    for r, area in enumerate(section.areas):
        keys: list[Key] = [("cell", r, c) for c in range(n_cols)]
        total_key: Key = ("row_total", r, 0)
        rows_out.append(
            {
                "area": area,
                **{col: cell(("cell", r, c)) for c, col in enumerate(section.columns)},
                "total": cell(total_key),
                section.derived: derived(area, keys + ([total_key] if section.row_totals else [])),
            }
        )
    force_keys: list[Key] = [("col_total", 0, c) for c in range(n_cols)]
    rows_out.append(
        {
            "area": FORCE_ROW,
            **{col: cell(("col_total", 0, c)) for c, col in enumerate(section.columns)},
            "total": cell(("grand", 0, 0)),
            section.derived: derived(FORCE_ROW, force_keys),
        }
    )
    return {"columns": [*section.columns, "total", section.derived], "rows": rows_out}


COLUMN_LABELS = {
    "under_10s": "Answered in under 10 seconds",
    "from_10s_to_under_60s": "Answered in 10 to under 60 seconds",
    "s60_and_over": "Answered in 60 seconds or more",
    "mean_answer_seconds": "Average (mean) answer time",
    "urban_within": "Urban: within 15 minutes",
    "urban_over": "Urban: over 15 minutes",
    "rural_within": "Rural: within 20 minutes",
    "rural_over": "Rural: over 20 minutes",
    "within_target_percent": "Attended within target",
    "recorded": "Crimes recorded",
    "resolved": "Crimes with a charge or other resolution outcome",
    "not_resolved": "Crimes without such an outcome (yet)",
    "resolution_rate_percent": "Resolution rate",
    "total": "Total",
}


def _labels(defs: Definitions) -> dict[str, str]:
    t = defs.incidents.target_minutes
    out = dict(COLUMN_LABELS)
    b1, b2 = band_edges_999(defs)
    out["under_10s"] = f"Answered in under {b1} seconds"
    out["from_10s_to_under_60s"] = f"Answered in {b1} to under {b2} seconds"
    out["s60_and_over"] = f"Answered in {b2} seconds or more"
    out["urban_within"] = f"Urban: within {t.get('IMMEDIATE_urban')} minutes"
    out["urban_over"] = f"Urban: over {t.get('IMMEDIATE_urban')} minutes"
    out["rural_within"] = f"Rural: within {t.get('IMMEDIATE_rural')} minutes"
    out["rural_over"] = f"Rural: over {t.get('IMMEDIATE_rural')} minutes"
    return out


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Public force dashboard: one month",
    "description": "Published one month in arrears, after the force's performance board has published "
    "the month. Counts from 1 to min_count - 1 are not shown (value null, suppressed true, shown "
    "'fewer than N'); some other counts are hidden too so that a hidden count cannot be worked out "
    "from the totals. No figure is about one person, call, incident or crime.",
    "type": "object",
    "required": ["force", "month", "last_updated", "min_count", "definitions", "sections"],
    "properties": {
        "force": {"type": "string", "description": "Force"},
        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "description": "Calendar month"},
        "last_updated": {"type": "string", "format": "date-time", "description": "Latest board publication"},
        "min_count": {"type": "integer", "description": "Smallest count shown (default 5)"},
        "definitions": {"type": "object", "additionalProperties": {"type": "string"}},
        "sections": {
            "type": "object",
            "description": "answer_times_999, emergency_attendance, crime_outcomes; a section is absent "
            "when its month is not published yet (crime outcomes are a month later).",
            "additionalProperties": {
                "type": "object",
                "required": ["columns", "rows", "note"],
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "note": {"type": ["string", "null"], "description": "Restatement note, if revised"},
                    "rows": {
                        "type": "array",
                        "description": "One row per area (district), then 'Whole force'",
                        "items": {
                            "type": "object",
                            "properties": {"area": {"type": "string"}},
                            "additionalProperties": {
                                "type": "object",
                                "required": ["value", "shown", "suppressed"],
                                "properties": {
                                    "value": {"type": ["number", "null"]},
                                    "shown": {"type": "string"},
                                    "suppressed": {"type": "boolean"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "csv_columns": {
        "month": "Calendar month, YYYY-MM",
        "section": "answer_times_999, emergency_attendance or crime_outcomes",
        "area": "District, or 'Whole force'",
        "measure": "Column name as in the JSON (e.g. under_10s, resolution_rate_percent)",
        "value": "The number; empty when not shown",
        "shown": "What the page shows, e.g. 'fewer than 5'",
        "suppressed": "true when the value is hidden to protect small numbers",
        "note": "Restatement note for the section's month, if any",
    },
}


def month_json(
    force_id: str,
    month: YearMonth,
    sections: dict[str, dict[YearMonth, Section]],
    notes: dict[tuple[str, YearMonth], str],
    definitions: dict[str, str],
    last_updated: datetime,
    min_count: int,
) -> dict[str, Any]:
    return {
        "force": force_id,
        "month": str(month),
        "last_updated": last_updated.isoformat(),
        "min_count": min_count,
        "definitions": definitions,
        "sections": {
            key: {**section_json(by_month[month], min_count), "note": notes.get((key, month))}
            for key, by_month in sections.items()
            if month in by_month
        },
    }


def month_csv(data: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(SCHEMA["csv_columns"]))
    for key, section in data["sections"].items():
        for row in section["rows"]:
            for col in section["columns"]:
                c = row[col]
                writer.writerow(
                    [
                        data["month"],
                        key,
                        row["area"],
                        col,
                        "" if c["value"] is None else c["value"],
                        c["shown"],
                        str(c["suppressed"]).lower(),
                        section["note"] or "",
                    ]
                )
    return buf.getvalue()


CSS = """body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1b1b;background:#fff;
margin:0 auto;max-width:72rem;padding:1rem;line-height:1.5}
a{color:#1d4f91}a:focus,a:hover{outline:3px solid #b35900;outline-offset:2px}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #595959;padding:.25rem .5rem;text-align:right}
th[scope=row],thead th{text-align:left;background:#f2f2f2}
.note{background:#fff4d6;border-left:4px solid #8a5a00;padding:.5rem}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
svg text{fill:#1b1b1b;font-size:12px}
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _chart(title: str, points: list[tuple[str, float | None]], unit: str, table_id: str) -> str:
    """An SVG bar chart; the same numbers are in the table ``table_id`` below it."""
    width, height, pad = 720, 200, 30
    values = [v for _, v in points if v is not None]
    top = max(values) if values else 1.0
    top = top or 1.0
    bar = (width - 2 * pad) / max(1, len(points))
    parts = [
        f'<svg role="img" aria-labelledby="{table_id}-t" width="{width}" height="{height + 40}" '
        f'viewBox="0 0 {width} {height + 40}"><title id="{table_id}-t">{_esc(title)} (the table below '
        "holds the same figures)</title>"
    ]
    for i, (label, v) in enumerate(points):
        x = pad + i * bar
        if v is not None:
            h = (height - pad) * v / top
            parts.append(
                f'<rect x="{x + 2:.1f}" y="{height - h:.1f}" width="{bar - 4:.1f}" height="{h:.1f}" fill="#1d4f91"/>'
            )
        if i % 3 == 0:
            parts.append(f'<text x="{x:.1f}" y="{height + 16}">{_esc(label)}</text>')
    parts.append("</svg>")
    rows = "".join(
        f'<tr><th scope="row">{_esc(label)}</th><td>{"not shown" if v is None else f"{v:.1f}{unit}"}</td></tr>'
        for label, v in points
    )
    parts.append(
        f'<table id="{table_id}"><caption>{_esc(title)}: figures behind the chart</caption>'
        f'<thead><tr><th scope="col">Month</th><th scope="col">Whole force</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    return "".join(parts)


def _table_html(key: str, section: dict[str, Any], labels: dict[str, str], month: str) -> str:
    if not section["rows"]:
        return "<p>No records this month.</p>"
    head = "".join(f'<th scope="col">{_esc(labels.get(c, c))}</th>' for c in section["columns"])
    body = []
    for row in section["rows"]:
        cells = "".join(f"<td>{_esc(row[c]['shown'])}</td>" for c in section["columns"])
        body.append(f'<tr><th scope="row">{_esc(row["area"])}</th>{cells}</tr>')
    return (
        f"<table><caption>{_esc(SECTION_TITLES[key])}, {_esc(month)}, by area</caption>"
        f'<thead><tr><th scope="col">Area</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def page_html(
    force_id: str,
    months: list[dict[str, Any]],
    labels: dict[str, str],
    definitions: dict[str, str],
    last_updated: datetime | None,
    min_count: int,
) -> str:
    """The public page: latest month's tables per area, 24-month charts (with tables) and links."""
    out = [
        '<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(force_id)}: police performance published monthly</title>"
        '<link rel="stylesheet" href="public.css"></head><body>'
        '<a class="skip" href="#main">Skip to the figures</a>'
        f"<header><h1>{_esc(force_id)}: how we answer 999 calls, attend emergencies and resolve crimes</h1>"
        f"<p>Last updated: {_esc(f'{last_updated:%d %B %Y}' if last_updated else 'not yet published')}. "
        "Figures are published monthly, one month in arrears, after the force's performance board "
        'has published them.</p></header><main id="main">'
    ]
    if not months:
        out.append("<p>No month has been published yet.</p>")
    latest_by_section: dict[str, dict[str, Any]] = {}
    for m in months:
        for key in m["sections"]:
            latest_by_section[key] = m
    for key in SECTIONS:
        out.append(f'<section aria-labelledby="h-{key}"><h2 id="h-{key}">{_esc(SECTION_TITLES[key])}</h2>')
        out.append(f"<p>{_esc(definitions[key])}</p>")
        latest = latest_by_section.get(key)
        if latest is None:
            out.append("<p>Not published yet.</p></section>")
            continue
        section = latest["sections"][key]
        if section["note"]:
            out.append(f'<p class="note">{_esc(section["note"])}</p>')
        out.append(f"<h3>{_esc(latest['month'])}</h3>")
        out.append(_table_html(key, section, labels, latest["month"]))
        derived = section["columns"][-1]
        points = []
        for m in months:
            if key in m["sections"] and m["sections"][key]["rows"]:
                points.append((m["month"], m["sections"][key]["rows"][-1][derived]["value"]))
            elif key in m["sections"]:
                points.append((m["month"], None))
        unit = " s" if derived == "mean_answer_seconds" else "%"
        out.append(f"<h3>Last {len(points)} months: {_esc(labels[derived])}, whole force</h3>")
        out.append(_chart(f"{labels[derived]} by month, whole force", points, unit, f"chart-{key}"))
        noted = [m for m in months if key in m["sections"] and m["sections"][key]["note"]]
        for m in noted:
            out.append(f'<p class="note">{_esc(m["month"])}: {_esc(m["sections"][key]["note"])}</p>')
        out.append("</section>")
    out.append(
        '<section aria-labelledby="h-about"><h2 id="h-about">About these figures</h2>'
        f"<p>{_esc(definitions['suppression'])}</p><p>{_esc(definitions['restated'])}</p>"
        '<p>Machine-readable data: <a href="feed/schema.json">the schema</a>, '
        '<a href="feed/index.json">the list of months</a>.</p><ul>'
    )
    for m in reversed(months):
        out.append(
            f'<li>{_esc(m["month"])}: <a href="feed/{_esc(m["month"])}.csv">CSV<span class="skip"> for {_esc(m["month"])}</span></a>, '
            f'<a href="feed/{_esc(m["month"])}.json">JSON<span class="skip"> for {_esc(m["month"])}</span></a></li>'
        )
    out.append("</ul></section></main></body></html>\n")
    return "".join(out)


def build_site(
    wh: Warehouse, force_id: str, defs: Definitions, catalogue: Catalogue, min_count: int = 5
) -> dict[str, bytes]:
    """Every file of the public site (module docstring). The figures and their words follow the
    definitions stored with the latest published pack (``defs`` only when none is stored), so the
    site never shows a published month under definitions the board did not publish."""
    from demandhub.board.warehouse.store import latest_definitions

    defs = latest_definitions(wh, force_id) or defs
    months_by_section, last_updated = published_months(wh, force_id, catalogue)
    sections = read_sections(wh, force_id, defs, months_by_section)
    notes = restatements(wh, force_id)
    definitions = _definitions_text(defs, catalogue)
    definitions["suppression"] = (
        f'To protect privacy, counts from 1 to {min_count - 1} are shown as "{_fewer(min_count)}", '
        "and a few other counts are not shown so that a hidden count cannot be worked out from the "
        "totals. Rates and averages are shown only when they rest on at least "
        f"{min_count} records and all their parts are shown."
    )
    all_months = sorted({m for by_month in sections.values() for m in by_month})[-MONTHS_SHOWN:]
    labels = _labels(defs)
    files: dict[str, bytes] = {}
    month_docs = []
    for month in all_months:
        doc = month_json(
            force_id, month, sections, notes, definitions, last_updated or datetime.min, min_count
        )
        month_docs.append(doc)
        files[f"feed/{month}.json"] = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode()
        files[f"feed/{month}.csv"] = month_csv(doc).encode()
    files["feed/index.json"] = (
        json.dumps(
            {
                "force": force_id,
                "last_updated": None if last_updated is None else last_updated.isoformat(),
                "months": [str(m) for m in all_months],
                "schema": "schema.json",
            },
            indent=1,
        )
        + "\n"
    ).encode()
    files["feed/schema.json"] = (json.dumps(SCHEMA, indent=1) + "\n").encode()
    files["public.css"] = CSS.encode()
    files["index.html"] = page_html(
        force_id, month_docs, labels, definitions, last_updated, min_count
    ).encode()
    return files


def write_site(files: dict[str, bytes], out: str) -> int:
    """Write the site's files under ``out`` (created if missing); the number of bytes written."""
    from pathlib import Path

    root = Path(out)
    total = 0
    for name, body in sorted(files.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        total += len(body)
    return total


def run_public(args: Any, settings: Any, wh: Warehouse | None = None, hub: Any = None) -> int:
    """``demandhub public build --out DIR``: write the public site as static files."""
    import sys

    from demandhub.board.catalogue.measures import load_catalogue

    if hub is not None:
        size = write_site(_files_from_hub(hub), args.out)
        print(
            f"wrote the public site ({size:,} bytes) under {args.out} from the running hub", file=sys.stderr
        )
        return 0
    own = wh is None
    if wh is None:
        from demandhub.runtime import open_warehouse

        wh = open_warehouse(settings, apply_migrations=settings.resolved_dsn.startswith("chdb:"))
    try:
        files = build_site(
            wh, settings.force_id, settings.definitions, load_catalogue(), settings.public_min_count
        )
    finally:
        if own:
            wh.close()
    size = write_site(files, args.out)
    print(f"wrote {len(files)} files ({size:,} bytes) under {args.out}", file=sys.stderr)
    return 0


def _files_from_hub(hub: Any) -> dict[str, bytes]:
    """The site's files as a running hub serves them under /public/."""
    index, _ = hub.get("/public/feed/index.json")
    months = json.loads(index)["months"]
    names = ["index.html", "public.css", "feed/index.json", "feed/schema.json"]
    names += [f"feed/{m}.{ext}" for m in months for ext in ("json", "csv")]
    return {name: hub.get(f"/public/{name}")[0] for name in names}
