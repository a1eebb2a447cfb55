"""The calibrated event simulator of a mid-sized force's Demand Hub.

- :func:`simulate` (``SimConfig`` -> envelopes as JSON-ready dicts, event-time ordered, deterministic
  for a seed, with optional faults), :func:`simulate_live` (paced to the wall clock),
  :func:`truth` (the monthly board figures computed from the generated facts under any
  ``Definitions``; every definition it follows is written in :mod:`streams.sources.simulator.truth`),
  :class:`Simulation` (events and truth in one
  pass), :func:`write_jsonl` and :func:`produce_kafka` (output adapters, the only I/O).
- The model (DOMAIN 3.8): :mod:`.demand` (arrival profiles, seasonality, trends), :mod:`.queues`
  (Erlang-A style queue simulation), :mod:`.contacts`, :mod:`.incidents`, :mod:`.crimes`,
  :mod:`.social` (lifecycles), :mod:`.faults` and :mod:`.pii` (fault injection), :mod:`.geography` and
  :mod:`.reference` (districts, categories, offence and outcome codes).

Sources and their event types: ``telephony`` (call.*), ``chat`` (webchat.*), ``portal``
(online_report.*), ``cad`` (incident.*), ``crime`` (crime.*), ``social`` (social.*, :mod:`.social`). Event ids are unique per source;
live runs stamp a run id into every id, so a restarted live feed never reuses one.
Every event type of the contract is produced except ``incident.reopened`` and ``crime.transferred``
(not modelled, so the truth needs no rule for them).

Typical use::

    config = SimConfig(start=date(2019, 4, 1), days=365, seed=1, scale=1.0)
    sim = Simulation(config)
    write_jsonl(sim.events(), "events.jsonl", config.faults)
    figures = sim.truth()  # same as truth(config), without generating twice
    other = sim.truth(definitions=Definitions().with_overrides(["crimes.ncrs_hours=12"]))  # no new run

Speed (one core, this machine): about 90k events/s generated, about 50k/s written as JSON Lines;
``truth()`` alone skips building events and runs about 2.5 times faster.
"""

from streams.sources.simulator.config import Faults, SimConfig
from streams.sources.simulator.engine import Simulation, simulate, truth
from streams.sources.simulator.faults import FaultReport
from streams.sources.simulator.live import simulate_live
from streams.sources.simulator.output import produce_kafka, write_jsonl
from streams.sources.simulator.scenarios import SCENARIOS, Scenario

__all__ = [
    "SCENARIOS",
    "FaultReport",
    "Faults",
    "Scenario",
    "SimConfig",
    "Simulation",
    "produce_kafka",
    "simulate",
    "simulate_live",
    "truth",
    "write_jsonl",
]
