"""The replay's block encoder: its writer of ``DateTime64(3)`` columns gives the very bytes
clickhouse-connect's own writer gives, for every value a fact or ledger row may hold."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinks.clickhouse.client import _RowsInsertContext
from sinks.clickhouse.replay_sql import BlockEncoder
from sinks.clickhouse.writers import utc_millis

pytestmark = pytest.mark.unit

TYPES = {
    "t": {
        "at": "DateTime64(3, 'UTC')",
        "maybe": "Nullable(DateTime64(3, 'UTC'))",
        "name": "LowCardinality(String)",
        "micro": "DateTime64(6, 'UTC')",
    }
}
COLUMNS = ["at", "maybe", "name", "micro"]


def _insert_bytes(
    columns: Sequence[str],
    data: Sequence[Sequence[Any]],
    fast: bool = False,
    column_oriented: bool = False,
    types: dict[str, str] = TYPES["t"],
) -> bytes:
    """The Native bytes of an insert context for ``data`` (rows, or columns with
    ``column_oriented``) of ``types``' columns: with clickhouse-connect's own types, or with
    ``fast`` the types ``Warehouse.insert`` uses (:func:`sinks.clickhouse.writers.fast_type`)."""
    from clickhouse_connect.datatypes.registry import get_from_name
    from clickhouse_connect.driver.transform import NativeTransform

    from sinks.clickhouse.writers import fast_type

    kinds = [get_from_name(types[c]) for c in columns]
    if fast:
        kinds = [fast_type(k) for k in kinds]
    context = _RowsInsertContext("t", list(columns), kinds, column_oriented=column_oriented, server_tz=UTC)
    try:
        context.data = list(data)
        chunks = list(NativeTransform.build_insert(context))
    finally:
        context.release()
    chunks[0] = chunks[0][chunks[0].index(b"\n") + 1 :]
    return b"".join(chunks)


def _library_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """What clickhouse-connect's own types write for these rows (no fast writer)."""
    return _insert_bytes(columns, rows)


_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))])
_AWARE = st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(2299, 12, 31), timezones=_ZONES)
_EDGES = st.sampled_from(
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
        datetime(2106, 2, 7, 6, 28, 15, 999999, tzinfo=UTC),
        datetime(2025, 1, 6, 10, 0, 0, 999999, tzinfo=UTC),
    ]
)
_VALUE = st.one_of(_AWARE, _EDGES)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_VALUE, st.one_of(st.none(), _VALUE), _VALUE), min_size=1, max_size=40))
def test_encoded_times_are_the_library_s_bytes(
    values: list[tuple[datetime, datetime | None, datetime]],
) -> None:
    rows = [[at, maybe, "x", micro] for at, maybe, micro in values]
    assert BlockEncoder(TYPES).encode("t", COLUMNS, rows) == _library_bytes(COLUMNS, rows)


def test_a_nullable_column_of_nulls_and_naive_times_are_the_library_s_bytes() -> None:
    rows = [[datetime(2024, 3, 4, 5, 6, 7, 891234), None, "y", datetime(2024, 3, 4)] for _ in range(3)]
    assert BlockEncoder(TYPES).encode("t", COLUMNS, rows) == _library_bytes(COLUMNS, rows)


def test_utc_millis_floors_to_the_millisecond() -> None:
    assert utc_millis(datetime(1970, 1, 1, 0, 0, 1, 999999, tzinfo=UTC)) == 1999
    assert utc_millis(datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == -1


def test_the_encoder_writes_millisecond_times_with_its_own_writer() -> None:
    from clickhouse_connect.datatypes.temporal import DateTime64

    encoder = BlockEncoder(TYPES)
    encoder.encode("t", COLUMNS, [[datetime(2024, 1, 1, tzinfo=UTC), None, "z", datetime(2024, 1, 1)]])
    at, maybe = encoder._parsed["DateTime64(3, 'UTC')"], encoder._parsed["Nullable(DateTime64(3, 'UTC'))"]
    assert type(at) is not DateTime64 and isinstance(at, DateTime64)
    assert type(maybe) is type(at) and maybe.nullable
    assert at.name == "DateTime64(3, 'UTC')"


def _columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(len(rows[0]))]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(_VALUE, st.one_of(st.none(), _VALUE), st.sampled_from(["a", "b", ""]), _VALUE),
        min_size=1,
        max_size=60,
    )
)
def test_rows_given_by_column_are_the_library_s_bytes_of_the_same_rows(
    values: list[tuple[datetime, datetime | None, str, datetime]],
) -> None:
    rows = [list(v) for v in values]
    expected = _library_bytes(COLUMNS, rows)
    assert _insert_bytes(COLUMNS, rows, fast=True) == expected
    assert _insert_bytes(COLUMNS, _columns(rows), fast=True, column_oriented=True) == expected


def test_columns_read_as_the_rows_they_hold() -> None:
    from sinks.clickhouse.client import Columns

    held = Columns([["a", "b", "c"], [1, 2, 3]])
    assert len(held) == 3
    assert held[1] == ("b", 2)
    assert held[-1] == ("c", 3)
    assert held[1:] == [("b", 2), ("c", 3)]
    assert list(held) == [("a", 1), ("b", 2), ("c", 3)]
    assert not Columns([])


NUMBERS = {
    "u8": "UInt8",
    "u16": "UInt16",
    "u64": "UInt64",
    "i64": "Int64",
    "n8": "Nullable(UInt8)",
    "n64": "Nullable(Int64)",
    "f64": "Float64",
    "nf64": "Nullable(Float64)",
}


def _number_column(kind: str, rows: int) -> st.SearchStrategy[list[Any]]:
    """A column of ``rows`` values a fact row may hold in a ``kind`` column, of one Python type
    (the library looks at one value to decide how to write the rest)."""
    bounds = {"u8": (0, 255), "n8": (0, 255), "u16": (0, 65535), "u64": (0, 2**64 - 1)}
    if kind in ("f64", "nf64"):
        kinds = [
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-(2**53), 2**53),
            st.booleans(),
        ]
    else:
        lo, hi = bounds.get(kind, (-(2**63), 2**63 - 1))  # i64, n64
        kinds = [st.integers(lo, hi), st.booleans(), st.floats(0, 200), st.sampled_from([float("nan"), 3.7])]
    nullable = kind.startswith("n")
    return st.sampled_from(kinds).flatmap(
        lambda values: st.lists(
            st.one_of(st.none(), values) if nullable else values, min_size=rows, max_size=rows
        )
    )


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(*(_number_column(k, n) for k in NUMBERS))))
def test_number_columns_are_the_library_s_bytes(columns: tuple[list[Any], ...]) -> None:
    """The writer of integer and float columns (no numpy check) writes what the library's writes,
    for every kind of value the library turns into a number: ints, bools, floats (NaN and
    infinities become 0 in an integer column), nulls."""
    names = list(NUMBERS)
    rows = [list(row) for row in zip(*columns, strict=True)]
    expected = _insert_bytes(names, rows, types=NUMBERS)
    assert _insert_bytes(names, rows, fast=True, types=NUMBERS) == expected
    assert (
        _insert_bytes(names, list(map(list, columns)), fast=True, column_oriented=True, types=NUMBERS)
        == expected
    )
