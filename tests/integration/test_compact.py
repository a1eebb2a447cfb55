"""Parts merged after a bulk load: ``compact`` leaves one part per partition and the same rows for
every ``FINAL`` read, and ``demandhub replay`` ends with it (no table left fragmented)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.compact import active_parts, compact, fragmented_tables, mutation_records
from streams.sources.simulator import SimConfig, simulate
from streams.sources.simulator.output import write_jsonl
from tests.fixtures.child import run_python

pytestmark = pytest.mark.integration

PROBE = "compact_probe"


def test_compact_merges_each_partition_to_one_part_and_keeps_final_rows(wh: Warehouse) -> None:
    wh.command(
        f"CREATE TABLE {PROBE} (k UInt32, v UInt32, ver UInt32) ENGINE = ReplacingMergeTree(ver) "
        "PARTITION BY k % 2 ORDER BY k SETTINGS parts_to_throw_insert = 1000"
    )
    try:
        wh.command(f"SYSTEM STOP MERGES {PROBE}")
        for ver in range(1, 5):  # four inserts, each a part in both partitions, each replacing the last
            wh.command(f"INSERT INTO {PROBE} SELECT number, number * {ver}, {ver} FROM numbers(10)")
        wh.command(f"SYSTEM START MERGES {PROBE}")
        final = "SELECT k, v, ver FROM {t:Identifier} FINAL ORDER BY k"
        before = wh.query(final, parameters={"t": PROBE}).rows
        assert PROBE in fragmented_tables(wh)
        parts_before = active_parts(wh)

        assert PROBE in compact(wh)

        assert PROBE not in fragmented_tables(wh)
        parts = wh.query(
            "SELECT count() FROM system.parts WHERE database = currentDatabase() AND active AND table = {t:String}",
            parameters={"t": PROBE},
        ).rows[0][0]
        assert parts == 2
        assert active_parts(wh) < parts_before
        assert wh.query(final, parameters={"t": PROBE}).rows == before == [(k, 4 * k, 4) for k in range(10)]
        assert compact(wh) == []  # nothing left to merge
    finally:
        wh.command(f"DROP TABLE IF EXISTS {PROBE}")


def test_replay_ends_with_no_fragmented_table(tmp_path: Path) -> None:
    jsonl = tmp_path / "events.jsonl"
    config = SimConfig(start=date(2019, 1, 1), days=3, seed=5, scale=0.01, forces=("cambs",))
    write_jsonl(simulate(config), jsonl)
    data = tmp_path / "data"
    at = ["--data-dir", str(data)]
    done = subprocess.run(
        [sys.executable, "-m", "demandhub.cli", "replay", str(jsonl), "--chunk", "100", "--quiet", *at],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # One engine path per process: read the parts in a child.
    check = (
        "import sys; from demandhub.settings import Settings; from sinks.clickhouse.client import connect;"
        "from sinks.clickhouse.compact import fragmented_tables;"
        "wh = connect(Settings(data_dir=sys.argv[1]).resolved_dsn);"
        "print(fragmented_tables(wh), wh.query('SELECT count() FROM events').rows[0][0]); wh.close()"
    )
    fragmented, events = run_python(check, str(data)).strip().rsplit(" ", 1)
    assert fragmented == "[]"
    assert int(events) > 0


def test_compact_drops_the_empty_dirty_logs_mutation_records(wh: Warehouse) -> None:
    """Lightweight deletes of the dirty-bucket log leave mutation records that every start-up parses;
    compact removes them once the log is empty, and keeps a log that still holds entries."""
    log = "rollup_dirty"
    insert = f"INSERT INTO {log} (rollup_table, force_id, bucket) SELECT 'r', 'f', toDateTime(number * 900, 'UTC') FROM numbers(50)"
    wh.command(insert)
    wh.command(f"DELETE FROM {log} WHERE bucket < toDateTime(900 * 25, 'UTC')")
    assert mutation_records(wh, log) >= 1
    compact(wh)
    assert mutation_records(wh, log) >= 1  # 25 entries still to refresh: left alone
    assert wh.query(f"SELECT count() FROM {log}").rows[0][0] == 25

    wh.command(f"DELETE FROM {log} WHERE 1")
    assert wh.query(f"SELECT count() FROM {log}").rows[0][0] == 0
    compact(wh)
    assert mutation_records(wh, log) == 0
    assert compact(wh) == []


def test_the_dirty_log_keeps_one_finished_mutation_record(wh: Warehouse) -> None:
    """Migration 0005: the engine keeps one finished mutation record of the dirty-bucket log (not
    100), so the refresher's deletes leave little for the next process to parse when it opens."""
    settings = wh.query(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'rollup_dirty'"
    ).rows[0][0]
    assert "finished_mutations_to_keep = 1" in settings
