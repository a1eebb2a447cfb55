"""The canonical contact queues, defined once: every list of queues (the queue code's shape, the
per-queue definition defaults, the live page's rows, the simulator's queues) is derived from
:class:`Queue`."""

from __future__ import annotations

import enum
from typing import TypeVar

T = TypeVar("T")


class Queue(enum.StrEnum):
    """Canonical queues. Force-specific queues use the ``x-`` prefix (e.g. ``x-crime-desk``) and are
    listed per force in ``schemas/reference/queues.csv``."""

    Q999 = "999"
    Q101_PRIMARY = "101-primary"
    Q101_SECONDARY = "101-secondary"
    WEBCHAT = "webchat"

    @property
    def label(self) -> str:
        """How a page names the queue (``101 primary``, ``Web chat``)."""
        return _LABELS[self]


_LABELS = {
    Queue.Q999: "999",
    Queue.Q101_PRIMARY: "101 primary",
    Queue.Q101_SECONDARY: "101 secondary",
    Queue.WEBCHAT: "Web chat",
}


QUEUES: tuple[str, ...] = tuple(q.value for q in Queue)
"""The canonical queue codes in their reading order (999, 101 primary, 101 secondary, web chat)."""
QUEUE_LABELS: tuple[tuple[str, str], ...] = tuple((q.value, q.label) for q in Queue)
"""``(code, label)`` of every canonical queue, in reading order (the live page's and trends' rows)."""


def per_queue(default: T, **overrides: T) -> dict[str, T]:
    """A value for every canonical queue: ``default``, except the queues named in ``overrides`` by
    their :class:`Queue` member name (``per_queue(30, Q999=10)``)."""
    unknown = set(overrides) - set(Queue.__members__)
    if unknown:
        raise ValueError(f"not a queue: {sorted(unknown)}")
    return {q.value: overrides.get(q.name, default) for q in Queue}
