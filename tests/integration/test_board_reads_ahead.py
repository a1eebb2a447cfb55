"""The board pack's reads started ahead on read handles of their own
(:mod:`demandhub.board.warehouse.ahead`): the pack is the same bytes as when every read runs in
place, one after another; the reads really run on the read handles; a failing read gives the same
error and exit code; every handle opened is closed."""

from __future__ import annotations

import io
from collections.abc import Callable, Hashable
from contextlib import redirect_stdout
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from demandhub.board.commands import run_board
from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse import ahead as ahead_module
from demandhub.board.warehouse import source
from demandhub.board.warehouse.readers import AHEAD_PARTS, MONTHLY_CELLS, merge_parts
from demandhub.errors import describe
from demandhub.queries import crimes
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from tests.integration.test_board_definitions import board_args, loaded

pytestmark = pytest.mark.integration

__all__ = ["loaded"]  # the fixture, imported for this module's tests


class NothingAhead(ahead_module.ReadsAhead):
    """Starts nothing: every read of the pack runs in place, as before reads were started ahead."""

    def start(self, lane: int, key: Hashable, read: Callable[[Warehouse], Any]) -> None:
        return None


def sequential(monkeypatch: pytest.MonkeyPatch) -> None:
    def nothing(wh: Warehouse, *args: Any, **kwargs: Any) -> ahead_module.ReadsAhead:
        return NothingAhead(wh, lanes=1)

    monkeypatch.setattr(source, "start_reads_ahead", nothing)


def pack_text(settings: Settings, wh: Warehouse) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert run_board(board_args(), settings, wh) == 0
    return out.getvalue()


def test_the_pack_is_the_same_bytes_with_its_reads_started_ahead(
    loaded: Warehouse, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    roles: list[str] = []
    statements: list[tuple[str, str]] = []
    query = Warehouse.query

    def recording(self: Warehouse, sql: str, *args: Any, **kwargs: Any) -> Any:
        roles.append(self.role)
        statements.append((self.role, sql))
        return query(self, sql, *args, **kwargs)

    monkeypatch.setattr(Warehouse, "query", recording)
    ahead = pack_text(settings, loaded)
    assert {"board-0", "board-1"} <= set(roles)  # crimes on one read handle, the rest on the other
    districts = [role for role, sql in statements if "AS district" in sql]
    assert districts == ["board-1"]  # read ahead, over months covering those used, and taken
    with monkeypatch.context() as patch:
        sequential(patch)
        roles.clear()
        in_place = pack_text(settings, loaded)
        assert set(roles) == {loaded.role}
    assert ahead == in_place
    assert pack_text(settings, loaded) == in_place  # and again: nothing depends on which lane ends first


def test_every_read_handle_opened_for_a_pack_is_closed(
    loaded: Warehouse, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Warehouse] = []
    open_reader = Warehouse.open_reader

    def recording(self: Warehouse, role: str) -> Warehouse:
        handle = open_reader(self, role)
        opened.append(handle)
        return handle

    monkeypatch.setattr(Warehouse, "open_reader", recording)
    pack_text(settings, loaded)
    assert len(opened) == 2 and all(h.closed for h in opened)

    def failing(*args: Any) -> Any:
        raise DatabaseError("the ledger scan failed")

    opened.clear()
    monkeypatch.setattr(source.board_sql, "ledger_marks", failing)  # fails while the reads ahead run
    with pytest.raises(DatabaseError):
        pack_text(settings, loaded)
    assert opened and all(h.closed for h in opened)


def test_a_read_ahead_that_fails_fails_the_pack_as_the_same_read_in_place(
    loaded: Warehouse, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any) -> Any:
        raise DatabaseError("Code: 60. DB::Exception: Unknown table expression identifier 'crimes'")

    monkeypatch.setattr(crimes.cs, "ncrs_rows", failing)  # crimes are read ahead, on a lane of their own
    lines = []
    for where in ("ahead", "in place"):
        with monkeypatch.context() as patch:
            if where == "in place":
                sequential(patch)
            with pytest.raises(DatabaseError) as caught:
                pack_text(settings, loaded)
        error = describe(caught.value)
        lines.append((str(error), error.code))
    assert lines[0] == lines[1]
    assert "Unknown table expression identifier" in lines[0][0]


def test_a_reader_read_in_parts_gives_its_own_cells_in_the_same_order(
    loaded: Warehouse, settings: Settings
) -> None:
    first, last = YearMonth(2017, 1), YearMonth(2019, 1)
    args = (loaded, settings.force_id, first, last, settings.definitions)
    for module, parts in AHEAD_PARTS.items():
        whole = MONTHLY_CELLS[module](*args, {})
        merged = merge_parts([part(*args) for part in parts])
        assert [(m, list(months.items())) for m, months in merged.items()] == [
            (m, list(months.items())) for m, months in whole.items()
        ]
        assert any(whole.values())
