"""The worker's logging: warnings and errors to its log, and debug calls of the libraries it runs on
(aiokafka, faust, mode) dropped at the logger, not built into records for every handler to refuse."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import faust
import pytest

from demandhub.runtime import faust_worker

pytestmark = pytest.mark.unit


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_the_worker_logs_warnings_and_leaves_debug_calls_unbuilt(root_logging: None) -> None:
    stream = io.StringIO()
    app = faust.App("logging-test", broker="memory://", web_enabled=False)
    worker = faust_worker(app, stream)
    worker._setup_logging()  # what the worker does as it starts
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    assert not fetcher.isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust").isEnabledFor(logging.INFO)
    built: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        built.append(record)
        return record

    logging.setLogRecordFactory(counting)
    try:
        fetcher.debug("Adding fetch request for partition %s at offset %d", "tp", 1)
        fetcher.warning("a warning")
    finally:
        logging.setLogRecordFactory(factory)
    assert [r.getMessage() for r in built] == ["a warning"]
    assert "a warning" in stream.getvalue()
    assert "\x1b[" not in stream.getvalue()  # no terminal control codes in a log
