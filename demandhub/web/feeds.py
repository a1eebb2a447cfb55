"""Feed health: is each source system's data still arriving, judged against what it normally sends.

"LIVE" on the page says only that the browser hears the hub. This module says, per source
(telephony, web chat, CAD, crime system, online portal, social media), when the hub last received an event and
whether that silence is normal:

- ``expected_per_hour``: the source's arrival rate at this hour of this weekday, from history: the
  mean number of its events in the same local clock hour of the same weekday over the last
  ``feed_history_weeks`` weeks. Only weeks in which the hub received anything at that hour count
  (a week the hub was down says nothing about the source). No such week (a new installation): the
  source's own rate over the hour before its last event (``expected_basis`` ``recent``), which
  stays put once the source stops and errs low (later alarms) while a source is only minutes old.
- :func:`feed_state` (pure): with Poisson arrivals at that rate, a gap of ``g`` seconds with no event
  happens by chance with probability ``exp(-rate x g)``. Below ``feed_silent_probability`` (0.001:
  about 6.9 mean inter-arrival times) the source is **silent**. Otherwise a source with no event for
  ``feed_quiet_after_seconds`` is **quiet** (a quiet night: nothing for a while, but not improbably
  long), and **healthy** under that. A silent judgement needs a known rate and at least the quiet gap,
  so an unknown rate or a very busy feed's few-second pause is never an alarm.
- :class:`FeedMonitor` is a live reader (``monitor(wh, force_id, now, definitions)``): last arrivals
  are read with every live document (one small grouped query over the last two days' events; the
  live cache computes a document at most every half second) and the history once per local hour;
  the states are
  judged at the ``now`` given (the live page's clock, injectable in tests). Every judgement also sets
  the Prometheus gauges ``demandhub_feed_state``, ``demandhub_feed_silent``,
  ``demandhub_feed_seconds_since_last_event`` and ``demandhub_feed_expected_events_per_hour``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schemas.definitions import Definitions
from sinks.clickhouse import feeds_sql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.times import as_utc
from sinks.prometheus.metrics import FEED_EXPECTED_RATE, FEED_SECONDS_SINCE, FEED_SILENT, FEED_STATE

FEEDS: tuple[tuple[str, str], ...] = (
    ("telephony", "Telephony"),
    ("chat", "Web chat"),
    ("cad", "CAD"),
    ("crime", "Crime system"),
    ("portal", "Online portal"),
    ("social", "Social media"),
)
STATES = ("healthy", "quiet", "silent")
REFRESH_SECONDS = 0.0  # last arrivals are read with every document (the live cache bounds how often)
LOOKBACK = timedelta(days=2)  # last arrivals are looked for among events of the last two days


# -- the rule (pure) ---------------------------------------------------------------------------------
def silence_probability(gap_seconds: float, expected_per_hour: float) -> float:
    """Chance of no event for ``gap_seconds`` at a Poisson rate of ``expected_per_hour``."""
    return math.exp(-max(expected_per_hour, 0.0) / 3600.0 * max(gap_seconds, 0.0))


def silent_after_seconds(
    expected_per_hour: float | None, quiet_after: float, probability: float
) -> float | None:
    """The gap after which a source at this rate is judged silent (None: never, rate unknown or 0)."""
    if not expected_per_hour or expected_per_hour <= 0:
        return None
    return max(quiet_after, math.log(1.0 / probability) * 3600.0 / expected_per_hour)


def feed_state(
    gap_seconds: float | None, expected_per_hour: float | None, quiet_after: float, probability: float
) -> str:
    """healthy, quiet or silent for a source whose last event came ``gap_seconds`` ago (None: no
    event in the look-back) and which normally sends ``expected_per_hour`` at this hour (None:
    unknown)."""
    gap = math.inf if gap_seconds is None else max(gap_seconds, 0.0)
    threshold = silent_after_seconds(expected_per_hour, quiet_after, probability)
    if threshold is not None and gap >= threshold:
        return "silent"
    return "quiet" if gap >= quiet_after else "healthy"


def expected_rate(
    source: str, history: dict[str, float], weeks: int, recent: dict[str, int]
) -> tuple[float | None, str | None]:
    """(events per hour, basis): the same hour of past weeks when any was observed, else the events
    of the hour before the source's last event, else unknown."""
    if weeks:
        return history.get(source, 0.0), "history"
    if source in recent:
        return float(recent[source]), "recent"
    return None, None


def history_slots(now: datetime, timezone: str, weeks: int) -> list[datetime]:
    """UTC starts of the same local clock hour on the same weekday, 1 to ``weeks`` weeks back."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    return [(local - timedelta(weeks=k)).replace(tzinfo=zone).astimezone(UTC) for k in range(1, weeks + 1)]


def expected_rates(counts: dict[tuple[str, int], int], weeks: int) -> tuple[dict[str, float], int]:
    """Mean events per hour by source over the observed weeks (slots 1..weeks in which any source
    sent anything), and how many weeks were observed."""
    observed = {slot for (_, slot), n in counts.items() if n > 0 and 1 <= slot <= weeks}
    if not observed:
        return {}, 0
    totals: dict[str, int] = {}
    for (source, slot), n in counts.items():
        if slot in observed:
            totals[source] = totals.get(source, 0) + n
    return {source: n / len(observed) for source, n in totals.items()}, len(observed)


# -- the reader --------------------------------------------------------------------------------------
@dataclass
class _History:
    slot_start: datetime
    rates: dict[str, float]
    weeks: int


class FeedMonitor:
    """Live reader of feed health (see the module contract); thread-safe."""

    def __init__(
        self,
        weeks: int,
        quiet_after: float,
        probability: float,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.weeks, self.quiet_after, self.probability = weeks, quiet_after, probability
        self.refresh_seconds, self.clock = refresh_seconds, clock
        self._lock = threading.Lock()
        self._last: dict[str, datetime] = {}
        self._recent: dict[str, int] = {}
        self._read_at: float | None = None
        self._history: _History | None = None

    @classmethod
    def of(cls, settings: Any) -> FeedMonitor:
        return cls(
            settings.feed_history_weeks, settings.feed_quiet_after_seconds, settings.feed_silent_probability
        )

    def __call__(
        self, wh: Warehouse, force_id: str, now: datetime, definitions: Definitions
    ) -> dict[str, Any]:
        with self._lock:
            self._refresh(wh, force_id, now, definitions.timezone)
            return self.section(now)

    def _refresh(self, wh: Warehouse, force_id: str, now: datetime, timezone: str) -> None:
        starts = history_slots(now, timezone, self.weeks)
        if self._history is None or self._history.slot_start != starts[0]:
            rows = feeds_sql.hourly_counts(
                wh, force_id, starts, min(starts), max(starts) + timedelta(hours=1)
            )
            counts = {(str(s), int(slot)): int(n) for s, slot, n in rows}
            rates, observed = expected_rates(counts, self.weeks)
            self._history = _History(starts[0], rates, observed)
        tick = self.clock()
        if self._read_at is None or tick - self._read_at >= self.refresh_seconds:
            if self._history is not None and self._history.weeks:
                rows = [(*row, 0) for row in feeds_sql.last_arrivals(wh, force_id, now - LOOKBACK)]
            else:  # no past weeks: the hour before each source's last event is its rate
                rows = feeds_sql.last_arrivals_and_last_hour(wh, force_id, now - LOOKBACK)
            self._last = {str(source): as_utc(at) for source, at, _ in rows if at is not None}
            self._recent = {str(source): int(n) for source, at, n in rows if at is not None}
            self._read_at = tick

    def section(self, now: datetime) -> dict[str, Any]:
        """The ``feeds`` section at ``now`` from the last reads (no I/O); sets the gauges."""
        history = self._history or _History(now, {}, 0)
        labels = dict(FEEDS)
        sources = [s for s, _ in FEEDS] + sorted(s for s in self._last if s not in labels)
        items = []
        for source in sources:
            last = self._last.get(source)
            gap = (now - last).total_seconds() if last is not None else None
            rate, basis = expected_rate(source, history.rates, history.weeks, self._recent)
            state = feed_state(gap, rate, self.quiet_after, self.probability)
            items.append(
                {
                    "source": source,
                    "label": labels.get(source, source),
                    "state": state,
                    "last_event_at": last,
                    "seconds_since_last_event": gap,
                    "expected_per_hour": rate,
                    "expected_basis": basis,
                    "silent_after_seconds": silent_after_seconds(rate, self.quiet_after, self.probability),
                }
            )
            if source in labels:  # the metric's label set stays closed
                FEED_STATE.labels(source).set(STATES.index(state))
                FEED_SILENT.labels(source).set(int(state == "silent"))
                FEED_SECONDS_SINCE.labels(source).set(gap if gap is not None else math.inf)
                FEED_EXPECTED_RATE.labels(source).set(rate if rate is not None else math.nan)
        return {
            "history_weeks": history.weeks,
            "quiet_after_seconds": self.quiet_after,
            "silent": [i["source"] for i in items if i["state"] == "silent"],
            "items": items,
        }
