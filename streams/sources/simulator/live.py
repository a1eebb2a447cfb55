"""Live feed: the simulation paced to the wall clock, stamped so that event time follows "now"."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from streams.sources.simulator.clock import MINUTE, from_ms, iso, to_ms
from streams.sources.simulator.config import SimConfig
from streams.sources.simulator.engine import Simulation
from streams.sources.simulator.scenarios import NORMAL, Scenario

_TIME_FIELDS = ("bt_connect_time", "first_reported_at", "occurred_at")
LIVE_CHUNK = 15 * MINUTE  # simulated time generated at once: first events at once, even at volume
MAX_SCALE = 1000.0  # SimConfig's bound on the volume scale


def _utc_now() -> datetime:
    return datetime.now(UTC)


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if not n:
            return out


def new_run_id(start: datetime, salt: str | None = None) -> str:
    """A run id for a live run started at ``start``: the start instant in milliseconds (base 36)
    and four random base-36 characters (``salt`` replaces them, for reproducible tests).

    A restarted feed starts later, so its ids never meet an earlier run's; the random part keeps
    two feeds started in the same millisecond apart too."""
    tail = salt if salt is not None else "".join(secrets.choice(_DIGITS) for _ in range(4))
    return _base36(to_ms(start)) + tail


def simulate_live(
    config: SimConfig,
    speed: float = 1.0,
    now_fn: Callable[[], datetime] = _utc_now,
    sleep_fn: Callable[[float], None] = time.sleep,
    scenario: Scenario = NORMAL,
) -> Iterator[dict[str, Any]]:
    """Yield the events of ``config`` started at ``now_fn()``, each when the wall clock reaches it.

    ``speed`` compresses arrivals, not time: ``speed`` times as many contacts and incidents arrive
    per wall-clock minute (the volume scale is multiplied by it, and staffing follows the larger
    demand as it follows any demand), while every duration (queue wait, patience, handling, dispatch
    and travel) keeps its real length. Queueing is therefore real at any speed: a wait of 40 s is 40 s
    on the wallboard against the real 10 s threshold, and queues build when demand outruns the
    handlers. (Dividing every duration by ``speed`` instead would shrink waits below every threshold
    and show empty, green queues.) Simulated time maps onto the wall clock one to one.

    ``scenario`` chooses the simulated calendar, demand and staffing (:mod:`.scenarios`); a scenario
    with a warm-up emits its first minutes at once, stamped in the recent past. ``config.start`` is
    replaced; ``config.days`` bounds the run in simulated days.

    Every event id and entity id carries the run id (``config.run``, or a fresh
    :func:`new_run_id` when it is empty): the generator's counters start at 1 on every start, so
    without it a restarted feed (a second ``demandhub up`` on the same data directory) would reuse
    the previous run's ids and the hub would drop its events as duplicates or quarantine them.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    scale = config.scale * speed * scenario.demand
    if scale > MAX_SCALE:
        raise ValueError(f"speed x scale is {scale:g}; at most {MAX_SCALE:g}")
    wall_now = now_fn()
    sim0_ms = to_ms(scenario.calendar_start(wall_now))
    wall0_ms = to_ms(wall_now) - scenario.warmup_minutes * MINUTE
    live = config.model_copy(
        update={
            "start": from_ms(sim0_ms),
            "run": config.run or new_run_id(wall_now),
            "scale": scale,
            "staffing": min(10.0, config.staffing * scenario.staffing),
        }
    )

    def wall(ms: int) -> int:
        return wall0_ms + (ms - sim0_ms)

    for event in Simulation(live, chunk=LIVE_CHUNK).events():
        t = event.get("time")
        if not isinstance(t, str):
            yield event
            continue
        try:
            due = wall(to_ms(datetime.fromisoformat(t)))
        except ValueError:
            yield event  # a malformed time from fault injection: pass it on as it is
            continue
        delay = (due - to_ms(now_fn())) / 1000.0
        if delay > 0:
            sleep_fn(delay)
        event["time"] = iso(due)
        data = event.get("data")
        if isinstance(data, dict):
            for key in _TIME_FIELDS:
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = iso(wall(to_ms(datetime.fromisoformat(value))))
        yield event
