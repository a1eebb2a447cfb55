"""Every Prometheus metric of the hub, declared once with fixed, low-cardinality label sets.

Units are base units (seconds); counters end in ``_total``. Label values come from closed sets
(topic, table, queue, channel, grade, reason class), never from ids or personal data.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)


def observe_many(histogram: Histogram, amounts: Iterable[float]) -> None:
    """``histogram.observe(a)`` for every ``a`` of ``amounts`` (a histogram without labels or one
    labelled child), leaving the same bucket counts and the same sum (up to the order of a float
    sum). A write cycle's latencies are counted per bucket first: ``observe`` takes two locks per
    amount, this one per bucket touched and one for the sum (it reads the histogram's bucket bounds
    and values, as ``observe`` does; prometheus-client is pinned)."""
    bounds = histogram._upper_bounds
    counts: dict[int, int] = {}
    total = 0.0
    seen = False
    for amount in amounts:
        seen = True
        total += amount
        if amount == amount:  # NaN lands in no bucket, as with ``observe``
            i = bisect_left(bounds, amount)
            counts[i] = counts.get(i, 0) + 1
    if not seen:
        return
    histogram._raise_if_not_observable()  # type: ignore[no-untyped-call]  # untyped upstream
    histogram._sum.inc(total)
    for i, n in counts.items():
        histogram._buckets[i].inc(n)


def observe_by_labels(histogram: Histogram, observations: Iterable[tuple[tuple[str, ...], float]]) -> None:
    """``histogram.labels(*labels).observe(amount)`` for every ``(labels, amount)``: the amounts
    grouped by their label values, each labelled child observed once (:func:`observe_many`)."""
    grouped: dict[tuple[str, ...], list[float]] = {}
    for labels, amount in observations:
        amounts = grouped.get(labels)
        if amounts is None:
            amounts = grouped[labels] = []
        amounts.append(amount)
    for labels, amounts in grouped.items():
        observe_many(histogram.labels(*labels), amounts)


def inc_by_labels(counter: Counter, labels_each: Iterable[tuple[str, ...]]) -> None:
    """``counter.labels(*labels).inc()`` for every ``labels``: counted first, each labelled child
    incremented once by its count."""
    counts: dict[tuple[str, ...], int] = {}
    for labels in labels_each:
        counts[labels] = counts.get(labels, 0) + 1
    for labels, n in counts.items():
        counter.labels(*labels).inc(n)


ANSWER_BUCKETS = (2, 5, 10, 15, 20, 30, 60, 120, 300, 600)
ATTENDANCE_BUCKETS = (300, 600, 900, 1200, 1800, 3600, 7200)

# --- pipeline health -------------------------------------------------------------------------
EVENTS_CONSUMED = Counter(
    "demandhub_events_consumed_total",
    "Messages consumed from input topics.",
    ["topic"],
    registry=REGISTRY,
)
EVENTS_ACCEPTED = Counter(
    "demandhub_events_accepted_total",
    "Valid events written to the ledger.",
    ["topic"],
    registry=REGISTRY,
)
EVENTS_DUPLICATE = Counter(
    "demandhub_events_duplicate_total",
    "Events already seen (same source and id).",
    ["topic"],
    registry=REGISTRY,
)
EVENTS_INVALID = Counter(
    "demandhub_events_invalid_total",
    "Messages sent to the dead-letter topic, by reason class.",
    ["topic", "reason"],
    registry=REGISTRY,
)
EVENTS_QUARANTINED = Counter(
    "demandhub_events_quarantined_total",
    "Events refused as impossible sequences.",
    ["topic"],
    registry=REGISTRY,
)
SINK_ROWS = Counter(
    "demandhub_sink_rows_total",
    "Rows written to the warehouse.",
    ["table"],
    registry=REGISTRY,
)
SINK_BATCHES = Counter(
    "demandhub_sink_batches_total",
    "Batches written to the warehouse.",
    ["topic"],
    registry=REGISTRY,
)
SINK_FAILURES = Counter(
    "demandhub_sink_failures_total",
    "Failed warehouse writes (retried with back-off).",
    ["topic"],
    registry=REGISTRY,
)
SINK_WRITE_SECONDS = Histogram(
    "demandhub_sink_write_seconds",
    "Time to process and write one batch.",
    ["topic"],
    registry=REGISTRY,
)
SINK_BACKING_OFF = Gauge(
    "demandhub_sink_backing_off",
    "1 while a topic's batches wait for the warehouse.",
    ["topic"],
    registry=REGISTRY,
)
SINK_OUT_OF_SPACE = Gauge(
    "demandhub_sink_out_of_space",
    "1 while a topic's batches wait because the warehouse's disk is full (free space to resume).",
    ["topic"],
    registry=REGISTRY,
)
END_TO_END_SECONDS = Histogram(
    "demandhub_end_to_end_latency_seconds",
    "From the hub receiving an event (broker timestamp) to its batch being durable.",
    ["topic"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "demandhub_consumer_lag_messages",
    "Messages behind the partition high-watermark.",
    ["topic"],
    registry=REGISTRY,
)
CONSUMER_STALLED = Gauge(
    "demandhub_consumer_stalled",
    "1 while messages wait and the consumer has fetched or committed nothing for consumer_stall_seconds.",
    registry=REGISTRY,
)
WORKER_STARTUP_SECONDS = Gauge(
    "demandhub_worker_startup_seconds",
    "Seconds from the worker's launch to each start-up step (join_started, topics_declared, imports, "
    "warehouse_open, migrated, faust_started, consumer_assigned, first_fetch, first_cycle).",
    ["stage"],
    registry=REGISTRY,
)
WORKER_GC_FROZEN = Gauge(
    "demandhub_worker_gc_frozen_objects",
    "Objects in the garbage collector's permanent generation (gc.get_freeze_count()): what start-up "
    "and the heap settling froze. Cycles that die while frozen are reclaimed only by a full "
    "collection after an unfreeze (streams.heap).",
    registry=REGISTRY,
)
WORKER_GC_RECLAIMED = Counter(
    "demandhub_worker_gc_reclaimed_objects_total",
    "Unreachable objects found by the worker's periodic full collection: reference cycles that died "
    "while frozen by the heap settling, which no young collection frees.",
    registry=REGISTRY,
)
WORKER_PYTHON_BLOCKS = Gauge(
    "demandhub_worker_python_allocated_blocks",
    "Memory blocks Python's allocator has handed out and not freed (sys.getallocatedblocks()).",
    registry=REGISTRY,
)
HISTORY_CACHE_EVENTS = Gauge(
    "demandhub_history_cache_events",
    "Events held in the worker's cache of subject histories (streams.history_cache), sampled every "
    "10 s: it grows until it reaches DEMANDHUB_HISTORY_CACHE_EVENTS, then stays near that bound. "
    "Until then the worker's Python heap grows with it (2-3 KB an event), which is start-up, not a leak.",
    registry=REGISTRY,
)
ROLLUP_REFRESH_POSTPONED = Gauge(
    "demandhub_rollup_refresh_postponed",
    "1 while the worker postpones its rollup refresh to catch up a backlog (at most "
    "DEMANDHUB_ROLLUP_REFRESH_BACKLOG_SECONDS at a time), else 0.",
    registry=REGISTRY,
)
WORKER_NATIVE_HEAP_BYTES = Gauge(
    "demandhub_worker_native_heap_bytes",
    "Native memory by allocator, in bytes: glibc_system (what the C allocator Python uses took from "
    "the system over every arena, mapped blocks included), glibc_in_use (of it, handed out and not "
    "freed), engine_tracked (the embedded engine's own accounting, system.metrics MemoryTracking), "
    "engine_allocated and engine_resident (the embedded engine's allocator, jemalloc: handed out, and "
    "its pages in memory), engine_thread_cached (of engine_allocated, freed blocks kept in its "
    "threads' own caches), and the parts of engine_resident: engine_active (pages holding blocks "
    "handed out), engine_metadata (the allocator's bookkeeping), engine_dirty (freed pages not yet "
    "returned); the engine's kinds sampled every minute. Set beside the resident set size they show "
    "which allocator a growth is in, and in which of its parts.",
    ["kind"],
    registry=REGISTRY,
)
DLQ_PRODUCED = Counter(
    "demandhub_dlq_messages_total",
    "Messages produced to dead-letter topics.",
    ["dlq_topic"],
    registry=REGISTRY,
)

# --- analyst SQL -----------------------------------------------------------------------------
SQL_RUNNING = Gauge(
    "demandhub_sql_queries_running",
    "Analyst SQL queries running now (at most DEMANDHUB_SQL_MAX_CONCURRENT_QUERIES).",
    registry=REGISTRY,
)
SQL_WAITING = Gauge(
    "demandhub_sql_queries_waiting",
    "Analyst SQL queries waiting for a free read session.",
    registry=REGISTRY,
)
SQL_BUSY = Counter(
    "demandhub_sql_busy_total",
    "Analyst SQL queries answered 'busy, try again' (503).",
    registry=REGISTRY,
)

# --- live contact measures -------------------------------------------------------------------
CONTACTS_OFFERED = Counter(
    "demandhub_contacts_offered_total",
    "Contacts offered.",
    ["channel", "queue"],
    registry=REGISTRY,
)
CONTACTS_ANSWERED = Counter(
    "demandhub_contacts_answered_total",
    "Contacts answered.",
    ["channel", "queue"],
    registry=REGISTRY,
)
CONTACTS_ABANDONED = Counter(
    "demandhub_contacts_abandoned_total",
    "Contacts abandoned.",
    ["channel", "queue"],
    registry=REGISTRY,
)
ANSWER_WAIT_SECONDS = Histogram(
    "demandhub_answer_wait_seconds",
    "Wait from queue entry to answer.",
    ["queue"],
    buckets=ANSWER_BUCKETS,
    registry=REGISTRY,
)
QUEUE_WAITING = Gauge(
    "demandhub_queue_waiting_contacts",
    "Contacts waiting now.",
    ["queue"],
    registry=REGISTRY,
)
QUEUE_LONGEST_WAIT = Gauge(
    "demandhub_queue_longest_wait_seconds",
    "Age of the oldest waiting contact.",
    ["queue"],
    registry=REGISTRY,
)

# --- live incident measures ------------------------------------------------------------------
INCIDENTS_OPEN = Gauge(
    "demandhub_incidents_open_unattended",
    "Open incidents not yet attended.",
    ["grade"],
    registry=REGISTRY,
)
INCIDENTS_BREACHED = Gauge(
    "demandhub_incidents_breached_unattended",
    "Open, unattended incidents past their attendance target.",
    ["grade"],
    registry=REGISTRY,
)
ATTENDANCE_SECONDS = Histogram(
    "demandhub_attendance_seconds",
    "Incident creation to first arrival.",
    ["grade", "urban_rural"],
    buckets=ATTENDANCE_BUCKETS,
    registry=REGISTRY,
)

# --- live crime measures ---------------------------------------------------------------------
QA_QUEUE_DEPTH = Gauge(
    "demandhub_qa_linking_queue_depth",
    "Crimes in the QA/Linking queue now.",
    registry=REGISTRY,
)
QA_QUEUE_OLDEST_SECONDS = Gauge(
    "demandhub_qa_linking_queue_oldest_seconds",
    "Age of the oldest item in the QA/Linking queue.",
    registry=REGISTRY,
)

# --- live social media measures -------------------------------------------------------------
FIRST_RESPONSE_BUCKETS = (300, 600, 900, 1800, 2700, 3600, 7200, 14400, 28800, 86400)
"""Seconds: 5, 10, 15, 30, 45 min, 1, 2, 4, 8 h and a day (social media is answered in minutes to hours)."""

SOCIAL_THREADS_RECEIVED = Counter(
    "demandhub_social_threads_received_total",
    "Social media threads received, by platform (reference data; other when the force's own).",
    ["platform"],
    registry=REGISTRY,
)
SOCIAL_FIRST_RESPONSE_SECONDS = Histogram(
    "demandhub_social_first_response_seconds",
    "Wait from a social media thread's receipt to the force's first response.",
    ["platform"],
    buckets=FIRST_RESPONSE_BUCKETS,
    registry=REGISTRY,
)
SOCIAL_THREADS_WAITING = Gauge(
    "demandhub_social_threads_waiting",
    "Social media threads open with no response yet.",
    registry=REGISTRY,
)
SOCIAL_OLDEST_UNANSWERED_SECONDS = Gauge(
    "demandhub_social_oldest_unanswered_seconds",
    "Age of the oldest social media thread waiting for a first response (0 when none).",
    registry=REGISTRY,
)
SOCIAL_THREADS_OVER_TARGET = Gauge(
    "demandhub_social_threads_over_target",
    "Social media threads waiting for a first response past social.first_response_target_minutes.",
    registry=REGISTRY,
)

# --- feed health (per source system; demandhub/web/feeds.py) ---------------------------------
FEED_STATE = Gauge(
    "demandhub_feed_state",
    "State of a source feed: 0 healthy, 1 quiet, 2 silent (its silence is improbable at the arrival "
    "rate it has at this hour and weekday).",
    ["source"],
    registry=REGISTRY,
)
FEED_SILENT = Gauge(
    "demandhub_feed_silent",
    "1 while a source feed is silent (judged against its expected arrival rate), else 0.",
    ["source"],
    registry=REGISTRY,
)
FEED_SECONDS_SINCE = Gauge(
    "demandhub_feed_seconds_since_last_event",
    "Seconds since the hub last received an event from the source (+Inf: none in two days).",
    ["source"],
    registry=REGISTRY,
)
FEED_EXPECTED_RATE = Gauge(
    "demandhub_feed_expected_events_per_hour",
    "Events per hour the source normally sends at this hour of this weekday (NaN: no history).",
    ["source"],
    registry=REGISTRY,
)
