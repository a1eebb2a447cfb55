"""Every table of a migrated warehouse removes its merged-away parts on one thread (migration 0600):
the engine's concurrent removal starts up to 128 pool threads that then stay in the process for good,
each with an allocator cache of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sinks.clickhouse.client import Warehouse
from tests.fixtures.child import run_python

pytestmark = pytest.mark.integration


def test_every_table_removes_parts_on_one_thread(wh: Warehouse) -> None:
    rows = wh.query(
        "SELECT name, create_table_query FROM system.tables "
        "WHERE database = currentDatabase() AND engine LIKE '%MergeTree%' ORDER BY name"
    ).rows
    assert len(rows) > 20
    missing = [name for name, ddl in rows if "concurrent_part_removal_threshold = 1000000" not in ddl]
    assert missing == []


# In a fresh process (its thread count is its own): the ledger gets 150 one-row parts with merges
# stopped, they are merged into one, and the background cleanup removes the 150 replaced parts (the
# table's cleanup made quick for the test: every second, without the growing pause the engine takes
# between cleanups that found nothing). Without the migration's setting the removal started
# about 120 threads that stayed.
_SCRIPT = """
import json, os, sys, time
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate
wh = connect("chdb://" + sys.argv[1])
migrate(wh)
if sys.argv[2] == "engine-default":
    wh.command("ALTER TABLE events RESET SETTING concurrent_part_removal_threshold")
wh.command("ALTER TABLE events MODIFY SETTING old_parts_lifetime = 1, cleanup_delay_period = 1, "
           "cleanup_delay_period_random_add = 0, max_cleanup_delay_period = 1")
wh.command("DETACH TABLE events")
wh.command("ATTACH TABLE events")
wh.command("SYSTEM STOP MERGES events")
for i in range(150):
    wh.command(f"INSERT INTO events (force_id, subject, source, id, type, time, ingest_time, data) "
               f"VALUES ('f', 's{i}', 'x', 'e{i}', 't', '2024-01-01 00:00:00', '2024-01-01 00:00:00', '')")
def threads():
    return len(os.listdir(f"/proc/{os.getpid()}/task"))
def inactive():
    return wh.query("SELECT count() FROM system.parts WHERE table = 'events' AND NOT active").rows[0][0]
before = threads()
wh.command("SYSTEM START MERGES events")
wh.command("OPTIMIZE TABLE events FINAL")
deadline = time.monotonic() + 60
while inactive() and time.monotonic() < deadline:
    time.sleep(0.2)
print(json.dumps({"left": inactive(), "added": threads() - before}))
wh.close()
"""


def _threads_added(tmp_path: Path, variant: str) -> int:
    out = json.loads(run_python(_SCRIPT, str(tmp_path / variant), variant).splitlines()[-1])
    assert out["left"] == 0  # the replaced parts were removed
    return int(out["added"])


def test_removing_many_parts_leaves_no_new_threads_behind(tmp_path: Path) -> None:
    assert _threads_added(tmp_path, "migrated") < 10
    assert _threads_added(tmp_path, "engine-default") > 50  # what the setting prevents
