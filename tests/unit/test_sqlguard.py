"""The analyst SQL rules: one read-only SELECT over the warehouse views, nothing else."""

from __future__ import annotations

import pytest

from demandhub import sqlguard
from demandhub.settings import Settings

pytestmark = pytest.mark.unit

ALLOWED = [
    "SELECT 1",
    "select count() from events",
    "SELECT force_id, count() FROM events GROUP BY force_id ORDER BY force_id;",
    "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
    "SELECT * FROM source_watermarks WHERE source = 'system.tables'",  # only a string
    "SELECT 'DROP TABLE events; --' AS s",
    'SELECT "force_id", `source` FROM events',
    "SELECT 1 -- trailing comment mentioning system.tables",
    "SELECT 1 /* a comment that says DROP */",
    "SELECT toStartOfMonth(time) AS m, count() FROM events GROUP BY m",
    "SELECT * FROM numbers(3)",
    "SELECT $$system.tables$$ AS literal",
]

REJECTED = {
    # more than one statement
    "two statements": "SELECT 1; SELECT 2",
    "statement after comment": "SELECT 1; -- fine\nDROP TABLE events",
    "semicolon hidden after string": "SELECT 'a'; DROP TABLE events",
    # writes and DDL
    "insert": "INSERT INTO events SELECT * FROM events",
    "alter": "ALTER TABLE events DELETE WHERE 1",
    "drop": "DROP TABLE events",
    "truncate": "TRUNCATE TABLE events",
    "create": "CREATE TABLE x (a Int8) ENGINE = Memory",
    "with then insert": "WITH 1 AS x INSERT INTO events SELECT * FROM events",
    "select then drop keyword": "SELECT 1 FROM events WHERE drop = 1",
    "optimize": "OPTIMIZE TABLE events FINAL",
    "grant": "GRANT ALL ON *.* TO default",
    "kill": "KILL QUERY WHERE 1",
    "delete": "DELETE FROM events WHERE 1",
    "explain is not a select": "EXPLAIN SELECT 1",
    "show is not a select": "SHOW TABLES",
    "parenthesised select": "(SELECT 1)",
    "empty": "   ",
    # system and information_schema, any case or quoting
    "system lower": "SELECT * FROM system.tables",
    "system upper": "SELECT * FROM SYSTEM.TABLES",
    "system mixed": "SELECT * FROM SyStEm.tables",
    "system spaced": "SELECT * FROM system . tables",
    "system backticks": "SELECT * FROM `system`.`tables`",
    "system double quotes": 'SELECT * FROM "system"."tables"',
    "system quoted mixed case": 'SELECT * FROM "SYSTEM".tables',
    "system escaped hex": "SELECT * FROM `\\x73ystem`.tables",
    "system escaped in double quotes": 'SELECT * FROM "sys\\x74em".tables',
    "system comment between": "SELECT * FROM system/**/.tables",
    "information_schema": "SELECT * FROM information_schema.tables",
    "INFORMATION_SCHEMA": "SELECT * FROM INFORMATION_SCHEMA.TABLES",
    "information_schema quoted": "SELECT * FROM `information_schema`.`columns`",
    "union into system": "SELECT name FROM events UNION ALL SELECT name FROM system.users",
    "subquery into system": "SELECT * FROM (SELECT * FROM system.processes)",
    "join system": "SELECT * FROM events e JOIN system.one o ON 1",
    "string then comment trick": "SELECT '--', * FROM system.tables",
    "hash comment trick": "SELECT 1 # '\n, * FROM system.tables",
    # table functions that reach outside
    "file": "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "file quoted": "SELECT * FROM `file`('/etc/passwd', 'LineAsString')",
    "file scalar": "SELECT file('/etc/passwd')",
    "url": "SELECT * FROM url('http://127.0.0.1/', 'CSV', 'a String')",
    "URL upper": "SELECT * FROM URL('http://127.0.0.1/', 'CSV', 'a String')",
    "remote": "SELECT * FROM remote('127.0.0.1', default.events)",
    "remoteSecure": "SELECT * FROM remoteSecure('127.0.0.1', default.events)",
    "s3": "SELECT * FROM s3('https://bucket/x.csv')",
    "s3Cluster": "SELECT * FROM s3Cluster('c', 'https://bucket/x.csv')",
    "executable": "SELECT * FROM executable('x.sh', 'CSV', 'a String')",
    "mysql": "SELECT * FROM mysql('h:3306', 'd', 't', 'u', 'p')",
    "postgresql": "SELECT * FROM postgresql('h:5432', 'd', 't', 'u', 'p')",
    "merge over system": "SELECT * FROM merge('system', 'tables')",
    "cluster": "SELECT * FROM clusterAllReplicas('default', default.events)",
    "input": "SELECT * FROM input('a String')",
    "table function with spaces": "SELECT * FROM file  ('/etc/passwd')",
    "iceberg": "SELECT * FROM icebergS3('https://b/x')",
    # settings overrides and output
    "settings clause": "SELECT 1 SETTINGS readonly = 0",
    "settings lower": "SELECT 1 settings max_execution_time = 100000",
    "settings quoted still keyword": "SELECT * FROM events SETTINGS max_memory_usage = 0",
    "into outfile": "SELECT * FROM events INTO OUTFILE '/tmp/x.csv'",
    "comment hiding keyword split": "SELECT 1 /* */ SETTINGS /* x */ readonly = 0",
    # malformed
    "unterminated string": "SELECT 'abc",
    "unterminated comment": "SELECT 1 /* abc",
    "unterminated identifier": "SELECT `abc",
    "unterminated heredoc": "SELECT $x$abc",
    "too long": "SELECT " + "1 + " * 6000 + "1",
}


@pytest.mark.parametrize("query", ALLOWED)
def test_allows_plain_reads(query: str) -> None:
    assert sqlguard.check(query).upper().startswith(("SELECT", "WITH"))


@pytest.mark.parametrize("query", list(REJECTED.values()), ids=list(REJECTED))
def test_refuses(query: str) -> None:
    with pytest.raises(sqlguard.RejectedQuery):
        sqlguard.check(query)


def test_trailing_semicolons_and_comments_are_removed() -> None:
    assert sqlguard.check("SELECT 1 ;  ; -- done\n") == "SELECT 1"


def test_the_message_names_the_problem() -> None:
    with pytest.raises(sqlguard.RejectedQuery, match="system"):
        sqlguard.check("SELECT * FROM `system`.tables")
    with pytest.raises(sqlguard.RejectedQuery, match="file"):
        sqlguard.check("SELECT * FROM file('x')")
    with pytest.raises(sqlguard.RejectedQuery, match="one statement"):
        sqlguard.check("SELECT 1; SELECT 2")


def test_strings_do_not_hide_statements_from_the_lexer() -> None:
    kinds = [t.kind for t in sqlguard.tokens("SELECT 'a;b', `c;d` -- e;f\n")]
    assert kinds == ["word", "string", "punct", "ident"]


def test_limits_make_the_session_read_only_and_bounded() -> None:
    limits = sqlguard.limits(Settings(sql_max_execution_seconds=7, sql_max_result_rows=11))
    assert limits["readonly"] == 1
    assert limits["max_execution_time"] == 7
    assert limits["max_result_rows"] == 11
    assert limits["result_overflow_mode"] == "throw"
