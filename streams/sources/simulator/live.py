"""Live feed: the simulation paced to the wall clock, stamped so that event time follows "now"."""

from __future__ import annotations

import secrets
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
) -> Iterator[dict[str, Any]]:
    """Yield the events of ``config`` started at ``now_fn()``, each when the wall clock reaches it.

    Simulated time runs ``speed`` times faster than the wall clock (1 = real time, 60 = a simulated
    minute per second). Every timestamp (``time`` and the time fields in ``data``) is mapped onto
    the wall clock, ``wall = wall0 + (sim - sim0) / speed``, so each event is stamped with the
    current UTC time when it is yielded and a live wallboard sees it as happening now (at speeds
    above 1 durations shrink by the same factor). ``config.start`` is replaced by the current
    instant; ``config.days`` bounds the run in simulated days.

    Every event id and entity id carries the run id (``config.run``, or a fresh
    :func:`new_run_id` when it is empty): the generator's counters start at 1 on every start, so
    without it a restarted feed (a second ``demandhub up`` on the same data directory) would reuse
    the previous run's ids and the hub would drop its events as duplicates or quarantine them.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    wall0 = now_fn()
    sim0_ms = to_ms(wall0)
    wall0_ms = sim0_ms
    live = config.model_copy(update={"start": from_ms(sim0_ms), "run": config.run or new_run_id(wall0)})

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
