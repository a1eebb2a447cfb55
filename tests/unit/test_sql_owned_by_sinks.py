"""The warehouse owns its SQL: every statement against the warehouse is written in ``sinks/clickhouse``
behind a named function, and nothing under ``demandhub/`` or ``streams/`` writes one itself.

The check parses every module with ``ast`` and looks at its string constants (f-strings as a whole,
their placeholders as ``{}``; docstrings are left out): a string looks like a warehouse statement
when it starts like one (SELECT ... FROM or SELECT f(...), WITH ... SELECT, INSERT INTO, ALTER TABLE,
CREATE/DROP TABLE or VIEW, OPTIMIZE TABLE, TRUNCATE, DELETE FROM, EXPLAIN AST/SYNTAX/PLAN, SYSTEM
<command>; any case), or holds a clause of one (`` FROM <table>``, a ``JOIN``, or a ClickHouse
query parameter ``{name:Type}``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("demandhub", "streams")

_START = re.compile(
    r"""^\s*(?:
        SELECT\s+(?:DISTINCT\s+)?(?:\d|\*|\w+\s*\(|.*?\bFROM\s+[\w.`{(])
      | WITH\s+.*?\bSELECT\b
      | INSERT\s+INTO\b
      | ALTER\s+TABLE\b
      | (?:CREATE|ATTACH)\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?(?:TABLE|VIEW|MATERIALIZED\s+VIEW|DATABASE|DICTIONARY)\b
      | (?:DROP|DETACH)\s+(?:TEMPORARY\s+)?(?:TABLE|VIEW|DATABASE|DICTIONARY)\b
      | OPTIMIZE\s+TABLE\b
      | TRUNCATE\s+(?:TABLE\s+)?[\w`{]
      | DELETE\s+FROM\b
      | EXPLAIN\s+(?:AST|SYNTAX|PLAN|PIPELINE|ESTIMATE|QUERY\s+TREE|SELECT|WITH)\b
      | SYSTEM\s+(?:FLUSH|RELOAD|DROP|STOP|START|SYNC|RESTART|SHUTDOWN)\b
    )""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_CLAUSE = re.compile(
    r"""(?:
        \sFROM\s+(?:[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?|`[^`]+`|\{\})(?:\s|$|\)|\sFINAL)
      | \s(?:INNER|LEFT|RIGHT|FULL|CROSS|ARRAY)\s+JOIN\s
      | \{[a-z_][a-z0-9_]*:\s*[A-Z][A-Za-z0-9]*  # a ClickHouse query parameter {name:Type}
    )""",
    re.VERBOSE,
)

ALLOWED: dict[str, str] = {
    # Not the warehouse: the web server's sessions live in an SQLite file of their own.
    "demandhub/web/sessions.py": "the SQLite session store",
}
"""Files whose SQL is not against the warehouse, with why."""

ALLOWED_EXAMPLES: tuple[str, ...] = (
    # printed at start-up (cli.py): how to run an analyst query with `demandhub sql` (help, not run)
    '"SELECT type, count() FROM events GROUP BY type"',
)
"""Example queries quoted in user-facing text for a person to type; a string is allowed only when
it no longer looks like a statement once they are taken out."""


def looks_like_statement(text: str) -> bool:
    """True when ``text`` reads as (part of) a warehouse statement (module docstring)."""
    return bool(_START.match(text) or _CLAUSE.search(text))


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (of a module, class or function) or stand alone
    as an expression statement (attribute docstrings)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for stmt in body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant | ast.JoinedStr):
                found.add(id(stmt.value))
    return found


def _text(node: ast.JoinedStr) -> str:
    return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)


def statements_in(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every string constant of ``source`` that looks like a warehouse statement."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    inside_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside_fstrings.update(id(part) for part in node.values)
    for node in ast.walk(tree):
        if id(node) in skip or id(node) in inside_fstrings:
            continue
        if isinstance(node, ast.JoinedStr):
            text = _text(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if looks_like_statement(text):
            yield node.lineno, text


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_warehouse_statement_outside_sinks() -> None:
    found = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        for line, text in statements_in(path.read_text(encoding="utf-8")):
            rest = text
            for example in ALLOWED_EXAMPLES:
                rest = rest.replace(example, "")
            if not looks_like_statement(rest):
                continue
            found.append(f"{rel}:{line}: {' '.join(text.split())[:90]}")
    assert not found, "warehouse SQL outside sinks/clickhouse (move it behind a named function there):\n" + (
        "\n".join(found)
    )


_CLIENT_CALLS = frozenset(
    {
        "query",
        "query_df",
        "query_arrow",
        "raw_query",
        "command",
        "insert",
        "insert_dicts",
        "insert_df",
        "insert_arrow",
    }
)
"""Methods of the warehouse client (``sinks.clickhouse.client.Warehouse`` and clickhouse-connect)."""

ANALYST_QUERIES: dict[str, str] = {
    # `demandhub sql` runs the analyst's own query once sqlguard has checked it: not our statement.
    "demandhub/cli.py": "query",
}
"""Files that run a query text they were given (never one of ours), with the one method they call."""


def client_calls_in(source: str) -> Iterator[tuple[int, str]]:
    """(line, method) of every call of a warehouse client method on a name that holds a warehouse
    (``wh``, ``warehouse``, ``*.warehouse``, ``client``, ``self._wh`` ...)."""
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in _CLIENT_CALLS:
            continue
        target = ast.unparse(node.func.value)
        if re.search(r"(?:^|[._])(?:wh|warehouse|client|writer|reader)$", target):
            yield node.lineno, f"{target}.{node.func.attr}"


def test_no_warehouse_call_outside_sinks() -> None:
    """Inserts and queries go through the named functions of sinks/clickhouse too, so the write path's
    tables and columns are written there once."""
    found = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        for line, call in client_calls_in(path.read_text(encoding="utf-8")):
            if ANALYST_QUERIES.get(rel) == call.rsplit(".", 1)[1]:
                continue
            found.append(f"{rel}:{line}: {call}")
    assert not found, "warehouse client calls outside sinks/clickhouse:\n" + "\n".join(found)


def test_client_calls_are_recognised() -> None:
    source = "wh.insert('events', rows, cols)\nself.warehouse.query(q)\nticks.insert(0, 0)\n"
    assert [call for _, call in client_calls_in(source)] == ["wh.insert", "self.warehouse.query"]


@pytest.mark.parametrize(
    "text",
    [
        "SELECT currentDatabase()",
        "select name from system.tables",
        "SELECT count() FROM events",
        "SELECT DISTINCT force_id FROM events ORDER BY force_id",
        "\nSELECT month, max(published_at) FROM board_pack_versions WHERE force_id = {f:String}\n",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "INSERT INTO events (id) VALUES",
        "ALTER TABLE crimes DELETE WHERE 1",
        "CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Memory",
        "DROP TABLE events",
        "OPTIMIZE TABLE contacts FINAL",
        "TRUNCATE TABLE rollup_dirty",
        "DELETE FROM {} WHERE has({k:Array(Array(String))}, [{}])",
        "EXPLAIN AST SELECT 1",
        "SYSTEM FLUSH LOGS",
        "force_id = {f:String} AND month = {m:Date}",
        "FROM events AS e INNER JOIN (SELECT source FROM events) AS l ON e.source = l.source",
        " FROM crimes FINAL WHERE counted",
    ],
)
def test_statements_are_recognised(text: str) -> None:
    assert looks_like_statement(text)


@pytest.mark.parametrize(
    "text",
    [
        "explain: measure id",
        "Select the month to publish (YYYY-MM)",
        "create, list or revoke the long-lived sessions of wall screens",
        "create the hub's Kafka topics",
        "drop",
        "with no imported figure is n/a.",
        "With messages waiting and no record fetched or committed for this many seconds, ",
        "only SELECT queries are allowed (this is {kind})",
        "SELECT ... (quote it)",
        "a figure read from the warehouse",
        "Revised since first published on {}: late or corrected records",
        "{name} must be one of {choices}",
    ],
)
def test_messages_and_help_are_not_statements(text: str) -> None:
    assert not looks_like_statement(text)


def test_fstrings_are_read_whole_and_docstrings_are_skipped() -> None:
    source = (
        '"""SELECT * FROM events in a module docstring is prose."""\n'
        "def f(table: str) -> str:\n"
        '    """DELETE FROM events, in a function docstring."""\n'
        '    return f"SELECT id FROM {table} WHERE x = 1"\n'
    )
    assert [line for line, _ in statements_in(source)] == [4]
