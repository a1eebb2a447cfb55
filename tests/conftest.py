"""Shared fixtures. Unit tests get no network; warehouse tests share one embedded chDB per session.

chDB allows one data path per process at a time, so the session opens one warehouse, runs the real
migrations once, and ``wh`` empties every table before each test that uses it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse, connect
from sinks.clickhouse.migrate import migrate

TEST_KEY = b"test-pseudonymisation-key-not-a-secret"

pytest_plugins = ["tests.fixtures.hub", "tests.fixtures.apache_kafka"]


@pytest.fixture(autouse=True)
def _no_network_in_unit_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests may not open sockets to anything (loopback included)."""
    if request.node.get_closest_marker("unit") is None:
        return

    def guard(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unit tests must not use the network; mark the test integration")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket, "create_connection", guard)


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """One embedded warehouse for the whole session, built by the real migrations."""
    path: Path = tmp_path_factory.mktemp("warehouse")
    wh = connect(f"chdb://{path}")
    migrate(wh)
    yield wh
    wh.close()


@pytest.fixture
def wh(warehouse: Warehouse, request: pytest.FixtureRequest) -> Warehouse:
    """The session warehouse with every table emptied (integration tests only)."""
    if request.node.get_closest_marker("integration") is None:
        pytest.fail("a test that touches the warehouse must be marked integration")
    rows = warehouse.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows
    for (name,) in rows:
        warehouse.command(f"TRUNCATE TABLE IF EXISTS `{name}`")
    return warehouse


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for tests: passed as arguments, never patched into the environment."""
    return Settings(data_dir=tmp_path, force_id="cambs")
