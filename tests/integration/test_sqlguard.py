"""The analyst SQL guard decides on the engine's own parse: one SELECT over the hub's tables, allowed
functions only. Walk-arounds that fooled a hand-written lexer, the engine settings as a second line of
defence, the result-size caps and the wording of refusals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from demandhub import sqlguard
from demandhub.settings import Settings
from demandhub.web.server import _sql_answer
from sinks.clickhouse.client import QueryResult, Warehouse
from tests.integration.test_web_api import (  # noqa: F401 (fixtures)
    ANALYST,
    NOW,
    LiveServer,
    call,
    feed,
    hub_settings,
    make_settings,
    serve,
    server,
    sql,
)

pytestmark = pytest.mark.integration

LIMITS = sqlguard.limits(Settings())

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
    "(SELECT 1)",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT 1 INTERSECT SELECT 1",
    "SELECT count() FROM default.events",
    "SELECT sumIf(1, 1), uniqExactIf(1, 1), quantileIf(0.5)(1, 1), countIf(1)",
    "SELECT row_number() OVER (ORDER BY number) FROM numbers(2)",
    "SELECT CASE 1 WHEN 1 THEN 'a' ELSE 'b' END, arrayMap(x -> x + 1, [1]), 1 IN (1, 2), [1][1]",
    "SELECT * EXCEPT (y) REPLACE (1 AS number) FROM (SELECT number, 2 AS y FROM numbers(1))",
    "SELECT \u2018it\u2019 AS typographic_quotes_are_a_string",
    "SELECT 1 AS a$$, 2 AS b$$",
    "SELECT \u2018x' , file('/etc/passwd') -- \u2019 AS all_one_string",
    "SELECT 1 AS $x$abc",  # `$` inside a bare name: one identifier, not a heredoc
    "SELECT count() FROM events WHERE id IN (SELECT id FROM events)",
]

REFUSED_BY_POLICY = {
    # not a SELECT
    "insert": "INSERT INTO events SELECT * FROM events",
    "alter": "ALTER TABLE events DELETE WHERE 1",
    "drop": "DROP TABLE events",
    "truncate": "TRUNCATE TABLE events",
    "create": "CREATE TABLE x (a Int8) ENGINE = Memory",
    "optimize": "OPTIMIZE TABLE events FINAL",
    "grant": "GRANT ALL ON *.* TO default",
    "kill": "KILL QUERY WHERE 1",
    "delete": "DELETE FROM events WHERE 1",
    "explain": "EXPLAIN SELECT 1",
    "show": "SHOW TABLES",
    "set": "SET readonly = 0",
    "empty": "   ",
    "too long": "SELECT " + "1 + " * 6000 + "1",
    # system tables via quoting, case, prefix, positions
    "system lower": "SELECT * FROM system.tables",
    "system upper": "SELECT * FROM SYSTEM.TABLES",
    "system mixed": "SELECT * FROM SyStEm.tables",
    "system spaced": "SELECT * FROM system . tables",
    "system backticks": "SELECT * FROM `system`.`tables`",
    "system double quotes": 'SELECT * FROM "system"."tables"',
    "system escaped hex": "SELECT * FROM `\\x73ystem`.tables",
    "system escaped in double quotes": 'SELECT * FROM "sys\\x74em".tables',
    "system comment between": "SELECT * FROM system/**/.tables",
    "system in IN": "SELECT 1 IN system.one",
    "system in GLOBAL IN": "SELECT 1 GLOBAL IN system.one",
    "system in join": "SELECT * FROM events e JOIN system.one o ON 1",
    "system in union": "SELECT 1 UNION ALL SELECT dummy FROM system.one",
    "system in CTE": "WITH t AS (SELECT * FROM system.processes) SELECT * FROM t",
    "system in scalar subquery": "SELECT (SELECT (SELECT count() FROM system.one))",
    "system as a column prefix": "SELECT system.one.dummy FROM events",
    "information_schema": "SELECT * FROM information_schema.tables",
    "INFORMATION_SCHEMA": "SELECT * FROM INFORMATION_SCHEMA.TABLES",
    "default-qualified unknown": "SELECT * FROM default.`system.one`",
    # table functions in every position
    "file": "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "file quoted": "SELECT * FROM `file`('/etc/passwd', 'LineAsString')",
    "file upper": "SELECT * FROM FILE('/etc/passwd')",
    "file in join": "SELECT * FROM events JOIN file('/etc/passwd', 'LineAsString') AS f ON 1",
    "file in IN": "SELECT 1 IN (SELECT * FROM file('/etc/passwd', 'LineAsString'))",
    "file in CTE": "WITH (SELECT * FROM file('/etc/passwd', 'LineAsString')) AS x SELECT x",
    "file in union": "SELECT '' UNION ALL SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "file in EXISTS": "SELECT EXISTS (SELECT * FROM file('/etc/passwd', 'LineAsString'))",
    "file nested": "SELECT * FROM (SELECT * FROM (SELECT * FROM file('/etc/passwd', 'LineAsString')))",
    "url": "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')",
    "URL upper": "SELECT * FROM URL('http://127.0.0.1:1/', 'CSV', 'a String')",
    "remote": "SELECT * FROM remote('127.0.0.1', default.events)",
    "remoteSecure": "SELECT * FROM remoteSecure('127.0.0.1', default.events)",
    "s3": "SELECT * FROM s3('http://127.0.0.1:1/b/k')",
    "executable": "SELECT * FROM executable('id', 'TSV', 'x String')",
    "mysql": "SELECT * FROM mysql('127.0.0.1:1', 'db', 't', 'u', 'p')",
    "merge": "SELECT * FROM merge('system', 'one')",
    "view": "SELECT * FROM view(SELECT 1)",
    "format": "SELECT * FROM format(CSV, '1')",
    "numbers_mt": "SELECT * FROM numbers_mt(10)",
    "input": "SELECT * FROM input('a String')",
    "iceberg": "SELECT * FROM icebergS3('https://b/x')",
    # scalar functions that read files, settings, the server or dictionaries
    "file scalar": "SELECT file('/etc/passwd')",
    "file scalar upper": "SELECT FILE('/etc/passwd')",
    "file scalar backticks": "SELECT `file`('/etc/passwd')",
    "file in lambda": "SELECT arrayMap(x -> file(x), ['/etc/passwd'])",
    "file via APPLY": "SELECT * APPLY(x -> file(x)) FROM (SELECT '/etc/passwd' AS p)",
    "dictGet": "SELECT dictGet('d', 'a', 1)",
    "dictGetString": "SELECT dictGetString('d', 'a', toUInt64(1))",
    "dictGetOrDefault": "SELECT dictGetOrDefault('d', 'a', 1, 'x')",
    "joinGet": "SELECT joinGet('events', 'id', 1)",
    "hasColumnInTable": "SELECT hasColumnInTable('system', 'one', 'dummy')",
    "getSetting": "SELECT getSetting('readonly')",
    "currentUser": "SELECT currentUser()",
    "hostName": "SELECT hostName()",
    "sleep": "SELECT sleep(3)",
    "formatRow": "SELECT formatRow('Protobuf', 1)",
    "unknown function": "SELECT no_such_function(1)",
    # settings, output and parameters
    "settings clause": "SELECT 1 SETTINGS readonly = 0",
    "settings lower": "SELECT 1 settings max_execution_time = 100000",
    "settings after union": "SELECT 1 UNION ALL SELECT 2 SETTINGS readonly = 0",
    "settings in subquery": "SELECT * FROM (SELECT 1 SETTINGS readonly = 0)",
    "settings behind comments": "SELECT 1 /* */ SETTINGS /* x */ readonly = 0",
    "format clause": "SELECT 1 FORMAT TSV",
    "into outfile": "SELECT * FROM events INTO OUTFILE '/tmp/leak.csv'",
    "into outfile truncate": "SELECT 1 INTO OUTFILE '/tmp/leak.csv' TRUNCATE",
}

# Each of these hid a forbidden part from the old hand-written lexer (ClickHouse 26.9 reads U+2018 and
# U+2019 as string quotes, and `$` inside a bare identifier), or tries another quoting trick.
WALK_AROUNDS = {
    "typographic quotes around an ascii quote": "SELECT \u2018'\u2019 AS a, file('/etc/passwd') AS b",
    "typographic quotes then system": "SELECT \u2018'\u2019, * FROM system.one",
    "fullwidth letters": "SELECT \uff46\uff49\uff4c\uff45('/etc/passwd')",
    "typographic quotes hide file()": "SELECT \u2018'\u2019 AS a, file(\u2018/etc/passwd\u2019) AS b, \u2018'\u2019 AS c",
    "typographic quotes hide system": "SELECT \u2018'\u2019 AS a, dummy FROM system.one WHERE \u2018'\u2019 != ''",
    "a$$ identifiers": "SELECT 1 AS a$$, file('/etc/passwd') AS b$$",
    "a$$ hides system": "SELECT 1 AS a$$, dummy FROM system.one AS b$$",
    "a$$ around system": "SELECT a$$ FROM (SELECT 1 AS a$$) WHERE 1 IN system.one AND b$$ = 1",
    "heredoc holding a quote": "SELECT $$'$$, file('/etc/passwd'), '$$'",
    "tagged heredoc": "SELECT $t$'$t$ AS x, file('/etc/passwd')",
    "comment holding a quote": "SELECT 1 /* ' */, file('/etc/passwd') -- '",
    "hash comment": "SELECT 1 # '\n, file('/etc/passwd')",
    "nested comment": "SELECT 1 /* /* ' */ */, file('/etc/passwd')",
    "escaped quote in string": "SELECT 'a\\'', file('/etc/passwd'), '\\''",
    "doubled quote in string": "SELECT 'a''', file('/etc/passwd'), ''''",
    "escaped backtick": "SELECT 1 AS `a\\``, file('/etc/passwd') AS `b\\``",
    "newline in a quoted name": "SELECT 1 AS `x\n   Function toString (children 1)`, file('/etc/passwd')",
    "forged tree lines": "SELECT `a (children 1)\n     Literal UInt64_1`, * FROM system.one",
    "no-break space": "SELECT\u00a0file('/etc/passwd')",
    "unicode letters around": "SELECT '\u00e9', file('/etc/passwd') AS \u00e9",
}

ENGINE_REFUSES = {
    "two statements": "SELECT 1; SELECT 2",
    "statement after comment": "SELECT 1; -- fine\nDROP TABLE events",
    "semicolon after string": "SELECT 'a'; DROP TABLE events",
    "comment then statement": "SELECT 1 -- harmless\n; DROP TABLE events",
    "unterminated string": "SELECT 'abc",
    "unterminated comment": "SELECT 1 /* abc",
    "unterminated identifier": "SELECT `abc",
    "parameter": "SELECT {p:String}",
}


def refusal(query: str, wh: Warehouse) -> BaseException:
    with pytest.raises((sqlguard.RejectedQuery, sqlguard.EngineError)) as refused:
        sqlguard.check(query, wh)
    return refused.value


@pytest.mark.parametrize("query", ALLOWED)
def test_allows_plain_reads_and_they_run(query: str, wh: Warehouse) -> None:
    checked = sqlguard.check(query, wh)
    wh.query(checked, settings=LIMITS)


@pytest.mark.parametrize("query", list(REFUSED_BY_POLICY.values()), ids=list(REFUSED_BY_POLICY))
def test_refused_by_policy(query: str, wh: Warehouse) -> None:
    with pytest.raises(sqlguard.RejectedQuery):
        sqlguard.check(query, wh)


@pytest.mark.parametrize("query", list(WALK_AROUNDS.values()), ids=list(WALK_AROUNDS))
def test_walk_arounds_are_refused(query: str, wh: Warehouse) -> None:
    refusal(query, wh)


@pytest.mark.parametrize("query", list(ENGINE_REFUSES.values()), ids=list(ENGINE_REFUSES))
def test_what_the_engine_cannot_read_is_refused_in_its_words(query: str, wh: Warehouse) -> None:
    with pytest.raises(sqlguard.EngineError) as refused:
        sqlguard.check(query, wh)
    assert "EXPLAIN" not in str(refused.value) and "FORMAT Native" not in str(refused.value)


def test_the_guard_never_runs_a_second_statement(wh: Warehouse) -> None:
    refusal("SELECT 1; CREATE TABLE guard_leak (a Int8) ENGINE = Memory", wh)
    refusal("SELECT 1; DROP TABLE IF EXISTS events", wh)
    assert wh.query("SELECT count() FROM system.tables WHERE name = 'guard_leak'").rows == [(0,)]
    assert wh.query(
        "SELECT count() FROM system.tables WHERE name = 'events' AND database = currentDatabase()"
    ).rows == [(1,)]


def test_what_runs_is_what_was_checked(wh: Warehouse) -> None:
    checked = sqlguard.check("SELECT \u2018a'\u2019 AS x -- note\n;", wh)
    assert checked == "SELECT 'a\\'' AS x"
    assert wh.query(checked, settings=LIMITS).rows == [("a'",)]


def test_a_query_the_engine_formats_unstably_is_refused(wh: Warehouse) -> None:
    """The engine formats the text, then its own formatting again, in one probe statement; a second
    formatting that differs is refused (no query of the contract's tables is known to do it, so the
    probe's answer is altered here)."""
    from sinks.clickhouse import guard_sql

    sent: list[str] = []

    class Unstable:
        def query(self, sql: str, parameters: Any = None, settings: Any = None) -> QueryResult:
            sent.append(sql)
            found = wh.query(sql, parameters=parameters, settings=settings)
            if sql == guard_sql.FORMAT_PROBE:
                ((once, twice),) = found.rows
                assert once == twice == "SELECT 1 AS x"
                return QueryResult(found.columns, found.types, [(once, twice + " ")])
            return found

    with pytest.raises(sqlguard.RejectedQuery, match="does not format this query stably"):
        sqlguard.check("select 1 as x", Unstable())
    assert sent == [guard_sql.FORMAT_PROBE]  # refused before the parse tree is asked for


def test_the_message_names_the_rule(wh: Warehouse) -> None:
    with pytest.raises(sqlguard.RejectedQuery, match="system"):
        sqlguard.check("SELECT * FROM `system`.tables", wh)
    with pytest.raises(sqlguard.RejectedQuery, match=r"file\(\)"):
        sqlguard.check("SELECT * FROM file('x')", wh)
    with pytest.raises(sqlguard.RejectedQuery, match="SETTINGS"):
        sqlguard.check("SELECT 1 SETTINGS readonly = 0", wh)
    with pytest.raises(sqlguard.EngineError, match="Multi-statements"):
        sqlguard.check("SELECT 1; SELECT 2", wh)


def test_a_new_table_is_seen_without_a_restart(wh: Warehouse) -> None:
    wh.command("CREATE TABLE IF NOT EXISTS guard_new (a Int8) ENGINE = Memory")
    try:
        sqlguard.check("SELECT 1", wh)  # the catalog is loaded before the table exists... or after
        assert sqlguard.check("SELECT * FROM default.guard_new", wh)
    finally:
        wh.command("DROP TABLE IF EXISTS guard_new")


# -- the second line: engine settings when the guard is bypassed ----------------------------------------
ENGINE_BLOCKED = {
    "file table function": "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "url table function": "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
    "format table function": "SELECT * FROM format(CSV, '1')",
    "settings override": "SELECT 1 SETTINGS readonly = 0",
    "write": "CREATE TABLE guard_bypass (a Int8) ENGINE = Memory",
    "introspection": "SELECT addressToLine(toUInt64(1))",
}


@pytest.mark.parametrize("query", list(ENGINE_BLOCKED.values()), ids=list(ENGINE_BLOCKED))
def test_the_engine_limits_refuse_even_without_the_guard(query: str, wh: Warehouse) -> None:
    # a handle of its own: a refused write leaves the client's SET readonly in place on its session
    bypass = Warehouse(wh.dsn)
    try:
        with pytest.raises(Exception, match=r"READONLY|readonly|FUNCTION_NOT_ALLOWED|Introspection"):
            bypass.query(query, settings=LIMITS)
    finally:
        bypass.close()
    assert wh.query("SELECT count() FROM system.tables WHERE name = 'guard_bypass'").rows == [(0,)]


# -- errors: policy or engine, never our appended settings ----------------------------------------------
def test_engine_errors_hide_the_appended_settings(wh: Warehouse) -> None:
    settings = Settings()
    checked = sqlguard.check("SELECT no_such_column FROM events", wh)
    with pytest.raises(Exception) as failed:
        wh.query(checked, settings=sqlguard.limits(settings))
    assert "readonly" in str(failed.value)  # the client did append them
    text = sqlguard.failure_text(failed.value, settings)
    assert text.startswith("the engine says: ")
    assert "no_such_column" in text
    assert "SETTINGS" not in text and "readonly" not in text and "\n" not in text


def test_an_unknown_table_is_the_engines_answer_not_a_refusal(wh: Warehouse) -> None:
    checked = sqlguard.check("SELECT * FROM no_such_table", wh)
    with pytest.raises(Exception) as failed:
        wh.query(checked, settings=LIMITS)
    text = sqlguard.failure_text(failed.value, Settings())
    assert text.startswith("the engine says: ") and "no_such_table" in text
    assert sqlguard.failure_text(sqlguard.RejectedQuery("x"), Settings()) == "refused by policy: x"


def test_api_separates_policy_from_engine(server: LiveServer) -> None:  # noqa: F811
    refused = sql(server, "SELECT file('/etc/passwd')")
    assert refused.status == 400
    assert refused.json()["error"] == "refused by policy: function file() is not allowed"
    engine = sql(server, "SELECT * FROM no_such_table")
    assert engine.status == 400
    assert engine.json()["error"].startswith("the engine says: ")
    assert "SETTINGS" not in engine.json()["error"] and "readonly" not in engine.json()["error"]
    assert sql(server, "SELECT 1 AS a$$").json()["rows"] == [[1]]


def test_api_says_missing_field_sql(server: LiveServer) -> None:  # noqa: F811
    for body in (b"{}", b'{"query": "SELECT 1"}'):
        reply = call(server, "POST", "/api/sql", token=ANALYST, body=body, content_type="application/json")
        assert (reply.status, reply.json()) == (400, {"error": "missing field sql"})
    reply = call(
        server, "POST", "/api/sql", token=ANALYST, body=b'{"sql": 1}', content_type="application/json"
    )
    assert (reply.status, reply.json()) == (400, {"error": "field sql must be a string"})


# -- result size ----------------------------------------------------------------------------------------
def test_limits_make_the_session_read_only_and_bounded() -> None:
    limits = sqlguard.limits(
        Settings(sql_max_execution_seconds=7, sql_max_result_rows=11, sql_max_result_bytes=5000)
    )
    assert limits["readonly"] == 1
    assert limits["allow_introspection_functions"] == 0
    assert limits["max_execution_time"] == 7
    assert limits["max_result_rows"] == 11
    assert limits["max_result_bytes"] == 5000
    assert limits["result_overflow_mode"] == "throw"
    assert limits["max_block_size"] == sqlguard.ANALYST_BLOCK_ROWS


def test_the_engine_stops_a_result_over_the_byte_cap(wh: Warehouse) -> None:
    settings = Settings(sql_max_result_bytes=1_000_000)
    checked = sqlguard.check("SELECT repeat(toString(number % 10), 1000) FROM numbers(99000)", wh)
    with pytest.raises(Exception) as failed:
        wh.query(checked, settings=sqlguard.limits(settings))
    text = sqlguard.failure_text(failed.value, settings)
    assert text.startswith("the result is larger than 1,000,000 bytes (sql_max_result_bytes)")


def test_the_answer_is_capped_even_when_the_engine_counts_a_constant_once(wh: Warehouse) -> None:
    # The engine counts a constant column once per block, so this passes max_result_bytes ...
    settings = Settings(sql_max_result_bytes=1_000_000)
    result = wh.query(
        sqlguard.check("SELECT repeat('x', 1500) FROM numbers(9900)", wh), settings=sqlguard.limits(settings)
    )
    assert len(result.rows) == 9900
    # ... and the answer is given up once it passes the cap.
    with pytest.raises(sqlguard.ResultTooLarge, match="1,000,000 bytes"):
        _sql_answer(result, settings.sql_max_result_bytes)
    with pytest.raises(sqlguard.ResultTooLarge):
        sqlguard.cap_rows(result.rows, settings.sql_max_result_bytes)
    small = QueryResult(("a",), ("String",), [("x",)])
    assert _sql_answer(small, 1000) == b'{"columns": ["a"], "types": ["String"], "rows": [["x"]]}'


def test_api_refuses_the_oversized_answer_with_the_reason(wh: Warehouse, tmp_path: Path) -> None:
    live = serve(make_settings(tmp_path, sql_max_result_bytes=1_000_000), wh, lambda: NOW)
    try:
        reply = sql(live, "SELECT repeat('x', 1500) FROM numbers(9900)")
        assert reply.status == 400
        assert "larger than 1,000,000 bytes (sql_max_result_bytes)" in reply.json()["error"]
        assert sql(live, "SELECT repeat('x', 15) FROM numbers(99)").status == 200
    finally:
        live.stop()


# -- property: the guard and the engine agree ----------------------------------------------------------
FRAGMENTS = [
    "'",
    "\u2018",
    "\u2019",
    "`",
    '"',
    "\\'",
    "''",
    "\\",
    "--",
    "#",
    "/*",
    "*/",
    "\n",
    "$",
    "$$",
    "a$$",
    "$t$",
    "b$",
    "\u00e9",
    "\u00a0",
    "\u200b",
    "\u03a9",
    " ",
    ",",
    "(",
    ")",
    "1",
    "x",
    "AS",
    "FROM",
    "file('/etc/passwd')",
    "system.one",
    "numbers(2)",
    "events",
    "IN",
    "SELECT",
    "toString(1)",
]
TREE_FUNCTION = re.compile(r"function_name: ([^,\s]+)")
TREE_TABLE = re.compile(r"table_name: ([^,\s]+)")
TREE_TABLE_FUNCTION = re.compile(r"table_function_name: ([^,\s]+)")


def _engine_reads(query: str, wh: Warehouse) -> list[str] | None:
    """The analyzer's resolved tree of ``query`` (None when the engine cannot resolve it)."""
    try:
        return [str(r[0]) for r in wh.query(f"EXPLAIN QUERY TREE {query}").rows]
    except Exception:
        return None


@pytest.fixture(scope="module")
def agreement_wh(warehouse: Warehouse) -> Iterator[Warehouse]:
    yield warehouse


_TEXTS = st.lists(st.sampled_from(FRAGMENTS), max_size=6).map("".join)
_ITEMS = st.one_of(
    st.sampled_from(FRAGMENTS),  # raw: most of these do not parse, and must not pass
    _TEXTS.map(lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"),
    _TEXTS.filter(lambda s: "\u2019" not in s).map(lambda s: f"\u2018{s}\u2019"),
    _TEXTS.filter(lambda s: "$$" not in s).map(lambda s: f"$${s}$$"),
    _TEXTS.filter(lambda s: "*/" not in s and "/*" not in s).map(lambda s: f"/*{s}*/ 1"),
    _TEXTS.filter(lambda s: "\n" not in s).map(lambda s: f"1 --{s}\n"),
    _TEXTS.filter(lambda s: "`" not in s and "\\" not in s).map(lambda s: f"1 AS `{s}`"),
    st.sampled_from(["file('/etc/passwd')", "toString(1)", "x$$", "dummy", "number", "a$$ AS b$$"]),
)
_SOURCES = st.sampled_from(
    [
        "",
        " FROM events",
        " FROM numbers(2)",
        " FROM system.one",
        " FROM `system`.`one`",
        " FROM file('/etc/passwd', 'LineAsString')",
        " FROM default.events",
    ]
)
QUERIES = st.one_of(
    st.tuples(st.lists(_ITEMS, min_size=1, max_size=5), _SOURCES).map(
        lambda t: "SELECT " + ", ".join(t[0]) + t[1]
    ),
    st.tuples(
        st.sampled_from(["SELECT {} ", "SELECT 1 AS a, {}", "SELECT * FROM events WHERE {}", "{}"]),
        st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=10),
    ).map(lambda t: t[0].format(" ".join(t[1]))),
)


@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES)
def test_guard_and_engine_agree(query: str, agreement_wh: Warehouse) -> None:
    wh = agreement_wh
    try:
        checked = sqlguard.check(query, wh)
    except (sqlguard.RejectedQuery, sqlguard.EngineError):
        return
    catalog = sqlguard.catalog_of(wh)
    tree = _engine_reads(checked, wh)
    if tree is None:
        return  # the engine cannot resolve it, so it cannot run
    text = "\n".join(tree)
    for name in TREE_FUNCTION.findall(text):
        assert catalog.function_allowed(name), (query, name)
    # a SELECT without FROM reads the engine's one-row dummy, system.one; a named system table is
    # refused by the guard, so it must not appear in the engine's parse of an accepted query
    assert not any(
        line.lstrip().startswith("TableIdentifier system") for line in sqlguard.explain(checked, wh)
    )
    for name in TREE_TABLE.findall(text):
        assert name in catalog.tables or name == "system.one", (query, name)
    assert set(TREE_TABLE_FUNCTION.findall(text)) <= {"numbers"}, query
    assert "file" not in TREE_FUNCTION.findall(text)


def test_api_refuses_the_reported_file_read(server: LiveServer) -> None:  # noqa: F811
    for query in (WALK_AROUNDS["typographic quotes hide file()"], WALK_AROUNDS["a$$ identifiers"]):
        reply = sql(server, query)
        assert reply.status == 400
        assert reply.json() == {"error": "refused by policy: function file() is not allowed"}


# -- demandhub sql prints the same distinction ----------------------------------------------------------
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEMANDHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "demandhub.cli", *args],
        cwd=cwd,
        env=env | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_cli_separates_policy_from_engine(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "hub")]
    assert _cli("migrate", *data, cwd=tmp_path).returncode == 0
    refused = _cli("sql", WALK_AROUNDS["typographic quotes hide file()"], *data, cwd=tmp_path)
    assert (refused.returncode, refused.stderr) == (2, "refused by policy: function file() is not allowed\n")
    assert "root:" not in refused.stdout
    engine = _cli("sql", "SELECT * FROM no_such_table", *data, cwd=tmp_path)
    assert engine.returncode == 1
    assert engine.stderr.startswith("the engine says: ") and "no_such_table" in engine.stderr
    assert "SETTINGS" not in engine.stderr and len(engine.stderr.splitlines()) == 1
    assert _cli("sql", "SELECT 1 AS a$$", *data, cwd=tmp_path).returncode == 0
