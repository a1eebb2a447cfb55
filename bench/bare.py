"""The baseline consumer: a bare aiokafka consumer that reads the hub's input topics and does
nothing else. Run as a child process; prints one JSON object on its last stdout line.

- ``drain``: read until ``--count`` records arrived; reports the wall-clock time (``time.time()``)
  of the first and of the last record.
- ``markers``: read until every event id listed in ``--ids`` (one per line) arrived or ``--count``
  records did; reports ``{id: receive time}``. Writes ``--ready`` once it holds its partitions.

Both join consumer group ``--group`` with the hub's session and fetch settings (6 s session, 1 s heartbeat)
and start from the earliest offset; ``--deadline`` bounds the run in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from schemas.topics import TOPICS

_ID_MARK = b'"id":"'
FETCH_MAX_WAIT_MS = 50
"""The hub's consumer's ``fetch_max_wait_ms`` (``streams.hot_consumer.FETCH_MAX_WAIT_MS``, not imported: that
loads faust, and this process's start-up is part of the baseline), so both read the broker alike."""


def event_id(value: bytes) -> str | None:
    """The envelope's ``id`` read straight from the JSON bytes (no full decode)."""
    at = value.find(_ID_MARK)
    if at < 0:
        return None
    start = at + len(_ID_MARK)
    end = value.find(b'"', start)
    return value[start:end].decode(errors="replace") if end > start else None


def _consumer(bootstrap: str, group: str) -> Any:
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(
        *(t.name for t in TOPICS.values()),
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_partition_fetch_bytes=4 << 20,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )


async def drain(bootstrap: str, group: str, count: int, deadline: float) -> dict[str, Any]:
    consumer = _consumer(bootstrap, group)
    await consumer.start()
    seen = 0
    nbytes = 0
    first_at: float | None = None
    try:
        while seen < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=20_000)
            for records in batches.values():
                if records and first_at is None:
                    first_at = time.time()
                seen += len(records)
                nbytes += sum(len(r.value or b"") for r in records)
        last_at = time.time()
    finally:
        await consumer.stop()
    return {"records": seen, "bytes": nbytes, "first_at": first_at, "last_at": last_at}


async def markers(
    bootstrap: str, group: str, ids: set[str], count: int, deadline: float, ready: Path
) -> dict[str, Any]:
    consumer = _consumer(bootstrap, group)
    await consumer.start()
    seen = 0
    received: dict[str, float] = {}
    try:
        while not consumer.assignment() and time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=100)
        ready.write_text("ready")
        while len(received) < len(ids) and seen < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.time()
            for records in batches.values():
                seen += len(records)
                for r in records:
                    eid = event_id(r.value or b"")
                    if eid in ids and eid not in received:
                        received[eid] = now
    finally:
        await consumer.stop()
    return {"records": seen, "received": received}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("drain", "markers"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", default="bench-bare")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds")
    parser.add_argument("--ids", type=Path)
    parser.add_argument("--ready", type=Path)
    args = parser.parse_args()
    deadline = time.monotonic() + args.deadline
    if args.mode == "drain":
        result = asyncio.run(drain(args.bootstrap, args.group, args.count, deadline))
    else:
        assert args.ids is not None and args.ready is not None, "markers needs --ids and --ready"
        ids = set(args.ids.read_text().split())
        result = asyncio.run(markers(args.bootstrap, args.group, ids, args.count, deadline, args.ready))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
