"""The published store: every figure of every published pack, append-only.

* :func:`publish` writes a pack's figures to ``board_published`` and the whole pack to
  ``board_pack_versions`` as the next ``pack_version`` of its force and month. A published version is
  never changed: re-publishing a month writes version n+1. Publishing figures identical to the
  month's latest version (same figures, same configuration hash) writes nothing and returns that
  version, so a retried run is harmless.
* :func:`latest_published` returns, for a force, the latest published figure of every measure,
  as-of month and column, in the ``published`` form of
  :func:`demandhub.board.maths.pack.find_revisions`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from demandhub.board.maths.dashboard import COLUMNS, LABEL_COLUMNS
from demandhub.board.maths.months import YearMonth
from schemas.canonical import json_hash
from schemas.definitions import Definitions
from sinks.clickhouse import board_sql
from sinks.clickhouse.client import Warehouse

FIGURE_COLUMNS = board_sql.FIGURE_COLUMNS
VERSION_COLUMNS = board_sql.VERSION_COLUMNS


@dataclass(frozen=True)
class Publication:
    """A published version: new when this call wrote it, else the unchanged latest one."""

    force_id: str
    month: YearMonth
    pack_version: int
    published_at: datetime
    new: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "pack_version": self.pack_version,
            "published_at": self.published_at.isoformat(),
            "new": self.new,
        }


def _ym_date(ym: YearMonth) -> date:
    return date(ym.year, ym.month, 1)


def figures(pack_json: Mapping[str, Any]) -> list[tuple[str, str, str, float | None, str | None]]:
    """(measure_id, as_of, column, value, label) of every dashboard cell of a pack's JSON."""
    out: list[tuple[str, str, str, float | None, str | None]] = []
    for entry in pack_json["measures"]:
        for column in COLUMNS:
            raw = entry[column]
            if column in LABEL_COLUMNS:
                out.append((entry["id"], entry["as_of"], column, None, raw["label"]))
            else:
                out.append((entry["id"], entry["as_of"], column, raw, None))
    return out


def figures_hash(pack_json: Mapping[str, Any], config_hash: str) -> str:
    # Stored with every published pack and compared across releases: the form it was first stored in.
    return json_hash([config_hash, figures(pack_json)], compact=False, allow_nan=False)


def latest_version(wh: Warehouse, force_id: str, month: YearMonth) -> tuple[int, datetime, str] | None:
    """(pack_version, published_at, figures_hash) of the month's latest version, or None."""
    row = board_sql.latest_version(wh, force_id, _ym_date(month))
    if row is None:
        return None
    version, at, digest = row
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    return int(version), at, str(digest)


def publish(
    wh: Warehouse,
    pack_json: Mapping[str, Any],
    config_hash: str,
    now: datetime | None = None,
) -> Publication:
    """Store ``pack_json``'s figures as the next version (module docstring)."""
    force_id, month = pack_json["force"], YearMonth.from_str(pack_json["month"])
    digest = figures_hash(pack_json, config_hash)
    with wh.exclusive():
        latest = latest_version(wh, force_id, month)
        if latest is not None and latest[2] == digest:
            return Publication(force_id, month, latest[0], latest[1], new=False)
        version = 1 if latest is None else latest[0] + 1
        at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        month_day = _ym_date(month)
        rows = [
            [
                force_id,
                month_day,
                _ym_date(YearMonth.from_str(a)),
                mid,
                col,
                value,
                label,
                at,
                version,
                config_hash,
            ]
            for mid, a, col, value, label in figures(pack_json)
        ]
        board_sql.insert_figures(wh, rows)
        body = json.dumps(pack_json, sort_keys=False, allow_nan=False)
        board_sql.insert_version(wh, [force_id, _ym_date(month), version, at, config_hash, digest, body])
    return Publication(force_id, month, version, at, new=True)


def latest_published(
    wh: Warehouse, force_id: str, since: YearMonth, until: YearMonth
) -> dict[str, dict[str, dict[str, Any]]]:
    """measure -> as-of month -> column -> the latest published figure (a number, None or a label)
    for as-of months ``since..until``. MSF is left out (it is imported, not recomputed)."""
    rows = board_sql.latest_figures(wh, force_id, _ym_date(since), _ym_date(until))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for measure_id, as_of, column, value, label in rows:
        figure = label if column in LABEL_COLUMNS else value
        out.setdefault(str(measure_id), {}).setdefault(as_of.strftime("%Y-%m"), {})[str(column)] = figure
    return out


def published_versions(wh: Warehouse, force_id: str) -> list[dict[str, Any]]:
    """Every published version of ``force_id`` (month, version, published_at, config hash)."""
    rows = board_sql.versions(wh, force_id)
    return [
        {"month": m.strftime("%Y-%m"), "pack_version": int(v), "published_at": str(at), "config_hash": h}
        for m, v, at, h in rows
    ]


def stored_definitions(wh: Warehouse, force_id: str, month: YearMonth, version: int) -> Definitions | None:
    """The metric definitions published version ``version`` of ``month`` was computed under, as
    stored with it (the pack JSON's ``definitions.metrics.settings``); None when there is no such
    version or its settings no longer fit the definitions (written by an older release)."""
    body = board_sql.version_pack_json(wh, force_id, _ym_date(month), version)
    if body is None:
        return None
    return definitions_of(json.loads(body))


def definitions_of(pack_json: Mapping[str, Any]) -> Definitions | None:
    """The metric definitions a pack's JSON says it applied, or None when they no longer fit."""
    settings = ((pack_json.get("definitions") or {}).get("metrics") or {}).get("settings")
    if not isinstance(settings, Mapping):
        return None
    try:
        return Definitions.model_validate(settings)
    except ValueError:
        return None


def published_definitions(wh: Warehouse, force_id: str) -> dict[tuple[str, int], str]:
    """(pack month YYYY-MM, version) -> the metric definitions' hash each published version was
    computed under (from its stored pack JSON)."""
    rows = board_sql.version_definition_hashes(wh, force_id)
    return {(m.strftime("%Y-%m"), int(v)): str(h) for m, v, h in rows}


def published_sources(wh: Warehouse, force_id: str) -> dict[tuple[str, str, str], tuple[str, int]]:
    """(measure, as-of YYYY-MM, column) -> (pack month YYYY-MM, version) of the latest published figure."""
    rows = board_sql.figure_sources(wh, force_id)
    return {
        (str(mid), a.strftime("%Y-%m"), str(col)): (pm.strftime("%Y-%m"), int(v))
        for mid, a, col, pm, v in rows
    }


def latest_definitions(wh: Warehouse, force_id: str) -> Definitions | None:
    """The metric definitions of the force's latest published pack (by publication time), as
    stored with it; None when nothing is published (or its settings no longer fit)."""
    body = board_sql.latest_pack_json(wh, force_id)
    return definitions_of(json.loads(body)) if body is not None else None
