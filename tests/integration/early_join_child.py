"""A `demandhub worker` that cannot import faust until its consumer holds its partitions (it waits up
to two minutes, then the import fails, which stops the worker). A worker whose consumer began its
group join only once faust ran never gets past that wait.

Run as ``python -m tests.integration.early_join_child`` with the worker's DEMANDHUB_* environment."""

from __future__ import annotations

import importlib.abc
import sys
import time
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

from demandhub.cli import main
from sinks.prometheus.metrics import REGISTRY

JOIN_WAIT_SECONDS = 120.0


def assigned() -> bool:
    seconds = REGISTRY.get_sample_value("demandhub_worker_startup_seconds", {"stage": "consumer_assigned"})
    return seconds is not None


class FaustAfterTheJoin(importlib.abc.MetaPathFinder):
    """Holds the first import of faust until the worker marked its consumer assigned."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "faust":
            return None
        sys.meta_path.remove(self)
        deadline = time.monotonic() + JOIN_WAIT_SECONDS
        while not assigned():
            if time.monotonic() > deadline:
                raise ImportError("faust was to be imported before the worker's consumer joined its group")
            time.sleep(0.05)
        return None  # the usual finders import it


if __name__ == "__main__":
    assert "faust" not in sys.modules
    sys.meta_path.insert(0, FaustAfterTheJoin())
    raise SystemExit(main(["worker", *sys.argv[1:]]))
