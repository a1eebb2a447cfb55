"""Incidents: created -> graded -> [regraded] -> assigned -> arrived -> closed, with qualifiers,
cancellations and duplicates, and the crimes that follow from them."""

from __future__ import annotations

import math
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from streams.sources.simulator.clock import HOUR, MINUTE, SECOND
from streams.sources.simulator.context import ForceContext
from streams.sources.simulator.crimes import CrimeModel, CrimeOrigin
from streams.sources.simulator.demand import category_factors
from streams.sources.simulator.geography import District
from streams.sources.simulator.reference import (
    ASB_CATEGORIES,
    CATEGORIES,
    CATEGORY_BY_CODE,
    DELAY_REASONS,
    HATE_STRANDS,
    RECATEGORISE,
    Category,
)
from streams.sources.simulator.truth import IncidentFacts

IMMEDIATE, PRIORITY, SCHEDULED, RWD = "IMMEDIATE", "PRIORITY", "SCHEDULED", "RWD"
GRADES = (IMMEDIATE, PRIORITY, SCHEDULED, RWD)
# Grade mix by category urgency (IMMEDIATE, PRIORITY, SCHEDULED, RWD).
GRADE_MIX = ((0.40, 0.42, 0.12, 0.06), (0.09, 0.40, 0.33, 0.18), (0.03, 0.20, 0.42, 0.35))
# Multiplier on the IMMEDIATE probability by channel.
IMMEDIATE_BY_CHANNEL = {
    "999": 1.25,
    "101": 0.35,
    "webchat": 0.12,
    "online": 0.08,
    "self_initiated": 0.5,
    "other": 0.1,  # social media threads
}
REGRADES: dict[str, tuple[tuple[str, float, str], ...]] = {
    IMMEDIATE: ((PRIORITY, 0.10, "risk_reassessed"),),
    PRIORITY: ((IMMEDIATE, 0.035, "new_information"), (SCHEDULED, 0.05, "risk_reassessed")),
    SCHEDULED: ((PRIORITY, 0.03, "new_information"), (RWD, 0.06, "resolved_by_phone")),
    RWD: ((SCHEDULED, 0.04, "attendance_required"),),
}
# Lognormal (median minutes, log-sd) of dispatch delay and of travel (urban, rural) by grade.
DISPATCH = {IMMEDIATE: (1.6, 0.8), PRIORITY: (14.0, 1.0), SCHEDULED: (360.0, 1.0)}
TRAVEL = {
    IMMEDIATE: ((6.0, 0.45), (9.0, 0.45)),
    PRIORITY: ((13.0, 0.6), (19.0, 0.6)),
    SCHEDULED: ((15.0, 0.6), (22.0, 0.6)),
}
TARGET_MS = {
    (IMMEDIATE, True): 15 * MINUTE,
    (IMMEDIATE, False): 20 * MINUTE,
    (PRIORITY, True): 60 * MINUTE,
    (PRIORITY, False): 60 * MINUTE,
}
_STRAND_CUM = list(accumulate(w for _, w in HATE_STRANDS))


@dataclass(slots=True)
class IncidentOrigin:
    """What opens an incident: when, through which channel, from which contact."""

    created_at: int
    channel: str
    first_report: int
    contact_id: str | None = None
    online_report_id: str | None = None
    district: District | None = None
    category: str | None = None


def _lognormal_ms(rng: Any, median_min: float, sd: float) -> int:
    return int(median_min * MINUTE * math.exp(sd * rng.gauss(0, 1)))


class IncidentModel:
    """Generates one incident's lifecycle, its truth contributions and any crime it leads to."""

    def __init__(self, ctx: ForceContext, crimes: CrimeModel) -> None:
        self.ctx = ctx
        self.crimes = crimes
        self.last: tuple[str, int] | None = None  # (id, created) of the latest incident generated
        self._tables: dict[int, tuple[list[float], list[float], float, float]] = {}

    def _table(self, t: int) -> tuple[list[float], list[float], float, float]:
        hour = t - t % HOUR
        table = self._tables.get(hour)
        if table is None:
            asb, crime_f, imm_f = category_factors(hour)
            w = [c.weight * (asb if c.code in ASB_CATEGORIES else 1.0) for c in CATEGORIES]
            sw = [c.self_weight * (asb if c.code in ASB_CATEGORIES else 1.0) for c in CATEGORIES]
            table = (list(accumulate(w)), list(accumulate(sw)), crime_f, imm_f)
            if len(self._tables) > 512:
                self._tables.clear()
            self._tables[hour] = table
        return table

    def _category(self, t: int, self_initiated: bool) -> Category:
        cum, self_cum, _, _ = self._table(t)
        c = self_cum if self_initiated else cum
        return CATEGORIES[bisect(c, self.ctx.rng.random() * c[-1])]

    def _first_grade(self, cat: Category, channel: str, da: bool, imm_f: float) -> str:
        mix = GRADE_MIX[cat.urgency]
        p_imm = min(0.9, mix[0] * IMMEDIATE_BY_CHANNEL[channel] * imm_f * (1.35 if da else 1.0))
        u = self.ctx.rng.random()
        if u < p_imm:
            return IMMEDIATE
        u = (u - p_imm) / (1.0 - p_imm) * (1.0 - mix[0])
        if u < mix[1]:
            return PRIORITY
        return SCHEDULED if u < mix[1] + mix[2] else RWD

    def incident(self, o: IncidentOrigin) -> str:
        """Generate the incident opened by ``o``; returns its id."""
        ctx, rng = self.ctx, self.ctx.rng
        iid = ctx.subject("I")
        self_init = o.channel == "self_initiated"
        cat = CATEGORY_BY_CODE[o.category] if o.category else self._category(o.created_at, self_init)
        _, _, crime_f, imm_f = self._table(o.created_at)
        district = o.district or ctx.district()
        urban = rng.random() < district.urban_share
        da = rng.random() < cat.da_p
        tc = o.created_at
        created = self._created_payload(o, cat, district, urban, da)
        if not ctx.emit("cad", "incident.created.v1", tc, iid, created):
            return iid  # after the end of the run: nothing of it exists
        linked = o.first_report if o.contact_id else None  # the offer of the contact it came from
        facts = IncidentFacts(tc, self_init, urban, cat.code in ASB_CATEGORIES, linked)
        ctx.record("incident", facts)
        g0 = self._first_grade(cat, o.channel, da, imm_f)
        tg = tc + SECOND + _lognormal_ms(rng, 1.5, 0.8)
        graded = ctx.emit("cad", "incident.graded.v1", tg, iid, {"grade": g0})
        if graded:
            facts.graded, facts.first_grade = tg, g0
        plan = self._qualifier_plan(cat, da, tc, tg)
        withdrawn, terminal = self._withdrawn(iid, tc, tg, self_init)
        facts.merged, facts.cancelled = withdrawn == "merged", withdrawn == "cancelled"
        if withdrawn is None:
            terminal = self._deploy_and_close(iid, o, cat, district, urban, da, g0, facts, tc, tg, crime_f)
        self._emit_qualifiers(iid, plan, tg, terminal, facts)
        return iid

    def _created_payload(
        self, o: IncidentOrigin, cat: Category, district: District, urban: bool, da: bool
    ) -> dict[str, Any]:
        created: dict[str, Any] = {
            "channel": o.channel,
            "opening_category": cat.code,
            "domestic_abuse": da,
            "self_initiated": o.channel == "self_initiated",
            "location": {
                "district": district.name,
                "area": district.area,
                "urban_rural": "urban" if urban else "rural",
                "beat": f"{district.beat_prefix}{self.ctx.rng.randrange(1, 25):02d}",
            },
        }
        if o.contact_id:
            created["contact_id"] = o.contact_id
        return created

    def _withdrawn(self, iid: str, tc: int, tg: int, self_init: bool) -> tuple[str | None, int]:
        """Merge as a duplicate of the previous incident, or cancel, for a share of incidents.

        Returns ``(None, 0)`` when the incident goes on to deployment, else (``"merged"`` or
        ``"cancelled"`` when that event falls inside the run, ``""`` when after the end; its time).
        """
        ctx, rng = self.ctx, self.ctx.rng
        last = self.last
        self.last = (iid, tc)
        if not self_init and last is not None and last[1] < tc and rng.random() < 0.03:
            t = tg + SECOND + _lognormal_ms(rng, 4.0, 0.7)
            data = {"duplicate_of": last[0]}
            emitted = ctx.emit("cad", "incident.merged_as_duplicate.v1", t, iid, data)
            return ("merged" if emitted else ""), t
        if rng.random() < 0.025:
            t = tg + SECOND + _lognormal_ms(rng, 25.0, 0.9)
            reason = rng.choice(("caller_no_longer_requires", "duplicate_call", "resolved_before_attendance"))
            emitted = ctx.emit("cad", "incident.cancelled.v1", t, iid, {"reason": reason})
            return ("cancelled" if emitted else ""), t
        return None, 0

    def _qualifier_plan(
        self, cat: Category, da: bool, tc: int, tg: int
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """Qualifier events as ``(time, event type, data)``; mental health may be removed later."""
        rng = self.ctx.rng
        plan: list[tuple[int, str, dict[str, Any]]] = []
        added = "incident.qualifier_added.v1"
        if da and rng.random() < 0.8:
            plan.append((tg + 500, added, {"qualifier": "domestic_abuse"}))
        if cat.code in ASB_CATEGORIES and rng.random() < 0.85:
            plan.append((tg + 700, added, {"qualifier": "asb"}))
        if cat.hate_p and rng.random() < cat.hate_p * 4:
            strand = HATE_STRANDS[bisect(_STRAND_CUM, rng.random() * _STRAND_CUM[-1])][0]
            plan.append((tg + 900, added, {"qualifier": "hate", "hate_strand": strand}))
        if rng.random() < 0.056:
            t_add = tc + 2 * SECOND + _lognormal_ms(rng, 20.0, 1.0)
            plan.append((t_add, added, {"qualifier": "mental_health"}))
            if rng.random() < 0.1:
                t_rm = t_add + MINUTE + _lognormal_ms(rng, 60.0, 0.8)
                plan.append((t_rm, "incident.qualifier_removed.v1", {"qualifier": "mental_health"}))
        return plan

    def _emit_qualifiers(
        self,
        iid: str,
        plan: list[tuple[int, str, dict[str, Any]]],
        tg: int,
        terminal: int,
        facts: IncidentFacts,
    ) -> None:
        """Emit the plan, moving anything at or after the terminal event (close, cancellation,
        merge) before it; the facts note the qualifiers emitted and those present at the end."""
        ctx = self.ctx
        last = tg
        for t, etype, data in plan:
            if t >= terminal:
                t = last + max(1, (terminal - last) // 2)
                if t >= terminal:
                    continue  # no room left before the terminal event
            last = max(last, t)
            if not ctx.emit("cad", etype, t, iid, data):
                continue
            added = etype.endswith("added.v1")
            if data["qualifier"] == "mental_health":
                facts.mental_health_now = added
                facts.mental_health_ever |= added
            elif data["qualifier"] == "asb" and added:
                facts.asb_qualifier = True

    def _regrade(self, g0: str) -> tuple[str, str | None]:
        u = self.ctx.rng.random()
        for new, p, reason in REGRADES[g0]:
            if u < p:
                return new, reason
            u -= p
        return g0, None

    def _deploy_and_close(
        self,
        iid: str,
        o: IncidentOrigin,
        cat: Category,
        district: District,
        urban: bool,
        da: bool,
        g0: str,
        facts: IncidentFacts,
        tc: int,
        tg: int,
        crime_f: float,
    ) -> int:
        """Regrade, attendance, closure and any crime; returns the closing time."""
        ctx, rng = self.ctx, self.ctx.rng
        self_init = o.channel == "self_initiated"
        g1, reason = self._regrade(g0)
        arrival: int | None = None
        if g1 == RWD:
            t_close = tg + MINUTE + _lognormal_ms(rng, 180.0, 1.0)
            t_regrade = min(tg + SECOND + _lognormal_ms(rng, 10.0, 0.8), (tg + t_close) // 2)
        else:
            if self_init:
                ta = tg + SECOND + rng.randrange(60 * SECOND)
                arrival = ta + SECOND + rng.randrange(60 * SECOND)
            else:
                ta = tg + SECOND + _lognormal_ms(rng, *DISPATCH[g1])
                travel = TRAVEL[g1][0 if urban else 1]
                arrival = ta + SECOND + _lognormal_ms(rng, *travel)
                target = TARGET_MS.get((g1, urban))
                if target is not None and arrival - tc == target:
                    arrival += 1
            never = not self_init and rng.random() < 0.03
            ctx.emit("cad", "incident.resource_assigned.v1", ta, iid, {})
            t_regrade = tg + 1 + int(rng.random() * (arrival - tg - 2))
            if never:
                t_close = arrival + _lognormal_ms(rng, 240.0, 0.8)
                arrival = None
            else:
                arrived: dict[str, Any] = {}
                target = TARGET_MS.get((g1, urban))
                if target is not None and arrival - tc > target and rng.random() < 0.6:
                    arrived["delay_reason"] = rng.choice(DELAY_REASONS)
                if ctx.emit("cad", "incident.resource_arrived.v1", arrival, iid, arrived):
                    facts.arrived = arrival
                t_close = arrival + MINUTE + _lognormal_ms(rng, 70.0, 0.8)
        if reason is not None:
            data = {"old_grade": g0, "new_grade": g1, "reason": reason}
            if ctx.emit("cad", "incident.regraded.v1", t_regrade, iid, data):
                facts.regraded, facts.new_grade = t_regrade, g1
        final = cat.code
        if final in RECATEGORISE and rng.random() < 0.12:
            final = rng.choice(RECATEGORISE[final])
        if ctx.emit("cad", "incident.closed.v1", t_close, iid, {"final_category": final}):
            facts.closed, facts.final_asb = True, final in ASB_CATEGORIES
        final_cat = CATEGORY_BY_CODE[final]
        if final_cat.offences and rng.random() < final_cat.crime_p * crime_f:
            self._crime(iid, o, final_cat, district, urban, da, tc)
        return t_close

    def _crime(
        self,
        iid: str,
        o: IncidentOrigin,
        cat: Category,
        district: District,
        urban: bool,
        da: bool,
        tc: int,
    ) -> None:
        rng = self.ctx.rng
        offence = self.ctx.weighted_code(cat.offences)
        strand = None
        if cat.hate_p and rng.random() < cat.hate_p:
            strand = HATE_STRANDS[bisect(_STRAND_CUM, rng.random() * _STRAND_CUM[-1])][0]
        self.crimes.crime(
            CrimeOrigin(
                reported_at=tc + MINUTE + rng.randrange(20 * MINUTE),
                first_report=o.first_report,
                offence=offence,
                district=district.name,
                area=district.area,
                urban=urban,
                domestic_abuse=da or rng.random() < 0.04,
                hate_strand=strand,
                incident_id=iid,
                contact_id=o.contact_id,
            )
        )
