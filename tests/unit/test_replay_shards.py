"""The file replay's shards: however a file's lines are split by subject, folding the shards gives the
rows of folding the whole file at once; a line put in the wrong subject's shard comes back as a stray
instead of being folded apart from its subject; months of logged buckets become few range statements."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demandhub.settings import Settings
from sinks.clickhouse.rollups import MONTHS_PER_STATEMENT, month_ranges
from streams.pipeline import BatchReport, DeadLetter, Pipeline, RawMessage
from streams.replay_shards import (
    FileChangedError,
    FileSegment,
    ShardPool,
    ShardRows,
    fold_shard,
    messages_of,
    offline_pipeline,
    peek_subject,
    shard_lines,
    shard_of,
)
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.unit


def _lines() -> list[bytes]:
    from demandhub.cli import parse_faults
    from streams.sources.simulator import Faults, SimConfig, simulate

    faults = Faults(**parse_faults("duplicates,late,out_of_order,malformed"))
    config = SimConfig(start=date(2024, 3, 4), days=2, scale=0.05, seed=3, faults=faults)
    return [json.dumps(e, separators=(",", ":")).encode() for e in simulate(config)]


LINES = _lines()


def _pipeline(tmp: Path) -> Pipeline:
    return offline_pipeline(Settings(data_dir=tmp, force_id="cambs"), TEST_KEY)


def _shards(lines: list[tuple[int, bytes]], count: int) -> list[list[RawMessage]]:
    out: list[list[RawMessage]] = [[] for _ in range(count)]
    for number, line in lines:
        out[shard_of(peek_subject(line), count)].append(RawMessage("", 0, number, line))
    return out


def _merged(parts: list[ShardRows]) -> dict[str, Any]:
    """Rows of several shards as one comparable whole (ingest and receipt times left out)."""
    facts: dict[str, list[str]] = {}
    for part in parts:
        for table, (columns, rows) in part.facts.items():
            facts.setdefault(table, []).extend(repr(sorted(zip(columns, row, strict=True))) for row in rows)
    return {
        "facts": {table: sorted(rows) for table, rows in facts.items()},
        "ledger": sorted(repr(row[:6] + row[7:]) for part in parts for row in part.ledger),
        "rejected": sorted(repr(row[:8] + row[9:10]) for part in parts for row in part.rejected),
        "dirty": sorted({d for part in parts for d in part.dirty}),
        "counts": [
            sum(getattr(p, name) for p in parts)
            for name in ("consumed", "accepted", "duplicates", "dead_letters", "quarantine_change")
        ],
    }


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(min_value=2, max_value=7), seed=st.integers(min_value=0, max_value=10**6))
def test_shards_fold_to_the_rows_of_the_whole_file(tmp_path: Path, count: int, seed: int) -> None:
    pipeline = _pipeline(tmp_path)
    lines = list(enumerate(LINES, start=1))
    whole = fold_shard(pipeline, _shards(lines, 1)[0])
    assert whole.facts and whole.dead_letters and whole.duplicates
    random.Random(seed).shuffle(lines)  # any order of arrival within the file
    parts = [fold_shard(pipeline, shard, (), i, count) for i, shard in enumerate(_shards(lines, count))]
    assert not any(p.strays for p in parts)
    assert _merged(parts) == _merged([whole])


def test_a_shard_folded_without_buckets_gives_the_same_rows_and_no_buckets(tmp_path: Path) -> None:
    """A replay that logs no rollup bucket has its workers skip finding them."""
    pipeline = _pipeline(tmp_path)
    lines = list(enumerate(LINES, start=1))
    shard = _shards(lines, 1)[0]
    found, without = fold_shard(pipeline, shard), fold_shard(pipeline, shard, buckets=False)
    assert found.dirty and not without.dirty
    assert _merged([without]) == _merged([found]) | {"dirty": []}


def test_a_line_in_another_subjects_shard_is_a_stray(tmp_path: Path) -> None:
    """The envelope's key written with a JSON escape (valid JSON, the same event): the line's subject
    cannot be read off the raw bytes, so the line lands in the shard of no subject."""
    event = json.loads(next(x for x in LINES if b'"call.offered.v1"' in x))
    line = json.dumps(event).replace('"subject":', '"\\u0073ubject":').encode()
    assert peek_subject(line) == ""
    count = next(n for n in range(2, 50) if shard_of("", n) != shard_of(event["subject"], n))
    found = fold_shard(_pipeline(tmp_path), [RawMessage("", 0, 1, line)], (), shard_of("", count), count)
    assert [m.value for m in found.strays] == [line]
    assert not found.facts and not found.ledger and found.consumed == 0 and found.accepted == 0
    kept = fold_shard(
        _pipeline(tmp_path), [RawMessage("", 0, 1, line)], (), shard_of(event["subject"], count), count
    )
    assert not kept.strays and kept.accepted == 1 and kept.ledger


def test_shard_lines_keeps_line_numbers_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(LINES[0] + b"\n\n" + LINES[1] + b"\r\n")
    shards, count = shard_lines(path, 3)
    assert count == 2
    assert sorted(n for shard in shards for n, _ in shard) == [1, 3]
    assert all(m.topic for shard in shards for m in messages_of(shard))


def test_segments_of_a_file_are_its_shards_split_in_runs(tmp_path: Path) -> None:
    """Read in segments, a file's lines are the shards of one split over every segment's shards
    (segment k holds shards k * n to k * n + n - 1): each line once, a subject in one shard."""
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    whole, count = shard_lines(path, 12)
    segments = [shard_lines(path, 4, k, 3) for k in range(3)]
    assert all(n == count == len(LINES) for _, n in segments)
    assert [shard for lines, _ in segments for shard in lines] == whole
    assert sum(len(shard) for shard in whole) == count
    assert all(len(lines) == 4 and any(lines) for lines, _ in segments)


def test_a_worker_reads_a_segment_once_and_hands_each_shard_over_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process that reads the file itself (a replay into a new warehouse) gets the lines
    :func:`shard_lines` gives, reads the segment once for all its shards, lets go of a shard's lines
    once it has them, and reads again for another segment."""
    from streams import replay_shards

    path = tmp_path / "f.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    monkeypatch.setattr(replay_shards, "_read", None)
    reads: list[FileSegment] = []
    real = FileSegment.read

    def counted(self: FileSegment) -> list[list[tuple[int, bytes]]]:
        reads.append(self)
        return real(self)

    monkeypatch.setattr(FileSegment, "read", counted)
    first = FileSegment.of(path, 4, 0, 2)
    replay_shards._preload(first)
    got = [replay_shards._lines_of((first, i)) for i in range(4)]
    assert got == shard_lines(path, 4, 0, 2)[0] and any(got)
    assert reads == [first]
    assert replay_shards._lines_of((first, 2)) == []  # handed over already
    second = FileSegment.of(path, 4, 1, 2)
    assert replay_shards._lines_of((second, 1)) == shard_lines(path, 4, 1, 2)[0][1]
    assert reads == [first, second]
    lines = [(1, LINES[0])]
    assert replay_shards._lines_of(lines) is lines  # lines sent as they are


def test_a_file_changed_after_the_replay_began_is_not_read(tmp_path: Path) -> None:
    from demandhub import errors

    path = tmp_path / "f.jsonl"
    path.write_bytes(b"\n".join(LINES[:50]) + b"\n")
    segment = FileSegment.of(path, 2)
    with path.open("ab") as fh:
        fh.write(LINES[50] + b"\n")
    with pytest.raises(FileChangedError) as raised:
        segment.read()
    said = errors.describe(raised.value)
    assert said.code == errors.INPUT
    assert str(path) in str(said) and "run the replay again" in str(said)


def test_month_ranges_join_consecutive_months_up_to_the_limit() -> None:
    def at(y: int, m: int) -> datetime:
        return datetime(y, m, 9, 13, 15, tzinfo=UTC)

    assert month_ranges([at(2024, 1), at(2024, 2), at(2024, 2), at(2024, 4), at(2024, 12), at(2025, 1)]) == [
        (datetime(2024, 1, 1), datetime(2024, 3, 1)),
        (datetime(2024, 4, 1), datetime(2024, 5, 1)),
        (datetime(2024, 12, 1), datetime(2025, 2, 1)),
    ]
    long = month_ranges([at(2000 + n // 12, n % 12 + 1) for n in range(MONTHS_PER_STATEMENT + 1)])
    assert len(long) == 2 and long[1] == (datetime(2005, 1, 1), datetime(2005, 2, 1))


def test_a_pool_closed_now_stops_its_workers_in_the_middle_of_their_work(tmp_path: Path) -> None:
    """Ctrl-C during a file replay: the workers stop at once instead of folding their shards in hand
    to the end (a shard of a large file takes many seconds) for nothing."""
    pool = ShardPool(1, Settings(data_dir=tmp_path, force_id="cambs"), TEST_KEY)
    pool.wait_started()
    processes = list(pool._pool._processes.values())  # type: ignore[attr-defined]
    busy = pool._pool.submit(time.sleep, 60)  # a long shard
    pool.close(now=True)
    assert busy.cancelled() or isinstance(busy.exception(), BrokenProcessPool)
    assert processes and not any(p.is_alive() for p in processes)


def test_a_worker_collects_no_garbage_while_it_folds_a_shard_and_again_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from streams import replay_shards

    seen: list[bool] = []

    def folding(*args: Any) -> ShardRows:
        seen.append(gc.isenabled())
        raise ValueError("a shard that fails")

    monkeypatch.setattr(replay_shards, "_worker_pipeline", _pipeline(tmp_path))
    monkeypatch.setattr(replay_shards, "fold_shard", folding)
    assert gc.isenabled()
    with pytest.raises(ValueError, match="a shard that fails"):
        replay_shards._fold_in_worker([(1, LINES[0])], (), 0, 1, cast(Any, None))
    assert seen == [False]
    assert gc.isenabled()


def test_fact_columns_are_the_rows_values_in_column_order() -> None:
    from streams.replay_shards import _columns

    assert _columns("t", [{"a": 1, "b": 2}, {"b": 4, "a": 3}]) == (["a", "b"], [(1, 2), (3, 4)])
    assert _columns("t", [{"a": 1}, {"a": 2}]) == (["a"], [(1,), (2,)])
    with pytest.raises(ValueError, match="different columns"):
        _columns("t", [{"a": 1}, {"b": 2}])


def test_accepted_events_are_counted_by_topic_in_the_order_topics_first_come(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    lines = [x for x in LINES if b'"incident.' in x][:3] + [x for x in LINES if b'"call.' in x][:4]
    lines += [x for x in LINES if b'"incident.' in x][3:5]
    report = BatchReport(consumed=len(lines))
    events = [pipeline.decode(RawMessage("", 0, i, line)) for i, line in enumerate(lines)]
    added = Pipeline._new_copies([], [e for e in events if not isinstance(e, DeadLetter)], report)
    assert len(added) == report.accepted == 9
    assert list(report.accepted_by_topic.items()) == [
        ("demandhub.incidents.incident.v1", 5),
        ("demandhub.contacts.call.v1", 4),
    ]


def _conflicting_copies(lines: list[bytes]) -> list[bytes]:
    """A second copy of some events with other content (same source and id): a conflict each."""
    out = []
    for line in lines:
        event = json.loads(line)
        if event["type"] == "call.ended.v1" and len(out) < 20:
            moved = datetime.fromisoformat(event["time"]) + timedelta(milliseconds=1)
            event["time"] = moved.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            out.append(json.dumps(event, separators=(",", ":")).encode())
    return out


def test_a_shard_gives_the_rows_of_one_write_cycle_over_the_same_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Subjects new to the warehouse (whose history is read, empty, from the ledger by a write cycle),
    with exact duplicates and conflicting copies among their events: folding the lines as one shard
    gives the ledger, fact and rejected rows and the counts of preparing them as one batch."""
    from sinks.clickhouse import history_sql
    from sinks.clickhouse.rollups import dirty_rows

    monkeypatch.setattr(history_sql, "ledger_histories", lambda _wh, _keys: [])
    extra = _conflicting_copies(LINES)
    assert extra
    lines = list(enumerate([*LINES, *extra], start=1))
    messages = _shards(lines, 1)[0]
    shard = fold_shard(_pipeline(tmp_path), messages)
    pipeline = _pipeline(tmp_path)
    prepared = pipeline.prepare(messages)
    report = prepared.report
    assert report.conflicts and report.duplicates and report.dead_letters
    cycle = ShardRows(
        consumed=report.consumed,
        accepted=report.accepted,
        duplicates=report.duplicates,
        dead_letters=len(report.dead_letters),
        quarantine_change=report.quarantine_change,
        facts={
            t: ([*rows[0]], [[*r.values()] for r in rows]) for t, rows in prepared.new_rows.items() if rows
        },
        ledger=prepared.ledger,
        rejected=pipeline._reject_rows(report, prepared.ingest),
        dirty=[
            (str(t), str(f), b)
            for t, f, b in dirty_rows(pipeline.refreshers, prepared.old_rows, prepared.new_rows)
        ],
    )
    assert _merged([shard]) == _merged([cycle])


def test_a_raw_message_is_an_immutable_record_that_crosses_processes() -> None:
    import pickle

    message = RawMessage("demandhub.contacts.call.v1", 2, 7, b"{}", key=b"k")
    assert isinstance(message, tuple)  # a named tuple: the cheapest immutable record to make
    assert message == RawMessage("demandhub.contacts.call.v1", 2, 7, b"{}", b"k", None)
    assert pickle.loads(pickle.dumps(message)) == message
    with pytest.raises(AttributeError):
        message.offset = 8  # type: ignore[misc]


def test_a_new_embedded_warehouse_is_known_without_opening_it(tmp_path: Path) -> None:
    """A replay has its workers read the file only into a warehouse that cannot hold events yet."""
    from sinks.clickhouse.client import is_new_embedded

    where = tmp_path / "warehouse"
    assert is_new_embedded(f"chdb://{where}")  # missing
    where.mkdir()
    assert is_new_embedded(f"chdb://{where}")  # empty
    (where / "store").mkdir()
    assert not is_new_embedded(f"chdb://{where}")
    (tmp_path / "file").write_text("x")
    assert not is_new_embedded(f"chdb://{tmp_path / 'file'}")
    assert not is_new_embedded("chdb://memory")
    assert not is_new_embedded("http://localhost:8123/hub")
