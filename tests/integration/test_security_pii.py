"""Personal data canaries: planted in every personal field of every event type, found nowhere.

Every golden example event (all event types) gets a distinctive canary in each of its personal-data
fields (``schemas.envelope.pii_fields``); hostile copies carry canaries in unknown fields, nested,
as whole payloads and inside invalid UTF-8. They go through the real worker (Kafka) and through
`demandhub replay` (file). Then every column of every table of both warehouses, the worker's log,
its /metrics, the replay's output and the dead-letter topics are searched: no canary may be found.
A control value planted where the hub keeps data in clear (an event id) must be found, so the search
itself is shown to work.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from demandhub.embedded import TansuBroker
from schemas.envelope import pii_fields
from schemas.events import EVENT_MODELS
from schemas.topics import DLQ_TOPICS, topic_for_type
from tests.fixtures.hub import REPO, HubWorker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

EXAMPLES_DIR = REPO / "schemas" / "examples"
CANARY = "QZXCAN"  # every string canary contains it
LATITUDE, LONGITUDE = 52.19876543, -0.08765432
NEEDLES = (CANARY, "9876543", "8765432")
CONTROL = "QZXCTRL"

_SCAN_SCRIPT = """
import json, sys
from sinks.clickhouse.client import connect
wh = connect("chdb://" + sys.argv[1])
needles = json.loads(sys.argv[2])
tables = [r[0] for r in wh.query(
    "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View%'"
).rows]
hits, rows = {}, 0
for table in tables:
    cols = [r[0] for r in wh.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
        parameters={"t": table},
    ).rows]
    text = "concat(" + ", '|', ".join(f"toString(`{c}`)" for c in cols) + ")" if len(cols) > 1 else (
        f"toString(`{cols[0]}`)")
    rows += wh.query(f"SELECT count() FROM `{table}`").rows[0][0]
    for needle in needles:
        n = wh.query(f"SELECT count() FROM `{table}` WHERE position({text}, {{n:String}}) > 0",
                     parameters={"n": needle}).rows[0][0]
        if n:
            hits[f"{table}:{needle}"] = n
print(json.dumps({"tables": len(tables), "rows": rows, "hits": hits}))
"""


def examples(force: str) -> list[dict[str, Any]]:
    """Every golden example event, moved to ``force``, with canaries in every personal field."""
    events = []
    for path in sorted(EXAMPLES_DIR.glob("*/*.json")):
        loaded = json.loads(path.read_text())
        for event in loaded if isinstance(loaded, list) else [loaded]:
            event = dict(event, force_id=force, id=f"{event['id']}-{force}")
            plant(event, len(events))
            events.append(event)
    return events


def plant(event: dict[str, Any], n: int) -> None:
    for path, marker in pii_fields(EVENT_MODELS[event["type"]]):
        obj = event
        parts = path.split(".")
        for part in parts[:-1]:
            obj = obj.setdefault(part, {})
        leaf = parts[-1]
        if leaf == "latitude":
            obj[leaf] = LATITUDE
        elif leaf == "longitude":
            obj[leaf] = LONGITUDE
        else:
            obj[leaf] = f"{CANARY}{n} {marker.kind} of 07700 900{n % 1000:03d}, 1 Acacia Ave"


def hostile(events: list[dict[str, Any]]) -> list[bytes]:
    """Invalid copies (one per event type) with canaries where the contract knows no field."""
    out: list[bytes] = []
    for i, event in enumerate({e["type"]: e for e in events}.values()):
        bad = copy.deepcopy(event)
        bad["id"] = f"{event['id']}-hostile"
        bad["data"]["x_contact_name"] = f"{CANARY}h{i} Jane Doe"
        bad["data"]["x_meta"] = {"notes2": [f"{CANARY}n{i} lives at 2 Elm Rd"], "ok": "CODE-1"}
        bad["x_extra"] = f"{CANARY}e{i}@example.com"
        bad["data"]["x_long"] = f"{CANARY}L{i}" + "z" * 5000
        out.append(json.dumps(bad).encode())
    out.append(json.dumps(f"{CANARY} whole payload, 07700 900123").encode())
    out.append(b"\xff\xfe" + f"{CANARY} in invalid utf-8".encode())
    out.append(json.dumps([{"name": f"{CANARY} in a list"}]).encode())
    return out


def send_all(bootstrap: str, events: list[dict[str, Any]], bad: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for event in events:
        producer.send(
            topic_for_type(event["type"]).name, json.dumps(event).encode(), event["subject"].encode()
        )
    for i, raw in enumerate(bad):
        producer.send("demandhub.contacts.call.v1", raw, f"hostile-{i}".encode())
    producer.flush()
    producer.close()


def dlq_positions(bootstrap: str) -> dict[str, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        ends = consumer.end_offsets([TopicPartition(t, 0) for t in DLQ_TOPICS])
    finally:
        consumer.close()
    return {tp.topic: o for tp, o in ends.items()}


def dlq_bytes(bootstrap: str, since: dict[str, int], count: int) -> bytes:
    """Values and headers of the next ``count`` dead letters after ``since``, concatenated."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=10_000)
    parts = [TopicPartition(t, 0) for t in DLQ_TOPICS]
    consumer.assign(parts)
    for tp in parts:
        consumer.seek(tp, since[tp.topic])
    chunks, seen = [], 0
    for record in consumer:
        chunks.append(record.value + b"".join(k.encode() + v for k, v in record.headers))
        seen += 1
        if seen >= count:
            break
    consumer.close()
    assert seen >= count, f"only {seen} of {count} dead letters found"
    return b"\n".join(chunks)


def scan_warehouse(data_dir: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCAN_SCRIPT,
            str((data_dir / "warehouse").resolve()),
            json.dumps([*NEEDLES, CONTROL]),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def found(text: bytes | str) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [n for n in NEEDLES if n.encode() in data]


def test_personal_data_canaries_are_found_nowhere(
    tansu: TansuBroker, tmp_path: Path, hub_worker: Callable[..., HubWorker]
) -> None:
    force = "pii" + uuid.uuid4().hex[:8]
    events = examples(force)
    events[0]["id"] = f"{CONTROL}-{force}"  # ids are kept in clear: the search must find this one
    assert {e["type"] for e in events} == set(EVENT_MODELS)  # every event type carries canaries
    bad = hostile(events)
    distinct = len({(e["source"], e["id"]) for e in events})

    since = dlq_positions(tansu.bootstrap)
    worker = hub_worker(data_dir=tmp_path / "hub")
    send_all(tansu.bootstrap, events, bad)
    wait_until(
        lambda: worker.scalar(f"SELECT count() FROM events FINAL WHERE force_id = '{force}'") == distinct,
        what=f"{distinct} ledger rows",
    )
    letters = dlq_bytes(tansu.bootstrap, since, len(bad))
    status, metrics = worker.get("metrics")
    assert status == 200
    worker.stop()

    jsonl = tmp_path / "canaries.jsonl"
    jsonl.write_bytes(b"\n".join([*(json.dumps(e).encode() for e in events), *bad]) + b"\n")
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "demandhub.cli",
            "replay",
            str(jsonl),
            "--quiet",
            "--data-dir",
            str(tmp_path / "file"),
        ],
        cwd=REPO,
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr[-3000:]
    totals = json.loads(replay.stdout.decode().strip().splitlines()[-1])
    assert totals["accepted"] == distinct and totals["dead_letters"] == len(bad)

    hub_scan, file_scan = scan_warehouse(tmp_path / "hub"), scan_warehouse(tmp_path / "file")
    for scan in (hub_scan, file_scan):
        assert scan["tables"] >= 10 and scan["rows"] >= distinct
        assert any(k.endswith(CONTROL) for k in scan["hits"]), scan  # the search works
        assert {k: v for k, v in scan["hits"].items() if not k.endswith(CONTROL)} == {}, scan
    assert found(letters) == []
    assert found(metrics) == []
    assert found((tmp_path / "hub" / "worker.log").read_bytes()) == []
    assert found(replay.stdout + replay.stderr) == []
    canaries = sum(len(pii_fields(EVENT_MODELS[e["type"]])) for e in events) + 5 * (len(bad) - 3) + 3
    print(
        json.dumps({"canaries_planted": canaries, "canaries_found": 0, "tables_scanned": hub_scan["tables"]})
    )
