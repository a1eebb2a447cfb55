"""The read-only SQL guard's statements against the warehouse, written once: the engine's catalogue
it checks names against (databases, tables, functions, table functions, aggregate combinators), and
the two probes that have the engine read an analyst's query without running it (``formatQuery``
with the text as a bound parameter, twice in one statement, and ``EXPLAIN AST``). Each function
takes anything with the warehouse's ``query`` and plain values and returns plain rows;
:mod:`demandhub.sqlguard` applies the rules.
"""

from __future__ import annotations

from typing import Any, Protocol

Row = tuple[Any, ...]

EXPLAIN_AST = "EXPLAIN AST "
"""The prefix :func:`parse_tree` puts before the analyst's text (the engine's positions count it)."""

FORMAT_PROBE = "SELECT formatQuerySingleLine({q:String}) AS once, formatQuerySingleLine(once)"
"""The statement :func:`formatted_twice` runs (the engine's messages quote it)."""


class Runner(Protocol):
    """Anything with the warehouse's ``query`` (a warehouse, a read handle or an analyst pool)."""

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> Any: ...


def current_database(wh: Runner) -> str:
    """The name of the current database."""
    return str(wh.query("SELECT currentDatabase()").rows[0][0])


def database_names(wh: Runner) -> set[str]:
    """Every database of the engine."""
    return {str(r[0]) for r in wh.query("SELECT name FROM system.databases").rows}


def function_rows(wh: Runner) -> list[Row]:
    """(name, is_aggregate, case_insensitive, alias_to, categories) of every function of the engine."""
    rows: list[Row] = wh.query(
        "SELECT name, is_aggregate, case_insensitive, alias_to, categories FROM system.functions"
    ).rows
    return rows


def table_function_names(wh: Runner) -> set[str]:
    """Every table function of the engine."""
    return {str(r[0]) for r in wh.query("SELECT name FROM system.table_functions").rows}


def combinator_names(wh: Runner) -> list[str]:
    """Every aggregate function combinator of the engine."""
    return [str(r[0]) for r in wh.query("SELECT name FROM system.aggregate_function_combinators").rows]


def table_names(wh: Runner, database: str) -> set[str]:
    """The tables and views of ``database``."""
    rows = wh.query(
        "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    ).rows
    return {str(r[0]) for r in rows}


def formatted_twice(wh: Runner, sql: str) -> tuple[str, str]:
    """The engine's single-line formatting of ``sql``, passed as a bound parameter (data, never run),
    and the formatting of that text again, in one statement; the engine's error when it cannot parse
    either as one statement."""
    once, twice = wh.query(FORMAT_PROBE, parameters={"q": sql}).rows[0]
    return str(once), str(twice)


def parse_tree(wh: Runner, sql: str) -> list[str]:
    """The engine's parse tree of ``sql`` (``EXPLAIN AST``, no parameters, no settings), one node a
    line; the engine's error when it cannot read it."""
    return [str(row[0]) for row in wh.query(f"{EXPLAIN_AST}{sql}").rows]
