"""The embedded engine's allocator totals read from the text of ``system.jemalloc_stats``."""

from __future__ import annotations

import pytest

from sinks.clickhouse.admin_sql import jemalloc_totals

pytestmark = pytest.mark.unit

# An excerpt of the engine's text, with the merged arenas before the first arena (as it prints them):
# every total must come from the merged section, never from one arena's.
STATS = """\
Page size: 4096
Hugepage size: 2097152
Allocated: 61237640, active: 63840256, metadata: 7370608 (n_thp 0, edata 486272, rtree 4194304), \
resident: 76865536, mapped: 88387584, retained: 14897152
Background threads: 3, num_runs: 7, run_interval: 32907037 ns
Merged arenas stats:
assigned threads: 79
decaying:  time       npages       sweeps     madvises       purged
   dirty:   N/A         1897            0            0            0
   muzzy:   N/A            0            0            0            0
tcache_bytes:                14493120
arenas[0]:
decaying:  time       npages       sweeps     madvises       purged
   dirty:  5000           58            0            0            0
   muzzy:     0            0            0            0            0
tcache_bytes:                 5845256
"""


def test_every_total_comes_from_the_totals_line_and_the_merged_arenas() -> None:
    assert jemalloc_totals(STATS) == {
        "engine_allocated": 61237640,
        "engine_active": 63840256,
        "engine_metadata": 7370608,
        "engine_resident": 76865536,
        "engine_thread_cached": 14493120,
        "engine_dirty": 1897 * 4096,
    }


def test_a_total_the_text_does_not_hold_is_left_out() -> None:
    without_pages = STATS.replace("Page size: 4096\n", "")
    assert "engine_dirty" not in jemalloc_totals(without_pages)
    assert jemalloc_totals("no allocator here") == {}
