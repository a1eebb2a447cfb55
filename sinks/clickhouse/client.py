"""The warehouse handle: clickhouse-connect clients for chDB or an http(s) server, one per role.

Contract:
- :func:`connect` opens the *writer* handle; every ClickHouse client is created by ``_make_client``
  (embedded ``chdb:///abs/path`` or ``http(s)://...``). chDB allows one process per data path: a
  second process fails to open it, and a process must not fork after chDB is loaded. Inside the one
  process any number of clients may share the path; each owns its own engine handle (chDB) or HTTP
  session, and the engine runs their queries concurrently from several threads.
- A clickhouse-connect client runs one call at a time (the chDB driver holds a lock per handle for
  the whole call; an HTTP session refuses concurrent queries), so concurrency comes from clients, not
  threads: each handle below owns one client and a lock of its own, and handles never share locks.
- The writer handle (``connect()``; the pipeline, migrations, rollup refreshers, board imports and
  CLI commands) serialises its calls with the *writer lock*. :meth:`Warehouse.exclusive` holds that
  lock across several statements that must not interleave with other writers.
- :meth:`Warehouse.open_reader` opens a *read handle* (a ``Warehouse`` with ``role`` set, e.g.
  ``"live"``) with its own client. It never takes the writer lock, so a reader never waits for the
  writer, nor the writer for a reader; two read handles never wait for each other. A read handle
  refuses ``insert`` and ``exclusive``. Readers see each statement of the writer as soon as it is
  committed, not whole batches: ClickHouse has no multi-statement transactions, and the tables are
  built so that a half-written batch is only ever a moment behind (the ledger is written last).
- :meth:`Warehouse.open_pool` opens a :class:`ReaderPool`: ``size`` read handles serving at most
  ``size`` queries at once on threads of their own, plus at most ``queue`` queries waiting up to
  ``wait_seconds`` for a free handle. Any query beyond that, or one that waited too long, gets
  :class:`WarehouseBusy` (with a retry hint) instead of waiting behind long queries. A handle whose
  query failed is replaced by a fresh one (chDB can leave an overflowing result in its stream).
- ``query(sql, ..., max_bytes=N)`` (on any handle or pool; ``sql`` one SELECT without SETTINGS or
  FORMAT) bounds the result in bytes twice. The engine runs it as
  ``SELECT * APPLY(materialize) FROM (sql)``, so a constant column is a full column before the
  engine's own ``max_result_bytes`` (if set) counts it: the engine counts a constant once per block,
  and expands it only when it writes the block out. The result's names are the query's own. The
  client then streams the result block by block and counts each block's bytes as it arrives: past
  ``N`` it closes the stream, which cancels the query in the engine, and raises
  :class:`ResultTooLarge`. Only about one block is ever held beyond the cap.
- Every handle's statements carry the engine's query priority (``priority``): the writer handle's
  and the write cycle's history read (role ``"history"``) :data:`WRITE_PRIORITY`, a rollup
  refresher's handle (``connect(dsn, priority=REFRESH_PRIORITY)``) a lower one, so the engine pauses
  a refresh while a write statement runs; every other read handle and pool takes no part (0).
- :meth:`Warehouse.insert_beside` runs several inserts at once: the first on the handle itself, the
  others on *sibling writer handles* (:data:`SIBLING_WRITERS` of them, each with a client, a lock
  and a thread of its own, opened on first use and shared by every caller of the writer handle).
  Each insert is still a call of the handle's own ``insert`` (so a wrapper of the handle sees every
  one); on a sibling's thread the handle's statements run on that sibling's client and lock. Its
  caller holds the writer lock throughout, so siblings add no writer of their own: they only take
  statements the caller would otherwise run one after another (a write cycle's fact tables).
- Closing a read handle or pool closes its clients; :meth:`Warehouse.close` on the writer handle
  closes the writer's client and every read handle, pool and sibling writer opened from it that is
  still open.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from operator import itemgetter
from pathlib import Path
from typing import Any, cast, overload
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.binding import format_query_value, quote_identifier
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ProgrammingError
from clickhouse_connect.driver.insert import InsertContext

from sinks.clickhouse.writers import fast_type

DATABASE = "default"
WRITER = "writer"


class WarehouseUnavailable(RuntimeError):
    """The warehouse could not be reached or refused a write: transient, retry later."""


class WarehouseBusy(RuntimeError):
    """Every read handle of a pool is busy and its queue is full (or the wait ran out): retry later.

    ``retry_after`` is a whole number of seconds (at least 1) after which a handle will be free: the
    soonest a running query must end by its time limit, else the pool's queue wait."""

    def __init__(self, role: str, running: int, waiting: int, retry_after: int) -> None:
        self.role, self.running, self.waiting, self.retry_after = role, running, waiting, retry_after
        super().__init__(
            f"busy: {running} {role} quer{'y' if running == 1 else 'ies'} running and {waiting} "
            f"waiting; try again in {retry_after} s"
        )


class ResultTooLarge(RuntimeError):
    """A result streamed with ``max_bytes`` passed that many bytes: the stream was closed (which
    cancels the query in the engine) and no row of it is returned."""

    def __init__(self, limit: int, detail: str = "") -> None:
        self.limit = limit
        super().__init__(f"the result is larger than {limit:,} bytes{detail}")


class ReadOnlyHandle(TypeError):
    """A write was attempted through a read handle: writes go through the writer handle."""


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def value_bytes(value: Any) -> int:
    """A cheap estimate of a decoded value's size in a result (a string counts its length)."""
    if isinstance(value, str | bytes):
        return len(value) + 2
    if isinstance(value, list | tuple):
        return 2 + sum(value_bytes(v) for v in value)
    if isinstance(value, dict):
        return 2 + sum(value_bytes(k) + value_bytes(v) for k, v in value.items())
    return 8


def column_bytes(column: Sequence[Any], column_type: Any) -> int:
    """The size of one decoded column of a block: rows x width for a fixed-width type, else the sum
    of :func:`value_bytes` over its values."""
    width = int(getattr(column_type, "byte_size", 0) or 0)
    if width:
        return len(column) * (width + (1 if getattr(column_type, "nullable", False) else 0))
    return sum(map(value_bytes, column))


_MATERIALIZE = "materialize"


def _unwrapped(name: str) -> str:
    """``materialize(x)`` -> ``x``: the name a column has in the query that ``APPLY`` wrapped."""
    prefix = _MATERIALIZE + "("
    return name[len(prefix) : -1] if name.startswith(prefix) and name.endswith(")") else name


def is_embedded(dsn: str) -> bool:
    return dsn.startswith("chdb:")


def embedded_path(dsn: str) -> Path | None:
    """The directory of an embedded warehouse on disk; None for a server or an in-memory one."""
    if not is_embedded(dsn):
        return None
    path = dsn.removeprefix("chdb://")
    return None if path in ("memory", ":memory:") else Path(path)


def is_new_embedded(dsn: str) -> bool:
    """True when ``dsn`` names an embedded warehouse on disk that does not exist yet (its directory
    is missing or empty): known without loading chDB."""
    path = embedded_path(dsn)
    if path is None:
        return False
    try:
        return next(path.iterdir(), None) is None
    except FileNotFoundError:
        return True
    except OSError:
        return False


EMBEDDED_ALLOCATOR_ENV = "JE_MALLOC_CONF"
EMBEDDED_ALLOCATOR_OPTIONS = "tcache_max:4096,prof:false"
"""The embedded engine's allocator (its own jemalloc, which reads ``JE_MALLOC_CONF`` once, when chDB
is loaded), with two options of its build changed:

- ``tcache_max:4096``: it caches freed blocks of up to 4 KiB per thread instead of 32 KiB. Each of
  the engine's threads (about 50 in a worker, 175 before migration 0600; most of them idle pool
  threads) keeps the blocks it freed in a cache of its own until it allocates again or ends, so an
  idle thread holds what its last statement left there; blocks of 4-32 KiB are most of what such a
  cache can hold (up to about 4 MiB a thread). Measured in a worker at 50 events/s on Apache Kafka
  (bench/manual/soak-memory-attribution.md, sixth look: the threads' caches 41-50 -> 22-26 MiB).
- ``prof:false``: no heap profiler. chDB's build turns jemalloc's profiler on and active, so one
  allocation in every 512 KiB allocated records its call stack (an unwind) and keeps it while the
  block lives; nothing in the hub reads those profiles. A file replay of ten simulated years
  (728,278 events; the engine inserts in the replay's own process) ran 3.5-4.9% faster without it,
  in four alternating same-machine pairs, with 0.45-1.1 s less system time; the board pack in
  process was slower in five of six pairs (medians 234 against 225 ms), the worker's throughput
  the same (bench/manual/soak-memory-attribution.md, seventh look).

Set only when the process has not set ``JE_MALLOC_CONF`` itself and before chDB is loaded; a server
keeps its own allocator configuration."""


def _load_chdb_without_arrow() -> None:
    """Load chDB's module with ``pyarrow`` hidden. chDB imports pyarrow (and numpy with it) when it
    loads, for its Arrow result formats and record-batch readers, and works without it (it
    documents pyarrow as optional); the warehouse never asks for Arrow (clickhouse-connect reads
    Native and resolves pyarrow only when an Arrow method is called). Hiding it saves about 0.1 s
    of CPU at every start of a process that opens the embedded warehouse (``demandhub sql``,
    ``board``). Nothing is hidden once chDB or pyarrow is loaded, and pyarrow stays importable.
    The engine's allocator gets :data:`EMBEDDED_ALLOCATOR_OPTIONS` before chDB is first loaded."""
    if "chdb" in sys.modules:
        return
    os.environ.setdefault(EMBEDDED_ALLOCATOR_ENV, EMBEDDED_ALLOCATOR_OPTIONS)
    if "pyarrow" in sys.modules:
        return
    sys.modules["pyarrow"] = None  # type: ignore[assignment]  # `import pyarrow` raises ImportError meanwhile
    try:
        import chdb  # noqa: F401
    finally:
        del sys.modules["pyarrow"]


EMBEDDED_SESSION_SETTINGS = {"use_query_condition_cache": 0}
"""Set on every client of the embedded engine. The query condition cache remembers, for each filter
condition and each part read, which granules matched; it lives in the process that opened the
warehouse (the worker), up to 100 MiB, and nearly every statement here names new ids, entries or
times, so it only grows. Measured: 3,000 point reads of the ledger of a ten-year warehouse left the
engine's tracked memory at 89-91 MiB with the cache and 24-25 MiB without, for the same CPU; over a
two-hour soak the tracked memory grew 83 -> 197 MiB with it and stayed at 80-105 MiB without
(bench/manual/soak-memory-attribution.md). In same-run pairs the write cycle at 50 events/s is
faster without it (93-102 against 124-137 ms); a gain at a 1,000 events/s backlog seen once (178-187
against 236-266 ms) did not come back in nine later pairs, with the cache bounded (1 or 8 MiB,
given as ``chdb_options`` at start-up: settings in the connection string are dropped) or not, and no
statement of the write cycle was faster with it (the manual's fifth look). A server keeps its own
cache, shared by its clients, and is left to its own configuration."""


SIBLING_WRITERS = 2
"""Writer handles besides the writer's own that :meth:`Warehouse.insert_beside` inserts on: three
inserts at once, for the two cores of the machines measured. A write cycle's fact tables went in
24% sooner in the median at 200 events a cycle and 20% sooner at 3 (alternating in-process runs,
bench/manual/history-read-and-statement-costs.md)."""


_LANE = threading.local()
"""On a sibling writer's thread, while :meth:`Warehouse.insert_beside` runs a share there: ``bound``,
the siblings of the handle that runs it and the one whose client and lock that handle's statements
run on."""


class _Siblings:
    """The sibling writer handles of one writer handle and the threads they insert on, created on
    first use. Held by reference, so a wrapper of the handle (which copies its attributes) shares
    them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handles: list[Warehouse] = []
        self.executor: ThreadPoolExecutor | None = None
        self.closed = False

    def close(self) -> None:
        with self.lock:
            self.closed = True
            executor, self.executor = self.executor, None
            self.handles = []
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


WRITE_PRIORITY = 1
"""The engine's query priority (its ``priority`` setting: 1 is the highest, 0 takes no part) of the
write cycle's statements: the writer handle's and the history read's (role ``"history"``)."""
REFRESH_PRIORITY = 2
"""The engine's query priority of the rollup refresher's handle. The engine pauses a query while one
of a higher priority runs (it checks as it reads, and resumes after at most a second), so a refresh
gives the cores to a write cycle that starts meanwhile instead of sharing them: an event that
arrives during a refresh is no longer written at a third of the speed. Readers take no part (0):
the live page, analysts and reports are neither paused nor pause anything."""
ROLE_PRIORITY = {WRITER: WRITE_PRIORITY, "history": WRITE_PRIORITY}
"""The handles whose statements belong to the write cycle: the writer's and the history read's
(every other role: 0)."""


def _make_client(dsn: str, priority: int = 0) -> Client:
    extra = {"priority": priority} if priority else {}
    if is_embedded(dsn):
        path = embedded_path(dsn)
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
        _load_chdb_without_arrow()
        return clickhouse_connect.get_client(dsn=dsn, settings={**EMBEDDED_SESSION_SETTINGS, **extra})
    parsed = urlparse(dsn)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"unsupported ClickHouse DSN scheme {parsed.scheme!r}")
    return clickhouse_connect.get_client(dsn=dsn, settings=extra or None)


INLINE_INSERT_MAX_BYTES = 64 * 1024
"""The largest Native block :meth:`Warehouse.insert` sends to the embedded engine inside the statement
(``INSERT ... FORMAT Native``, a newline, then the bytes, as an HTTP server is sent an insert's body).
For chDB, clickhouse-connect writes every insert's bytes to a temporary file and runs ``INSERT ...
FROM INFILE``: a file created, written, closed, opened and read by the engine, and removed, per
insert. Measured in process on a fresh warehouse (alternating, medians of 300): a 3-row insert into
the ledger 7.65 -> 6.23 ms of wall time and 8.5 -> 7.0 ms of the process's CPU, into
``contact_legs`` 13.8 -> 11.4 and 14.7 -> 12.2 ms; 200 ledger rows (24 KB) 7.6 -> 6.2 ms, 1,000
(120 KB) 10.3 -> 10.0, 3,000 (360 KB) 15.4 -> 15.3, 20,000 (2.4 MB) 24.3 -> 34.7 ms: the engine
reads inline bytes more slowly than a file's, so the fixed saving is gone by about 250 KB, and the
bound is well below that. A write cycle at 50 events/s is all small inserts; a backlog's ledger
blocks and a replay's keep the file."""
INLINE_DATA_END = b"\n\n"
"""Where the embedded engine ends an insert's inline data: it splits a statement's text as its
command-line client does, and for a format other than ``Values`` the data ends at the first empty
line (ClickHouse's test ``03156_default_multiquery_split``: "split by '\\n\\n' instead of ';', then
discard the remaining data"). Native bytes can hold those two bytes anywhere (two adjacent
LowCardinality indexes of 10, a time), so a block holding them goes by file; every other byte
sequence arrives whole (tests/integration/test_inline_insert.py checks it on random bytes)."""
INLINE_INSERT_SETTINGS: dict[str, Any] = {"max_threads": 1, "max_insert_threads": 1}
"""Settings of every inline insert: one block parsed and written by one thread; the engine's pipeline
for it then starts no thread of its own (a 3-row insert 0.3-0.5 ms of wall time and 0.5-1 ms of CPU
less in the same measurement)."""


def _inline_runner(client: Any) -> Callable[[bytes], Any] | None:
    """The embedded engine's call behind a clickhouse-connect chDB client that runs one statement
    given as bytes (its backend's ``_run``: the client's handle lock, its database, its session
    settings, its error wrapping), or None. clickhouse-connect has no public call for a statement
    with binary data for chDB (``command`` decodes ``data`` as text); its version is pinned in
    ``pyproject.toml`` and tests/integration/test_inline_insert.py holds this to it."""
    backend = getattr(client, "_backend", None)
    run = getattr(backend, "_run", None)
    if run is None or type(backend).__name__ != "ChdbBackend":
        return None

    def execute(statement: bytes) -> Any:
        return run(statement, "TabSeparated", database=client.database)

    return execute


def _setting_name(name: str) -> str:
    if not name.replace("_", "a").isalnum() or not name.isascii():
        raise ProgrammingError(f"not a setting name: {name!r}")
    return name


def _qualified(table: str) -> str:
    """The table as clickhouse-connect names it in an INSERT (a dotted name is left as it is)."""
    return table if "." in table else quote_identifier(table)


def native_chunks(context: InsertContext) -> list[bytes]:
    """The Native bytes clickhouse-connect sends for the insert ``context`` holds (its own transform),
    a block at a time, without the ``INSERT`` statement's line an HTTP body opens with. Raises what
    the transform recorded for a value it could not write."""
    from clickhouse_connect.driver.transform import NativeTransform

    chunks = list(NativeTransform.build_insert(context))
    if context.insert_exception is not None:
        raise context.insert_exception
    chunks[0] = chunks[0][chunks[0].index(b"\n") + 1 :]
    return chunks


class _RowsInsertContext(InsertContext):
    """An insert context for rows of plain Python values, which is all :meth:`Warehouse.insert` is
    given. clickhouse-connect's own ``data`` setter first asks whether the data is a pandas
    DataFrame or a numpy array, and asking imports pandas (and numpy) the first time: 0.3 s to over
    1 s of one write cycle in a process that has not loaded them, which no insert here needs. This
    setter takes the row- or column-oriented branch of clickhouse-connect 1.12's setter (pinned in
    ``pyproject.toml``, as ``column_oriented`` says) and skips the two checks; everything else of the
    insert is the library's."""

    @property
    def data(self) -> Any:
        return self._raw_data

    @data.setter
    def data(self, data: Any) -> None:
        self._raw_data = data
        self.current_block = 0
        self.current_row = 0
        self.row_count = 0
        self.column_count = 0
        self._data = None
        if data is None or len(data) == 0:
            return
        if self.column_oriented:  # a list per column (``Warehouse.insert_dicts``)
            self._next_block_data = self._column_block_data
            self._block_rows = None
            self._block_columns = data
            self.column_count = len(data)
            self.row_count = len(data[0])
        else:
            self._next_block_data = self._row_block_data
            self._block_rows = data
            self._block_columns = None
            self.row_count = len(data)
            self.column_count = len(data[0])
        if self.row_count and self.column_count:
            if self.column_count != len(self.column_names):
                raise ProgrammingError("Insert data column count does not match column names")
            self._data = data
            self.block_row_count = self._calc_block_size()

    def release(self) -> None:
        """Drop the rows and the bound method that ties the context to itself. The setter (the
        library's as well as this one) keeps ``self._next_block_data = self._row_block_data``: a
        reference cycle that holds every row of the insert until a full collection, and for good in
        a worker whose heap settling froze it mid-insert (:mod:`streams.heap`)."""
        self._next_block_data = None  # type: ignore[assignment]  # the context is not used again
        self._raw_data = self._block_rows = self._block_columns = self._data = None


class Columns(Sequence[tuple[Any, ...]]):
    """Rows held as one list per column (all of one length), for :meth:`Warehouse.insert`, which
    sends them as they are. As a sequence it is still the rows (each a tuple, made when asked), so
    a wrapper of ``insert`` that counts or reads rows sees what it would for a list of rows."""

    __slots__ = ("columns",)

    def __init__(self, columns: list[list[Any]]) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...

    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            return list(zip(*(column[index] for column in self.columns), strict=True))
        return tuple(column[index] for column in self.columns)


class Warehouse:
    """One clickhouse-connect client with a lock of its own: the writer handle, or a read handle.

    See the module docstring for the contract between handles."""

    def __init__(
        self,
        dsn: str,
        client: Client | None = None,
        role: str = WRITER,
        parent: Warehouse | None = None,
        priority: int | None = None,
    ) -> None:
        self.dsn = dsn
        self.role = role
        self.priority = ROLE_PRIORITY.get(role, 0) if priority is None else priority
        """The engine's priority of this handle's statements (see :data:`REFRESH_PRIORITY`)."""
        self._client = client or _make_client(dsn, self.priority)
        self._lock = threading.RLock()  # the writer lock on the writer handle; a reader's own otherwise
        self._parent = parent
        self._children: list[Warehouse | ReaderPool] = []
        self._children_lock = threading.Lock()
        self._closed = False
        self._column_types: dict[tuple[str, tuple[str, ...]], Sequence[Any]] = {}
        """Column types per (table, columns) inserted into, so an insert is one statement (see
        :meth:`insert`)."""
        self._siblings = _Siblings()
        self._inline = _inline_runner(self._client)
        """The embedded engine's call that takes a statement with its data (see :meth:`_insert_inline`),
        or None (an http(s) server, a client of another kind)."""
        self._insert_heads: dict[tuple[str, tuple[str, ...], tuple[tuple[str, Any], ...]], bytes] = {}

    @property
    def is_reader(self) -> bool:
        return self.role != WRITER

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def server_tz(self) -> tzinfo:
        """The zone the client gives values of columns that name none (inserted and read)."""
        return self._client.server_tz

    def command(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Any:
        self._check_open()
        target = self._target()
        with target._lock:
            return target._client.command(sql, parameters=parameters, settings=settings)

    def query(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        max_bytes: int | None = None,
    ) -> QueryResult:
        """Run ``sql`` and return every row. With ``max_bytes`` the result is streamed block by block
        and :class:`ResultTooLarge` is raised (the stream closed, the query cancelled) as soon as the
        blocks received add up to more than ``max_bytes`` (see :func:`column_bytes`)."""
        self._check_open()
        target = self._target()
        with target._lock:
            if max_bytes is not None:
                return target._query_capped(sql, parameters, settings, max_bytes)
            result = target._client.query(sql, parameters=parameters, settings=settings)
        return QueryResult(
            tuple(result.column_names),
            tuple(t.name for t in result.column_types),
            # clickhouse-connect declares its rows Sequence[Sequence[Any]]; they are tuples (zip of columns)
            list(cast(Sequence[tuple[Any, ...]], result.result_rows)),
        )

    def _query_capped(
        self, sql: str, parameters: dict[str, Any] | None, settings: dict[str, Any] | None, max_bytes: int
    ) -> QueryResult:
        """The caller holds ``self._lock``. Leaving the ``with`` block closes the stream: chDB cancels
        the query (``StreamingResult.cancel``), an HTTP server sees the connection dropped."""
        rows: list[tuple[Any, ...]] = []
        size = 0
        wrapped = f"SELECT * APPLY({_MATERIALIZE}) FROM (\n{sql}\n)"
        with self._client.query_column_block_stream(
            wrapped, parameters=parameters, settings=settings
        ) as stream:
            head = stream.source
            types = tuple(head.column_types)
            for block in stream:
                size += sum(column_bytes(col, kind) for col, kind in zip(block, types, strict=True))
                if size > max_bytes:
                    raise ResultTooLarge(max_bytes)
                rows.extend(zip(*block, strict=True))
        names = tuple(_unwrapped(name) for name in head.column_names)
        return QueryResult(names, tuple(t.name for t in types), rows)

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        """Insert ``rows`` (values in ``columns`` order) into ``table`` in one statement. Rows given
        as :class:`Columns` go to the engine column by column (no row is built only to be turned
        into columns again). Time, integer and float columns are written by the writers of
        :func:`sinks.clickhouse.writers.fast_type`: clickhouse-connect's bytes, in fewer steps (and
        without numpy)."""
        self._refuse_on_reader("insert")
        if not rows:
            return
        self._check_open()
        key = (table, tuple(columns))
        target = self._target()
        with target._lock:
            # clickhouse-connect asks the table's column types (DESCRIBE TABLE) before every insert
            # it is given no types for: a second statement per insert, each costing about as much
            # as a small insert in chDB. The types are asked once per table and column list; a
            # failed insert forgets them (a migration may have changed the table meanwhile).
            types = self._column_types.get(key)
            context: _RowsInsertContext | None = None
            if types is None:
                described = target._client.create_insert_context(table, list(columns), settings=settings)
                types = self._column_types[key] = tuple(fast_type(t) for t in described.column_types)
            try:
                context = _RowsInsertContext(
                    _qualified(table),
                    list(columns),
                    types,
                    column_oriented=isinstance(rows, Columns),
                    settings=settings,
                    server_tz=target._client.server_tz,
                )
                context.data = rows.columns if isinstance(rows, Columns) else list(rows)
                if target._inline is not None:
                    target._insert_inline(target._inline, context, settings)
                else:
                    target._client.insert(context=context)
            except Exception:
                self._column_types.pop(key, None)
                raise
            finally:
                if context is not None:
                    context.release()

    def _insert_inline(
        self, run: Callable[[bytes], Any], context: _RowsInsertContext, settings: dict[str, Any] | None
    ) -> None:
        """Send an insert's Native bytes to the embedded engine in the statement itself when they can
        go there whole (see :data:`INLINE_INSERT_MAX_BYTES`), else the way clickhouse-connect sends
        them (a temporary file). The bytes are clickhouse-connect's own Native transform of the same
        insert context either way. The caller holds this handle's lock."""
        chunks = native_chunks(context)
        if sum(map(len, chunks)) <= INLINE_INSERT_MAX_BYTES:
            block = b"".join(chunks)
            if INLINE_DATA_END not in block:
                run(self._insert_head(context, settings) + block)
                return
        # By file, as clickhouse-connect sends it (a large block is written a chunk at a time).
        blocks = (chunk for chunk in chunks)  # the insert block shape clickhouse-connect declares
        self._client.raw_insert(context.table, context.column_names, blocks, settings=settings, fmt="Native")

    def _insert_head(self, context: _RowsInsertContext, settings: dict[str, Any] | None) -> bytes:
        """The statement's text an inline insert's bytes follow (made once per table, columns and
        settings)."""
        extra = tuple(sorted((settings or {}).items()))
        key = (context.table, tuple(context.column_names), extra)
        head = self._insert_heads.get(key)
        if head is None:
            clause = ", ".join(
                f"{_setting_name(k)} = {format_query_value(v)}"
                for k, v in {**INLINE_INSERT_SETTINGS, **dict(extra)}.items()
            )
            columns = ", ".join(quote_identifier(c) for c in context.column_names)
            head = f"INSERT INTO {context.table} ({columns}) SETTINGS {clause} FORMAT Native\n".encode()
            self._insert_heads[key] = head
        return head

    def insert_encoded(
        self,
        table: str,
        columns: Sequence[str],
        block: bytes,
        fmt: str = "Native",
        settings: dict[str, Any] | None = None,
    ) -> None:
        """Insert rows already encoded in ``fmt`` (e.g. by ``replay_sql.BlockEncoder`` in another process)
        in one statement: the engine parses the bytes as they are."""
        self._refuse_on_reader("insert")
        if not block:
            return
        self._check_open()
        target = self._target()
        with target._lock:
            target._client.raw_insert(_qualified(table), list(columns), block, settings=settings, fmt=fmt)

    def insert_dicts(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows given as dicts; every row must have the same keys. The values are taken a
        column at a time (one pass over the rows per column, in C), not a row at a time."""
        if not rows:
            return
        columns = list(rows[0])
        self.insert(table, Columns([list(map(itemgetter(c), rows)) for c in columns]), columns)

    def sibling_writer(self, index: int) -> Warehouse:
        """The ``index``-th sibling writer handle (0 .. :data:`SIBLING_WRITERS` - 1) of this writer
        handle: the same warehouse and priority, a client and a lock of its own. Opened on first use
        and closed with the writer handle."""
        self._refuse_on_reader("sibling_writer")
        with self._siblings.lock:
            if self._siblings.closed:
                raise WarehouseUnavailable(f"the {self.role} warehouse handle is closed")
            while len(self._siblings.handles) <= index:
                root = self._root()
                sibling = Warehouse(root.dsn, role=WRITER, parent=root, priority=self.priority)
                root._adopt(sibling)
                self._siblings.handles.append(sibling)
            return self._siblings.handles[index]

    def insert_beside(self, inserts: Sequence[Callable[[Warehouse], None]]) -> None:
        """Run each of ``inserts`` (a call that inserts through the handle it is given: this one) at
        once. The first share runs in the caller's thread on this handle's client; the others are
        spread over the sibling writer handles (:meth:`sibling_writer`), each share one after
        another on its sibling's thread, where this handle's statements run on the sibling's
        client and lock. Returns once every one has ended; the first failure, if any, is raised
        then (the others may have been written: the caller writes them again, as after any failed
        statement). When a sibling cannot be opened, every insert runs here, one after another."""
        self._refuse_on_reader("insert_beside")
        lanes = min(len(inserts), SIBLING_WRITERS + 1)
        siblings: list[Warehouse] = []
        if lanes > 1:
            try:
                siblings = [self.sibling_writer(i) for i in range(lanes - 1)]
            except Exception:  # e.g. a server refusing more connections: one after another, as before
                siblings = []
        if not siblings:
            for insert in inserts:
                insert(self)
            return
        shares: list[list[Callable[[Warehouse], None]]] = [[] for _ in range(lanes)]
        for i, insert in enumerate(inserts):
            shares[i % lanes].append(insert)
        with self._siblings.lock:
            if self._siblings.executor is None:
                self._siblings.executor = ThreadPoolExecutor(SIBLING_WRITERS, thread_name_prefix="writer")
            executor = self._siblings.executor
        futures = [
            executor.submit(self._run_share, sibling, share)
            for sibling, share in zip(siblings, shares[1:], strict=True)
        ]
        try:
            for insert in shares[0]:
                insert(self)
        finally:
            wait(futures)  # no sibling's insert left running unseen, whatever happened here
        wait_all(futures)

    def _run_share(self, sibling: Warehouse, share: Sequence[Callable[[Warehouse], None]]) -> None:
        _LANE.bound = (self._siblings, sibling)
        try:
            for insert in share:
                insert(self)
        finally:
            _LANE.bound = None

    def _target(self) -> Warehouse:
        """The handle whose client and lock this thread's statements run on: this one, or, on a
        sibling writer's thread during :meth:`insert_beside`, the sibling (for the statements of the
        handle that owns it, or of a wrapper of that handle, only)."""
        bound: tuple[_Siblings, Warehouse] | None = getattr(_LANE, "bound", None)
        return bound[1] if bound is not None and bound[0] is self._siblings else self

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writer lock for several statements that must not interleave with other writers.
        Read handles and pools never take it."""
        self._refuse_on_reader("exclusive")
        with self._lock:
            yield

    def _check_open(self) -> None:
        if self._closed:
            raise WarehouseUnavailable(f"the {self.role} warehouse handle is closed")

    def _refuse_on_reader(self, what: str) -> None:
        if self.is_reader:
            raise ReadOnlyHandle(f"{what} on the {self.role!r} read handle: writes use the writer handle")

    # -- readers ------------------------------------------------------------------------------------
    def _root(self) -> Warehouse:
        return self._parent._root() if self._parent is not None else self

    def open_reader(self, role: str) -> Warehouse:
        """A read handle of its own for ``role`` (e.g. ``"live"``): a new client on the same DSN that
        never waits for the writer lock or for other readers. Close it, or close the writer handle."""
        if role == WRITER:
            raise ValueError("a read handle needs a role other than 'writer'")
        root = self._root()
        root._check_open()
        reader = Warehouse(root.dsn, role=role, parent=root)
        root._adopt(reader)
        return reader

    def open_pool(
        self,
        role: str,
        size: int,
        queue: int = 0,
        wait_seconds: float = 0.0,
        time_limit: float | None = None,
        observe: Callable[[int, int], None] | None = None,
    ) -> ReaderPool:
        """A :class:`ReaderPool` of ``size`` read handles for ``role`` (e.g. ``"analyst"``).

        ``time_limit`` (the engine's ``max_execution_time`` of the pool's queries, if any) sharpens the
        retry hint of :class:`WarehouseBusy`; ``observe(running, waiting)`` is called on every change."""
        root = self._root()
        root._check_open()
        pool = ReaderPool(root, role, size, queue, wait_seconds, time_limit, observe)
        root._adopt(pool)
        return pool

    def _adopt(self, child: Warehouse | ReaderPool) -> None:
        with self._children_lock:
            if not self._closed:
                self._children.append(child)
                return
        child.close()  # the writer handle was closed meanwhile
        raise WarehouseUnavailable(f"the {self.role} warehouse handle is closed")

    def _forget(self, child: Warehouse | ReaderPool) -> None:
        with self._children_lock:
            if child in self._children:
                self._children.remove(child)

    def close(self) -> None:
        """Close this handle's client; the writer handle also closes every reader and pool it opened.
        A call still running on a handle finishes first (at most its time limit)."""
        with self._children_lock:
            if self._closed:
                return
            self._closed = True
            children, self._children = self._children, []
        self._siblings.close()
        for child in children:
            child.close()
        with self._lock:
            self._client.close()
        if self._parent is not None:
            self._parent._forget(self)


def wait_all(futures: Sequence[Future[Any]]) -> None:
    """Until every one of ``futures`` has ended; then the first failure among them (in their order),
    if any, is raised."""
    wait(futures)
    for future in futures:
        future.result()


class ReaderPool:
    """At most ``size`` concurrent queries for one role, each on a read handle of its own and run on a
    thread of the pool's own; at most ``queue`` more wait, each up to ``wait_seconds``, for a handle.
    Beyond that (or after the wait) a query gets :class:`WarehouseBusy` rather than a place in line."""

    def __init__(
        self,
        root: Warehouse,
        role: str,
        size: int,
        queue: int,
        wait_seconds: float,
        time_limit: float | None = None,
        observe: Callable[[int, int], None] | None = None,
    ) -> None:
        if size < 1 or queue < 0 or wait_seconds < 0:
            raise ValueError("a pool needs size >= 1, queue >= 0 and wait_seconds >= 0")
        self.role, self.size, self.queue, self.wait_seconds = role, size, queue, wait_seconds
        self.time_limit = time_limit
        self._root = root
        self._observe = observe
        self._cond = threading.Condition()
        self._admitted = 0  # running + waiting
        self._started: dict[int, float] = {}  # id(handle) -> monotonic start of its running query
        self._handles: list[Warehouse] = []
        try:
            for n in range(size):
                self._handles.append(Warehouse(root.dsn, role=f"{role}-{n}", parent=root))
        except Exception:
            for handle in self._handles:
                handle.close()
            raise
        self._free = list(self._handles)
        self._closed = False
        # One thread per admitted query: a waiting query holds a thread, never the event loop's.
        self._executor = ThreadPoolExecutor(max_workers=size + queue, thread_name_prefix=f"warehouse-{role}")

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._started)

    @property
    def waiting(self) -> int:
        with self._cond:
            return self._admitted - len(self._started)

    def submit(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        max_bytes: int | None = None,
    ) -> Future[QueryResult]:
        """Admit a query or raise :class:`WarehouseBusy` at once; the future holds its result, or
        :class:`WarehouseBusy` when no handle came free within ``wait_seconds``, or
        :class:`ResultTooLarge` (see :meth:`Warehouse.query`)."""
        with self._cond:
            if self._closed:
                raise WarehouseUnavailable(f"the {self.role} pool is closed")
            if self._admitted >= self.size + self.queue:
                raise self._busy()
            self._admitted += 1
        self._notify()
        try:
            future = self._executor.submit(self._run, sql, parameters, settings, max_bytes, time.monotonic())
        except RuntimeError:  # the executor was shut down by close() meanwhile
            self._release_admission()
            raise WarehouseUnavailable(f"the {self.role} pool is closed") from None
        future.add_done_callback(lambda _: self._release_admission())
        return future

    def query(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        max_bytes: int | None = None,
    ) -> QueryResult:
        """:meth:`submit` and wait for the answer (blocking)."""
        return self.submit(sql, parameters, settings, max_bytes).result()

    def _run(
        self,
        sql: str,
        parameters: dict[str, Any] | None,
        settings: dict[str, Any] | None,
        max_bytes: int | None,
        admitted: float,
    ) -> QueryResult:
        handle = self._take(admitted + self.wait_seconds)
        try:
            return handle.query(sql, parameters, settings, max_bytes)
        except Exception:
            handle = self._renew(handle)
            raise
        finally:
            with self._cond:
                self._started.pop(id(handle), None)
                self._free.append(handle)
                self._cond.notify()
            self._notify()

    def _take(self, deadline: float) -> Warehouse:
        with self._cond:
            while not self._free:
                remaining = deadline - time.monotonic()
                if self._closed:
                    raise WarehouseUnavailable(f"the {self.role} pool is closed")
                if remaining <= 0:
                    raise self._busy()
                self._cond.wait(remaining)
            if self._closed:
                raise WarehouseUnavailable(f"the {self.role} pool is closed")
            handle = self._free.pop()
            self._started[id(handle)] = time.monotonic()
        self._notify()
        return handle

    def _renew(self, handle: Warehouse) -> Warehouse:
        """A fresh handle in place of one whose query failed: chDB can leave the rest of a result
        that overflowed a limit in the handle's stream, where the next query would read it."""
        try:
            fresh = Warehouse(self._root.dsn, role=handle.role, parent=self._root)
        except Exception:
            return handle  # keep the old one rather than shrink the pool
        with self._cond:
            closing = self._closed
            if not closing:
                self._started[id(fresh)] = self._started.pop(id(handle), time.monotonic())
                self._handles[self._handles.index(handle)] = fresh
        if closing:  # close() has taken (or is taking) the handles list: keep the one it closes
            fresh.close()
            return handle
        handle.close()
        return fresh

    def _release_admission(self) -> None:
        with self._cond:
            self._admitted -= 1
        self._notify()

    def _busy(self) -> WarehouseBusy:
        """The busy answer; the caller holds ``self._cond``."""
        running = len(self._started)
        hint = self.wait_seconds
        if self._started and self.time_limit is not None:
            hint = min(start + self.time_limit for start in self._started.values()) - time.monotonic()
        return WarehouseBusy(self.role, running, self._admitted - running, max(1, math.ceil(hint)))

    def _notify(self) -> None:
        if self._observe is not None:
            with self._cond:
                running, waiting = len(self._started), self._admitted - len(self._started)
            self._observe(running, waiting)

    def close(self) -> None:
        """Refuse new queries, give up waiting ones and close every handle (running queries finish)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._cond:
            handles = list(self._handles)
        for handle in handles:
            handle.close()
        self._root._forget(self)


def connect(dsn: str, priority: int = WRITE_PRIORITY) -> Warehouse:
    """Open the writer handle of the warehouse named by ``dsn`` (chdb:///abs/path, chdb://memory or
    http(s)://...); read handles and pools are opened from it. ``priority``: the engine's priority of
    its statements (:data:`REFRESH_PRIORITY` for a rollup refresher's handle)."""
    return Warehouse(dsn, priority=priority)
