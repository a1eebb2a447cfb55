"""A full warehouse disk is named as such: in the worker's log (with where the data lives and what to
do) and in ``demandhub_sink_out_of_space``, while the batch is held and retried as for any outage."""

from __future__ import annotations

import asyncio
import errno
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from demandhub.settings import Settings
from sinks.clickhouse.client import WarehouseUnavailable
from sinks.clickhouse.errors import data_location, is_out_of_space
from sinks.clickhouse.faults import NO_SPACE, FlakyWarehouse
from sinks.prometheus import metrics as m
from streams.app import BatchRunner
from streams.pipeline import BatchReport, RawMessage

pytestmark = pytest.mark.unit

TOPIC = "demandhub.contacts.call.v1"


def raised_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("insert failed") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        DatabaseError(
            "Code: 243. DB::Exception: Cannot reserve 3.82 MiB, not enough space. (NOT_ENOUGH_SPACE)"
        ),
        DatabaseError(
            "Code: 75. DB::Exception: Cannot write to file /data/store/tmp_insert/data.bin, errno: 28, "
            "strerror: No space left on device. (CANNOT_WRITE_TO_FILE_DESCRIPTOR)"
        ),
        OSError(errno.ENOSPC, "No space left on device"),
        raised_from(DatabaseError("Code: 243. DB::Exception: not enough space. (NOT_ENOUGH_SPACE)")),
    ],
    ids=["reservation", "write", "oserror", "chained"],
)
def test_the_engine_shapes_of_a_full_disk_are_recognised(exc: BaseException) -> None:
    assert is_out_of_space(exc)


@pytest.mark.parametrize(
    "exc",
    [
        WarehouseUnavailable("injected outage (/tmp/flag exists)"),
        DatabaseError("Code: 47. DB::Exception: Unknown expression identifier `x`. (UNKNOWN_IDENTIFIER)"),
        OperationalError("Error HTTPConnectionPool(host='ch', port=8123): Connection refused"),
        OSError(errno.EACCES, "Permission denied"),
        DatabaseError("Code: 2430. something else"),
    ],
)
def test_other_failures_are_not_called_a_full_disk(exc: BaseException) -> None:
    assert not is_out_of_space(exc)


def test_the_location_names_the_folder_or_the_host_never_credentials() -> None:
    assert data_location("chdb:///srv/hub/warehouse") == "/srv/hub/warehouse"
    remote = data_location("https://writer:s3cret@ch.internal:8443/default")
    assert "ch.internal" in remote and "s3cret" not in remote and "writer" not in remote


class DiskFullOnce:
    """A pipeline whose first write hits the drill's disk-full error; the retry succeeds."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag
        self.wh = FlakyWarehouse(SimpleNamespace(), flag)  # type: ignore[arg-type]
        self.gauge_during_retry: float | None = None
        self.attempts = 0

    def forget(self) -> None:
        return None

    def process(self, raws: list[RawMessage]) -> BatchReport:
        self.attempts += 1
        if self.attempts == 1:
            self.wh.insert("events", [["row"]], ["id"])  # raises while the flag says no-space
        self.gauge_during_retry = m.SINK_OUT_OF_SPACE.labels(TOPIC)._value.get()
        return BatchReport(consumed=len(raws), accepted=len(raws))


def test_a_full_disk_is_logged_plainly_and_shown_in_a_metric(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flag = tmp_path / "sink-fail"
    flag.write_text(NO_SPACE)
    settings = Settings(data_dir=tmp_path / "hub")
    pipeline = DiskFullOnce(flag)
    runner = BatchRunner(pipeline, settings)  # type: ignore[arg-type]
    raws = [RawMessage(TOPIC, 0, 0, b"{}", None, 0)]
    with caplog.at_level(logging.WARNING, logger="streams.app"):
        report: Any = asyncio.run(runner.run(TOPIC, raws))
    assert report.consumed == 1 and pipeline.attempts == 2
    [line] = [r.getMessage() for r in caplog.records]
    assert "out of disk space" in line
    assert str((tmp_path / "hub" / "warehouse").resolve()) in line
    assert "Free space" in line and "DatabaseError" not in line
    assert pipeline.gauge_during_retry == 1
    assert m.SINK_OUT_OF_SPACE.labels(TOPIC)._value.get() == 0
    assert m.SINK_BACKING_OFF.labels(TOPIC)._value.get() == 0


def test_an_ordinary_outage_is_not_called_a_full_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flag = tmp_path / "sink-fail"
    flag.write_text("")
    pipeline = DiskFullOnce(flag)
    runner = BatchRunner(pipeline, Settings(data_dir=tmp_path))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="streams.app"):
        asyncio.run(runner.run(TOPIC, [RawMessage(TOPIC, 0, 0, b"{}", None, 0)]))
    [line] = [r.getMessage() for r in caplog.records]
    assert "failed (WarehouseUnavailable)" in line and "disk" not in line
    assert pipeline.gauge_during_retry == 0
