"""Reads started ahead (:mod:`demandhub.board.warehouse.ahead`) and their collection by
:func:`~demandhub.board.warehouse.source.event_series`, over stand-in warehouse handles."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import pytest

from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse import source
from demandhub.board.warehouse.ahead import ReadsAhead
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse

pytestmark = pytest.mark.unit

CATALOGUE = load_catalogue()
FIRST, LAST = YearMonth(2023, 1), YearMonth(2024, 11)


class Handle:
    """Stands in for a warehouse handle: its role, whether it is closed, the read handles it opened."""

    def __init__(self, role: str = "writer", refuse_readers: bool = False) -> None:
        self.role = role
        self.closed = False
        self.refuse_readers = refuse_readers
        self.readers: list[Handle] = []

    def open_reader(self, role: str) -> Handle:
        if self.refuse_readers:
            raise ConnectionError("no more sessions")
        reader = Handle(role)
        self.readers.append(reader)
        return reader

    def close(self) -> None:
        self.closed = True


def wh(handle: Handle) -> Warehouse:
    return cast(Warehouse, handle)


def test_reads_of_a_lane_run_in_order_on_its_own_handle_and_every_handle_is_closed() -> None:
    root = Handle()
    seen: list[tuple[str, str, str]] = []

    def read(name: str) -> Any:
        def run(h: Warehouse) -> str:
            seen.append((name, h.role, threading.current_thread().name))
            return name

        return run

    with ReadsAhead(wh(root), lanes=2) as ahead:
        for lane, name in ((0, "a"), (1, "b"), (1, "c"), (0, "d")):
            ahead.start(lane, name, read(name))
        results = {name: f.result() for name in "abcd" if (f := ahead.take(name)) is not None}
        assert ahead.take("a") is None  # taken once
        assert ahead.take("never started") is None
    assert results == {"a": "a", "b": "b", "c": "c", "d": "d"}
    roles = {name: role for name, role, _ in seen}
    assert roles == {"a": "board-0", "b": "board-1", "c": "board-1", "d": "board-0"}
    assert [n for n, _, _ in seen if roles[n] == "board-1"] == ["b", "c"]
    assert all(thread != threading.current_thread().name for _, _, thread in seen)
    assert len(root.readers) == 2 and all(r.closed for r in root.readers)
    assert not root.closed  # the caller's handle is the caller's to close


def test_a_lane_without_a_read_handle_reads_on_the_callers_handle() -> None:
    root = Handle(refuse_readers=True)
    with ReadsAhead(wh(root), lanes=2) as ahead:
        ahead.start(0, "x", lambda h: h.role)
        started = ahead.take("x")
        assert started is not None and started.result() == "writer"


def test_a_failed_read_raises_its_own_exception_where_it_is_taken() -> None:
    failure = LookupError("the read's own error")

    def failing(h: Warehouse) -> Any:
        raise failure

    with ReadsAhead(wh(Handle())) as ahead:
        ahead.start(0, "x", failing)
        started = ahead.take("x")
        assert started is not None
        with pytest.raises(LookupError) as caught:
            started.result()
    assert caught.value is failure


def test_closing_gives_up_reads_not_started() -> None:
    root = Handle()
    gate = threading.Event()
    ran: list[str] = []
    ahead = ReadsAhead(wh(root), lanes=1)
    ahead.start(0, "slow", lambda h: gate.wait(5) and ran.append("slow"))
    ahead.start(0, "queued", lambda h: ran.append("queued"))
    closing = threading.Thread(target=ahead.close)
    closing.start()
    gate.set()
    closing.join(5)
    assert ran == ["slow"]
    assert all(r.closed for r in root.readers)
    with pytest.raises(RuntimeError):
        ahead.start(0, "late", lambda h: None)


def fake_readers(fail: set[str], calls: list[tuple[str, str]]) -> dict[str, Any]:
    """Domain readers that record (module, handle role) and fail for the modules in ``fail``."""

    def reader(module: str) -> Any:
        def cells(
            h: Warehouse,
            force: str,
            first: YearMonth,
            last: YearMonth,
            defs: Definitions,
            marks: Mapping[str, datetime],
            /,
        ) -> dict[str, dict[YearMonth, Cell]]:
            calls.append((module, h.role))
            if module in fail:
                raise LookupError(f"{module} failed")
            return {mid: {last: Cell(1.0)} for mid in CATALOGUE.event_ids(module)}

        return cells

    return {m: reader(m) for m in source.event_modules(CATALOGUE)}


def fake_parts(fail: set[str], calls: list[tuple[str, str]]) -> dict[str, Any]:
    """Crimes read in two parts (as :data:`~demandhub.board.warehouse.readers.AHEAD_PARTS`), each
    recording ("crimes", role) and failing when "crimes" is in ``fail``; their merge is the fake
    crimes reader's cells."""
    ids = CATALOGUE.event_ids("crimes")

    def part(n: int) -> Any:
        def cells(
            h: Warehouse, force: str, first: YearMonth, last: YearMonth, defs: Definitions, /
        ) -> dict[str, dict[YearMonth, Cell]]:
            calls.append(("crimes", h.role))
            if "crimes" in fail:
                raise LookupError("crimes failed")
            return {mid: {last: Cell(1.0)} if k % 2 == n else {} for k, mid in enumerate(ids)}

        return cells

    return {"crimes": (part(0), part(1))}


def fake_reads(monkeypatch: pytest.MonkeyPatch, fail: set[str], calls: list[tuple[str, str]]) -> None:
    monkeypatch.setattr(source, "MONTHLY_CELLS", fake_readers(fail, calls))
    monkeypatch.setattr(source, "AHEAD_PARTS", fake_parts(fail, calls))
    monkeypatch.setattr(source, "imported_series", lambda *args: {})


@pytest.mark.parametrize("fail", [set(), {"incidents"}, {"contacts", "incidents"}, {"crimes", "social"}])
def test_event_series_collects_reads_ahead_in_module_order_and_raises_the_first_failure(
    fail: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same cells and the same first error as when every reader runs in place, in module order."""
    defs = Definitions()
    settings = load_pack_settings()
    month = LAST
    first = month - settings.history_months
    outcomes = []
    for ahead_too in (True, False):
        calls: list[tuple[str, str]] = []
        fake_reads(monkeypatch, fail, calls)
        root = Handle()
        ahead = (
            source.start_reads_ahead(wh(root), CATALOGUE, "cambs", month, defs, settings)
            if ahead_too
            else None
        )
        try:
            got: Any = source.event_series(wh(root), CATALOGUE, "cambs", first, month, defs, {}, ahead)
            outcomes.append(("ok", list(got.items())))
        except LookupError as exc:
            outcomes.append(("error", str(exc)))
        finally:
            if ahead is not None:
                ahead.close()
        if ahead_too:
            assert {role for m, role in calls if m == "incidents"} == {"writer"}  # needs watermarks
            assert {role for m, role in calls if m != "incidents"} <= {"board-0", "board-1"}
            assert all(r.closed for r in root.readers)
    assert outcomes[0] == outcomes[1]
    if fail:
        first_failed = min(fail)
        assert outcomes[0] == ("error", f"{first_failed} failed")


def test_reads_ahead_are_taken_only_for_the_same_definitions_object(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    fake_reads(monkeypatch, set(), calls)
    settings = load_pack_settings()
    defs = Definitions()
    first = LAST - settings.history_months
    with source.start_reads_ahead(wh(Handle()), CATALOGUE, "cambs", LAST, defs, settings) as ahead:
        source.event_series(wh(Handle()), CATALOGUE, "cambs", first, LAST, Definitions(), {}, ahead)
        keys = {source._cells_key(m, "cambs", first, LAST, defs) for m in ("contacts", "social")}
        keys |= {(*source._cells_key("crimes", "cambs", first, LAST, defs), n) for n in (0, 1)}
        assert keys <= set(ahead.started)  # none taken


def load_pack_settings() -> Any:
    from demandhub.board.catalogue.config import PackSettings

    return PackSettings()


def test_district_counts_read_over_more_months_are_cut_to_the_months_asked_for() -> None:
    jan, feb, mar = YearMonth(2024, 1), YearMonth(2024, 2), YearMonth(2024, 3)
    wide = {
        "north": {"theft": {jan: 2, feb: 3}, "arson": {jan: 1}},
        "south": {"theft": {mar: 4}},
        "": {"fraud": {feb: 1}},
    }
    assert source._months_within(wide, feb, feb) == {"north": {"theft": {feb: 3}}, "": {"fraud": {feb: 1}}}
    assert source._months_within(wide, jan, mar) == wide
    assert source._months_within(wide, YearMonth(2024, 4), YearMonth(2024, 5)) == {}
