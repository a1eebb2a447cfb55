"""The monthly board pack: dashboard rows, channel table, narrative and revisions, as one object.

:func:`build_pack` is pure: the caller reads the warehouse and passes the series in. The JSON form
(:meth:`BoardPack.as_json_dict`) is the contract every renderer reads::

    {"force", "month", "definitions", "label_rule",
     "measures": [{"id", "name", "unit", "decimals", "polarity", "as_of", <12 columns>, "headers", "cells",
                   "control_chart"}],
     "channels", "narrative": [{"text", "template", "facts"}],
     "briefing": {"month", "summary": [{"measure", "name", "theme", "column", "label", "tone",
                  "text", "footnote", "facts"}], "footnotes": [{"number", "measure", "column",
                  "text"}], "paragraphs": [{"theme", "text", "sentences"}], "unremarkable":
                  [{"measure", "name"}], "unremarkable_text", "no_data": [{"measure", "name"}]},
     "revisions": [...],
     "footnotes": [{"measure", "starts", "columns", "text"}],
     "fdr": null | {"method", "q", "tests", "withheld", "withheld_labels": [{"measure", "name", "column"}]}}

``fdr`` is null unless ``BoardRules.fdr_q`` is set; then it says how many labels the
false-discovery-rate control considered and which it withheld (:mod:`demandhub.board.maths.fdr`).

``narrative`` is every generated sentence (kept for readers of the flat list); ``briefing`` is the
narrative as the pack prints it: the summary (measures labelled Higher or Lower, worst news first
by polarity, each with a numbered footnote naming its comparison and test), a paragraph per theme,
and the Comparable, unremarkable measures listed by name. A measure with no Higher or Lower label
whose control chart has a rule firing on its as-of month is in the summary too (column
``"control_chart"``, its footnote naming the chart and the rule).

``control_chart`` (null when the months before the as-of month hold too few values) is the trend
chart the pack draws (:mod:`demandhub.board.maths.trends`): {"chart", "name", "months", "from",
"to", "baseline": {"from", "to"}, "sigma_z", "centre", "lower", "upper" (at the as-of month),
"signal" (the as-of month's, or null), "signals": [{"month", "rules": [{"rule", "direction"}]}]}.

Value columns are numbers or null; label columns are {"label", "test", "p_value"}.

Revisions: ``published`` maps measure id -> as-of month ("YYYY-MM") -> column -> the figure
published then (a number or null; for label columns a label string or {"label": ...}). Each
figure is recomputed from the current series with the current rules; one whose printed form differs
(or whose label differs) is listed with old and new values and a note. MSF is imported, not
recomputed, and is not checked. :func:`published_from_pack` turns an earlier pack's JSON into that
mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from demandhub.board.maths.cells import Cell, Unit
from demandhub.board.maths.channels import ChannelTable, channel_table
from demandhub.board.maths.dashboard import (
    COLUMNS,
    LABEL_COLUMNS,
    DashboardRow,
    LabelColumn,
    MeasureSpec,
    PeriodValue,
    compute_row,
)
from demandhub.board.maths.fdr import FdrSummary, control_fdr
from demandhub.board.maths.format import fmt_value
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.narrative import (
    Briefing,
    Sentence,
    build_briefing,
    narrate_districts,
    narrate_measure,
)
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.trends import MeasureChart, measure_chart

SeriesMap = Mapping[YearMonth, Cell | None]
CHART_MONTHS = 36
"""Months in each trend chart unless the caller says otherwise (the pack settings' default)."""
Published = Mapping[str, Mapping[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class Revision:
    """A published figure that differs from its recomputation."""

    measure: str
    as_of: YearMonth
    column: str
    old: Any
    new: Any
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "as_of": str(self.as_of),
            "column": self.column,
            "old": self.old,
            "new": self.new,
            "note": self.note,
        }


@dataclass(frozen=True)
class Discontinuity:
    """A definitional break of a measure: ``starts`` is the first month under the new definition."""

    starts: YearMonth
    note: str


@dataclass(frozen=True)
class Footnote:
    """A measure's columns that compare or pool months on both sides of a definitional break."""

    measure: str
    starts: YearMonth
    columns: tuple[str, ...]
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "starts": str(self.starts),
            "columns": list(self.columns),
            "text": self.text,
        }


def _straddles(months: tuple[YearMonth, ...], starts: YearMonth) -> bool:
    return any(m < starts for m in months) and any(m >= starts for m in months)


def _column_months(row: DashboardRow, column: str) -> tuple[YearMonth, ...]:
    """The months a column rests on: a label's subject and reference; a value column's own months
    with the as-of month it is read against (the current month is read on its own)."""
    if column in LABEL_COLUMNS:
        label: LabelColumn = getattr(row, column)
        return label.subject.months + label.reference.months
    value: PeriodValue = getattr(row, column)
    if column == "current":
        return value.months
    return (*value.months, row.as_of)


def find_footnotes(
    rows: tuple[DashboardRow, ...], discontinuities: Mapping[str, tuple[Discontinuity, ...]]
) -> list[Footnote]:
    """A footnote per measure and break whose columns straddle it (MSF, a peer figure, excluded)."""
    out: list[Footnote] = []
    for row in rows:
        for brk in discontinuities.get(row.measure.id, ()):
            columns = tuple(
                c for c in COLUMNS if c != "msf" and _straddles(_column_months(row, c), brk.starts)
            )
            if not columns:
                continue
            text = (
                f"{row.measure.name}: definitions changed from {brk.starts.label()}. {brk.note} "
                f"Figures before and after are not like for like: {', '.join(columns)} compare "
                f"or pool months on both sides."
            )
            out.append(Footnote(row.measure.id, brk.starts, columns, text))
    return out


def row_json(row: DashboardRow, chart: MeasureChart | None = None) -> dict[str, Any]:
    """One measure's entry in the pack JSON (``control_chart``: the chart's JSON, null when none)."""
    measure = row.measure
    out: dict[str, Any] = {
        "id": measure.id,
        "name": measure.name,
        "unit": measure.unit,
        "decimals": measure.decimals,
        "polarity": measure.polarity,
        "as_of": str(row.as_of),
    }
    cells: dict[str, Any] = {}
    for name in COLUMNS:
        out[name] = column_json(row, name)
        cells[name] = None if name == "msf" else getattr(row, name).cells_dict()
    out["headers"] = row.headers()
    out["cells"] = cells
    out["control_chart"] = None if chart is None else chart.as_dict()
    return out


def column_json(row: DashboardRow, column: str) -> Any:
    """A column's JSON value: a number or null; for label columns {"label", "test", "p_value"}."""
    if column == "msf":
        return row.msf
    if column in LABEL_COLUMNS:
        return getattr(row, column).comparison.as_dict()
    return getattr(row, column).value


@dataclass(frozen=True)
class BoardPack:
    """A computed pack. ``extra_definitions`` are merged into ``definitions`` by the caller."""

    force: str
    month: YearMonth
    rules: BoardRules
    rows: tuple[DashboardRow, ...]
    channels: ChannelTable | None
    narrative: tuple[Sentence, ...]
    revisions: tuple[Revision, ...]
    extra_definitions: Mapping[str, Any] = field(default_factory=dict)
    footnotes: tuple[Footnote, ...] = ()
    briefing: Briefing | None = None
    charts: tuple[MeasureChart, ...] = ()
    fdr: FdrSummary | None = None

    def chart_of(self, measure_id: str) -> MeasureChart | None:
        """The measure's trend chart (None when the pack computed none)."""
        return next((c for c in self.charts if c.measure_id == measure_id), None)

    def definitions(self) -> dict[str, Any]:
        """Every rule used, with its version and hash, plus the caller's definitions."""
        return {"board_rules": self.rules.definitions(), **self.extra_definitions}

    def as_json_dict(self) -> dict[str, Any]:
        """The pack in the JSON shape of the module docstring (JSON-serialisable)."""
        return {
            "force": self.force,
            "month": str(self.month),
            "definitions": self.definitions(),
            "label_rule": self.rules.label_rule_text(),
            "measures": [row_json(row, self.chart_of(row.measure.id)) for row in self.rows],
            "channels": None if self.channels is None else self.channels.as_dict(),
            "narrative": [s.as_dict() for s in self.narrative],
            "briefing": None if self.briefing is None else self.briefing.as_dict(),
            "revisions": [r.as_dict() for r in self.revisions],
            "footnotes": [f.as_dict() for f in self.footnotes],
            "fdr": None if self.fdr is None else self.fdr.as_dict(),
        }


def _published_label(old: Any) -> Any:
    return old.get("label") if isinstance(old, Mapping) else old


def _revision_note(old: Any, new: Any, column: str, unit: Unit, decimals: int = 0) -> str:
    if column in LABEL_COLUMNS:
        return f"label changed from {old} to {new} after figures were restated"
    if old is None:
        return f"previously n/a, now {fmt_value(new, unit, decimals)}: data arrived after publication"
    if new is None:
        return f"previously {fmt_value(old, unit, decimals)}, now n/a: the period is no longer complete"
    return (
        f"restated from {fmt_value(old, unit, decimals)} to {fmt_value(new, unit, decimals)}: late or amended "
        "records since publication"
    )


def _differs(old: Any, new: Any, column: str, unit: Unit, decimals: int = 0) -> bool:
    if column in LABEL_COLUMNS:
        return bool(old != new)
    return fmt_value(old, unit, decimals) != fmt_value(new, unit, decimals)


def find_revisions(
    measures: list[MeasureSpec],
    series: Mapping[str, SeriesMap],
    rules: BoardRules,
    published: Published,
) -> list[Revision]:
    """Published figures whose printed form differs from their recomputation (module docstring).

    Measures not in ``measures`` and unknown columns are ignored."""
    by_id = {m.id: m for m in measures}
    out: list[Revision] = []
    controlled: dict[YearMonth, dict[str, DashboardRow]] = {}
    for measure_id, months in published.items():
        measure = by_id.get(measure_id)
        if measure is None:
            continue
        for month_text, columns in sorted(months.items()):
            as_of = YearMonth.from_str(month_text)
            pack_month = as_of + measure.as_of_lag_months
            if rules.fdr_q is None:
                row = compute_row(measure, series.get(measure_id, {}), pack_month, rules)
            else:
                # Labels under FDR control depend on the whole pack: recompute that pack's rows.
                if pack_month not in controlled:
                    rows = [compute_row(m, series.get(m.id, {}), pack_month, rules) for m in measures]
                    controlled[pack_month] = {r.measure.id: r for r in control_fdr(rows, rules)[0]}
                row = controlled[pack_month][measure_id]
            out.extend(_row_revisions(measure, row, columns))
    return out


def _row_revisions(measure: MeasureSpec, row: DashboardRow, columns: Mapping[str, Any]) -> list[Revision]:
    out: list[Revision] = []
    for column in COLUMNS:
        if column == "msf" or column not in columns:
            continue
        old, new = columns[column], column_json(row, column)
        if column in LABEL_COLUMNS:
            old, new = _published_label(old), new["label"]
        if _differs(old, new, column, measure.unit, measure.decimals):
            note = _revision_note(old, new, column, measure.unit, measure.decimals)
            out.append(Revision(measure.id, row.as_of, column, old, new, note))
    return out


def published_from_pack(pack_json: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """The ``published`` mapping from an earlier pack's JSON."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in pack_json.get("measures", []):
        columns = {c: entry[c] for c in COLUMNS if c in entry and c != "msf"}
        out.setdefault(entry["id"], {})[entry["as_of"]] = columns
    return out


def build_pack(
    force_id: str,
    month: YearMonth,
    measures: list[MeasureSpec],
    series: Mapping[str, SeriesMap],
    rules: BoardRules,
    msf: Mapping[str, float | None] | None,
    channel_series: Mapping[str, SeriesMap] | None,
    district_series: Mapping[str, Mapping[str, SeriesMap]] | None = None,
    group_district_series: Mapping[str, Mapping[str, Mapping[str, SeriesMap]]] | None = None,
    published: Published | None = None,
    *,
    channel_first: YearMonth | None = None,
    extra_definitions: Mapping[str, Any] | None = None,
    discontinuities: Mapping[str, tuple[Discontinuity, ...]] | None = None,
    chart_months: int = CHART_MONTHS,
) -> BoardPack:
    """Compute the pack for ``force_id`` and ``month``.

    ``series`` maps measure id -> month -> cell (a missing measure gives an all-null row).
    ``msf`` maps measure id -> peer figure. ``channel_series`` maps channel -> month -> cell; the
    channel span runs from ``channel_first`` (default January of ``month``'s year) to ``month``.
    ``district_series`` maps measure id -> district -> series; ``group_district_series`` maps
    measure id -> district -> offence group -> series (templates 13 and 14).
    ``discontinuities`` maps measure id -> its definitional breaks; every column that compares or
    pools months on both sides of one is footnoted (``footnotes``).
    ``chart_months``: months in each measure's trend chart (``charts``; the control chart's signal
    at the as-of month puts a measure in the briefing's summary).
    """
    rows: list[DashboardRow] = []
    charts: list[MeasureChart] = []
    narrative: list[Sentence] = []
    by_measure: dict[str, list[Sentence]] = {}
    computed = [
        compute_row(measure, series.get(measure.id, {}), month, rules, (msf or {}).get(measure.id))
        for measure in measures
    ]
    controlled, fdr = control_fdr(computed, rules)
    for measure, row in zip(measures, controlled, strict=True):
        measure_series = series.get(measure.id, {})
        rows.append(row)
        charts.append(measure_chart(measure, measure_series, row.as_of, rules, chart_months))
        own = narrate_measure(measure, measure_series, row, rules)
        districts = (district_series or {}).get(measure.id)
        if districts:
            groups = (group_district_series or {}).get(measure.id)
            own.extend(narrate_districts(measure, districts, groups, row.as_of, rules))
        by_measure[measure.id] = own
        narrative.extend(own)
    channels = None
    if channel_series:
        first = channel_first or YearMonth(month.year, 1)
        channels = channel_table(channel_series, first, month, rules)
    revisions = find_revisions(measures, series, rules, published or {})
    return BoardPack(
        force=force_id,
        month=month,
        rules=rules,
        rows=tuple(rows),
        channels=channels,
        narrative=tuple(narrative),
        revisions=tuple(revisions),
        extra_definitions=dict(extra_definitions or {}),
        footnotes=tuple(find_footnotes(tuple(rows), discontinuities or {})),
        briefing=build_briefing(tuple(rows), by_measure, month, {c.measure_id: c for c in charts}),
        charts=tuple(charts),
        fdr=fdr,
    )
