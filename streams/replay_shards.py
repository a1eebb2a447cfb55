"""File replay by subject: decode and fold a whole file's events once per subject, in shards.

A replayed file holds all its events at once, so, unlike a write cycle of the worker, a replay need
not fold a subject again for every batch its events fall in, nor read back from the ledger the
history it has just written. Here:

- :func:`shard_lines` reads the file's lines (offset = line number, as :func:`file_messages` of the
  application gives them) into ``shards`` lists by a hash of the subject read off the raw line
  (:func:`peek_subject`; the decoded event decides, see below);
- :func:`fold_shard` decodes one shard's messages with the pipeline's own decoder (the same dead
  letters), groups the events by subject and folds every subject once over its history in the
  warehouse (given by the caller, only for subjects the ledger already holds) plus the file's events,
  exactly as :meth:`streams.pipeline.Pipeline.process` does for one batch holding all of them. It
  returns plain rows (:class:`ShardRows`): the facts, the ledger, the rejected events, the rollup
  buckets touched, and the counts. It touches no warehouse, so it runs in worker processes;
- :func:`encode_shard` turns those rows into the insert bytes of each table (the warehouse's Native
  format, :class:`sinks.clickhouse.replay_sql.BlockEncoder`), in the worker process too: the
  replay's own process then receives a few byte strings per shard instead of millions of values,
  and hands them to the engine as they are;
- an event whose subject hashes to another shard than the one its line was put in (a line whose
  first ``"subject"`` key is not the envelope's) is not folded there: it comes back in
  :attr:`ShardRows.strays`, and the caller puts those lines through the ordinary pipeline after every
  shard is written (its history is in the ledger by then), so no subject is ever split.

Worker processes are started by :class:`ShardPool` with the ``spawn`` method (a fresh interpreter,
never a fork of a process that may have loaded chDB); each builds its own pipeline from the settings
and folds the shards it is given. A shard is given as its lines, or, into a warehouse that holds no
event yet (no history to look up, so the replay's own process need not see the subjects), as a
:class:`FileSegment` and an index: each worker then reads the segment itself, once, and keeps its
shards' lines until it folds them; the replay's own process neither reads the lines nor sends them.
"""

from __future__ import annotations

import gc
import multiprocessing
import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from schemas.envelope import Envelope
from schemas.events import entity_of
from schemas.topics import topic_for_type
from streams.domain.base import Row, conflicts, copy_key, dedupe_sorted, sorted_distinct
from streams.history_cache import SubjectKey
from streams.pipeline import BatchReport, DeadLetter, Pipeline, RawMessage, ledger_event

if TYPE_CHECKING:
    from sinks.clickhouse.client import Warehouse
    from sinks.clickhouse.replay_sql import BlockEncoder

_SUBJECT = re.compile(rb'"subject"\s*:\s*"([^"\\]*)"')
_TYPE = re.compile(rb'"type"\s*:\s*"([^"\\]*)"')

HistoryRow = tuple[str, str, str, str, str, datetime, str]
"""(force_id, subject, source, id, type, time, data) of one ledger event."""


def peek_subject(line: bytes) -> str:
    """The first ``"subject"`` string of a raw line ('' when there is none): where its line goes."""
    found = _SUBJECT.search(line)
    return found[1].decode("utf-8", "replace") if found else ""


def shard_of(subject: str, shards: int) -> int:
    """The shard of a subject (stable across processes and runs)."""
    return zlib.crc32(subject.encode("utf-8", "surrogatepass")) % shards if shards > 1 else 0


_TOPICS_SEEN: dict[bytes, str] = {}
"""The topic of each event type read off a line so far (at most :data:`_MAX_TOPICS_SEEN` of them)."""
_MAX_TOPICS_SEEN = 256


def _topic(line: bytes) -> str:
    found = _TYPE.search(line, 0, 400)  # within the first 400 bytes, without copying them
    if not found:
        return ""
    name = found[1]
    topic = _TOPICS_SEEN.get(name)
    if topic is None:
        try:
            topic = topic_for_type(name.decode()).name
        except (KeyError, UnicodeDecodeError):
            topic = ""
        if len(_TOPICS_SEEN) < _MAX_TOPICS_SEEN:
            _TOPICS_SEEN[name] = topic
    return topic


Line = tuple[int, bytes]
"""A line of the file: its number and its bytes (what is sent to a worker process)."""


def shard_lines(path: Path, shards: int, segment: int = 0, segments: int = 1) -> tuple[list[list[Line]], int]:
    """The non-blank lines of a JSONL file with their numbers, in ``shards`` lists by the subject each
    line names; and the number of lines (all of them).

    With ``segments`` > 1 the subjects are split in ``shards * segments`` shards and only the lines
    of ``segment``'s (shards ``segment * shards`` to ``(segment + 1) * shards - 1``, in that order)
    are kept: a file too large to hold at once is read once per segment, and every line of a
    subject is in one shard of one segment."""
    total = shards * segments
    first = segment * shards
    out: list[list[Line]] = [[] for _ in range(shards)]
    count = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            count += 1
            index = (shard_of(peek_subject(line), total) if total > 1 else 0) - first
            if 0 <= index < shards:
                out[index].append((number, line))
    return out, count


@dataclass(frozen=True)
class FileSegment:
    """A segment of a file as :func:`shard_lines` reads it (``shards`` shards of ``segment`` of
    ``segments``), with the size and modification time the file had when the replay began."""

    path: str
    size: int
    mtime_ns: int
    shards: int
    segment: int = 0
    segments: int = 1

    @classmethod
    def of(cls, path: Path, shards: int, segment: int = 0, segments: int = 1) -> FileSegment:
        found = path.stat()
        return cls(str(path.resolve()), found.st_size, found.st_mtime_ns, shards, segment, segments)

    def read(self) -> list[list[Line]]:
        """Its shards' lines (raises :class:`FileChangedError` if the file is not the one it was)."""
        path = Path(self.path)
        found = path.stat()
        if (found.st_size, found.st_mtime_ns) != (self.size, self.mtime_ns):
            raise FileChangedError(
                f"{path} changed while it was replayed; run the replay again once the file is complete "
                "(events already kept are recognised as duplicates)"
            )
        return shard_lines(path, self.shards, self.segment, self.segments)[0]


class FileChangedError(RuntimeError):
    """The file a replay's worker process reads is not the one the replay began with."""


FileShard = tuple[FileSegment, int]
"""A shard the worker process reads from the file itself: the segment and the shard's index in it."""

ShardSource = Sequence[Line] | FileShard
"""A shard as it is given to a worker process: its lines, or where to read them."""


def messages_of(lines: Sequence[Line]) -> list[RawMessage]:
    """Lines as the messages the pipeline takes (offset = line number; the topic read from the event
    type, as :func:`demandhub.runtime.file_messages` reads it)."""
    return [RawMessage(_topic(line), 0, number, line) for number, line in lines]


def history_envelopes(rows: Sequence[HistoryRow]) -> dict[SubjectKey, list[Envelope]]:
    """Ledger rows as the histories the pipeline folds, keyed by (force, entity, subject)."""
    found: dict[SubjectKey, list[Envelope]] = defaultdict(list)
    for force_id, subject, source, eid, etype, time, data in rows:
        found[(force_id, entity_of(etype), subject)].append(
            ledger_event(force_id, subject, source, eid, etype, time, data)
        )
    return found


@dataclass
class ShardRows:
    """What one shard adds to the warehouse, as plain rows (picklable), and its counts."""

    consumed: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    quarantine_change: int = 0
    facts: dict[str, tuple[list[str], list[Sequence[Any]]]] = field(default_factory=dict)
    """Per fact table: its columns and the rows to insert (values in that order)."""
    previous: dict[str, list[Row]] = field(default_factory=dict)
    """Per fact table: the rows the subjects had before (only subjects the ledger held), for the
    withdrawal of rows no longer produced."""
    ledger: list[list[Any]] = field(default_factory=list)
    rejected: list[list[Any]] = field(default_factory=list)
    dirty: list[tuple[str, str, datetime]] = field(default_factory=list)
    """Rollup buckets (rollup, force, bucket start) the old and new fact rows fall in."""
    strays: list[RawMessage] = field(default_factory=list)
    blocks: dict[str, tuple[list[str], bytes]] = field(default_factory=dict)
    """Once encoded (:func:`encode_shard`): per table (fact tables, ``rejected_events``, ``events``)
    its columns and its rows as insert bytes; ``facts``, ``ledger`` and ``rejected`` are then empty."""
    current: dict[str, list[Row]] = field(default_factory=dict)
    """Once encoded: the new fact rows of the tables that have :attr:`previous` rows (for the
    withdrawal), as dicts."""


def encode_shard(rows: ShardRows, encoder: BlockEncoder) -> ShardRows:
    """``rows`` with its facts, rejected events and ledger encoded for insertion (see
    :attr:`ShardRows.blocks`); the caller inserts each block in one statement."""
    from sinks.clickhouse.history_sql import LEDGER_COLUMNS, REJECT_COLUMNS

    tables: dict[str, tuple[list[str], Sequence[Sequence[Any]]]] = dict(rows.facts)
    tables["rejected_events"] = (list(REJECT_COLUMNS), rows.rejected)
    tables["events"] = (list(LEDGER_COLUMNS), rows.ledger)
    for table, (columns, data) in tables.items():
        if data:
            rows.blocks[table] = (columns, encoder.encode(table, columns, data))
    for table in rows.previous:
        columns, data = rows.facts.get(table, ([], []))
        rows.current[table] = [dict(zip(columns, row, strict=True)) for row in data]
    rows.facts, rows.ledger, rows.rejected = {}, [], []
    return rows


def _columns(table: str, rows: Sequence[Row]) -> tuple[list[str], list[Sequence[Any]]]:
    columns = list(rows[0])
    names = set(columns)
    for row in rows:
        if row.keys() != names:
            raise ValueError(f"fact rows of {table} with different columns")
    if len(columns) == 1:  # itemgetter of one name gives the value, not a 1-tuple
        return columns, [(row[columns[0]],) for row in rows]
    values = itemgetter(*columns)
    return columns, [values(row) for row in rows]


def fold_shard(
    pipeline: Pipeline,
    messages: Sequence[RawMessage],
    history: Sequence[HistoryRow] = (),
    shard: int = 0,
    shards: int = 1,
    buckets: bool = True,
) -> ShardRows:
    """Decode and fold one shard (see the module docstring). ``history``: the ledger rows of the
    shard's subjects that the ledger already holds (none for a subject new to the warehouse).
    ``buckets``: find the rollup buckets its rows touch (:attr:`ShardRows.dirty`; not when no
    rollup's buckets are logged, see :func:`sinks.clickhouse.rollups.needless_logs`)."""
    from sinks.clickhouse.rollups import dirty_rows

    report = BatchReport(consumed=len(messages))
    out = ShardRows()
    fresh: dict[SubjectKey, list[Envelope]] = defaultdict(list)
    pipeline._latest = pipeline.now() + timedelta(seconds=pipeline.settings.future_tolerance_seconds)
    ours: dict[str, bool] = {}  # subject: whether it hashes to this shard (asked once per subject)
    try:
        for message in messages:
            decoded = pipeline.decode(message)
            if isinstance(decoded, DeadLetter):
                report.dead_letters.append(decoded)
                continue
            mine = ours.get(decoded.subject)
            if mine is None:
                mine = ours[decoded.subject] = shard_of(decoded.subject, shards) == shard
            if not mine:
                out.strays.append(message)
                report.consumed -= 1
            else:
                fresh[(decoded.force_id, entity_of(decoded.type), decoded.subject)].append(decoded)
    finally:
        pipeline._latest = None
    histories = history_envelopes(history)
    ingest = pipeline.now()
    old_rows: dict[str, list[Row]] = defaultdict(list)
    new_rows: dict[str, list[Row]] = defaultdict(list)
    for key, events in fresh.items():
        before = histories.get(key, [])
        accepted = report.accepted
        added = pipeline._new_copies(before, events, report)
        if not added:
            continue
        if not before and report.accepted - accepted == len(added):
            # A subject new to the warehouse whose events are all distinct (no second copy of a
            # (source, id)): what follows without this branch, minus the work it would find empty
            # (no copies to choose between, no conflict, no earlier fold).
            merged = sorted_distinct(added)
            out.ledger.extend(pipeline._ledger_row(e, ingest) for e in merged)
            pipeline._fold_subject(key, [], merged, old_rows, new_rows, report)
            continue
        every = [*before, *added]
        prior, merged = dedupe_sorted(before), dedupe_sorted(every)
        fresh_ids = {id(e) for e in added}
        kept_now = [e for e in merged if id(e) in fresh_ids]
        out.ledger.extend(pipeline._ledger_row(e, ingest) for e in kept_now)
        recorded = {copy_key(e) for e, _ in conflicts(before)}
        report.conflicts.extend((e, why) for e, why in conflicts(every) if copy_key(e) not in recorded)
        if kept_now:
            pipeline._fold_subject(key, prior, merged, old_rows, new_rows, report)
    out.consumed = report.consumed
    out.accepted = report.accepted
    out.duplicates = report.duplicates
    out.dead_letters = len(report.dead_letters)
    out.quarantine_change = report.quarantine_change
    if buckets:
        found = dirty_rows(pipeline.refreshers, old_rows, new_rows)
        out.dirty = [(str(t), str(f), b) for t, f, b in found]
    out.facts = {table: _columns(table, rows) for table, rows in new_rows.items() if rows}
    out.previous = {table: rows for table, rows in old_rows.items() if rows}
    out.rejected = pipeline._reject_rows(report, ingest)
    return out


# -- worker processes -----------------------------------------------------------------------------
PipelineFactory = Callable[[], Pipeline]

_worker_pipeline: Pipeline | None = None


def offline_pipeline(settings: Any, key: bytes) -> Pipeline:
    """A pipeline that decodes and folds but has no warehouse (a worker process's; never writes)."""
    from streams import registry

    return Pipeline(
        settings, cast("Warehouse", None), registry.folds(), key, registry.refreshers(), lazy_rollups=True
    )


def _start_worker(settings: Any, key: bytes) -> None:
    import signal

    from streams import heap

    # Ctrl-C reaches every process of the terminal's group: the replay's own process stops the
    # pool (and says so in one line); a worker prints nothing and ends with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_pipeline
    _worker_pipeline = offline_pipeline(settings, key)
    heap.settle_after_startup()


def _ready() -> bool:
    return _worker_pipeline is not None


_read: tuple[FileSegment, list[list[Line]]] | None = None
"""The segment this worker process read last, with the lines of its shards not yet folded here."""


def _read_segment(segment: FileSegment) -> list[list[Line]]:
    global _read
    if _read is None or _read[0] != segment:
        _read = None  # the lines of another segment go first
        _read = (segment, segment.read())
    return _read[1]


def _preload(segment: FileSegment) -> None:
    _read_segment(segment)  # the lines stay here: nothing is sent back


def _lines_of(source: ShardSource) -> Sequence[Line]:
    if not isinstance(source, tuple) or not isinstance(source[0], FileSegment):
        return cast("Sequence[Line]", source)
    segment, index = cast("FileShard", source)
    shards = _read_segment(segment)
    lines, shards[index] = shards[index], []  # folded once: the lines go with their shard
    return lines


def _fold_in_worker(
    source: ShardSource,
    history: Sequence[HistoryRow],
    shard: int,
    shards: int,
    encoder: BlockEncoder,
    buckets: bool = True,
) -> ShardRows:
    if _worker_pipeline is None:
        raise RuntimeError("replay worker not started")
    lines = _lines_of(source)
    # No collection while the shard is decoded, folded and encoded: the objects it makes are young
    # and acyclic (the insert context's cycle is broken by its release), every one freed by its last
    # reference, and a collection would only walk them. Collections resume for the next shard.
    gc.disable()
    try:
        folded = fold_shard(_worker_pipeline, messages_of(lines), history, shard, shards, buckets)
        return encode_shard(folded, encoder)
    finally:
        gc.enable()


class ShardPool:
    """``workers`` processes started with ``spawn`` (call before the warehouse is opened), each with a
    pipeline of its own built from ``settings`` and ``key``."""

    def __init__(self, workers: int, settings: Any, key: bytes) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(settings, key),
        )
        # Start every worker now (a pool starts them on demand): while the caller opens the
        # warehouse and reads the file, and before this process loads chDB.
        self._started = [self._pool.submit(_ready) for _ in range(workers)]

    def wait_started(self) -> None:
        """Until every worker has started (re-raises a worker's start-up failure)."""
        for future in self._started:
            future.result()

    def preload(self, segment: FileSegment) -> None:
        """Have every worker read ``segment`` of its file now (while this process opens the
        warehouse), for :func:`fold_all` given its :func:`file_shards` later. Each worker holds the
        lines of the whole segment until it has folded its shards of it; a worker that has not read
        it when given one of its shards reads it then (and a failure to read it is raised there,
        by the shard's fold)."""
        for _ in range(self.workers):
            self._pool.submit(_preload, segment)

    def submit(
        self,
        source: ShardSource,
        history: Sequence[HistoryRow],
        shard: int,
        shards: int,
        encoder: BlockEncoder,
        buckets: bool = True,
    ) -> Future[ShardRows]:
        return self._pool.submit(_fold_in_worker, source, history, shard, shards, encoder, buckets)

    def close(self, now: bool = False) -> None:
        """Stop the workers once their shards in hand are folded; ``now``: at once (Ctrl-C), their
        shards in hand lost (the caller writes nothing of them)."""
        if now:
            # The executor keeps its processes in a private mapping (3.14 adds terminate_workers).
            processes: dict[int, Any] = getattr(self._pool, "_processes", None) or {}
            for process in list(processes.values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)


def file_shards(segment: FileSegment) -> list[FileShard]:
    """The shards of ``segment``, each to be read by the worker process that folds it."""
    return [(segment, index) for index in range(segment.shards)]


def fold_all(
    shards: Sequence[ShardSource],
    histories: Mapping[int, Sequence[HistoryRow]],
    pipeline: Pipeline | None,
    pool: ShardPool | None,
    encoder: BlockEncoder,
    segment: int = 0,
    segments: int = 1,
    buckets: bool = True,
) -> Iterator[ShardRows]:
    """Every shard folded and encoded (:func:`encode_shard`), in the pool when there is one (in the
    order they are done), else in this process with ``pipeline``. ``shards`` (and the keys of
    ``histories``) are those of ``segment`` of ``segments`` (see :func:`shard_lines`): their lines,
    or, with a pool, :func:`file_shards` (each worker reads the file itself). ``buckets``: as
    :func:`fold_shard` takes it."""
    n = len(shards) * segments
    first = segment * len(shards)
    if pool is None:
        if pipeline is None:
            raise ValueError("fold_all needs a pipeline or a pool")
        for i, lines in enumerate(shards):
            if lines and isinstance(lines[0], FileSegment):
                raise ValueError("only a pool's workers read their shards from the file")
            folded = fold_shard(
                pipeline,
                messages_of(cast("Sequence[Line]", lines)),
                histories.get(i, ()),
                first + i,
                n,
                buckets,
            )
            yield encode_shard(folded, encoder)
        return
    futures = [
        pool.submit(lines, histories.get(i, ()), first + i, n, encoder, buckets)
        for i, lines in enumerate(shards)
    ]
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()
