"""The simulator's ground truth equals the hub's board figures for the same simulated events.

Events (with duplicates, late, out-of-order, malformed and hostile ones, and personal data) go
through the same path as `demandhub replay` into the embedded warehouse; every board measure the
truth names must then come out of the domain queries with the same value, month by month.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from demandhub.queries import contacts, crimes, incidents, social
from demandhub.runtime import file_messages, replay
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.domain.board.cells import Cell
from streams.domain.board.months import YearMonth
from streams.pipeline import Pipeline
from streams.sources.simulator import Faults, SimConfig, Simulation, write_jsonl
from streams.sources.simulator.clock import from_ms
from streams.sources.simulator.engine import run_bounds
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.integration

COUNTS = {
    "contacts_999",
    "contacts_101",
    "contacts_webchat",
    "contacts_online",
    "contacts_total",
    "incidents_total",
    "incidents_mental_health",
    "incidents_asb",
    "crime_all",
    "crime_domestic_abuse",
    "social_threads",
    "social_abandoned",
}
MEANS = {"immediate_time_to_respond_mins", "social_first_response_mins"}


def _value(measure: str, cell: Cell) -> float:
    if measure in COUNTS:
        return float(cell.num)
    assert cell.den
    if measure in MEANS:
        return float(cell.num) / float(cell.den)
    return 100.0 * float(cell.num) / float(cell.den)


FAULTS = Faults(
    duplicate_rate=0.02,
    late_rate=0.01,
    max_lateness_seconds=86400,
    out_of_order_rate=0.02,
    malformed_rate=0.003,
    hostile_rate=0.002,
    pii_free_text=True,
)


def differences_from_truth(config: SimConfig, wh: Warehouse, settings: Settings, path: Path) -> list[tuple]:
    """Replay the simulation (with byte-level malformed and hostile lines) and list every board
    figure that differs from the simulator's ground truth."""
    sim = Simulation(config)
    write_jsonl(sim.events(), path, Faults(malformed_rate=0.002, hostile_rate=0.001), seed=config.seed)
    expected = sim.truth()["cambs"]

    pipeline = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    totals = replay(pipeline, file_messages(path, 2_000))
    assert totals.as_dict()["quarantined"] == 0
    assert totals.as_dict()["dead_letters"] > 0  # the injected bad lines were refused, not fatal

    months = sorted(expected)
    first, last = YearMonth.from_str(months[0]), YearMonth.from_str(months[-1])
    definitions = settings.definitions
    end = from_ms(run_bounds(config)[1])
    cells = contacts.monthly_cells(wh, "cambs", first, last, definitions)
    cells |= incidents.monthly_cells(wh, "cambs", first, last, definitions, now=end)
    cells |= crimes.monthly_cells(wh, "cambs", first, last, definitions)
    cells |= social.monthly_cells(wh, "cambs", first, last, definitions)

    differences = []
    for label in months:
        ym = YearMonth.from_str(label)
        for measure, value in expected[label].items():
            cell = cells.get(measure, {}).get(ym)
            got = None if cell is None else _value(measure, cell)
            if got is None or got != pytest.approx(value, rel=1e-9, abs=1e-9):
                differences.append((label, measure, value, got))
    return differences


def test_truth_matches_the_hub_figures_across_a_month_end(
    wh: Warehouse, settings: Settings, tmp_path: Path
) -> None:
    config = SimConfig(start=date(2021, 1, 22), days=16, scale=0.1, seed=13, faults=FAULTS)
    assert differences_from_truth(config, wh, settings, tmp_path / "events.jsonl") == []


def test_truth_matches_the_hub_figures_over_a_year(wh: Warehouse, settings: Settings, tmp_path: Path) -> None:
    config = SimConfig(start=date(2022, 1, 1), days=365, scale=0.004, seed=29, faults=FAULTS)
    assert differences_from_truth(config, wh, settings, tmp_path / "year.jsonl") == []
