"""Recompute the contact rollups for the 15-minute buckets that rewritten facts touched.

Contract (the rollup pattern of the hub; :mod:`sinks.clickhouse.rollups` decides when): for every
(force_id, bucket) the old or new versions of rewritten fact rows fall in, :func:`refresh` writes a
tombstone (``is_deleted = 1``) for every existing rollup key of those buckets under the definitions'
hash, then re-inserts the buckets' rows computed from the deduplicated facts (``FINAL``) under those
definitions, with a later version and the same ``definition_hash``. Readers use ``FINAL``, so a bucket that became empty disappears and a fact that
moved bucket leaves no stale row. Rewriting a fact never counts it twice.

The same SELECTs serve :func:`recompute_rows`, used by the day reconciliation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.definitions import Definitions
from sinks.clickhouse import contacts_sql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import Row

BUCKET_SECONDS = 15 * 60
WAIT_EDGES: tuple[int, ...] = (2, 5, 10, 15, 20, 30, 60, 120, 300, 600)
"""Wait edges (seconds) whose "answered within" / "abandoned within" counts the rollups store (the
``*_within`` arrays, one count per edge, in this order; migration 0100 names its earlier home,
``streams.domain.servicelevel``)."""


def within_index(edge_seconds: int) -> int:
    """ClickHouse (1-based) index of the count below ``edge_seconds`` in the ``*_within`` arrays:
    SQL that reads one count names it by its edge through this function (the applied migrations'
    literal indices are checked against it by a unit test)."""
    return WAIT_EDGES.index(edge_seconds) + 1


GROUPS: tuple[str, ...] = ("calls",)
"""Definition groups the contact rollups depend on (their rows carry this groups' hash)."""


def _no_params(definitions: Definitions) -> dict[str, Any]:
    return {}


def _within(cond: str, wait: str) -> str:
    items = ", ".join(f"toUInt64(countIf({cond} AND {wait} < {edge}))" for edge in WAIT_EDGES)
    return f"[{items}]"


_ANSWERED = "outcome = 'answered'"
_SW = "service_wait_seconds"
# service_wait_seconds, threshold_seconds and short_abandon are not stored: they are the derived
# columns of contacts_sql.legs_from / contacts_from under the definitions the rollup is computed with.


@dataclass(frozen=True)
class Rollup:
    """One rollup table: its keys, the fact table it is computed from, and the value columns."""

    table: str
    facts: str
    keys: tuple[str, ...]
    values: tuple[tuple[str, str], ...]  # (column, aggregate expression over the facts)
    compared: tuple[str, ...]  # value columns a reconciliation compares
    params: Callable[[Definitions], dict[str, Any]] = field(default=_no_params)
    """Query parameters (``d_*``) the value expressions read, from the definitions applied."""

    def query_params(self, definitions: Definitions) -> dict[str, Any]:
        """Parameters of :meth:`select` under ``definitions`` (``dh``: their hash)."""
        return {**self.params(definitions), "dh": definitions.group_hash(*GROUPS)}

    def select(self, where: str) -> str:
        """SELECT of rollup rows (keys, values) from the facts matching ``where``, with the
        definitions applied by the ``d_*`` parameters of :meth:`query_params` (the facts' derived
        columns: :mod:`sinks.clickhouse.contacts_sql`)."""
        keys = ", ".join(
            k if k != "bucket" else "toStartOfFifteenMinutes(placed_at) AS bucket" for k in self.keys
        )
        values = ", ".join(f"{expr} AS {col}" for col, expr in self.values)
        group = ", ".join(self.keys)
        source = contacts_sql.legs_from if self.facts == "contact_legs" else contacts_sql.contacts_from
        return f"SELECT {keys}, {values} FROM {source(where)} GROUP BY {group}"


QUEUE_ROLLUP = Rollup(
    table="contact_queue_15m",
    facts="contact_legs",
    keys=("force_id", "bucket", "channel", "queue", "district"),
    values=(
        ("legs", "count()"),
        ("entered", "countIf(entered_queue)"),
        ("answered", f"countIf({_ANSWERED})"),
        ("answered_within_threshold", f"countIf({_ANSWERED} AND {_SW} < threshold_seconds)"),
        ("answered_within", _within(_ANSWERED, _SW)),
        ("abandoned", "countIf(abandoned_in_queue)"),
        ("abandoned_short", "countIf(short_abandon)"),
        ("abandoned_within_threshold", f"countIf(abandoned_in_queue AND {_SW} < threshold_seconds)"),
        ("abandoned_within", _within("abandoned_in_queue", _SW)),
        ("abandoned_in_transfer", "countIf(abandon_stage = 'in_transfer')"),
        ("callbacks", "countIf(callback_requested)"),
        ("transferred_out", "countIf(transferred_to != '')"),
        ("answer_wait_sum", f"sumIf(assumeNotNull({_SW}), {_ANSWERED} AND {_SW} IS NOT NULL)"),
        ("answer_wait_sumsq", f"sumIf(pow(assumeNotNull({_SW}), 2), {_ANSWERED} AND {_SW} IS NOT NULL)"),
        ("answer_wait_max", f"maxIf(assumeNotNull({_SW}), {_ANSWERED} AND {_SW} IS NOT NULL)"),
        ("abandon_wait_sum", f"sumIf(assumeNotNull({_SW}), abandoned_in_queue AND {_SW} IS NOT NULL)"),
        (
            "longest_wait",
            f"maxIf(assumeNotNull({_SW}), ({_ANSWERED} OR abandoned_in_queue) AND {_SW} IS NOT NULL)",
        ),
        (
            "answer_wait_quantiles",
            f"quantilesTDigestStateIf(0.5, 0.9)(assumeNotNull({_SW}), {_ANSWERED} AND {_SW} IS NOT NULL)",
        ),
    ),
    compared=(
        "legs",
        "entered",
        "answered",
        "answered_within_threshold",
        "answered_within",
        "abandoned",
        "abandoned_short",
        "abandoned_within_threshold",
        "abandoned_within",
        "abandoned_in_transfer",
        "callbacks",
        "transferred_out",
        "answer_wait_sum",
        "answer_wait_sumsq",
        "answer_wait_max",
        "abandon_wait_sum",
        "longest_wait",
    ),
    params=contacts_sql.params,
)

_NEVER = "outcome = 'abandoned' AND NOT ever_answered"
_E2E = "e2e_wait_seconds"
_CHANNEL_VALUES: tuple[tuple[str, str], ...] = (
    ("offered", "count()"),
    ("answered", "countIf(ever_answered)"),
    ("abandoned", "countIf(outcome = 'abandoned')"),
    ("abandoned_never_answered", f"countIf({_NEVER})"),
    ("abandoned_never_answered_short", f"countIf({_NEVER} AND short_abandon)"),
    ("short_abandoned", "countIf(outcome = 'abandoned' AND short_abandon)"),
    ("callbacks", "countIf(callback_requested)"),
    ("reached_ivr", "countIf(reached_ivr)"),
    ("reached_primary", "countIf(reached_primary)"),
    ("reached_in_transfer", "countIf(transferred)"),
    ("reached_secondary", "countIf(reached_secondary)"),
    ("abandoned_ivr", "countIf(outcome = 'abandoned' AND abandon_stage = 'ivr')"),
    ("abandoned_primary", "countIf(outcome = 'abandoned' AND abandon_stage = 'primary_queue')"),
    ("abandoned_in_transfer", "countIf(outcome = 'abandoned' AND abandon_stage = 'in_transfer')"),
    ("abandoned_secondary", "countIf(outcome = 'abandoned' AND abandon_stage = 'secondary_queue')"),
    ("e2e_answered", f"countIf({_E2E} IS NOT NULL)"),
    ("e2e_wait_sum", f"sumIf(assumeNotNull({_E2E}), {_E2E} IS NOT NULL)"),
    ("e2e_wait_sumsq", f"sumIf(pow(assumeNotNull({_E2E}), 2), {_E2E} IS NOT NULL)"),
    ("e2e_wait_max", f"maxIf(assumeNotNull({_E2E}), {_E2E} IS NOT NULL)"),
    ("e2e_answered_within", _within(f"{_E2E} IS NOT NULL", _E2E)),
    ("triaged", "countIf(triaged_at IS NOT NULL)"),
)
CHANNEL_ROLLUP = Rollup(
    table="contact_channel_15m",
    facts="contacts",
    keys=("force_id", "bucket", "channel", "district", "report_type"),
    values=_CHANNEL_VALUES,
    compared=tuple(c for c, _ in _CHANNEL_VALUES),
    params=contacts_sql.params,
)

ROLLUPS: tuple[Rollup, ...] = (QUEUE_ROLLUP, CHANNEL_ROLLUP)


def bucket_of(at: datetime) -> datetime:
    """Start of the 15-minute UTC bucket holding ``at`` (naive UTC, as ClickHouse DateTime)."""
    seconds = int(at.astimezone(UTC).timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def touched_buckets(*row_sets: Sequence[Row]) -> dict[str, set[datetime]]:
    """Buckets per force that any of the rows (old or new versions) fall in."""
    found: dict[str, set[datetime]] = defaultdict(set)
    for rows in row_sets:
        for row in rows:
            found[row["force_id"]].add(bucket_of(row["placed_at"]))
    return found


def _bucket_params(force_id: str, buckets: set[datetime]) -> dict[str, object]:
    return {"f": force_id, "b": sorted(b.strftime("%Y-%m-%d %H:%M:%S") for b in buckets)}


_PLACED_BUCKET = "toStartOfFifteenMinutes(placed_at)"
_BUCKETS_IN = "bucket IN (SELECT toDateTime(arrayJoin({b:Array(String)}), 'UTC'))"


def refresh(
    wh: Warehouse,
    rollup: Rollup,
    force_id: str,
    buckets: set[datetime],
    version: int,
    definitions: Definitions,
) -> None:
    """Tombstone (at ``version``) then recompute (at ``version + 1``) ``buckets`` of ``rollup`` for
    one force under ``definitions``; only rows of their hash are touched. The version is read from
    the warehouse's own clock (:mod:`sinks.clickhouse.rollups`)."""
    if not buckets:
        return
    params = {**_bucket_params(force_id, buckets), **rollup.query_params(definitions)}
    keys = ", ".join(rollup.keys)
    wh.command(
        f"INSERT INTO {rollup.table} ({keys}, definition_hash, is_deleted, version) "
        f"SELECT {keys}, definition_hash, 1, {version} FROM {rollup.table} FINAL "
        f"WHERE force_id = {{f:String}} AND definition_hash = {{dh:String}} AND {_BUCKETS_IN}",
        parameters=params,
    )
    where = f"force_id = {{f:String}} AND {_BUCKETS_IN.replace('bucket', _PLACED_BUCKET, 1)}"
    columns = ", ".join([*rollup.keys, *(c for c, _ in rollup.values)])
    wh.command(
        f"INSERT INTO {rollup.table} ({columns}, definition_hash, is_deleted, version) "
        f"SELECT *, {{dh:String}}, 0, {version + 1} FROM ({rollup.select(where)})",
        parameters=params,
    )


def refresh_range(
    wh: Warehouse,
    rollup: Rollup,
    force_id: str,
    start: datetime,
    end: datetime,
    version: int,
    definitions: Definitions,
) -> None:
    """:func:`refresh` of every bucket from ``start`` (included) to ``end`` (excluded), both on a
    bucket boundary (a replay's months), by a time range instead of a list of buckets."""
    params = {
        "f": force_id,
        "lo": as_naive_utc(start),
        "hi": as_naive_utc(end),
        **rollup.query_params(definitions),
    }
    keys = ", ".join(rollup.keys)
    wh.command(
        f"INSERT INTO {rollup.table} ({keys}, definition_hash, is_deleted, version) "
        f"SELECT {keys}, definition_hash, 1, {version} FROM {rollup.table} FINAL "
        "WHERE force_id = {f:String} AND definition_hash = {dh:String} "
        "AND bucket >= {lo:DateTime('UTC')} AND bucket < {hi:DateTime('UTC')}",
        parameters=params,
    )
    where = "force_id = {f:String} AND placed_at >= {lo:DateTime('UTC')} AND placed_at < {hi:DateTime('UTC')}"
    columns = ", ".join([*rollup.keys, *(c for c, _ in rollup.values)])
    wh.command(
        f"INSERT INTO {rollup.table} ({columns}, definition_hash, is_deleted, version) "
        f"SELECT *, {{dh:String}}, 0, {version + 1} FROM ({rollup.select(where)})",
        parameters=params,
    )


def as_naive_utc(at: datetime) -> datetime:
    """``at`` as a naive UTC datetime (what a ``DateTime('UTC')`` parameter takes)."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def all_buckets(wh: Warehouse, rollup: Rollup) -> dict[str, set[datetime]]:
    """Every bucket per force that the facts of ``rollup`` cover (for a rebuild)."""
    found: dict[str, set[datetime]] = defaultdict(set)
    sql = f"SELECT DISTINCT force_id, {_PLACED_BUCKET} FROM {rollup.facts} FINAL"
    for force_id, bucket in wh.query(sql).rows:
        found[str(force_id)].add(bucket.replace(tzinfo=None) if bucket.tzinfo else bucket)
    return found


def recompute_rows(
    wh: Warehouse,
    rollup: Rollup,
    where: str,
    params: dict[str, object],
    definitions: Definitions | None = None,
) -> list[Row]:
    """Rollup rows recomputed from the facts matching ``where`` under ``definitions`` (default: the
    defaults; compared columns only)."""
    definitions = Definitions() if definitions is None else definitions
    sql = rollup.select(where)
    cols = ", ".join([*rollup.keys, *rollup.compared])
    merged = {**params, **rollup.query_params(definitions)}
    return wh.query(f"SELECT {cols} FROM ({sql})", parameters=merged).dicts()


def stored_rows(
    wh: Warehouse,
    rollup: Rollup,
    where: str,
    params: dict[str, object],
    definitions: Definitions | None = None,
) -> list[Row]:
    """Rollup rows as stored (FINAL) under ``definitions``' hash (default: the defaults) matching
    ``where`` (compared columns only)."""
    definitions = Definitions() if definitions is None else definitions
    cols = ", ".join([*rollup.keys, *rollup.compared])
    merged = {**params, "dh": definitions.group_hash(*GROUPS)}
    return wh.query(
        f"SELECT {cols} FROM {rollup.table} FINAL WHERE definition_hash = {{dh:String}} AND ({where})",
        parameters=merged,
    ).dicts()
