"""Contact definitions applied in ClickHouse when figures are read: the one place they are written.

The contact facts (``contact_legs``, ``contacts``) keep what happened: every raw time of a contact and
of each queue visit, the raw queue wait, the IVR entry time. Every figure that depends on a
``definitions.calls`` setting is computed from those at read time by the SQL fragments below,
parameterised by query parameters named ``d_*`` that :func:`params` builds from a
:class:`~schemas.definitions.Definitions`. The rollups (:mod:`sinks.clickhouse.rollups_contacts`),
the board and live readers (``demandhub/queries/contacts.py``), lineage and the public dashboard all
select from :func:`legs_from` / :func:`contacts_from`, which add the derived columns the facts no
longer store, under the names they had:

``contact_legs``: ``clock_started_at`` (999: offered, BT connect or queued per ``clock_start_999``,
falling back to the next known time; other queues: queue entry), ``service_wait_seconds`` (clock
start to the end of the leg; the raw wait when the clock is the queue entry), ``threshold_seconds``
and ``short_abandon_seconds`` (per queue, NULL for a queue the definitions do not name) and
``short_abandon`` (abandoned while queued with a service wait below the short threshold).

``contacts``: ``short_abandon`` (the final abandon was short: an IVR hang-up within
``ivr_short_abandon_seconds`` of the IVR entry, else of the offer; or the deciding queue abandon was
a short abandon of its leg).

The other call definitions act on the counts these columns give, in the readers: the abandon
convention and the callback basis (``callbacks_in_service_level``; both in
:func:`streams.domain.servicelevel.service_level` over the rollup's counters, whose ``callbacks``
column counts the queue visits that ended in a callback request whatever the definitions),
de-duplication of short abandons from volumes (``demandhub/queries/contacts.py``) and the answer-time
band edges (``demandhub/board/warehouse/public.py``, query parameters ``b1``/``b2``).

The same fragments are rendered for the analyst views with the definitions the worker runs under
(``applied_definitions``, name ``active``) in place of the parameters (:data:`ACTIVE`); migration
0103 holds that rendering and a unit test checks it is the one generated here.

The statements of the contact readers (``demandhub/queries/contacts.py``) are here too, behind named
functions that take the warehouse and plain parameters and return plain rows: the live legs
(:func:`waiting_legs`, :func:`recent_legs`), the board's months from the rollups under the
definitions given (:func:`rollup_rows`: the stored rows of the definitions' hash when the rollup is
complete under them, else the rollup's own SELECT over the facts) and a day's rollup rows for the
reconciliation (:func:`day_rollup_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from schemas.definitions import CallDefinitions, Definitions
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import DEFINITIONS_TABLE, all_rollups, ensure_fresh, reads_rollup

if TYPE_CHECKING:
    from sinks.clickhouse.rollups_contacts import Rollup

IN_QUEUE_STAGES = ("primary_queue", "secondary_queue")
LEG_END = "coalesce(answered_at, abandoned_at, callback_at)"
"""When a leg's queue visit ended (answer, abandon or callback request), NULL while it is open."""


@dataclass(frozen=True)
class Source:
    """How the fragments read each definition: query parameters, or the active definitions."""

    clock_999: str
    """'offered', 'bt_connect' or 'queued' (String)."""
    threshold: Callable[[str], str]
    """Queue expression -> service threshold of the queue, seconds (Nullable)."""
    short: Callable[[str], str]
    """Queue expression -> short-abandon threshold of the queue, seconds (Nullable)."""
    ivr_short: str
    """IVR short-abandon threshold, seconds (Nullable: NULL when every IVR hang-up counts)."""


def _param_per_queue(name: str, value_type: str) -> Callable[[str], str]:
    keys = f"{{d_{name}_q:Array(String)}}"
    values = f"{{d_{name}:Array({value_type})}}"

    def lookup(queue: str) -> str:
        return f"if(has({keys}, {queue}), {values}[indexOf({keys}, {queue})], NULL)"

    return lookup


PARAMS = Source(
    clock_999="{d_clock_999:String}",
    threshold=_param_per_queue("threshold", "UInt32"),
    short=_param_per_queue("short", "UInt32"),
    ivr_short="{d_ivr_short:Nullable(UInt32)}",
)
"""Fragments read query parameters built by :func:`params`."""

ACTIVE_DEFS = "_active_definitions"
"""Column of the one-row cross join holding the active definitions' JSON in the analyst views."""


def _active_per_queue(key: str, value_type: str) -> Callable[[str], str]:
    def lookup(queue: str) -> str:
        return f"JSONExtract({ACTIVE_DEFS}, 'calls', '{key}', {queue}, '{value_type}')"

    return lookup


ACTIVE = Source(
    clock_999=f"JSONExtractString({ACTIVE_DEFS}, 'calls', 'clock_start_999')",
    threshold=_active_per_queue("service_threshold_seconds", "Nullable(UInt32)"),
    short=_active_per_queue("short_abandon_seconds", "Nullable(UInt32)"),
    ivr_short=f"JSONExtract({ACTIVE_DEFS}, 'calls', 'ivr_short_abandon_seconds', 'Nullable(UInt32)')",
)
"""Fragments read the definitions the worker runs under (analyst views; see :func:`active_join`)."""


ACTIVE_KEYS = (
    "clock_start_999",
    "ivr_short_abandon_seconds",
    "service_threshold_seconds",
    "short_abandon_seconds",
)
"""The call definitions :data:`ACTIVE` reads: the only defaults an analyst view embeds, so a new
call definition the views do not read changes no view (an applied migration never changes)."""


def active_join() -> str:
    """``CROSS JOIN`` of an analyst view binding :data:`ACTIVE_DEFS` (one row): the definitions
    recorded as active (``applied_definitions``), the defaults of ``schemas/definitions.py`` for
    the call definitions the views read (:data:`ACTIVE_KEYS`) when none are."""
    every = Definitions().calls.model_dump(mode="json")
    calls = {"calls": {key: every[key] for key in ACTIVE_KEYS}}
    defaults = json.dumps(calls, sort_keys=True, separators=(",", ":"))
    recorded = "(SELECT any(definitions) FROM applied_definitions FINAL WHERE name = 'active')"
    return (
        f"CROSS JOIN (SELECT if(empty(recorded), '{defaults}', recorded) AS {ACTIVE_DEFS} "
        f"FROM (SELECT {recorded} AS recorded)) AS active"
    )


def params(definitions: Definitions) -> dict[str, Any]:
    """The ``d_*`` query parameters of every contact fragment under ``definitions``."""
    return call_params(definitions.calls)


def call_params(calls: CallDefinitions) -> dict[str, Any]:
    """The ``d_*`` query parameters of every contact fragment under the call definitions."""
    thresholds = sorted(calls.service_threshold_seconds.items())
    shorts = sorted(calls.short_abandon_seconds.items())
    return {
        "d_clock_999": calls.clock_start_999,
        "d_threshold_q": [q for q, _ in thresholds],
        "d_threshold": [int(t) for _, t in thresholds],
        "d_short_q": [q for q, _ in shorts],
        "d_short": [int(t) for _, t in shorts],
        "d_ivr_short": calls.ivr_short_abandon_seconds,
    }


# -- fragments ---------------------------------------------------------------------------------------
def clock_start_999(src: Source, offered: str = "offered_at", bt: str = "bt_connect_at") -> str:
    """Start of the 999 service clock before it falls back to the queue entry: BT connect (when
    wanted and known), else the offer (when wanted and known), else NULL (the queue entry)."""
    c = src.clock_999
    return (
        f"multiIf({c} = 'bt_connect' AND {bt} IS NOT NULL, {bt}, "
        f"{c} IN ('bt_connect', 'offered') AND {offered} IS NOT NULL, {offered}, NULL)"
    )


def clock_started_at(src: Source, queue: str = "queue", entered: str = "entered_at") -> str:
    """When the service clock of a leg started (the queue entry for every queue but 999)."""
    start = clock_start_999(src)
    return f"if({queue} = '999' AND {start} IS NOT NULL, {start}, {entered})"


def service_wait(
    src: Source,
    queue: str = "queue",
    end: str = LEG_END,
    wait: str = "wait_seconds",
    offered: str = "offered_at",
    bt: str = "bt_connect_at",
) -> str:
    """Seconds on the service clock: from the 999 clock start to the end of the leg, else the raw
    queue wait (queue entry to the end; the platform's wait when the entry is not known)."""
    start = clock_start_999(src, offered, bt)
    return (
        f"if({queue} = '999' AND {start} IS NOT NULL, dateDiff('millisecond', {start}, {end}) / 1000, {wait})"
    )


def leg_short_abandon(src: Source, queue: str = "queue", wait: str = "service_wait_seconds") -> str:
    """Abandoned while queued with a service wait strictly below the queue's short threshold."""
    return f"ifNull(abandoned_in_queue AND {wait} < {src.short(queue)}, 0)"


def contact_short_abandon(src: Source) -> str:
    """The contact's final abandon was short: an IVR hang-up within the IVR short threshold of the
    IVR entry (of the offer when no entry is known; never when the threshold is NULL), or a queue
    abandon that was a short abandon of its leg (``abandon_queue``, ``abandon_wait_seconds``)."""
    ivr_wait = "dateDiff('millisecond', coalesce(ivr_entered_at, offered_at), abandoned_at) / 1000"
    queue_wait = service_wait(src, queue="abandon_queue", end="abandoned_at", wait="abandon_wait_seconds")
    stages = ", ".join(f"'{s}'" for s in IN_QUEUE_STAGES)
    return (
        "ifNull(outcome = 'abandoned' AND multiIf("
        f"abandon_stage = 'ivr', {ivr_wait} < {src.ivr_short}, "
        f"abandon_stage IN ({stages}), {queue_wait} < {src.short('abandon_queue')}, 0), 0)"
    )


def leg_columns(src: Source) -> tuple[tuple[str, str], ...]:
    """The derived columns of a leg, in an order where each may use the ones before it."""
    return (
        ("clock_started_at", clock_started_at(src)),
        ("service_wait_seconds", service_wait(src)),
        ("threshold_seconds", src.threshold("queue")),
        ("short_abandon_seconds", src.short("queue")),
        ("short_abandon", leg_short_abandon(src)),
    )


def contact_columns(src: Source) -> tuple[tuple[str, str], ...]:
    """The derived columns of a contact."""
    return (("short_abandon", contact_short_abandon(src)),)


def _derived(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{expr} AS {name}" for name, expr in columns)


def legs_from(where: str = "1", src: Source = PARAMS) -> str:
    """A subquery of ``contact_legs`` (FINAL) rows matching ``where`` with the derived columns."""
    return f"(SELECT *, {_derived(leg_columns(src))} FROM contact_legs FINAL WHERE {where})"


def contacts_from(where: str = "1", src: Source = PARAMS) -> str:
    """A subquery of ``contacts`` (FINAL) rows matching ``where`` with the derived columns."""
    return f"(SELECT *, {_derived(contact_columns(src))} FROM contacts FINAL WHERE {where})"


def applied_select(facts: str) -> str:
    """The SELECT of an analyst view of ``contact_legs`` or ``contacts`` (FINAL) with the derived
    columns under the definitions the worker runs under (migration 0103 holds this text)."""
    columns = leg_columns(ACTIVE) if facts == "contact_legs" else contact_columns(ACTIVE)
    return f"SELECT * EXCEPT ({ACTIVE_DEFS}), {_derived(columns)} FROM {facts} FINAL {active_join()}"


# -- reads -------------------------------------------------------------------------------------------
# Every statement the contact readers (``demandhub/queries/contacts.py``, ``trends.py``) run against
# the warehouse. The rollup modules are built on the fragments above, so the reads that name a
# rollup import them where they run.

_WAITING_LEGS = legs_from(
    "force_id = {f:String} AND outcome = 'waiting' AND entered_at IS NOT NULL AND contact_ended_at IS NULL"
)
_WAITING_SQL = (
    f"SELECT queue, clock_started_at FROM {_WAITING_LEGS} WHERE clock_started_at IS NOT NULL "
    "AND clock_started_at > {lo:DateTime64(3, 'UTC')} AND clock_started_at <= {now:DateTime64(3, 'UTC')}"
)
_RECENT_LEGS = legs_from(
    "force_id = {f:String} AND placed_at >= {placed_lo:DateTime64(3, 'UTC')} "
    "AND placed_at <= {now:DateTime64(3, 'UTC')} AND coalesce(answered_at, abandoned_at, callback_at, "
    "transferred_out_at) >= {lo:DateTime64(3, 'UTC')}"
)
_RECENT_SQL = (
    "SELECT queue, placed_at, outcome, entered_queue, abandoned_in_queue, callback_requested, "
    f"service_wait_seconds, answered_at, abandoned_at, callback_at, transferred_out_at FROM {_RECENT_LEGS}"
)


def waiting_legs(
    wh: Warehouse, force_id: str, lo: datetime, now: datetime, calls: CallDefinitions
) -> list[tuple[Any, ...]]:
    """(queue, clock_started_at) of every leg still waiting whose service clock started in
    ``(lo, now]``, under the call definitions."""
    values = {"f": force_id, "lo": lo, "now": now, **call_params(calls)}
    return wh.query(_WAITING_SQL, parameters=values).rows


def recent_legs(
    wh: Warehouse, force_id: str, lo: datetime, placed_lo: datetime, now: datetime, definitions: Definitions
) -> list[dict[str, Any]]:
    """The legs placed in ``[placed_lo, now]`` that left their queue at or after ``lo``: ``queue``,
    ``placed_at``, ``outcome``, ``entered_queue``, ``abandoned_in_queue``, ``callback_requested``,
    ``service_wait_seconds`` (under ``definitions``), ``answered_at``, ``abandoned_at``,
    ``callback_at``, ``transferred_out_at``."""
    values = {"f": force_id, "lo": lo, "placed_lo": placed_lo, "now": now, **params(definitions)}
    return wh.query(_RECENT_SQL, parameters=values).dicts()


_MONTH = "toStartOfMonth(toDate(bucket, {tz:String}))"
_IN_MONTHS = "force_id = {f:String} AND bucket >= {lo:DateTime('UTC')} AND bucket < {hi:DateTime('UTC')}"
_FACTS_IN_MONTHS = (
    "force_id = {f:String} AND placed_at >= toDateTime64({lo:DateTime('UTC')}, 3, 'UTC') "
    "AND placed_at < toDateTime64({hi:DateTime('UTC')}, 3, 'UTC')"
)


def rollup_rows(
    wh: Warehouse, rollup: Rollup, definitions: Definitions, bounded: bool = True, fresh: bool = True
) -> tuple[str, dict[str, Any]]:
    """A subquery of ``rollup``'s rows of force ``{f}`` (buckets in ``[{lo}, {hi})`` when
    ``bounded``) under ``definitions``, and the parameters it adds: the stored rows of the
    definitions' hash when the rollup is complete under them (refreshed first when ``fresh``), else
    the same rows computed from the facts by the rollup's own SELECT."""
    stored = reads_rollup(wh, rollup.table, definitions)
    if stored and fresh:
        ensure_fresh(wh)  # rollup buckets logged by recent batches are recomputed first
    return _rows_from(rollup, definitions, bounded, stored)


def _rows_from(
    rollup: Rollup, definitions: Definitions, bounded: bool, stored: bool
) -> tuple[str, dict[str, Any]]:
    """:func:`rollup_rows` once it is known whether the rollup's ``stored`` rows are read."""
    extra = rollup.query_params(definitions)
    if stored:
        where = _IN_MONTHS if bounded else "force_id = {f:String}"
        return (
            f"(SELECT * FROM {rollup.table} FINAL WHERE definition_hash = {{dh:String}} AND {where})",
            extra,
        )
    where = _FACTS_IN_MONTHS if bounded else "force_id = {f:String}"
    return f"({rollup.select(where)})", extra


_VOLUME_SQL = (
    f"SELECT {_MONTH} AS month, channel, sum(offered), sum(abandoned_never_answered), "
    "sum(abandoned_never_answered_short) FROM {rows} GROUP BY month, channel"
)
_QUEUE_SQL = (
    f"SELECT {_MONTH} AS month, queue, sum(entered), sum(answered), sum(answered_within_threshold), "
    "sum(abandoned), sum(abandoned_within_threshold), sum(abandoned_short), sum(callbacks) FROM {rows} "
    "WHERE queue IN {q:Array(String)} GROUP BY month, queue"
)
_CHANNEL_SINCE_SQL = f"SELECT channel, min({_MONTH}) FROM {{rows}} WHERE offered > 0 GROUP BY channel"


def _months(force_id: str, tz: str, lo: datetime, hi: datetime, queues: Sequence[str]) -> dict[str, Any]:
    return {"f": force_id, "tz": tz, "lo": lo, "hi": hi, "q": list(queues)}


_RECORDED_SQL = (
    f"SELECT name, definition_hash, definitions FROM {DEFINITIONS_TABLE} FINAL "
    "WHERE name IN {ns:Array(String)}"
)


def _recorded(wh: Warehouse, tables: Sequence[str]) -> dict[str, tuple[str, Definitions]]:
    """:func:`sinks.clickhouse.rollups.applied` of each of ``tables`` in one statement: table ->
    (hash, definitions) recorded, for the tables with a record."""
    out: dict[str, tuple[str, Definitions]] = {}
    for name, definition_hash, definitions in wh.query(_RECORDED_SQL, parameters={"ns": list(tables)}).rows:
        out.setdefault(str(name), (str(definition_hash), Definitions.model_validate_json(definitions)))
    return out


def _complete(recorded: dict[str, tuple[str, Definitions]], table: str, definitions: Definitions) -> bool:
    """:func:`sinks.clickhouse.rollups.reads_rollup` of ``table`` from its ``recorded`` definitions."""
    rollup = next((r for r in all_rollups() if r.table == table), None)
    if rollup is None:
        raise ValueError(f"no rollup {table!r}")
    found = recorded.get(table)
    return found is not None and found[0] == rollup.definition_hash(definitions)


def month_rows(
    wh: Warehouse,
    force_id: str,
    tz: str,
    lo: datetime,
    hi: datetime,
    queues: Sequence[str],
    definitions: Definitions,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The contacts' month rows, in three reads (two when both channel reads take the same rows):
    (month, channel, offered, abandoned never answered, of which short) per local month of ``tz``
    and channel, from the channel rollup's buckets in ``[lo, hi)`` (naive UTC) under
    ``definitions``; (channel, local month of its first
    contact) of each channel, ever (offers depend on no definition, so the channel rollup's rows of
    whatever definitions it is complete under answer it, ``definitions`` when none are recorded);
    and (month, queue, entered, answered, answered within threshold, abandoned, abandoned within
    threshold, short abandons, callbacks) per local month and queue of ``queues`` from the queue
    rollup, thresholds and short abandons as ``definitions`` set them. Each read takes the
    rollup's stored rows when it is complete under its definitions, else the rollup's own SELECT
    over the facts (:func:`rollup_rows`). The rollups' checks are made once for the three: the
    definitions both are recorded under are read in one statement, and the buckets logged are
    refreshed once, before the first read of stored rows."""
    from sinks.clickhouse.rollups_contacts import CHANNEL_ROLLUP, QUEUE_ROLLUP

    recorded = _recorded(wh, (CHANNEL_ROLLUP.table, QUEUE_ROLLUP.table))
    since_under = recorded[CHANNEL_ROLLUP.table][1] if CHANNEL_ROLLUP.table in recorded else definitions
    # Both channel reads take the same rows when the rollup's parameters (its definitions' hash
    # and values) are the same under the two definitions (the usual case: the rollup is recorded
    # under the definitions asked): then one read of every month answers both, the volumes kept for
    # the months asked (the first contacts' read is of every month anyway).
    once = CHANNEL_ROLLUP.query_params(since_under) == CHANNEL_ROLLUP.query_params(definitions)
    reads = (
        (CHANNEL_ROLLUP, _VOLUME_SQL, definitions, not once),
        *(() if once else ((CHANNEL_ROLLUP, _CHANNEL_SINCE_SQL, since_under, False),)),
        (QUEUE_ROLLUP, _QUEUE_SQL, definitions, True),
    )
    stored = [_complete(recorded, rollup.table, under) for rollup, _, under, _ in reads]
    if any(stored):
        ensure_fresh(wh)  # rollup buckets logged by recent batches are recomputed first
    values = _months(force_id, tz, lo, hi, queues)
    out = []
    for (rollup, sql, under, bounded), from_rollup in zip(reads, stored, strict=True):
        rows, extra = _rows_from(rollup, under, bounded, from_rollup)
        out.append(wh.query(sql.replace("{rows}", rows), parameters={**values, **extra}).rows)
    if not once:
        return out[0], out[1], out[2]
    return _asked_months(out[0], tz, lo, hi), _first_contacts(out[0]), out[1]


def _asked_months(rows: list[tuple[Any, ...]], tz: str, lo: datetime, hi: datetime) -> list[tuple[Any, ...]]:
    """The volume rows (first column the local month's first day) of the local months whose buckets
    are in ``[lo, hi)`` (naive UTC, local month boundaries)."""
    zone = ZoneInfo(tz)
    first = lo.replace(tzinfo=UTC).astimezone(zone).date()
    last = (hi.replace(tzinfo=UTC) - timedelta(microseconds=1)).astimezone(zone).date().replace(day=1)
    return [row for row in rows if first <= row[0] <= last]


def _first_contacts(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """(channel, first month with a contact offered) of every channel in the volume rows of every
    month, as :data:`_CHANNEL_SINCE_SQL` reads it."""
    first: dict[str, date] = {}
    for month, channel, offered, *_ in rows:
        if offered and (channel not in first or month < first[channel]):
            first[channel] = month
    return sorted(first.items())


_DAY_FACTS = (
    "force_id = {f:String} AND placed_at >= {s:DateTime64(3, 'UTC')} AND placed_at < {e:DateTime64(3, 'UTC')}"
)
_DAY_BUCKETS = (
    "force_id = {f:String} AND bucket >= {s:DateTime64(3, 'UTC')} AND bucket < {e:DateTime64(3, 'UTC')}"
)


def day_rollup_rows(
    wh: Warehouse, rollup: Rollup, force_id: str, start: datetime, end: datetime, definitions: Definitions
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``rollup``'s rows of contacts placed in ``[start, end)`` under ``definitions``: recomputed
    from the facts, and as stored (buckets in ``[start, end)``), keys and compared columns only."""
    from sinks.clickhouse.rollups_contacts import recompute_rows, stored_rows

    values = {"f": force_id, "s": start, "e": end}
    fresh = recompute_rows(wh, rollup, _DAY_FACTS, values, definitions)
    return fresh, stored_rows(wh, rollup, _DAY_BUCKETS, values, definitions)
