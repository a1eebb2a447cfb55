"""Start-up stays lazy: what the reading commands load before they do any work.

Each case imports modules in a fresh interpreter (``sys.modules`` of this test process is already
full) and lists which of the heavy libraries got loaded. No timing is asserted (BENCHMARKS.md,
"Board and SQL start-up", has the figures); these tests fail when a module-level import brings a
library back onto a path that does not need it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.child import run_python

RENDERERS = ("weasyprint", "matplotlib", "openpyxl", "jinja2", "PIL", "pypdfium2")
WORKER = ("faust", "mode", "aiokafka", "kafka", "aiohttp", "prometheus_client")
"""Libraries no reading command needs: the board's other formats, the stream worker, the web server."""


def loaded_after(code: str) -> set[str]:
    """The modules of ``sys.modules`` after running ``code`` in a new interpreter."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    return set(json.loads(run_python(script, timeout=120).splitlines()[-1]))


def heavy(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in names if m in modules)


@pytest.mark.unit
def test_the_cli_and_its_parser_load_no_heavy_library() -> None:
    """Every command pays for importing the CLI and building its parser (``--help`` included)."""
    modules = loaded_after("from demandhub.cli import build_parser\nbuild_parser()")
    names = (*RENDERERS, *WORKER, "chdb", "clickhouse_connect", "pydantic", "scipy", "numpy", "rich")
    assert heavy(modules, names) == []
    assert heavy(modules, ("urllib.request", "http.client")) == []  # only to ask a running hub


@pytest.mark.unit
def test_the_board_pack_path_loads_no_renderer_and_no_worker() -> None:
    """``board --format json`` imports the report, source and completeness modules and opens the
    warehouse through ``demandhub.runtime``: no PDF/XLSX/HTML renderer, no faust, Kafka, web
    server or metrics, and not the event pipeline or the fold registry."""
    modules = loaded_after(
        "import demandhub.cli\n"
        "import demandhub.board.commands, demandhub.board.report, demandhub.board.warehouse.source\n"
        "import demandhub.board.warehouse.completeness, demandhub.board.catalogue.forces, demandhub.board.warehouse.store\n"
        "import demandhub.runtime"
    )
    assert heavy(modules, (*RENDERERS, *WORKER)) == []
    assert heavy(modules, ("streams.pipeline", "streams.registry")) == []


@pytest.mark.unit
def test_the_board_pack_path_builds_no_event_model() -> None:
    """The board reads the warehouse's facts, never events: its readers (the open incidents' watch
    rule among them) load neither the union of every event type nor the incident, crime and social
    media payload models, whose pydantic classes are most of the event contract's import time."""
    modules = loaded_after(
        "import demandhub.cli\n"
        "import demandhub.board.commands, demandhub.board.report, demandhub.board.warehouse.source\n"
        "import demandhub.board.warehouse.completeness, demandhub.board.catalogue.forces, demandhub.board.warehouse.store\n"
        "import demandhub.runtime"
    )
    events = (
        "schemas.events",
        "schemas.incidents",
        "schemas.crimes",
        "schemas.social",
        "streams.domain.incidents",
    )
    assert heavy(modules, events) == []


@pytest.mark.unit
def test_the_sql_path_loads_no_board_maths_and_no_worker() -> None:
    """``demandhub sql`` on the warehouse: settings, the SQL guard and the client, nothing else."""
    modules = loaded_after(
        "import demandhub.cli, demandhub.settings, demandhub.sqlguard, demandhub.datadir, demandhub.auth\n"
        "import sinks.clickhouse.client"
    )
    assert heavy(modules, (*RENDERERS, *WORKER, "scipy", "pandas")) == []
    assert heavy(modules, ("streams.pipeline", "streams.registry", "demandhub.board.maths.stats")) == []


BOARD_PACK_MODULES = (
    "import demandhub.cli\n"
    "import demandhub.board.commands, demandhub.board.report, demandhub.board.warehouse.source\n"
    "import demandhub.board.warehouse.completeness, demandhub.board.catalogue.forces, demandhub.board.warehouse.store\n"
)


@pytest.mark.unit
def test_the_board_pack_path_loads_no_contact_event_model() -> None:
    """The contacts reader names the contact channels itself: the board's modules load no event
    model at all (the contact payloads and the envelope were the last ones)."""
    modules = loaded_after(BOARD_PACK_MODULES)
    assert heavy(modules, ("schemas.contacts", "schemas.envelope")) == []


@pytest.mark.unit
def test_the_board_opens_the_warehouse_without_the_runtime(tmp_path: Path) -> None:
    """``demandhub board`` opens (and migrates) the embedded warehouse without importing
    ``demandhub.runtime`` (the embedded stack's processes, the pipeline's wiring, authentication
    and their statements); the engine is stood in for, so no warehouse is opened here."""
    modules = loaded_after(
        BOARD_PACK_MODULES
        + "import sinks.clickhouse.client as client, sinks.clickhouse.migrate as migrate\n"
        + "opened = []\n"
        + "client.connect = lambda dsn: opened.append(dsn) or 'wh'\n"
        + "migrate.migrate = lambda wh: opened.append(wh) or []\n"
        + "from demandhub.settings import Settings\n"
        + f"assert demandhub.board.commands._open(Settings(data_dir={str(tmp_path)!r})) == 'wh'\n"
        + "assert opened[1] == 'wh' and opened[0].startswith('chdb://'), opened\n"
    )
    assert heavy(modules, ("demandhub.runtime", "demandhub.auth", "sinks.clickhouse.history_sql")) == []
