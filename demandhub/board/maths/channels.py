"""The channel table (DOMAIN 5.4): contacts by channel for a span, a year earlier and last year.

Columns are the contact channels given (999, 101, online reports, web chat in that order when
present), their generated total, then the channels outside the total (social media). The total is
"Total contacts" as DOMAIN 4.1 defines it (999 + 101 + online reports + web chat), the same figure as
the dashboard row ``contacts_total``: social media threads are shown beside it, never added to it,
so the board prints one total of contacts. Rows: the span ``first..last`` with the % change against
the comparison span in brackets (default the same span a year earlier), the comparison span, and the
calendar year before ``last``'s year. % changes are computed from unrounded counts and printed as
whole percents. A channel with a null month in a span is null there (with
``require_complete_periods``), and so is the total if the channel is in it; the total is never typed,
always summed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.format import fmt_count, fmt_pct_change, span_phrase
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.rules import BoardRules


@dataclass(frozen=True)
class Channel:
    """One channel of the board's channel table: its code, its name, the volume measure it is read
    from and whether Total contacts adds it."""

    code: str
    name: str
    measure: str
    in_total: bool = True


CHANNELS: tuple[Channel, ...] = (
    Channel("999", "999", "contacts_999"),
    Channel("101", "101", "contacts_101"),
    Channel("online", "Online reports", "contacts_online"),
    Channel("webchat", "Web chat", "contacts_webchat"),
    Channel("social", "Social media", "social_threads", in_total=False),
)
"""The board's channels in table order, written once; the lists below are derived from it."""
TOTAL = "total"
CHANNEL_ORDER: tuple[str, ...] = tuple(c.code for c in CHANNELS)
CHANNEL_NAMES: dict[str, str] = {**{c.code: c.name for c in CHANNELS}, TOTAL: "Total contacts"}
CHANNEL_MEASURES: dict[str, str] = {c.code: c.measure for c in CHANNELS}
"""Channel -> the volume measure its series is read from."""
OUTSIDE_TOTAL: frozenset[str] = frozenset(c.code for c in CHANNELS if not c.in_total)
"""Channels shown after the total and not added to it: Total contacts is 999 + 101 + online reports +
web chat (DOMAIN 4.1, the dashboard row ``contacts_total``)."""

ChannelSeries = Mapping[str, Mapping[YearMonth, Cell | None]]


def pct_change(new: float | None, old: float | None) -> float | None:
    """100 * (new - old) / old from unrounded counts; None when either is null or old is 0."""
    if new is None or old is None or old == 0:
        return None
    return 100.0 * (new - old) / old


@dataclass(frozen=True)
class ChannelRow:
    """Counts per column for one span; ``pct_change`` is against ``compared_with`` (or None)."""

    label: str
    first: YearMonth
    last: YearMonth
    counts: dict[str, float | None]
    pct_change: dict[str, float | None] | None = None
    compared_with: str | None = None

    def as_dict(self) -> dict[str, Any]:
        changes = self.pct_change
        return {
            "label": self.label,
            "from": str(self.first),
            "to": str(self.last),
            "counts": dict(self.counts),
            "counts_text": {k: fmt_count(v) for k, v in self.counts.items()},
            "pct_change": None if changes is None else dict(changes),
            "pct_change_text": None
            if changes is None
            else {k: fmt_pct_change(v) for k, v in changes.items()},
            "compared_with": self.compared_with,
        }


@dataclass(frozen=True)
class ChannelTable:
    """The generated channel table with its caption (which states the comparison period)."""

    columns: tuple[str, ...]
    column_names: dict[str, str]
    rows: tuple[ChannelRow, ...]
    caption: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "column_names": dict(self.column_names),
            "caption": self.caption,
            "rows": [row.as_dict() for row in self.rows],
        }


def _ordered_channels(series: ChannelSeries) -> tuple[str, ...]:
    known = [c for c in CHANNEL_ORDER if c in series]
    return (*known, *(c for c in series if c not in CHANNEL_ORDER))


def _in_total(channels: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c for c in channels if c not in OUTSIDE_TOTAL)


def _span_count(
    series: Mapping[YearMonth, Cell | None], months: tuple[YearMonth, ...], rules: BoardRules
) -> float | None:
    cells = [series.get(m) for m in months]
    present = [c.num for c in cells if c is not None]
    if not present or (rules.require_complete_periods and len(present) < len(cells)):
        return None
    return float(sum(present))


def _span_counts(
    series: ChannelSeries,
    channels: tuple[str, ...],
    first: YearMonth,
    last: YearMonth,
    rules: BoardRules,
) -> dict[str, float | None]:
    months = month_range(first, last)
    counts = {c: _span_count(series[c], months, rules) for c in channels}
    summed = [counts[c] for c in _in_total(channels)]
    present = [v for v in summed if v is not None]
    counts[TOTAL] = float(sum(present)) if present and len(present) == len(summed) else None
    return counts


def channel_table(
    series_by_channel: ChannelSeries, first: YearMonth, last: YearMonth, rules: BoardRules
) -> ChannelTable:
    """Build the channel table for ``first..last`` (see the module docstring)."""
    if last < first:
        raise ValueError("last is before first")
    channels = _ordered_channels(series_by_channel)
    if not channels:
        raise ValueError("no channels given")
    offset = rules.channel_comparison_offset_months
    prev_first, prev_last = first - offset, last - offset
    year = last.year - 1
    current = _span_counts(series_by_channel, channels, first, last, rules)
    previous = _span_counts(series_by_channel, channels, prev_first, prev_last, rules)
    calendar = _span_counts(series_by_channel, channels, YearMonth(year, 1), YearMonth(year, 12), rules)
    compared = span_phrase(prev_first, prev_last)
    changes = {k: pct_change(current[k], previous[k]) for k in current}
    rows = (
        ChannelRow(span_phrase(first, last), first, last, current, changes, compared),
        ChannelRow(compared, prev_first, prev_last, previous),
        ChannelRow(str(year), YearMonth(year, 1), YearMonth(year, 12), calendar),
    )
    inside = _in_total(channels)
    outside = tuple(c for c in channels if c in OUTSIDE_TOTAL)
    columns = (*inside, TOTAL, *outside)
    caption = (
        f"Contacts by channel, {span_phrase(first, last)}. Bracketed % changes compare with "
        f"{compared} (whole percents from unrounded counts). The last row is calendar year {year}."
    )
    if outside:
        names_outside = " and ".join(CHANNEL_NAMES.get(c, c) for c in outside)
        caption += (
            " Total contacts is 999, 101, online reports and web chat (the dashboard's Total contacts); "
            f"{names_outside} is shown after it and not added to it."
        )
    names = {c: CHANNEL_NAMES.get(c, c) for c in columns}
    return ChannelTable(columns, names, rows, caption)
