"""Incident lifecycle and response-time rules (DOMAIN 3.3, 4.6-4.8), pure: no I/O.

:class:`IncidentFold` turns the complete history of ONE incident into two fact tables:

* ``incidents``: one row per incident (grades, regrades, attendance, response clocks, qualifiers,
  status). Columns are listed in :data:`INCIDENT_COLUMNS`; every row has all of them.
* ``incident_grade_history``: one row per grading or regrade, numbered ``seq`` from 0 in lifecycle
  order. Readers keep only the rows of the highest ``version`` per incident (a later event can shorten
  the history, e.g. a closure that puts a regrade after it into quarantine).

Ordering: events are walked in (time, lifecycle rank, source, id) order, so events stamped with the
same millisecond are ordered by the lifecycle (created < graded < regraded < assigned < arrived <
qualifiers < cancelled / duplicate < closed < reopened) and never by arrival order. The result depends
only on the SET of events.

Decisions (documented, tested):

* Events timed before the incident's creation are impossible (negative durations) and quarantined;
  so is a second ``created`` event.
* After ``closed``, anything but ``reopened`` is quarantined ("event after closure") until a reopen;
  ``reopened`` while not closed is quarantined.
* A regrade whose ``old_grade`` differs from the grade held is ACCEPTED and recorded: the new grade is
  the command-and-control system's authoritative state, and the mismatch usually means an intermediate
  regrade is late (when it arrives the history refolds consistently). The history row keeps the
  claimed old grade with ``mismatch = true`` and the incident counts ``regrade_mismatches``.
* A ``graded`` event on an incident that already holds a grade acts as a regrade (kind ``graded``).
  Without any ``graded`` event, the first regrade's ``old_grade`` is the first grade (time unknown).
* Upgrade / downgrade compare grade urgency (IMMEDIATE > PRIORITY > SCHEDULED > RWD). A regrade to
  the same grade is recorded but not counted in ``regrade_count``.
* Facts keep what happened; no definition is read for anything stored. The response clock
  (``definitions.incidents.response_clock``), the targets, the amber share, the self-initiated
  exclusion and the grade, mental-health and ASB bases are applied when figures are read
  (``sinks/clickhouse/incidents_sql.py``). The row keeps what they need: creation, each grade with
  the time it was taken (first, final, held at first arrival), first arrival, urban/rural, the
  self-initiated flag and the linked contact id (the ``contact_offered`` clock joins the contact's
  offer). ``response_seconds_created`` and ``response_seconds_graded`` are the two raw durations.
* ``attendance_exclusion`` names the facts that keep an incident out of response times: duplicate,
  cancelled, not_created, not_attended, ungraded_at_arrival ('' otherwise). The self-initiated
  exclusion is a definition, applied when read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.definitions import Definitions, IncidentDefinitions
from schemas.envelope import Envelope
from schemas.events import verb_of
from schemas.incidents import (
    IncidentClosed,
    IncidentCreated,
    IncidentGraded,
    IncidentMergedAsDuplicate,
    IncidentQualifierAdded,
    IncidentQualifierRemoved,
    IncidentRegraded,
    IncidentResourceArrived,
)
from streams.domain.base import FoldResult, Row, dedupe
from streams.domain.geography import DistrictMap, default_districts
from streams.domain.nicl import NiclCatalogue, default_catalogue
from streams.domain.watch import WATCH_GRADES as WATCH_GRADES  # re-exported: the watch rule lives there
from streams.domain.watch import WatchStatus as WatchStatus
from streams.domain.watch import watch_status as watch_status

INCIDENTS_TABLE = "incidents"
DISTRICTS_CALENDAR = "Europe/London"
"""Calendar of the dates in schemas/reference/districts.csv (the force's own UK dates): a district is
mapped on its creation date in this calendar, whatever ``definitions.timezone`` the figures use."""
GRADE_HISTORY_TABLE = "incident_grade_history"

GRADE_URGENCY: dict[str, int] = {"IMMEDIATE": 0, "PRIORITY": 1, "SCHEDULED": 2, "RWD": 3}

LIFECYCLE_RANK: dict[str, int] = {
    "created": 0,
    "graded": 1,
    "regraded": 2,
    "resource_assigned": 3,
    "resource_arrived": 4,
    "qualifier_added": 5,
    "qualifier_removed": 6,
    "cancelled": 7,
    "merged_as_duplicate": 7,
    "closed": 8,
    "reopened": 9,
}


# --- pure response-time rules --------------------------------------------------------------------
def target_minutes(defs: IncidentDefinitions, grade: str | None, urban_rural: str | None) -> int | None:
    """The attendance target for ``grade`` at an ``urban``/``rural`` location; None if none is set."""
    if grade is None or urban_rural is None:
        return None
    return defs.target_minutes.get(f"{grade}_{urban_rural}")


def target_seconds(defs: IncidentDefinitions, grade: str | None, urban_rural: str | None) -> int | None:
    """:func:`target_minutes` in seconds."""
    minutes = target_minutes(defs, grade, urban_rural)
    return None if minutes is None else minutes * 60


def within_target(seconds: float | None, target: int | None) -> bool | None:
    """True when attended within the target (the target minute itself counts as within)."""
    if seconds is None or target is None:
        return None
    return seconds <= target


def regrade_direction(old: str | None, new: str) -> str:
    """``initial`` (no grade before), ``up`` (more urgent), ``down`` or ``same``."""
    if old is None:
        return "initial"
    delta = GRADE_URGENCY[new] - GRADE_URGENCY[old]
    return "up" if delta < 0 else "down" if delta > 0 else "same"


def lifecycle_key(event: Envelope) -> tuple[Any, ...]:
    """Walk order: time, then lifecycle rank for same-millisecond events, then source and id."""
    return (event.time, LIFECYCLE_RANK.get(verb_of(event.type), 99), event.source, event.id)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


# --- the walk ------------------------------------------------------------------------------------
@dataclass
class _State:
    """Mutable state of one incident while its events are walked."""

    created: Envelope | None = None
    grade: str | None = None
    grade_at: datetime | None = None
    first_grade: str | None = None
    first_graded_at: datetime | None = None
    history: list[Row] = field(default_factory=list)
    regrade_count: int = 0
    upgraded: bool = False
    downgraded: bool = False
    immediate_downgraded: bool = False
    mismatches: int = 0
    first_assigned_at: datetime | None = None
    arrival_at: datetime | None = None
    arrival_grade: str | None = None
    arrival_grade_at: datetime | None = None
    delay_reason: str | None = None
    qualifiers: set[str] = field(default_factory=set)
    qualifiers_ever: set[str] = field(default_factory=set)
    hate_strand: str | None = None
    cancelled_at: datetime | None = None
    duplicate_of: str | None = None
    closed_at: datetime | None = None
    final_category: str | None = None
    reopen_count: int = 0
    quarantined: list[tuple[Envelope, str]] = field(default_factory=list)


def _grade_change(st: _State, e: Envelope, kind: str, new: str, claimed: str | None) -> None:
    reason = getattr(e.data, "reason", None)
    if st.grade is None and claimed is not None:
        st.first_grade, st.grade = claimed, claimed  # first grade known only from the regrade
    old = st.grade
    direction = regrade_direction(old, new)
    mismatch = claimed is not None and old is not None and claimed != old
    st.mismatches += int(mismatch)
    st.history.append(
        {
            "seq": len(st.history),
            "at": e.time,
            "kind": kind,
            "from_grade": old,
            "to_grade": new,
            "direction": direction,
            "reason": reason,
            "claimed_old_grade": claimed,
            "mismatch": mismatch,
        }
    )
    if direction == "initial":
        st.first_grade, st.first_graded_at = new, e.time
    elif direction != "same":
        st.regrade_count += 1
        st.upgraded |= direction == "up"
        st.downgraded |= direction == "down"
        st.immediate_downgraded |= st.first_grade == "IMMEDIATE" and direction == "down"
    if old != new:
        st.grade, st.grade_at = new, e.time


def _apply(st: _State, e: Envelope, verb: str) -> None:
    if verb == "graded":
        _grade_change(st, e, "graded", str(e.payload(IncidentGraded).grade), None)
    elif verb == "regraded":
        regrade = e.payload(IncidentRegraded)
        _grade_change(st, e, "regraded", str(regrade.new_grade), str(regrade.old_grade))
    elif verb == "resource_assigned":
        st.first_assigned_at = st.first_assigned_at or e.time
    elif verb == "resource_arrived" and st.arrival_at is None:
        st.arrival_at, st.delay_reason = e.time, e.payload(IncidentResourceArrived).delay_reason
        st.arrival_grade, st.arrival_grade_at = st.grade, st.grade_at
    elif verb == "qualifier_added":
        added = e.payload(IncidentQualifierAdded)
        st.qualifiers.add(str(added.qualifier))
        st.qualifiers_ever.add(str(added.qualifier))
        if added.hate_strand is not None:
            st.hate_strand = str(added.hate_strand)
    elif verb == "qualifier_removed":
        st.qualifiers.discard(str(e.payload(IncidentQualifierRemoved).qualifier))
    elif verb == "cancelled":
        st.cancelled_at = st.cancelled_at or e.time
    elif verb == "merged_as_duplicate":
        st.duplicate_of = st.duplicate_of or e.payload(IncidentMergedAsDuplicate).duplicate_of
    elif verb == "closed":
        st.closed_at, st.final_category = e.time, e.payload(IncidentClosed).final_category


def _chain_same_time_regrades(
    ordered: list[Envelope], verbs: list[str], first_grade: str | None
) -> tuple[list[Envelope], list[str]]:
    """Regrades stamped with the same millisecond are put in chain order (each one's old grade is
    the previous one's new grade, starting from the grade held), ties by source and id. ``verbs``
    holds each event's verb; the events are returned with theirs."""
    if "regraded" not in verbs:
        return ordered, verbs
    out: list[Envelope] = []
    grade = first_grade
    i = 0
    while i < len(ordered):
        e = ordered[i]
        if verbs[i] == "graded":
            grade = str(e.payload(IncidentGraded).grade)
        if verbs[i] != "regraded":
            out.append(e)
            i += 1
            continue
        j = i
        while j < len(ordered) and verbs[j] == "regraded" and ordered[j].time == e.time:
            j += 1
        pending = ordered[i:j]
        while pending:
            nxt = next(
                (r for r in pending if str(r.payload(IncidentRegraded).old_grade) == grade), pending[0]
            )
            pending.remove(nxt)
            out.append(nxt)
            grade = str(nxt.payload(IncidentRegraded).new_grade)
        i = j
    return out, [verb_of(e.type) for e in out]


def _walk(events: Sequence[Envelope]) -> _State:
    st = _State()
    ordered = sorted(dedupe(events), key=lifecycle_key)
    ordered, verbs = _chain_same_time_regrades(ordered, [verb_of(e.type) for e in ordered], None)
    for e, verb in zip(ordered, verbs, strict=True):
        if verb == "created":
            if st.created is None:
                st.created = e
            else:
                st.quarantined.append((e, "second created event for the incident"))
    for e, verb in zip(ordered, verbs, strict=True):
        if verb == "created":
            continue
        if st.created is not None and e.time < st.created.time:
            st.quarantined.append((e, f"{verb} before the incident was created (negative duration)"))
        elif verb == "reopened":
            if st.closed_at is None:
                st.quarantined.append((e, "reopened while not closed"))
            else:
                st.closed_at, st.reopen_count = None, st.reopen_count + 1
        elif st.closed_at is not None:
            st.quarantined.append((e, f"{verb} after closure"))
        else:
            _apply(st, e, verb)
    return st


# --- rows ----------------------------------------------------------------------------------------
class IncidentFold:
    """Pure fold of incident events into ``incidents`` and ``incident_grade_history`` rows."""

    name = "incidents"
    entities: tuple[str, ...] = ("incident",)
    tables: tuple[str, ...] = (INCIDENTS_TABLE, GRADE_HISTORY_TABLE)

    def __init__(self, nicl: NiclCatalogue | None = None, districts: DistrictMap | None = None) -> None:
        self.nicl = nicl or default_catalogue()
        self.districts = districts or default_districts()

    def fold(self, events: Sequence[Envelope], definitions: Definitions) -> FoldResult:
        """Rows for one incident's history (see the module docstring for every rule)."""
        if not events:
            return FoldResult()
        st = _walk(events)
        first = events[0]
        ident = {"force_id": first.force_id, "incident_id": first.subject}
        row = {
            **ident,
            **self._creation(st, definitions),
            **_grading(st),
            **_attendance(st),
            **self._closure(st),
            **_qualifiers(st),
        }
        history = [{**ident, **h} for h in st.history]
        rows = {INCIDENTS_TABLE: [row]}
        if history:
            rows[GRADE_HISTORY_TABLE] = history
        return FoldResult(rows=rows, quarantined=st.quarantined)

    def _creation(self, st: _State, definitions: Definitions) -> Row:
        c = st.created
        d = c.payload(IncidentCreated) if c is not None else None
        district, area = self._place(c, DISTRICTS_CALENDAR)
        opening = d.opening_category if d else None
        return {
            "created_at": c.time if c else None,
            "channel": str(d.channel) if d else None,
            "contact_id": d.contact_id if d else None,
            "self_initiated": bool(d and (d.self_initiated or d.channel == "self_initiated")),
            "opening_category": opening,
            "opening_chapter": self.nicl.chapter_of(opening),
            "domestic_abuse_opening": bool(d and d.domestic_abuse),
            "district": district,
            "area": area,
            "urban_rural": str(d.location.urban_rural) if d else None,
            "beat": d.location.beat if d else None,
        }

    def _place(self, created: Envelope | None, timezone: str) -> tuple[str | None, str | None]:
        if created is None:
            return None, None
        loc = created.payload(IncidentCreated).location
        day = created.time.astimezone(ZoneInfo(timezone)).date()
        period = self.districts.lookup(created.force_id, loc.district, day)
        if period is None:
            return loc.district, loc.area
        return period.district, period.area

    def _closure(self, st: _State) -> Row:
        status = "open"
        if st.duplicate_of is not None:
            status = "duplicate"
        elif st.cancelled_at is not None:
            status = "cancelled"
        elif st.closed_at is not None:
            status = "closed"
        return {
            "final_category": st.final_category,
            "final_chapter": self.nicl.chapter_of(st.final_category),
            "asb": self.nicl.is_asb(st.final_category),
            "cancelled": st.cancelled_at is not None,
            "cancelled_at": st.cancelled_at,
            "duplicate": st.duplicate_of is not None,
            "duplicate_of": st.duplicate_of,
            "closed_at": st.closed_at,
            "reopened": st.reopen_count > 0,
            "reopen_count": st.reopen_count,
            "status": status,
            "quarantined_events": len(st.quarantined),
        }


def _grading(st: _State) -> Row:
    return {
        "first_grade": st.first_grade,
        "first_graded_at": st.first_graded_at,
        "final_grade": st.grade,
        "final_grade_at": st.grade_at,
        "regrade_count": st.regrade_count,
        "upgraded": st.upgraded,
        "downgraded": st.downgraded,
        "immediate_downgraded": st.immediate_downgraded,
        "regrade_mismatches": st.mismatches,
    }


def _attendance_exclusion(st: _State) -> str:
    """The facts that keep an incident out of response times ('' when none does)."""
    if st.duplicate_of is not None:
        return "duplicate"
    if st.cancelled_at is not None:
        return "cancelled"
    if st.created is None:
        return "not_created"
    if st.arrival_at is None:
        return "not_attended"
    if st.arrival_grade is None:
        return "ungraded_at_arrival"
    return ""


def _attendance(st: _State) -> Row:
    created_at = st.created.time if st.created else None
    return {
        "first_assigned_at": st.first_assigned_at,
        "first_arrival_at": st.arrival_at,
        "delay_reason": st.delay_reason,
        "grade_at_arrival": st.arrival_grade,
        "graded_at_arrival_grade_at": st.arrival_grade_at,
        "response_seconds_created": _seconds(created_at, st.arrival_at),
        "response_seconds_graded": _seconds(st.arrival_grade_at, st.arrival_at),
        "attendance_exclusion": _attendance_exclusion(st),
    }


def _qualifiers(st: _State) -> Row:
    return {
        "mental_health_now": "mental_health" in st.qualifiers,
        "mental_health_ever": "mental_health" in st.qualifiers_ever,
        "domestic_abuse_qualifier": "domestic_abuse" in st.qualifiers,
        "domestic_abuse_ever": "domestic_abuse" in st.qualifiers_ever,
        "hate": "hate" in st.qualifiers,
        "hate_strand": st.hate_strand,
        "qualifiers_now": sorted(st.qualifiers),
        "qualifiers_ever": sorted(st.qualifiers_ever),
    }
