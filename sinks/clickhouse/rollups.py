"""Lazy rollup refresh: a dirty-bucket log written before the facts, drained by one refresher.

Contract (the rollup pattern of the hub, replacing a refresh after every batch):

- Every rollup is recomputed, bucket by bucket, from the deduplicated facts (never incremented), so a
  refresh can be deferred and repeated at will and stays exact.
- The pipeline logs the buckets a batch's fact rows touch (old and new versions) in ``rollup_dirty``
  *before* it writes the facts, hence before the ledger: whatever point a crash hits, a bucket whose
  facts may have changed stays logged until a refresh after that change has recomputed it. It logs
  them again once the facts are written when a refresh may have run between the two (in this or
  another process): that refresh consumed the first entries and read the facts before they
  changed. When this process's :class:`Refresher` holds the lease throughout and no refresh of it
  began or ran meanwhile (:func:`watch_refreshes`), no refresh can have read the first entries,
  and the second log is left out (one statement fewer per write cycle). Those entries then stay in
  the log until this refresher's next refresh begins, so until then a write cycle does not log a
  bucket again that one of them names (:meth:`RefreshWatch.unlogged`): a cycle whose buckets are
  all logged already sends no log statement at all. Should a refresh begin before its facts are
  in, the cycle logs every bucket it touches after them, as above.
- :func:`refresh_pending` reads the log, recomputes the logged buckets (one statement pair per rollup,
  force and run of at most :data:`MONTHS_PER_STATEMENT` months, under ClickHouse's limit of 100
  partitions per insert) and then deletes exactly the entries it read; an entry logged meanwhile
  stays for the next refresh.
- Versions of refreshed rows come from the warehouse's own clock (``now64(9)`` on the server, or the
  one process of an embedded chDB), never from the clocks of the hosts the workers run on, and only
  one refresher works at a time: :class:`Refresher` holds a lease (``rollup_refresh_lease``, expiry
  on the server's clock) and refreshes only while it holds it. With several workers on one server the
  others log buckets and leave the refresh to the holder; when it stops, another takes the lease.
- Readers of rollups call :func:`ensure_fresh` first: the buckets logged when it is called are
  refreshed (by this process's refresher, or by the caller when it may hold the lease) before it
  returns, so a reader's figures equal a recompute from the facts it can see.
- Facts keep what happened and definitions are applied when figures are read, so a rollup row is a
  cache of figures under some definitions: it carries the hash of the definition groups the rollup
  depends on (``definition_hash``; :meth:`LazyRollup.definition_hash`), and ``applied_definitions``
  records the definitions each rollup is complete under. A writer (the worker's refresher, a replay)
  *adopts* its own definitions: when the recorded hash differs it recomputes every bucket under them,
  drops the rows of other hashes and records them. Logged buckets are always refreshed under the
  recorded definitions. A reader reads a rollup only when :func:`reads_rollup` says it is complete
  under the reader's definitions; any other reader computes the same figures from the facts with the
  rollup's own SELECT (so a one-off ``--define`` never needs a replay).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse, wait_all
from sinks.clickhouse.times import as_utc

log = logging.getLogger(__name__)

Row = dict[str, Any]
Buckets = dict[str, set[datetime]]
"""Bucket starts per force."""

DIRTY_TABLE = "rollup_dirty"
DEFINITIONS_TABLE = "applied_definitions"
ACTIVE = "active"
"""Name of the ``applied_definitions`` row holding the full definitions the worker runs under."""
LEASE_TABLE = "rollup_refresh_lease"
LEASE_NAME = "rollups"
MONTHS_PER_STATEMENT = 60
DELETE_CHUNK = 20_000
MAX_NOTED_ENTRIES = 100_000
"""At most this many logged buckets are remembered between two refreshes (beyond, the cycles log
their buckets again: only a statement more)."""


Linked = Callable[[Warehouse, str, set[datetime], Definitions], set[datetime]]


@dataclass(frozen=True)
class LazyRollup:
    """One rollup table: the fact table whose writes touch it, how rows map to its buckets, how a set
    of buckets of one force is recomputed (at a given version, under given definitions), the
    definition groups its figures depend on, and every bucket its facts cover (for a rebuild)."""

    table: str
    facts: str
    buckets: Callable[[Iterable[Row]], Buckets]
    refresh: Callable[[Warehouse, str, set[datetime], int, Definitions], None]
    groups: tuple[str, ...]
    all_buckets: Callable[[Warehouse], Buckets]
    follows: tuple[tuple[str, Linked], ...] = ()
    """Other rollups whose logged buckets may move this rollup's figures (facts of another table
    that this rollup's SELECT joins), with how their buckets map to this rollup's buckets of one
    force under the definitions this rollup is recorded under."""
    refresh_range: Callable[[Warehouse, str, datetime, datetime, int, Definitions], None] | None = None
    """:attr:`refresh` of every bucket of one force from a start (included) to an end (excluded),
    both month starts, by a time range (a replay's rebuild by months, :func:`rebuild_logged_months`)."""

    def definition_hash(self, definitions: Definitions) -> str:
        """The hash this rollup's rows computed under ``definitions`` carry."""
        return definitions.group_hash(*self.groups)


def applied(wh: Warehouse, name: str) -> tuple[str, Definitions] | None:
    """(hash, definitions) recorded under ``name`` (a rollup table, or :data:`ACTIVE`), if any."""
    rows = wh.query(
        f"SELECT definition_hash, definitions FROM {DEFINITIONS_TABLE} FINAL WHERE name = {{n:String}}",
        parameters={"n": name},
    ).rows
    if not rows:
        return None
    return str(rows[0][0]), Definitions.model_validate_json(rows[0][1])


def record_applied(wh: Warehouse, name: str, definition_hash: str, definitions: Definitions) -> None:
    """Record that ``name`` is complete under ``definitions`` (version from the warehouse's clock)."""
    wh.command(
        f"INSERT INTO {DEFINITIONS_TABLE} (name, definition_hash, definitions, version) "
        "SELECT {n:String}, {h:String}, {d:String}, toUnixTimestamp64Nano(now64(9))",
        parameters={"n": name, "h": definition_hash, "d": definitions.model_dump_json()},
    )


def record_active(wh: Warehouse, definitions: Definitions) -> None:
    """Record ``definitions`` as the ones the worker runs under, unless they already are."""
    current = applied(wh, ACTIVE)
    if current is None or current[0] != definitions.config_hash():
        record_applied(wh, ACTIVE, definitions.config_hash(), definitions)


def reads_rollup(wh: Warehouse, table: str, definitions: Definitions) -> bool:
    """True when rollup ``table`` is complete under ``definitions`` (its rows of
    ``definitions``' hash may be read); False: compute the figures from the facts instead."""
    rollup = next((r for r in all_rollups() if r.table == table), None)
    if rollup is None:
        raise ValueError(f"no rollup {table!r}")
    found = applied(wh, table)
    return found is not None and found[0] == rollup.definition_hash(definitions)


def drop_other_definitions(wh: Warehouse, table: str, wanted: str) -> bool:
    """Delete the rows of rollup ``table`` computed under another definition hash than ``wanted``,
    if it holds any; returns whether it did. The delete is a mutation that goes through every part
    of the table even when no row matches (1.3-1.6 s for each contact rollup of a ten-year replay
    into a fresh warehouse, where there are none), so a one-row read asks first."""
    found = wh.query(
        f"SELECT 1 FROM {table} WHERE definition_hash != {{h:String}} LIMIT 1", parameters={"h": wanted}
    ).rows
    if found:
        wh.command(f"DELETE FROM {table} WHERE definition_hash != {{h:String}}", parameters={"h": wanted})
    return bool(found)


def adopt(
    wh: Warehouse, rollups: Iterable[LazyRollup], definitions: Definitions, version: int | None = None
) -> int:
    """Make every rollup complete under ``definitions``: a rollup recorded under another hash (or none)
    is recomputed bucket by bucket from the facts, rows of other hashes are dropped, and the
    definitions are recorded. Returns the buckets recomputed. Call it where one refresher runs."""
    record_active(wh, definitions)
    rebuilt = 0
    for rollup in rollups:
        wanted = rollup.definition_hash(definitions)
        found = applied(wh, rollup.table)
        if found is not None and found[0] == wanted:
            continue
        version = warehouse_version(wh) if version is None else version
        for force_id, buckets in sorted(rollup.all_buckets(wh).items()):
            for run in _by_months(buckets):
                rollup.refresh(wh, force_id, run, version, definitions)
            rebuilt += len(buckets)
        drop_other_definitions(wh, rollup.table, wanted)
        record_applied(wh, rollup.table, wanted, definitions)
        log.info("rollup %s recomputed under definitions %s (%d buckets)", rollup.table, wanted, rebuilt)
    return rebuilt


def needless_logs(wh: Warehouse, rollups: Iterable[LazyRollup]) -> set[str]:
    """The rollups whose buckets need not be logged now: recorded under no definitions (no reader
    uses their rows, and whoever first refreshes them adopts them, recomputing every bucket their
    facts hold) and followed by no rollup that is recorded (whose refresh would read their log).
    Only for a sole writer (see :func:`rebuild_logged_months`): elsewhere a refresher may adopt one
    between this answer and the facts written."""
    rollups = tuple(rollups)
    recorded = {r.table for r in rollups if applied(wh, r.table) is not None}
    followed = {other for r in rollups if r.table in recorded for other, _ in r.follows}
    return {r.table for r in rollups} - recorded - followed


def dirty_rows(
    rollups: Mapping[str, Sequence[LazyRollup]],
    old_rows: Mapping[str, Sequence[Row]],
    new_rows: Mapping[str, Sequence[Row]],
) -> list[list[Any]]:
    """``rollup_dirty`` rows (rollup, force, bucket) for fact rows about to be written or withdrawn."""
    out: list[list[Any]] = []
    for table in sorted(set(old_rows) | set(new_rows)):
        rows = [*old_rows.get(table, ()), *new_rows.get(table, ())]
        if not rows:
            continue
        for rollup in rollups.get(table, ()):
            for force_id, buckets in rollup.buckets(rows).items():
                out.extend([rollup.table, force_id, as_utc(b)] for b in sorted(buckets))
    return out


def log_dirty(wh: Warehouse, rows: Sequence[Sequence[Any]]) -> None:
    wh.insert(DIRTY_TABLE, rows, ("rollup_table", "force_id", "bucket"))


class RefreshWatch:
    """What a write cycle knows of the refreshes that may read the dirty log while it writes (see
    :meth:`Refresher.watch`; with no refresher of this process, nothing: any process may refresh
    at any time, so every bucket is logged before the facts and again after them)."""

    def __init__(self, refresher: Refresher | None = None) -> None:
        self._refresher = refresher
        self._started, self._running = refresher._begun() if refresher is not None else (0, True)

    def unlogged(self, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """The ``rollup_dirty`` rows to log before the facts: ``rows`` less those whose bucket an
        entry in the log names and no refresh can have read since (logged by a cycle that found
        no refresh meanwhile, while this refresher held the lease, and before its next refresh
        began). Those entries name the bucket for the next refresh, which begins after this call."""
        refresher = self._refresher
        if refresher is None or self._running:
            return list(rows)
        return refresher._unlogged(self._started, rows)

    def quiet(self) -> bool:
        """True only when no refresh can have read the log since this watch began: none was running
        or began since, and this refresher held the lease throughout (so no other process
        refreshed). Then the entries logged before the facts still name their buckets for a
        refresh that will read those facts, and need not be logged again."""
        refresher = self._refresher
        return refresher is not None and not self._running and refresher._quiet_since(self._started)

    def logged(self, rows: Sequence[Sequence[Any]]) -> None:
        """Note, once the facts are written and :meth:`quiet` said so, that every bucket of
        ``rows`` is named by an entry in the log that no refresh has read."""
        if self._refresher is not None and not self._running:
            self._refresher._note_logged(self._started, rows)


def watch_refreshes(wh: Warehouse) -> RefreshWatch:
    """A :class:`RefreshWatch` of this process's refresher of ``wh``'s warehouse (with none
    registered, one whose :meth:`~RefreshWatch.quiet` is always False: log the buckets again)."""
    with _local_lock:
        refresher = _local.get(wh.dsn)
    if refresher is None:
        return RefreshWatch()
    return refresher.watch()


def warehouse_version(wh: Warehouse) -> int:
    """Nanoseconds on the warehouse's own clock (the server's; the process's for embedded chDB)."""
    return int(wh.query("SELECT toUnixTimestamp64Nano(now64(9))").rows[0][0])


@dataclass(frozen=True)
class Pending:
    """Logged buckets as read: per (rollup, force) the buckets and the log entries naming them."""

    buckets: dict[tuple[str, str], set[datetime]]
    entries: dict[tuple[str, str], list[str]]

    def __bool__(self) -> bool:
        return bool(self.entries)

    def ids(self) -> set[str]:
        return {e for found in self.entries.values() for e in found}


def pending(wh: Warehouse) -> Pending:
    """Every entry of the dirty log, grouped by rollup and force."""
    rows = wh.query(
        f"SELECT rollup_table, force_id, bucket, groupArray(toString(entry)) FROM {DIRTY_TABLE} "
        "GROUP BY rollup_table, force_id, bucket"
    ).rows
    buckets: dict[tuple[str, str], set[datetime]] = defaultdict(set)
    entries: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rollup, force_id, bucket, ids in rows:
        key = (str(rollup), str(force_id))
        buckets[key].add(as_utc(bucket))
        entries[key].extend(ids)
    return Pending(dict(buckets), dict(entries))


def _by_months(buckets: set[datetime]) -> list[set[datetime]]:
    """``buckets`` in runs spanning at most :data:`MONTHS_PER_STATEMENT` calendar months."""
    months: dict[tuple[int, int], set[datetime]] = defaultdict(set)
    for b in buckets:
        months[(b.year, b.month)].add(b)
    keys = sorted(months)
    return [
        set().union(*(months[k] for k in keys[i : i + MONTHS_PER_STATEMENT]))
        for i in range(0, len(keys), MONTHS_PER_STATEMENT)
    ]


def refresh_pending(
    wh: Warehouse,
    rollups: Iterable[LazyRollup],
    version: int | None = None,
    definitions: Definitions | None = None,
    found: Pending | None = None,
) -> int:
    """Recompute every logged bucket under the definitions its rollup is recorded under, then delete
    the entries read (``found``: the log as the caller just read it, else read here). Returns the
    buckets refreshed.

    A writer passes its ``definitions``: rollups not complete under them are adopted first (see
    :func:`adopt`; the rebuild covers the logged buckets). Entries of a rollup not in ``rollups``
    are left alone; entries of a rollup recorded under no definitions are dropped (it has no rows a
    reader may use, and its adoption recomputes every bucket). Not exclusive by itself: call it
    where one refresher runs (see :class:`Refresher`)."""
    rollups = tuple(rollups)
    found = pending(wh) if found is None else found
    adopted = adopt(wh, rollups, definitions, version) if definitions is not None else 0
    if not found:
        return adopted
    by_table = {r.table: r for r in rollups}
    version = warehouse_version(wh) if version is None else version
    refreshed = adopted
    done: list[str] = []
    under: dict[str, Definitions | None] = {}

    def recorded_definitions(table: str) -> Definitions | None:
        if table not in under:
            recorded = applied(wh, table)
            under[table] = recorded[1] if recorded is not None else None
        return under[table]

    work: dict[tuple[str, str], set[datetime]] = defaultdict(set)
    for (table, force_id), buckets in found.buckets.items():
        work[(table, force_id)] |= buckets
        for rollup in rollups:
            for other, linked in rollup.follows:
                defs = recorded_definitions(rollup.table) if other == table else None
                if defs is not None:
                    work[(rollup.table, force_id)] |= linked(wh, force_id, buckets, defs)
    for (table, force_id), buckets in sorted(work.items()):
        target = by_table.get(table)
        if target is None or not buckets:
            continue
        defs = recorded_definitions(table)
        if defs is not None:
            for run in _by_months(buckets):
                target.refresh(wh, force_id, run, version, defs)
            refreshed += len(buckets)
        done.extend(found.entries.get((table, force_id), ()))
    for start in range(0, len(done), DELETE_CHUNK):
        wh.command(
            f"DELETE FROM {DIRTY_TABLE} WHERE entry IN {{e:Array(UUID)}}",
            parameters={"e": done[start : start + DELETE_CHUNK]},
        )
    return refreshed


def month_ranges(buckets: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """The calendar months (UTC) holding ``buckets`` as [start, end) ranges, consecutive months
    joined into one range of at most :data:`MONTHS_PER_STATEMENT` months."""
    months = sorted({(b.year, b.month) for b in buckets})
    out: list[tuple[datetime, datetime]] = []
    run: list[tuple[int, int]] = []

    def close() -> None:
        if run:
            y, m = run[-1]
            out.append((datetime(run[0][0], run[0][1], 1), datetime(y + m // 12, m % 12 + 1, 1)))

    for y, m in months:
        follows = bool(run) and (y * 12 + m) - (run[-1][0] * 12 + run[-1][1]) == 1
        if not follows or len(run) >= MONTHS_PER_STATEMENT:
            close()
            run = []
        run.append((y, m))
    close()
    return out


Submit = Callable[[Callable[[Warehouse], None]], Future[None]]
"""Runs a statement function on a writer handle of its own (another than the caller's), returning
its future: :func:`rebuild_logged_months` runs its range refreshes on such handles at once."""


def _range_refresh(
    refresh: Callable[[Warehouse, str, datetime, datetime, int, Definitions], None],
    force_id: str,
    lo: datetime,
    hi: datetime,
    version: int,
    definitions: Definitions,
    wh: Warehouse,
) -> None:
    refresh(wh, force_id, lo, hi, version, definitions)


def rebuild_logged_months(
    wh: Warehouse,
    rollups: Iterable[LazyRollup],
    definitions: Definitions,
    sole_writer: bool = False,
    submit: Submit | None = None,
) -> int:
    """A bulk writer's refresh (``demandhub replay``): every month holding a logged bucket is
    recomputed whole, by time range (one statement pair per rollup, force and run of consecutive
    months, see :func:`month_ranges`), instead of bucket by bucket; then the entries read are deleted.
    A rollup not complete under ``definitions`` is adopted as :func:`adopt` does, by months, and
    that covers its logged buckets. Returns the months recomputed. Rollups without
    :attr:`LazyRollup.refresh_range` are refreshed by :func:`refresh_pending`. Call it where one
    refresher runs (the replay holds the warehouse).

    ``sole_writer``: nothing else can log an entry during the call (an embedded warehouse, whose
    one process is the caller's, with the writer lock held throughout): when every entry read is one
    this call refreshes, the log is then emptied at once (``TRUNCATE``) instead of entry by entry
    (a lightweight delete of tens of thousands of entries costs seconds); and when every rollup is
    adopted here (each recomputed in every bucket its facts hold, which covers any bucket logged),
    the log is emptied without being read (reading and grouping the entries of a ten-year replay
    took about 0.7 s).

    ``submit``: the range refreshes (each a tombstone and a recompute of one rollup, force and run
    of months, reading only the facts and the rollup's own rows, so independent of each other) run
    on the handles ``submit`` gives, as many at once as it has, instead of one after the other on
    ``wh``; the first failure is raised once every one has ended, before any rollup is recorded."""
    rollups = tuple(rollups)
    ranged = tuple(r for r in rollups if r.refresh_range is not None)
    rest = tuple(r for r in rollups if r.refresh_range is None)
    recorded = {r.table: applied(wh, r.table) for r in ranged}
    wanted_hashes = {r.table: r.definition_hash(definitions) for r in ranged}
    every_adopted_here = (
        sole_writer
        and not rest
        and all(
            found_defs is None or found_defs[0] != wanted_hashes[table]
            for table, found_defs in recorded.items()
        )
    )
    found = Pending({}, {}) if every_adopted_here else pending(wh)
    record_active(wh, definitions)
    version = warehouse_version(wh)
    done: list[str] = []
    months = 0
    work: dict[tuple[str, str], set[datetime]] = defaultdict(set)
    adopting: dict[str, Definitions] = {}
    under: dict[str, Definitions] = {}
    for rollup in ranged:
        wanted = wanted_hashes[rollup.table]
        found_defs = recorded[rollup.table]
        if found_defs is not None and found_defs[0] == wanted:
            under[rollup.table] = found_defs[1]
        else:
            adopting[rollup.table] = definitions
            under[rollup.table] = definitions
            for force_id, buckets in rollup.all_buckets(wh).items():
                work[(rollup.table, force_id)] |= buckets
    for (table, force_id), buckets in found.buckets.items():
        if table not in under:
            continue
        if table not in adopting:
            work[(table, force_id)] |= buckets
        for rollup in ranged:
            for other, linked in rollup.follows:
                if other == table and rollup.table not in adopting:
                    work[(rollup.table, force_id)] |= linked(wh, force_id, buckets, under[rollup.table])
        done.extend(found.entries.get((table, force_id), ()))
    by_table = {r.table: r for r in ranged}
    ranges: list[Callable[[Warehouse], None]] = []
    for (table, force_id), buckets in sorted(work.items()):
        refresh = by_table[table].refresh_range
        assert refresh is not None
        for lo, hi in month_ranges(buckets):
            ranges.append(functools.partial(_range_refresh, refresh, force_id, lo, hi, version, under[table]))
            months += (hi.year - lo.year) * 12 + hi.month - lo.month
    if submit is None:
        for run in ranges:
            run(wh)
    else:
        wait_all([submit(run) for run in ranges])
    for table, defs in adopting.items():
        wanted = by_table[table].definition_hash(defs)
        drop_other_definitions(wh, table, wanted)
        record_applied(wh, table, wanted, defs)
    if sole_writer and len(done) == len(found.ids()):
        wh.command(f"TRUNCATE TABLE {DIRTY_TABLE}")
    else:
        for start in range(0, len(done), DELETE_CHUNK):
            wh.command(
                f"DELETE FROM {DIRTY_TABLE} WHERE entry IN {{e:Array(UUID)}}",
                parameters={"e": done[start : start + DELETE_CHUNK]},
            )
    if rest:
        refresh_pending(wh, rest, definitions=definitions)
    return months


def all_rollups() -> tuple[LazyRollup, ...]:
    """Every rollup of the hub (contact queues and channels per 15 minutes, incidents per hour)."""
    from sinks.clickhouse import rollups_contacts as rc
    from sinks.clickhouse import rollups_incidents as ri

    def contacts(rollup: rc.Rollup) -> LazyRollup:
        return LazyRollup(
            rollup.table,
            rollup.facts,
            lambda rows: rc.touched_buckets(list(rows)),
            lambda wh, force_id, buckets, version, defs: rc.refresh(
                wh, rollup, force_id, buckets, version, defs
            ),
            rc.GROUPS,
            lambda wh: rc.all_buckets(wh, rollup),
            refresh_range=lambda wh, force_id, start, end, version, defs: rc.refresh_range(
                wh, rollup, force_id, start, end, version, defs
            ),
        )

    return (
        contacts(rc.QUEUE_ROLLUP),
        contacts(rc.CHANNEL_ROLLUP),
        LazyRollup(
            "incidents_hourly",
            "incidents",
            ri.touched_buckets,
            ri.refresh_buckets,
            ri.GROUPS,
            ri.all_buckets,
            (("contact_channel_15m", ri.hours_linked_to_contacts),),
            ri.refresh_range,
        ),
    )


def by_fact_table(rollups: Iterable[LazyRollup]) -> dict[str, tuple[LazyRollup, ...]]:
    """The rollups each fact table's writes touch."""
    found: dict[str, list[LazyRollup]] = defaultdict(list)
    for rollup in rollups:
        found[rollup.facts].append(rollup)
    return {table: tuple(r) for table, r in found.items()}


def holder_id() -> str:
    """This process, as a lease holder: host, pid and a random part (a restarted pid is another)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Refresher:
    """The one refresher of a warehouse's rollups in this process (a lease makes it the one of the
    warehouse): :meth:`refresh` drains the dirty log while the lease is held."""

    def __init__(
        self,
        wh: Warehouse,
        rollups: Iterable[LazyRollup],
        lease_seconds: float = 10.0,
        holder: str | None = None,
        definitions: Definitions | None = None,
    ) -> None:
        self.wh = wh
        self.rollups = tuple(rollups)
        self.definitions = definitions  # a writer's: adopted once it holds the lease
        self._adopted = definitions is None
        self.lease_seconds = lease_seconds
        self.holder = holder or holder_id()
        self._lock = threading.Lock()
        self._confirmed = False
        self._state = threading.Lock()  # guards the three fields below, never held during a statement
        self._started = 0
        """Refreshes begun (each may read the log and delete the entries it read)."""
        self._running = False
        self._held_until = 0.0
        """``time.monotonic()`` before which this refresher surely holds the lease (0: not held). It
        is only renewed by :meth:`refresh` (which counts a refresh begun first), so while ``_started``
        stays the same and the clock is before it, the lease was held throughout."""
        self._logged: set[tuple[Any, ...]] = set()
        """``rollup_dirty`` rows a write cycle logged while no refresh ran, before refresh number
        ``_logged_at`` + 1 began (see :meth:`RefreshWatch.unlogged`)."""
        self._logged_at = -1

    def _lease(self) -> tuple[str, float] | None:
        """(holder, seconds left on the server's clock; negative once lapsed), if ever claimed."""
        rows = self.wh.query(
            f"SELECT holder, toFloat64(expires - now64(3)) FROM {LEASE_TABLE} FINAL "
            "WHERE name = {n:String}",
            parameters={"n": LEASE_NAME},
        ).rows
        return (str(rows[0][0]), float(rows[0][1])) if rows else None

    def _claim(self, seconds: float) -> None:
        self.wh.command(
            f"INSERT INTO {LEASE_TABLE} (name, holder, expires, version) SELECT {{n:String}}, "
            "{h:String}, now64(3) + toIntervalMillisecond({ms:UInt64}), toUnixTimestamp64Nano(now64(9))",
            parameters={"n": LEASE_NAME, "h": self.holder, "ms": int(seconds * 1000)},
        )

    def hold(self) -> bool:
        """Claim or renew the lease; True when this refresher holds it.

        A held lease is renewed once half of it has run. A new claim is confirmed by the next call
        before it is used: two processes that claimed a free lease at the same moment both see the
        later claim by then, and only its holder refreshes."""
        asked = time.monotonic()
        current = self._lease()
        if current is not None and current[0] != self.holder and current[1] > 0:
            self._confirmed = False
            self._note_held(None)
            return False
        mine = current is not None and current[0] == self.holder and current[1] > 0
        if mine and self._confirmed and current is not None and current[1] > self.lease_seconds / 2:
            self._note_held(asked + current[1])
            return True
        self._claim(self.lease_seconds)
        asked = time.monotonic()
        current = self._lease()
        held = current is not None and current[0] == self.holder
        ready = held and (mine or self._confirmed)
        self._confirmed = held
        self._note_held(asked + current[1] if ready and current is not None else None)
        return ready

    def _note_held(self, until: float | None) -> None:
        """Record until when (monotonic; asked before the server answered, so never later than the
        lease's expiry) this refresher holds a confirmed lease; None: it does not."""
        with self._state:
            self._held_until = until or 0.0

    def watch(self) -> RefreshWatch:
        """For a writer about to log buckets and write the facts they cover (:class:`RefreshWatch`):
        which buckets need logging before the facts, and, once they are written, whether a
        refresh can have read the log meanwhile."""
        return RefreshWatch(self)

    def _begun(self) -> tuple[int, bool]:
        """(refreshes begun, one running now)."""
        with self._state:
            return self._started, self._running

    def _quiet_since(self, started: int) -> bool:
        with self._state:
            return self._quiet_since_locked(started)

    def _unlogged(self, started: int, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        with self._state:
            if self._logged_at != started or not self._quiet_since_locked(started):
                return list(rows)
            known = self._logged
            return [row for row in rows if tuple(row) not in known]

    def _quiet_since_locked(self, started: int) -> bool:
        """No refresh runs or began since ``started`` were begun, and the lease is held (the caller
        holds ``_state``)."""
        return not self._running and self._started == started and time.monotonic() < self._held_until

    def _note_logged(self, started: int, rows: Sequence[Sequence[Any]]) -> None:
        with self._state:
            if not self._quiet_since_locked(started):
                return
            if self._logged_at != started or len(self._logged) > MAX_NOTED_ENTRIES:
                self._logged, self._logged_at = set(), started
            self._logged.update(tuple(row) for row in rows)

    def release(self) -> None:
        """Give the lease up (a stopping worker), so another process need not wait for it to lapse."""
        with self._lock:
            self._note_held(None)
            current = self._lease()
            if current is not None and current[0] == self.holder:
                self._claim(0)

    def refresh(self) -> int:
        """One cycle: if there is anything logged and the lease is held, refresh it. Returns the
        buckets refreshed (0 when nothing was logged or another process holds the lease)."""
        with self._lock:
            with self._state:  # counted before the log is read (see :meth:`watch`)
                self._started += 1
                self._running = True
            try:
                found = pending(self.wh)
                if self._adopted and not found:
                    return 0
                if not self.hold() and not self.hold():  # a fresh claim is confirmed by a second look
                    return 0
                adopting = None if self._adopted else self.definitions
                # The log as read before the lease was checked: entries logged since wait for the next
                # refresh (one read of the log per refresh, not two).
                done = refresh_pending(self.wh, self.rollups, definitions=adopting, found=found)
                self._adopted = True
                return done
            finally:
                with self._state:
                    self._running = False

    def wait_fresh(self, timeout: float = 10.0, poll: float = 0.05) -> bool:
        """Until the entries logged now are refreshed (by this refresher, or by the lease holder):
        True when they are, False after ``timeout``."""
        deadline = time.monotonic() + timeout
        before = pending(self.wh).ids()
        while before:
            self.refresh()
            if not before & pending(self.wh).ids():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(poll)
        return True


_local: dict[str, Refresher] = {}
_local_lock = threading.Lock()


def register(refresher: Refresher) -> None:
    """Make ``refresher`` the one readers of its warehouse in this process use."""
    with _local_lock:
        _local[refresher.wh.dsn] = refresher


def unregister(refresher: Refresher) -> None:
    with _local_lock:
        if _local.get(refresher.wh.dsn) is refresher:
            del _local[refresher.wh.dsn]


READER_WAIT_SECONDS = 25.0
"""How long a reader waits for logged buckets: longer than a worker's lease (10 s by default), so the
lease of a worker that died holding it lapses during the wait and the reader refreshes itself."""


def ensure_fresh(wh: Warehouse, timeout: float = READER_WAIT_SECONDS) -> bool:
    """Before reading rollups: refresh the buckets logged now (see the module docstring).

    Uses this process's refresher of the warehouse when one runs (the worker's), else a refresher of
    its own on a writer handle of its own (a command without a running hub), which gives the lease up
    when done. One cheap query when nothing is logged. False if the logged buckets were not refreshed
    within ``timeout`` (another process holds the lease and did not refresh them in time): the reader
    then reads what is there."""
    with _local_lock:
        refresher = _local.get(wh.dsn)
    if refresher is not None:
        fresh = refresher.wait_fresh(timeout)
    elif not pending(wh):
        return True
    else:
        own = Warehouse(wh.dsn)  # never the caller's handle: a reader's refuses writes, and a
        one = Refresher(own, all_rollups(), lease_seconds=timeout)  # writer's lock is the pipeline's
        try:
            fresh = one.wait_fresh(timeout)
        finally:
            one.release()
            own.close()
    if not fresh:
        log.warning("rollups read with buckets still waiting for a refresh")
    return fresh
