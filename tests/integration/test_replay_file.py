"""A file replay folds each subject once over the whole file, in worker processes: its warehouse must
equal the one the worker's write cycles leave for the same lines (:func:`demandhub.runtime.replay`
in batches), whatever the number of processes, and a second run must change nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from demandhub import runtime
from demandhub.runtime import (
    ReplayTotals,
    build_pipeline,
    file_messages,
    file_segment,
    read_shards,
    replay,
    replay_file,
    replay_segments,
    start_replay_workers,
)
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from streams.replay_shards import shard_of
from streams.sources.simulator import SimConfig, simulate, write_jsonl

pytestmark = pytest.mark.integration

FAULTS = "duplicates,late,out_of_order,malformed,hostile,pii"


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three weeks at a small scale with every fault, plus lines that test the sharding: a copy of
    a known (source, id) with other content, and a copy of an event whose subject key is written
    with a JSON escape (its subject cannot be read off the line, so the line lands in another
    subject's shard and goes in after the shards)."""
    path = tmp_path_factory.mktemp("replay") / "events.jsonl"
    from demandhub.cli import parse_faults
    from streams.sources.simulator import Faults

    faults = Faults(**parse_faults(FAULTS))
    config = SimConfig(start=date(2024, 1, 29), days=21, scale=0.03, seed=5, faults=faults)
    write_jsonl(simulate(config), path)
    lines = path.read_bytes().splitlines()
    calls = [json.loads(x) for x in lines[:400] if b'"call.offered.v1"' in x]
    extra: list[bytes] = []
    conflicting = dict(calls[0])
    conflicting["data"] = {
        **conflicting["data"],
        "channel": "999" if conflicting["data"]["channel"] != "999" else "101",
    }
    extra.append(json.dumps(conflicting).encode())
    moved = next(c for c in calls[1:] if all(shard_of(c["subject"], n) != shard_of("", n) for n in (2, 3)))
    for copy in (moved, {**moved, "id": moved["id"] + "-again"}):
        extra.append(json.dumps(copy).replace('"subject":', '"\\u0073ubject":').encode())
    path.write_bytes(b"\n".join([*lines, *extra]) + b"\n")
    return path


def _columns(wh: Warehouse, table: str) -> list[str]:
    rows = wh.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
        "AND type NOT LIKE 'AggregateFunction%' ORDER BY position",
        parameters={"t": table},
    ).rows
    return [str(name) for (name,) in rows]


def snapshot(wh: Warehouse, settings: Settings) -> dict[str, Any]:
    """Every table a replay writes, as sorted rows: facts, rollups (live rows; sketches left out), the ledger (without the ingest time), dead
    letters and open quarantines (without the time received). Versions are left out: a fact row's
    is the number of events folded when it last changed, so it depends on how the events were
    batched (a whole-file replay writes what a rebuild from the ledger writes)."""
    from streams import registry

    out: dict[str, Any] = {}
    facts = sorted({t for fold in registry.folds() for t in fold.tables})
    for table in facts:
        cols = ", ".join(f"`{c}`" for c in _columns(wh, table) if c != "version")
        out[table] = sorted(map(repr, wh.query(f"SELECT {cols} FROM {table} FINAL").rows))
    for rollup in ("contact_queue_15m", "contact_channel_15m", "incidents_hourly"):
        cols = ", ".join(f"`{c}`" for c in _columns(wh, rollup) if c != "version")
        rows = wh.query(f"SELECT {cols} FROM {rollup} FINAL WHERE is_deleted = 0").rows
        out[rollup] = sorted(map(repr, rows))
    out["events"] = sorted(
        map(repr, wh.query("SELECT force_id, subject, source, id, type, time, data FROM events FINAL").rows)
    )
    out["rejected"] = sorted(
        map(
            repr,
            wh.query(
                "SELECT topic, offset, kind, reason, force_id, type, subject, payload FROM rejected_events "
                "FINAL WHERE kind = 'dlq' OR resolved_at IS NULL"
            ).rows,
        )
    )
    out["dirty"] = wh.query("SELECT count() FROM rollup_dirty").rows
    return out


def _settings(tmp_path: Path) -> Settings:
    """The one data directory (so one pseudonymisation key) every replay of a test uses."""
    return Settings(data_dir=tmp_path, force_id="cambs")


def _not_here(*args: object) -> None:
    raise AssertionError("this process read the file's lines")


def _empty(wh: Warehouse) -> None:
    for (name,) in wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows:
        wh.command(f"TRUNCATE TABLE IF EXISTS `{name}`")


def test_file_replay_equals_batched_replay(
    wh: Warehouse, events_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    batched = replay(build_pipeline(settings, wh, lazy_rollups=True), file_messages(events_file, 700))
    expected = snapshot(wh, settings)
    assert expected["contacts"] and expected["incidents"] and expected["contact_queue_15m"]
    _empty(wh)
    pool = start_replay_workers(settings, 2)  # the same key: the same data directory
    try:
        # Into a warehouse without events the workers read the file themselves, begun at once (as
        # `demandhub replay` does before it opens a new warehouse).
        assert pool is not None
        pool.preload(file_segment(events_file, pool))
        monkeypatch.setattr(runtime, "read_shards", _not_here)
        whole = replay_file(build_pipeline(settings, wh, lazy_rollups=True), events_file, pool)
    finally:
        assert pool is not None
        pool.close()
    assert_same(snapshot(wh, settings), expected)
    assert _counts(whole) == _counts(batched)
    assert whole.dead_letters > 0 and whole.duplicates > 0


def assert_same(found: dict[str, Any], expected: dict[str, Any]) -> None:
    """Table by table, naming the first rows that differ."""
    for table in expected:
        extra = sorted(set(found[table]) - set(expected[table]))[:3]
        missing = sorted(set(expected[table]) - set(found[table]))[:3]
        assert found[table] == expected[table], f"{table}: unexpected {extra}, missing {missing}"


def _counts(totals: ReplayTotals) -> dict[str, int]:
    return {k: v for k, v in totals.as_dict().items() if k != "quarantined"}


def test_serial_and_parallel_file_replays_agree_and_rerun_changes_nothing(
    wh: Warehouse, events_file: Path, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    serial = replay_file(build_pipeline(settings, wh, lazy_rollups=True), events_file)
    expected = snapshot(wh, settings)
    _empty(wh)
    pool = start_replay_workers(settings, 3)
    assert pool is not None
    try:
        parallel = replay_file(build_pipeline(settings, wh, lazy_rollups=True), events_file, pool)
        assert_same(snapshot(wh, settings), expected)
        assert parallel.as_dict() == serial.as_dict()
        again = replay_file(build_pipeline(settings, wh, lazy_rollups=True), events_file, pool)
    finally:
        pool.close()
    assert_same(snapshot(wh, settings), expected)
    assert again.accepted == 0 and again.duplicates == serial.accepted + serial.duplicates


def test_file_replay_after_part_of_the_file_completes_it(
    wh: Warehouse, events_file: Path, tmp_path: Path
) -> None:
    """A replay killed after some of its work (here: the first half of the lines went in by the
    worker's path) is completed by running it again: subjects the ledger holds are folded with their
    history, nothing is lost or counted twice."""
    settings = _settings(tmp_path)
    replay_file(build_pipeline(settings, wh, lazy_rollups=True), events_file)
    expected = snapshot(wh, settings)
    _empty(wh)
    lines = events_file.read_bytes().splitlines()
    half = tmp_path / "half.jsonl"
    half.write_bytes(b"\n".join(lines[: len(lines) // 2]) + b"\n")
    replay(build_pipeline(settings, wh, lazy_rollups=False), file_messages(half, 500))
    replay_file(build_pipeline(settings, wh, lazy_rollups=True), events_file)
    assert_same(snapshot(wh, settings), expected)


def test_file_replay_writes_each_table_in_one_insert(
    wh: Warehouse, events_file: Path, tmp_path: Path
) -> None:
    """The shards' encoded rows are held and written together: each fact table, the dead letters and
    the ledger get one part per month however many shards there were (the engine's merges stopped,
    so none is merged away), and they are the rows a serial replay writes. (Lines whose subject
    cannot be read off the line go in after the shards, in a write of their own: left out here.)"""
    settings = _settings(tmp_path)
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(
        b"".join(x for x in events_file.read_bytes().splitlines(True) if b"\\u0073ubject" not in x)
    )
    replay_file(build_pipeline(settings, wh, lazy_rollups=True), clean)
    expected = snapshot(wh, settings)
    _empty(wh)
    tables = [*sorted({t for fold in build_pipeline(settings, wh).folds.values() for t in fold.tables})]
    tables += ["rejected_events", "events"]
    for table in tables:
        wh.command(f"SYSTEM STOP MERGES {table}")
    pool = start_replay_workers(settings, 2)
    assert pool is not None
    try:
        replay_file(build_pipeline(settings, wh, lazy_rollups=True), clean, pool)
        parts = dict(
            wh.query(
                "SELECT table, count() - uniqExact(partition) FROM system.parts "
                "WHERE database = currentDatabase() AND active AND table IN {t:Array(String)} GROUP BY table",
                parameters={"t": tables},
            ).rows
        )
    finally:
        pool.close()
        for table in tables:
            wh.command(f"SYSTEM START MERGES {table}")
    assert parts.keys() == set(tables)
    assert parts == dict.fromkeys(tables, 0)
    assert_same(snapshot(wh, settings), expected)


def test_file_replay_in_segments_equals_the_whole_file(
    wh: Warehouse, events_file: Path, tmp_path: Path
) -> None:
    """A file larger than the segment size is read and folded one segment of its subjects at a
    time: the same warehouse and totals as in one go, and a second run changes nothing."""
    settings = _settings(tmp_path)
    whole = replay_file(build_pipeline(settings, wh, lazy_rollups=True), events_file)
    expected = snapshot(wh, settings)
    _empty(wh)
    size = events_file.stat().st_size // 3 + 1
    assert replay_segments(events_file, size) == 3
    pool = start_replay_workers(settings, 2)
    assert pool is not None
    try:
        first = read_shards(events_file, pool, 0, size)
        assert 0 < sum(map(len, first)) < whole.lines
        parts = replay_file(
            build_pipeline(settings, wh, lazy_rollups=True),
            events_file,
            pool,
            lines=first,
            segment_bytes=size,
        )
        assert not first
        assert_same(snapshot(wh, settings), expected)
        assert parts.as_dict() == whole.as_dict()
        again = replay_file(
            build_pipeline(settings, wh, lazy_rollups=True), events_file, pool, segment_bytes=size
        )
    finally:
        pool.close()
    assert_same(snapshot(wh, settings), expected)
    assert again.accepted == 0 and again.duplicates == whole.accepted + whole.duplicates
