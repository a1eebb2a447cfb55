"""The staffing maths against the simulator's queue (an event-by-event Erlang-A queue).

Required handlers come from the formula; the simulator's queue (``QueueSim``) is then run with that
many handlers on a long stream of callers and its achieved service level is compared with the
formula's. The first case draws exponential handle times and patience (Erlang-A's assumptions);
the second uses the simulator's own 999 queue (lognormal handle time and patience with a spike of
very impatient callers) and measures handle time and patience from the run, as the hub does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from streams.domain.staffing import erlang_a_figures, patience_seconds, required_agents_a
from streams.sources.simulator.contacts import Q999
from streams.sources.simulator.queues import ABANDONED, ANSWERED, Entry, QueueSim

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


class Run:
    """Outcome counts of one simulated queue run."""

    def __init__(self) -> None:
        self.answered = self.within = self.abandoned = self.arrivals = 0
        self.wait_total_s = 0.0
        self.service_total_s = 0.0

    @property
    def service_level(self) -> float:
        return self.within / self.answered

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.arrivals


def simulate_queue(
    agents: int,
    rate_per_s: float,
    service: Callable[[random.Random], float],
    patience: Callable[[random.Random], float],
    threshold_s: float,
    hours: int,
    seed: int,
) -> Run:
    rng = random.Random(seed)
    run = Run()

    def done(e: Entry, outcome: str, when: int) -> None:
        wait = (when - e.arrival) / 1000
        run.wait_total_s += wait
        if outcome == ANSWERED:
            run.answered += 1
            run.within += wait < threshold_s
            run.service_total_s += e.service / 1000
        elif outcome == ABANDONED:
            run.abandoned += 1

    queue = QueueSim("q", lambda _hour: agents, 0)
    t = 0.0
    end = hours * HOUR_MS
    while True:
        t += rng.expovariate(rate_per_s) * 1000
        if t >= end:
            break
        run.arrivals += 1
        queue.add(
            Entry(
                int(t),
                max(1, int(patience(rng) * 1000)),
                max(1, int(service(rng) * 1000)),
                None,
                0,
                done,
            )
        )
    queue.run_until(end + 10 * HOUR_MS)
    return run


def test_required_handlers_meet_the_target_in_the_simulator() -> None:
    rate, handle, patience, threshold, target = 120 / 3600, 240.0, 180.0, 20.0, 0.80
    needed = required_agents_a(rate, handle, patience, threshold, target)
    assert needed is not None
    n = needed.agents

    def sim(agents: int, seed: int) -> Run:
        return simulate_queue(
            agents,
            rate,
            lambda r: r.expovariate(1 / handle),
            lambda r: r.expovariate(1 / patience),
            threshold,
            hours=400,
            seed=seed,
        )

    at_n, below = sim(n, 1), sim(n - 1, 2)
    # the formula's figures are what the simulator achieves (about 48,000 callers per run)
    assert at_n.service_level == pytest.approx(needed.service_level, abs=0.02)
    assert at_n.abandon_rate == pytest.approx(needed.p_abandon, abs=0.01)
    assert at_n.service_level >= target - 0.02
    # and one handler fewer misses the target, as the formula says
    fewer = erlang_a_figures(n - 1, rate, handle, patience, threshold)
    assert fewer.service_level < target
    assert below.service_level == pytest.approx(fewer.service_level, abs=0.02)
    assert below.service_level < at_n.service_level


def test_measured_patience_predicts_the_simulators_999_queue() -> None:
    """The 999 queue as the simulator draws it; handle time and patience measured from a run."""
    spec = Q999
    threshold, target = 10.0, 0.90
    rate = 30 / 3600

    def service(r: random.Random) -> float:
        return spec.service_median_s * math.exp(spec.service_sd * r.gauss(0, 1))

    def patience(r: random.Random) -> float:
        if r.random() < spec.short_share:
            return 0.2 + r.random() * 4.5
        return spec.patience_median_s * math.exp(spec.patience_sd * r.gauss(0, 1))

    # a week of history, under-staffed so callers abandon: the hub's view of handle time and patience
    history = simulate_queue(7, rate, service, patience, threshold, hours=24 * 14, seed=3)
    handle = history.service_total_s / history.answered
    measured = patience_seconds(history.abandoned, history.wait_total_s)
    assert measured is not None
    needed = required_agents_a(rate, handle, measured, threshold, target)
    assert needed is not None
    achieved = simulate_queue(needed.agents, rate, service, patience, threshold, hours=24 * 60, seed=4)
    assert achieved.service_level >= target - 0.03
    assert achieved.service_level == pytest.approx(needed.service_level, abs=0.04)
    short = simulate_queue(needed.agents - 1, rate, service, patience, threshold, hours=24 * 60, seed=5)
    assert short.service_level < achieved.service_level
