"""A `demandhub worker` whose warehouse opening first waits until the worker's consumer holds its
partitions (up to two minutes, then it fails the opening, which stops the worker). A worker that
opened its warehouse before starting its consumer never gets past that wait.

Run as ``python -m tests.integration.startup_child`` with the worker's DEMANDHUB_* environment."""

from __future__ import annotations

import sys
import time
from typing import Any

from demandhub import runtime
from demandhub.cli import main
from streams import startup

JOIN_WAIT_SECONDS = 120.0

_open = runtime.open_worker_warehouse


def open_after_the_join(settings: Any, marks: startup.StartupMarks) -> Any:
    deadline = time.monotonic() + JOIN_WAIT_SECONDS
    while startup.CONSUMER_ASSIGNED not in marks:
        if time.monotonic() > deadline:
            raise RuntimeError("the warehouse opening waited for a consumer that never joined its group")
        time.sleep(0.05)
    return _open(settings, marks)


runtime.open_worker_warehouse = open_after_the_join

if __name__ == "__main__":
    raise SystemExit(main(["worker", *sys.argv[1:]]))
