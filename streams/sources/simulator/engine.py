"""The simulation run: chunks of time, every force, events released in event-time order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from schemas.definitions import Definitions
from streams.sources.simulator.clock import DAY, HOUR, MonthIndex, local_midnight_ms, to_ms
from streams.sources.simulator.config import SimConfig
from streams.sources.simulator.context import EventBuffer, ForceContext
from streams.sources.simulator.faults import FaultInjector, FaultReport
from streams.sources.simulator.force import ForceModel
from streams.sources.simulator.truth import TruthBook

CHUNK = 6 * HOUR


def run_bounds(config: SimConfig) -> tuple[int, int]:
    """``(start_ms, end_ms)`` of the run: local midnights for a date start, else the instant."""
    if isinstance(config.start, datetime):
        start = to_ms(config.start)
        return start, start + config.days * DAY
    first = local_midnight_ms(config.start)
    return first, local_midnight_ms(config.start + timedelta(days=config.days))


class Simulation:
    """One run. Iterate :meth:`events` (or :meth:`clean_events`); then :meth:`truth` is complete.

    ``keep_events=False`` builds no events at all and only records the truth (used by ``truth()``).
    ``chunk`` is the span of simulated time generated at once (the live feed uses short chunks so its
    first events come at once even at large volumes).
    """

    def __init__(self, config: SimConfig, keep_events: bool = True, chunk: int = CHUNK) -> None:
        self.config = config
        self.chunk = chunk
        self.start, self.end = run_bounds(config)
        self.buffer = EventBuffer()
        self.book = TruthBook(self.end)
        months = MonthIndex(self.start - 40 * DAY, self.end + 40 * DAY)
        self.forces = [
            ForceModel(
                ForceContext(
                    f, config.seed, self.end, self.buffer, months, self.book, keep_events, config.run
                ),
                config.seed,
                config.scale,
                config.staffing,
                self.start,
            )
            for f in config.forces
        ]
        self.fault_report = FaultReport()
        self.finished = False

    def clean_events(self) -> Iterator[dict[str, Any]]:
        """Every generated event exactly once, in (time, emission) order, with no faults."""
        c0 = self.start
        while c0 < self.end:
            c1 = min(c0 + self.chunk, self.end)
            self.buffer.chunk_end = c1
            for force in self.forces:
                force.run_chunk(c0, c1)
            yield from self.buffer.release(c1)
            c0 = c1
        self.finished = True

    def events(self) -> Iterator[dict[str, Any]]:
        """The event stream with the configured faults applied (see :class:`FaultInjector`)."""
        faults = self.config.faults
        if not faults.any_stream_faults:
            yield from self.clean_events()
            return
        injector = FaultInjector(faults, self.config.seed, self.fault_report)
        yield from injector.apply(self.clean_events())

    def truth(self, definitions: Definitions | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """Ground truth ``{force: {"YYYY-MM": {measure: value}}}`` under ``definitions`` (the
        defaults when None; any definitions, without running again); needs the run to have finished."""
        if not self.finished:
            raise RuntimeError("iterate the events to the end before asking for the truth")
        return self.book.measures(definitions)


def simulate(config: SimConfig, report: FaultReport | None = None) -> Iterator[dict[str, Any]]:
    """Events of ``config`` as JSON-ready envelopes in event-time order (faults may reorder them).

    ``report``, if given, is filled with the counts of injected faults as the stream is consumed.
    """
    sim = Simulation(config)
    if report is not None:
        sim.fault_report = report
    return sim.events()


def truth(config: SimConfig, definitions: Definitions | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Ground-truth monthly board figures of ``config`` under ``definitions`` (the defaults when
    None), identical whatever its fault switches."""
    sim = Simulation(config.without_stream_faults(), keep_events=False)
    for _ in sim.clean_events():
        pass
    return sim.truth(definitions)
