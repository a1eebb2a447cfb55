"""Every failure of the `demandhub` command a new user meets: non-zero exit with the documented code
(:mod:`demandhub.errors`), exactly one line on standard error naming the problem, no traceback without
``--debug``, and nothing written or lost.

Each command runs as its own process (chDB allows one process per data path), from a scratch working
directory, with no DEMANDHUB_* variables but the ones a test sets.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from demandhub import datadir
from demandhub.embedded import TansuBroker, free_port
from demandhub.errors import BUSY, INPUT, INTERRUPTED, UNAVAILABLE, USAGE
from tests.fixtures.hub import REPO, HubWorker, wait_until

pytestmark = pytest.mark.integration


@dataclass
class Run:
    code: int
    out: str
    err: str

    def failed(self, code: int, *words: str) -> Run:
        """Assert the documented failure: ``code``, one stderr line holding every word, no traceback."""
        lines = self.err.splitlines()
        assert self.code == code, (self.code, self.err[-2000:])
        assert len(lines) == 1, self.err[-2000:]
        assert "Traceback" not in self.err
        for word in words:
            assert word in lines[0], lines[0]
        return self


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEMANDHUB_")}
    return env | {"PYTHONPATH": str(REPO), "COLUMNS": "200"} | extra


def demandhub(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180.0) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "demandhub.cli", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    folder = tmp_path / "cwd"
    folder.mkdir()
    return folder


def simulated_file(
    path: Path, days: int, start: date = date(2026, 3, 1), blank_lines: bool = False, force: str = "cambs"
) -> Path:
    from streams.sources.simulator import SimConfig, simulate, write_jsonl

    write_jsonl(simulate(SimConfig(start=start, days=days, seed=3, forces=(force,))), path)
    if blank_lines:
        text = path.read_text().splitlines()
        path.write_text("\n".join([text[0], "", *text[1:], "", "   "]) + "\n\n")
    return path


# -- arguments --------------------------------------------------------------------------------------
BAD_ARGUMENTS = [
    (["board", "--month", "2026-13"], INPUT, "'2026-13' is not a month"),
    (["board", "--month", "Nov 2026"], INPUT, "'Nov 2026' is not a month"),
    (["board", "--month", "2026-1"], INPUT, "'2026-1' is not a month"),
    (["channels", "--from", "2026-13", "--to", "2027-01"], INPUT, "is not a month"),
    (["reconcile", "--day", "2026-3-29"], INPUT, "'2026-3-29' is not a day"),
    (["replay", "missing.jsonl"], INPUT, "no such file: missing.jsonl"),
    (["sql", "SELECT 1", "--dsn", "clickhouse://u:pw@host/db"], INPUT, "not a ClickHouse DSN"),
    (["board", "--dsn", "http://u:pw@:8123/db"], INPUT, "no usable host"),
    (["board", "--month"], USAGE, "expected one argument"),
    (["reconcile"], USAGE, "required"),
]


@pytest.mark.parametrize(("argv", "code", "words"), BAD_ARGUMENTS)
def test_bad_arguments_are_refused_by_the_parser(argv: list[str], code: int, words: str, cwd: Path) -> None:
    demandhub(*argv, cwd=cwd).failed(code, words)
    assert tree(cwd) == set()  # nothing written, no data directory created


def test_a_bad_dsn_in_the_environment(cwd: Path) -> None:
    env = clean_env(DEMANDHUB_CLICKHOUSE_DSN="tcp://user:hunter2@host:9000")
    run = demandhub("sql", "SELECT 1", cwd=cwd, env=env).failed(INPUT, "DEMANDHUB_CLICKHOUSE_DSN")
    assert "hunter2" not in run.err
    assert tree(cwd) == set()


def test_an_unreachable_clickhouse_server(cwd: Path) -> None:
    port = free_port()
    for argv in (["sql", "SELECT 1"], ["board", "--month", "2026-03"], ["migrate"]):
        run = demandhub(*argv, "--dsn", f"http://default:pw@127.0.0.1:{port}/default", cwd=cwd)
        run.failed(UNAVAILABLE, "cannot reach the ClickHouse server")
        assert ":pw@" not in run.err
    assert tree(cwd) == set()


@pytest.mark.parametrize(
    "command", [["up", "--no-simulator"], ["worker", "--kafka", "127.0.0.1:1"], ["replay"]]
)
def test_an_unwritable_or_read_only_data_directory(command: list[str], cwd: Path, tmp_path: Path) -> None:
    jsonl = tmp_path / "one.jsonl"
    jsonl.write_text("{}\n")
    argv = [*command, str(jsonl)] if command == ["replay"] else command
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    demandhub(*argv, "--data-dir", str(not_a_folder / "data"), cwd=cwd).failed(INPUT, "is not usable")
    if os.access("/sys", os.W_OK) and Path("/sys/kernel").is_dir():  # sysfs refuses new folders
        demandhub(*argv, "--data-dir", "/sys/demandhub-test", cwd=cwd).failed(INPUT, "is not usable")
    assert not_a_folder.read_text() == "" and tree(cwd) == set()


def test_reading_commands_never_create_a_data_directory(cwd: Path) -> None:
    for argv in (
        ["sql", "SELECT 1"],
        ["board"],
        ["board", "--month", "2026-03", "--format", "json"],
        ["reconcile", "--day", "2026-03-29"],
        ["channels", "--from", "2026-01", "--to", "2026-03"],
    ):
        demandhub(*argv, cwd=cwd).failed(INPUT, "no data directory found at", str(cwd / "var" / "demandhub"))
    assert tree(cwd) == set()


# -- dependencies -------------------------------------------------------------------------------------
def test_worker_without_a_broker_exits_non_zero(cwd: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run = demandhub("worker", "--kafka", "127.0.0.1:1", "--data-dir", str(data), cwd=cwd)
    run.failed(UNAVAILABLE, "cannot reach Kafka", "--kafka")
    assert "worker-start.log" in run.err and (data / "logs" / "worker-start.log").exists()
    assert tree(cwd) == set()  # faust's data folder is under the data directory, not here
    debug = demandhub("--debug", "worker", "--kafka", "127.0.0.1:1", "--data-dir", str(data), cwd=cwd)
    assert debug.code == UNAVAILABLE and "Traceback" in debug.err


_CHANGE_A_MIGRATION = """
import sys
from datetime import UTC, datetime
from sinks.clickhouse.client import connect
wh = connect("chdb://" + sys.argv[1])
wh.insert("schema_migrations", [[1, "core", "0" * 16, datetime.now(UTC)]], ["number", "name", "checksum", "applied_at"])
wh.close()
"""


def test_a_worker_whose_migration_fails_stops_with_one_line(cwd: Path, tmp_path: Path) -> None:
    # The warehouse opens on a thread while the consumer joins its group on a reachable broker; the
    # failed migration must still stop the whole worker, with one line and a non-zero exit.
    data = tmp_path / "data"
    demandhub("migrate", "--data-dir", str(data), cwd=cwd)
    subprocess.run(
        [sys.executable, "-c", _CHANGE_A_MIGRATION, str(data / "warehouse")],
        env=clean_env(),
        cwd=cwd,
        check=True,
        timeout=120,
    )
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    try:
        run = demandhub("worker", "--kafka", broker.bootstrap, "--data-dir", str(data), cwd=cwd)
    finally:
        broker.stop()
    run.failed(
        INPUT, "migration 0001_core changed after it was applied", "write the change as a new migration"
    )
    assert not (data / datadir.HUB_FILE).exists()


def test_up_with_the_web_port_taken_exits_non_zero(cwd: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = demandhub(
            "up", "--no-simulator", "--port", str(port), "--data-dir", str(tmp_path / "data"), cwd=cwd
        )
    run.failed(UNAVAILABLE, f"port 127.0.0.1:{port} is already in use", "--port")
    assert not (tmp_path / "data" / datadir.HUB_FILE).exists()
    assert tree(cwd) == set()


# -- a running hub owns its data directory ------------------------------------------------------------
@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubWorker]:
    """A worker (web included) on a broker of its own, holding 2026-03-31 and 2026-04-01 (so March is a
    complete month for the board's readers)."""
    tmp_path = tmp_path_factory.mktemp("hub")
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    worker = HubWorker(broker.bootstrap, tmp_path / "hub", {"DEMANDHUB_WEB_HOST": "127.0.0.1"})
    try:
        demandhub(
            "simulate",
            "--start",
            "2026-03-31",
            "--days",
            "2",
            "--kafka",
            broker.bootstrap,
            "--quiet",
            cwd=tmp_path,
            env=clean_env(),
        )
        worker.start()
        late = "SELECT countIf(time >= '2026-04-01 20:00:00') FROM events"
        wait_until(lambda: (worker.scalar(late) or 0) > 100, 300, 1.0, "the second day's events")
        yield worker
    finally:
        worker.stop()
        broker.stop()


def test_an_analyst_reads_through_the_running_hub(hub: HubWorker, cwd: Path, tmp_path: Path) -> None:
    at = ["--data-dir", str(hub.data_dir)]
    before = hub.scalar("SELECT count() FROM events")

    sql = demandhub("sql", "SELECT count() AS n FROM events", "--format", "csv", *at, cwd=cwd)
    assert sql.code == 0 and sql.err == "", sql.err
    assert int(sql.out.splitlines()[1]) >= before

    local = demandhub(
        "sql",
        "SELECT toDateTime('2026-06-01 00:00:00', 'Europe/London') AS t",
        "--format",
        "csv",
        *at,
        cwd=cwd,
    )
    assert local.out.splitlines()[1] == "2026-06-01T00:00:00+01:00", local
    utc = demandhub(
        "sql",
        "SELECT toDateTime('2026-06-01 00:00:00', 'Europe/London') AS t",
        "--format",
        "csv",
        "--utc",
        *at,
        cwd=cwd,
    )
    assert utc.out.splitlines()[1] == "2026-05-31T23:00:00+00:00", utc

    board = demandhub("board", "--month", "2026-03", "--extract-time", "2026-04-02T06:00:00", *at, cwd=cwd)
    assert board.code == 0, board.err
    assert json.loads(board.out)["month"] == "2026-03"
    # definitions for one run, through the hub's API
    outcomes = "crimes.prosecution_possible_types=[1]"
    defined = demandhub(
        "board",
        "--month",
        "2026-03",
        "--define",
        outcomes,
        "--compare-define",
        "crimes.ncrs_hours=12",
        *at,
        cwd=cwd,
    )
    assert defined.code == 0, defined.err
    pack = json.loads(defined.out)
    assert list(pack["definitions"]["metrics"]["overridden"]) == ["crimes.prosecution_possible_types"]
    assert list(pack["comparison"]["alternative"]["differs_from_configured"]) == ["crimes.ncrs_hours"]
    bad = demandhub("board", "--month", "2026-03", "--define", "calls.nope=Qz9", *at, cwd=cwd)
    assert bad.code == 3 and bad.err.count("\n") == 1 and "calls.nope" in bad.err and "Qz9" not in bad.err
    pdf = demandhub(
        "board", "--month", "2026-03", "--format", "pdf", "--out", str(tmp_path / "pack") + "/", *at, cwd=cwd
    )
    assert pdf.code == 0, pdf.err
    assert (tmp_path / "pack" / "board-cambs-2026-03.pdf").read_bytes().startswith(b"%PDF")

    channels = demandhub("channels", "--from", "2026-03", "--to", "2026-03", "--format", "json", *at, cwd=cwd)
    assert channels.code == 0, channels.err
    table = json.loads(channels.out)
    assert table["force"] == "cambs"
    defined = demandhub(
        "channels",
        "--from",
        "2026-03",
        "--to",
        "2026-03",
        "--format",
        "json",
        "--define",
        outcomes,
        *at,
        cwd=cwd,
    )
    assert defined.code == 0, defined.err
    assert list(json.loads(defined.out)["definitions"]["overridden"]) == ["crimes.prosecution_possible_types"]
    printed = demandhub("channels", "--from", "2026-03", "--to", "2026-03", *at, cwd=cwd)
    assert printed.code == 0 and printed.out.startswith(table["caption"]), printed

    reconcile = demandhub("reconcile", "--day", "2026-03-31", *at, cwd=cwd)
    assert reconcile.code == 0, reconcile.err
    assert "0 difference(s)" in reconcile.out

    assert tree(cwd) == set()


def test_what_needs_the_data_directory_names_the_running_hub(
    hub: HubWorker, cwd: Path, tmp_path: Path
) -> None:
    at = ["--data-dir", str(hub.data_dir)]
    assert hub.proc is not None
    pid = f"pid {hub.proc.pid}"
    jsonl = simulated_file(tmp_path / "day.jsonl", 1, force="norfolk")  # ids of its own
    demandhub("replay", str(jsonl), *at, cwd=cwd).failed(BUSY, pid, "stop it", f"replay {jsonl} --kafka")
    demandhub("board", "--publish", *at, cwd=cwd).failed(BUSY, pid, "publishing")
    demandhub("worker", "--kafka", hub.bootstrap, "--port", str(free_port()), *at, cwd=cwd).failed(BUSY, pid)
    demandhub("up", "--no-simulator", "--port", str(free_port()), *at, cwd=cwd).failed(
        BUSY, pid, "stop it first"
    )
    assert hub.proc.poll() is None and hub.scalar("SELECT 1") == 1  # the hub is untouched

    # what the message suggests: the running hub takes the file from its broker
    sent = demandhub("replay", str(jsonl), "--kafka", hub.bootstrap, "--quiet", *at, cwd=cwd)
    assert sent.code == 0, sent.err
    lines = sum(1 for line in jsonl.read_text().splitlines() if line.strip())
    assert json.loads(sent.out.splitlines()[-1])["total"] == lines
    kept = "SELECT uniqExact(source, id) FROM events WHERE force_id = 'norfolk'"
    wait_until(lambda: hub.scalar(kept) == lines, 300, 1.0, "the hub to take the file's events")
    assert tree(cwd) == set()


def test_the_reading_routes_are_for_analysts(hub: HubWorker) -> None:
    assert hub.get("api/board?month=2026-03", role="supervisor")[0] == 403
    assert hub.get("api/channels?from=2026-03&to=2026-03", role="supervisor")[0] == 403
    assert hub.get("api/reconcile?day=2026-03-31", role="supervisor")[0] == 403
    status, body = hub.get("api/board?month=2026-13")
    assert status == 400 and b"is not a month" in body


# -- replay -------------------------------------------------------------------------------------------
def distinct_events(data_dir: Path, cwd: Path) -> int:
    run = demandhub(
        "sql",
        "SELECT uniqExact(source, id) FROM events",
        "--format",
        "csv",
        "--data-dir",
        str(data_dir),
        cwd=cwd,
    )
    assert run.code == 0, run.err
    return int(run.out.splitlines()[1])


def test_replay_holds_the_data_directory_and_stops_cleanly_on_ctrl_c(cwd: Path, tmp_path: Path) -> None:
    jsonl = simulated_file(tmp_path / "week.jsonl", 5)
    lines = sum(1 for line in jsonl.read_text().splitlines() if line.strip())
    data = tmp_path / "data"
    at = ["--data-dir", str(data)]
    # Ctrl-C as a terminal delivers it: a runner started in the background (nohup, `&`) ignores
    # SIGINT and its children inherit that, so this launcher (named as the command, which is how
    # the lock's holder is described) puts Python's own handler back before running the CLI.
    launcher = tmp_path / "demandhub"
    launcher.write_text(
        "import runpy, signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "runpy.run_module('demandhub.cli', run_name='__main__', alter_sys=True)\n"
    )
    replay = subprocess.Popen(
        [sys.executable, str(launcher), "replay", str(jsonl), "--chunk", "500", "--quiet", *at],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: datadir.is_locked(data / "warehouse"), 120, 0.1, "the replay to open the warehouse"
        )
        holder = f"pid {replay.pid} (demandhub replay"
        demandhub("sql", "SELECT 1", *at, cwd=cwd).failed(BUSY, holder, "wait until it has finished")
        demandhub("board", "--month", "2026-03", *at, cwd=cwd).failed(BUSY, holder)
        demandhub("replay", str(jsonl), *at, cwd=cwd).failed(BUSY, holder)
        assert replay.poll() is None, "the replay finished before it could be interrupted"
        replay.send_signal(signal.SIGINT)
        out, err = replay.communicate(timeout=120)
    finally:
        if replay.poll() is None:
            replay.kill()
            replay.wait()
    Run(replay.returncode, out, err).failed(
        INTERRUPTED, "replay interrupted after", f"of {lines:,} lines", "safe"
    )
    kept = distinct_events(data, cwd)
    assert kept < lines

    again = demandhub("replay", str(jsonl), "--quiet", *at, cwd=cwd)
    assert again.code == 0, again.err
    totals = json.loads(again.out.splitlines()[-1])
    assert totals["lines"] == lines
    assert distinct_events(data, cwd) == totals["accepted"] + totals["duplicates"] == lines  # nothing lost
    assert tree(cwd) == set()


def test_progress_bars_end_at_100_percent(cwd: Path, tmp_path: Path) -> None:
    jsonl = simulated_file(tmp_path / "blank.jsonl", 1, blank_lines=True)
    lines = sum(1 for line in jsonl.read_text().splitlines() if line.strip())
    run = demandhub("replay", str(jsonl), "--data-dir", str(tmp_path / "data"), cwd=cwd)
    assert run.code == 0, run.err
    final = run.err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in final and f"{lines:,}/{lines:,} lines" in final and "lines/s" in final, final
    sim = demandhub(
        "simulate", "--start", "2026-03-01", "--days", "2", "--out", str(tmp_path / "s.jsonl"), cwd=cwd
    )
    assert sim.code == 0, sim.err
    final = sim.err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in final and "2/2 days" in final, final
