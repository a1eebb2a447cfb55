"""A process that opens the embedded warehouse gives the engine's allocator the hub's options before
chDB is loaded (jemalloc reads them once, at load), unless the process was started with its own."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sinks.clickhouse.client import EMBEDDED_ALLOCATOR_ENV, EMBEDDED_ALLOCATOR_OPTIONS
from tests.fixtures.child import run_python

pytestmark = pytest.mark.integration


def _engine_options(tmp_path: Path, preset: str | None) -> tuple[int, bool]:
    """(``opt.tcache_max``, ``opt.prof``) of the engine's allocator in a fresh process."""
    script = (
        "from sinks.clickhouse.client import connect\n"
        f"wh = connect('chdb://{tmp_path / 'wh'}')\n"
        "print(wh.query('SELECT stats FROM system.jemalloc_stats').rows[0][0])\n"
        "wh.close()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != EMBEDDED_ALLOCATOR_ENV}
    if preset is not None:
        env[EMBEDDED_ALLOCATOR_ENV] = preset
    out = run_python(script, env=env, timeout=120)
    found = re.search(r"^\s*opt\.tcache_max: (\d+)$", out, re.MULTILINE)
    prof = re.search(r"^\s*opt\.prof: (true|false)$", out, re.MULTILINE)
    assert found is not None and prof is not None, out[:2000]
    return int(found.group(1)), prof.group(1) == "true"


def test_the_engine_allocator_keeps_small_thread_caches_and_no_heap_profile(tmp_path: Path) -> None:
    assert EMBEDDED_ALLOCATOR_OPTIONS == "tcache_max:4096,prof:false"
    # the engine build's own defaults are 32768 and a heap profiler that is on
    assert _engine_options(tmp_path, None) == (4096, False)


def test_options_the_process_was_started_with_are_kept(tmp_path: Path) -> None:
    assert _engine_options(tmp_path, "tcache_max:16384") == (16384, True)
