"""Every client of the embedded engine leaves the query condition cache alone (see
``sinks.clickhouse.client.EMBEDDED_SESSION_SETTINGS``): the worker's statements never repeat a
condition, and the cache would grow in the worker's own memory."""

from __future__ import annotations

import pytest

from sinks.clickhouse.client import EMBEDDED_SESSION_SETTINGS, ReaderPool, Warehouse

pytestmark = pytest.mark.integration


def _cache_entries(wh: Warehouse) -> int:
    rows = wh.query("SELECT value FROM system.metrics WHERE metric = 'QueryConditionCacheEntries'").rows
    return int(rows[0][0])


def _setting(wh: Warehouse | ReaderPool, name: str) -> str:
    return str(wh.query("SELECT getSetting({name:String})", parameters={"name": name}).rows[0][0])


def test_writer_readers_and_pools_read_without_the_query_condition_cache(wh: Warehouse) -> None:
    assert EMBEDDED_SESSION_SETTINGS == {"use_query_condition_cache": 0}
    wh.command(
        "INSERT INTO rollup_dirty (rollup_table, force_id, bucket, entry) "
        "SELECT 'contact_queue_15m', 'f' || toString(number % 7), toDateTime('2026-01-01 00:00:00') "
        "+ number * 900, generateUUIDv4() FROM numbers(50000)"
    )
    reader = wh.open_reader("live")
    pool = wh.open_pool("analyst", size=2, queue=2, wait_seconds=5.0)
    try:
        before = _cache_entries(wh)
        for handle in (wh, reader, pool):
            for i in range(5):
                handle.query(
                    "SELECT count() FROM rollup_dirty WHERE force_id = {f:String} AND bucket > {b:DateTime}",
                    parameters={"f": f"f{i}", "b": "2026-03-01 00:00:00"},
                )
        assert _cache_entries(wh) == before
        for handle in (wh, reader, pool):
            assert _setting(handle, "use_query_condition_cache").lower() in ("0", "false")
    finally:
        pool.close()
        reader.close()
