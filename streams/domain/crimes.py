"""The pure lifecycle of one crime: reported -> recorded -> reclassified / cancelled / transferred ->
QA/Linking queue stays -> outcome assigned / changed (DOMAIN 3.4, 4.8-4.11).

:class:`CrimeFold` turns the whole event history of one crime into three fact tables:

``crimes`` (one row per crime)
    Current classification (the code of the latest recorded / reclassified event) and its group,
    the original code, flags, district and area, the raw instants (reported, first reported,
    recorded, occurred, outcome assigned, cancelled, transferred), cancellation and transfer and the
    current outcome (its raw Home Office type). ``counted`` is true for a recorded crime neither
    cancelled nor transferred: only those enter the figures, so a cancellation removes the crime
    from its month when the row is rewritten. Reclassification changes the group, never the times.

``crime_outcomes`` (one row per outcome assigned / changed event)
    The audit trail of outcome decisions, with the crime's current group and flags copied in.

``qa_queue_intervals`` (one row per queue-entry event)
    A stay in a queue: ``entered_at`` and ``exited_at`` (None while still in it). A second entry
    while already in the queue is kept as a row with ``duplicate_entry`` true (readers skip it), so
    every entry event always owns exactly one row and no row ever has to disappear; an exit with no
    open stay is counted in ``crimes.qa_unmatched_exits``.

Facts keep what happened; no value stored here depends on a metric definition. Every
``definitions.crimes`` choice (the month a crime counts in by ``period_basis``, NCRS timeliness
against ``ncrs_hours`` from the first report on ANY channel, the ``prosecution_possible_types`` set,
the outcome rate basis, the QA snapshot time) and the ``timezone`` of months and days are applied when
the figures are read, in ClickHouse (``sinks/clickhouse/crimes_sql.py`` for the readers, the views of
migration 0303 for analysts), so changing one needs no replay.

Choices the fold makes (all deterministic in the SET of events):
- Events are ordered by (time, lifecycle rank, source, id), so same-millisecond events in any type
  order give the same answer.
- First report: the earliest of the reported events' ``first_reported_at`` and their event times.
  The fold only sees crime events; the links (incident, online report, contact) are kept so a
  warehouse view can take the earliest linked contact offered / incident created / online report
  submitted time (DOMAIN 4.9); hours to record are computed there (clamped at zero). Unknown
  without any report time.
- An offence code is classified on the calendar date, in the Home Office Counting Rules' own
  calendar (:data:`REFERENCE_CALENDAR`, UK local dates), of the event that applied it: the mapping's
  effective dates are the reference data's, not the reporting calendar of ``definitions.timezone``.
- The first ``recorded`` event records the crime; later ones are quarantined (use reclassified).
  A reclassification, cancellation or transfer timed before the recording is impossible (each
  changes a recorded crime): quarantined and ignored.
- Outcome events timed before the recording, or of a crime with no recording yet, are quarantined
  (their ``crime_outcomes`` rows stay, flagged ``before_recording``; the quarantine is resolved by the
  next fold once the recording arrives in time). The current outcome is the latest
  outcome event; ``outcome_assigned_at`` is when the current outcome TYPE was set (the first event of
  the final run of events with that type), so correcting a subtype or age band does not move the
  outcome to another month, while a change of type does.
- Conditional cautions: current type 2 or 3 with a ``conditional...`` subtype; adult or youth by the
  offender age band at disposal, else by the type (3 adult, 2 youth). Community resolution: type 8.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.crimes import (
    CrimeCancelled,
    CrimeFlags,
    CrimeOutcomeAssigned,
    CrimeOutcomeChanged,
    CrimeQaQueueEntered,
    CrimeQaQueueExited,
    CrimeReclassified,
    CrimeRecorded,
    CrimeReported,
    CrimeTransferred,
)
from schemas.definitions import Definitions
from schemas.envelope import Envelope
from schemas.events import verb_of
from streams.domain.base import FoldResult, Row, dedupe
from streams.domain.classification import UNCLASSIFIED, classify, is_conditional_subtype

_RANK: dict[str, int] = {
    "reported": 0,
    "recorded": 1,
    "reclassified": 2,
    "qa_queue_entered": 3,
    "qa_queue_exited": 4,
    "outcome_assigned": 5,
    "outcome_changed": 6,
    "transferred": 7,
    "cancelled": 8,
}
_OUTCOME_VERBS = ("outcome_assigned", "outcome_changed")
_CHANGE_VERBS = ("reclassified", "cancelled", "transferred")  # each changes a recorded crime
SECONDS_PER_DAY = 86_400.0
REFERENCE_CALENDAR = ZoneInfo("Europe/London")
"""Calendar of the effective dates in schemas/reference/offence_groups.csv (Home Office Counting
Rules editions take effect on UK local dates)."""


def lifecycle_order(events: Sequence[Envelope]) -> list[Envelope]:
    """Events by (time, lifecycle rank, source, id); one copy of each (source, id) (see
    :func:`~streams.domain.base.dedupe`)."""
    return sorted(dedupe(events), key=lambda e: (e.time, _RANK.get(verb_of(e.type), 99), e.source, e.id))


def _of(ordered: Sequence[Envelope], *verbs: str) -> list[Envelope]:
    return [e for e in ordered if verb_of(e.type) in verbs]


def _classifying(event: Envelope) -> CrimeRecorded | CrimeReclassified:
    """The payload of an event that sets the offence code (recorded or reclassified)."""
    data = event.data
    if not isinstance(data, CrimeRecorded | CrimeReclassified):
        raise TypeError(f"{event.type} does not classify a crime")
    return data


def _outcome(event: Envelope) -> CrimeOutcomeAssigned | CrimeOutcomeChanged:
    """The payload of an outcome event (assigned or changed)."""
    data = event.data
    if not isinstance(data, CrimeOutcomeAssigned | CrimeOutcomeChanged):
        raise TypeError(f"{event.type} is not an outcome event")
    return data


def _qa_queue(event: Envelope) -> str:
    """The QA queue an entry or exit event names."""
    data = event.data
    if not isinstance(data, CrimeQaQueueEntered | CrimeQaQueueExited):
        raise TypeError(f"{event.type} is not a QA queue event")
    return data.queue


@dataclass(frozen=True)
class _Report:
    reported_at: datetime | None
    first_reported_at: datetime | None
    incident_id: str | None
    online_report_id: str | None
    contact_id: str | None


def _report(ordered: Sequence[Envelope]) -> _Report:
    reports = _of(ordered, "reported")
    if not reports:
        return _Report(None, None, None, None, None)
    said = [e.payload(CrimeReported) for e in reports]
    times = [e.time for e in reports] + [d.first_reported_at for d in said if d.first_reported_at]

    def first(attr: str) -> str | None:
        return next((str(getattr(d, attr)) for d in said if getattr(d, attr)), None)

    return _Report(
        reports[0].time, min(times), first("incident_id"), first("online_report_id"), first("contact_id")
    )


def _flags(flags: CrimeFlags) -> dict[str, Any]:
    strands = sorted(str(s) for s in flags.hate_strands)
    return {
        "domestic_abuse": flags.domestic_abuse,
        "hate": bool(strands),
        "hate_strands": strands,
        "cyber": flags.cyber,
        "rural": flags.rural,
        "modern_slavery": flags.modern_slavery,
    }


_NO_FLAGS: dict[str, Any] = {
    "domestic_abuse": False,
    "hate": False,
    "hate_strands": [],
    "cyber": False,
    "rural": False,
    "modern_slavery": False,
}


class CrimeFold:
    """Pure fold for entity ``crime`` (see the module docstring for the facts and choices)."""

    name = "crimes"
    entities: tuple[str, ...] = ("crime",)
    tables: tuple[str, ...] = ("crimes", "crime_outcomes", "qa_queue_intervals")

    def fold(self, events: Sequence[Envelope], definitions: Definitions) -> FoldResult:
        """Fact rows of one crime from its complete (or partial) history. ``definitions`` is not
        read: every definition is applied when the figures are read."""
        ordered = lifecycle_order(events)
        if not ordered:
            return FoldResult()
        recorded_events = _of(ordered, "recorded")
        recorded = recorded_events[0] if recorded_events else None
        quarantined = [
            (e, "crime already recorded; a new code needs reclassified") for e in recorded_events[1:]
        ]
        recorded_at = recorded.time if recorded else None
        if recorded_at is not None:
            changes = _of(ordered, *_CHANGE_VERBS)
            too_early = [e for e in changes if e.time < recorded_at]
            quarantined += [
                (e, f"time_order: {verb_of(e.type)} before the crime was recorded") for e in too_early
            ]
            ordered = [e for e in ordered if not any(e is x for x in too_early)]
        all_outcomes = _of(ordered, *_OUTCOME_VERBS)
        if recorded_at is None:
            early = list(all_outcomes)
            why = "missing_opening: outcome for a crime not recorded (held out until the recording arrives)"
            quarantined += [(e, why) for e in early]
        else:
            early = [e for e in all_outcomes if e.time < recorded_at]
            quarantined += [(e, "outcome before the crime was recorded") for e in early]
        outcomes = [e for e in all_outcomes if e not in early]
        intervals, unmatched = _qa_intervals(ordered)
        crime = self._crime_row(ordered, recorded, outcomes)
        crime["qa_entries"] = sum(1 for r in intervals if not r["duplicate_entry"])
        crime["qa_unmatched_exits"] = unmatched
        crime["in_qa_queue"] = any(r["exited_at"] is None and not r["duplicate_entry"] for r in intervals)
        head = ordered[0]
        key = {"force_id": head.force_id, "crime_id": head.subject}
        rows: dict[str, list[Row]] = {
            "crimes": [{**key, **crime}],
            "crime_outcomes": _outcome_rows(key, all_outcomes, outcomes, crime),
            "qa_queue_intervals": [{**key, **r} for r in intervals],
        }
        return FoldResult(rows={t: r for t, r in rows.items() if r}, quarantined=quarantined)

    def _crime_row(
        self,
        ordered: Sequence[Envelope],
        recorded: Envelope | None,
        outcomes: Sequence[Envelope],
    ) -> Row:
        report = _report(ordered)
        facts = recorded.payload(CrimeRecorded) if recorded else None
        row: Row = {
            "reported_at": report.reported_at,
            "first_reported_at": report.first_reported_at,
            "incident_id": report.incident_id,
            "online_report_id": report.online_report_id,
            "contact_id": report.contact_id,
            "recorded": recorded is not None,
            "recorded_at": recorded.time if recorded else None,
            "occurred_at": facts.occurred_at if facts else None,
            "district": facts.district if facts else None,
            "area": facts.area if facts else None,
        }
        row.update(_classification(ordered, recorded, REFERENCE_CALENDAR))
        row.update(_removal(ordered))
        row["counted"] = row["recorded"] and not row["cancelled"] and not row["transferred"]
        row.update(_current_outcome(outcomes, row["recorded_at"]))
        return row


def _classification(ordered: Sequence[Envelope], recorded: Envelope | None, tz: ZoneInfo) -> Row:
    steps = [e for e in ordered if e is recorded or verb_of(e.type) == "reclassified"]
    reclassified = _of(ordered, "reclassified")
    row: Row = {
        "offence_code": None,
        "offence_group": UNCLASSIFIED,
        "unknown_offence_code": False,
        "original_offence_code": _classifying(recorded).offence_code if recorded else None,
        "original_offence_group": UNCLASSIFIED,
        "reclassification_count": len(reclassified),
        "last_reclassified_at": reclassified[-1].time if reclassified else None,
        **_NO_FLAGS,
    }
    if recorded is not None:
        original = _classifying(recorded).offence_code
        row["original_offence_group"] = classify(original, _local_date(recorded, tz)).group
    if steps:
        current = steps[-1]
        code = _classifying(current).offence_code
        found = classify(code, _local_date(current, tz))
        row.update(offence_code=code, offence_group=found.group)
        row["unknown_offence_code"] = not found.known
    flags = [f for f in (_classifying(e).flags for e in steps) if f is not None]
    if flags:
        row.update(_flags(flags[-1]))
    return row


def _local_date(event: Envelope, tz: ZoneInfo) -> Any:
    return event.time.astimezone(tz).date()


def _removal(ordered: Sequence[Envelope]) -> Row:
    cancels = _of(ordered, "cancelled")
    transfers = _of(ordered, "transferred")
    return {
        "cancelled": bool(cancels),
        "cancelled_at": cancels[0].time if cancels else None,
        "cancellation_reason": cancels[0].payload(CrimeCancelled).reason if cancels else None,
        "transferred": bool(transfers),
        "transferred_at": transfers[0].time if transfers else None,
        "transferred_to": transfers[0].payload(CrimeTransferred).to_force if transfers else None,
    }


_NO_OUTCOME: Row = {
    "outcome_type": None,
    "outcome_subtype": None,
    "offender_age_band": None,
    "outcome_assigned_at": None,
    "first_outcome_at": None,
    "outcome_events": 0,
    "conditional_caution_adult": False,
    "conditional_caution_youth": False,
    "community_resolution": False,
    "days_to_outcome": None,
}


def _current_outcome(outcomes: Sequence[Envelope], recorded_at: datetime | None) -> Row:
    if not outcomes:
        return dict(_NO_OUTCOME)
    current = _outcome(outcomes[-1])
    set_at = outcomes[-1].time
    for event in reversed(outcomes):
        if _outcome(event).outcome_type != current.outcome_type:
            break
        set_at = event.time
    band = current.offender_age_band.value if current.offender_age_band else None
    conditional = current.outcome_type in (2, 3) and is_conditional_subtype(current.subtype)
    adult = band == "adult" if band else current.outcome_type == 3
    days = (set_at - recorded_at).total_seconds() / SECONDS_PER_DAY if recorded_at else None
    return {
        "outcome_type": current.outcome_type,
        "outcome_subtype": current.subtype,
        "offender_age_band": band,
        "outcome_assigned_at": set_at,
        "first_outcome_at": outcomes[0].time,
        "outcome_events": len(outcomes),
        "conditional_caution_adult": conditional and adult,
        "conditional_caution_youth": conditional and not adult,
        "community_resolution": current.outcome_type == 8,
        "days_to_outcome": days,
    }


_CONTEXT = ("offence_group", "domestic_abuse", "hate", "cyber", "rural", "modern_slavery")
_CONTEXT_MORE = ("district", "area", "counted", "recorded_at")


def _outcome_rows(
    key: Row,
    every: Sequence[Envelope],
    valid: Sequence[Envelope],
    crime: Row,
) -> list[Row]:
    """One row per outcome event. An event timed before the recording keeps its row (so a row never
    has to disappear when the recording arrives late) with ``before_recording`` true; readers skip it."""
    rows: list[Row] = []
    previous: int | None = None
    current = valid[-1] if valid else None
    for event in every:
        data = _outcome(event)
        early = event not in valid
        rows.append(
            {
                **key,
                "event_source": event.source,
                "event_id": event.id,
                "kind": "assigned" if verb_of(event.type) == "outcome_assigned" else "changed",
                "assigned_at": event.time,
                "outcome_type": data.outcome_type,
                "outcome_subtype": data.subtype,
                "offender_age_band": data.offender_age_band.value if data.offender_age_band else None,
                "previous_outcome_type": None if early else previous,
                "is_current": event is current,
                "before_recording": early,
                **{c: crime[c] for c in _CONTEXT + _CONTEXT_MORE},
            }
        )
        if not early:
            previous = data.outcome_type
    return rows


def _qa_intervals(ordered: Sequence[Envelope]) -> tuple[list[Row], int]:
    """One row per queue-entry event, paired with the first exit after it; unmatched exits counted."""
    rows: list[Row] = []
    open_stay: dict[str, Row] = {}
    unmatched = 0
    for event in _of(ordered, "qa_queue_entered", "qa_queue_exited"):
        queue = _qa_queue(event)
        if verb_of(event.type) == "qa_queue_entered":
            row: Row = {
                "queue": queue,
                "entry_source": event.source,
                "entry_id": event.id,
                "entered_at": event.time,
                "exited_at": None,
                "duplicate_entry": queue in open_stay,
            }
            rows.append(row)
            open_stay.setdefault(queue, row)
        elif queue in open_stay:
            open_stay.pop(queue)["exited_at"] = event.time
        else:
            unmatched += 1
    return rows, unmatched
