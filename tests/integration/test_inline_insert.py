"""Inserts into the embedded engine carry their data in the statement (``INSERT ... FORMAT Native``
followed by the bytes) instead of clickhouse-connect's temporary file and ``FROM INFILE``: the same
rows land, the caller's settings apply, a large block and a block holding an empty line (where the
engine ends inline data) still take the file, any other bytes arrive whole, a bad value still
fails, and a client of another kind keeps the library's own insert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinks.clickhouse.client import (
    INLINE_DATA_END,
    INLINE_INSERT_MAX_BYTES,
    Warehouse,
    _inline_runner,
    connect,
)
from tests.fixtures.engine_spy import StatementSpy, spied

pytestmark = pytest.mark.integration

TABLE = "inline_insert_scratch"
COLUMNS = ("n", "code", "text", "maybe", "at", "maybe_at", "tags", "ratio", "flag")


@pytest.fixture
def handle(wh: Warehouse) -> Iterator[tuple[Warehouse, StatementSpy]]:
    wh.command(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (n UInt32, code LowCardinality(String), text String, "
        "maybe Nullable(String), at DateTime64(3, 'UTC'), maybe_at Nullable(DateTime64(3, 'UTC')), "
        "tags Array(String), ratio Float64, flag Bool) ENGINE = MergeTree PARTITION BY toYYYYMM(at) ORDER BY n"
    )
    wh.command(f"TRUNCATE TABLE {TABLE}")
    with spied(wh.dsn) as pair:
        yield pair
    wh.command(f"DROP TABLE IF EXISTS {TABLE}")


def rows(first: int, count: int, month: int = 1) -> list[list[Any]]:
    awkward = [
        "plain",
        "it's",
        'a "quote"',
        "back\\slash",
        "new\nline",
        "tab\there",
        "£ and é",
        "",
        "\x00nul",
    ]
    return [
        [
            first + i,
            ["999", "101", "webchat"][i % 3],
            awkward[i % len(awkward)] * (1 + i % 3),
            None if i % 4 == 0 else awkward[(i + 3) % len(awkward)],
            datetime(2025, month, 1 + i % 28, i % 24, i % 60, i % 60, (i % 1000) * 1000, tzinfo=UTC),
            None if i % 5 == 0 else datetime(2024, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            [awkward[j % len(awkward)] for j in range(i % 4)],
            i / 7,
            i % 2 == 0,
        ]
        for i in range(count)
    ]


def table_rows(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.query(f"SELECT * FROM {TABLE} ORDER BY n").rows


def test_an_embedded_insert_is_one_statement_with_its_data(handle: tuple[Warehouse, StatementSpy]) -> None:
    wh, spy = handle
    wh.insert(TABLE, rows(0, 3), COLUMNS)  # the first insert into a table asks its column types
    spy.statements.clear()
    wh.insert(TABLE, rows(3, 3), COLUMNS)
    assert len(spy.statements) == 1
    head = spy.statements[0].split(b"\n", 1)[0].decode()
    assert head.startswith(f"INSERT INTO `{TABLE}` (`n`, `code`")
    assert head.endswith("FORMAT Native") and "INFILE" not in head
    assert "max_threads = 1" in head
    assert [r[0] for r in table_rows(wh)] == list(range(6))


def test_the_same_rows_land_as_through_the_library(
    wh: Warehouse, handle: tuple[Warehouse, StatementSpy]
) -> None:
    inline, spy = handle
    library = connect(wh.dsn)
    library._inline = None  # clickhouse-connect's own insert: a temporary file and FROM INFILE
    try:
        library.insert(TABLE, rows(0, 40), COLUMNS)
        by_library = table_rows(wh)
        wh.command(f"TRUNCATE TABLE {TABLE}")
        spy.statements.clear()
        inline.insert(TABLE, rows(0, 40), COLUMNS)
        assert not any(b"INFILE" in s.split(b"\n", 1)[0] for s in spy.statements)
        assert table_rows(wh) == by_library
        assert len(by_library) == 40 and by_library[8][2] == "\x00nul" * 3
    finally:
        library.close()


def test_a_large_block_takes_the_file(handle: tuple[Warehouse, StatementSpy]) -> None:
    wh, spy = handle
    big = rows(0, 1 + INLINE_INSERT_MAX_BYTES // 40)
    spy.statements.clear()
    wh.insert(TABLE, big, COLUMNS)
    inserts = [s for s in spy.statements if s.startswith(b"INSERT")]
    assert len(inserts) == 1 and b"FROM INFILE" in inserts[0]
    assert wh.query(f"SELECT count() FROM {TABLE}").rows == [(len(big),)]


def test_a_block_holding_an_empty_line_takes_the_file(handle: tuple[Warehouse, StatementSpy]) -> None:
    """Two adjacent bytes 0x0A: here a number, and a string of the same bytes."""
    wh, spy = handle
    row = rows(0, 1)[0]
    row[0] = 0x0A0A
    row[2] = "two\n\nlines"
    spy.statements.clear()
    wh.insert(TABLE, [row], COLUMNS)
    inserts = [s for s in spy.statements if s.startswith(b"INSERT")]
    assert len(inserts) == 1 and b"FROM INFILE" in inserts[0]
    assert [(r[0], r[2]) for r in table_rows(wh)] == [(0x0A0A, "two\n\nlines")]


AWKWARD_BYTES = st.binary(max_size=12) | st.lists(
    st.sampled_from([b"\n", b"\r", b"\t", b" ", b";", b"'", b"\\", b"\x00", b"--", b"/*", b"a"]), max_size=8
).map(b"".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(AWKWARD_BYTES, st.integers(0, 2**32 - 1)), min_size=1, max_size=6))
def test_any_bytes_but_an_empty_line_arrive_whole(
    handle: tuple[Warehouse, StatementSpy], values: list[tuple[bytes, int]]
) -> None:
    """Strings of any bytes (as Latin-1 text, so every byte value can occur) and numbers, whatever
    the block ends with; the rows read back are the rows given, by whichever way they went."""
    wh, spy = handle
    wh.command(f"TRUNCATE TABLE {TABLE}")
    given_rows = []
    for n, (raw, number) in enumerate(values):
        row = rows(n, 1)[0]
        row[0], row[2] = number, raw.decode("latin-1")
        given_rows.append(row)
    spy.statements.clear()
    wh.insert(TABLE, given_rows, COLUMNS)
    inserts = [s for s in spy.statements if s.startswith(b"INSERT")]
    assert len(inserts) == 1
    head, _, data = inserts[0].partition(b"\n")
    assert b"FROM INFILE" in head or INLINE_DATA_END not in data
    got = wh.query(f"SELECT n, hex(text) FROM {TABLE} ORDER BY n, text").rows
    assert got == sorted((r[0], r[2].encode("utf-8").hex().upper()) for r in given_rows)


def test_the_callers_settings_apply(handle: tuple[Warehouse, StatementSpy]) -> None:
    """An insert may touch at most 100 partitions unless it is told otherwise (a replay's)."""
    wh, _spy = handle
    months = [r for m in range(1, 13) for r in rows(m * 100, 1, month=m)]
    months += [[*r[:4], r[4].replace(year=2000 + y), *r[5:]] for y, r in enumerate(rows(5000, 100))]
    with pytest.raises(DatabaseError, match=r"TOO_MANY_PARTS|partitions"):
        wh.insert(TABLE, months, COLUMNS)
    wh.insert(TABLE, months, COLUMNS, settings={"max_partitions_per_insert_block": 0})
    assert wh.query(f"SELECT count() FROM {TABLE}").rows == [(len(months),)]


def test_a_bad_value_fails_and_lands_nothing(handle: tuple[Warehouse, StatementSpy]) -> None:
    wh, _spy = handle
    bad = rows(0, 3)
    bad[1][4] = "not a time"
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a bad value
        wh.insert(TABLE, bad, COLUMNS)
    assert wh.query(f"SELECT count() FROM {TABLE}").rows == [(0,)]
    wh.insert(TABLE, rows(0, 3), COLUMNS)
    assert wh.query(f"SELECT count() FROM {TABLE}").rows == [(3,)]


def test_a_client_of_another_kind_keeps_the_librarys_insert() -> None:
    class Other:
        database = "default"

        class _backend:  # shaped like a client's backend attribute
            @staticmethod
            def _run(*_args: Any, **_kwargs: Any) -> None:
                raise AssertionError("never called")

    assert _inline_runner(Other()) is None
    assert _inline_runner(object()) is None
