"""Social media contact: message threads on the force's platforms (issue 22).

A thread: received -> [public withdraws it before any reply: closed by the public] | assigned ->
responded (first reply) -> further replies -> closed by a handler with a disposition (sometimes the
public closes it after a reply instead).

Arrivals are a non-homogeneous Poisson process per local hour like the other series:
``yearly_volume(year) / 8766 * hour_of_day[h] * day_of_week[d] * season[m]``, the yearly volume at
scale 1 growing logistically from about 4k threads in 2018 and 7k in 2019 towards 36k (forces had to
take crime, incident and intelligence reports over social media from 2021). Threads peak in the
evening.

First response (lognormal minutes): median 20 in the day (07-19 local), 35 in the evening, 180
overnight (23-07, a thin desk), log-sd 0.9; the median drifts up 5 % a year after 2021 as demand
outgrows the desk. 6 % of senders withdraw: 40 % of them within two minutes (sent in error: short
abandons under the default definition), the rest after a lognormal wait (median 90 min, log-sd 1.0);
a thread withdrawn before its first reply is abandoned. Dispositions: incident created 10 %, crime
reported 8 %, intelligence 12 %, advice 45 %, no action 25 %. A thread closed with an incident or a
crime opens it through the force's incident and crime generators at the close (incident channel
``other``, first reported when the thread was received; a crime of the kinds reported online), so
the linked records exist in the CAD and crime feeds, with their whole lifecycles, and count in their
domains' figures and truth like any other; the crime's first report is the thread's receipt (NCRS).

The model draws from random streams of its own, also while it drives the incident and crime
generators, so the other channels' draws are unchanged; the incidents and crimes it adds take the
next ids and places in the QA/Linking queue.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from itertools import accumulate

import numpy as np

from streams.sources.simulator.clock import HOUR, MINUTE, SECOND, local_hour_info
from streams.sources.simulator.context import ForceContext
from streams.sources.simulator.crimes import CrimeOrigin
from streams.sources.simulator.demand import REFERENCE_YEAR, SEASON, _norm
from streams.sources.simulator.geography import District
from streams.sources.simulator.incidents import IncidentModel, IncidentOrigin
from streams.sources.simulator.reference import ONLINE_OFFENCES
from streams.sources.simulator.truth import ThreadFacts

SOURCE = "social"
TARGET_MS = 60 * MINUTE  # social.first_response_target_minutes (default)
SHORT_MS = 2 * MINUTE  # social.short_abandon_minutes (default)

HOUR_OF_DAY = _norm(
    (
        *(0.6, 0.4, 0.25, 0.2, 0.2, 0.25, 0.4, 0.7, 1.0, 1.15, 1.2, 1.25),
        *(1.3, 1.3, 1.25, 1.25, 1.3, 1.4, 1.5, 1.6, 1.6, 1.5, 1.2, 0.9),
    )
)
DAY_OF_WEEK = _norm((0.95, 0.95, 0.97, 0.98, 1.02, 1.08, 1.05))  # Monday first
PLATFORMS = (("facebook", 0.45), ("x", 0.25), ("instagram", 0.15), ("nextdoor", 0.1), ("tiktok", 0.05))
KINDS = (("direct_message", 0.7), ("public_post", 0.2), ("comment", 0.1))
DISPOSITIONS = (
    ("incident_created", 0.10),
    ("crime_reported", 0.08),
    ("intelligence", 0.12),
    ("advice", 0.45),
    ("no_action", 0.25),
)
WITHDRAW_SHARE = 0.06
QUICK_WITHDRAW_SHARE = 0.4
PUBLIC_CLOSE_AFTER_REPLY = 0.03


def yearly_volume(year: float) -> float:
    """Expected threads per year at scale 1 at fractional ``year`` (logistic growth)."""
    return 36_000.0 / (1.0 + math.exp(-0.7 * (year - REFERENCE_YEAR - 3.0)))


def hourly_rate(hour_start_ms: int) -> float:
    """Expected threads in the local hour starting at ``hour_start_ms`` (scale 1)."""
    hour, weekday, month, year = local_hour_info(hour_start_ms)
    return (
        yearly_volume(year) / 8766.0 * HOUR_OF_DAY[hour] * DAY_OF_WEEK[weekday] * SEASON["webchat"][month - 1]
    )


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    cum = list(accumulate(w for _, w in table))
    return table[bisect(cum, rng.random() * cum[-1])][0]


class SocialModel:
    """Generates the social media threads of one force and records their truth."""

    def __init__(self, ctx: ForceContext, volume: float, seed: int, incidents: IncidentModel) -> None:
        self.ctx = ctx
        self.volume = volume
        self.incidents = incidents
        self.rng = random.Random(f"demandhub-sim-social:{seed}:{ctx.force}")
        self.np = np.random.default_rng(
            [seed & 0xFFFFFFFF, int.from_bytes(ctx.force.encode()[:8], "big"), 22]
        )

    def run_chunk(self, c0: int, c1: int) -> None:
        """Every thread arriving in ``[c0, c1)``."""
        hour = c0 - c0 % HOUR
        while hour < c1:
            lo, hi = max(hour, c0), min(hour + HOUR, c1)
            lam = hourly_rate(hour) * self.volume * (hi - lo) / HOUR
            n = int(self.np.poisson(lam)) if lam > 0 else 0
            for t in sorted(lo + int(self.rng.random() * (hi - lo)) for _ in range(n)):
                self.thread(t)
            hour += HOUR

    def _response_ms(self, t: int) -> int:
        hour, _, _, year = local_hour_info(t - t % HOUR)
        median = 20.0 if 7 <= hour < 19 else 35.0 if 19 <= hour < 23 else 180.0
        median *= max(1.0, 1.0 + 0.05 * (year - REFERENCE_YEAR - 3.0))
        delay = int(median * MINUTE * math.exp(0.9 * self.rng.gauss(0, 1)))
        return max(delay, 30 * SECOND) + (1 if delay == TARGET_MS else 0)

    def _withdraw_ms(self) -> int | None:
        rng = self.rng
        if rng.random() >= WITHDRAW_SHARE:
            return None
        if rng.random() < QUICK_WITHDRAW_SHARE:
            return int((10 + rng.random() * 100) * SECOND)  # sent in error: under two minutes
        return max(int(90 * MINUTE * math.exp(rng.gauss(0, 1))), SHORT_MS + SECOND)

    def _district(self) -> District:
        cum = self.ctx._district_cum
        return self.ctx.districts[bisect(cum, self.rng.random() * cum[-1])]

    def _linked(
        self, disposition: str, received: int, at: int, district: District | None
    ) -> dict[str, object]:
        """The incident or crime the thread's close names, generated through the force's incident and
        crime models (drawing from this model's random stream): ``{}`` for other dispositions."""
        if disposition not in ("incident_created", "crime_reported"):
            return {}
        ctx, rng = self.ctx, self.rng
        # the thread's incident is not the latest incident of the CAD feed's own sequence (a later
        # call's duplicate-of draw looks at that one)
        shared, latest, ctx.rng = ctx.rng, self.incidents.last, rng
        try:
            place = district or self._district()
            if disposition == "incident_created":
                origin = IncidentOrigin(at, "other", received, district=place)
                return {"incident_id": self.incidents.incident(origin)}
            crime = CrimeOrigin(
                reported_at=at,
                first_report=received,
                offence=_pick(rng, ONLINE_OFFENCES),
                district=place.name,
                area=place.area,
                urban=rng.random() < place.urban_share,
                domestic_abuse=False,
                hate_strand=None,
            )
            return {"crime_id": self.incidents.crimes.crime(crime)}
        finally:
            ctx.rng, self.incidents.last = shared, latest

    def thread(self, t: int) -> None:
        """One thread received at ``t``: its events and its truth."""
        ctx, rng = self.ctx, self.rng
        sid = ctx.subject("S")
        data: dict[str, object] = {"platform": _pick(rng, PLATFORMS), "message_kind": _pick(rng, KINDS)}
        district: District | None = None
        if rng.random() < 0.5:
            district = self._district()
            data["district"] = district.name
        ctx.emit(SOURCE, "social.received.v1", t, sid, data)
        facts = ThreadFacts(t)
        ctx.record("thread", facts)
        response = t + self._response_ms(t)
        withdraw = self._withdraw_ms()
        if withdraw is not None and t + withdraw < response:
            if ctx.emit(
                SOURCE,
                "social.closed.v1",
                t + withdraw,
                sid,
                {"closed_by": "public", "disposition": "no_action"},
            ):
                facts.public_abandon = t + withdraw
            return
        assigned = t + int((response - t) * (0.1 + 0.5 * rng.random()))
        ctx.emit(SOURCE, "social.assigned.v1", assigned, sid, {})
        if not ctx.emit(SOURCE, "social.responded.v1", response, sid, {}):
            return
        facts.first_response = response
        last = response
        for _ in range(0 if rng.random() < 0.4 else 1 if rng.random() < 0.58 else 2):
            last += int((10 + rng.random() * 110) * MINUTE)
            ctx.emit(SOURCE, "social.responded.v1", last, sid, {})
        closed = last + int(30 * MINUTE * math.exp(0.8 * rng.gauss(0, 1)))
        if rng.random() < PUBLIC_CLOSE_AFTER_REPLY:
            ctx.emit(
                SOURCE, "social.closed.v1", closed, sid, {"closed_by": "public", "disposition": "no_action"}
            )
            return
        disposition = _pick(rng, DISPOSITIONS)
        if closed >= ctx.end:
            return  # closed after the end of the run: open in the feed, nothing linked yet
        close: dict[str, object] = {"closed_by": "handler", "disposition": disposition}
        close |= self._linked(disposition, t, closed, district)
        if ctx.emit(SOURCE, "social.closed.v1", closed, sid, close):
            facts.handler_closed = True
            facts.incident_disposition = disposition == "incident_created"
