"""Read-only SQL for analysts: the rules shared by `demandhub sql` and the analyst HTTP endpoint.

A query is accepted only if it is ONE statement that starts with SELECT or WITH, names no system or
information-schema table, calls no table function that reaches files, URLs or other servers, and does
not try to change settings. It then runs with ``readonly=1`` (the server refuses writes and setting
changes) and the configured time, memory and result-size limits.
"""

from __future__ import annotations

import re
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
_FORBIDDEN_WORDS = re.compile(
    r"\b(system|information_schema|INFORMATION_SCHEMA)\s*\.|\bsettings\b|\binto\s+outfile\b"
    r"|\battach\b|\bdetach\b|\binsert\b|\balter\b|\bdrop\b|\btruncate\b|\bcreate\b|\brename\b"
    r"|\bgrant\b|\brevoke\b|\bkill\b|\boptimize\b|\bsystem\b",
    re.IGNORECASE,
)
_TABLE_FUNCTION = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", re.IGNORECASE)
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


class RejectedQuery(ValueError):
    """The query breaks the read-only rules; the message says which."""


def check(sql: str) -> str:
    """The query, stripped, if it is allowed; RejectedQuery otherwise."""
    if len(sql) > 20_000:
        raise RejectedQuery("query longer than 20,000 characters")
    code = _STRING.sub("''", _COMMENT.sub(" ", sql)).strip()
    code = code.rstrip(";").strip()
    if ";" in code:
        raise RejectedQuery("only one statement is allowed")
    if not re.match(r"^(SELECT|WITH)\b", code, re.IGNORECASE):
        raise RejectedQuery("only SELECT (or WITH ... SELECT) queries are allowed")
    bad = _FORBIDDEN_WORDS.search(code)
    if bad:
        raise RejectedQuery(f"not allowed: {bad.group(0).strip()!r}")
    for match in _TABLE_FUNCTION.finditer(code):
        name = match.group(1).lower()
        if name in _FORBIDDEN_TABLE_FUNCTIONS:
            raise RejectedQuery(f"table function {name}() is not allowed")
    return sql.strip().rstrip(";")


def limits(settings: Settings) -> dict[str, Any]:
    """Server-side settings that bound an analyst query."""
    return {
        "readonly": 1,
        "max_execution_time": settings.sql_max_execution_seconds,
        "max_memory_usage": settings.sql_max_memory_bytes,
        "max_result_rows": settings.sql_max_result_rows,
        "result_overflow_mode": "throw",
    }
