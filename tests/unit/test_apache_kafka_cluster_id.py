"""The Apache Kafka launcher's cluster id is never read as an option by the storage tool."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bench import apache_kafka

pytestmark = pytest.mark.unit


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xF8 as the first byte makes the base64 form start with "-" (kafka-storage: "expected one
    # argument"); the launcher draws again, as Kafka's own Uuid.randomUuid does.
    drawn: Iterator[uuid.UUID] = iter(
        [uuid.UUID(bytes=b"\xf8" + b"\x01" * 15), uuid.UUID(bytes=b"\x01" * 16)]
    )
    monkeypatch.setattr(apache_kafka.uuid, "uuid4", lambda: next(drawn))
    found = apache_kafka.new_cluster_id()
    assert not found.startswith("-")
    assert len(found) == 22
