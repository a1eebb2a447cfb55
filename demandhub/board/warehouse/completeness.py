"""Is a pack month complete, and may it be published? (``demandhub board``)

An event-derived row is complete for the pack month when its own as-of month (the pack month less
the measure's lag) is no later than its last complete month (the completeness rule of
:mod:`demandhub.board.catalogue.config`: the watermark of each of its event feeds past the month's end plus
the settling period). :func:`assess` lists every event measure whose row is not, with the reason:
the watermark of each feed it depends on and the settling period, or "no events" when none of its
feeds has sent anything (a feed the force does not have; not counted as incomplete).

The command warns on standard error naming the incomplete measures and their feeds, writes the
same facts into the pack JSON (``completeness``), and ``--publish`` refuses a month where more than
``Settings.board_publish_max_incomplete_share`` of the event measures with a feed are incomplete
unless ``--allow-incomplete`` is given. A month that has not ended, and a month whose every row is
n/a although nothing is incomplete (before the data starts), are refused outright.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import Catalogue, CatalogueMeasure
from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse.source import last_complete_month


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class IncompleteMeasure:
    """An event measure whose row is not complete for the pack month."""

    measure: str
    name: str
    as_of: YearMonth
    complete_through: YearMonth | None
    feeds: dict[str, datetime | None]
    settle_hours: float
    blocking: tuple[str, ...] = ()
    """The feeds whose watermark holds the row back (not yet past its month's end plus settling)."""

    @property
    def has_events(self) -> bool:
        return any(mark is not None for mark in self.feeds.values())

    def reason(self) -> str:
        """``"crime events to 2019-03-16T00:00:00Z, 240 h settling; complete through 2019-01"``."""
        if not self.has_events:
            return f"no events from {', '.join(self.feeds)}"
        marks = ", ".join(
            f"{feed} events to {_stamp(mark)}"
            for feed, mark in self.feeds.items()
            if mark is not None and feed in self.blocking
        )
        through = "nothing" if self.complete_through is None else str(self.complete_through)
        return f"{marks}, {self.settle_hours:g} h settling; complete through {through}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "name": self.name,
            "as_of": str(self.as_of),
            "complete_through": None if self.complete_through is None else str(self.complete_through),
            "feeds": {k: None if v is None else _stamp(v) for k, v in self.feeds.items()},
            "settle_hours": self.settle_hours,
            "blocking": list(self.blocking),
            "reason": self.reason(),
        }


@dataclass(frozen=True)
class Completeness:
    """The event measures of a pack month and those that are not complete."""

    month: YearMonth
    event_measures: int
    incomplete: tuple[IncompleteMeasure, ...]

    @property
    def lagging(self) -> tuple[IncompleteMeasure, ...]:
        """Incomplete measures whose feeds have events (the ones that will fill in later)."""
        return tuple(m for m in self.incomplete if m.has_events)

    @property
    def without_events(self) -> tuple[IncompleteMeasure, ...]:
        return tuple(m for m in self.incomplete if not m.has_events)

    @property
    def share(self) -> float:
        """Share of the event measures with a feed that are incomplete (0 when there are none)."""
        fed = self.event_measures - len(self.without_events)
        return len(self.lagging) / fed if fed else 0.0

    def sources_text(self, measures: Iterable[IncompleteMeasure]) -> str:
        """The feeds holding the measures back, each with its watermark."""
        feeds: dict[str, datetime | None] = {}
        for m in measures:
            feeds.update({f: mark for f, mark in m.feeds.items() if f in m.blocking})
        return ", ".join(
            f"{feed} (no events)" if mark is None else f"{feed} (events to {_stamp(mark)})"
            for feed, mark in sorted(feeds.items())
        )

    def warning(self) -> str | None:
        """One line naming the incomplete measures and why, or None when every row is complete."""
        if not self.incomplete:
            return None
        parts = []
        if self.lagging:
            names = "; ".join(f"{m.measure} as of {m.as_of} ({m.reason()})" for m in self.lagging)
            parts.append(
                f"{len(self.lagging)} of {self.event_measures} event measures are incomplete and print "
                f"n/a: {names}"
            )
        if self.without_events:
            ids = ", ".join(m.measure for m in self.without_events)
            parts.append(f"no events at all for {ids} ({self.sources_text(self.without_events)})")
        return f"warning: {self.month}: " + "; ".join(parts)

    def refusal(self, max_share: float) -> str | None:
        """The one-line refusal to publish, or None when the share is within ``max_share``."""
        if not self.lagging or self.share <= max_share:
            return None
        return (
            f"not publishing {self.month}: {len(self.lagging)} of "
            f"{self.event_measures - len(self.without_events)} event measures are incomplete "
            f"({self.share:.0%}, more than board_publish_max_incomplete_share {max_share:.0%}); "
            "wait for their sources or pass --allow-incomplete; "  # before the list, which may be cut
            f"sources: {self.sources_text(self.lagging)}"
        )

    def as_dict(self, max_share: float) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "event_measures": self.event_measures,
            "incomplete_share": round(self.share, 4),
            "publish_max_incomplete_share": max_share,
            "incomplete": [m.as_dict() for m in self.incomplete],
            "warning": self.warning(),
        }


def assess(
    catalogue: Catalogue,
    watermarks: Mapping[str, datetime],
    settings: PackSettings,
    timezone: str,
    month: YearMonth,
) -> Completeness:
    """The completeness of every event measure's row in the pack for ``month`` (module docstring)."""
    events = [m for m in catalogue.measures if m.source == "events"]
    out = []
    for m in events:
        as_of = m.spec.as_of(month)
        through = last_complete_month(m, watermarks, settings, timezone)
        if through is None or as_of > through:
            out.append(_incomplete(m, as_of, through, watermarks, settings, timezone))
    return Completeness(month, len(events), tuple(out))


def _incomplete(
    m: CatalogueMeasure,
    as_of: YearMonth,
    through: YearMonth | None,
    watermarks: Mapping[str, datetime],
    settings: PackSettings,
    timezone: str,
) -> IncompleteMeasure:
    feeds = {e: watermarks.get(e) for e in m.entities}
    settle = settings.settle_hours.get(m.settling or "", 0.0)
    blocking = []
    fed = any(mark is not None for mark in feeds.values())
    for feed, mark in feeds.items():
        if mark is None:
            if not fed:  # a feed with no events is ignored when the measure has others
                blocking.append(feed)
            continue
        own = last_complete_month(m, {feed: mark}, settings, timezone)
        if own is None or own < as_of:
            blocking.append(feed)
    return IncompleteMeasure(m.id, m.spec.name, as_of, through, feeds, settle, tuple(blocking))


def month_not_ended(month: YearMonth, today: date) -> str | None:
    """The one-line refusal of a month that has not ended yet (``today`` in the force's zone)."""
    this = YearMonth(today.year, today.month)
    if month < this:
        return None
    when = "is in the future" if month > this else "has not ended yet"
    return f"{month} {when} (today is {today}): choose an ended month, or --month auto"


def no_data(month: YearMonth, force_id: str, data: Mapping[str, Any]) -> str | None:
    """The one-line refusal of a pack whose every row is n/a (nothing to report for the month)."""
    if any(entry.get("current") is not None for entry in data.get("measures", [])):
        return None
    return f"no data for force {force_id} in {month}: every measure is n/a (before the data starts?)"
