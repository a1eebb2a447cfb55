"""The simulator's ground truth equals the hub's board figures for the same simulated events.

Events (with duplicates, late, out-of-order, malformed and hostile ones, and personal data) go
through the same path as `demandhub replay` into the embedded warehouse; every board measure the
truth names must then come out of the domain queries with the same value, month by month. The
same holds under other definitions: one replay under the defaults, then the figures read under
each alternative (no replay) equal the truth computed under it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.queries import contacts, crimes, incidents, social
from demandhub.runtime import file_messages, replay
from demandhub.settings import Settings
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline
from streams.sources.simulator import Faults, SimConfig, Simulation, write_jsonl
from streams.sources.simulator.clock import from_ms
from streams.sources.simulator.engine import run_bounds
from tests.conftest import TEST_KEY
from tests.unit.test_simulator_truth import ALTERNATIVES, HALF_HOUR_ZONE

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


def replay_simulation(config: SimConfig, wh: Warehouse, settings: Settings, path: Path) -> Simulation:
    """Replay the simulation (with byte-level malformed and hostile lines) into ``wh``; the run
    is finished, so its truth can be asked under any definitions."""
    sim = Simulation(config)
    write_jsonl(sim.events(), path, Faults(malformed_rate=0.002, hostile_rate=0.001), seed=config.seed)
    pipeline = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    totals = replay(pipeline, file_messages(path, 2_000))
    assert totals.as_dict()["quarantined"] == 0
    assert totals.as_dict()["dead_letters"] > 0  # the injected bad lines were refused, not fatal
    return sim


def differences(
    sim: Simulation, wh: Warehouse, definitions: Definitions, force: str = "cambs"
) -> list[tuple[Any, ...]]:
    """Every board figure read under ``definitions`` that differs from the simulator's truth
    under the same definitions."""
    expected = sim.truth(definitions=definitions)[force]
    months = sorted(expected)
    first, last = YearMonth.from_str(months[0]), YearMonth.from_str(months[-1])
    end = from_ms(run_bounds(sim.config)[1])
    cells = contacts.monthly_cells(wh, force, first, last, definitions)
    cells |= incidents.monthly_cells(wh, force, first, last, definitions, now=end)
    cells |= crimes.monthly_cells(wh, force, first, last, definitions)
    cells |= social.monthly_cells(wh, force, first, last, definitions)

    found = []
    for label in months:
        ym = YearMonth.from_str(label)
        for measure, value in expected[label].items():
            cell = cells.get(measure, {}).get(ym)
            got = None if cell is None else _value(measure, cell)
            if got is None or got != pytest.approx(value, rel=1e-9, abs=1e-9):
                found.append((label, measure, value, got))
    return found


def differences_from_truth(
    config: SimConfig, wh: Warehouse, settings: Settings, path: Path
) -> list[tuple[Any, ...]]:
    """Replay the simulation and list every board figure that differs from the truth."""
    sim = replay_simulation(config, wh, settings, path)
    return differences(sim, wh, settings.definitions)


def test_truth_matches_the_hub_figures_across_a_month_end(
    wh: Warehouse, settings: Settings, tmp_path: Path
) -> None:
    config = SimConfig(start=date(2021, 1, 22), days=16, scale=0.1, seed=13, faults=FAULTS)
    assert differences_from_truth(config, wh, settings, tmp_path / "events.jsonl") == []


def test_truth_matches_the_hub_figures_over_a_year(wh: Warehouse, settings: Settings, tmp_path: Path) -> None:
    config = SimConfig(start=date(2022, 1, 1), days=365, scale=0.004, seed=29, faults=FAULTS)
    assert differences_from_truth(config, wh, settings, tmp_path / "year.jsonl") == []


# -- the truth and the board under other definitions, from one replay ----------------------------
ALT_CONFIG = SimConfig(start=date(2021, 1, 22), days=16, scale=0.2, seed=13, staffing=0.8, faults=FAULTS)


@pytest.fixture(scope="module")
def replayed(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> tuple[Simulation, Warehouse]:
    """ALT_CONFIG replayed ONCE under the default definitions into the emptied session warehouse."""
    wh = warehouse
    for (name,) in wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows:
        wh.command(f"TRUNCATE TABLE IF EXISTS `{name}`")
    data_dir = tmp_path_factory.mktemp("alternatives")
    settings = Settings(data_dir=data_dir, force_id="cambs")
    return replay_simulation(ALT_CONFIG, wh, settings, data_dir / "events.jsonl"), wh


@pytest.mark.parametrize(
    "overrides", ALTERNATIVES, ids=lambda o: "+".join(o) if len(o) < 3 else f"{len(o)}-at-once"
)
def test_truth_matches_the_hub_figures_under_other_definitions_without_a_replay(
    replayed: tuple[Simulation, Warehouse], overrides: tuple[str, ...]
) -> None:
    sim, wh = replayed
    defs = Definitions().with_overrides(overrides)
    assert differences(sim, wh, defs) == []


def test_truth_matches_the_hub_figures_in_a_half_hour_zone(replayed: tuple[Simulation, Warehouse]) -> None:
    sim, wh = replayed
    assert differences(sim, wh, Definitions().with_overrides(HALF_HOUR_ZONE)) == []
