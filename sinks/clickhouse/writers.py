"""Faster column writers that give the very bytes clickhouse-connect's own writers give.

clickhouse-connect serialises an insert in Python, a value at a time, and a write cycle's inserts
are the largest Python work on the writer's side of the worker (the fact tables hold several time
columns a row). :func:`fast_type` swaps a column's type for one whose writer does the same work in
fewer steps (times) or without importing numpy (integers and floats), and leaves every other type
as it is. The writers here fall back on the library's own
for any value or setting they do not handle, so their output is the library's whatever they are
given (tests/unit/test_replay_encoder.py compares the two on generated columns).

Used by every insert of :class:`sinks.clickhouse.client.Warehouse` and by a replay's
:class:`sinks.clickhouse.replay_sql.BlockEncoder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from math import isinf, isnan
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_EXACT_FROM = datetime(1900, 1, 1, tzinfo=UTC)
_EXACT_UNTIL = datetime(2100, 1, 1, tzinfo=UTC)
"""UTC times whose float timestamp (what clickhouse-connect's own writer floors) is within a
microsecond of the exact instant (seconds since 1970 below 2**32 in size), so both give one tick."""


def utc_millis(value: datetime) -> int:
    """Milliseconds since 1970 of a UTC time from 1900 to 2099, exactly as clickhouse-connect 1.12
    writes a ``DateTime64(3)`` value (``DateTime64._datetime64_ticks``: the float timestamp floored,
    then the microseconds), by integer arithmetic instead of a float and three multiplications."""
    return (value - _EPOCH) // _MILLISECOND


@cache
def _utc_millis_type() -> type[Any]:
    """clickhouse-connect's ``DateTime64`` with a writer that turns UTC times of 1900-2099 into ticks
    by :func:`utc_millis` and leaves every other value (and column) to the library's own writer.
    Defined on first use: clickhouse-connect's types are imported with it."""
    from clickhouse_connect import common
    from clickhouse_connect.datatypes.temporal import DateTime64
    from clickhouse_connect.driver.common import first_value, write_array

    class UtcMillis(DateTime64, registered=False):
        __slots__ = ()

        def _write_column_binary(self, column: Sequence[Any], dest: bytearray, ctx: Any) -> None:
            first = first_value(column, self.nullable)
            if not isinstance(first, datetime) or self.prec != 1000 or self.write_format(ctx) == "int":
                super()._write_column_binary(column, dest, ctx)
                return
            server_mode = common.get_setting("naive_datetime_insert") == "server"
            active_tz = (self.tzinfo or ctx.server_tz) if server_mode else None
            ticks = self._datetime64_ticks
            low, high = _EXACT_FROM, _EXACT_UNTIL
            out = [
                (
                    (x - _EPOCH) // _MILLISECOND
                    if type(x) is datetime and x.tzinfo is UTC and low <= x < high
                    else (ticks(x, active_tz) if x or not self.nullable else 0)
                )
                for x in column
            ]
            write_array("q", out, dest, ctx.column_name)

    return UtcMillis


_PLAIN = (list, tuple)


@cache
def _list_number_type(base: type[Any]) -> type[Any]:
    """clickhouse-connect's integer or float type ``base`` with a writer that takes a list or a tuple
    (a column of rows, as the library pivots them) as the library's own does, without first asking
    whether the column is a numpy array: asking imports numpy (about 0.1 s) in a process that has not
    loaded it, the first time any process here inserts a number, and no column here is ever an
    array. Any other column goes to the library's writer."""
    from clickhouse_connect.datatypes.numeric import Float
    from clickhouse_connect.driver.common import write_array

    floats = issubclass(base, Float)
    kind = float if floats else int

    class ListNumber(base, registered=False):  # type: ignore[misc, call-arg]
        __slots__ = ()

        def _write_column_binary(self, column: Sequence[Any], dest: bytearray, ctx: Any) -> None:
            if type(column) not in _PLAIN or not column:
                super()._write_column_binary(column, dest, ctx)
                return
            # clickhouse-connect 1.12's IntBase and Float writers past their numpy check
            if self.nullable:
                first = next((x for x in column if x is not None), None)
                if floats and not isinstance(first, float):
                    column = [0 if x is None else float(x) for x in column]
                elif floats or isinstance(first, int):
                    column = [0 if x is None else x for x in column]
                elif isinstance(first, float):
                    column = [0 if x is None or isnan(x) or isinf(x) else int(x) for x in column]
                else:
                    column = [int(x) if x else 0 for x in column]
            elif not floats and isinstance(column[0], float):
                column = [0 if x is None or isnan(x) or isinf(x) else int(x) for x in column]
            elif not isinstance(column[0], kind):
                column = [kind(x) for x in column]
            # write_array: the library's own writer of a list (its compiled write_native_col asks for
            # numpy too), the same little-endian values
            write_array(self._array_type, column, dest, ctx.column_name)

    ListNumber.__name__ = ListNumber.__qualname__ = f"List{base.__name__}"
    return ListNumber


def fast_type(kind: Any) -> Any:
    """``kind``, or the same type with a writer that gives the same bytes in fewer steps: for a
    ``DateTime64`` column that is not LowCardinality, :func:`_utc_millis_type`'s; for an integer or
    float column, :func:`_list_number_type`'s (no numpy)."""
    from clickhouse_connect.datatypes.numeric import Float, IntBase
    from clickhouse_connect.datatypes.temporal import DateTime64

    if kind.low_card:
        return kind
    if type(kind) is DateTime64:
        return _utc_millis_type()(kind.type_def)
    cls: type = type(kind)
    writer = getattr(cls, "_write_column_binary", None)
    if writer is IntBase._write_column_binary or writer is Float._write_column_binary:
        # only a type that writes with the very method the new writer repeats
        return _list_number_type(cls)(kind.type_def)
    return kind
