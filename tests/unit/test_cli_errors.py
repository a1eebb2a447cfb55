"""The CLI's failure boundary: exit codes, one-line messages, argument types, data directory checks."""

from __future__ import annotations

import argparse
import errno
import fcntl
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from demandhub import argtypes, datadir, errors
from demandhub.cli import HeldLog, _count_lines, local_times, main

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", ["2026-13", "Nov 2026", "2026-1", "2026-00", "26-03", "2026/03", ""])
def test_month_refuses_what_is_not_yyyy_mm(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="use YYYY-MM"):
        argtypes.month(value)
    with pytest.raises(argparse.ArgumentTypeError, match="or auto"):
        argtypes.month_or_auto(value)


def test_month_accepts_months_and_auto() -> None:
    assert argtypes.month("2026-03") == "2026-03"
    assert argtypes.month(" 2026-12 ") == "2026-12"
    assert argtypes.month_or_auto("auto") == "auto"
    with pytest.raises(argparse.ArgumentTypeError):
        argtypes.month("auto")


@pytest.mark.parametrize("value", ["2026-3-29", "2026-02-30", "29/03/2026", "20260329", "2026-03-29T00:00"])
def test_day_refuses_what_is_not_a_calendar_day(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="use YYYY-MM-DD"):
        argtypes.day(value)
    assert argtypes.day("2026-03-29") == "2026-03-29"


def test_dsn_refuses_bad_dsns_without_repeating_them() -> None:
    for bad in (
        "foo://u:s3cret@host",
        "http://u:s3cret@:8123/db",
        "http://u:s3cret@h:99999/db",
        "chdb://rel/p",
    ):
        with pytest.raises(argparse.ArgumentTypeError) as refused:
            argtypes.dsn(bad)
        assert "s3cret" not in str(refused.value) and "rel/p" not in str(refused.value)
    assert argtypes.dsn("https://u:p@ch.example:8443/db") == "https://u:p@ch.example:8443/db"
    assert argtypes.dsn("chdb:///abs/path") == "chdb:///abs/path"


def test_existing_file(tmp_path: Path) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="no such file"):
        argtypes.existing_file(str(tmp_path / "missing.jsonl"))
    with pytest.raises(argparse.ArgumentTypeError, match="not a file"):
        argtypes.existing_file(str(tmp_path))


def test_known_exceptions_become_one_line_with_their_code() -> None:
    from aiokafka.errors import KafkaConnectionError

    taken = OSError(
        errno.EADDRINUSE,
        "error while attempting to bind on address ('127.0.0.1', 8765): address already in use",
    )
    cases: list[tuple[BaseException, int, str]] = [
        (taken, errors.UNAVAILABLE, "port 127.0.0.1:8765 is already in use"),
        (KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]"), errors.UNAVAILABLE, "Kafka"),
        (FileNotFoundError(errno.ENOENT, "No such file", "x.jsonl"), errors.INPUT, "x.jsonl"),
        (PermissionError(errno.EACCES, "Permission denied", "/d"), errors.INPUT, "permission denied"),
        (OSError(errno.EROFS, "Read-only file system", "/ro"), errors.INPUT, "read-only"),
        (KeyboardInterrupt(), errors.INTERRUPTED, "interrupted"),
        (ZeroDivisionError("division by zero"), errors.INTERNAL, "--debug"),
    ]
    for exc, code, words in cases:
        error = errors.describe(exc)
        assert error.code == code, (exc, error)
        assert words in str(error)
        assert "\n" not in str(error)


def test_the_cause_of_a_wrapped_failure_is_found() -> None:
    try:
        try:
            raise OSError(errno.EADDRINUSE, "address ('0.0.0.0', 9) already in use")
        except OSError as inner:
            raise RuntimeError("service crashed") from inner
    except RuntimeError as outer:
        assert errors.describe(outer).code == errors.UNAVAILABLE

    class HubAlreadyRunning(RuntimeError):
        pass

    busy = errors.describe(HubAlreadyRunning("another demandhub up (pid 7) is running"))
    assert busy.code == errors.BUSY and "pid 7" in str(busy)


def test_a_changed_applied_migration_is_an_input_error_naming_what_to_do() -> None:
    from sinks.clickhouse.migrate import MigrationChanged

    failure = MigrationChanged("migration 0001_core changed after it was applied: run that version")
    try:
        raise RuntimeError("opening the warehouse failed") from failure
    except RuntimeError as outer:
        said = errors.describe(outer)
    assert said.code == errors.INPUT and "0001_core changed after it was applied" in str(said)


def test_clickhouse_server_errors_name_the_engine_line_only() -> None:
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    down = errors.describe(OperationalError("Error HTTPConnectionPool(host='ch', port=8123): Max retries"))
    assert down.code == errors.UNAVAILABLE and "ClickHouse server" in str(down)
    said = errors.describe(
        DatabaseError(
            "HTTPDriver received ClickHouse error code 60\n Code: 60. DB::Exception: Unknown table x. (UNKNOWN_TABLE) (version 26.9)"
        )
    )
    assert "Code: 60. DB::Exception: Unknown table x." in str(said) and "\n" not in str(said)


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["board", "--month", "2026-13"], errors.INPUT, "'2026-13' is not a month"),
        (["board", "--month", "Nov 2026"], errors.INPUT, "is not a month"),
        (["channels", "--from", "2026-1", "--to", "2026-02"], errors.INPUT, "is not a month"),
        (["reconcile", "--day", "2026-3-29"], errors.INPUT, "is not a day"),
        (["replay", "missing.jsonl"], errors.INPUT, "no such file: missing.jsonl"),
        (["sql", "SELECT 1", "--dsn", "foo://x"], errors.INPUT, "not a ClickHouse DSN"),
        (["board", "--frobnicate"], errors.USAGE, "unrecognized arguments"),
        (["reconcile"], errors.USAGE, "required"),
    ],
)
def test_parser_errors_are_one_line(
    argv: list[str], code: int, words: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([*argv, "--data-dir", str(tmp_path / "none")]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err
    assert not (tmp_path / "none").exists()


def test_reading_commands_never_create_a_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "elsewhere"
    for argv in (["sql", "SELECT 1"], ["board"], ["reconcile", "--day", "2026-03-29"]):
        assert main([*argv, "--data-dir", str(missing)]) == errors.INPUT
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no data directory found at" in err and str(missing) in err
    assert not missing.exists()


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "sql", "SELECT 1", "--data-dir", str(tmp_path / "none")]) == errors.INPUT
    assert "Traceback" in capsys.readouterr().err


def test_an_unwritable_data_directory_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("")
    jsonl = tmp_path / "e.jsonl"
    jsonl.write_text("{}\n")
    assert main(["replay", str(jsonl), "--data-dir", str(afile / "dd")]) == errors.INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not usable" in err


def test_a_held_warehouse_names_its_holder(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    (warehouse / "status").write_text("")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)",
            str(warehouse / "status"),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        assert datadir.is_locked(warehouse)
        with pytest.raises(errors.BusyError) as busy:
            datadir.ensure_free(tmp_path, warehouse, "wait")
        assert f"pid {holder.pid}" in str(busy.value) and busy.value.code == errors.BUSY
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while datadir.is_locked(warehouse) and time.monotonic() < deadline:
        time.sleep(0.05)
    datadir.ensure_free(tmp_path, warehouse, "wait")  # released: no error


def test_is_locked_sees_a_lock_held_in_this_process(tmp_path: Path) -> None:
    (tmp_path / "status").write_text("")
    with open(tmp_path / "status") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert datadir.is_locked(tmp_path)
    assert not datadir.is_locked(tmp_path)


def test_held_log_waits_for_the_worker_to_be_up(tmp_path: Path) -> None:
    import io

    target = io.StringIO()
    log = HeldLog(target)
    log.write("starting\n")
    assert target.getvalue() == ""
    assert log.keep(tmp_path / "start.log") == tmp_path / "start.log"
    assert (tmp_path / "start.log").read_text() == "starting\n"
    log.release()
    log.write("running\n")
    assert target.getvalue() == "starting\nrunning\n"


def test_local_times_show_the_forces_zone_with_its_offset() -> None:
    midnight_june_1 = datetime(2026, 5, 31, 23, 0, tzinfo=UTC)
    rows = [[midnight_june_1, "2026-05-31T23:00:00+00:00", "2026-05-31T23:00:00+00:00", 1]]
    types = ["DateTime('UTC')", "DateTime64(3)", "String", "UInt64"]
    london = local_times(rows, types, "Europe/London")[0]
    assert london[0].isoformat() == "2026-06-01T00:00:00+01:00"
    assert london[1].isoformat() == "2026-06-01T00:00:00+01:00"
    assert london[2] == "2026-05-31T23:00:00+00:00"  # a String column is left alone
    assert local_times(rows, types, "UTC")[0][0].isoformat() == "2026-05-31T23:00:00+00:00"


def test_blank_lines_are_not_counted(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n   \n{"a": 3}')
    assert _count_lines(path) == 3


def test_a_hub_serves_only_its_own_warehouse(tmp_path: Path) -> None:
    import json
    import os

    (tmp_path / datadir.HUB_FILE).write_text(json.dumps({"url": "http://127.0.0.1:1/", "pid": os.getpid()}))
    own = f"chdb://{tmp_path / 'warehouse'}"
    assert datadir.hub_serving(tmp_path, own) == {"url": "http://127.0.0.1:1/", "pid": os.getpid()}
    assert datadir.hub_serving(tmp_path, f"chdb://{tmp_path / 'elsewhere'}") is None
    assert datadir.hub_serving(tmp_path, "http://ch:8123/db") is None
    with pytest.raises(errors.BusyError, match="a hub"):
        datadir.ensure_free(tmp_path, tmp_path / "warehouse", "wait")
    datadir.ensure_free(tmp_path, tmp_path / "elsewhere", "wait")  # another warehouse: not the hub's
