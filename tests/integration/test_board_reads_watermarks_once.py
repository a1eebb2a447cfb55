"""One board pack reads the force's entity watermarks once: the completeness check and the
series trimming share them (the query scans the force's whole event ledger)."""

from __future__ import annotations

from typing import Any

import pytest

from demandhub.board.warehouse import source
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from tests.integration.test_board_definitions import board_args, loaded, run_json

pytestmark = pytest.mark.integration

__all__ = ["loaded"]  # the fixture, imported for this module's tests


def test_one_pack_reads_the_force_watermarks_once(
    loaded: Warehouse, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    forces: list[str] = []
    read = source.board_sql.entity_source_watermarks

    def counting(wh: Warehouse, force_id: str) -> Any:
        forces.append(force_id)
        return read(wh, force_id)

    monkeypatch.setattr(source.board_sql, "entity_source_watermarks", counting)
    pack = run_json(board_args(), settings, loaded)
    assert pack["measures"]
    assert forces.count(settings.force_id) == 1
