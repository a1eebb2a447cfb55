"""Each migration is recorded as soon as its statements are applied, before the next one begins: a
run that fails (or is killed) part-way leaves at most the migration in hand applied and unrecorded,
and the next run resumes there. Re-running older migrations over a later schema would fail (an older
view names a column a later migration drops)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.migrate import applied, migrate

pytestmark = pytest.mark.integration

FIRST = 9001  # far above the released migrations, which the session warehouse holds


def _write(directory: Path, number: int, name: str, sql: str) -> None:
    (directory / f"{number:04d}_{name}.sql").write_text(sql)


def test_a_run_that_fails_part_way_records_what_it_applied(wh: Warehouse, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    _write(
        directory,
        FIRST,
        "one",
        "CREATE TABLE IF NOT EXISTS mig_one (x UInt8) ENGINE = MergeTree ORDER BY x;\n",
    )
    _write(
        directory,
        FIRST + 1,
        "two",
        "CREATE VIEW IF NOT EXISTS mig_two AS SELECT x FROM mig_one;\n"
        "CREATE TABLE IF NOT EXISTS mig_seen ENGINE = Memory AS SELECT count() AS n "
        f"FROM schema_migrations WHERE number = {FIRST};\n",
    )
    _write(directory, FIRST + 2, "three", "CREATE TABLE mig_three (x NoSuchType) ENGINE = Memory;\n")
    try:
        with pytest.raises(Exception, match="NoSuchType"):
            migrate(wh, directory=directory)
        recorded = {n for n in applied(wh) if n >= FIRST}
        assert recorded == {FIRST, FIRST + 1}
        # The first was recorded before the second's statements ran.
        assert wh.query("SELECT n FROM mig_seen").rows == [(1,)]
        _write(
            directory, FIRST + 2, "three", "CREATE TABLE IF NOT EXISTS mig_three (x UInt8) ENGINE = Memory;\n"
        )
        assert [m.number for m in migrate(wh, directory=directory)] == [FIRST + 2]
        assert {n for n in applied(wh) if n >= FIRST} == {FIRST, FIRST + 1, FIRST + 2}
        assert migrate(wh, directory=directory) == []
    finally:
        for statement in (
            "DROP VIEW IF EXISTS mig_two",
            "DROP TABLE IF EXISTS mig_one",
            "DROP TABLE IF EXISTS mig_three",
            "DROP TABLE IF EXISTS mig_seen",
        ):
            wh.command(statement)
        wh.command(f"DELETE FROM schema_migrations WHERE number >= {FIRST}")
