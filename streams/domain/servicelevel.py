"""Service level, answer-time bands and abandonment from stored counters (DOMAIN 4.2-4.5). Pure.

Every figure here is computed from counts that the warehouse stores per queue and 15-minute bucket,
so the same facts answer every convention side by side.

Conventions used throughout:
- "within T" means a wait strictly below T seconds (``wait < T``), so the first Home Office band
  (<10 s) and "answered within 10 s" are the same count.
- A short abandon is an abandon (while queued) after a wait strictly below the queue's short-abandon
  threshold. Callback requests are neither answers nor abandons: they leave the service level unless
  ``callbacks_in_service_level`` is ``missed``, when each is a miss in its denominator.
- A :class:`Ratio` keeps numerator and denominator; its value is None when the denominator is 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from schemas.definitions import AbandonConvention, CallbackBasis, CallDefinitions
from schemas.queues import Queue

CONVENTIONS: tuple[AbandonConvention, ...] = (
    "answered_basis",
    "ignore",
    "count_as_met",
    "count_as_missed",
    "offered_basis",
)

STAGES: tuple[str, ...] = ("ivr", "primary_queue", "in_transfer", "secondary_queue")
IN_QUEUE_STAGES: tuple[str, ...] = ("primary_queue", "secondary_queue")

QueueRate = Literal["sl", "ab"]
QUEUE_MEASURES: dict[str, tuple[tuple[str, QueueRate], ...]] = {
    Queue.Q999.value: (("calls_999_answered_within_10s", "sl"), ("calls_999_abandoned_rate", "ab")),
    Queue.Q101_PRIMARY.value: (
        ("calls_101_answered_within_30s", "sl"),
        ("calls_101_primary_abandoned_rate", "ab"),
    ),
    Queue.Q101_SECONDARY.value: (("calls_101_secondary_abandoned_rate", "ab"),),
    Queue.WEBCHAT.value: (("webchat_abandoned_rate", "ab"),),
}
"""The board measures read from one queue's counters, written once: per queue, each measure and its
rate (``sl``: :func:`service_level`, ``ab``: :func:`abandonment_rate`). The contacts reader and
lineage both place a queue's counters by it; the thresholds are the definitions', not the names'."""


# -- the service clock and short abandons (the rules sinks/clickhouse/contacts_sql.py applies in SQL) --
def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def _clock_999(leg: Mapping[str, Any], clock_start_999: str) -> datetime | None:
    """The 999 clock start before the fallback to the queue entry (None: the queue entry)."""
    chain = {"bt_connect": ("bt_connect_at", "offered_at"), "offered": ("offered_at",)}
    for name in chain.get(clock_start_999, ()):
        at: datetime | None = leg.get(name)
        if at is not None:
            return at
    return None


def clock_started_at(leg: Mapping[str, Any], clock_start_999: str) -> datetime | None:
    """When the service clock of a leg (a ``contact_legs`` row) started: for the 999 queue at BT
    connect, the offer or the queue entry as ``clock_start_999`` says, falling back to the next known
    time; for every other queue at the queue entry."""
    start = _clock_999(leg, clock_start_999) if leg.get("queue") == "999" else None
    return start if start is not None else leg.get("entered_at")


def leg_end(leg: Mapping[str, Any]) -> datetime | None:
    """When a leg's queue visit ended (answer, abandon or callback request), None while open."""
    for name in ("answered_at", "abandoned_at", "callback_at"):
        at: datetime | None = leg.get(name)
        if at is not None:
            return at
    return None


def service_wait(leg: Mapping[str, Any], clock_start_999: str) -> float | None:
    """Seconds on the service clock of a leg: from the 999 clock start to the end of the leg, else
    the raw queue wait (``wait_seconds``: queue entry to the end, or the platform's wait)."""
    start = _clock_999(leg, clock_start_999) if leg.get("queue") == "999" else None
    if start is not None:
        return _seconds(start, leg_end(leg))
    wait = leg.get("wait_seconds")
    return None if wait is None else float(wait)


def leg_short_abandon(leg: Mapping[str, Any], calls: CallDefinitions) -> bool:
    """Abandoned while queued with a service wait strictly below the queue's short threshold."""
    short = calls.short_abandon_seconds.get(str(leg.get("queue")))
    wait = service_wait(leg, calls.clock_start_999)
    return bool(leg.get("abandoned_in_queue")) and short is not None and within(wait, short)


def contact_short_abandon(contact: Mapping[str, Any], calls: CallDefinitions) -> bool:
    """The final abandon of a ``contacts`` row was short: an IVR hang-up within
    ``ivr_short_abandon_seconds`` of the IVR entry (of the offer when none is known; never when that
    setting is None), or a queue abandon that was a short abandon of its leg."""
    if contact.get("outcome") != "abandoned":
        return False
    stage = contact.get("abandon_stage")
    if stage == "ivr":
        t = calls.ivr_short_abandon_seconds
        start = contact.get("ivr_entered_at") or contact.get("offered_at")
        return t is not None and within(_seconds(start, contact.get("abandoned_at")), t)
    if stage in IN_QUEUE_STAGES:
        leg = {
            "queue": contact.get("abandon_queue"),
            "offered_at": contact.get("offered_at"),
            "bt_connect_at": contact.get("bt_connect_at"),
            "abandoned_at": contact.get("abandoned_at"),
            "wait_seconds": contact.get("abandon_wait_seconds"),
            "abandoned_in_queue": True,
        }
        return leg_short_abandon(leg, calls)
    return False


@dataclass(frozen=True)
class Ratio:
    """A pooled ratio: ``num / den``; ``percent`` is None for a zero denominator."""

    num: int
    den: int

    @property
    def percent(self) -> float | None:
        return None if self.den == 0 else 100.0 * self.num / self.den


@dataclass(frozen=True)
class QueueCounters:
    """Counts for one queue (or any pool of queues) over a period.

    ``entered``: contacts that joined the queue; ``answered``; ``answered_within``: answered with a
    wait < T; ``abandoned``: abandoned while queued (short ones included); ``abandoned_within``:
    abandoned with a wait < T; ``short_abandoned``: abandoned with a wait below the short threshold;
    ``callbacks``: queue visits that ended in a callback request (neither answered nor abandoned).
    """

    entered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    short_abandoned: int = 0
    callbacks: int = 0

    def __add__(self, other: QueueCounters) -> QueueCounters:
        if not isinstance(other, QueueCounters):
            return NotImplemented
        values = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        return QueueCounters(**values)


def leg_counters(
    legs: Iterable[Mapping[str, object]], threshold_seconds: float, short_seconds: float
) -> QueueCounters:
    """Count ``contact_legs`` rows (as dicts) of one queue into :class:`QueueCounters`, with the
    service wait against ``threshold_seconds`` and short abandons below ``short_seconds``."""
    total = QueueCounters()
    for leg in legs:
        wait = leg.get("service_wait_seconds")
        w = float(wait) if isinstance(wait, (int, float)) else None
        answered = leg.get("outcome") == "answered"
        abandoned = bool(leg.get("abandoned_in_queue"))
        total += QueueCounters(
            entered=int(bool(leg.get("entered_queue"))),
            answered=int(answered),
            answered_within=int(answered and within(w, threshold_seconds)),
            abandoned=int(abandoned),
            abandoned_within=int(abandoned and within(w, threshold_seconds)),
            short_abandoned=int(abandoned and within(w, short_seconds)),
            callbacks=int(bool(leg.get("callback_requested"))),
        )
    return total


def within(wait_seconds: float | None, threshold_seconds: float) -> bool:
    """True when a known wait is strictly below the threshold."""
    return wait_seconds is not None and wait_seconds < threshold_seconds


def service_level(
    c: QueueCounters, convention: AbandonConvention, callbacks: CallbackBasis = "excluded"
) -> Ratio:
    """Service level of ``c`` under a named convention (DOMAIN 4.4).

    answered_basis: A_T / A.  ignore: A_T / (A + B - B_T).  count_as_met: (A_T + B_T) / (A + B).
    count_as_missed: A_T / (A + B).  offered_basis: A_T / (A + B - S).
    (A answered, A_T answered within T, B abandoned, B_T abandoned within T, S short abandons.)
    ``callbacks`` (``calls.callbacks_in_service_level``): ``excluded`` leaves callback requests out;
    ``missed`` adds each (C) to the denominator as not answered within T, under every convention.
    """
    if callbacks == "missed":
        base = service_level(c, convention)
        return Ratio(base.num, base.den + c.callbacks)
    if callbacks != "excluded":
        raise ValueError(f"unknown callbacks basis {callbacks!r}")
    a, a_t, b, b_t, s = (
        c.answered,
        c.answered_within,
        c.abandoned,
        c.abandoned_within,
        c.short_abandoned,
    )
    if convention == "answered_basis":
        return Ratio(a_t, a)
    if convention == "ignore":
        return Ratio(a_t, a + b - b_t)
    if convention == "count_as_met":
        return Ratio(a_t + b_t, a + b)
    if convention == "count_as_missed":
        return Ratio(a_t, a + b)
    if convention == "offered_basis":
        return Ratio(a_t, a + b - s)
    raise ValueError(f"unknown abandon convention {convention!r}")


def all_service_levels(
    c: QueueCounters, callbacks: CallbackBasis = "excluded"
) -> dict[AbandonConvention, Ratio]:
    """The service level under every convention, keyed by convention name."""
    return {name: service_level(c, name, callbacks) for name in CONVENTIONS}


def abandonment_rate(c: QueueCounters, exclude_short: bool = True) -> Ratio:
    """Abandoned while queued / queued; short abandons leave both sides unless ``exclude_short``
    is False (the unadjusted rate)."""
    if exclude_short:
        return Ratio(c.abandoned - c.short_abandoned, c.entered - c.short_abandoned)
    return Ratio(c.abandoned, c.entered)


def band_counts(waits: Iterable[float], edges: Sequence[int]) -> tuple[int, ...]:
    """Counts per band for ``edges`` (e1 < e2 < ...): [<e1, e1 to <e2, ..., >=e_last]."""
    counts = [0] * (len(edges) + 1)
    for w in waits:
        counts[sum(1 for e in edges if w >= e)] += 1
    return tuple(counts)


def stage_abandonment(reached: Mapping[str, int], abandoned: Mapping[str, int]) -> dict[str, Ratio]:
    """Abandonment by stage: each stage's abandons / the contacts that reached it (DOMAIN 4.3)."""
    return {s: Ratio(abandoned.get(s, 0), reached.get(s, 0)) for s in STAGES}


def applied_leg(leg: Mapping[str, Any], calls: CallDefinitions) -> dict[str, Any]:
    """A ``contact_legs`` row with the columns the definitions derive (the Python twin of
    ``sinks.clickhouse.contacts_sql.leg_columns``)."""
    queue = str(leg.get("queue"))
    return {
        **leg,
        "clock_started_at": clock_started_at(leg, calls.clock_start_999),
        "service_wait_seconds": service_wait(leg, calls.clock_start_999),
        "threshold_seconds": calls.service_threshold_seconds.get(queue),
        "short_abandon_seconds": calls.short_abandon_seconds.get(queue),
        "short_abandon": leg_short_abandon(leg, calls),
    }


def applied_contact(contact: Mapping[str, Any], calls: CallDefinitions) -> dict[str, Any]:
    """A ``contacts`` row with ``short_abandon`` under the definitions (Python twin of
    ``sinks.clickhouse.contacts_sql.contact_columns``)."""
    return {**contact, "short_abandon": contact_short_abandon(contact, calls)}
