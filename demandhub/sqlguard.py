"""Read-only SQL for analysts: the rules shared by `demandhub sql` and the analyst HTTP endpoint.

A query is accepted only if it is ONE statement that starts with SELECT or WITH, names no system or
information-schema table, calls no table function that reaches files, URLs or other servers, and does
not try to change settings. It then runs with ``readonly=1`` (the server refuses writes and setting
changes) and the configured time, memory and result-size limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from demandhub.settings import Settings

_FORBIDDEN_TABLE_FUNCTIONS = (
    "file",
    "url",
    "s3",
    "s3cluster",
    "gcs",
    "azureblobstorage",
    "hdfs",
    "remote",
    "remotesecure",
    "cluster",
    "clusterallreplicas",
    "mysql",
    "postgresql",
    "mongodb",
    "redis",
    "sqlite",
    "odbc",
    "jdbc",
    "executable",
    "input",
    "generaterandom",
    "numbers_mt",
    "python",
    "deltalake",
    "iceberg",
    "hudi",
    "filesystem",
    "dictionary",
    "merge",
    "view",
    "loop",
    "fuzzjson",
    "urlcluster",
    "format",
)
_FORBIDDEN_FUNCTION_PREFIXES = (
    "s3",
    "gcs",
    "oss",
    "cosn",
    "azureblob",
    "hdfs",
    "url",
    "file",
    "remote",
    "mysql",
    "postgresql",
    "mongodb",
    "redis",
    "sqlite",
    "odbc",
    "jdbc",
    "executable",
    "iceberg",
    "deltalake",
    "hudi",
    "paimon",
    "hive",
    "arrowflight",
    "ytsaurus",
    "timeseries",
    "prometheus",
)
_FORBIDDEN_NAMES = frozenset({"system", "information_schema"})
_FORBIDDEN_KEYWORDS = frozenset(
    {
        "settings",
        "outfile",
        "attach",
        "detach",
        "insert",
        "alter",
        "drop",
        "truncate",
        "create",
        "rename",
        "grant",
        "revoke",
        "kill",
        "optimize",
        "delete",
        "update",
        "undrop",
        "exchange",
        "backup",
        "restore",
    }
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEREDOC = re.compile(r"\$([A-Za-z0-9_]*)\$")


class RejectedQuery(ValueError):
    """The query breaks the read-only rules; the message says which."""


@dataclass(frozen=True)
class Token:
    """One lexical token: kind is word, ident (quoted identifier), string, punct or other."""

    kind: str
    text: str
    end: int = 0  # index just past the token in the query text


def _end_of_quoted(sql: str, start: int, quote: str) -> int:
    """Index just past the closing quote of a quoted run (backslash escapes, doubled quotes)."""
    i = start + 1
    while i < len(sql):
        ch = sql[i]
        if ch == "\\" or (ch == quote and sql.startswith(quote * 2, i)):
            i += 2  # an escaped character or a doubled quote
        elif ch == quote:
            return i + 1
        else:
            i += 1
    raise RejectedQuery(f"unterminated {quote} quote")


def _end_of_block_comment(sql: str, start: int) -> int:
    """Index just past a (possibly nested) /* ... */ comment."""
    depth, i = 0, start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise RejectedQuery("unterminated /* comment")


def _quoted_identifier(raw: str, end: int) -> Token:
    """A backtick or double-quoted identifier; escapes are refused so names cannot be disguised."""
    if "\\" in raw:
        raise RejectedQuery("escape sequences in quoted identifiers are not allowed")
    quote = raw[0]
    return Token("ident", raw[1:-1].replace(quote * 2, quote), end)


def tokens(sql: str) -> list[Token]:
    """Lex ClickHouse SQL the way the server does for comments, strings and quoted identifiers.

    Comments (``--``, ``#``, nested ``/* */``) are dropped; strings (``'...'`` and ``$tag$...$tag$``)
    become opaque string tokens; quoted identifiers are unquoted. RejectedQuery for anything
    unterminated.
    """
    out: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i) or ch == "#":
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            i = _end_of_block_comment(sql, i)
        elif ch == "'":
            end = _end_of_quoted(sql, i, "'")
            out.append(Token("string", sql[i:end], end))
            i = end
        elif ch in '`"':
            end = _end_of_quoted(sql, i, ch)
            out.append(_quoted_identifier(sql[i:end], end))
            i = end
        elif heredoc := _HEREDOC.match(sql, i):
            close = sql.find(heredoc.group(0), heredoc.end())
            if close < 0:
                raise RejectedQuery("unterminated $$ string")
            end = close + len(heredoc.group(0))
            out.append(Token("string", sql[i:end], end))
            i = end
        elif word := _WORD.match(sql, i):
            out.append(Token("word", word.group(0), word.end()))
            i = word.end()
        else:
            out.append(Token("punct" if ch in ";(),." else "other", ch, i + 1))
            i += 1
    return out


def _is_forbidden_function(name: str) -> bool:
    lowered = name.lower()
    return lowered in _FORBIDDEN_TABLE_FUNCTIONS or lowered.startswith(_FORBIDDEN_FUNCTION_PREFIXES)


def _check_tokens(toks: list[Token]) -> None:
    if not toks or toks[0].kind != "word" or toks[0].text.lower() not in ("select", "with"):
        raise RejectedQuery("only SELECT (or WITH ... SELECT) queries are allowed")
    for index, tok in enumerate(toks):
        if tok.kind not in ("word", "ident"):
            continue
        name = tok.text.lower()
        if name in _FORBIDDEN_NAMES:
            raise RejectedQuery(f"not allowed: {tok.text!r} (system tables are not available)")
        if tok.kind == "word" and name in _FORBIDDEN_KEYWORDS:
            raise RejectedQuery(f"not allowed: {tok.text!r}")
        follows = toks[index + 1] if index + 1 < len(toks) else None
        if follows and follows.text == "(" and _is_forbidden_function(name):
            raise RejectedQuery(f"table function {name}() is not allowed")


def check(sql: str) -> str:
    """The query, stripped, if it is allowed; RejectedQuery otherwise.

    Allowed: exactly one statement (an optional trailing ``;``) starting with SELECT or WITH that
    names no system or information-schema object (in any case or quoting), calls no function that
    reaches files, URLs, other servers or programs, and sets no settings or output files.
    """
    if len(sql) > 20_000:
        raise RejectedQuery("query longer than 20,000 characters")
    toks = tokens(sql)
    while toks and toks[-1].kind == "punct" and toks[-1].text == ";":
        toks.pop()
    if any(t.kind == "punct" and t.text == ";" for t in toks):
        raise RejectedQuery("only one statement is allowed")
    _check_tokens(toks)
    return sql[: toks[-1].end].strip()


def limits(settings: Settings) -> dict[str, Any]:
    """Server-side settings that bound an analyst query."""
    return {
        "readonly": 1,
        "max_execution_time": settings.sql_max_execution_seconds,
        "max_memory_usage": settings.sql_max_memory_bytes,
        "max_result_rows": settings.sql_max_result_rows,
        "result_overflow_mode": "throw",
    }
