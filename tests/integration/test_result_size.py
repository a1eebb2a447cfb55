"""Analyst results are capped in bytes as they stream, not after they were built (real chDB).

The engine's ``max_result_bytes`` counts a constant column once per block, so the reported
``SELECT repeat('x', 15000) FROM numbers(99000)`` (1.5 GB, under the 100k-row cap) passed it; the
client used to build the whole result before any cap looked at it (5.8 GB of worker memory). Now the
engine materialises constants before its count, and the client counts the blocks as they stream.
Here that query goes through ``POST /api/sql`` and ``demandhub sql`` in processes of their own, and
each process's peak resident memory (``VmHWM``, or ``ru_maxrss`` of a child) is compared with the
same process before the query: a bound on memory, never on time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from demandhub import sqlguard
from demandhub.settings import Settings
from sinks.clickhouse.client import ResultTooLarge, Warehouse
from tests.fixtures.child import run_python

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REPORTED = "SELECT repeat('x', 15000) FROM numbers(99000)"
MESSAGE = "the result is larger than 50,000,000 bytes (sql_max_result_bytes)"
GROWTH_BOUND_KB = 500_000  # measured: about 120 MB; 5.8 GB when the whole answer was built first
ROOT = Path(__file__).resolve().parents[2]

# Serves the hub's web application in this process, asks /api/sql for the reported query, then for a
# small one on the same (one-session) analyst pool; prints the answers and VmHWM before and after.
SERVER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from sinks.clickhouse.client import connect
    from sinks.clickhouse.migrate import migrate
    from tests.integration.test_web_api import NOW, make_settings, serve, sql

    def hwm_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    data = sys.argv[1]
    wh = connect("chdb://" + data + "/warehouse")
    migrate(wh)
    live = serve(make_settings(data, sql_max_concurrent_queries=1, sql_max_queued_queries=0), wh, lambda: NOW)
    try:
        assert sql(live, "SELECT count() FROM numbers(10)").status == 200
        before = hwm_kb()
        big = sql(live, sys.argv[2])
        after = hwm_kb()
        small = sql(live, "SELECT number * 2 FROM numbers(4) ORDER BY number")
    finally:
        live.stop()
        wh.close()
    print(json.dumps({
        "big": [big.status, big.json()], "small": [small.status, small.json()],
        "before_kb": before, "after_kb": after,
    }))
    """
)

# Runs a `demandhub sql` child and prints its exit code, stderr and peak resident set (ru_maxrss, KB):
# this process has no other child, so the figure is the command's own.
CLI_SCRIPT = textwrap.dedent(
    """
    import json, resource, subprocess, sys
    done = subprocess.run(
        [sys.executable, "-m", "demandhub.cli", "sql", sys.argv[2], "--data-dir", sys.argv[1]],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"code": done.returncode, "stderr": done.stderr, "stdout": done.stdout, "peak_kb": peak}))
    """
)


def _run(script: str, *args: str) -> dict[str, object]:
    return json.loads(run_python(script, *args, timeout=240).strip().splitlines()[-1])


def test_api_refuses_the_reported_query_by_the_streamed_cap_in_bounded_memory(tmp_path: Path) -> None:
    out = _run(SERVER_SCRIPT, str(tmp_path), REPORTED)
    status, body = out["big"]  # type: ignore[misc]
    assert status == 400
    assert body["error"].startswith(MESSAGE), body
    growth = int(out["after_kb"]) - int(out["before_kb"])  # type: ignore[call-overload]
    assert growth < GROWTH_BOUND_KB, f"the worker grew by {growth:,} KB"
    # The analyst session that was refused answers the next query, and answers it right.
    assert out["small"] == [
        200,
        {"columns": ["multiply(number, 2)"], "types": ["UInt64"], "rows": [[0], [2], [4], [6]]},
    ]


def test_cli_refuses_the_reported_query_by_the_streamed_cap_in_bounded_memory(tmp_path: Path) -> None:
    data = str(tmp_path / "hub")
    migrate = [sys.executable, "-m", "demandhub.cli", "migrate", "--data-dir", data]
    assert subprocess.run(migrate, cwd=ROOT, capture_output=True, timeout=180, check=False).returncode == 0
    baseline = _run(CLI_SCRIPT, data, "SELECT 1")
    assert baseline["code"] == 0, baseline
    big = _run(CLI_SCRIPT, data, REPORTED)
    assert big["code"] == 1
    assert str(big["stderr"]).startswith(MESSAGE + ": select fewer columns or rows, or aggregate")
    assert len(str(big["stderr"]).splitlines()) == 1
    assert big["stdout"] == ""
    growth = int(big["peak_kb"]) - int(baseline["peak_kb"])  # type: ignore[call-overload]
    assert growth < GROWTH_BOUND_KB, f"demandhub sql grew by {growth:,} KB more than for SELECT 1"


def test_both_caps_stop_a_constant_column_and_leave_the_session_clean(wh: Warehouse) -> None:
    settings = Settings(sql_max_result_bytes=1_000_000)
    limits = sqlguard.limits(settings)
    client_only = {k: v for k, v in limits.items() if k != "max_result_bytes"}  # e.g. a server's own count
    refusal = (
        "the result is larger than 1,000,000 bytes (sql_max_result_bytes): "
        "select fewer columns or rows, or aggregate"
    )
    reader = wh.open_reader("capped")
    pool = wh.open_pool("capped-pool", size=1)
    wide = "SELECT repeat('x', 1500) AS w FROM numbers(10000)"  # 15 MB of one constant
    try:
        for runner in (reader, wh, pool):
            # The engine counts the constant in full (it is materialised before its check) ...
            with pytest.raises(Exception) as engine:
                runner.query(wide, settings=limits, max_bytes=1_000_000)
            assert sqlguard.failure_text(engine.value, settings).startswith(refusal + " (the engine says: ")
            # ... and where the engine does not count, the client's streamed count stops it.
            with pytest.raises(ResultTooLarge) as client:
                runner.query(wide, settings=client_only, max_bytes=1_000_000)
            assert sqlguard.failure_text(client.value, settings) == refusal
            # The same handle answers the next query in full, not the rest of the cancelled one.
            small = runner.query("SELECT number, toString(number) AS s FROM numbers(3)", max_bytes=1_000_000)
            assert (small.columns, small.types) == (("number", "s"), ("UInt64", "String"))
            assert small.rows == [(0, "0"), (1, "1"), (2, "2")]
    finally:
        reader.close()
        pool.close()


def test_a_result_under_the_cap_is_whole_and_typed_like_an_uncapped_one(wh: Warehouse) -> None:
    query = (
        "SELECT number, toString(number) AS s, [number, 1] AS a, toNullable(number) AS n, "
        "toDate('2024-01-01') + number AS d FROM numbers(20000) ORDER BY number"
    )
    capped = wh.query(query, settings={"max_block_size": 1000}, max_bytes=10_000_000)
    whole = wh.query(query)
    assert capped == whole and len(capped.rows) == 20000
    # Names, types and values of the query itself, constants and duplicate names included.
    odd = "SELECT 1, 1, 'a' AS `materialize(b)`, [] AS e, NULL AS n, toLowCardinality('x') AS lc"
    assert wh.query(odd, max_bytes=10_000) == wh.query(odd)
    empty = wh.query("SELECT 1 AS one WHERE 0", max_bytes=1000)
    assert empty.rows == [] and empty == wh.query("SELECT 1 AS one WHERE 0")
    with pytest.raises(ResultTooLarge):  # 20,000 rows x (8 + 8) fixed-width bytes
        wh.query("SELECT number, number FROM numbers(20000)", max_bytes=300_000)
