"""Inserting through the writer handle never loads pandas or numpy: clickhouse-connect asks whether
the data it is given is a pandas DataFrame, and whether an integer or float column is a numpy
array, and asking imports them the first time; the warehouse only ever inserts rows of plain values
(:class:`sinks.clickhouse.client._RowsInsertContext`, and the number writers of
:mod:`sinks.clickhouse.writers`)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import ProgrammingError

from sinks.clickhouse.client import Warehouse
from tests.fixtures.child import run_python

pytestmark = pytest.mark.integration

TABLE = """CREATE TABLE t (
    name String, at DateTime64(3, 'UTC'), n UInt32, x Nullable(Float64), tags Array(String)
) ENGINE = MergeTree ORDER BY name"""


def test_inserts_and_insert_dicts_load_no_pandas_nor_numpy(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from datetime import UTC, datetime\n"
        "from sinks.clickhouse.client import connect\n"
        f"wh = connect('chdb://{tmp_path / 'wh'}')\n"
        f"wh.command({TABLE!r})\n"
        "at = datetime(2025, 2, 3, 10, 15, tzinfo=UTC)\n"
        "wh.insert('t', [('a', at, 1, None, ['p']), ['b', at, 2, 2.5, []]], ('name', 'at', 'n', 'x', 'tags'))\n"
        "wh.insert_dicts('t', [{'name': 'c', 'at': at, 'n': 3, 'x': -1.0, 'tags': ['q', 'r']}])\n"
        "wh.insert('t', [['d', at, 4, None, []]], ('name', 'at', 'n', 'x', 'tags'))\n"
        "rows = wh.query('SELECT name, toString(at), n, x, tags FROM t ORDER BY name').rows\n"
        "loaded = sorted(m for m in ('numpy', 'pandas', 'pyarrow') if m in sys.modules)\n"
        "wh.close()\n"
        "print(json.dumps({'rows': rows, 'loaded': loaded}))"
    )
    out = json.loads(run_python(script, timeout=120).splitlines()[-1])
    at = "2025-02-03 10:15:00.000"
    assert out == {
        "rows": [
            ["a", at, 1, None, ["p"]],
            ["b", at, 2, 2.5, []],
            ["c", at, 3, -1.0, ["q", "r"]],
            ["d", at, 4, None, []],
        ],
        "loaded": [],
    }


def test_a_row_of_the_wrong_width_is_refused_and_nothing_is_written(wh: Warehouse) -> None:
    at = datetime(2025, 2, 3, 10, 15, tzinfo=UTC)
    with pytest.raises(ProgrammingError):
        wh.insert("rollup_dirty", [["contact_queue_15m", "cambs"]], ("rollup_table", "force_id", "bucket"))
    wh.insert("rollup_dirty", [["contact_queue_15m", "cambs", at]], ("rollup_table", "force_id", "bucket"))
    assert wh.query("SELECT count() FROM rollup_dirty").rows == [(1,)]


def test_opening_the_worker_s_warehouse_loads_no_insert_codec(tmp_path: Path) -> None:
    """Opening the worker's warehouse loads no numpy, pandas or pyarrow: the first run migrates
    (recording each migration by an insert), the second opens what it left. That no insert of a
    write cycle loads them either is the first test's."""
    script = (
        "import json, sys\n"
        "from demandhub.runtime import open_worker_warehouse\n"
        "from demandhub.settings import Settings\n"
        "from streams.startup import StartupMarks\n"
        "opened = open_worker_warehouse(Settings(), StartupMarks())\n"
        "loaded = sorted(m for m in ('numpy', 'pandas', 'pyarrow') if m in sys.modules)\n"
        "opened.close()\n"
        "print(json.dumps(loaded))"
    )
    env = {**os.environ, "DEMANDHUB_DATA_DIR": str(tmp_path)}
    outs = []
    for _ in range(2):  # the first run migrates (and inserts); the second opens what it left
        outs.append(json.loads(run_python(script, env=env).splitlines()[-1]))
    assert outs == [[], []]


def test_times_inserted_by_row_and_by_dict_read_back_as_the_instants_given(wh: Warehouse) -> None:
    """The writer's time columns (``sinks.clickhouse.writers``): UTC times inside and outside the
    range its own arithmetic covers and another zone, by row and by dict."""
    from datetime import timedelta, timezone

    times = [
        datetime(2025, 2, 3, 10, 15, 0, 999999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(2100, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
        datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ]
    names = [f"r{i}" for i in range(len(times))]
    columns = ("force_id", "subject", "source", "id", "type", "time", "ingest_time", "data")
    wh.insert(
        "events",
        [["f", "x", "s", n, "call.offered.v1", t, t, "{}"] for n, t in zip(names, times, strict=True)],
        columns,
    )
    wh.insert_dicts(
        "events",
        [
            dict(zip(columns, ["f", "y", "s", n, "call.offered.v1", t, t, "{}"], strict=True))
            for n, t in zip(names, times, strict=True)
        ],
    )
    got = wh.query(
        "SELECT subject, id, toUnixTimestamp64Milli(time), toUnixTimestamp64Milli(ingest_time) "
        "FROM events ORDER BY subject, id"
    ).rows
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    millis = [(t - epoch) // timedelta(milliseconds=1) for t in times]
    assert got == [
        (subject, n, ms, ms) for subject in ("x", "y") for n, ms in zip(names, millis, strict=True)
    ]
