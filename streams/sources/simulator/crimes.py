"""Crimes: reported -> recorded (Home Office code, flags) -> QA/Linking -> reclassified / cancelled
-> outcome, and the QA/Linking queue with a workload-dependent backlog.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections import deque
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from streams.sources.simulator.clock import (
    DAY,
    HOUR,
    MINUTE,
    iso,
    local_day_start,
    local_hour_info,
    next_local_midnight,
)
from streams.sources.simulator.context import ForceContext
from streams.sources.simulator.reference import (
    CYBER_OFFENCES,
    DA_OFFENCES,
    HATE_OFFENCES,
    OUTCOMES,
    RECLASSIFY,
    RURAL_OFFENCES,
)
from streams.sources.simulator.truth import CrimeFacts

_OUTCOME_CUM = list(accumulate(o[1] for o in OUTCOMES))
NCRS_MS = 24 * HOUR


@dataclass(slots=True)
class CrimeOrigin:
    """Where a crime comes from: its first report, link and place."""

    reported_at: int
    first_report: int
    offence: str
    district: str
    area: str | None
    urban: bool
    domestic_abuse: bool
    hate_strand: str | None
    incident_id: str | None = None
    online_report_id: str | None = None
    contact_id: str | None = None


class QaQueue:
    """The IMU QA/Linking queue: FIFO, worked in daytime slots whose number per day follows a
    staffing plan (weekday heavy, a slow staffing wave, and extra effort when the backlog is high), so
    the depth grows over weekends and lean periods and shrinks again."""

    def __init__(self, ctx: ForceContext, daily_inflow: float, start_ms: int, seed: int = 0) -> None:
        self.ctx = ctx
        # a stream of its own: the day's capacity follows the backlog, so drawing it from the force's
        # shared stream would let any change of crime volume shift every later event of other kinds
        self.rng = random.Random(f"demandhub-sim-qa:{seed}:{ctx.force}")
        self.daily_inflow = daily_inflow
        self.pending: list[tuple[int, str]] = []
        self.fifo: deque[tuple[int, str]] = deque()
        self.slots: deque[int] = deque()
        self.next_day = local_day_start(start_ms)

    def enter(self, t: int, crime_id: str) -> None:
        """A crime joins the queue at ``t`` (its entered event is emitted by the caller)."""
        self.pending.append((t, crime_id))

    def _plan_day(self, day_start: int) -> None:
        rng = self.rng
        _, weekday, _, _ = local_hour_info(day_start + 12 * HOUR)
        day_no = day_start // DAY
        wave = 1.0 + 0.12 * math.sin(2 * math.pi * day_no / 173.0)
        wave -= 0.08 * math.sin(2 * math.pi * day_no / 61.0)
        weekday_factor = 1.22 if weekday < 5 else 0.45
        backlog = len(self.fifo) + len(self.pending)
        excess = max(0.0, backlog - 1.5 * self.daily_inflow)
        mean = self.daily_inflow * weekday_factor * wave + 0.06 * excess
        capacity = max(0, round(mean + rng.gauss(0, math.sqrt(max(mean, 1.0)))))
        open_h, close_h = (7, 19) if weekday < 5 else (9, 17)
        lo, hi = day_start + open_h * HOUR, day_start + close_h * HOUR
        self.slots.extend(sorted(lo + rng.randrange(hi - lo) for _ in range(capacity)))

    def run_until(self, end_ms: int) -> None:
        """Work the queue up to ``end_ms``: each slot takes the oldest item that entered before it."""
        self.pending.sort()
        pending = deque(self.pending)
        self.pending = []
        fifo = self.fifo
        while True:
            if not self.slots:
                if self.next_day >= end_ms:
                    break
                self._plan_day(self.next_day)
                self.next_day = next_local_midnight(self.next_day)
                continue
            slot = self.slots[0]
            if slot >= end_ms:
                break
            self.slots.popleft()
            while pending and pending[0][0] < slot:
                fifo.append(pending.popleft())
            if fifo:
                _, crime_id = fifo.popleft()
                self.ctx.emit("crime", "crime.qa_queue_exited.v1", slot, crime_id, {"queue": "qa_linking"})
        while pending and pending[0][0] < end_ms:
            fifo.append(pending.popleft())
        self.pending = list(pending)


class CrimeModel:
    """Generates one crime's whole lifecycle and its truth contributions."""

    def __init__(self, ctx: ForceContext, qa: QaQueue) -> None:
        self.ctx = ctx
        self.qa = qa

    def crime(self, o: CrimeOrigin) -> str:
        """Generate the crime reported by ``o``; returns its id."""
        ctx, rng = self.ctx, self.ctx.rng
        cid = ctx.subject("R")
        reported: dict[str, Any] = {"first_reported_at": iso(o.first_report)}
        if o.incident_id:
            reported["incident_id"] = o.incident_id
        if o.online_report_id:
            reported["online_report_id"] = o.online_report_id
        if o.contact_id:
            reported["contact_id"] = o.contact_id
        ctx.emit("crime", "crime.reported.v1", o.reported_at, cid, reported)
        recorded_at = self._recorded_at(o)
        flags = self._flags(o)
        occurred = o.first_report - int(2 * HOUR * math.exp(1.2 * rng.gauss(0, 1)))
        emitted = ctx.emit(
            "crime",
            "crime.recorded.v1",
            recorded_at,
            cid,
            {
                "offence_code": o.offence,
                "flags": flags,
                "district": o.district,
                "area": o.area,
                "occurred_at": iso(occurred),
            },
        )
        if not emitted:
            return cid
        facts = CrimeFacts(recorded_at, o.first_report, occurred, bool(flags["domestic_abuse"]))
        ctx.record("crime", facts)
        qa_at = recorded_at + rng.randrange(MINUTE, 30 * MINUTE)
        if ctx.emit("crime", "crime.qa_queue_entered.v1", qa_at, cid, {"queue": "qa_linking"}):
            self.qa.enter(qa_at, cid)
        cancelled_at = self._changes(cid, o.offence, recorded_at)
        self._outcome(cid, recorded_at, cancelled_at, facts)
        facts.counted = cancelled_at is None or cancelled_at >= ctx.end
        return cid

    def _recorded_at(self, o: CrimeOrigin) -> int:
        rng = self.ctx.rng
        if rng.random() < 0.86:
            delay = 3 * HOUR * math.exp(1.0 * rng.gauss(0, 1))
        else:
            delay = 60 * HOUR * math.exp(0.8 * rng.gauss(0, 1))
        t = o.reported_at + MINUTE + int(delay)
        if t - o.first_report == NCRS_MS:
            t += 1
        return t

    def _flags(self, o: CrimeOrigin) -> dict[str, Any]:
        rng = self.ctx.rng
        code = o.offence
        strands = [o.hate_strand] if o.hate_strand and code in HATE_OFFENCES else []
        return {
            "domestic_abuse": o.domestic_abuse and code in DA_OFFENCES,
            "hate_strands": strands,
            "cyber": code in CYBER_OFFENCES and rng.random() < (0.9 if code == "53J" else 0.3),
            "rural": (not o.urban) and code in RURAL_OFFENCES and rng.random() < 0.2,
            "modern_slavery": code == "106",
        }

    def _changes(self, cid: str, offence: str, recorded_at: int) -> int | None:
        """Reclassification and cancellation (nothing follows a cancellation); returns the
        cancellation instant if any."""
        ctx, rng = self.ctx, self.ctx.rng
        reclassified: tuple[int, str] | None = None
        if offence in RECLASSIFY and rng.random() < 0.04:
            t = recorded_at + int(4 * DAY * math.exp(0.8 * rng.gauss(0, 1)))
            reclassified = (t, rng.choice(RECLASSIFY[offence]))
        cancelled_at = None
        if rng.random() < 0.02:
            cancelled_at = recorded_at + MINUTE + int(10 * DAY * math.exp(0.9 * rng.gauss(0, 1)))
            reason = rng.choice(("additional_verifiable_information", "crime_in_another_force_area"))
            ctx.emit("crime", "crime.cancelled.v1", cancelled_at, cid, {"reason": reason})
        if reclassified and (cancelled_at is None or reclassified[0] < cancelled_at):
            ctx.emit(
                "crime", "crime.reclassified.v1", reclassified[0], cid, {"offence_code": reclassified[1]}
            )
        return cancelled_at

    def _outcome(self, cid: str, recorded_at: int, cancelled_at: int | None, facts: CrimeFacts) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        i = bisect(_OUTCOME_CUM, rng.random() * _OUTCOME_CUM[-1])
        otype, _, median_days, sd = OUTCOMES[i]
        t = recorded_at + HOUR + int(median_days * DAY * math.exp(sd * rng.gauss(0, 1)))
        if cancelled_at is not None and cancelled_at <= t:
            return
        data = self._disposal(otype)
        if ctx.emit("crime", "crime.outcome_assigned.v1", t, cid, data):
            facts.outcome_type, facts.outcome_at = otype, t
        if otype in (14, 15, 16, 18) and rng.random() < 0.03:
            t2 = t + MINUTE + int(20 * DAY * math.exp(0.8 * rng.gauss(0, 1)))
            changed = cancelled_at is None or t2 < cancelled_at
            if changed and ctx.emit("crime", "crime.outcome_changed.v1", t2, cid, self._disposal(1)):
                facts.outcome_type, facts.outcome_at = 1, t2

    def _disposal(self, otype: int) -> dict[str, Any]:
        rng = self.ctx.rng
        data: dict[str, Any] = {"outcome_type": otype}
        if otype == 1:
            data["subtype"] = "charged" if rng.random() < 0.85 else "summonsed"
            data["offender_age_band"] = "adult" if rng.random() < 0.88 else "youth"
        elif otype in (2, 3):
            data["subtype"] = "conditional" if rng.random() < 0.35 else "simple"
            data["offender_age_band"] = "youth" if otype == 2 else "adult"
        elif otype == 8:
            data["subtype"] = "community_resolution"
            data["offender_age_band"] = "adult" if rng.random() < 0.7 else "youth"
        return data
