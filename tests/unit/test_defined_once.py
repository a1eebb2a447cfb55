"""Concepts defined once: the queue list, warehouse times, hashes, wait edges, the active time zone.

Each test checks that a copy is derived from (or checked against) its one definition."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas import contacts, queues, shapes
from schemas.queues import QUEUE_LABELS, QUEUES, Queue, per_queue
from sinks.clickhouse.times import as_utc

pytestmark = pytest.mark.unit


def test_the_queue_enum_is_the_one_list_of_queues() -> None:
    assert contacts.Queue is queues.Queue
    assert QUEUES == ("999", "101-primary", "101-secondary", "webchat")
    assert [code for code, _ in QUEUE_LABELS] == list(QUEUES)
    assert shapes.QUEUE_PATTERN == r"^(999|101-primary|101-secondary|webchat|x-[a-z][a-z0-9-]{0,31})$"
    for queue in Queue:
        assert re.fullmatch(shapes.QUEUE_PATTERN, queue.value)
    assert not re.fullmatch(shapes.QUEUE_PATTERN, "101")


def test_per_queue_gives_every_queue_a_value() -> None:
    assert per_queue(30, Q999=10) == {"999": 10, "101-primary": 30, "101-secondary": 30, "webchat": 30}
    with pytest.raises(ValueError, match="not a queue"):
        per_queue(30, Q998=10)


def test_per_queue_settings_name_every_queue() -> None:
    from demandhub.settings import Settings
    from demandhub.web.trends import TREND_QUEUES

    settings = Settings()
    assert tuple(settings.abandonment_target) == QUEUES
    assert tuple(settings.service_level_targets) == QUEUES
    assert TREND_QUEUES == QUEUE_LABELS


def test_as_utc_reads_a_naive_warehouse_time_as_utc() -> None:
    naive = datetime(2026, 3, 29, 1, 30)
    assert as_utc(naive) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert as_utc(naive).tzinfo is UTC
    plus_one = datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=1)))
    converted = as_utc(plus_one)
    assert converted.tzinfo is UTC and converted.hour == 1
    assert as_utc(None) is None
