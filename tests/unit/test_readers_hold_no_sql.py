"""The warehouse owns its SQL: the domain readers (``demandhub/queries``) run no statement of their own.

Every statement they need is a named function of ``sinks/clickhouse`` (``contacts_sql``,
``incidents_sql``, ``crimes_sql``, ``social_sql``, ``trends_sql``); a reader calls it with plain
parameters and turns its rows into figures."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

READERS = Path(__file__).resolve().parents[2] / "demandhub" / "queries"
SQL_WORDS = re.compile(r"\b(SELECT|FROM|WHERE|GROUP BY|FINAL|ARRAY JOIN|countIf|toStartOf\w+)\b")


def _readers() -> list[Path]:
    found = sorted(p for p in READERS.glob("*.py") if p.name != "__init__.py")
    assert {p.stem for p in found} >= {"contacts", "incidents", "crimes", "social", "trends"}
    return found


def _strings(tree: ast.AST) -> list[str]:
    """The string constants of a module that are code, not documentation."""
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


@pytest.mark.parametrize("path", _readers(), ids=lambda p: p.name)
def test_a_reader_holds_no_sql_text(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    sql = [s for s in _strings(tree) if SQL_WORDS.search(s)]
    assert sql == [], f"{path.name} holds SQL text; it belongs in sinks/clickhouse"


@pytest.mark.parametrize("path", _readers(), ids=lambda p: p.name)
def test_a_reader_runs_no_statement_itself(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"query", "command", "insert", "insert_dicts"}
    ]
    assert calls == [], (
        f"{path.name} queries the warehouse at lines {calls}: call a sinks.clickhouse function"
    )
