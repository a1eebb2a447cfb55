"""Lineage arithmetic: month cells from entity contributions and entity-by-entity changes; the
explain command through a running hub."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from demandhub.board.commands import add_board_arguments, run_board
from demandhub.board.maths.cells import Cell
from demandhub.board.warehouse.lineage import Contribution, _digest, entity_changes, month_cell
from demandhub.settings import Settings

pytestmark = pytest.mark.unit


def c(
    entity: str, num: float, den: float | None = None, counted: bool = True, sumsq: float | None = None
) -> Contribution:
    return Contribution(entity, entity, num, den, counted, "counted" if counted else "x", "r", sumsq)


def test_month_cells_follow_the_unit() -> None:
    items = [c("a", 1, 1), c("b", 0, 1), c("x", 0, 0, counted=False)]
    assert month_cell(items, "percent") == Cell(1.0, 2.0, None)
    assert month_cell([c("a", 1), c("b", 1), c("x", 0, counted=False)], "count") == Cell(2.0)
    # A level is one observation of the month, however many entities make it.
    assert month_cell([c("a", 1), c("b", 1), c("d", 1)], "level") == Cell.level(3)
    assert month_cell([c("a", 4.0, 1, sumsq=16.0), c("b", 6.0, 1, sumsq=36.0)], "minutes") == Cell(
        10.0, 2.0, 52.0
    )


def test_changes_name_added_removed_and_changed_entities() -> None:
    before = {"a": (1.0, 1.0), "b": (0.0, 1.0), "gone": (1.0, 1.0)}
    now = [c("a", 1, 1), c("b", 1, 1), c("new", 0, 1), c("out", 0, 0, counted=False)]
    diff = entity_changes(before, now)
    assert [x["entity"] for x in diff["added"]] == ["new"]
    assert [x["entity"] for x in diff["removed"]] == ["gone"]
    assert [(x["entity"], x["was"]["num"], x["now"]["num"]) for x in diff["changed"]] == [("b", 0.0, 1)]
    assert entity_changes({"a": (1.0, 1.0)}, [c("a", 1, 1)]) == {"added": [], "removed": [], "changed": []}


def test_the_digest_ignores_order_and_excluded_entities() -> None:
    one = [c("a", 1, 1), c("b", 0, 1), c("x", 0, 0, counted=False)]
    assert _digest(one) == _digest(list(reversed(one[:2])))
    assert _digest(one) != _digest([c("a", 1, 1), c("b", 1, 1)])


class _Hub:
    """A running hub as the CLI sees it: answers GET requests."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, str]]] = []

    def get(self, path: str, **params: str) -> tuple[bytes, dict[str, str]]:
        self.asked.append((path, params))
        return json.dumps({"measure": params["measure"], "reconciles": True}).encode(), {}


def test_explain_asks_the_running_hub(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_board_arguments(parser)
    args = parser.parse_args(["explain", "--month", "2019-02", "--measure", "crime_all", "--version", "2"])
    hub = _Hub()
    assert run_board(args, Settings(data_dir=tmp_path, force_id="cambs"), hub=hub) == 0
    assert hub.asked == [
        (
            "/api/board/explain",
            {"month": "2019-02", "measure": "crime_all", "column": "current", "version": "2"},
        )
    ]
    assert json.loads(capsys.readouterr().out) == {"measure": "crime_all", "reconciles": True}
