"""The warehouse-backed source of the board pack: every series the pure pack needs, complete-only.

:func:`read_board_source` reads, for one force and pack month:

* each catalogue measure's monthly cells over ``history_months`` before the pack month: event
  measures from the domain reader their ``module`` names
  (:data:`~demandhub.board.warehouse.readers.MONTHLY_CELLS`), imported measures from
  ``imported_monthly`` (rows of the measure's import sources; several sources in one month pool;
  for a level measure their levels add up to ONE month's level, still a single observation);
* completeness (see :mod:`demandhub.board.catalogue.config`): months after the last complete month of a
  measure are dropped, so they are null in the pack, never a partial figure;
* the channel series (999, 101, online, web chat, social media) from the volume measures;
* district and district x offence-group crime series for narrative templates 13 and 14 (from the
  crimes domain's ``district_group_series``); within complete months a district or group with no
  crimes is a true zero;
* MSF: the peer forces' figures (see :func:`msf_values`).

The entity watermarks (each entity bounded by the watermark of every source system feeding it:
:func:`watermarks_by_source`) and the ledger's ``source_watermarks`` rows are kept for the pack's
metadata.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import PER_PERSON, Catalogue, CatalogueMeasure, ReaderName
from demandhub.board.catalogue.msf import MsfConfig
from demandhub.board.catalogue.population import Populations, load_populations
from demandhub.board.maths.cells import Cell, pool
from demandhub.board.maths.channels import CHANNEL_MEASURES
from demandhub.board.maths.dashboard import MeasureSpec, span_header
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.peers import PeerComparison, compare_with_peers, per_thousand
from demandhub.board.maths.rules import BoardRules
from demandhub.board.warehouse.ahead import ReadsAhead
from demandhub.board.warehouse.readers import (
    AHEAD_PARTS,
    MONTHLY_CELLS,
    NEEDS_WATERMARKS,
    Cells,
    DomainCells,
    MonthlyCells,
    merge_parts,
)
from demandhub.queries.crimes import district_group_series
from schemas.definitions import Definitions
from sinks.clickhouse import board_sql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.times import as_utc

Series = dict[YearMonth, Cell]
DISTRICT_MEASURE = "crime_all"

HISTORIC_SOURCES: frozenset[str] = frozenset({"backfill"})
"""Sources that replay history rather than feed the present: they bound an entity's completeness
only when no live source feeds it."""


def _first_day(ym: YearMonth) -> date:
    return date(ym.year, ym.month, 1)


@dataclass(frozen=True)
class LedgerMarks:
    """What one scan of the event ledger says of every force (:func:`read_ledger_marks`): rows of
    (force, event type, source, latest event time, latest ingest time, events). A pack reads it
    once for its watermarks, its ``source_watermarks`` metadata and the forces with events."""

    rows: tuple[tuple[str, str, str, datetime, datetime, int], ...]

    def forces(self) -> list[str]:
        """Every force with events, in order."""
        return sorted({row[0] for row in self.rows})

    def entity_rows(self, force_id: str) -> list[tuple[str, str, datetime]]:
        """(entity, source, latest event time) of ``force_id``: the entity is the event type's first
        dotted part, as :func:`sinks.clickhouse.board_sql.entity_source_watermarks` takes it."""
        latest: dict[tuple[str, str], datetime] = {}
        for force, kind, source, mark, _, _ in self.rows:
            if force == force_id:
                key = (kind.split(".")[0], source)
                latest[key] = max(mark, latest.get(key, mark))
        return [(entity, source, mark) for (entity, source), mark in sorted(latest.items())]

    def entity_watermarks(self, force_id: str) -> dict[str, datetime]:
        """:func:`entity_watermarks` of ``force_id``."""
        return watermarks_by_source(self.entity_rows(force_id))

    def source_watermarks(self, force_id: str) -> list[dict[str, Any]]:
        """:func:`source_watermarks` of ``force_id`` (the ledger's ``source_watermarks`` view rows)."""
        by_source: dict[str, tuple[datetime, datetime, int]] = {}
        for force, _, source, mark, ingest, events in self.rows:
            if force == force_id:
                seen = by_source.get(source)
                if seen is not None:
                    mark, ingest, events = max(mark, seen[0]), max(ingest, seen[1]), events + seen[2]
                by_source[source] = (mark, ingest, events)
        return [_source_mark(source, *by_source[source]) for source in sorted(by_source)]


def read_ledger_marks(wh: Warehouse) -> LedgerMarks:
    """One scan of the event ledger for every force's watermarks (:class:`LedgerMarks`)."""
    return LedgerMarks(
        tuple(
            (str(force), str(kind), str(source), as_utc(mark), as_utc(ingest), int(events))
            for force, kind, source, mark, ingest, events in board_sql.ledger_marks(wh)
        )
    )


def entity_watermarks(wh: Warehouse, force_id: str, ledger: LedgerMarks | None = None) -> dict[str, datetime]:
    """Each event entity's completeness watermark for ``force_id`` (:func:`watermarks_by_source`),
    from ``ledger`` when the caller has read it already."""
    if ledger is not None:
        return ledger.entity_watermarks(force_id)
    rows = board_sql.entity_source_watermarks(wh, force_id)
    return watermarks_by_source((str(entity), str(source), as_utc(mark)) for entity, source, mark in rows)


def watermarks_by_source(rows: Iterable[tuple[str, str, datetime]]) -> dict[str, datetime]:
    """Completeness is judged per source system, not per entity. ``rows`` are (entity, source,
    latest event time of that entity from that source). A source's watermark is the latest event
    time it has sent for any entity (the ``source_watermarks`` view); an entity is complete only as
    far as the slowest source feeding it, so its watermark is the earliest watermark of its sources.
    A lagging feed is never hidden by another source's newer events of the same entity, and a
    rare event type (an outcome, a regrade) is not taken as lagging while its source is current.
    ``HISTORIC_SOURCES`` (backfill) count only for an entity no live source feeds."""
    by_entity: dict[str, set[str]] = defaultdict(set)
    by_source: dict[str, datetime] = {}
    for entity, source, mark in rows:
        by_entity[entity].add(source)
        by_source[source] = max(mark, by_source.get(source, mark))
    out: dict[str, datetime] = {}
    for entity, sources in by_entity.items():
        live = sources - HISTORIC_SOURCES or sources
        out[entity] = min(by_source[s] for s in live)
    return out


def _source_mark(source: str, mark: datetime, ingest: datetime, events: int) -> dict[str, Any]:
    return {
        "source": source,
        "watermark": mark.isoformat(),
        "last_ingest": ingest.isoformat(),
        "events": events,
    }


def source_watermarks(
    wh: Warehouse, force_id: str, ledger: LedgerMarks | None = None
) -> list[dict[str, Any]]:
    """The ledger's ``source_watermarks`` rows for ``force_id`` (JSON-ready), from ``ledger`` when
    the caller has read it already."""
    if ledger is not None:
        return ledger.source_watermarks(force_id)
    rows = board_sql.source_watermarks(wh, force_id)
    return [
        _source_mark(str(source), as_utc(mark), as_utc(ingest), int(events))
        for source, mark, ingest, events in rows
    ]


def last_complete_month(
    measure: CatalogueMeasure,
    watermarks: Mapping[str, datetime],
    settings: PackSettings,
    timezone: str,
) -> YearMonth | None:
    """The latest month of an event-derived measure that is complete (module docstring of
    :mod:`demandhub.board.catalogue.config`); None when none of its entities has events."""
    marks = [watermarks[e] for e in measure.entities if e in watermarks]
    if not marks:
        return None
    settle = timedelta(hours=settings.settle_hours.get(measure.settling or "", 0.0))
    cutoff = (min(marks) - settle).astimezone(ZoneInfo(timezone))
    return YearMonth(cutoff.year, cutoff.month) - 1


def _cells_key(
    module: str, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> tuple[object, ...]:
    """The key of a domain reader's cells read ahead: the same reader, force, months and the very
    same definitions object."""
    return ("cells", module, force_id, first, last, id(definitions))


def event_modules(catalogue: Catalogue) -> list[ReaderName]:
    """The domain readers of the catalogue's event-derived measures, in the order they are read."""
    return sorted({m.module for m in catalogue.measures if m.source == "events" and m.module})


def start_reads_ahead(
    wh: Warehouse,
    catalogue: Catalogue,
    force_id: str,
    month: YearMonth,
    definitions: Definitions,
    settings: PackSettings,
    lanes: int | None = None,
) -> ReadsAhead:
    """Start the reads of the pack of ``force_id`` and ``month`` that depend on nothing read
    before them, on two lanes (:mod:`demandhub.board.warehouse.ahead`): the domain readers that
    need no watermark, the first part of a reader read in parts (crimes' counted cells,
    :data:`~demandhub.board.warehouse.readers.AHEAD_PARTS`) on the first lane and everything else,
    the force's imported rows first (the first read after the ledger), on the second. The caller
    scans the ledger and reads incidents meanwhile; :func:`read_board_source` given the result (as
    ``ahead``) collects them. Close it when the pack is read."""
    ahead = ReadsAhead(wh) if lanes is None else ReadsAhead(wh, lanes)
    first = month - settings.history_months
    ahead.start(
        1,
        ("imported", force_id, first, month, id(catalogue)),
        lambda h: imported_series(h, catalogue, [force_id], first, month).get(force_id, {}),
    )
    for module in event_modules(catalogue):
        if module in NEEDS_WATERMARKS:
            continue
        key = _cells_key(module, force_id, first, month, definitions)
        parts = AHEAD_PARTS.get(module)
        if parts is None:
            ahead.start(
                1, key, partial(_cells_of, MONTHLY_CELLS[module], force_id, first, month, definitions)
            )
            continue
        for n, part in enumerate(parts):
            ahead.start(
                0 if n == 0 else 1,
                (*key, n),
                partial(_part_of, part, force_id, first, month, definitions),
            )
    return ahead


def _cells_of(
    reader: MonthlyCells,
    force_id: str,
    first: YearMonth,
    last: YearMonth,
    definitions: Definitions,
    handle: Warehouse,
) -> Cells:
    return reader(handle, force_id, first, last, definitions, {})


def _part_of(
    part: DomainCells,
    force_id: str,
    first: YearMonth,
    last: YearMonth,
    definitions: Definitions,
    handle: Warehouse,
) -> Cells:
    return part(handle, force_id, first, last, definitions)


def _take_cells(ahead: ReadsAhead, module: ReaderName, key: tuple[object, ...]) -> Callable[[], Cells] | None:
    """The cells of ``module`` read ahead under ``key`` (in parts or whole), as a call that waits
    for them and raises the first failed part's error; None when they were not started."""
    parts = AHEAD_PARTS.get(module)
    if parts is None:
        future = ahead.take(key)
        return None if future is None else future.result
    futures = [ahead.take((*key, n)) for n in range(len(parts))]
    if any(f is None for f in futures):
        return None
    return lambda: merge_parts([f.result() for f in futures if f is not None])


def event_series(
    wh: Warehouse,
    catalogue: Catalogue,
    force_id: str,
    first: YearMonth,
    last: YearMonth,
    definitions: Definitions,
    watermarks: Mapping[str, datetime],
    ahead: ReadsAhead | None = None,
) -> dict[str, dict[YearMonth, Cell]]:
    """Raw monthly cells of every event-derived catalogue measure (incomplete months included).

    Open incidents are judged against their targets at the incident feed's watermark, so the same
    ledger gives the same figures whenever the pack is run. A domain's cells read ahead (``ahead``,
    :func:`start_reads_ahead`) are collected; the others are read here first, while those run. The
    first reader in module order that failed raises, as when they were read one after another."""
    modules = event_modules(catalogue)
    started: dict[str, Callable[[], Cells]] = {}
    if ahead is not None:
        for module in modules:
            key = _cells_key(module, force_id, first, last, definitions)
            if (collect := _take_cells(ahead, module, key)) is not None:
                started[module] = collect
    read_here: dict[str, Cells | Exception] = {}
    for module in modules:
        if module not in started:
            try:
                read_here[module] = MONTHLY_CELLS[module](wh, force_id, first, last, definitions, watermarks)
            except Exception as exc:  # raised below, in module order
                read_here[module] = exc
    out: dict[str, dict[YearMonth, Cell]] = {}
    for module in modules:
        if module in started:
            cells = started[module]()
        else:
            outcome = read_here[module]
            if isinstance(outcome, Exception):
                raise outcome
            cells = outcome
        for measure_id in catalogue.event_ids(module):
            out[measure_id] = dict(cells.get(measure_id, {}))
    return out


def imported_series(
    wh: Warehouse, catalogue: Catalogue, forces: Iterable[str], first: YearMonth, last: YearMonth
) -> dict[str, dict[str, dict[YearMonth, Cell]]]:
    """force -> measure -> month -> cell from ``imported_monthly`` (sources pooled per month).

    Imported measures read only their catalogue ``import_sources``; event-derived measures (peer
    forces' figures) read every source."""
    by_id = catalogue.by_id()
    rows = board_sql.imported_rows(wh, sorted(set(forces)), _first_day(first), _first_day(last))
    grouped: dict[tuple[str, str, YearMonth], list[Cell]] = defaultdict(list)
    for force, measure_id, month, source, numerator, n in rows:
        measure = by_id.get(str(measure_id))
        if measure is None:
            continue
        if measure.source == "imported" and str(source) not in measure.import_sources:
            continue
        unit = measure.spec.unit
        per_person = measure.quantity in PER_PERSON
        den = None if unit in ("count", "level") and not per_person else (None if n is None else float(n))
        if (unit not in ("count", "level") or per_person) and den is None:
            continue
        grouped[(str(force), measure.id, YearMonth(month.year, month.month))].append(
            Cell(float(numerator), den)
        )
    out: dict[str, dict[str, dict[YearMonth, Cell]]] = defaultdict(lambda: defaultdict(dict))
    for (force, measure_id, ym), cells in grouped.items():
        pooled = pool(cells)
        if pooled is not None and by_id[measure_id].spec.unit == "level":
            per_person = by_id[measure_id].quantity in PER_PERSON
            if per_person and not pooled.den:
                continue
            pooled = Cell.level(pooled.num / pooled.den if per_person and pooled.den else pooled.num)
        if pooled is not None:
            out[force][measure_id][ym] = pooled
    return {f: dict(m) for f, m in out.items()}


def latest_available(
    rows: Iterable[tuple[str, str, date]], catalogue: Catalogue, events_too: bool = False
) -> dict[str, YearMonth]:
    """measure id -> the latest month available, from (measure id, source, latest month) rows of
    the measure's import sources (the latest over its sources). With ``events_too`` (peer forces'
    imported figures), event-derived measures count too, from any source."""
    by_id = catalogue.by_id()
    out: dict[str, YearMonth] = {}
    for measure_id, source, last in rows:
        measure = by_id.get(str(measure_id))
        if measure is None:
            continue
        if measure.source != "imported" and not events_too:
            continue
        if measure.source == "imported" and str(source) not in measure.import_sources:
            continue
        ym = YearMonth(last.year, last.month)
        out[measure.id] = max(out.get(measure.id, ym), ym)
    return out


def imported_as_of(
    wh: Warehouse,
    catalogue: Catalogue,
    forces: Iterable[str],
    month: YearMonth,
    events_too: bool = False,
) -> dict[str, YearMonth]:
    """Each imported measure's as-of month in the pack for ``month``, from the import files: the
    latest month (<= ``month``) with a row of the measure's sources whose ``as_of`` is on or before
    the pack month's last day. A measure with no such row is absent (its catalogue lag applies)."""
    last_day = _first_day(month + 1) - timedelta(days=1)
    rows = board_sql.imported_latest_months(wh, sorted(set(forces)), _first_day(month), last_day)
    return latest_available(rows, catalogue, events_too)


def specs_as_of(catalogue: Catalogue, month: YearMonth, as_of: Mapping[str, YearMonth]) -> list[MeasureSpec]:
    """The catalogue's specs (board order) with each imported measure's lag set so that its as-of
    month in the pack for ``month`` is the one its import file gives."""
    out = []
    for spec in catalogue.specs():
        if spec.id in as_of:
            spec = dataclasses.replace(spec, as_of_lag_months=month - as_of[spec.id])
        out.append(spec)
    return out


def _trim(series: Mapping[YearMonth, Cell], last: YearMonth | None) -> Series:
    if last is None:
        return {}
    return {m: c for m, c in series.items() if m <= last}


@dataclass(frozen=True)
class ForceSeries:
    """One force's complete-only series and when each measure is complete to."""

    force_id: str
    series: dict[str, Series]
    complete_through: dict[str, YearMonth | None]
    watermarks: dict[str, datetime]


def force_series(
    wh: Warehouse,
    catalogue: Catalogue,
    force_id: str,
    first: YearMonth,
    last: YearMonth,
    definitions: Definitions,
    settings: PackSettings,
    imported: Mapping[str, Mapping[YearMonth, Cell]],
    use_events: bool = True,
    marks: Mapping[str, datetime] | None = None,
    ahead: ReadsAhead | None = None,
) -> ForceSeries:
    """Series of every catalogue measure for ``force_id``, incomplete months removed.

    With ``use_events`` false (a peer force with no events in the warehouse), event-derived
    measures come from the force's imported rows instead, complete as imported. ``marks`` are the
    force's :func:`entity_watermarks` when the caller has read them already; ``ahead`` the reads
    started ahead (:func:`event_series`)."""
    watermarks = (dict(marks) if marks is not None else entity_watermarks(wh, force_id)) if use_events else {}
    raw = (
        event_series(wh, catalogue, force_id, first, last, definitions, watermarks, ahead)
        if use_events
        else {}
    )
    series: dict[str, Series] = {}
    through: dict[str, YearMonth | None] = {}
    for measure in catalogue.measures:
        if measure.source == "events" and use_events:
            through[measure.id] = last_complete_month(measure, watermarks, settings, definitions.timezone)
            series[measure.id] = _trim(raw.get(measure.id, {}), through[measure.id])
        else:
            data = dict(imported.get(measure.id, {}))
            through[measure.id] = max(data) if data else None
            series[measure.id] = data
    return ForceSeries(force_id, series, through, watermarks)


def district_series(
    wh: Warehouse,
    force_id: str,
    first: YearMonth,
    complete: Series,
    definitions: Definitions,
    ahead: ReadsAhead | None = None,
) -> tuple[dict[str, Series], dict[str, dict[str, Series]]]:
    """(district -> series, district -> offence group -> series) of counted crimes, over the months
    where ``complete`` (the force's complete crime_all series) has a cell; zeros filled there.
    The counts come from a read started ahead over months covering these (``ahead``,
    :func:`start_district_read`) when there is one."""
    started = ahead.take(("districts", force_id, id(definitions))) if ahead is not None else None
    if not complete:
        return {}, {}
    months = sorted(complete)
    lo, hi = max(first, months[0]), months[-1]
    raw = None
    if started is not None:
        read_lo, read_hi, wide = started.result()
        if read_lo <= lo and hi <= read_hi:
            raw = _months_within(wide, lo, hi)
    if raw is None:
        raw = district_group_series(wh, force_id, lo, hi, definitions)
    districts: dict[str, Series] = {}
    groups: dict[str, dict[str, Series]] = {}
    # Cells are immutable: every month with the same number of crimes shares one cell.
    made: dict[float, Cell] = {}

    def cell(n: float) -> Cell:
        found = made.get(n)
        if found is None:
            found = made[n] = Cell(float(n))
        return found

    for district, by_group in sorted(raw.items()):
        if not district:
            continue
        counts = [(g, [s.get(m, 0) for m in months]) for g, s in sorted(by_group.items())]
        groups[district] = {g: dict(zip(months, map(cell, ns), strict=True)) for g, ns in counts}
        # the sum of whole numbers of crimes as a float, as the groups' float cells add up
        totals = [float(sum(column)) for column in zip(*(ns for _, ns in counts), strict=True)]
        districts[district] = dict(zip(months, map(cell, totals), strict=True))
    return districts, groups


def _months_within(
    counts: Mapping[str, Mapping[str, Mapping[YearMonth, int]]], lo: YearMonth, hi: YearMonth
) -> dict[str, dict[str, dict[YearMonth, int]]]:
    """``counts`` (district -> group -> month -> crimes) within ``lo..hi``, as
    :func:`~demandhub.queries.crimes.district_group_series` reads them over those months alone: a
    group or district with no month left is absent."""
    out: dict[str, dict[str, dict[YearMonth, int]]] = {}
    for district, by_group in counts.items():
        kept = {}
        for group, series in by_group.items():
            within = {m: n for m, n in series.items() if lo <= m <= hi}
            if within:
                kept[group] = within
        if kept:
            out[district] = kept
    return out


def start_district_read(
    ahead: ReadsAhead,
    catalogue: Catalogue,
    force_id: str,
    first: YearMonth,
    month: YearMonth,
    definitions: Definitions,
    settings: PackSettings,
    marks: Mapping[str, datetime],
) -> None:
    """Start, on ``ahead``'s second lane, the district and offence-group counts of every month
    :func:`district_series` can ask for: from ``first`` to the last complete month of crime_all
    (by the force's watermarks ``marks``), at most ``month``."""
    measure = catalogue.by_id().get(DISTRICT_MEASURE)
    if measure is None or measure.source != "events":
        return
    through = last_complete_month(measure, marks, settings, definitions.timezone)
    if through is None or through < first:
        return
    hi = min(through, month)
    ahead.start(
        1,
        ("districts", force_id, id(definitions)),
        lambda h: (first, hi, district_group_series(h, force_id, first, hi, definitions)),
    )


@dataclass(frozen=True)
class MsfFigure:
    """The MSF value of one measure, the peers it pooled, the peer data's as-of month and the
    force's comparison with its peers (:mod:`demandhub.board.maths.peers`). For a count the value
    is the peers' mean rate per 1,000 population and the comparison's ``home`` the force's rate."""

    value: float | None
    peers: tuple[str, ...]
    months: tuple[str, str] | None
    as_of: str | None = None
    basis: str | None = None
    peer_values: dict[str, float] = field(default_factory=dict)
    comparison: PeerComparison | None = None

    def header(self) -> str | None:
        """The peer data's months, e.g. ``"Jan-19"`` or ``"Feb-18 to Jan-19"``."""
        if self.months is None:
            return None
        first, last = (YearMonth.from_str(m) for m in self.months)
        return span_header(month_range(first, last))

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "peers": list(self.peers),
            "from": self.months[0] if self.months else None,
            "to": self.months[1] if self.months else None,
            "as_of": self.as_of,
            "basis": self.basis,
            "peer_values": dict(self.peer_values),
            "comparison": None if self.comparison is None else self.comparison.as_dict(),
        }


RATE_BASIS = "rate per 1,000 population"


def _figure(
    measure: CatalogueMeasure,
    cells: list[Cell],
    force: str,
    as_of: YearMonth,
    populations: Populations | None,
) -> float | None:
    pooled = pool(cells)
    if pooled is None:
        return None
    if measure.spec.unit == "count" and populations is not None:
        population = populations.at(force, as_of)
        return None if population is None else per_thousand(pooled.num, population)
    return pooled.value(measure.spec.unit)


def msf_figure(
    measure: CatalogueMeasure,
    as_of: YearMonth,
    peers: Mapping[str, ForceSeries],
    settings: PackSettings,
    home: tuple[str, Mapping[YearMonth, Cell]] | None = None,
    populations: Populations | None = None,
    rules: BoardRules | None = None,
) -> MsfFigure:
    """Peers' figure for ``measure``: over ``as_of`` (the peer data's as-of month) or the rolling
    12 months to it, and the home force's comparison with its peers.

    Only peers whose period is complete (no null month) take part. Rates and means are pooled over
    the peers' records (Σnum / Σden); a level pools to the mean over peers and months of the
    monthly levels. A count, given ``populations``, is each peer's count over the period per 1,000
    of its population at ``as_of`` (a peer without a population is left out) and the value is the
    peers' mean rate; without populations it is the mean count per peer force. ``home`` (force,
    series) is compared with the peers' figures over the same months by
    :func:`~demandhub.board.maths.peers.compare_with_peers`. Null when no peer has the whole period."""
    months = (as_of,) if settings.msf_period == "current" else tuple(month_range(as_of - 11, as_of))
    used: list[str] = []
    cells: list[Cell] = []
    values: dict[str, float] = {}
    for force, data in sorted(peers.items()):
        series = data.series.get(measure.id, {})
        period = [c for m in months if (c := series.get(m)) is not None]
        if len(period) < len(months):
            continue
        figure = _figure(measure, period, force, as_of, populations)
        if figure is None:
            continue
        used.append(force)
        cells.extend(period)
        values[force] = figure
    pooled = pool(cells)
    if pooled is None or not used:
        return MsfFigure(None, (), None, str(as_of))
    rated = measure.spec.unit == "count" and populations is not None
    value = sum(values.values()) / len(values) if rated else pooled.value(measure.spec.unit)
    if measure.spec.unit == "count" and not rated and value is not None:
        value = value / len(used)
    comparison = None
    if home is not None:
        home_cells = [c for m in months if (c := home[1].get(m)) is not None]
        own = None
        if len(home_cells) == len(months):
            own = _figure(measure, home_cells, home[0], as_of, populations)
        comparison = compare_with_peers(own, values, rules or BoardRules())
    return MsfFigure(
        value,
        tuple(used),
        (str(months[0]), str(months[-1])),
        str(as_of),
        RATE_BASIS if rated else "as measured",
        values,
        comparison,
    )


def present_forces(wh: Warehouse, ledger: LedgerMarks | None = None) -> tuple[list[str], set[str]]:
    """(every force with events or imported rows, the forces with events), the latter from
    ``ledger`` when the caller has read it already."""
    if ledger is None:
        return board_sql.forces_present(wh), set(board_sql.forces_with_events(wh))
    with_events = set(ledger.forces())
    return sorted(with_events | set(board_sql.imported_forces(wh))), with_events


@dataclass(frozen=True)
class BoardSource:
    """Everything the pure pack needs for one force and month, read from the warehouse."""

    force_id: str
    month: YearMonth
    first: YearMonth
    series: dict[str, Series]
    complete_through: dict[str, YearMonth | None]
    channel_series: dict[str, Series]
    district_series: dict[str, dict[str, Series]]
    group_district_series: dict[str, dict[str, dict[str, Series]]]
    msf: dict[str, MsfFigure]
    entity_watermarks: dict[str, datetime]
    source_watermarks: list[dict[str, Any]]
    forces_present: list[str] = field(default_factory=list)
    imported_as_of: dict[str, YearMonth] = field(default_factory=dict)

    def msf_values(self) -> dict[str, float | None]:
        return {k: v.value for k, v in self.msf.items()}

    def metadata(self) -> dict[str, Any]:
        """Watermarks and completeness, JSON-ready."""
        return {
            "entities": {k: v.isoformat() for k, v in sorted(self.entity_watermarks.items())},
            "sources": self.source_watermarks,
            "complete_through": {
                k: None if v is None else str(v) for k, v in sorted(self.complete_through.items())
            },
        }


def channel_series_of(series: Mapping[str, Series]) -> dict[str, Series]:
    """Channel name -> series, for the channels whose measure has any month."""
    return {ch: dict(series.get(mid, {})) for ch, mid in CHANNEL_MEASURES.items() if series.get(mid)}


def _peer_series(
    wh: Warehouse,
    catalogue: Catalogue,
    force_id: str,
    month: YearMonth,
    definitions: Definitions,
    settings: PackSettings,
    msf_config: MsfConfig,
    every: list[str],
    with_events: set[str],
    ledger: LedgerMarks | None = None,
) -> dict[str, ForceSeries]:
    peers = set(msf_config.peers(force_id, month, every)) & set(every)
    if not peers:
        return {}
    max_lag = max(m.spec.as_of_lag_months for m in catalogue.measures)
    first = month - max_lag - 11
    imported = imported_series(wh, catalogue, peers, first, month)
    return {
        p: force_series(
            wh,
            catalogue,
            p,
            first,
            month,
            definitions,
            settings,
            imported.get(p, {}),
            p in with_events,
            ledger.entity_watermarks(p) if ledger is not None and p in with_events else None,
        )
        for p in sorted(peers)
    }


def read_board_source(
    wh: Warehouse,
    catalogue: Catalogue,
    force_id: str,
    month: YearMonth,
    definitions: Definitions,
    settings: PackSettings,
    msf_config: MsfConfig,
    first: YearMonth | None = None,
    rules: BoardRules | None = None,
    populations: Populations | None = None,
    marks: Mapping[str, datetime] | None = None,
    ledger: LedgerMarks | None = None,
    ahead: ReadsAhead | None = None,
) -> BoardSource:
    """Read everything for the pack of ``force_id`` and ``month`` (module docstring); ``marks``
    are the force's :func:`entity_watermarks` when the caller has read them already, ``ledger``
    the ledger's marks of every force (:func:`read_ledger_marks`: then the ledger is not read),
    ``ahead`` the reads started ahead (:func:`start_reads_ahead`), collected here."""
    if marks is None and ledger is not None:
        marks = ledger.entity_watermarks(force_id)
    first = first or month - settings.history_months
    started = ahead.take(("imported", force_id, first, month, id(catalogue))) if ahead is not None else None
    if started is not None:
        imported = started.result()
    else:
        imported = imported_series(wh, catalogue, [force_id], first, month).get(force_id, {})
    if ahead is not None and marks is not None:
        start_district_read(ahead, catalogue, force_id, first, month, definitions, settings, marks)
    home = force_series(
        wh, catalogue, force_id, first, month, definitions, settings, imported, marks=marks, ahead=ahead
    )
    districts, groups = district_series(
        wh, force_id, first, home.series.get(DISTRICT_MEASURE, {}), definitions, ahead
    )
    every, with_events = present_forces(wh, ledger)
    peers = _peer_series(
        wh, catalogue, force_id, month, definitions, settings, msf_config, every, with_events, ledger
    )
    as_of = imported_as_of(wh, catalogue, [force_id], month)
    peer_as_of = imported_as_of(wh, catalogue, peers, month, events_too=True) if peers else {}
    populations = populations or load_populations()
    msf = {}
    for m in catalogue.measures:
        # The peer data's own as-of month (from the peer import file; peer data lags a month),
        # else the row's own as-of month.
        peer_month = peer_as_of.get(m.id, as_of.get(m.id, m.spec.as_of(month)))
        home_series = (force_id, home.series.get(m.id, {}))
        msf[m.id] = msf_figure(m, peer_month, peers, settings, home_series, populations, rules)
    return BoardSource(
        force_id=force_id,
        month=month,
        first=first,
        series=home.series,
        complete_through=home.complete_through,
        channel_series=channel_series_of(home.series),
        district_series={DISTRICT_MEASURE: districts} if districts else {},
        group_district_series={DISTRICT_MEASURE: groups} if groups else {},
        msf=msf,
        entity_watermarks=home.watermarks,
        source_watermarks=source_watermarks(wh, force_id, ledger),
        forces_present=every,
        imported_as_of=as_of,
    )
