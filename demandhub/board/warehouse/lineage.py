"""Lineage of a board figure: the entities (contacts, queue legs, incidents, crimes) that made it.

For an event-derived measure and a month, :func:`contributions` lists every entity the measure's
rule looked at, each with its contribution to the cell (numerator, denominator, sum of squares),
whether it was counted, the rule that counted or excluded it in plain words, and the fact times that
decided (turned into the deciding ledger event ids by :func:`attach_events`). The per-entity rows
are read from the same facts, with the same filters and month placement, as the measure's monthly
cells in :mod:`demandhub.queries`, sharing what can be shared: incidents go through that module's
own per-row accumulator over the rollup's own expressions; queue legs through the same pure
service-level and abandonment rules (:mod:`streams.domain.servicelevel`); crimes use the crime
module's segment expression. The rest mirrors the measure code (contact volumes, 101 end-to-end
abandonment, crime conventions), and :func:`reconcile_pack` is the check that the two agree: the
contributions add up to the cell exactly (the integration test runs it over every cell of a
simulated year's pack under two definition sets, so a change to a measure that is not made here too
fails it):

* counts: Σ num is the count; ratios: Σ num and Σ den are the cell's numerator and denominator;
  means (minutes): Σ num, Σ den and Σ sumsq;
* a level (the QA/Linking queue at the month-end snapshot): each crime in the queue at the snapshot
  adds 1; the month's cell is ONE observation ``Cell.level(Σ)``.

:func:`explain` answers one dashboard cell (measure, column) of a pack month: the months the column
covers (``current`` one month; ``fytd``, ``rolling_12``, ``baseline``, ... several), the entities
of each month, and how the column is derived from them (a pooled sum or ratio; for a level the mean
of the monthly levels). Label columns are explained by their two sides. Imported measures have no
entities and say so.

Published packs keep their lineage (:func:`store_lineage`): per measure and data month a digest of
the entity rows (id, counted, num, den) stored once per distinct content, and per pack version the
reference to it. :func:`explain` of a published version shows the figure as published and what
changed since, entity by entity; :func:`annotate_revisions` names the entities behind each
restatement in a pack's revision log.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import Catalogue, CatalogueMeasure, ReaderName
from demandhub.board.maths.cells import Cell, Unit, pool
from demandhub.board.maths.dashboard import LABEL_COLUMNS, VALUE_COLUMNS, PeriodValue, compute_row
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.rules import BoardRules
from demandhub.board.warehouse.readers import MONTHLY_CELLS
from demandhub.board.warehouse.source import entity_watermarks, last_complete_month
from demandhub.errors import InputError
from demandhub.queries import contacts as q_contacts
from demandhub.queries import crimes as q_crimes
from demandhub.queries import incidents as q_incidents
from demandhub.queries import social as q_social
from schemas.canonical import json_hash
from schemas.contacts import CONTACT_CHANNELS
from schemas.definitions import Definitions
from sinks.clickhouse import board_sql, lineage_sql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import ensure_fresh
from sinks.clickhouse.times import as_utc
from streams.domain.servicelevel import QUEUE_MEASURES, abandonment_rate, leg_counters, service_level

EXPLAINABLE_COLUMNS: tuple[str, ...] = (*VALUE_COLUMNS, *LABEL_COLUMNS)

# Which ledger event types decide a fact time (the deciding events of a contribution).
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "offered": ("call.offered.v1", "webchat.offered.v1", "online_report.submitted.v1"),
    "queued": ("call.queued.v1", "call.transferred.v1", "webchat.offered.v1"),
    "answered": ("call.answered.v1", "webchat.answered.v1"),
    "abandoned": ("call.abandoned.v1", "webchat.abandoned.v1"),
    "created": ("incident.created.v1",),
    "arrived": ("incident.resource_arrived.v1",),
    "graded": ("incident.graded.v1", "incident.regraded.v1"),
    "duplicate": ("incident.merged_as_duplicate.v1",),
    "cancelled_incident": ("incident.cancelled.v1",),
    "qualifier": ("incident.qualifier_added.v1", "incident.qualifier_removed.v1"),
    "closed": ("incident.closed.v1",),
    "reported": ("crime.reported.v1",),
    "recorded": ("crime.recorded.v1",),
    "reclassified": ("crime.reclassified.v1",),
    "outcome": ("crime.outcome_assigned.v1", "crime.outcome_changed.v1"),
    "cancelled": ("crime.cancelled.v1",),
    "transferred": ("crime.transferred.v1",),
    "qa_entered": ("crime.qa_queue_entered.v1",),
    "qa_exited": ("crime.qa_queue_exited.v1",),
    "received": ("social.received.v1",),
    "responded": ("social.responded.v1",),
    "social_closed": ("social.closed.v1",),
}


@dataclass
class Contribution:
    """One entity's part in one month's cell of one measure."""

    entity: str
    subject: str
    num: float
    den: float | None
    counted: bool
    rule: str
    reason: str
    sumsq: float | None = None
    decided_by: tuple[tuple[str, datetime | None], ...] = ()
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "counted": self.counted,
            "num": self.num,
            "den": self.den,
            **({"sumsq": self.sumsq} if self.sumsq is not None else {}),
            "rule": self.rule,
            "reason": self.reason,
            "events": self.events,
        }


Lineage = dict[str, dict[YearMonth, list[Contribution]]]


def _ym(value: date) -> YearMonth:
    return YearMonth(value.year, value.month)


def _day(value: datetime | None, tz: str) -> str:
    v = as_utc(value)
    return "unknown date" if v is None else v.astimezone(ZoneInfo(tz)).date().isoformat()


def _first_day(ym: YearMonth) -> date:
    return date(ym.year, ym.month, 1)


def _add(out: Lineage, measure: str, month: YearMonth, c: Contribution) -> None:
    out.setdefault(measure, {}).setdefault(month, []).append(c)


# -- contacts -----------------------------------------------------------------------------------------
# facts hold no definition: short abandons and service waits are derived under the definitions
# given when read (contacts_sql, the same expressions as the rollups the board reads)
_VOLUME_CHANNELS = CONTACT_CHANNELS
_QUEUE_MEASURES = QUEUE_MEASURES


def contact_contributions(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> Lineage:
    """Per contact (volumes, 101 end-to-end abandonment) and per queue leg (service level,
    queue abandonment), as :func:`demandhub.queries.contacts.monthly_cells` counts them."""
    ensure_fresh(wh)
    tz = definitions.timezone
    lo, hi = q_contacts._month_bounds(first, last, tz)
    window = (
        force_id,
        tz,
        lo.replace(tzinfo=None),
        hi.replace(tzinfo=None),
        list(_QUEUE_MEASURES),
        definitions,
    )
    calls = definitions.calls
    drop = calls.dedupe_short_abandons_from_volumes
    out: Lineage = {}
    for r in lineage_sql.contact_rows(wh, *window):
        ym, ch, cid = _ym(r["month"]), str(r["channel"]), str(r["contact_id"])
        never = int(r["outcome"] == "abandoned" and not r["ever_answered"])
        never_short = int(bool(never and r["short_abandon"]))
        dropped = never_short if drop else 0
        when = [("offered", as_utc(r["placed_at"]))]
        if ch not in _VOLUME_CHANNELS:
            c = Contribution(
                cid, cid, 0, None, False, "channel_unknown", "excluded: channel not known", None, tuple(when)
            )
            _add(out, "contacts_total", ym, c)
            continue
        if dropped:
            reason = (
                f"excluded: never answered and its final abandon was short "
                f"(calls.dedupe_short_abandons_from_volumes), offered {_day(r['placed_at'], tz)} on {ch}"
            )
            rule = "short_abandon_dedupe"
            when.append(("abandoned", as_utc(r["abandoned_at"])))
        else:
            reason, rule = f"counted: offered {_day(r['placed_at'], tz)} on {ch}", "counted"
        for measure in (f"contacts_{ch}", "contacts_total"):
            _add(
                out,
                measure,
                ym,
                Contribution(cid, cid, 1 - dropped, None, not dropped, rule, reason, None, tuple(when)),
            )
        if ch == "101":
            num, den = never - never_short, 1 - never_short  # volumes de-duplicated or not
            if never_short:
                rule, reason = (
                    "short_abandon",
                    "excluded: never answered, short abandon (calls.short_abandon_seconds)",
                )
            elif never:
                rule, reason = (
                    "abandoned",
                    f"counted as abandoned: offered {_day(r['placed_at'], tz)}, never answered",
                )
            else:
                rule, reason = (
                    "answered",
                    f"counted in the denominator: offered {_day(r['placed_at'], tz)}, answered",
                )
            decided = (
                *when,
                (
                    "abandoned" if never else "answered",
                    as_utc(r["abandoned_at"] if never else r["answered_at"]),
                ),
            )
            _add(
                out,
                "calls_101_abandoned_rate",
                ym,
                Contribution(cid, cid, num, den, bool(num or den), rule, reason, None, decided),
            )
    for leg in lineage_sql.leg_rows(wh, *window):
        _add_leg(out, leg, definitions)
    return out


def _add_leg(out: Lineage, leg: dict[str, Any], definitions: Definitions) -> None:
    calls = definitions.calls
    queue, ym = str(leg["queue"]), _ym(leg["month"])
    threshold, short = (
        calls.service_threshold_seconds.get(queue, 0),
        calls.short_abandon_seconds.get(queue, 0),
    )
    c = leg_counters([leg], threshold, short)
    wait = leg["service_wait_seconds"]
    waited = "unknown wait" if wait is None else f"waited {float(wait):.0f} s"
    end_kind = (
        "answered" if leg["outcome"] == "answered" else "abandoned" if leg["abandoned_in_queue"] else None
    )
    decided: list[tuple[str, datetime | None]] = [("queued", as_utc(leg["placed_at"]))]
    if end_kind:
        decided.append((end_kind, as_utc(leg[f"{end_kind}_at"])))
    tz = definitions.timezone
    for measure, kind in _QUEUE_MEASURES[queue]:
        if kind == "sl":
            ratio = service_level(c, calls.abandon_convention, calls.callbacks_in_service_level)
            met = "met" if ratio.num else "missed" if ratio.den else "not in the population"
            basis = f"{calls.abandon_convention}, callbacks {calls.callbacks_in_service_level}"
            words = f"{leg['outcome']}, {met} ({waited}, threshold {threshold} s, {basis})"
        else:
            ratio = abandonment_rate(c)
            words = (
                "short abandon: out of both sides (calls.short_abandon_seconds)"
                if c.short_abandoned
                else f"{leg['outcome']} ({waited})"
            )
        counted = bool(ratio.num or ratio.den)
        rule = leg["outcome"] if counted else "not_in_population"
        prefix = "counted" if counted else "excluded"
        reason = f"{prefix}: queued {_day(leg['placed_at'], tz)} in {queue}, {words}"
        _add(
            out,
            measure,
            ym,
            Contribution(
                str(leg["leg_id"]),
                str(leg["contact_id"]),
                ratio.num,
                ratio.den,
                counted,
                rule,
                reason,
                None,
                tuple(decided),
            ),
        )


# -- incidents ------------------------------------------------------------------------------------------
def incident_contributions(
    wh: Warehouse,
    force_id: str,
    first: YearMonth,
    last: YearMonth,
    definitions: Definitions,
    now: datetime | None = None,
) -> Lineage:
    """Per incident, through the incident module's own accumulator (``_add_row``) over the rollup's
    own expressions evaluated for one incident under the definitions applied; open incidents past
    their target at ``now`` add to the within-target denominators as in
    :func:`demandhub.queries.incidents.monthly_cells`."""
    defs = definitions.incidents
    tz = definitions.timezone
    now = now or datetime.now(UTC)
    lo, hi = _first_day(first - 1), _first_day(last + 2)
    breaches = {
        item["incident_id"]: item["grade"]
        for item in q_incidents.live_open_incidents(wh, force_id, now, definitions)
        if item["status"] == "red"
    }
    out: Lineage = {}
    rows = lineage_sql.incident_rows(
        wh,
        force_id,
        tz,
        datetime(lo.year, lo.month, 1),
        datetime(hi.year, hi.month, 1),
        _first_day(first),
        _first_day(last),
        definitions,
    )
    for r in rows:
        r["first_grade"], r["final_grade"], r["arrival_grade"] = (
            r.pop("k_first"),
            r.pop("k_final"),
            r.pop("k_arrival"),
        )
        _incident_rows(out, r, defs, tz, breaches)
    return out


def _incident_rows(out: Lineage, r: dict[str, Any], defs: Any, tz: str, breaches: Mapping[str, str]) -> None:
    acc = q_incidents._Acc()
    q_incidents._add_row(acc, r, defs)
    iid, ym = str(r["incident_id"]), _ym(r["month"])
    created = ("created", as_utc(r["created"]))
    made = f"created {_day(r['created'], tz)}"

    def add(
        measure: str,
        num: float,
        den: float | None,
        rule: str,
        reason: str,
        *decided: tuple[str, datetime | None],
        sumsq: float | None = None,
    ) -> None:
        counted = bool(num or den)
        _add(
            out,
            measure,
            ym,
            Contribution(iid, iid, num, den, counted, rule, reason, sumsq, (created, *decided)),
        )

    dup = ("duplicate", None)
    if r["is_duplicate"]:
        for m in ("incidents_total", "incidents_mental_health", "incidents_asb"):
            add(m, 0, None, "duplicate", f"excluded: merged as a duplicate ({made})", dup)
    else:
        add("incidents_total", acc.incidents, None, "counted", f"counted: {made}")
        basis = defs.mental_health_basis
        if acc.mh:
            add(
                "incidents_mental_health",
                acc.mh,
                None,
                "counted",
                f"counted: {made}, mental-health qualifier ({basis})",
                ("qualifier", None),
            )
        if r["asb"]:
            add(
                "incidents_asb",
                1,
                None,
                "counted",
                f"counted: {made}, ASB ({defs.asb_basis})",
                ("closed", None),
            )
    grade_now = r["first_grade"] if defs.grade_basis == "first" else r["final_grade"]
    if acc.mix_all:
        add(
            "immediate_share",
            acc.mix_imm,
            acc.mix_all,
            "counted",
            f"counted: {made}, {defs.grade_basis} grade {grade_now}",
            ("graded", None),
        )
    elif grade_now:
        add(
            "immediate_share",
            0,
            0,
            "cancelled_or_duplicate",
            f"excluded: {made}, cancelled or duplicate",
            ("cancelled_incident", None),
        )
    arrival = r["arrival_grade"]
    arrived = ("arrived", as_utc(r["arrived"]))
    exclusion = str(r["exclusion"] or "")
    if arrival == "IMMEDIATE" and acc.imm_n:
        minutes = acc.imm_sum_min
        add(
            "immediate_time_to_respond_mins",
            acc.imm_sum_min,
            acc.imm_n,
            "counted",
            f"counted: {made}, attended after {minutes:.1f} min ({defs.response_clock} clock)",
            arrived,
            sumsq=acc.imm_sumsq_min,
        )
    elif arrival == "IMMEDIATE":
        add(
            "immediate_time_to_respond_mins",
            0,
            0,
            exclusion or "no_clock",
            f"excluded: {made}, {exclusion or 'no response time on this clock'}",
            arrived,
            sumsq=0.0,
        )
    for grade, measure in (("IMMEDIATE", "immediate"), ("PRIORITY", "priority")):
        name = f"{measure}_within_target_rate"
        if breaches.get(iid) == grade:
            add(
                name,
                0,
                1,
                "open_breach",
                f"counted as missed: {made}, open and unattended past its target",
            )
        elif arrival == grade and acc.target_n[grade]:
            met = acc.within[grade]
            add(
                name,
                met,
                acc.target_n[grade],
                "counted",
                f"counted: {made}, attended {'within' if met else 'after'} target",
                arrived,
            )
        elif arrival == grade:
            add(
                name,
                0,
                0,
                exclusion or "no_target",
                f"excluded: {made}, {exclusion or 'no target for its grade and location'}",
                arrived,
            )


# -- crimes ----------------------------------------------------------------------------------------------
def _not_counted_why(r: dict[str, Any]) -> tuple[str, str, tuple[str, datetime | None]]:
    if r["cancelled"]:
        return (
            "cancelled",
            "excluded: cancelled under the recording rules",
            ("cancelled", as_utc(r["cancelled_at"])),
        )
    if r["transferred"]:
        return (
            "transferred",
            "excluded: transferred to another force",
            ("transferred", as_utc(r["transferred_at"])),
        )
    return "not_recorded", "excluded: not recorded", ("reported", None)


def crime_contributions(
    wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> Lineage:
    """Per crime, as :func:`demandhub.queries.crimes.monthly_cells` counts them (module docstring
    of :mod:`demandhub.queries.crimes` for the conventions)."""
    defs = definitions.crimes
    tz = definitions.timezone
    span = (force_id, _first_day(first), _first_day(last), definitions)
    out: Lineage = {}
    for r in lineage_sql.crime_rows(wh, *span):
        _crime_rows(out, r, defs, tz)
    for r in lineage_sql.ncrs_rows(wh, *span):
        hours = r["hours_to_record"]
        cid, ym = str(r["crime_id"]), _ym(r["month"])
        rec = ("recorded", as_utc(r["recorded_at"]))
        if hours is None:
            c = Contribution(
                cid, cid, 0, 0, False, "no_report_time", "excluded: no first report time known", None, (rec,)
            )
        else:
            met = int(bool(r["within"]))
            words = f"recorded {_day(r['recorded_at'], tz)}, {float(hours):.1f} h after the first report"
            c = Contribution(
                cid,
                cid,
                met,
                1,
                True,
                "within" if met else "late",
                f"counted as {'on time' if met else 'late'} against {defs.ncrs_hours} h: {words}",
                None,
                (("reported", as_utc(r["first_report_at"])), rec),
            )
        _add(out, "crime_recorded_within_24h_rate", ym, c)
    for r in lineage_sql.rural_rows(wh, *span):
        iid = str(r["incident_id"])
        words = f"incident created {_day(r['created_at'], tz)}, category {r['category']}"
        _add(
            out,
            "crime_rural",
            _ym(r["month"]),
            Contribution(
                iid,
                iid,
                1,
                None,
                True,
                "rural_incident",
                f"counted: {words} (crimes.rural_incident_categories)",
                None,
                (("created", as_utc(r["created_at"])),),
            ),
        )
    _qa_rows(out, wh, force_id, first, last, definitions)
    return out


def _crime_rows(out: Lineage, r: dict[str, Any], defs: Any, tz: str) -> None:
    cid, segments = str(r["crime_id"]), list(r["segments"])
    rec = ("recorded", as_utc(r["recorded_at"]))
    code = r["offence_code"] or "no code"
    pm = _ym(r["pmonth"]) if r["pmonth"] is not None else None
    om = _ym(r["omonth"]) if r["omonth"] is not None else None
    otype = r["outcome_type"]
    is_pp = bool(r["is_pp"])
    if pm is not None:
        if r["counted"]:
            words = f"recorded {_day(r['period_at'], tz)} as {code}"
            for seg in q_crimes.COUNT_SEGMENTS:
                if seg in segments:
                    _add(
                        out,
                        f"crime_{seg}",
                        pm,
                        Contribution(
                            cid,
                            cid,
                            1,
                            None,
                            True,
                            "counted",
                            f"counted: {words}",
                            None,
                            (rec, ("reclassified", None)),
                        ),
                    )
            for seg in q_crimes.RATE_SEGMENTS:
                if seg not in segments:
                    continue
                num = int(is_pp) if defs.outcome_rate_basis == "cohort" else 0
                if defs.outcome_rate_basis == "period" and om == pm:
                    num = int(is_pp)
                tail = f", outcome type {otype}" if num else ", no prosecution-possible outcome in the month"
                _add(
                    out,
                    f"outcome_rate_{seg}",
                    pm,
                    Contribution(
                        cid,
                        cid,
                        num,
                        1,
                        True,
                        "counted",
                        f"counted: {words}{tail}",
                        None,
                        (rec, ("outcome", as_utc(r["outcome_assigned_at"]))),
                    ),
                )
        else:
            rule, reason, why = _not_counted_why(r)
            for seg in q_crimes.COUNT_SEGMENTS:
                if seg in segments:
                    _add(
                        out,
                        f"crime_{seg}",
                        pm,
                        Contribution(cid, cid, 0, None, False, rule, reason, None, (rec, why)),
                    )
    if om is None or not r["counted"]:
        return
    decided = (("outcome", as_utc(r["outcome_assigned_at"])), rec)
    words = f"outcome type {otype} set {_day(r['outcome_assigned_at'], tz)}"
    if defs.outcome_rate_basis == "period" and om != pm and is_pp:
        for seg in q_crimes.RATE_SEGMENTS:
            if seg in segments:
                _add(
                    out,
                    f"outcome_rate_{seg}",
                    om,
                    Contribution(
                        cid,
                        cid,
                        1,
                        0,
                        True,
                        "outcome_in_month",
                        f"counted in the numerator: {words} (recorded in another month)",
                        None,
                        decided,
                    ),
                )
    for flag, measure in (
        ("conditional_caution_adult", "conditional_cautions_adult"),
        ("conditional_caution_youth", "conditional_cautions_youth"),
        ("community_resolution", "community_resolutions"),
    ):
        if r[flag]:
            _add(
                out,
                measure,
                om,
                Contribution(cid, cid, 1, None, True, "counted", f"counted: {words}", None, decided),
            )


def _qa_rows(
    out: Lineage, wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions
) -> None:
    tz = ZoneInfo(definitions.timezone)
    after = last + 1
    end = datetime(after.year, after.month, 1, tzinfo=tz).astimezone(UTC)
    until = min(end - timedelta(milliseconds=1), datetime.now(UTC))
    days = q_crimes.qa_queue_daily(wh, force_id, until, definitions)
    last_snap: dict[YearMonth, datetime] = {}
    for d in days:
        last_snap[_ym(d["day"])] = d["snapshot_at"]
    for ym, snap in last_snap.items():
        if not first <= ym <= last:
            continue
        rows = lineage_sql.qa_queue_rows(wh, force_id, q_crimes.QA_QUEUE, snap)
        items = out.setdefault("qa_linking_queue_month_end", {}).setdefault(ym, [])
        words = f"in the QA/Linking queue at the month-end snapshot {snap.astimezone(tz):%Y-%m-%d %H:%M}"
        for cid, entered in rows:
            items.append(
                Contribution(
                    str(cid),
                    str(cid),
                    1,
                    None,
                    True,
                    "in_queue",
                    f"counted: {words}",
                    None,
                    (("qa_entered", as_utc(entered)),),
                )
            )


class ContributionReader(Protocol):
    """Reads one domain's contributions of every measure it serves (open incidents judged at ``now``)."""

    def __call__(
        self,
        wh: Warehouse,
        force_id: str,
        first: YearMonth,
        last: YearMonth,
        definitions: Definitions,
        now: datetime | None,
        /,
    ) -> Lineage: ...


def _at_any_time(
    reader: Callable[[Warehouse, str, YearMonth, YearMonth, Definitions], Lineage],
) -> ContributionReader:
    """A reader whose contributions do not depend on the instant they are read at."""

    def read(
        wh: Warehouse,
        force_id: str,
        first: YearMonth,
        last: YearMonth,
        definitions: Definitions,
        now: datetime | None,
        /,
    ) -> Lineage:
        return reader(wh, force_id, first, last, definitions)

    return read


READERS: Mapping[ReaderName, ContributionReader] = {
    "contacts": _at_any_time(contact_contributions),
    "incidents": incident_contributions,
    "crimes": _at_any_time(crime_contributions),
    "social": _at_any_time(q_social.contributions),
}
"""Reader name (a catalogue measure's ``module``) -> its contributions, as
:data:`~demandhub.board.warehouse.readers.MONTHLY_CELLS` gives its cells."""


def contributions(
    wh: Warehouse,
    module: ReaderName,
    force_id: str,
    first: YearMonth,
    last: YearMonth,
    definitions: Definitions,
    now: datetime | None = None,
) -> Lineage:
    """measure id -> month -> contributions of every measure of ``module`` over first..last."""
    return READERS[module](wh, force_id, first, last, definitions, now)


def month_cell(items: Sequence[Contribution], unit: str) -> Cell:
    """The month's cell from its contributions (a level: one observation of their sum)."""
    num = float(sum(c.num for c in items))
    if unit == "level":
        return Cell.level(num)
    if unit == "count":
        return Cell(num)
    den = float(sum(c.den or 0 for c in items))
    sumsq = float(sum(c.sumsq or 0 for c in items)) if unit == "minutes" else None
    return Cell(num, den, sumsq)


# -- deciding events -----------------------------------------------------------------------------------
def attach_events(wh: Warehouse, force_id: str, items: Iterable[Contribution]) -> None:
    """Fill each contribution's ``events`` with the ledger events that decided it: for every fact time
    its rule read, the event of the matching type nearest that time (the latest when no time)."""
    listed = list(items)
    subjects = sorted({c.subject for c in listed})
    by_subject: dict[str, list[tuple[str, str, str, datetime]]] = defaultdict(list)
    for start in range(0, len(subjects), 5000):
        rows = lineage_sql.subject_events(wh, force_id, subjects[start : start + 5000])
        for subject, source, eid, etype, t in rows:
            by_subject[str(subject)].append((str(source), str(eid), str(etype), as_utc(t)))
    for c in listed:
        seen: set[str] = set()
        c.events = []
        for kind, at in c.decided_by:
            types = EVENT_TYPES.get(kind, ())
            found = [e for e in by_subject.get(c.subject, []) if e[2] in types]
            if not found:
                continue
            pick = found[-1] if at is None else min(found, key=lambda e: abs((e[3] - at).total_seconds()))
            if pick[1] in seen:
                continue
            seen.add(pick[1])
            c.events.append({"source": pick[0], "id": pick[1], "type": pick[2], "time": pick[3].isoformat()})


# -- explain ---------------------------------------------------------------------------------------------
def row_months(measure: CatalogueMeasure, month: YearMonth, rules: BoardRules) -> list[YearMonth]:
    """Every month the dashboard row of ``measure`` in the pack for ``month`` rests on (all value
    columns and both sides of every label), oldest first."""
    row = compute_row(measure.spec, {}, month, rules)
    found: set[YearMonth] = set()
    for name in VALUE_COLUMNS:
        found.update(getattr(row, name).months)
    for name in LABEL_COLUMNS:
        label = getattr(row, name)
        found.update(label.subject.months + label.reference.months)
    return sorted(found)


def _reader_of(measure: CatalogueMeasure) -> ReaderName:
    """The domain reader of an event-derived measure (the catalogue's load requires one)."""
    if measure.module is None:
        raise InputError(f"{measure.id} is not an event-derived measure")
    return measure.module


def _series(
    wh: Warehouse,
    measure: CatalogueMeasure,
    force_id: str,
    month: YearMonth,
    definitions: Definitions,
    settings: PackSettings,
    rules: BoardRules,
) -> tuple[dict[YearMonth, Cell], YearMonth | None, datetime | None]:
    """The measure's complete-only monthly cells over the months its row rests on (as the pack
    reads them), the last complete month, and the instant open incidents are judged at."""
    marks = entity_watermarks(wh, force_id)
    module = _reader_of(measure)
    now = marks.get("incident") if module == "incidents" else None
    months = row_months(measure, month, rules)
    cells = MONTHLY_CELLS[module](wh, force_id, months[0], months[-1], definitions, marks)
    through = last_complete_month(measure, marks, settings, definitions.timezone)
    series = {m: c for m, c in cells.get(measure.id, {}).items() if through is not None and m <= through}
    return series, through, now


def _period_json(
    period: PeriodValue,
    unit: str,
    lineage: Mapping[YearMonth, list[Contribution]],
    series: Mapping[YearMonth, Cell],
    limit: int | None,
) -> dict[str, Any]:
    months: list[dict[str, Any]] = []
    cells: list[Cell] = []
    for m in period.months:
        items = _ordered(lineage.get(m, []))
        published = series.get(m)
        if published is None:
            months.append({"month": str(m), "present": False, "note": "no figure for this month (null)"})
            continue
        derived = month_cell(items, unit)
        cells.append(derived)
        counted = [c for c in items if c.counted]
        months.append(
            {
                "month": str(m),
                "present": True,
                "cell": published.as_dict(),
                "from_entities": derived.as_dict(),
                "reconciles": _same_cell(derived, published),
                "counted": len(counted),
                "excluded": len(items) - len(counted),
                "entities": [c.as_dict() for c in (items if limit is None else items[:limit])],
            }
        )
    pooled = None if period.cell is None else pool(cells)
    derivation = _derivation(unit, period, [x for x in months if x["present"]])
    return {
        "months": [str(m) for m in period.months],
        "missing": [str(m) for m in period.missing],
        "cell": None if period.cell is None else period.cell.as_dict(),
        "value": period.value,
        "from_entities": None if pooled is None else pooled.as_dict(),
        "reconciles": period.cell is None or (pooled is not None and _same_cell(pooled, period.cell)),
        "derivation": derivation,
        "by_month": months,
    }


def _derivation(unit: str, period: PeriodValue, months: list[dict[str, Any]]) -> str:
    if period.cell is None:
        return "null: " + ("no month has a figure" if not months else "a month of the period has no figure")
    if unit == "level":
        parts = " + ".join(f"{x['from_entities']['num']:g}" for x in months)
        return f"mean of {len(months)} month-end levels (each the entities in the queue at the snapshot): ({parts}) / {len(months)}"
    if unit == "count":
        return f"sum over {len(months)} month(s) of the counted entities"
    if unit == "minutes":
        return f"mean over the records of {len(months)} month(s): Σ minutes / Σ records"
    return f"pooled ratio over {len(months)} month(s): Σ numerators / Σ denominators"


def _same_cell(a: Cell, b: Cell) -> bool:
    def close(x: float | None, y: float | None) -> bool:
        x, y = x or 0.0, y or 0.0  # an absent sum is a zero one (a count's den, a ratio's sumsq)
        return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))

    return close(a.num, b.num) and close(a.den, b.den) and close(a.sumsq, b.sumsq)


def explain(
    wh: Warehouse,
    catalogue: Catalogue,
    force_id: str,
    month: YearMonth,
    measure_id: str,
    column: str,
    definitions: Definitions,
    rules: BoardRules,
    settings: PackSettings,
    *,
    limit: int | None = None,
    with_events: bool = True,
    version: int | None = None,
) -> dict[str, Any]:
    """The lineage of one dashboard cell of the pack for ``month`` (module docstring); with
    ``version``, also the figure as published in that version and what changed since."""
    measure = catalogue.by_id().get(measure_id)
    if measure is None:
        raise InputError(f"unknown measure {measure_id!r}")
    if column not in EXPLAINABLE_COLUMNS and column != "msf":
        raise InputError(f"unknown column {column!r}; one of {', '.join((*EXPLAINABLE_COLUMNS, 'msf'))}")
    head = {
        "force": force_id,
        "month": str(month),
        "measure": measure_id,
        "column": column,
        "unit": measure.spec.unit,
    }
    if column == "msf":
        return {
            **head,
            "entities": None,
            "note": "MSF is the peer forces' figure, imported: no entities here",
        }
    if measure.source != "events":
        return {
            **head,
            "entities": None,
            "note": f"imported figure ({', '.join(measure.import_sources)}): it has no entities",
        }
    series, through, now = _series(wh, measure, force_id, month, definitions, settings, rules)
    row = compute_row(measure.spec, series, month, rules)
    unit = measure.spec.unit
    value = getattr(row, column)
    covered = value.subject.months + value.reference.months if column in LABEL_COLUMNS else value.months
    lineage = contributions(wh, _reader_of(measure), force_id, min(covered), max(covered), definitions, now)
    mine = lineage.get(measure_id, {})
    out: dict[str, Any] = {
        **head,
        "as_of": str(row.as_of),
        "complete_through": None if through is None else str(through),
    }
    if column in LABEL_COLUMNS:
        label = getattr(row, column)
        out["label"] = label.label
        sides = {
            "subject": label.subject,
            "reference": _reference_period(label.reference, series, unit, rules),
        }
        out["sides"] = {k: _period_json(p, unit, mine, series, limit) for k, p in sides.items()}
        if rules.label_method == "spc" and column != "perf_v_benchmark":
            out["sides"]["reference"]["derivation"] = (
                "SPC centre line: the mean of the monthly values of the reference window"
            )
        periods = list(out["sides"].values())
    else:
        out.update(_period_json(getattr(row, column), unit, mine, series, limit))
        periods = [out]
    if with_events:
        months = _months_of(periods)
        listed = [c for m in months for c in _ordered(mine.get(m, []))[:limit]]
        attach_events(wh, force_id, listed)
        by_key = {(str(m), c.entity): c for m in months for c in mine.get(m, [])}
        for p in periods:
            for mo in p["by_month"]:
                for item in mo.get("entities", []):
                    found = by_key.get((mo["month"], item["entity"]))
                    item["events"] = found.events if found else []
    if version is not None:
        out["published"] = published_diff(wh, force_id, month, version, measure_id, column, mine)
    return out


def _ordered(items: Iterable[Contribution]) -> list[Contribution]:
    return sorted(items, key=lambda c: (not c.counted, c.entity))


def _months_of(periods: list[dict[str, Any]]) -> list[YearMonth]:
    return sorted({YearMonth.from_str(mo["month"]) for p in periods for mo in p["by_month"] if mo["present"]})


def _reference_period(
    period: PeriodValue, series: Mapping[YearMonth, Cell], unit: Unit, rules: BoardRules
) -> PeriodValue:
    if period.cell is not None or not period.months:
        return period
    # SPC reference sides carry no pooled cell: rebuild the pooled period so its months are listed.
    from demandhub.board.maths.dashboard import period_value

    return period_value(series, period.months, unit, rules)


# -- published lineage -----------------------------------------------------------------------------------
SET_COLUMNS = lineage_sql.SET_COLUMNS
REF_COLUMNS = lineage_sql.REF_COLUMNS


def _digest(items: Sequence[Contribution]) -> str:
    rows = sorted((c.entity, c.counted, c.num, c.den, c.sumsq) for c in items if c.counted)
    # Kept with every published pack and compared when it is explained: the form it was first kept in.
    return json_hash(rows, compact=False, allow_nan=False, length=32)


def pack_lineage(
    wh: Warehouse,
    catalogue: Catalogue,
    force_id: str,
    month: YearMonth,
    definitions: Definitions,
    settings: PackSettings,
    rules: BoardRules | None = None,
    watermarks: Mapping[str, datetime] | None = None,
    only: Iterable[str] | None = None,
) -> Lineage:
    """Every event measure's lineage (or only the measures ``only`` names) over the months its
    dashboard row rests on (complete months only): what a published pack keeps."""
    rules = rules or BoardRules()
    marks = dict(watermarks) if watermarks is not None else entity_watermarks(wh, force_id)
    picked = None if only is None else set(only)
    events = [
        m
        for m in catalogue.measures
        if m.source == "events" and m.module and (picked is None or m.id in picked)
    ]
    out: Lineage = {}
    for module in sorted({m.module for m in events if m.module}):
        mine = [m for m in events if m.module == module]
        wanted = {m.id: set(row_months(m, month, rules)) for m in mine}
        first, last = min(min(w) for w in wanted.values()), max(max(w) for w in wanted.values())
        now = marks.get("incident") if module == "incidents" else None
        found = contributions(wh, module, force_id, first, last, definitions, now)
        for m in mine:
            through = last_complete_month(m, marks, settings, definitions.timezone)
            out[m.id] = {
                ym: items
                for ym, items in found.get(m.id, {}).items()
                if through is not None and ym <= through and ym in wanted[m.id]
            }
    return out


def store_lineage(
    wh: Warehouse, force_id: str, month: YearMonth, version: int, lineage: Lineage, units: Mapping[str, str]
) -> int:
    """Store the counted entities of every (measure, data month) of a published version: entity rows
    once per distinct content (digest), and the version's references. Returns entity rows written."""
    existing = {(str(mid), d, str(dg)) for mid, d, dg in lineage_sql.stored_sets(wh, force_id)}
    sets: list[list[Any]] = []
    refs: list[list[Any]] = []
    for measure_id, months in sorted(lineage.items()):
        for ym, items in sorted(months.items()):
            digest = _digest(items)
            cell = month_cell(items, units.get(measure_id, "count"))
            day = _first_day(ym)
            counted = [c for c in items if c.counted]
            refs.append(
                [
                    force_id,
                    _first_day(month),
                    version,
                    measure_id,
                    day,
                    digest,
                    len(counted),
                    cell.num,
                    cell.den,
                    cell.sumsq,
                ]
            )
            if (measure_id, day, digest) in existing:
                continue
            existing.add((measure_id, day, digest))
            sets.extend(
                [
                    force_id,
                    measure_id,
                    day,
                    digest,
                    c.entity,
                    True,
                    float(c.num),
                    None if c.den is None else float(c.den),
                    c.sumsq,
                    c.rule,
                ]
                for c in counted
            )
    if sets:
        lineage_sql.insert_sets(wh, sets)
    if refs:
        lineage_sql.insert_refs(wh, refs)
    return len(sets)


def published_entities(
    wh: Warehouse,
    force_id: str,
    measure_id: str,
    months: Sequence[YearMonth],
    month: YearMonth | None = None,
    version: int | None = None,
) -> dict[YearMonth, dict[str, tuple[float, float | None]]]:
    """Counted entities (id -> (num, den)) per data month as published: in pack ``month`` version
    ``version``, or else in the latest version that stored the data month."""
    if not months:
        return {}
    rows = lineage_sql.published_entity_rows(
        wh,
        force_id,
        measure_id,
        [_first_day(m) for m in months],
        None if month is None else _first_day(month),
        version,
    )
    out: dict[YearMonth, dict[str, tuple[float, float | None]]] = {}
    for d, entity, num, den in rows:
        out.setdefault(_ym(d), {})[str(entity)] = (float(num), None if den is None else float(den))
    return out


def entity_changes(
    before: Mapping[str, tuple[float, float | None]], now: Iterable[Contribution]
) -> dict[str, list[dict[str, Any]]]:
    """Entities added, removed or changed between a published list and the current contributions."""
    current = {c.entity: c for c in now if c.counted}
    added = [
        {"entity": e, "num": c.num, "den": c.den, "reason": c.reason}
        for e, c in sorted(current.items())
        if e not in before
    ]
    removed = []
    changed = []
    for e, (num, den) in sorted(before.items()):
        c = current.get(e)
        if c is None:
            removed.append({"entity": e, "num": num, "den": den})
        elif c.num != num or (c.den or 0) != (den or 0):
            changed.append(
                {
                    "entity": e,
                    "was": {"num": num, "den": den},
                    "now": {"num": c.num, "den": c.den},
                    "reason": c.reason,
                }
            )
    return {"added": added, "removed": removed, "changed": changed}


def _column_months(pack_entry: Mapping[str, Any], column: str) -> list[YearMonth]:
    cells = (pack_entry.get("cells") or {}).get(column)
    if not cells:
        return []
    labelled = column in LABEL_COLUMNS
    sides = [cells.get("subject") or {}, cells.get("reference") or {}] if labelled else [cells]
    months: set[YearMonth] = set()
    for side in sides:
        if side.get("from") and side.get("to"):
            months |= set(month_range(YearMonth.from_str(side["from"]), YearMonth.from_str(side["to"])))
    return sorted(months)


def published_diff(
    wh: Warehouse,
    force_id: str,
    month: YearMonth,
    version: int,
    measure_id: str,
    column: str,
    current: Mapping[YearMonth, list[Contribution]],
) -> dict[str, Any]:
    """The figure of ``measure_id``/``column`` as published in ``version`` of pack ``month``, and
    the entities changed since, per data month."""
    stored = board_sql.version_pack(wh, force_id, _first_day(month), version)
    if stored is None:
        raise InputError(f"no published version {version} of {month} for force {force_id}")
    pack = json.loads(stored[0])
    entry = next((e for e in pack["measures"] if e["id"] == measure_id), None)
    if entry is None:
        raise InputError(f"measure {measure_id} is not in published version {version}")
    months = _column_months(entry, column)
    before = published_entities(wh, force_id, measure_id, months, month, version)
    kept = lineage_sql.version_measure_refs(wh, force_id, _first_day(month), version, measure_id)
    changes: dict[str, Any] = {}
    for m in months if kept else []:
        diff = entity_changes(before.get(m, {}), current.get(m, []))
        if any(diff.values()):
            changes[str(m)] = diff
    return {
        "pack_version": version,
        "published_at": str(stored[1]),
        "value": entry.get(column),
        "cell": (entry.get("cells") or {}).get(column),
        # published without its entities: what changed cannot be told entity by entity
        "changed_since": changes if kept else None,
    }


def annotate_revisions(
    wh: Warehouse,
    catalogue: Catalogue,
    force_id: str,
    pack_json: dict[str, Any],
    lineage: Lineage,
    rules: BoardRules,
) -> None:
    """Add ``entities`` to every revision of an event measure in ``pack_json``: per data month of
    the restated column, the entities added, removed or changed since they were last published."""
    by_id = catalogue.by_id()
    for revision in pack_json.get("revisions", []):
        measure = by_id.get(revision["measure"])
        if measure is None or measure.source != "events":
            revision["entities"] = None
            continue
        as_of = YearMonth.from_str(revision["as_of"])
        pack_month = as_of + measure.spec.as_of_lag_months
        row = compute_row(measure.spec, {}, pack_month, rules)
        column = revision["column"]
        value = getattr(row, column)
        months = (
            list(value.subject.months + value.reference.months)
            if column in LABEL_COLUMNS
            else list(value.months)
        )
        current = lineage.get(measure.id, {})
        covered = set(row_months(measure, YearMonth.from_str(pack_json["month"]), rules))
        wanted = sorted(set(months) & covered)  # months this pack's lineage was read for
        before = published_entities(wh, force_id, measure.id, wanted)
        out: dict[str, Any] = {}
        for m in wanted:
            if m not in before:
                continue
            diff = entity_changes(before[m], current.get(m, []))
            if any(diff.values()):
                out[str(m)] = diff
        revision["entities"] = out if before else None  # None: not published with its entities


def reconcile_pack(
    pack_json: Mapping[str, Any], catalogue: Catalogue, lineage: Lineage
) -> list[tuple[str, str, str]]:
    """Every (measure, column, side) of an event measure in a pack whose stored num/den differ from
    the sums of its months' contributions. Empty when every cell reconciles."""
    by_id = catalogue.by_id()
    bad: list[tuple[str, str, str]] = []
    for entry in pack_json["measures"]:
        measure = by_id[entry["id"]]
        if measure.source != "events":
            continue
        unit = measure.spec.unit
        for column in EXPLAINABLE_COLUMNS:
            cells = entry["cells"][column]
            sides = (
                {"value": cells}
                if column in VALUE_COLUMNS
                else {"subject": cells["subject"], "reference": cells["reference"]}
            )
            for side, cell in sides.items():
                if cell.get("num") is None or not cell.get("from"):
                    continue
                months = month_range(YearMonth.from_str(cell["from"]), YearMonth.from_str(cell["to"]))
                missing = set(cell.get("missing", []))
                got = pool(
                    month_cell(lineage.get(measure.id, {}).get(m, []), unit)
                    for m in months
                    if str(m) not in missing
                )
                want = Cell(cell["num"], cell.get("den"), cell.get("sumsq"))
                if got is None or not _same_cell(got, want):
                    bad.append((measure.id, column, side))
    return bad
