"""One board pack scans the event ledger once: the completeness check, the series trimming, the
``source_watermarks`` metadata and the forces with events (for the peers) share one read of every
force's latest event times (each scan reads the whole ledger)."""

from __future__ import annotations

from typing import Any

import pytest

from demandhub.board.warehouse import source
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from tests.integration.test_board_definitions import board_args, loaded, run_json

pytestmark = pytest.mark.integration

__all__ = ["loaded"]  # the fixture, imported for this module's tests


def test_one_pack_scans_the_ledger_once(
    loaded: Warehouse, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counting(name: str) -> Any:
        read = getattr(source.board_sql, name)

        def wrapped(*args: Any) -> Any:
            calls.append(name)
            return read(*args)

        return wrapped

    for name in (
        "ledger_marks",
        "entity_source_watermarks",
        "source_watermarks",
        "forces_with_events",
        "forces_present",
    ):
        monkeypatch.setattr(source.board_sql, name, counting(name))
    pack = run_json(board_args(), settings, loaded)
    assert pack["measures"]
    assert calls == ["ledger_marks"]
    assert pack["source_watermarks"]["sources"]  # the metadata came from that scan


def test_the_ledger_marks_answer_as_the_per_force_queries(loaded: Warehouse, settings: Settings) -> None:
    ledger = source.read_ledger_marks(loaded)
    force = settings.force_id
    assert ledger.forces() == source.board_sql.forces_with_events(loaded)
    assert ledger.entity_watermarks(force) == source.entity_watermarks(loaded, force)
    assert ledger.source_watermarks(force) == source.source_watermarks(loaded, force)
    assert source.present_forces(loaded, ledger) == source.present_forces(loaded)
