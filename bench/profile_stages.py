"""CPU per event of the pure stages of ``Pipeline.prepare``: ``python -m bench.profile_stages``.

Run by the profile benchmark in a process of its own. Simulated days (one force) are encoded as the
worker consumes them; each stage runs over every event ``--repeat`` times and its least CPU time
(user + system of this process, so a loaded machine inflates it less than wall time) is divided by
the number of events:

- decode: ``Pipeline.decode`` (shape check, pydantic validation, range and reference checks,
  de-identification); its validation alone is given too;
- folds: every subject's fold over its whole history of those days (one fold per subject);
- ledger rows: ``Pipeline._ledger_row`` for every accepted event;
- replay shard: :func:`streams.replay_shards.fold_shard` over every message as one shard (what a
  replay's worker process does before encoding: decode, each subject folded once, ledger, fact and
  rejected rows, rollup buckets), with collections paused as the worker process pauses them.

No warehouse is opened: the figures are the Python work a write cycle does besides its statements.
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from sinks.clickhouse.client import Warehouse


def _least_cpu(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def measure(start: date, days: int, scale: float, repeat: int) -> dict[str, Any]:
    from demandhub.settings import Settings
    from schemas.envelope import Envelope
    from schemas.events import entity_of, parse_event_json
    from streams import heap, registry
    from streams.domain.base import dedupe_sorted
    from streams.pipeline import DeadLetter, Pipeline, RawMessage
    from streams.replay_shards import fold_shard
    from streams.sources.simulator import SimConfig, simulate
    from streams.sources.simulator.output import encode, topic_name_for

    config = SimConfig(start=start, days=days, scale=scale, seed=3)
    messages = [RawMessage(topic_name_for(e), 0, i, encode(e)) for i, e in enumerate(simulate(config))]
    settings = Settings()
    now = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(days=days + 1)
    key = b"profile-stages-key-0123456789abcdef"  # any key: hashing costs the same
    pipeline = Pipeline(settings, cast("Warehouse", None), registry.folds(), key, now=lambda: now)
    heap.settle_after_startup()
    decoded = [pipeline.decode(m) for m in messages]
    accepted = [e for e in decoded if not isinstance(e, DeadLetter)]
    subjects: dict[tuple[str, str, str], list[Envelope]] = defaultdict(list)
    for e in accepted:
        subjects[(e.force_id, entity_of(e.type), e.subject)].append(e)
    histories = [
        (pipeline.folds[k[1]], dedupe_sorted(v)) for k, v in subjects.items() if k[1] in pipeline.folds
    ]

    def folds() -> None:
        for fold, events in histories:
            fold.fold(events, pipeline.definitions)

    n = len(messages)
    stages = {
        "validation": _least_cpu(lambda: [_validated(parse_event_json, m.value) for m in messages], repeat),
        "decode": _least_cpu(lambda: [pipeline.decode(m) for m in messages], repeat),
        "folds": _least_cpu(folds, repeat),
        "ledger_rows": _least_cpu(lambda: [pipeline._ledger_row(e, now) for e in accepted], repeat),
        "replay_shard": _least_cpu(lambda: _paused(lambda: fold_shard(pipeline, messages)), repeat),
    }
    return {
        "events": n,
        "subjects": len(histories),
        "us_per_event": {name: seconds * 1e6 / n for name, seconds in stages.items()},
    }


def _paused(fn: Callable[[], Any]) -> Any:
    """``fn()`` with the garbage collector paused, as a replay worker runs a shard."""
    gc.disable()
    try:
        return fn()
    finally:
        gc.enable()


def _validated(parse: Callable[[bytes], Any], raw: bytes) -> Any:
    try:
        return parse(raw)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2025-01-06")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    out = measure(date.fromisoformat(args.start), args.days, args.scale, args.repeat)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
