"""Access to a running hub: authentication, the analyst SQL path under attack, limits, tokens in logs.

Through the real worker's ``POST /api/sql`` (analyst token): injection attempts (several statements,
system tables, table functions that reach files, URLs or other servers, settings overrides, writes,
comments and quoting tricks) are refused and change nothing; deliberately heavy queries are stopped by
the time, memory and result-size limits; tokens appear in no log and no metric.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from demandhub.embedded import TansuBroker
from schemas.topics import TOPICS
from tests.fixtures.hub import HubWorker, wait_until
from tests.integration.test_worker_kafka import call_events, force_id, produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

INJECTIONS = [
    "SELECT 1; DROP TABLE events",
    "SELECT 1 /* ; */ ; DROP TABLE events",
    "SELECT count() FROM events; SELECT * FROM system.users",
    "SELECT * FROM system.tables",
    "SELECT * FROM `system`.`users`",
    'SELECT * FROM "SYSTEM".settings',
    "SELECT name FROM information_schema.tables",
    "WITH t AS (SELECT * FROM system.processes) SELECT * FROM t",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM FILE('/etc/passwd')",
    "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
    "SELECT * FROM remote('127.0.0.1', system.one)",
    "SELECT * FROM remoteSecure('127.0.0.1', default.events)",
    "SELECT * FROM s3('http://127.0.0.1:1/b/k')",
    "SELECT * FROM executable('id', 'TSV', 'x String')",
    "SELECT * FROM mysql('127.0.0.1:1', 'db', 't', 'u', 'p')",
    "SELECT * FROM numbers_mt(10)",
    "SELECT * FROM merge(currentDatabase(), '.*')",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT 1 SETTINGS max_execution_time = 0, max_memory_usage = 0",
    "SELECT * FROM events INTO OUTFILE '/tmp/leak.csv'",
    "INSERT INTO events (id) VALUES ('x')",
    "ALTER TABLE events DELETE WHERE 1",
    "DROP TABLE events",
    "TRUNCATE TABLE events",
    "OPTIMIZE TABLE events FINAL",
    "CREATE TABLE leak ENGINE = Memory AS SELECT * FROM events",
    "SET readonly = 0",
    "KILL QUERY WHERE 1",
    "DETACH TABLE events",
    "ATTACH TABLE events",
    "SELECT 1 -- harmless\n; DROP TABLE events",
    "select * from SyStEm.tables",
    "SELECT * FROM events UNION ALL SELECT * FROM system.one",
]


def post_sql(worker: HubWorker, query: str, token: str | None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        worker.url + "api/sql", data=json.dumps({"sql": query}).encode(), method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, {"error": body.decode(errors="replace")}


@pytest.fixture(scope="module")
def guarded_hub(tansu: TansuBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubWorker]:
    """A worker with small analyst limits (2 s, 200 MB, 50,000 rows) and some calls in it."""
    env = {
        "DEMANDHUB_SQL_MAX_EXECUTION_SECONDS": "2",
        "DEMANDHUB_SQL_MAX_MEMORY_BYTES": str(200_000_000),
        "DEMANDHUB_SQL_MAX_RESULT_ROWS": "50000",
    }
    worker = HubWorker(tansu.bootstrap, tmp_path_factory.mktemp("guarded") / "hub", env).start()
    try:
        force = force_id()
        start = datetime.now(UTC) - timedelta(hours=1)
        produce(tansu.bootstrap, TOPICS["call"].name, call_events(10, force, start))
        wait_until(
            lambda: worker.scalar(f"SELECT count() FROM events WHERE force_id = '{force}'") == 40,
            what="calls in the warehouse",
        )
        yield worker
    finally:
        worker.stop()


def test_injection_attempts_are_refused_and_change_nothing(guarded_hub: HubWorker) -> None:
    worker = guarded_hub
    before = worker.scalar("SELECT count() FROM events")
    analyst = worker.token("analyst")
    for query in INJECTIONS:
        status, body = post_sql(worker, query, analyst)
        assert status == 400, f"{query!r} was not refused: {body}"
        assert body.get("error"), query
    assert worker.scalar("SELECT count() FROM events") == before
    assert not Path("/tmp/leak.csv").exists()


def test_the_sql_endpoint_needs_the_analyst_role(guarded_hub: HubWorker) -> None:
    worker = guarded_hub
    assert post_sql(worker, "SELECT 1", None)[0] == 401
    assert post_sql(worker, "SELECT 1", "not-a-token")[0] == 401
    assert post_sql(worker, "SELECT 1", worker.token("supervisor"))[0] == 403
    assert post_sql(worker, "SELECT 1", worker.token("analyst"))[0] == 200
    for path in ("metrics", "api/live/queues"):
        request = urllib.request.Request(worker.url + path)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401


def test_a_wall_screen_display_session_reads_the_live_page_only(guarded_hub: HubWorker) -> None:
    """A display session (long-lived, for a wall screen) opens the live page and API, nothing else."""
    worker = guarded_hub
    create = urllib.request.Request(
        worker.url + "api/displays",
        data=b'{"label": "Wall 1"}',
        method="POST",
        headers={"Authorization": f"Bearer {worker.token('supervisor')}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(create, timeout=10) as made:
        display = json.loads(made.read())

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    pair = urllib.request.Request(
        worker.url + "login",
        data=urllib.parse.urlencode({"token": display["pairing_code"]}).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as signed_in:
        urllib.request.build_opener(NoRedirect).open(pair, timeout=10)
    assert signed_in.value.code == 303
    cookie = signed_in.value.headers["Set-Cookie"].split(";")[0]
    assert display["pairing_code"] not in cookie

    def status(path: str, method: str = "GET", body: bytes | None = None) -> int:
        origin = worker.url.rstrip("/")
        headers = {"Cookie": cookie, "Origin": origin, "Content-Type": "application/json"}
        request = urllib.request.Request(worker.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as refused:
            return refused.code

    assert status("api/live/queues") == 200
    assert status("api/sql", "POST", b'{"sql": "SELECT 1"}') == 403
    assert status("api/displays") == 403
    assert status("api/displays", "POST", b'{"label": "another"}') == 403
    revoke = urllib.request.Request(
        worker.url + f"api/displays/{display['handle']}",
        method="DELETE",
        headers={"Authorization": f"Bearer {worker.token('supervisor')}"},
    )
    with urllib.request.urlopen(revoke, timeout=10) as revoked:
        assert revoked.status == 204
    assert status("api/live/queues") == 401
    assert status("") == 303  # the page sends a revoked screen to the sign-in form


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        ("SELECT count() FROM numbers(10000000000) WHERE sipHash64(number) % 7 = 3", "TIMEOUT"),
        ("SELECT length(groupArray(number)) FROM numbers(1000000000)", "MEMORY"),
        ("SELECT number FROM numbers(60000)", "ROWS"),
    ],
    ids=["time", "memory", "result-rows"],
)
def test_heavy_queries_hit_the_limits_and_are_stopped(guarded_hub: HubWorker, query: str, limit: str) -> None:
    worker = guarded_hub
    status, body = post_sql(worker, query, worker.token("analyst"))
    assert status == 400, body
    error = str(body["error"]).upper()
    assert limit in error or {"TIMEOUT": "TIME", "MEMORY": "MEMORY", "ROWS": "LIMIT"}[limit] in error, error
    assert post_sql(worker, "SELECT 1", worker.token("analyst"))[0] == 200  # the hub is still serving


def test_tokens_never_reach_logs_or_metrics(guarded_hub: HubWorker) -> None:
    worker = guarded_hub
    tokens = [worker.token("analyst"), worker.token("supervisor")]
    wrong = "QZXTOKEN-" + "x" * 20
    post_sql(worker, "SELECT 1", wrong)
    post_sql(worker, "SELECT * FROM system.tables", tokens[0])
    status, metrics = worker.get("metrics", role="supervisor")
    assert status == 200
    log = (worker.data_dir / "worker.log").read_bytes()
    for secret in [*tokens, wrong]:
        assert secret.encode() not in log
        assert secret.encode() not in metrics
    key = (worker.data_dir / "secrets" / "pseudonymisation.key").read_bytes().strip()
    assert key and key not in log and key not in metrics
