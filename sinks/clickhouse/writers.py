"""Faster column writers that give the very bytes clickhouse-connect's own writers give.

clickhouse-connect serialises an insert in Python, a value at a time, and a write cycle's inserts
are the largest Python work on the writer's side of the worker (the fact tables hold several time
columns a row). :func:`fast_type` swaps a column's type for one whose writer does the same work in
fewer steps, and leaves every other type as it is. The writers here fall back on the library's own
for any value or setting they do not handle, so their output is the library's whatever they are
given (tests/unit/test_replay_encoder.py compares the two on generated columns).

Used by every insert of :class:`sinks.clickhouse.client.Warehouse` and by a replay's
:class:`sinks.clickhouse.replay_sql.BlockEncoder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
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


def fast_type(kind: Any) -> Any:
    """``kind``, or for a ``DateTime64`` column that is not LowCardinality, the same type with the
    writer of :func:`_utc_millis_type` (the same bytes)."""
    from clickhouse_connect.datatypes.temporal import DateTime64

    if type(kind) is not DateTime64 or kind.low_card:
        return kind
    return _utc_millis_type()(kind.type_def)
