"""Personal data canaries: planted in every personal field of every event type, found nowhere.

Every golden example event (all event types) gets a distinctive canary in each of its personal-data
fields (``schemas.envelope.pii_fields``); hostile copies carry canaries in unknown fields, nested,
as whole payloads and inside invalid UTF-8. They go through the real worker (Kafka) and through
`demandhub replay` (file). Then every column of every table of both warehouses, the worker's log,
its /metrics, the replay's output and the dead-letter topics are searched: no canary may be found.
A control value planted where the hub keeps data in clear (an event id) must be found, so the search
itself is shown to work.

The second test plants canaries in EVERY string field of EVERY event type (personal or not, found by
walking the exported JSON Schemas, so a new field is covered without editing this file): a free-text
canary, a phone number and a 4000-character canary, one event each. A personal field takes the canary
and drops or hashes it; every other field is a shaped code or reference value and refuses it (the
event is a dead letter). Either way the canary is found nowhere: not in any table (rejected_events'
reasons and payloads included), not in the dead letters' values, headers or keys, not in the log,
/metrics or the replay's output.
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
from schemas.events import EVENT_MODELS, json_schemas
from schemas.shapes import reference_fields
from schemas.topics import DLQ_TOPICS, topic_for_type
from tests.fixtures.hub import REPO, HubWorker, wait_until
from tests.unit.test_shapes import string_leaves

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
            event = localise(dict(event, force_id=force, id=f"{event['id']}-{force}"))
            plant(event, len(events))
            events.append(event)
    return events


def localise(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its districts and areas moved to its force's reference data: the test forces
    have no rows of their own, so the generic geography (``<force>-d1`` in ``<force>-south``)."""
    event = copy.deepcopy(event)
    force = event["force_id"]
    for path, kind in reference_fields(EVENT_MODELS[event["type"]]):
        parts = path.split(".")
        obj = event
        for part in parts[:-1]:
            obj = obj.get(part) if isinstance(obj, dict) else None
        if isinstance(obj, dict) and obj.get(parts[-1]) is not None and kind in ("district", "area"):
            obj[parts[-1]] = f"{force}-d1" if kind == "district" else f"{force}-south"
    return event


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
        chunks.append(
            (record.key or b"") + record.value + b"".join(k.encode() + v for k, v in record.headers)
        )
        seen += 1
        if seen >= count:
            break
    consumer.close()
    assert seen >= count, f"only {seen} of {count} dead letters found"
    return b"\n".join(chunks)


def scan_warehouses(*data_dirs: Path, needles: tuple[str, ...] = NEEDLES) -> list[dict[str, Any]]:
    """Search every column of every table of each stopped warehouse for ``needles`` and the control
    value, one child process each, all at once (chDB holds one data path per process)."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SCAN_SCRIPT,
                str((data_dir / "warehouse").resolve()),
                json.dumps([*needles, CONTROL]),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for data_dir in data_dirs
    ]
    scans = []
    for proc in procs:
        out, err = finish(proc)
        assert proc.returncode == 0, err[-3000:]
        scans.append(dict(json.loads(out.strip().splitlines()[-1])))
    return scans


def finish(proc: subprocess.Popen[Any], timeout: float = 180) -> tuple[Any, Any]:
    """The output of a child process once it has ended (killed after ``timeout`` seconds)."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def start_replay(jsonl: Path, data_dir: Path) -> subprocess.Popen[bytes]:
    """`demandhub replay` of ``jsonl`` into a warehouse of its own, started in the background (it
    shares nothing with the worker, so it runs while the worker takes the same events from Kafka)."""
    return subprocess.Popen(
        [sys.executable, "-m", "demandhub.cli", "replay", str(jsonl), "--quiet", "--data-dir", str(data_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def found(text: bytes | str, needles: tuple[str, ...] = NEEDLES) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [n for n in needles if n.encode() in data]


def test_personal_data_canaries_are_found_nowhere(
    tansu: TansuBroker, tmp_path: Path, hub_worker: Callable[..., HubWorker]
) -> None:
    force = "pii" + uuid.uuid4().hex[:8]
    events = examples(force)
    events[0]["id"] = f"{CONTROL}-{force}"  # ids are kept in clear: the search must find this one
    assert {e["type"] for e in events} == set(EVENT_MODELS)  # every event type carries canaries
    bad = hostile(events)
    distinct = len({(e["source"], e["id"]) for e in events})

    jsonl = tmp_path / "canaries.jsonl"
    jsonl.write_bytes(b"\n".join([*(json.dumps(e).encode() for e in events), *bad]) + b"\n")
    replay = start_replay(jsonl, tmp_path / "file")

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

    replay_out, replay_err = finish(replay)
    assert replay.returncode == 0, replay_err[-3000:]
    totals = json.loads(replay_out.decode().strip().splitlines()[-1])
    assert totals["accepted"] == distinct and totals["dead_letters"] == len(bad)

    hub_scan, file_scan = scan_warehouses(tmp_path / "hub", tmp_path / "file")
    for scan in (hub_scan, file_scan):
        assert scan["tables"] >= 10 and scan["rows"] >= distinct
        assert any(k.endswith(CONTROL) for k in scan["hits"]), scan  # the search works
        assert {k: v for k, v in scan["hits"].items() if not k.endswith(CONTROL)} == {}, scan
    assert found(letters) == []
    assert found(metrics) == []
    assert found((tmp_path / "hub" / "worker.log").read_bytes()) == []
    assert found(replay_out + replay_err) == []
    canaries = sum(len(pii_fields(EVENT_MODELS[e["type"]])) for e in events) + 5 * (len(bad) - 3) + 3
    print(
        json.dumps({"canaries_planted": canaries, "canaries_found": 0, "tables_scanned": hub_scan["tables"]})
    )


FIELD_CANARY = "QZXFLD"
PHONE_PREFIX = "0770091"
FIELD_NEEDLES = (FIELD_CANARY, PHONE_PREFIX)


def string_fields(event_type: str) -> list[tuple[str, bool, bool]]:
    """(dotted path, personal, list of strings) of every string field of ``event_type``, read from its
    JSON Schema: envelope and payload, nested models, enums and times included."""
    fields: dict[str, tuple[bool, bool]] = {}
    for path, prop, _leaf in string_leaves(json_schemas()[event_type]):
        fields[path] = ("x-pii" in prop, prop.get("type") == "array")
    return [(path, personal, array) for path, (personal, array) in sorted(fields.items())]


def field_canaries(force: str) -> tuple[list[tuple[str, dict[str, Any]]], int, list[str]]:
    """One (topic, event) per (event type, string field, canary kind), each a golden example of the
    type with the canary in that one field; the number of them that must be accepted (canaries in
    personal fields); and the (type, field) pairs covered."""
    bases: dict[str, dict[str, Any]] = {}
    for path in sorted(EXAMPLES_DIR.glob("*/*.json")):
        loaded = json.loads(path.read_text())
        for event in loaded if isinstance(loaded, list) else [loaded]:
            bases.setdefault(event["type"], localise(dict(event, force_id=force)))
    events: list[tuple[str, dict[str, Any]]] = []
    personal_count, covered = 0, []
    n = 0
    for event_type in sorted(EVENT_MODELS):
        for path, personal, array in string_fields(event_type):
            covered.append(f"{event_type}:{path}")
            for kind in ("text", "phone", "long"):
                n += 1
                value = {
                    "text": f"{FIELD_CANARY}{n} Mrs Ann Smith, 7 Mill Rd",
                    "phone": f"{PHONE_PREFIX}{n:04d}",
                    "long": f"{FIELD_CANARY}{n}L" + "y" * 4000,
                }[kind]
                event = copy.deepcopy(bases[event_type])
                event["id"] = f"{event['id']}-{force}-f{n}"
                obj = event
                parts = path.split(".")
                for part in parts[:-1]:
                    obj = obj.setdefault(part, {})
                obj[parts[-1]] = [value] if array else value
                events.append((topic_for_type(event_type).name, event))
                personal_count += personal
    return events, personal_count, covered


def dlq_count(bootstrap: str, since: dict[str, int]) -> int:
    now = dlq_positions(bootstrap)
    return sum(now[t] - since[t] for t in since)


def test_a_canary_in_every_string_field_is_refused_or_found_nowhere(
    tansu: TansuBroker, tmp_path: Path, hub_worker: Callable[..., HubWorker]
) -> None:
    force = "fld" + uuid.uuid4().hex[:8]
    planted, personal, covered = field_canaries(force)
    assert {c.split(":")[0] for c in covered} == set(EVENT_MODELS)
    assert {"subject", "id", "type", "data.location.district", "data.duplicate_of"} <= {
        c.split(":")[1] for c in covered
    }
    queued = json.loads((EXAMPLES_DIR / "demandhub.contacts.call.v1" / "call.queued.v1.json").read_text())[0]
    control = localise(dict(queued, force_id=force, id=f"{CONTROL}-{force}"))
    events = [*planted, (topic_for_type(control["type"]).name, control)]
    accepted, refused = personal + 1, len(planted) - personal

    jsonl = tmp_path / "fields.jsonl"
    jsonl.write_bytes(b"\n".join(json.dumps(e).encode() for _t, e in events) + b"\n")
    replay = start_replay(jsonl, tmp_path / "file")

    since = dlq_positions(tansu.bootstrap)
    worker = hub_worker(data_dir=tmp_path / "hub")
    producer = KafkaProducer(bootstrap_servers=tansu.bootstrap, linger_ms=5)
    for topic, event in events:
        producer.send(topic, json.dumps(event).encode(), str(event["subject"]).encode())
    producer.flush()
    producer.close()
    wait_until(
        lambda: (
            worker.scalar(f"SELECT count() FROM events FINAL WHERE force_id = '{force}'") == accepted
            and dlq_count(tansu.bootstrap, since) >= refused
        ),
        what=f"{accepted} ledger rows and {refused} dead letters",
    )
    letters = dlq_bytes(tansu.bootstrap, since, refused)
    status, metrics = worker.get("metrics")
    assert status == 200
    worker.stop()

    replay_out, replay_err = finish(replay)
    assert replay.returncode == 0, replay_err[-3000:]
    totals = json.loads(replay_out.decode().strip().splitlines()[-1])
    # every canary in a field that is not personal was refused: such fields are shaped codes or
    # reference values; a free-form field would let its canary in and break these counts
    assert (totals["accepted"], totals["dead_letters"]) == (accepted, refused), totals

    for scan in scan_warehouses(tmp_path / "hub", tmp_path / "file", needles=FIELD_NEEDLES):
        assert any(k.endswith(CONTROL) for k in scan["hits"]), scan  # the search works
        assert {k: v for k, v in scan["hits"].items() if not k.endswith(CONTROL)} == {}, scan
    assert found(letters, FIELD_NEEDLES) == []
    assert found(metrics, FIELD_NEEDLES) == []
    assert found((tmp_path / "hub" / "worker.log").read_bytes(), FIELD_NEEDLES) == []
    assert found(replay_out + replay_err, FIELD_NEEDLES) == []
    print(
        json.dumps(
            {
                "string_fields": len(covered),
                "canary_events": len(planted),
                "accepted_personal": personal,
                "refused": refused,
                "canaries_found": 0,
            }
        )
    )
