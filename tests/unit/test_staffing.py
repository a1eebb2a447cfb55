"""Staffing maths against published Erlang tables, closed forms and exact special cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from streams.domain.staffing import (
    erlang_a_figures,
    erlang_b,
    erlang_c,
    erlang_c_figures,
    handlers_for,
    patience_seconds,
    required_agents_a,
    required_agents_c,
    requirement,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("agents", "load", "blocking"),
    [  # Erlang-B table values (e.g. the ITU / Siemens traffic tables)
        (5, 2.0, 0.0367),
        (10, 5.0, 0.0184),
        (20, 15.0, 0.0456),
        (30, 20.337, 0.01),  # 30 circuits carry 20.337 E at 1 % blocking
        (10, 4.461, 0.01),  # 10 circuits carry 4.461 E at 1 % blocking
    ],
)
def test_erlang_b_table(agents: int, load: float, blocking: float) -> None:
    assert erlang_b(agents, load) == pytest.approx(blocking, abs=6e-4)


def test_erlang_c_closed_forms() -> None:
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # M/M/2: 2 rho^2 / (1 + rho), rho = 0.5
    assert erlang_c(3, 3.0) == 1.0  # unstable: everyone waits
    assert erlang_c(3, 0.0) == 0.0


def test_erlang_c_published_call_centre_example() -> None:
    """The textbook staffing example: 100 calls per half hour, 180 s handle time (A = 10 E):
    11 agents give P(wait) 68.21 % and an ASA of about 123 s; the 80 % in 20 s target needs 14."""
    lam = 100 / 1800
    eleven = erlang_c_figures(11, lam, 180, 20)
    assert eleven.offered_load == pytest.approx(10.0)
    assert eleven.p_wait == pytest.approx(0.6821, abs=1e-4)
    assert eleven.asa_seconds == pytest.approx(122.8, abs=0.1)
    assert eleven.occupancy == pytest.approx(10 / 11)
    needed = required_agents_c(lam, 180, 20, 0.80)
    assert needed is not None and needed.agents == 14
    assert needed.service_level == pytest.approx(0.8884, abs=1e-3)


def test_erlang_c_published_worked_example() -> None:
    """The step-by-step Erlang-C example: 360 calls per half hour, 4 minute calls, 55 agents,
    15 s answer target: 48 E, occupancy 87.3 %, P(wait) 23.9 %, ASA 8.2 s, service level 84.6 %."""
    f = erlang_c_figures(55, 360 / 1800, 240, 15)
    assert f.offered_load == pytest.approx(48.0)
    assert f.occupancy == pytest.approx(0.873, abs=5e-4)
    assert f.p_wait == pytest.approx(0.239, abs=1e-3)
    assert f.asa_seconds == pytest.approx(8.2, abs=0.05)
    assert f.service_level == pytest.approx(0.846, abs=1e-3)


def test_erlang_a_tends_to_erlang_c_with_endless_patience() -> None:
    c = erlang_c_figures(55, 0.2, 240, 15)
    a = erlang_a_figures(55, 0.2, 240, 1e9, 15)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-5)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-5)
    assert a.p_abandon < 1e-6


@pytest.mark.parametrize(("agents", "load"), [(3, 2.5), (10, 12.0), (25, 20.0)])
def test_erlang_a_with_patience_equal_to_handle_time_is_an_infinite_server_queue(
    agents: int, load: float
) -> None:
    """theta = mu: every caller in the system leaves at rate mu, so the number in the system is
    Poisson(A) (M/M/infinity) whatever the number of agents, even above the load."""
    handle = 100.0
    f = erlang_a_figures(agents, load / handle, handle, handle, 10)
    assert f.p_wait == pytest.approx(poisson.sf(agents - 1, load), rel=1e-6)
    mean_queue = sum((k - agents) * poisson.pmf(k, load) for k in range(agents, agents + 200))
    assert f.p_abandon == pytest.approx(mean_queue / load, rel=1e-6)


def test_erlang_a_service_level_at_zero_threshold_is_no_wait() -> None:
    f = erlang_a_figures(8, 0.05, 120, 90, 0)
    assert f.answered_within_share == pytest.approx(1 - f.p_wait)


@settings(max_examples=25, deadline=None)
@given(
    load=st.floats(min_value=0.5, max_value=40),
    patience=st.floats(min_value=10, max_value=600),
    threshold=st.floats(min_value=1, max_value=60),
)
def test_erlang_a_more_agents_serve_better(load: float, patience: float, threshold: float) -> None:
    handle = 200.0
    n = max(1, math.floor(load))
    few = erlang_a_figures(n, load / handle, handle, patience, threshold)
    more = erlang_a_figures(n + 2, load / handle, handle, patience, threshold)
    assert more.p_abandon <= few.p_abandon + 1e-9
    assert more.answered_within_share >= few.answered_within_share - 1e-9
    assert 0 <= few.service_level <= 1 and 0 <= few.p_abandon <= 1


def test_required_agents_are_the_fewest_that_meet_the_target() -> None:
    lam, handle, patience, t, target = 40 / 3600, 250.0, 150.0, 10.0, 0.9
    fa = required_agents_a(lam, handle, patience, t, target)
    assert fa is not None and fa.service_level >= target
    below = erlang_a_figures(fa.agents - 1, lam, handle, patience, t)
    assert below.service_level < target
    req = requirement(lam, handle, patience, t, target)
    assert req.erlang_a == fa.agents and req.erlang_c is not None
    assert req.erlang_a <= req.erlang_c  # impatient callers lighten the load
    assert requirement(lam, handle, None, t, target).erlang_a is None


def test_no_demand_needs_nobody() -> None:
    assert requirement(0.0, 200, 100, 10, 0.9).erlang_c == 0
    assert requirement(0.0, 200, 100, 10, 0.9).erlang_a == 0


def test_patience_and_handlers() -> None:
    assert patience_seconds(4, 480.0) == 120.0
    assert patience_seconds(0, 480.0) is None
    assert handlers_for(5, 2) == 3
    assert handlers_for(None, 2) is None


def test_an_overloaded_queue_with_endless_patience_stays_bounded() -> None:
    """Few abandons make a huge measured patience; the chain is cut at MAX_QUEUE, not left to grow."""
    f = erlang_a_figures(5, 0.1, 200, 1e7, 10)  # 20 Erlangs on 5 agents
    assert f.service_level < 0.05 and f.p_wait > 0.99
    fa = required_agents_a(0.1, 200, 1e7, 10, 0.8)
    fc = required_agents_c(0.1, 200, 10, 0.8)
    assert fa is not None and fc is not None and abs(fa.agents - fc.agents) <= 1


@settings(max_examples=20, deadline=None)
@given(
    rate_per_hour=st.floats(min_value=1, max_value=600),
    patience=st.floats(min_value=20, max_value=900),
    target=st.sampled_from([0.8, 0.9, 0.95]),
)
def test_the_search_from_the_erlang_c_answer_finds_the_fewest_agents(
    rate_per_hour: float, patience: float, target: float
) -> None:
    rate, handle, t = rate_per_hour / 3600, 220.0, 10.0
    fa = required_agents_a(rate, handle, patience, t, target)
    fc = required_agents_c(rate, handle, t, target)
    assert fa is not None and fc is not None
    for hint in (1, fc.agents, fc.agents + 5):
        found = required_agents_a(rate, handle, patience, t, target, hint=hint)
        assert found is not None and found.agents == fa.agents
    assert fa.service_level >= target
    if fa.agents > 1:
        assert erlang_a_figures(fa.agents - 1, rate, handle, patience, t).service_level < target
