"""Staffing maths: Erlang-C (M/M/n) and Erlang-A (M/M/n+M, Palm's queue with impatient callers).

Pure functions, no I/O. Times are in seconds, rates per second.

- ``offered load`` A = arrival rate x mean handle time (Erlangs).
- Erlang-C: callers wait for ever. P(wait) from the Erlang-B recursion (stable for hundreds of
  agents); the service level at threshold T is ``1 - P(wait) exp(-(n - A) T / h)``.
- Erlang-A: callers abandon after an exponential patience of mean ``patience_s`` (rate theta). The
  stationary distribution of the birth-death chain is summed until its tail is negligible. The wait
  of a caller who finds ``k`` others waiting is the time for ``k + 1`` departures from the head of the
  queue, each at rate ``n mu + j theta`` with ``j`` callers ahead, while the caller itself abandons at
  rate theta; the chance of being answered within T is the absorption probability of that small
  chain by T (``scipy.sparse.linalg.expm_multiply``).

Patience is measured the way Mandelbaum and Zeltyn recommend for real (non-exponential) patience:
theta = abandons / total time waited, the maximum-likelihood rate from censored waits, which also
equals P(abandon) / E[wait] and keeps Erlang-A accurate when patience is not exponential.

Service level here is on the answered basis (answered within T / answered), the hub's default
convention; ``QueueFigures.answered_within_share`` is the offered basis (answered within T / all
arrivals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import expm_multiply

MAX_AGENTS = 2000
MAX_QUEUE = 20_000  # waiting callers summed at most (a deeply overloaded queue with endless patience)
_TAIL = 1e-12


@dataclass(frozen=True)
class QueueFigures:
    """Steady-state figures of one queue with ``agents`` servers."""

    agents: int
    offered_load: float  # Erlangs
    p_wait: float  # an arrival has to wait
    p_abandon: float  # an arrival abandons (0 for Erlang-C)
    answered_within_share: float  # answered within T / arrivals
    service_level: float  # answered within T / answered
    asa_seconds: float  # mean wait of every arrival (answered or not)
    occupancy: float  # share of agent time busy


def erlang_b(agents: int, load: float) -> float:
    """Erlang-B blocking probability for ``agents`` servers and ``load`` Erlangs (recursion)."""
    if agents < 0 or load < 0:
        raise ValueError("agents and load must be non-negative")
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(agents: int, load: float) -> float:
    """Erlang-C probability of waiting (1.0 when the queue is unstable, ``load >= agents``)."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return 1.0
    b = erlang_b(agents, load)
    return agents * b / (agents - load * (1 - b))


def erlang_c_figures(agents: int, arrival_rate: float, handle_s: float, threshold_s: float) -> QueueFigures:
    """Erlang-C figures for ``agents`` with ``arrival_rate`` per second and mean handle ``handle_s``."""
    load = arrival_rate * handle_s
    pw = erlang_c(agents, load)
    if agents <= load:
        return QueueFigures(agents, load, 1.0, 0.0, 0.0, 0.0, math.inf, 1.0)
    within = 1.0 - pw * math.exp(-(agents - load) * threshold_s / handle_s)
    asa = pw * handle_s / (agents - load)
    occ = load / agents if agents else 0.0
    return QueueFigures(agents, load, pw, 0.0, within, within, asa, occ)


def _erlang_a_distribution(agents: int, lam: float, mu: float, theta: float) -> np.ndarray:
    """Stationary probabilities of 0, 1, ... callers in an M/M/n+M system (truncated tail)."""
    logs = [0.0]
    for j in range(1, agents + 1):
        logs.append(logs[-1] + math.log(lam) - math.log(j * mu))
    k, top, cut = 0, max(logs), math.log(_TAIL)
    while True:
        k += 1
        logs.append(logs[-1] + math.log(lam) - math.log(agents * mu + k * theta))
        top = max(top, logs[-1])
        if (k > 20 and logs[-1] - top < cut) or k >= MAX_QUEUE:
            break
    arr = np.array(logs)
    arr = np.exp(arr - arr.max())
    return np.asarray(arr / arr.sum())


def erlang_a_figures(
    agents: int, arrival_rate: float, handle_s: float, patience_s: float, threshold_s: float
) -> QueueFigures:
    """Erlang-A figures for ``agents``, arrivals per second, mean handle and mean patience (seconds)."""
    if agents < 1:
        raise ValueError("at least one agent")
    if arrival_rate <= 0:
        return QueueFigures(agents, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0)
    if not math.isfinite(patience_s) or patience_s <= 0:
        raise ValueError("patience must be a positive, finite number of seconds")
    lam, mu, theta = arrival_rate, 1.0 / handle_s, 1.0 / patience_s
    p = _erlang_a_distribution(agents, lam, mu, theta)
    queue = p[agents:]  # n + k callers in the system: k = 0, 1, ... already waiting
    ks = np.arange(len(queue))
    p_wait = float(queue.sum())
    mean_queue = float((ks * queue).sum())
    p_abandon = theta * mean_queue / lam
    busy = float((np.minimum(np.arange(len(p)), agents) * p).sum())
    answered_within = (1.0 - p_wait) + p_wait * _answered_by(queue, agents * mu, theta, threshold_s)
    answered = max(1e-15, 1.0 - p_abandon)
    return QueueFigures(
        agents=agents,
        offered_load=lam * handle_s,
        p_wait=p_wait,
        p_abandon=p_abandon,
        answered_within_share=answered_within,
        service_level=min(1.0, answered_within / answered),
        asa_seconds=mean_queue / lam,  # mean wait of every arrival (Little's law)
        occupancy=busy / agents,
    )


def _answered_by(queue: np.ndarray, service_rate: float, theta: float, threshold_s: float) -> float:
    """P(answered within ``threshold_s`` | the arrival waits), arrivals seeing ``queue`` (PASTA).

    States 0..K are "i callers ahead"; state K+1 is answered, K+2 abandoned (both absorbing). From
    state i the head of the queue moves at ``service_rate + i theta`` (to i-1, or answered from 0)
    and the caller abandons at theta. The absorbed mass in "answered" at T is exact."""
    total = float(queue.sum())
    if total <= 0 or threshold_s <= 0:
        return 0.0
    size = len(queue)
    ks = np.arange(size)
    down = service_rate + ks * theta
    rows = np.concatenate([ks, ks[1:], [0], ks])
    cols = np.concatenate([ks, ks[1:] - 1, [size], np.full(size, size + 1)])
    vals = np.concatenate([-(down + theta), down[1:], [down[0]], np.full(size, theta)])
    q = csc_matrix((vals, (rows, cols)), shape=(size + 2, size + 2))
    start = np.zeros(size + 2)
    start[:size] = queue / total
    # row-vector evolution p(T) = p(0) exp(Q T), computed as exp(Q^T T) p(0)
    end = expm_multiply((q.T * threshold_s).tocsc(), start)
    return float(min(1.0, max(0.0, end[size])))


@dataclass(frozen=True)
class Requirement:
    """Agents needed for a service-level target, by model."""

    erlang_c: int | None  # None: not reachable within MAX_AGENTS
    erlang_a: int | None
    figures_c: QueueFigures | None
    figures_a: QueueFigures | None


def required_agents_c(
    arrival_rate: float, handle_s: float, threshold_s: float, target: float, max_agents: int = MAX_AGENTS
) -> QueueFigures | None:
    """The fewest agents whose Erlang-C service level at ``threshold_s`` reaches ``target``."""
    if arrival_rate <= 0:
        return erlang_c_figures(0, 0.0, handle_s, threshold_s)
    load = arrival_rate * handle_s
    for n in range(max(1, math.floor(load) + 1), max_agents + 1):
        f = erlang_c_figures(n, arrival_rate, handle_s, threshold_s)
        if f.service_level >= target:
            return f
    return None


def required_agents_a(
    arrival_rate: float,
    handle_s: float,
    patience_s: float,
    threshold_s: float,
    target: float,
    max_agents: int = MAX_AGENTS,
    hint: int | None = None,
) -> QueueFigures | None:
    """The fewest agents whose Erlang-A service level (answered basis) reaches ``target``.

    The service level rises with agents. The search starts at ``hint`` (the Erlang-C answer: impatient
    callers lighten the load, so Erlang-A rarely needs more) and steps down while the target is still
    met, or up until it is; without a hint it starts at half the load."""
    if arrival_rate <= 0:
        return QueueFigures(0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0)

    def at(n: int) -> QueueFigures:
        return erlang_a_figures(n, arrival_rate, handle_s, patience_s, threshold_s)

    n = max(1, min(max_agents, hint if hint else math.floor(arrival_rate * handle_s * 0.5)))
    f = at(n)
    if f.service_level >= target:
        while n > 1:
            below = at(n - 1)
            if below.service_level < target:
                break
            n, f = n - 1, below
        return f
    while n < max_agents:
        n += 1
        f = at(n)
        if f.service_level >= target:
            return f
    return None


@lru_cache(maxsize=512)
def requirement(
    arrival_rate: float, handle_s: float, patience_s: float | None, threshold_s: float, target: float
) -> Requirement:
    """Agents needed under Erlang-C and (when a patience is known) Erlang-A."""
    fc = required_agents_c(arrival_rate, handle_s, threshold_s, target)
    fa = (
        required_agents_a(
            arrival_rate, handle_s, patience_s, threshold_s, target, hint=fc.agents if fc else None
        )
        if patience_s is not None and math.isfinite(patience_s) and patience_s > 0
        else None
    )
    return Requirement(fc.agents if fc is not None else None, fa.agents if fa is not None else None, fc, fa)


def patience_seconds(abandons: int, total_wait_s: float) -> float | None:
    """Mean patience from censored waits: total time waited by every queued caller / abandons
    (the maximum-likelihood estimate for exponential patience; None without abandons)."""
    if abandons <= 0 or total_wait_s <= 0:
        return None
    return total_wait_s / abandons


def handlers_for(servers: int | None, per_handler: int) -> int | None:
    """Handlers needed for ``servers`` concurrent contact slots (web chat: two chats per handler)."""
    if servers is None:
        return None
    return math.ceil(servers / max(1, per_handler))
