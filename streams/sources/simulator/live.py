"""Live feed: the simulation paced to the wall clock, stamped so that event time follows "now"."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from streams.sources.simulator.clock import from_ms, iso, to_ms
from streams.sources.simulator.config import SimConfig
from streams.sources.simulator.engine import simulate

_TIME_FIELDS = ("bt_connect_time", "first_reported_at", "occurred_at")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def simulate_live(
    config: SimConfig,
    speed: float = 1.0,
    now_fn: Callable[[], datetime] = _utc_now,
    sleep_fn: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Yield the events of ``config`` started at ``now_fn()``, each when the wall clock reaches it.

    Simulated time runs ``speed`` times faster than the wall clock (1 = real time, 60 = a simulated
    minute per second). Every timestamp (``time`` and the time fields in ``data``) is mapped onto
    the wall clock, ``wall = wall0 + (sim - sim0) / speed``, so each event is stamped with the
    current UTC time when it is yielded and a live wallboard sees it as happening now (at speeds
    above 1 durations shrink by the same factor). ``config.start`` is replaced by the current
    instant; ``config.days`` bounds the run in simulated days.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    wall0 = now_fn()
    sim0_ms = to_ms(wall0)
    wall0_ms = sim0_ms
    live = config.model_copy(update={"start": from_ms(sim0_ms)})

    def wall(ms: int) -> int:
        return wall0_ms + int((ms - sim0_ms) / speed)

    for event in simulate(live):
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
