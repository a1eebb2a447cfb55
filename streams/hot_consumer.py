"""The hot path's consumer (:class:`streams.app.HotPath`): its settings, its rebalance listener, and
its group join started at the very start of the worker.

tansu holds a group join for about half the session timeout (3 s of the worker's 6 s), and faust's
and the web server's imports take about 1.5 s from launch. :class:`EarlyJoin` starts the join as
soon as the settings are read, on the event loop faust later runs on, so the two overlap: it
declares the input and dead-letter topics (a consumer that joins before its topics exist is
assigned nothing), subscribes one consumer to the six input topics with the :class:`HandOver`
listener, and starts it (``start`` returns once the group assigned the partitions). The hot path
takes the joined consumer once faust runs (:meth:`EarlyJoin.take`); a worker that stops before it
did leaves the group here (:meth:`EarlyJoin.abandon`).

Imports aiokafka and the topic names only: it runs before faust is imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from schemas.topics import DLQ_PARTITIONS, DLQ_TOPICS, TOPICS
from streams import startup
from streams.startup import StartupMarks

log = logging.getLogger(__name__)

GROUP = "demandhub"
"""The worker's consumer group (the faust app's id)."""

FETCH_MAX_WAIT_MS = 50
"""How long the broker may hold the consumer's fetch request while it has no new records (aiokafka's
``fetch_max_wait_ms``, 500 by default). tansu, the embedded broker, does not answer a waiting fetch
when records arrive: it looks for them again after half the remaining wait (at 0, 250, 375 and
500 ms of the default), so a record produced during the wait reaches the worker up to 250 ms late.
Measured at 50 events/s, the default put p50 0.14 s and p99 0.29 s between produce and a bare
consumer's receipt, 50 ms put them at 0.02 s and 0.09 s, for about 4% of a core at the broker and
1.5% at the worker while idle. Apache Kafka answers as soon as records arrive, so there it only sets
how often an idle consumer asks."""


def input_topics() -> list[str]:
    """The six input topics the hot path's consumer subscribes to."""
    return [spec.name for spec in TOPICS.values()]


def consumer_options(broker: str, group: str, session_timeout: float) -> dict[str, Any]:
    """The hot path consumer's settings (``AIOKafkaConsumer`` keyword arguments)."""
    return {
        "bootstrap_servers": broker,
        "group_id": group,
        "client_id": f"{group}-worker",
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": int(session_timeout * 1000),
        "heartbeat_interval_ms": 1000,
        "max_partition_fetch_bytes": 4 << 20,
        "fetch_max_bytes": 64 << 20,
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
    }


class HandOver(ConsumerRebalanceListener):
    """Partitions are revoked only between write cycles: the cycles in progress commit first, and
    no further fetch is prepared meanwhile (``wanted``). ``cycle`` is the hot path's cycle lock."""

    def __init__(self, cycle: asyncio.Lock) -> None:
        self.cycle = cycle
        self.wanted = False

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.wanted = True
        try:
            async with self.cycle:
                pass
        finally:
            self.wanted = False

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


async def declare_topics(broker: str, timeout: float = 30.0) -> list[str]:
    """Create every input and dead-letter topic that does not exist yet (as faust's
    ``maybe_declare`` would: the partitions of ``schemas.topics``, replication 1); returns those
    created. Raises aiokafka's error if the broker cannot be reached or refuses a topic."""
    wanted = [NewTopic(spec.name, spec.partitions, 1) for spec in TOPICS.values()]
    wanted += [NewTopic(name, DLQ_PARTITIONS, 1) for name in DLQ_TOPICS]
    admin = AIOKafkaAdminClient(
        bootstrap_servers=broker, client_id="demandhub-admin", request_timeout_ms=int(timeout * 1000)
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        created = []
        for topic in (t for t in wanted if t.name not in existing):
            response = await admin.create_topics([topic])  # one a request, as faust declares them
            for name, code, *_ in response.topic_errors:
                if code == 0:
                    created.append(name)
                elif code != TopicAlreadyExistsError.errno:  # another worker created it meanwhile
                    raise for_code(code)(f"cannot create topic {name}")
        return created
    finally:
        await admin.close()


@dataclass(frozen=True)
class Joined:
    """A consumer that holds its partitions, and the listener it was subscribed with."""

    consumer: AIOKafkaConsumer
    handover: HandOver


class EarlyJoin:
    """The hot path consumer's topic declaration and group join, started on the running loop at
    once (:meth:`start`) and taken by the hot path when faust runs it (:meth:`take`).

    Marks (``streams.startup``): ``join_started`` as it begins, ``topics_declared``, then
    ``consumer_assigned`` once the group assigned the partitions."""

    def __init__(
        self,
        broker: str,
        group: str,
        session_timeout: float,
        marks: StartupMarks,
        consumer_factory: Callable[[], Any] | None = None,
        declare: Callable[[str], Any] = declare_topics,
    ) -> None:
        self.broker = broker
        self.group = group
        self.marks = marks
        self._make = consumer_factory or (
            lambda: AIOKafkaConsumer(**consumer_options(broker, group, session_timeout))
        )
        self._declare = declare
        self._task: asyncio.Task[Joined] | None = None
        self.taken = False

    def start(self) -> EarlyJoin:
        """Begin on the running loop (call from a coroutine on the loop the hot path will run on)."""
        if self._task is None:
            self.marks.mark(startup.JOIN_STARTED)
            self._task = asyncio.ensure_future(self._join())
        return self

    async def _join(self) -> Joined:
        await self._declare(self.broker)
        self.marks.mark(startup.TOPICS_DECLARED)
        consumer = self._make()
        handover = HandOver(asyncio.Lock())
        consumer.subscribe(input_topics(), listener=handover)
        try:
            await consumer.start()  # returns once the group assigned the partitions
        except BaseException:
            await consumer.stop()  # leaves the group if it had joined
            raise
        self.marks.mark(startup.CONSUMER_ASSIGNED)
        return Joined(consumer, handover)

    async def take(self) -> Joined:
        """The joined consumer, once it holds its partitions (raises what the join raised). From
        then on the caller stops it."""
        if self._task is None:
            raise RuntimeError("the early join was never started")
        joined = await asyncio.shield(self._task)
        self.taken = True
        return joined

    async def abandon(self) -> None:
        """A worker stopping before the hot path took the consumer: the join is cancelled and the
        consumer leaves the group (nothing, once taken)."""
        if self._task is None or self.taken:
            return
        self._task.cancel()  # a join under way stops its consumer itself (``_join``)
        await asyncio.wait({self._task})
        if self._task.cancelled() or self._task.exception() is not None:
            return  # (the exception is retrieved: whoever awaited the join reported it)
        with contextlib.suppress(Exception):
            await self._task.result().consumer.stop()
