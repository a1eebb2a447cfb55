"""What the stream processor reads of the configuration, as protocols this package owns.

``streams`` never imports the application shell: the pipeline and the worker take any object with
these read-only attributes. ``demandhub.settings.Settings`` has them all and is what the CLI and the
runtime pass in (``tests/unit/test_stream_config.py`` checks that it keeps satisfying them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from schemas.definitions import Definitions


@runtime_checkable
class PipelineConfig(Protocol):
    """The settings :class:`streams.pipeline.Pipeline` reads: event limits and the definitions."""

    @property
    def definitions(self) -> Definitions: ...
    @property
    def max_event_bytes(self) -> int: ...
    @property
    def max_event_depth(self) -> int: ...
    @property
    def max_event_items(self) -> int: ...
    @property
    def future_tolerance_seconds(self) -> int: ...
    @property
    def earliest_event_year(self) -> int: ...
    @property
    def allowed_forces(self) -> tuple[str, ...]: ...


@runtime_checkable
class WorkerConfig(PipelineConfig, Protocol):
    """The settings the worker (:mod:`streams.app`) reads besides the pipeline's."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def resolved_dsn(self) -> str: ...
    @property
    def batch_max_events(self) -> int: ...
    @property
    def batch_max_seconds(self) -> float: ...
    @property
    def rollup_refresh_seconds(self) -> float: ...
    @property
    def rollup_refresh_backlog_seconds(self) -> float: ...
    @property
    def sink_retry_max_seconds(self) -> float: ...
    @property
    def broker_session_timeout(self) -> float: ...
    @property
    def consumer_stall_seconds(self) -> float: ...
    @property
    def processing_guarantee(self) -> str: ...
