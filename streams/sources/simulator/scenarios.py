"""Demo scenarios for the live feed: where the simulated calendar starts, how busy and how staffed.

A scenario changes what is simulated, never how it is stamped: the live feed still maps simulated
time onto the wall clock one to one (see :func:`streams.sources.simulator.simulate_live`).

- ``normal`` (default): the calendar is the wall clock; staffing follows demand.
- ``peak``: a Friday-night peak (the simulated calendar starts at a Friday ``PEAK_LOCAL_START``
  local), demand ``PEAK_DEMAND`` times the usual Friday night (a major event in town) and every queue
  staffed at ``PEAK_STAFFING`` of plan. The first ``warmup_minutes`` are emitted at once, stamped in
  the recent past, so the hub opens on a night already under way: queues have built, callers are
  abandoning and immediate incidents are past their targets; it then goes on in real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from streams.sources.simulator.clock import LONDON

PEAK_LOCAL_START = time(21, 30)
PEAK_DEMAND = 2.0
PEAK_STAFFING = 0.6
PEAK_WARMUP_MINUTES = 40


@dataclass(frozen=True)
class Scenario:
    """What the live feed simulates (see the module docstring)."""

    name: str
    description: str
    demand: float = 1.0  # multiplies the volume scale
    staffing: float = 1.0  # multiplies planned staffing
    warmup_minutes: int = 0  # simulated minutes before "now", emitted at once
    friday_local_start: time | None = None  # None: the calendar is the wall clock

    def calendar_start(self, wall_now: datetime) -> datetime:
        """The simulated instant that is stamped ``wall_now - warmup`` (aware, UTC or local)."""
        begin = wall_now - timedelta(minutes=self.warmup_minutes)
        if self.friday_local_start is None:
            return begin
        local = begin.astimezone(LONDON)
        friday = local.date() - timedelta(days=(local.weekday() - 4) % 7)  # this or the last Friday
        return datetime.combine(friday, self.friday_local_start, LONDON)


NORMAL = Scenario("normal", "the calendar is the wall clock; staffing follows demand")
PEAK = Scenario(
    "peak",
    "a Friday-night peak from 21:30: twice the usual demand, queues staffed at 60 % of plan, "
    f"starting {PEAK_WARMUP_MINUTES} minutes into the night",
    demand=PEAK_DEMAND,
    staffing=PEAK_STAFFING,
    warmup_minutes=PEAK_WARMUP_MINUTES,
    friday_local_start=PEAK_LOCAL_START,
)
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (NORMAL, PEAK)}
