"""Assembling the hub: warehouse, pipeline, faust worker and web server, from one Settings object."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demandhub.auth import credentials, embedded_tokens, pseudonymisation_key
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse, connect
from sinks.clickhouse.migrate import migrate
from streams import registry
from streams.pipeline import BatchReport, Pipeline, RawMessage

log = logging.getLogger(__name__)
HUB_FILE = "hub.json"


def open_warehouse(settings: Settings, apply_migrations: bool = True) -> Warehouse:
    """Connect to the configured warehouse and bring its schema up to date."""
    if settings.resolved_dsn.startswith("chdb:"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    wh = connect(settings.resolved_dsn)
    if apply_migrations:
        migrate(wh)
    return wh


def build_pipeline(settings: Settings, wh: Warehouse) -> Pipeline:
    """The pipeline with every registered fold and rollup (and the chaos switch, if set)."""
    from sinks.clickhouse.faults import maybe_flaky

    sink = maybe_flaky(wh, settings.fault_sink_fail_flag)
    return Pipeline(settings, sink, registry.folds(), pseudonymisation_key(settings), registry.refreshers())


def hub_file(settings: Settings) -> Path:
    return settings.data_dir / HUB_FILE


def write_hub_file(settings: Settings, url: str) -> None:
    """Tell other processes (e.g. `demandhub sql`) where the running hub serves its API."""
    path = hub_file(settings)
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    os.chmod(path, 0o600)


def running_hub(settings: Settings) -> str | None:
    """URL of a hub running on this data directory, if its process is alive."""
    path = hub_file(settings)
    if not path.exists():
        return None
    info = json.loads(path.read_text())
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return None
    return str(info["url"])


async def refresh_gauges_forever(settings: Settings, wh: Warehouse, interval: float = 5.0) -> None:
    """Recompute the warehouse-backed live gauges every ``interval`` seconds."""
    refreshers = registry.gauge_refreshers()
    while True:
        now = datetime.now(UTC)
        for refresh in refreshers:
            try:
                await asyncio.to_thread(refresh, wh, settings.force_id, now, settings.definitions)
            except Exception:
                log.exception("live gauge refresh failed")
        await asyncio.sleep(interval)


def run_worker(
    settings: Settings, broker: str, serve_web: bool = True, on_ready: Callable[[str], None] | None = None
) -> None:
    """Run the faust worker (and the web server in the same process) until interrupted."""
    import faust

    from demandhub.web.live import add_live_routes
    from demandhub.web.server import build_web_app, start_web
    from streams.app import build_app

    wh = open_warehouse(settings)
    pipeline = build_pipeline(settings, wh)
    app = build_app(settings, pipeline, broker, observers=registry.observers())
    url = f"http://{settings.web_host}:{settings.web_port}/"

    if serve_web:
        web_app = build_web_app(settings, wh, credentials(settings))
        add_live_routes(web_app)

        @app.task
        async def web_server() -> None:
            await start_web(web_app, settings.web_host, settings.web_port)
            write_hub_file(settings, url)
            if on_ready:
                on_ready(url)

        @app.task
        async def live_gauges() -> None:
            await refresh_gauges_forever(settings, wh)

    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit:
        pass
    finally:
        hub_file(settings).unlink(missing_ok=True)
        wh.close()


# -- file replay -----------------------------------------------------------------------------------
@dataclass
class ReplayTotals:
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    quarantined: int = 0

    def add(self, report: BatchReport) -> None:
        self.lines += report.consumed
        self.accepted += report.accepted
        self.duplicates += report.duplicates
        self.dead_letters += len(report.dead_letters)
        self.quarantined += len(report.quarantined)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def file_messages(path: Path, chunk: int) -> Iterator[list[RawMessage]]:
    """The lines of a JSONL file as batches of messages (offset = line number)."""
    from schemas.topics import topic_for_type

    batch: list[RawMessage] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            topic = ""
            head = line[:400]
            marker = head.find(b'"type"')
            if marker >= 0:
                try:
                    etype = head[marker:].split(b'"')[3].decode()
                    topic = topic_for_type(etype).name
                except (IndexError, KeyError, UnicodeDecodeError):
                    topic = ""
            batch.append(RawMessage(topic, 0, number, line))
            if len(batch) >= chunk:
                yield batch
                batch = []
    if batch:
        yield batch


def replay(
    pipeline: Pipeline, batches: Iterable[list[RawMessage]], progress: Callable[[int], None] | None = None
) -> ReplayTotals:
    """Put batches through the same pipeline as the worker; returns the totals."""
    totals = ReplayTotals()
    for batch in batches:
        totals.add(pipeline.process(batch))
        if progress:
            progress(len(batch))
    return totals


def print_tokens(settings: Settings) -> dict[str, str]:
    return embedded_tokens(settings)
