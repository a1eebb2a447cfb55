"""faust's own per-event cost: do-nothing workers shaped like the hub's, against the bare consumer.

Run as a child process; prints one JSON object on its last stdout line (like ``bench.bare``):

- ``agents``: the hub's former shape: one faust agent per input topic, ``Stream.noack_take`` batches
  of ``--batch`` events (0.25 s), and one ``ack`` per event; no processing.
- ``one-agent``: faust pushed as far as its API goes (one agent over the five topics, larger
  fetches and buffers; still one ``ack`` per event: faust has no bulk acknowledgement);
- ``loop``: the hub's shape now (``streams.app``): a faust app whose Kafka consumer is off, with one
  task running one aiokafka consumer over the five topics, ``getmany`` and one commit per fetch.

Both count records until ``--count`` arrived and report the wall time (``time.time()``) at launch
(module import), at the first record and at the last one, and the process CPU seconds.
"""

from __future__ import annotations

import time

LAUNCHED = time.time()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Coroutine  # noqa: E402
from typing import TYPE_CHECKING, Any, cast  # noqa: E402

from schemas.topics import TOPICS  # noqa: E402

if TYPE_CHECKING:
    import faust


def _result(seen: int, first_at: float | None) -> dict[str, Any]:
    cpu = os.times()
    return {
        "records": seen,
        "launched_at": LAUNCHED,
        "first_at": first_at,
        "last_at": time.time(),
        "cpu_seconds": cpu.user + cpu.system,
    }


def _null_agent(
    state: dict[str, Any], count: int, batch: int
) -> Callable[[faust.StreamT[Any]], Coroutine[Any, Any, None]]:
    """A do-nothing agent: takes ``batch`` events at a time (0.25 s), acknowledges each, counts them
    into ``state`` and, once ``count`` arrived, prints the result and ends the worker."""

    async def consume(agent_stream: faust.StreamT[Any]) -> None:
        # faust hands an agent a Stream, whose noack_take yields the buffered events
        stream = cast("faust.Stream[Any]", agent_stream)
        async for events in stream.noack_take(batch, within=0.25):
            if state["first_at"] is None:
                state["first_at"] = time.time()
            state["seen"] += len(events)
            for event in events:
                await stream.ack(event)
            if state["seen"] >= count and state["result"] is None:
                state["result"] = _result(state["seen"], state["first_at"])
                print(json.dumps(state["result"]), flush=True)
                os.kill(os.getpid(), signal.SIGTERM)

    return consume


def agents(bootstrap: str, group: str, count: int, batch: int) -> dict[str, Any]:
    import faust

    app = faust.App(
        group,
        broker=f"kafka://{bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        broker_commit_interval=1.0,
        datadir=tempfile.mkdtemp(prefix="faust-null-"),
    )
    state: dict[str, Any] = {"seen": 0, "first_at": None, "result": None}

    for spec in TOPICS.values():
        topic = app.topic(spec.name, partitions=spec.partitions, key_type=bytes, value_type=bytes)

        consume = _null_agent(state, count, batch)
        consume.__name__ = f"null_{spec.entity}"
        app.agent(topic, name=f"null.{spec.entity}", concurrency=1)(consume)

    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()
    return state["result"] or _result(state["seen"], state["first_at"])


def one_agent(bootstrap: str, group: str, count: int, batch: int) -> dict[str, Any]:
    """faust pushed as far as its API goes: one agent over the five topics, larger fetches and
    stream buffers, one batch of ``--batch`` per take; faust still dispatches and acknowledges each
    event (it has no bulk acknowledgement)."""
    import faust

    app = faust.App(
        group,
        broker=f"kafka://{bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        broker_commit_interval=1.0,
        broker_max_poll_records=batch * 5,
        stream_buffer_maxsize=batch * 4,
        consumer_max_fetch_size=4 << 20,
        datadir=tempfile.mkdtemp(prefix="faust-null-"),
    )
    state: dict[str, Any] = {"seen": 0, "first_at": None, "result": None}
    topic = app.topic(*(t.name for t in TOPICS.values()), key_type=bytes, value_type=bytes)

    app.agent(topic, name="null.all", concurrency=1)(_null_agent(state, count, batch))
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()
    return state["result"] or _result(state["seen"], state["first_at"])


def loop(bootstrap: str, group: str, count: int, batch: int) -> dict[str, Any]:
    import faust
    from aiokafka import AIOKafkaConsumer

    app = faust.App(
        group + "-runtime",
        broker=f"kafka://{bootstrap}",
        web_enabled=False,
        datadir=tempfile.mkdtemp(prefix="faust-null-"),
    )
    app.boot_strategy.enable_kafka_consumer = False
    state: dict[str, Any] = {"result": None}

    @app.task
    async def consume() -> None:
        consumer = AIOKafkaConsumer(
            *(t.name for t in TOPICS.values()),
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            max_partition_fetch_bytes=4 << 20,
        )
        await consumer.start()
        seen, first_at = 0, None
        try:
            while seen < count:
                fetched = await consumer.getmany(timeout_ms=200, max_records=batch)
                if not fetched:
                    continue
                if first_at is None:
                    first_at = time.time()
                seen += sum(len(r) for r in fetched.values())
                await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in fetched.items() if rs})
        finally:
            await consumer.stop()
        state["result"] = _result(seen, first_at)
        print(json.dumps(state["result"]), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()
    return state["result"] or {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("agents", "one-agent", "loop"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", default="bench-faust-null")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    run = {"agents": agents, "one-agent": one_agent, "loop": loop}[args.mode]
    result = run(args.bootstrap, args.group, args.count, args.batch)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
