"""One force's generator: arrivals per local hour (non-homogeneous Poisson), then queues, incidents,
crimes, the QA/Linking queue and social media threads, one time chunk at a time."""

from __future__ import annotations

import math
import random

import numpy as np

from streams.sources.simulator.clock import HOUR, local_day_start
from streams.sources.simulator.contacts import ContactModel
from streams.sources.simulator.context import ForceContext
from streams.sources.simulator.crimes import CrimeModel, QaQueue
from streams.sources.simulator.demand import hourly_rates, yearly_volume
from streams.sources.simulator.geography import force_size
from streams.sources.simulator.incidents import IncidentModel, IncidentOrigin
from streams.sources.simulator.social import SocialModel

DAILY_SHOCK_SD = 0.08  # day-to-day demand variation staffing does not foresee


class ForceModel:
    """Generates everything for one force; :meth:`run_chunk` advances it over ``[c0, c1)``."""

    def __init__(self, ctx: ForceContext, seed: int, scale: float, staffing: float, start: int) -> None:
        self.ctx = ctx
        self.volume = scale * force_size(ctx.force)
        self.np = np.random.default_rng([seed & 0xFFFFFFFF, int.from_bytes(ctx.force.encode()[:8], "big")])
        self.seed = seed
        year = 1970 + start / (365.2425 * 86_400_000)
        inflow = 62_000.0 / 365.0 * self.volume * (yearly_volume("999", year) / 130_000.0) ** 0.5
        self.qa = QaQueue(ctx, inflow, start, seed)
        self.crimes = CrimeModel(ctx, self.qa)
        self.incidents = IncidentModel(ctx, self.crimes)
        self.contacts = ContactModel(ctx, self.incidents, self.volume, staffing, start)
        self.social = SocialModel(ctx, self.volume, seed, self.incidents)
        self._shock: dict[int, float] = {}

    def _day_shock(self, t: int) -> float:
        day = local_day_start(t)
        shock = self._shock.get(day)
        if shock is None:
            rng = random.Random(f"demandhub-sim-shock:{self.seed}:{self.ctx.force}:{day}")
            shock = math.exp(DAILY_SHOCK_SD * rng.gauss(0, 1) - DAILY_SHOCK_SD**2 / 2)
            if len(self._shock) > 64:
                self._shock.clear()
            self._shock[day] = shock
        return shock

    def _arrivals(self, c0: int, c1: int) -> dict[str, list[int]]:
        """Arrival instants of every series in ``[c0, c1)``, sorted."""
        rng = self.ctx.rng
        out: dict[str, list[int]] = {s: [] for s in ("999", "101", "webchat", "online", "self")}
        hour = c0 - c0 % HOUR
        while hour < c1:
            lo, hi = max(hour, c0), min(hour + HOUR, c1)
            rates = hourly_rates(hour)
            factor = self.volume * (hi - lo) / HOUR
            shock = self._day_shock(hour)
            for series, times in out.items():
                lam = rates[series] * factor * (shock if series != "self" else 1.0)
                n = int(self.np.poisson(lam)) if lam > 0 else 0
                span = hi - lo
                times.extend(sorted(lo + int(rng.random() * span) for _ in range(n)))
            hour += HOUR
        return out

    def run_chunk(self, c0: int, c1: int) -> None:
        """Generate every contact, incident and crime arising in ``[c0, c1)``."""
        arrivals = self._arrivals(c0, c1)
        contacts = self.contacts
        for t in arrivals["999"]:
            contacts.call_999(t)
        for t in arrivals["101"]:
            contacts.call_101(t)
        for t in arrivals["webchat"]:
            contacts.webchat(t)
        contacts.run_queues(c1)
        for t in arrivals["online"]:
            contacts.online_report(t)
        for t in arrivals["self"]:
            self.incidents.incident(IncidentOrigin(t, "self_initiated", t))
        self.qa.run_until(c1)
        self.social.run_chunk(c0, c1)
