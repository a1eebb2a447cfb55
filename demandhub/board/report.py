"""Build the board pack from the warehouse: source -> pure pack -> the JSON every renderer reads.

The JSON is the pure pack's :meth:`~demandhub.board.maths.pack.BoardPack.as_json_dict` with, after
``month``, ``extract_time`` and ``source_watermarks`` (entity watermarks, the ledger's
``source_watermarks`` rows and each measure's last complete month), and a ``definitions`` block that
holds every setting used, each with its version: ``board_rules`` (labels, periods, narrative),
``metrics`` (the event definitions: id, version, hash, the settings each measure depends on and the
full set), ``pack`` (completeness and history settings), ``catalogue`` and ``msf`` (peer groups), and
``config_hash`` over all of them. ``definitions_in_words`` follows: one entry per measure in
dashboard order (``measure``, ``name``, ``definition``), each the catalogue's ``definition`` filled from
the ``metrics`` settings that block records (:func:`definitions_in_words`). ``msf`` lists the peers behind each MSF figure and
``publication`` names the published version (null until published). Same warehouse, settings and
``extract_time`` give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import Catalogue
from demandhub.board.catalogue.msf import MsfConfig
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.pack import BoardPack, build_pack
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.spc import ControlChart
from demandhub.board.warehouse.ahead import ReadsAhead
from demandhub.board.warehouse.source import (
    BoardSource,
    LedgerMarks,
    entity_watermarks,
    last_complete_month,
    read_board_source,
    specs_as_of,
)
from demandhub.board.warehouse.store import latest_published, published_definitions, published_sources
from demandhub.queries.crimes import measure_discontinuities
from schemas.canonical import json_hash
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse


@dataclass(frozen=True)
class TrendChart:
    """A measure's monthly values for the chart window and its control chart (``spc``, None when
    the months before the as-of month hold too few values; :mod:`demandhub.board.maths.spc`).
    ``mean``/``lower``/``upper`` are the chart's centre and limits at the as-of month."""

    measure_id: str
    name: str
    unit: str
    theme: str
    as_of: YearMonth
    months: tuple[YearMonth, ...]
    values: tuple[float | None, ...]
    mean: float | None
    lower: float | None
    upper: float | None
    spc: ControlChart | None = None

    @property
    def has_data(self) -> bool:
        return any(v is not None for v in self.values)


@dataclass(frozen=True)
class BoardReport:
    """The pack's JSON and the chart data (renderers read only these), and the force's display name."""

    data: dict[str, Any]
    trends: tuple[TrendChart, ...]
    force_name: str | None = None
    """The force's display name for titles and running headers (not part of the JSON)."""

    @property
    def display_name(self) -> str:
        return self.force_name or str(self.data["force"])

    def with_publication(self, publication: dict[str, Any]) -> BoardReport:
        return replace(self, data={**self.data, "publication": publication})

    def json_text(self) -> str:
        """Deterministic JSON (insertion order kept, no NaN)."""
        return json.dumps(self.data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


@dataclass(frozen=True)
class BoardConfig:
    """Everything besides the warehouse that decides a pack's figures."""

    catalogue: Catalogue
    definitions: Definitions
    rules: BoardRules
    pack: PackSettings
    msf: MsfConfig
    configured: Definitions | None = None
    """The configured definitions when ``definitions`` overrides some for one run (None: the same)."""


def auto_month(wh: Warehouse, config: BoardConfig, force_id: str) -> YearMonth | None:
    """The last complete pack month: the latest month whose every event-derived row (at its
    as-of lag) is complete. None when no event-derived measure has a complete month."""
    marks = entity_watermarks(wh, force_id)
    candidates = []
    for m in config.catalogue.measures:
        if m.source != "events":
            continue
        last = last_complete_month(m, marks, config.pack, config.definitions.timezone)
        if last is not None:
            candidates.append(last + m.spec.as_of_lag_months)
    return min(candidates) if candidates else None


def extra_definitions(config: BoardConfig) -> dict[str, Any]:
    """The definitions block besides ``board_rules`` (module docstring)."""
    defs = config.definitions
    measures = {}
    for m in config.catalogue.measures:
        measures[m.id] = {
            **m.as_dict(),
            "definition_id": defs.definition_id if m.source == "events" else None,
            "definition_version": defs.version if m.source == "events" else None,
            "settings": m.definition_values(defs),
        }
    configured = config.configured or defs
    return {
        "metrics": {
            "definition_id": defs.definition_id,
            "version": defs.version,
            "config_hash": defs.config_hash(),
            "settings": defs.as_dict(),
            "configured_hash": configured.config_hash(),
            "overridden": overridden(configured, defs),
        },
        "measures": measures,
        "pack": {
            **config.pack.as_dict(),
            "config_hash": config.pack.config_hash(),
            "completeness_rule": config.pack.completeness_rule(),
        },
        "catalogue": config.catalogue.as_dict(),
        "msf": config.msf.as_dict(),
    }


def leaf_value(definitions: Definitions, path: str) -> Any:
    """The value of one definition path (:meth:`Definitions.leaves`) as plain data."""
    node: Any = definitions.as_dict()
    for key in path.split("."):
        node = node[key]
    return node


def overridden(configured: Definitions, applied: Definitions) -> dict[str, dict[str, Any]]:
    """path -> {"configured", "applied"} for every definition whose applied value differs from the
    configured one (empty when the configured definitions were applied)."""
    out: dict[str, dict[str, Any]] = {}
    for path in Definitions.leaves():
        was, now = leaf_value(configured, path), leaf_value(applied, path)
        if was != now:
            out[path] = {"configured": was, "applied": now}
    return out


def definitions_in_words(catalogue: Catalogue, settings: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each measure's definition in words, in dashboard order, filled from ``settings`` (the
    definitions applied to the pack, as plain data). KeyError when a placeholder names no setting."""
    by_id = catalogue.by_id()
    return [
        {"measure": spec.id, "name": spec.name, "definition": by_id[spec.id].definition_text(settings)}
        for spec in catalogue.specs()
    ]


def _trends(pack: BoardPack, chart_months: int) -> tuple[TrendChart, ...]:
    """The pack's own trend charts (one control chart per measure, computed once by the pack:
    the chart drawn and the briefing's summary read the same object). ValueError when the pack
    computed none for a measure, or over another number of months than ``chart_months``."""
    out = []
    for row in pack.rows:
        m = row.measure
        chart = pack.chart_of(m.id)
        if chart is None or len(chart.months) != chart_months:
            raise ValueError(f"the pack's trend chart for measure {m.id} is not of {chart_months} months")
        spc = chart.spc
        out.append(
            TrendChart(
                m.id,
                m.name,
                m.unit,
                m.theme,
                row.as_of,
                chart.months,
                chart.values,
                None if spc is None else spc.centre[-1],
                None if spc is None else spc.lower[-1],
                None if spc is None else spc.upper[-1],
                spc,
            )
        )
    return tuple(out)


def assemble_json(pack: BoardPack, source: BoardSource, extract_time: datetime) -> dict[str, Any]:
    """The pack JSON with the warehouse metadata (module docstring)."""
    base = pack.as_json_dict()
    definitions = dict(base["definitions"])
    definitions["config_hash"] = json_hash(definitions, allow_nan=False)
    out: dict[str, Any] = {
        "force": base["force"],
        "month": base["month"],
        "extract_time": extract_time.astimezone(UTC).isoformat(),
        "source_watermarks": source.metadata(),
        "definitions": definitions,
    }
    for key, value in base.items():
        if key not in out:
            out[key] = value
    out["msf"] = {k: v.as_dict() for k, v in source.msf.items() if v.value is not None}
    for entry in out.get("measures", []):
        # The MSF cell carries its comparison and the peer data's own period (as-of month).
        figure = source.msf.get(entry["id"])
        if figure is not None and figure.value is not None:
            entry["cells"]["msf"] = figure.as_dict()
            entry["headers"]["msf"] = figure.header()
    out["publication"] = None
    return out


def published_since(config: BoardConfig, month: YearMonth) -> YearMonth:
    """The first as-of month whose published figures the pack of ``month`` compares with (its
    revisions)."""
    max_lag = max(m.spec.as_of_lag_months for m in config.catalogue.measures)
    return month - max_lag - config.pack.revision_lookback_months


def start_published_ahead(ahead: ReadsAhead, config: BoardConfig, force_id: str, month: YearMonth) -> None:
    """Start the read of the published figures :func:`build_report` compares with on ``ahead``'s
    first lane, after crimes' counted cells (:mod:`demandhub.board.warehouse.ahead`: the second
    lane's reads took longer)."""
    since = published_since(config, month)
    ahead.start(
        0, ("published", force_id, since, month), lambda h: latest_published(h, force_id, since, month)
    )


def build_report(
    wh: Warehouse,
    config: BoardConfig,
    force_id: str,
    month: YearMonth,
    extract_time: datetime | None = None,
    marks: Mapping[str, datetime] | None = None,
    ledger: LedgerMarks | None = None,
    ahead: ReadsAhead | None = None,
) -> BoardReport:
    """Read the warehouse and compute the pack for ``force_id`` and ``month`` (``marks``: the
    force's entity watermarks, ``ledger`` the ledger's marks of every force, when the caller has
    read them already; ``ahead`` the reads started ahead, :func:`start_reads_ahead`)."""
    source = read_board_source(
        wh,
        config.catalogue,
        force_id,
        month,
        config.definitions,
        config.pack,
        config.msf,
        rules=config.rules,
        marks=marks,
        ledger=ledger,
        ahead=ahead,
    )
    since = published_since(config, month)
    started = ahead.take(("published", force_id, since, month)) if ahead is not None else None
    published = started.result() if started is not None else latest_published(wh, force_id, since, month)
    pack = build_pack(
        force_id,
        month,
        specs_as_of(config.catalogue, month, source.imported_as_of),
        source.series,
        config.rules,
        source.msf_values(),
        source.channel_series or None,
        source.district_series,
        source.group_district_series,
        published,
        extra_definitions=extra_definitions(config),
        discontinuities=measure_discontinuities([m.id for m in config.catalogue.measures]),
        chart_months=config.pack.chart_months,
    )
    report = report_from(pack, source, config, extract_time or datetime.now(UTC))
    if report.data.get("revisions"):
        note_revised_definitions(wh, force_id, report.data)
    return report


def note_revised_definitions(wh: Warehouse, force_id: str, data: dict[str, Any]) -> None:
    """Give each revision the hash of the definitions its published figure was computed under (as
    stored with that version, ``published_definitions``); where they are not the definitions this
    pack applied, the note says the restatement comes (at least in part) from the definitions."""
    applied = data["definitions"]["metrics"]["config_hash"]
    sources = published_sources(wh, force_id)
    hashes = published_definitions(wh, force_id)
    for revision in data["revisions"]:
        source = sources.get((revision["measure"], revision["as_of"], revision["column"]))
        published = hashes.get(source) if source is not None else None
        revision["published_definitions"] = published or None
        if published and published != applied:
            revision["note"] = (
                f"{revision['note']}; published under definitions {published}, now {applied}: "
                "the definitions changed since"
            )


def report_from(
    pack: BoardPack, source: BoardSource, config: BoardConfig, extract_time: datetime
) -> BoardReport:
    """The report of a computed pack and the source it was computed from."""
    data = assemble_json(pack, source, extract_time)
    words = definitions_in_words(config.catalogue, data["definitions"]["metrics"]["settings"])
    ordered: dict[str, Any] = {}
    for key, value in data.items():
        ordered[key] = value
        if key == "definitions":
            ordered["definitions_in_words"] = words
    return BoardReport(ordered, _trends(pack, config.pack.chart_months))


def config_hash_of(report: BoardReport) -> str:
    return str(report.data["definitions"]["config_hash"])


def comparison(base: BoardReport, alternative: BoardReport) -> dict[str, Any]:
    """The ``comparison`` section of a pack computed under two sets of definitions: both sets (id,
    version, hash and the paths where the alternative differs from the pack's) and, for each
    measure whose figures differ, every dashboard cell under both (``differs`` names the columns
    whose figures or labels differ). MSF is imported, so it is the same under both and left out."""
    from demandhub.board.maths.dashboard import COLUMNS

    def block(report: BoardReport) -> dict[str, Any]:
        metrics = report.data["definitions"]["metrics"]
        return {k: metrics[k] for k in ("definition_id", "version", "config_hash")}

    base_settings = base.data["definitions"]["metrics"]["settings"]
    alt_settings = alternative.data["definitions"]["metrics"]["settings"]
    changed = overridden(Definitions.model_validate(base_settings), Definitions.model_validate(alt_settings))
    others = {e["id"]: e for e in alternative.data["measures"]}
    columns = [c for c in COLUMNS if c != "msf"]
    measures = []
    for entry in base.data["measures"]:
        other = others.get(entry["id"])
        if other is None:
            continue
        differs = [c for c in columns if entry[c] != other[c]]
        if not differs:
            continue
        measures.append(
            {
                "id": entry["id"],
                "name": entry["name"],
                "unit": entry["unit"],
                "decimals": entry.get("decimals", 0),
                "polarity": entry["polarity"],
                "as_of": entry["as_of"],
                "headers": {c: entry["headers"].get(c) for c in columns},
                "differs": differs,
                "cells": {c: {"configured": entry[c], "alternative": other[c]} for c in columns},
            }
        )
    return {
        "configured": block(base),
        "alternative": {
            **block(alternative),
            "differs_from_configured": {
                path: {"configured": v["configured"], "alternative": v["applied"]}
                for path, v in changed.items()
            },
        },
        "measures": measures,
    }


def with_comparison(base: BoardReport, alternative: BoardReport) -> BoardReport:
    """``base`` with the ``comparison`` section (after ``definitions_in_words``)."""
    section = comparison(base, alternative)
    ordered: dict[str, Any] = {}
    for key, value in base.data.items():
        ordered[key] = value
        if key == "definitions_in_words":
            ordered["comparison"] = section
    if "comparison" not in ordered:
        ordered["comparison"] = section
    return replace(base, data=ordered)
