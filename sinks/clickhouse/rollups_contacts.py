"""Recompute the contact rollups for the 15-minute buckets that rewritten facts touched.

Contract (the rollup pattern of the hub): a refresher is called after fact rows of one table were
written, with the previous and the new versions of those rows. It collects every (force_id, bucket)
the old or new rows fall in, writes a tombstone (``is_deleted = 1``) for every existing rollup key
of those buckets, then re-inserts the buckets' rows computed from the deduplicated facts (``FINAL``)
with a later version. Readers use ``FINAL``, so a bucket that became empty disappears and a fact that
moved bucket leaves no stale row. Rewriting a fact never counts it twice.

The same SELECTs serve :func:`recompute_rows`, used by the day reconciliation.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sinks.clickhouse.client import Warehouse
from streams.domain.base import Row
from streams.domain.servicelevel import WAIT_EDGES

BUCKET_SECONDS = 15 * 60


def _within(cond: str, wait: str) -> str:
    items = ", ".join(f"toUInt64(countIf({cond} AND {wait} < {edge}))" for edge in WAIT_EDGES)
    return f"[{items}]"


_ANSWERED = "outcome = 'answered'"
_SW = "service_wait_seconds"


@dataclass(frozen=True)
class Rollup:
    """One rollup table: its keys, the fact table it is computed from, and the value columns."""

    table: str
    facts: str
    keys: tuple[str, ...]
    values: tuple[tuple[str, str], ...]  # (column, aggregate expression over the facts)
    compared: tuple[str, ...]  # value columns a reconciliation compares

    def select(self, where: str) -> str:
        """SELECT of rollup rows (keys, values) from the facts matching ``where``."""
        keys = ", ".join(
            k if k != "bucket" else "toStartOfFifteenMinutes(placed_at) AS bucket" for k in self.keys
        )
        values = ", ".join(f"{expr} AS {col}" for col, expr in self.values)
        group = ", ".join(self.keys)
        return f"SELECT {keys}, {values} FROM {self.facts} FINAL WHERE {where} GROUP BY {group}"


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
    wh: Warehouse, rollup: Rollup, force_id: str, buckets: set[datetime], version: int | None = None
) -> None:
    """Tombstone (at ``version``) then recompute (at ``version + 1``) ``buckets`` of ``rollup`` for
    one force. The lazy refresher passes a version read from the warehouse's own clock
    (:mod:`sinks.clickhouse.rollups`); without one, this process's clock."""
    if not buckets:
        return
    params = _bucket_params(force_id, buckets)
    version = time.time_ns() if version is None else version
    keys = ", ".join(rollup.keys)
    wh.command(
        f"INSERT INTO {rollup.table} ({keys}, is_deleted, version) "
        f"SELECT {keys}, 1, {version} FROM {rollup.table} FINAL "
        f"WHERE force_id = {{f:String}} AND {_BUCKETS_IN}",
        parameters=params,
    )
    where = f"force_id = {{f:String}} AND {_BUCKETS_IN.replace('bucket', _PLACED_BUCKET, 1)}"
    columns = ", ".join([*rollup.keys, *(c for c, _ in rollup.values)])
    wh.command(
        f"INSERT INTO {rollup.table} ({columns}, is_deleted, version) "
        f"SELECT *, 0, {version + 1} FROM ({rollup.select(where)})",
        parameters=params,
    )


Refresher = Callable[[Warehouse, Sequence[Row], Sequence[Row]], None]


def _refresher(rollup: Rollup) -> Refresher:
    def refresher(wh: Warehouse, old_rows: Sequence[Row], new_rows: Sequence[Row]) -> None:
        for force_id, buckets in touched_buckets(old_rows, new_rows).items():
            refresh(wh, rollup, force_id, buckets)

    refresher.__doc__ = f"Recompute {rollup.table} for the buckets touched by rewritten {rollup.facts} rows."
    return refresher


refresh_queue_rollup = _refresher(QUEUE_ROLLUP)
refresh_channel_rollup = _refresher(CHANNEL_ROLLUP)


def recompute_rows(wh: Warehouse, rollup: Rollup, where: str, params: dict[str, object]) -> list[Row]:
    """Rollup rows recomputed from the facts matching ``where`` (compared columns only)."""
    sql = rollup.select(where)
    cols = ", ".join([*rollup.keys, *rollup.compared])
    return wh.query(f"SELECT {cols} FROM ({sql})", parameters=params).dicts()


def stored_rows(wh: Warehouse, rollup: Rollup, where: str, params: dict[str, object]) -> list[Row]:
    """Rollup rows as stored (FINAL) matching ``where`` (compared columns only)."""
    cols = ", ".join([*rollup.keys, *rollup.compared])
    return wh.query(f"SELECT {cols} FROM {rollup.table} FINAL WHERE {where}", parameters=params).dicts()
