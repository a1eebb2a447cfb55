"""Read-only SQL for analysts: the rules shared by `demandhub sql` and ``POST /api/sql``.

The guard never reads SQL itself. It asks the engine (``EXPLAIN AST <query>``, a parse with no
analysis and no execution) how ClickHouse reads the exact text that will run, and decides on that
tree, so a quote, comment, ``$`` or escape that the engine reads one way cannot be read another way
here. The decision, every rule context-free over the engine's tree:

- **One SELECT.** The root is a ``SelectWithUnionQuery`` (SELECT, WITH ... SELECT, UNION, INTERSECT,
  EXCEPT, parenthesised) with no SETTINGS, FORMAT or INTO OUTFILE of the analyst's; anything else
  (INSERT, DDL, SHOW, EXPLAIN, a second statement) is refused or fails to parse.
- **Only the hub's own tables and views.** A table named with a database must be one listed in the
  warehouse's current database (read from ``system.tables`` at first use and again on a miss; never a
  hard-coded list). No name anywhere (table, ``IN`` operand, column) may start with another
  database (``system``, ``information_schema``, ``INFORMATION_SCHEMA``, any other), in any case or
  quoting: the engine prints names unquoted and unescaped, so quoting cannot disguise them. An
  unqualified name resolves only to a WITH name or to a table of the current database, so an unknown
  one is left for the engine to answer ("Unknown table").
- **Functions from an allow-list.** Built from ``system.functions`` by a deliberate rule, then an
  explicit deny-list on top: every aggregate function (and combinator forms of them such as
  ``sumIf``), every function in :data:`ALLOWED_CATEGORIES` (pure computations over values: maths,
  strings, dates, arrays, JSON, hashes...), the few :data:`ALLOWED_OTHER` functions named one by one,
  and the syntax helpers the parser itself produces (``lambda``...). Never allowed, whatever their
  category (:data:`DENIED`): anything that reads files, the network, dictionaries, settings, the
  server or session (``file``, ``dictGet*``, ``joinGet``, ``hasColumnInTable``, ``getSetting``,
  ``currentUser``, ``hostName``, ``sleep``...). An allow-list fails safe: a function added by a new
  engine version is refused until someone decides about its category. Names are resolved the way the
  engine resolves them (exact name, else case-insensitive names only, aliases to their target).
  ``arrayReduce`` and ``initializeAggregation`` name a function in a string; the engine looks such
  names up among aggregate functions only, which compute over values.
- **Table functions:** only ``numbers`` (a counter that reads nothing; the time, memory and result
  limits bound it). Every other table function (``file``, ``url``, ``s3``, ``remote``, ``merge``,
  ``view``, ``executable``, ``format``...) is refused, wherever it appears.
- **Node kinds from an allow-list** (:data:`NODE_KINDS`): a construct the dump does not show in full
  (``* APPLY(f)`` hides ``f``) or that changes settings (``Set``) or takes parameters is refused.

A quoted name may contain a newline and so add lines of its own to the engine's dump; such lines can
only add nodes, never hide one, so every check above is made on every line whatever its place in the
tree (a forged line can only cause a refusal). The root's declared child count is printed by the
engine before any name, and a query with FORMAT, SETTINGS or INTO OUTFILE has more root children.

The query then runs with :func:`limits` (``readonly=1``, introspection off, time, memory, row and
byte caps): that is the second, independent line of defence, and :func:`engine_message` takes the
appended SETTINGS clause out of anything the engine says before an analyst sees it.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from clickhouse_connect.driver.exceptions import Error as ClickHouseError

from demandhub.settings import Settings
from sinks.clickhouse import client as warehouse_client
from sinks.clickhouse import guard_sql
from sinks.clickhouse.client import value_bytes

MAX_QUERY_CHARS = 20_000
ALLOWED_TABLE_FUNCTIONS = frozenset({"numbers"})
ALLOWED_CATEGORIES = frozenset(
    {
        "Arithmetic",
        "Arrays",
        "Bit",
        "Bitmap",
        "Comparison",
        "Conditional",
        "Dates and Times",
        "Distance",
        "Encoding",
        "Geo",
        "Geo Polygon",
        "Hash",
        "IP Address",
        "JSON",
        "Logical",
        "Map",
        "Mathematical",
        "Null",
        "Random Number",
        "Rounding",
        "String",
        "String Replacement",
        "String Search",
        "String Splitting",
        "Tuple",
        "Type Conversion",
        "URL",
        "UUID",
    }
)
# Functions of the "Other" category (a mixed bag of introspection and helpers) that only compute.
ALLOWED_OTHER = frozenset(
    {
        "bar",
        "byteSize",
        "countDigits",
        "defaultValueOfArgumentType",
        "defaultValueOfTypeName",
        "finalizeAggregation",
        "formatReadableDecimalSize",
        "formatReadableQuantity",
        "formatReadableSize",
        "formatReadableTimeDelta",
        "identity",
        "ignore",
        "initializeAggregation",
        "isConstant",
        "isDecimalOverflow",
        "materialize",
        "neighbor",
        "parseReadableSize",
        "parseReadableSizeOrNull",
        "parseReadableSizeOrZero",
        "parseTimeDelta",
        "rowNumberInAllBlocks",
        "rowNumberInBlock",
        "runningAccumulate",
        "runningDifference",
        "runningDifferenceStartingWithFirstValue",
        "throwIf",
        "toColumnTypeName",
        "toTypeName",
        "transform",
        "visibleWidth",
    }
)
# Produced by the parser for syntax (CASE x WHEN, lambdas), not always listed in system.functions.
SYNTAX_FUNCTIONS = frozenset({"lambda", "caseWithExpression", "exists", "tuple", "array", "grouping"})
# Never allowed, even if a category above would admit them (documented names, tested one by one).
DENIED = frozenset(
    {
        "file",
        "chdb",
        "joinGet",
        "joinGetOrNull",
        "hasColumnInTable",
        "getSetting",
        "getSettingOrDefault",
        "getServerSetting",
        "getMergeTreeSetting",
        "getMacro",
        "currentUser",
        "currentDatabase",
        "currentSchemas",
        "currentProfiles",
        "currentRoles",
        "currentQueryID",
        "initialQueryID",
        "queryID",
        "hostName",
        "FQDN",
        "serverUUID",
        "tcpPort",
        "getServerPort",
        "uptime",
        "version",
        "filesystemAvailable",
        "filesystemCapacity",
        "filesystemUnreserved",
        "sleep",
        "sleepEachRow",
        "aggThrow",
        "flameGraph",
        "globalVariable",
        "getClientHTTPHeader",
        "serverTimezone",
        "formatRow",  # output formats can be told (by settings) to read schema files
        "formatRowNoNewline",
        "groupFormat",
    }
)
DENIED_PREFIXES = ("dictGet", "dictHas", "dictIs", "url", "s3", "remote", "executable", "ai")
NODE_KINDS = frozenset(
    {
        "SelectWithUnionQuery",
        "SelectIntersectExceptQuery",
        "SelectQuery",
        "ExpressionList",
        "Function",
        "Identifier",
        "Literal",
        "Asterisk",
        "QualifiedAsterisk",
        "ColumnsRegexpMatcher",
        "ColumnsListMatcher",
        "QualifiedColumnsRegexpMatcher",
        "QualifiedColumnsListMatcher",
        "ColumnsTransformerList",
        "ColumnsExceptTransformer",
        "ColumnsReplaceTransformer",
        "ColumnsReplaceTransformer::Replacement",
        "TablesInSelectQuery",
        "TablesInSelectQueryElement",
        "TableExpression",
        "TableIdentifier",
        "TableJoin",
        "ArrayJoin",
        "Subquery",
        "WithElement",
        "OrderByElement",
        "InterpolateElement",
        "WindowDefinition",
        "WindowListElement",
        "SampleRatio",
        "DataType",
        "NameTypePair",
    }
)
_LINE = re.compile(r"^( *)([A-Za-z][A-Za-z_:]*)(?: (.*?))?(?: \(children (\d+)\))?$")
_NAME = re.compile(r"^([^ ]+)(?: \(alias .*\))?$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ROOT = "SelectWithUnionQuery (children 2)"
OUR_FORMAT = " Identifier Native"  # the FORMAT clause the client appends to every query


class RejectedQuery(ValueError):
    """Refused by policy: the message names the rule (never the engine's words)."""


class EngineError(RuntimeError):
    """The engine could not read or run the query; the message is the engine's, cleaned."""


class Runner(Protocol):
    """Anything with the warehouse's ``query`` (a :class:`~sinks.clickhouse.client.Warehouse`, a
    read handle or an analyst pool)."""

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> Any: ...


@dataclass
class Catalog:
    """What the warehouse offers: its current database, tables and the functions the guard allows."""

    database: str
    other_databases: frozenset[str]
    tables: frozenset[str]
    exact: dict[str, str]  # function name -> canonical name
    insensitive: dict[str, str]  # lower-case name of a case-insensitive function -> canonical name
    aggregates: frozenset[str]
    combinators: tuple[str, ...]
    allowed: frozenset[str]  # canonical names
    lock: threading.Lock = field(default_factory=threading.Lock)

    def resolve(self, name: str) -> str | None:
        """The canonical function ``name`` stands for, the way the engine looks it up."""
        return self.exact.get(name) or self.insensitive.get(name.lower())

    def function_allowed(self, name: str) -> bool:
        if name in SYNTAX_FUNCTIONS or name in ALLOWED_TABLE_FUNCTIONS:
            return True
        canonical = self.resolve(name)
        if canonical is not None:
            return canonical in self.allowed
        return self._combinator_allowed(name)

    def _combinator_allowed(self, name: str) -> bool:
        """``sumIf``, ``uniqArrayIf``, ``avgStateMerge``...: an allowed aggregate plus combinators."""
        for suffix in self.combinators:
            if name.endswith(suffix) and len(name) > len(suffix):
                base = name[: -len(suffix)]
                canonical = self.resolve(base)
                if canonical is not None and canonical in self.aggregates:
                    return canonical in self.allowed
                if canonical is None and self._combinator_allowed(base):
                    return True
        return False


def _is_denied(name: str) -> bool:
    return name in DENIED or name.startswith(DENIED_PREFIXES)


def load_catalog(wh: Runner) -> Catalog:
    """Read the current database, its tables and the engine's functions (no settings, no analyst text)."""
    database = guard_sql.current_database(wh)
    databases = guard_sql.database_names(wh)
    rows = guard_sql.function_rows(wh)
    table_functions = guard_sql.table_function_names(wh)
    combinators = tuple(sorted(guard_sql.combinator_names(wh), key=len, reverse=True))
    exact: dict[str, str] = {}
    insensitive: dict[str, str] = {}
    category: dict[str, str] = {}
    aggregates: set[str] = set()
    for name, is_aggregate, case_insensitive, alias_to, categories in rows:
        canonical = str(alias_to) or str(name)
        exact[str(name)] = canonical
        if case_insensitive:
            insensitive[str(name).lower()] = canonical
        if not alias_to:
            category[canonical] = str(categories)
            if is_aggregate:
                aggregates.add(canonical)
    allowed = {
        canonical
        for canonical, cat in category.items()
        if (canonical in aggregates or cat in ALLOWED_CATEGORIES or canonical in ALLOWED_OTHER)
        and not _is_denied(canonical)
        and canonical not in table_functions
    }
    # a name that is also a table function (``format``) is refused in every position
    for name in table_functions - ALLOWED_TABLE_FUNCTIONS:
        exact.setdefault(name, name)
        insensitive.setdefault(name.lower(), name)
    catalog = Catalog(
        database=database,
        other_databases=frozenset(d for d in databases if d != database),
        tables=frozenset(),
        exact=exact,
        insensitive=insensitive,
        aggregates=frozenset(aggregates),
        combinators=combinators,
        allowed=frozenset(allowed),
    )
    refresh_tables(catalog, wh)
    return catalog


def refresh_tables(catalog: Catalog, wh: Runner) -> None:
    names = guard_sql.table_names(wh, catalog.database)
    with catalog.lock:
        catalog.tables = frozenset(names | {f"{catalog.database}.{n}" for n in names})


_CATALOGS: weakref.WeakKeyDictionary[Any, Catalog] = weakref.WeakKeyDictionary()
_CATALOGS_LOCK = threading.Lock()


def catalog_of(wh: Runner) -> Catalog:
    """The catalog of ``wh``, read once per warehouse handle."""
    with _CATALOGS_LOCK:
        catalog = _CATALOGS.get(wh)
    if catalog is None:
        catalog = load_catalog(wh)
        with _CATALOGS_LOCK:
            _CATALOGS[wh] = catalog
    return catalog


def formatted(sql: str, wh: Runner) -> tuple[str, str]:
    """The engine's own formatting of ``sql``, passed as a bound parameter (data, never run), and
    the engine's formatting of that text in turn (one statement).

    The engine parses it as exactly one statement (a second one is a syntax error), and the result
    has no comments and every name quoted as the engine needs: this text is what is checked and run,
    so the check and the run read the same statement."""
    try:
        return guard_sql.formatted_twice(wh, sql)
    except ClickHouseError as exc:
        if not engine_spoke(exc):
            raise
        message = engine_message(exc)
        message = re.sub(r"\s*In scope SELECT formatQuerySingleLine\(.*$", "", message, flags=re.DOTALL)
        raise EngineError(message.rstrip(": .") or "the query could not be read") from None


def explain(sql: str, wh: Runner) -> list[str]:
    """The engine's parse tree of ``sql``, one node a line; EngineError if the engine cannot read it.

    No parameters and no settings are passed, so the text reaches the parser as it will when run."""
    try:
        return guard_sql.parse_tree(wh, sql)
    except ClickHouseError as exc:
        if not engine_spoke(exc):
            raise
        raise EngineError(engine_message(exc, explained=True)) from None


def check(sql: str, wh: Runner) -> str:
    """The query as the engine formats it (the text to run), if policy allows it.

    RejectedQuery ("refused by policy") names the rule; EngineError carries what the engine said
    when it could not parse the query. See the module docstring for the rules."""
    text = sql.strip()
    if not text:
        raise RejectedQuery("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise RejectedQuery(f"query longer than {MAX_QUERY_CHARS:,} characters")
    canonical, again = formatted(text, wh)
    if again != canonical:
        raise RejectedQuery("the engine does not format this query stably; write it more plainly")
    lines = explain(canonical, wh)
    catalog = catalog_of(wh)
    decide(lines, catalog, lambda: refresh_tables(catalog, wh))
    return canonical


def decide(lines: list[str], catalog: Catalog, refresh: Callable[[], None] | None = None) -> None:
    """Raise RejectedQuery unless the engine's tree ``lines`` is an allowed query."""
    if not lines or lines[0] != ROOT:
        kind = lines[0].split(" ")[0] if lines else "nothing"
        if kind == "SelectWithUnionQuery":
            raise RejectedQuery("SETTINGS, FORMAT and INTO OUTFILE are not allowed")
        raise RejectedQuery(f"only SELECT queries are allowed (this is {kind})")
    if lines[-1] != OUR_FORMAT:
        raise RejectedQuery("FORMAT is not allowed")
    refreshed = False
    for line in lines[1:-1]:
        match = _LINE.match(line)
        if match is None:
            raise RejectedQuery("names with line breaks or control characters are not allowed")
        kind, rest = match.group(2), match.group(3) or ""
        if kind == "Set":
            raise RejectedQuery("SETTINGS are not allowed")
        if kind == "ColumnsApplyTransformer":
            raise RejectedQuery("APPLY is not allowed (write the function call out)")
        if kind == "QueryParameter":
            raise RejectedQuery("query parameters are not allowed")
        if kind not in NODE_KINDS:
            raise RejectedQuery(f"{kind} is not allowed")
        if kind in ("Identifier", "TableIdentifier"):
            _check_database_prefix(rest, catalog)
        if kind == "TableIdentifier":
            name = _name_of(rest)
            if "." in name and name not in catalog.tables:
                if not refreshed and refresh is not None:
                    refresh()
                    refreshed = True
                if name not in catalog.tables:
                    raise RejectedQuery(f"{name} is not one of the hub's tables or views")
        if kind == "Function":
            name = _name_of(rest)
            if not _FUNCTION_NAME.match(name) or not catalog.function_allowed(name):
                raise RejectedQuery(f"function {name}() is not allowed")


def _name_of(rest: str) -> str:
    match = _NAME.match(rest)
    return match.group(1) if match else rest


def _check_database_prefix(rest: str, catalog: Catalog) -> None:
    lowered = rest.lower()
    for database in catalog.other_databases:
        if lowered.startswith(database.lower() + ".") or f" {database.lower()}." in lowered:
            raise RejectedQuery(f"{database} is not available (only the hub's own tables and views)")


# -- running and the engine's words ----------------------------------------------------------------
_CODE_PREFIX = re.compile(r"^.*?Code: \d+\. DB::Exception: (?:[\w-]+: )?", re.DOTALL)
_VERSION = re.compile(r" \(version [\d.]+(?: \([^)]*\))?\)")
_OUR_SETTINGS = re.compile(r"\s*SETTINGS (?:\w+ = '[^']*'(?:, )?)+")
_POSITION = re.compile(r"(position |col )(\d+)")
EXPLAIN_PREFIX = len(guard_sql.EXPLAIN_AST)


def engine_spoke(exc: BaseException) -> bool:
    """True when ``exc`` carries a message of the engine (not a lost connection or a client fault)."""
    return isinstance(exc, ClickHouseError) and "DB::Exception" in str(exc)


def is_query_failure(exc: BaseException) -> bool:
    """True for the failures an analyst is told about: refused by policy, too large, or the engine's
    answer. Anything else (the warehouse unreachable, a bug) is left to the caller's own handling."""
    return isinstance(exc, RejectedQuery | EngineError | warehouse_client.ResultTooLarge) or engine_spoke(exc)


def engine_message(exc: BaseException, explained: bool = False) -> str:
    """What the engine said, as one line: without the client's wrapping, the SETTINGS clause of
    :func:`limits` the client appends, the FORMAT it appends, or the guard's ``EXPLAIN AST`` prefix."""
    text = str(exc)
    text = _CODE_PREFIX.sub("", text, count=1)
    text = _VERSION.sub("", text)
    text = _OUR_SETTINGS.sub("", text)
    text = text.replace("\n FORMAT Native", "").replace(" FORMAT Native", "")
    if explained:
        text = text.replace(guard_sql.EXPLAIN_AST, "")
        text = _POSITION.sub(lambda m: f"{m.group(1)}{max(1, int(m.group(2)) - EXPLAIN_PREFIX)}", text)
    text = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return text[:500] or type(exc).__name__


ANALYST_BLOCK_ROWS = 8192


def limits(settings: Settings) -> dict[str, Any]:
    """Engine settings that bound an analyst query: read-only, no introspection, time, memory, rows
    and bytes of the result (``result_overflow_mode=throw``: an error, never a silently cut answer).

    The engine checks the result limits once per block, so blocks are kept to
    :data:`ANALYST_BLOCK_ROWS` rows (not 65,409): a result of 15 KB rows is stopped after about
    120 MB rather than 900 MB. Aggregations over many rows are not measurably slower.

    The engine counts a constant column once per block, not once per row, so
    ``SELECT repeat('x', 15000) FROM numbers(99000)`` (1.5 GB) passes these settings alone. The
    callers therefore also pass ``max_bytes=settings.sql_max_result_bytes`` to
    :meth:`~sinks.clickhouse.client.Warehouse.query`, which has the engine materialise constants
    before its count and streams the result, cancelling the query once the blocks received pass the
    cap (measured: that query is refused at its first block, the process growing by about 120 MB
    instead of 5.8 GB; at most one block is ever built, and ``max_memory_usage`` bounds a block)."""
    return {
        "readonly": 1,
        "max_block_size": ANALYST_BLOCK_ROWS,
        "allow_introspection_functions": 0,
        "max_execution_time": settings.sql_max_execution_seconds,
        "max_memory_usage": settings.sql_max_memory_bytes,
        "max_result_rows": settings.sql_max_result_rows,
        "max_result_bytes": settings.sql_max_result_bytes,
        "result_overflow_mode": "throw",
    }


class ResultTooLarge(warehouse_client.ResultTooLarge):
    """The answer is larger than ``sql_max_result_bytes``: the message names the setting."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit, " (sql_max_result_bytes): select fewer columns or rows, or aggregate")


def cap_rows(rows: list[Any], limit: int) -> None:
    """Raise ResultTooLarge as soon as the rows add up to more than ``limit`` bytes."""
    total = 0
    for row in rows:
        total += value_bytes(row)
        if total > limit:
            raise ResultTooLarge(limit)


def failure_text(exc: BaseException, settings: Settings) -> str:
    """The one line an analyst sees for a query that was not answered: who refused, and why."""
    if isinstance(exc, RejectedQuery):
        return refused(str(exc))
    if isinstance(exc, warehouse_client.ResultTooLarge):  # the streamed cap of Warehouse.query
        return str(ResultTooLarge(exc.limit))
    message = str(exc) if isinstance(exc, EngineError) else engine_message(exc)
    if "Limit for result exceeded, max bytes" in message:
        return str(ResultTooLarge(settings.sql_max_result_bytes)) + f" (the engine says: {message})"
    if "Limit for result exceeded, max rows" in message:
        message += f" (answers are capped at sql_max_result_rows = {settings.sql_max_result_rows:,} rows)"
    elif "Timeout exceeded" in message:
        message += (
            f" (queries are stopped after sql_max_execution_seconds = {settings.sql_max_execution_seconds} s)"
        )
    return engine_says(message)


def refused(message: str) -> str:
    return f"refused by policy: {message}"


def engine_says(message: str) -> str:
    return f"the engine says: {message}"
