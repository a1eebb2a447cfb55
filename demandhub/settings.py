"""The one settings object. Built once by the CLI and passed down; never read from modules.

Every field can be set with a ``DEMANDHUB_<NAME>`` environment variable (nested groups with ``__``,
e.g. ``DEMANDHUB_DEFINITIONS__CALLS__ABANDON_CONVENTION=count_as_missed``). Defaults are embedded:
tansu as the broker, chDB under ``data_dir`` as the warehouse, no service to install.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.definitions import Definitions
from schemas.queues import QUEUES, per_queue


class Settings(BaseSettings):
    """Runtime configuration of the hub (secrets are SecretStr and masked when printed)."""

    model_config = SettingsConfigDict(
        env_prefix="DEMANDHUB_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("var/demandhub"),
        description="Where the embedded run keeps its warehouse, secrets and logs.",
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="host:port of a Kafka cluster. Unset: `demandhub up` starts an embedded tansu "
        "broker on 127.0.0.1.",
    )
    clickhouse_dsn: str | None = Field(
        default=None,
        description="http(s)://user:pass@host:8123/db for a ClickHouse server, or chdb:///abs/path. "
        "Unset: chdb:///<data_dir>/warehouse.",
    )
    force_id: str = Field(default="cambs", description="Default force for commands and the simulator.")
    force_name: str | None = Field(
        default=None,
        description="The force's display name, printed in the board pack's title and running header. "
        "Unset: the force id.",
    )
    board_publish_max_incomplete_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="board --publish refuses a month where more than this share of the event "
        "measures (those whose feeds have events) are incomplete, unless --allow-incomplete.",
    )
    pseudonymisation_key: SecretStr | None = Field(
        default=None,
        description="Per-force secret for the keyed hash of identifiers. Unset: a random key is "
        "created once in <data_dir>/secrets/pseudonymisation.key (mode 0600).",
    )
    web_host: str = Field(default="127.0.0.1", description="Interface the live web server binds.")
    web_port: int = Field(default=8765, description="Port of the live page, API and /metrics.")
    batch_max_events: int = Field(
        default=20_000,
        ge=1,
        description="Most events in one write cycle. A backlog is written in fetches of this size, which "
        "spreads each cycle's fixed cost (about a dozen warehouse statements) over more events; at low "
        "rates a cycle takes what arrived during the one before.",
    )
    history_cache_events: int = Field(
        default=10_000,
        ge=0,
        description="Most events the worker keeps in memory as the histories of live subjects (2-3 KB "
        "each), so their next events are folded without a ledger read. Subjects whose lifecycle "
        "ended leave at once; the least recently used leave past this bound. 0: always read the ledger.",
    )
    batch_max_seconds: float = Field(
        default=0.25,
        gt=0,
        description="How long the worker's consumer waits for records while it has none. It never holds "
        "records back to fill a batch: a fetch returns as soon as any are prefetched. (With "
        "processing_guarantee=exactly_once, each topic's agent closes a batch after this long even "
        "if not full.)",
    )
    rollup_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        description="The worker recomputes the rollup buckets its batches touched at most this often "
        "(readers of rollups refresh pending buckets first, so they never read a stale figure; the "
        "live page reads the facts). Each refresh costs a dozen statements whatever it covers: every "
        "second, it took a core's share from the write cycles at 50 events/s and doubled their time.",
    )
    rollup_refresh_backlog_seconds: float = Field(
        default=60.0,
        ge=0,
        description="While the worker catches up a backlog (more records waiting at the broker than one "
        "write cycle takes, batch_max_events) it postpones the rollup refresh, for at most this many "
        "seconds at a time, and gives its refresh lease up meanwhile: each refresh recomputes every "
        "bucket touched since the last, so refreshes during a backlog redo the same hours on the cores "
        "the write cycles need. Readers of rollups refresh pending buckets first, so no figure is "
        "staler. 0: never postpone.",
    )
    sink_retry_max_seconds: float = Field(
        default=30.0, gt=0, description="Cap of the exponential back-off between sink retries."
    )
    broker_session_timeout: float = Field(
        default=6.0, description="Consumer session timeout (tansu holds group joins ~half of it)."
    )
    consumer_stall_seconds: float = Field(
        default=120.0,
        ge=0,
        description="With messages waiting and no record fetched or committed for this many seconds, "
        "the worker reports its consumer stalled (/health answers 503 with the reason, "
        "demandhub_consumer_stalled is 1) until it moves again; 0 turns the check off.",
    )
    processing_guarantee: str = Field(
        default="at_least_once",
        pattern=r"^(at_least_once|exactly_once)$",
        description="faust processing guarantee. Published figures never depend on it: sinks dedupe.",
    )
    supervisor_token: SecretStr | None = Field(
        default=None, description="Bearer token of the supervisor role (live page and live API)."
    )
    analyst_token: SecretStr | None = Field(
        default=None, description="Bearer token of the analyst role (adds read-only SQL)."
    )
    sql_max_execution_seconds: int = Field(default=20, description="Analyst SQL time limit.")
    sql_max_memory_bytes: int = Field(default=2_000_000_000, description="Analyst SQL memory limit.")
    sql_max_result_rows: int = Field(default=100_000, description="Analyst SQL result row limit.")
    sql_max_result_bytes: int = Field(
        default=50_000_000,
        ge=1024,
        description="Analyst SQL result size limit in bytes: the engine stops a larger result "
        "(max_result_bytes) and the answer is cut off at this size with an error, never sent in part.",
    )
    public_min_count: int = Field(
        default=5,
        ge=1,
        description="Public dashboard: counts from 1 to this minus one are shown as 'fewer than N' "
        "(with secondary suppression so they cannot be worked out from totals).",
    )
    sql_max_concurrent_queries: int = Field(
        default=2, ge=1, description="Analyst SQL queries run at once (each on a read session of its own)."
    )
    sql_max_queued_queries: int = Field(
        default=2, ge=0, description="Analyst SQL queries that may wait for a free session; more are 'busy'."
    )
    sql_queue_wait_seconds: float = Field(
        default=2.0, ge=0, description="How long a queued analyst query waits before it is answered 'busy'."
    )
    future_tolerance_seconds: int = Field(
        default=300, description="Events stamped further in the future than this are quarantined."
    )
    earliest_event_year: int = Field(
        default=2000, description="Events older than this year are quarantined (backfill floor)."
    )
    allowed_forces: tuple[str, ...] = Field(
        default=(),
        description="Forces this deployment serves; empty accepts any well-formed force id.",
    )
    max_event_bytes: int = Field(
        default=65_536,
        ge=1024,
        description="Messages longer than this are dead-lettered unread (too_large). The largest "
        "golden example is under 2 KB; raise it for a source that sends long free text.",
    )
    max_event_depth: int = Field(
        default=16, ge=4, description="Messages nested deeper than this are dead-lettered unread (too_deep)."
    )
    max_event_items: int = Field(
        default=256,
        ge=32,
        description="Messages with more object members plus array items (all levels) than this are "
        "dead-lettered unread (too_many_items); the largest event type has 22 fields.",
    )
    fault_sink_fail_flag: str | None = Field(
        default=None,
        description="Failure drills only: while this file exists every warehouse insert fails.",
    )
    # -- wallboard: abandonment target, sessions, feed health ---------------------------------------
    abandonment_target: dict[str, float] = Field(
        default=per_queue(0.10, Q999=0.03),
        description="Per queue: the wallboard's abandonment target (share, 0-1). A window at or "
        "under it is green, up to 1.5 times it amber, above that red (as service level is coloured).",
    )
    session_ttl_seconds: int = Field(
        default=12 * 3600,
        ge=60,
        description="A signed-in browser session ends after this long unused; each use after half "
        "of it renews the session (and its cookie) for the full time.",
    )
    display_session_ttl_seconds: int = Field(
        default=180 * 86400,
        ge=3600,
        description="A wall-screen display session (created by a supervisor, revocable) ends after "
        "this long unused; renewed on use like a browser session.",
    )
    feed_history_weeks: int = Field(
        default=4,
        ge=1,
        description="Weeks of history the expected arrival rate of each source is taken from (the same "
        "hour of the same weekday).",
    )
    feed_quiet_after_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A source with no event for this long is 'quiet' (unless its silence is "
        "improbable, then 'silent').",
    )
    feed_silent_probability: float = Field(
        default=0.001,
        gt=0,
        lt=1,
        description="A source is 'silent' when a gap this long would happen by chance with less than "
        "this probability at its expected arrival rate (Poisson arrivals: exp(-rate x gap)).",
    )
    # -- trends, forecast and staffing (live page "Trends" section, /api/live/trends, /api/live/staffing)
    service_level_targets: dict[str, float] = Field(
        default=per_queue(0.90),
        description="Per queue: the share of contacts to answer within the queue's service threshold "
        "(definitions.calls.service_threshold_seconds). Staffing is sized to meet it and the wallboard "
        "colours each queue's service level against it. Every canonical queue needs one (0-1); a "
        "force-specific queue not named here has no target on the wallboard.",
    )
    forecast_horizon_hours: int = Field(
        default=4, ge=1, le=24, description="Hours ahead the offered contacts and handlers are forecast."
    )
    forecast_history_weeks: int = Field(
        default=4,
        ge=1,
        le=26,
        description="Past weeks whose same weekday and time of day make the forecast band.",
    )
    staffing_measure_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="Days of contacts from which handle time and patience are measured.",
    )
    contacts_per_handler: dict[str, int] = Field(
        default={"webchat": 2},
        description="Per queue: contacts one handler takes at once (web chat: two); others take one.",
    )
    definitions: Definitions = Field(default_factory=Definitions)

    @field_validator("service_level_targets")
    @classmethod
    def _a_target_per_queue(cls, targets: dict[str, float]) -> dict[str, float]:
        missing = [q for q in QUEUES if q not in targets]
        if missing:
            raise ValueError(f"no target for {', '.join(missing)} (every queue needs one)")
        outside = sorted(q for q, t in targets.items() if not 0 < t <= 1)
        if outside:
            raise ValueError(f"targets are shares between 0 and 1; not so for {', '.join(outside)}")
        return targets

    @property
    def resolved_dsn(self) -> str:
        """The ClickHouse DSN in force (embedded chDB path when none is configured)."""
        if self.clickhouse_dsn:
            return self.clickhouse_dsn
        return f"chdb://{(self.data_dir / 'warehouse').resolve()}"
