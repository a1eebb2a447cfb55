"""Output adapters (the simulator's only I/O): JSON Lines files and Kafka.

``write_jsonl`` also injects faults that only exist as bytes: lines that are not JSON, truncated,
not UTF-8, or a megabyte long.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from schemas.topics import TOPICS, topic_for_type
from streams.sources.simulator.config import Faults

MEGABYTE = 1 << 20
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
BYTE_MALFORMED_KINDS = ("truncated", "invalid_utf8", "not_json", "json_array", "empty_object")
BYTE_HOSTILE_KINDS = ("megabyte_string", "nul_bytes", "deep_array", "duplicate_keys")


def encode(event: dict[str, Any]) -> bytes:
    """One envelope as compact UTF-8 JSON."""
    return _ENCODE(event).encode("utf-8")


def _malformed_line(kind: str, sample: bytes) -> bytes:
    if kind == "truncated":
        return sample[: max(1, len(sample) // 2)]
    if kind == "invalid_utf8":
        return b'{"specversion":"1.0","id":"\xff\xfe\xfd","type":"call.offered.v1"}'
    if kind == "not_json":
        return b"<html><body>502 Bad Gateway</body></html>"
    if kind == "json_array":
        return b"[" + sample + b"]"
    return b"{}"


def _hostile_line(kind: str, sample: bytes, n: int) -> bytes:
    if kind == "megabyte_string":
        event = json.loads(sample)
        event["id"] = f"{event.get('id', 'x')}-mb{n}"
        event["data"] = {"disposition": "advice_given", "notes": "N" * MEGABYTE}
        event["type"] = "call.ended.v1"
        return encode(event)
    if kind == "nul_bytes":
        return (
            b'{"specversion":"1.0","id":"nul\\u0000id","source":"telephony\\u0000","type":"call.offered.v1"}'
        )
    if kind == "deep_array":
        return b"[" * 100_000 + b"]" * 100_000
    # a repeated key: last-wins parsers see an unknown type, first-wins ones a harmless duplicate
    return sample[:-1] + b',"type":"call.exploded.v1"}'


def write_jsonl(
    events: Iterable[dict[str, Any]], path: str | Path, faults: Faults | None = None, seed: int = 0
) -> dict[str, int]:
    """Write one envelope per line to ``path``; with ``faults``, add bad lines at the byte level.

    Beside each event, a malformed line is added with probability ``faults.malformed_rate`` and a
    hostile line with ``faults.hostile_rate`` (kinds taken in turn, so every kind appears; the first
    hostile line is the one-megabyte string). Returns ``{"events", "malformed_lines",
    "hostile_lines", "bytes"}``.
    """
    rng = random.Random(f"demandhub-sim-bytes:{seed}")
    malformed = faults.malformed_rate if faults else 0.0
    hostile = faults.hostile_rate if faults else 0.0
    counts = {"events": 0, "malformed_lines": 0, "hostile_lines": 0, "bytes": 0}
    with open(path, "wb", buffering=1 << 20) as out:
        for event in events:
            line = encode(event)
            lines = [line]
            if malformed and rng.random() < malformed:
                kind = BYTE_MALFORMED_KINDS[counts["malformed_lines"] % len(BYTE_MALFORMED_KINDS)]
                lines.append(_malformed_line(kind, line))
                counts["malformed_lines"] += 1
            if hostile and rng.random() < hostile:
                kind = BYTE_HOSTILE_KINDS[counts["hostile_lines"] % len(BYTE_HOSTILE_KINDS)]
                lines.append(_hostile_line(kind, line, counts["hostile_lines"]))
                counts["hostile_lines"] += 1
            for item in lines:
                out.write(item)
                out.write(b"\n")
                counts["bytes"] += len(item) + 1
            counts["events"] += 1
    return counts


def topic_name_for(event: dict[str, Any]) -> str:
    """The input topic of an envelope; events whose type names no known entity go to the call
    topic, where the processors dead-letter them."""
    etype = event.get("type")
    try:
        return topic_for_type(etype).name if isinstance(etype, str) else TOPICS["call"].name
    except KeyError:
        return TOPICS["call"].name


def produce_kafka(
    events: Iterable[dict[str, Any]],
    bootstrap: str,
    *,
    linger_ms: int = 20,
    batch_size: int = 256 * 1024,
    acks: int | str = 1,
    compression_type: str | None = None,
    flush_every: int = 0,
    **producer_config: Any,
) -> dict[str, int]:
    """Produce every envelope to its topic (``schemas.topics.topic_for_type``), keyed by subject.

    Batching: ``linger_ms`` and ``batch_size`` trade latency for throughput; ``flush_every`` > 0
    flushes after that many records (0: only at the end). Extra keyword arguments go to
    ``kafka.KafkaProducer``. Returns the number of records per topic and ``"total"``; raises the
    producer's error if a send failed.
    """
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=linger_ms,
        batch_size=batch_size,
        acks=acks,
        compression_type=compression_type,
        max_request_size=4 * MEGABYTE,
        **producer_config,
    )
    counts: dict[str, int] = {"total": 0}
    futures = []
    try:
        for event in events:
            topic = topic_name_for(event)
            key = str(event.get("subject", "")).encode("utf-8")
            futures.append(producer.send(topic, key=key, value=encode(event)))
            counts[topic] = counts.get(topic, 0) + 1
            counts["total"] += 1
            if flush_every and counts["total"] % flush_every == 0:
                producer.flush()
                _check(futures)
                futures = []
        producer.flush()
        _check(futures)
    finally:
        producer.close()
    return counts


def _check(futures: list[Any]) -> None:
    for future in futures:
        if future.failed():
            raise future.exception
