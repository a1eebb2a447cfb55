"""``demandhub board`` opens the warehouse on a thread while the pack's modules are imported and its
configuration read, and keeps the command's failures what they were: the opening's error is the
command's, and a warehouse opened for a command that failed meanwhile is closed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from demandhub.board import commands
from demandhub.cli import build_parser
from demandhub.settings import Settings

pytestmark = pytest.mark.unit

WAIT = 30.0  # seconds: a bound for a test that would otherwise hang, never a timing assertion


class FakeWarehouse:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _args(tmp_path: Path) -> Any:
    argv = ["board", "--month", "2024-11", "--format", "json", "--out", str(tmp_path / "p.json")]
    return build_parser().parse_args(argv)


def test_the_warehouse_opens_while_the_pack_is_prepared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preparing = threading.Event()
    opened_on: list[str] = []
    wh = FakeWarehouse()

    def fake_open(settings: Settings) -> FakeWarehouse:
        # The opening waits for the preparation to start: run one after the other, this never returns.
        assert preparing.wait(WAIT), "the pack was not prepared while the warehouse opened"
        opened_on.append(threading.current_thread().name)
        return wh

    def fake_prepare(settings: Settings, args: Any, defines: Any) -> None:
        preparing.set()

    built: list[Any] = []
    monkeypatch.setattr(commands, "_open", fake_open)
    monkeypatch.setattr(commands, "_prepare_pack", fake_prepare)
    monkeypatch.setattr(
        commands, "build_board", lambda s, w, *a, **k: (built.append(w), (b"{}\n", "2024-11"))[1]
    )
    assert commands.run_board(_args(tmp_path), Settings(data_dir=tmp_path)) == 0
    assert built == [wh] and wh.closed
    assert opened_on and opened_on[0] != threading.current_thread().name


def test_the_openings_error_is_the_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Refused(RuntimeError):
        pass

    def fake_open(settings: Settings) -> FakeWarehouse:
        raise Refused("in use")

    monkeypatch.setattr(commands, "_open", fake_open)
    monkeypatch.setattr(commands, "_prepare_pack", lambda *a: None)
    with pytest.raises(Refused, match="in use"):
        commands.run_board(_args(tmp_path), Settings(data_dir=tmp_path))


def test_a_failed_preparation_closes_what_was_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wh = FakeWarehouse()

    def fake_prepare(settings: Settings, args: Any, defines: Any) -> None:
        raise ValueError("bad catalogue")

    monkeypatch.setattr(commands, "_open", lambda settings: wh)
    monkeypatch.setattr(commands, "_prepare_pack", fake_prepare)
    with pytest.raises(ValueError, match="bad catalogue"):
        commands.run_board(_args(tmp_path), Settings(data_dir=tmp_path))
    assert wh.closed
