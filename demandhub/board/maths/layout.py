"""What every renderer shows, in one place: column titles, printed figures and label colours.

A label is coloured by the measure's polarity, never by its direction alone: Higher is good (green)
for a higher-is-better measure and bad (red) for a lower-is-better one; Comparable, n/a and every
label of a neutral measure are grey. Null figures print "n/a"; a missing MSF prints "-"; an MSF
comparison prints its label with the peer range ("Above MSF average (peers 10.2 to 12.9 per 1,000)"),
coloured like Higher / Lower.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from demandhub.board.maths.dashboard import COLUMNS, LABEL_COLUMNS
from demandhub.board.maths.format import fmt_value

Tone = Literal["good", "bad", "neutral"]

COLUMN_TITLES: dict[str, str] = {
    "current": "Current month",
    "minus_1y": "-1 yr",
    "minus_2y": "-2 yr",
    "minus_3y": "-3 yr",
    "v1y": "Current v 1yr avg",
    "v3y": "Current v 3yr avg",
    "fytd": "FYTD",
    "fytd_minus_1y": "FYTD - 1 yr",
    "rolling_12": "Rolling 12 months",
    "baseline": "Baseline",
    "perf_v_benchmark": "Perf v Benchmark",
    "msf": "MSF",
}
TONE_RGB: dict[Tone, tuple[str, str]] = {
    "good": ("C6EFCE", "006100"),
    "bad": ("FFC7CE", "9C0006"),
    "neutral": ("EDEDED", "595959"),
}
"""Tone -> (fill, font) colours as RRGGBB."""


def label_tone(label: str, polarity: str) -> Tone:
    """The colour of a label for a measure of ``polarity`` (module docstring)."""
    if label not in ("Higher", "Lower") or polarity == "neutral":
        return "neutral"
    good = (label == "Higher") == (polarity == "higher_is_better")
    return "good" if good else "bad"


MSF_TONE_OF: dict[str, str] = {"Above MSF average": "Higher", "Below MSF average": "Lower"}
"""An MSF label's direction, for its colour (:func:`label_tone`)."""


def decimals(entry: Mapping[str, Any]) -> int:
    """The measure's decimal places for counts and levels (0 in packs written before it was kept)."""
    return int(entry.get("decimals") or 0)


def msf_cell(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """The MSF figure's detail (basis, peer period, comparison), or {} when there is none."""
    return (entry.get("cells") or {}).get("msf") or {}


def msf_label(entry: Mapping[str, Any]) -> str | None:
    """ "Above / Below / In line with MSF average", or None when the force was not compared."""
    label = (msf_cell(entry).get("comparison") or {}).get("label")
    return None if label in (None, "n/a") else str(label)


def _msf_number(value: float, entry: Mapping[str, Any]) -> str:
    if msf_cell(entry).get("basis") == "rate per 1,000 population":
        return f"{value:,.1f}"
    return fmt_value(value, entry["unit"], decimals(entry))


def msf_text(entry: Mapping[str, Any]) -> str:
    """The MSF cell: the label with the peer range when the force was compared (a count on its
    rate per 1,000 population), else the peers' figure, or "-" when there is none."""
    raw = entry["msf"]
    if raw is None:
        return "-"
    label = msf_label(entry)
    comparison = msf_cell(entry).get("comparison") or {}
    if label is not None and comparison.get("low") is not None and comparison.get("high") is not None:
        low, high = _msf_number(comparison["low"], entry), _msf_number(comparison["high"], entry)
        per = " per 1,000" if msf_cell(entry).get("basis") == "rate per 1,000 population" else ""
        return f"{label} (peers {low} to {high}{per})"
    per = " per 1,000" if msf_cell(entry).get("basis") == "rate per 1,000 population" else ""
    return f"{_msf_number(raw, entry)}{per}"


def cell_text(entry: Mapping[str, Any], column: str) -> str:
    """The printed form of one dashboard cell."""
    raw = entry[column]
    if column in LABEL_COLUMNS:
        return str(raw["label"])
    if column == "msf":
        return msf_text(entry)
    return fmt_value(raw, entry["unit"], decimals(entry))


def themes(data: Mapping[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(theme, measures) in the pack's order; the theme comes from the definitions block."""
    measures_meta = data["definitions"].get("measures", {})
    current: str | None = None
    bucket: list[dict[str, Any]] = []
    for entry in data["measures"]:
        theme = measures_meta.get(entry["id"], {}).get("theme", "Other")
        if theme != current and bucket:
            yield str(current), bucket
            bucket = []
        current = theme
        bucket.append(entry)
    if bucket:
        yield str(current), bucket


def row_headers(entry: Mapping[str, Any]) -> list[str]:
    """The real-month headers of one measure's 12 columns ("Mar-19", "Apr-18 to Mar-19", ...)."""
    out = []
    for column in COLUMNS:
        header = entry["headers"].get(column)
        out.append("" if header is None else str(header))
    return out


def compact_header(header: str) -> str:
    """``"Apr-18 to Mar-19"`` -> ``"Apr-18-Mar-19"``; a label's ``"Mar-19 v X"`` -> ``"v X"`` (the
    current month heads its own column)."""
    if " v " in header:
        header = "v " + header.split(" v ", 1)[1]
    return header.replace(" to ", "-")


def definitions_lines(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(setting, value) pairs of every definition printed with the pack, dotted names."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            out.append((prefix, node if isinstance(node, str) else _json(node)))

    defs = data["definitions"]
    for key in defs:
        if key != "measures":
            walk(key, defs[key])
    for mid, meta in defs.get("measures", {}).items():
        walk(f"measures.{mid}", {"source": meta["source"], **meta["settings"]})
    return out


def overridden_lines(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(path, configured value, applied value) of every definition the pack overrode for its run."""
    changed = data["definitions"]["metrics"].get("overridden") or {}
    return [(path, _printed(v["configured"]), _printed(v["applied"])) for path, v in changed.items()]


def _printed(value: Any) -> str:
    return value if isinstance(value, str) else _json(value)


def comparison_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The "Definitions compared" table: per measure whose figures differ under the two sets of
    definitions, one row per column that differs (measure, column title, period, the printed
    figure under each set)."""
    section = data.get("comparison")
    if not section:
        return []
    out = []
    for entry in section["measures"]:
        for column in entry["differs"]:
            cells = entry["cells"][column]
            sides = [cell_text({**entry, column: cells[k]}, column) for k in ("configured", "alternative")]
            out.append(
                {
                    "id": entry["id"],
                    "measure": entry["name"],
                    "column": COLUMN_TITLES.get(column, column),
                    "period": str(entry["headers"].get(column) or ""),
                    "configured": sides[0],
                    "alternative": sides[1],
                    "values": (cells["configured"], cells["alternative"]),
                    "unit": entry["unit"],
                    "decimals": decimals(entry),
                    "label": column in LABEL_COLUMNS,
                }
            )
    return out


def channel_rows(table: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and text rows of the channel table: counts with the bracketed % change."""
    cols = table["columns"]
    header = ["Period"] + [table["column_names"][k] for k in cols]
    rows = []
    for row in table["rows"]:
        cells = [row["label"]]
        for key in cols:
            text = row["counts_text"][key]
            if row["pct_change_text"]:
                text += f" ({row['pct_change_text'][key]})"
            cells.append(text)
        rows.append(cells)
    return header, rows


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)
