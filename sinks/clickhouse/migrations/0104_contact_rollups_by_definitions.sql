-- Rollups are caches of figures under some call definitions (migration 0004): their rows carry the
-- hash of the definitions they were computed under, and ORDER BY starts (force_id, definition_hash).
-- A sorting key cannot gain a leading column in place, so both tables are re-created; they hold
-- nothing the facts do not, and the worker's refresher (or the first replay) recomputes every bucket
-- under its definitions and records them in applied_definitions. Until then readers compute the same
-- figures from the facts. The analysts' views over the rollups read the rows of the recorded
-- definitions and bucket local days and months in the active definitions' time zone.
-- Partitioned by year, not month: an embedded warehouse opens every part when it starts (about 1 ms
-- a part), and ten years of monthly partitions left some 720 parts in the two tables.
-- calls_service_level_15m places a contact in the 15 minutes in which it left the queue (the
-- rollups place it by queue entry, as the board's months do): it is computed from the facts with
-- the active definitions (contact_legs_applied, migration 0103).
DROP TABLE IF EXISTS contact_queue_15m;

DROP TABLE IF EXISTS contact_channel_15m;

DELETE FROM applied_definitions WHERE name IN ('contact_queue_15m', 'contact_channel_15m');

CREATE TABLE IF NOT EXISTS contact_queue_15m
(
    force_id                   LowCardinality(String) COMMENT 'Owning force',
    definition_hash            LowCardinality(String) COMMENT 'Hash of the call definitions the row was computed under (applied_definitions)',
    bucket                     DateTime('UTC') COMMENT 'Start of the 15-minute bucket of the leg placed_at',
    channel                    LowCardinality(String) COMMENT '999, 101 or webchat',
    queue                      LowCardinality(String) COMMENT 'Queue',
    district                   LowCardinality(String) COMMENT 'District, empty when unknown',
    legs                       UInt64 COMMENT 'Queue visits (in-transfer legs included)',
    entered                    UInt64 COMMENT 'Contacts queued (the per-queue volume and abandonment denominator)',
    answered                   UInt64 COMMENT 'Answered',
    answered_within_threshold  UInt64 COMMENT 'Answered with a service wait below the service threshold of the row definitions',
    answered_within            Array(UInt64) COMMENT 'Answered with a service wait below each wait edge',
    abandoned                  UInt64 COMMENT 'Abandoned while queued (short abandons included)',
    abandoned_short            UInt64 COMMENT 'Short abandons under the short-abandon threshold of the row definitions',
    abandoned_within_threshold UInt64 COMMENT 'Abandoned while queued with a service wait below the threshold',
    abandoned_within           Array(UInt64) COMMENT 'Abandoned while queued with a service wait below each wait edge',
    abandoned_in_transfer      UInt64 COMMENT 'Abandoned in transfer to this queue',
    callbacks                  UInt64 COMMENT 'Callback requests (not abandons)',
    transferred_out            UInt64 COMMENT 'Transferred out of this queue',
    answer_wait_sum            Float64 COMMENT 'Sum of service waits of answered contacts (seconds)',
    answer_wait_sumsq          Float64 COMMENT 'Sum of squared service waits of answered contacts',
    answer_wait_max            Float64 COMMENT 'Longest service wait of an answered contact',
    abandon_wait_sum           Float64 COMMENT 'Sum of service waits of queue abandons (time to abandon)',
    longest_wait               Float64 COMMENT 'Longest service wait, answered or abandoned',
    answer_wait_quantiles      AggregateFunction(quantilesTDigest(0.5, 0.9), Float64) COMMENT 'Median and p90 state of answered service waits',
    is_deleted                 UInt8 COMMENT '1 for a tombstone of a bucket that was recomputed',
    version                    UInt64 COMMENT 'Refresh clock (nanoseconds); the latest row wins'
)
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY toYear(bucket)
ORDER BY (force_id, definition_hash, bucket, channel, queue, district)
COMMENT 'Per queue and 15-minute bucket: building blocks of service level, bands, abandonment and waits (use FINAL)';

CREATE TABLE IF NOT EXISTS contact_channel_15m
(
    force_id                  LowCardinality(String) COMMENT 'Owning force',
    definition_hash            LowCardinality(String) COMMENT 'Hash of the call definitions the row was computed under (applied_definitions)',
    bucket                    DateTime('UTC') COMMENT 'Start of the 15-minute bucket of the contact placed_at',
    channel                   LowCardinality(String) COMMENT '999, 101, webchat or online',
    district                  LowCardinality(String) COMMENT 'District, empty when unknown',
    report_type               LowCardinality(String) COMMENT 'Online report type, empty for calls and chats',
    offered                   UInt64 COMMENT 'Contacts offered (a call counts once whatever happened to it)',
    answered                  UInt64 COMMENT 'Contacts answered on some leg',
    abandoned                 UInt64 COMMENT 'Contacts whose final outcome is abandoned (any stage)',
    abandoned_never_answered  UInt64 COMMENT 'Abandoned and never answered (end-to-end abandonment numerator)',
    abandoned_never_answered_short UInt64 COMMENT 'Of those, short abandons',
    short_abandoned           UInt64 COMMENT 'Contacts whose final abandon was short',
    callbacks                 UInt64 COMMENT 'Contacts with a callback request',
    reached_ivr               UInt64 COMMENT 'Contacts that reached the IVR',
    reached_primary           UInt64 COMMENT 'Contacts queued in a first queue',
    reached_in_transfer       UInt64 COMMENT 'Contacts transferred',
    reached_secondary         UInt64 COMMENT 'Contacts queued in a queue reached by transfer',
    abandoned_ivr             UInt64 COMMENT 'Abandoned at the IVR stage',
    abandoned_primary         UInt64 COMMENT 'Abandoned in the primary queue',
    abandoned_in_transfer     UInt64 COMMENT 'Abandoned in transfer',
    abandoned_secondary       UInt64 COMMENT 'Abandoned in the secondary queue',
    e2e_answered              UInt64 COMMENT 'Contacts with an end-to-end wait (offered and answered)',
    e2e_wait_sum              Float64 COMMENT 'Sum of end-to-end waits (offered to final answer)',
    e2e_wait_sumsq            Float64 COMMENT 'Sum of squared end-to-end waits',
    e2e_wait_max              Float64 COMMENT 'Longest end-to-end wait',
    e2e_answered_within       Array(UInt64) COMMENT 'End-to-end waits below each wait edge',
    triaged                   UInt64 COMMENT 'Online reports triaged',
    is_deleted                UInt8 COMMENT '1 for a tombstone of a bucket that was recomputed',
    version                   UInt64 COMMENT 'Refresh clock (nanoseconds); the latest row wins'
)
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY toYear(bucket)
ORDER BY (force_id, definition_hash, bucket, channel, district, report_type)
COMMENT 'Per channel and 15-minute bucket: volumes, end-to-end and by-stage abandonment (use FINAL)';

CREATE OR REPLACE VIEW contact_queue_hour
COMMENT 'contact_queue_15m by local hour (time zone of the active definitions)'
AS SELECT force_id, toStartOfHour(toTimeZone(bucket, ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London'))) AS hour, channel, queue, district,
    sum(legs) AS legs, sum(entered) AS entered, sum(answered) AS answered,
    sum(answered_within_threshold) AS answered_within_threshold, sumForEach(answered_within) AS answered_within,
    sum(abandoned) AS abandoned, sum(abandoned_short) AS abandoned_short,
    sum(abandoned_within_threshold) AS abandoned_within_threshold, sumForEach(abandoned_within) AS abandoned_within,
    sum(abandoned_in_transfer) AS abandoned_in_transfer, sum(callbacks) AS callbacks,
    sum(transferred_out) AS transferred_out, sum(answer_wait_sum) AS answer_wait_sum,
    sum(answer_wait_sumsq) AS answer_wait_sumsq, max(answer_wait_max) AS answer_wait_max,
    sum(abandon_wait_sum) AS abandon_wait_sum, max(longest_wait) AS longest_wait,
    quantilesTDigestMerge(0.5, 0.9)(answer_wait_quantiles) AS answer_wait_p50_p90
FROM contact_queue_15m FINAL
WHERE definition_hash = (SELECT any(definition_hash) FROM applied_definitions FINAL WHERE name = 'contact_queue_15m')
GROUP BY force_id, hour, channel, queue, district;

CREATE OR REPLACE VIEW contact_queue_day
COMMENT 'contact_queue_15m by local day (time zone of the active definitions)'
AS SELECT force_id, toDate(bucket, ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London')) AS day, channel, queue, district,
    sum(legs) AS legs, sum(entered) AS entered, sum(answered) AS answered,
    sum(answered_within_threshold) AS answered_within_threshold, sumForEach(answered_within) AS answered_within,
    sum(abandoned) AS abandoned, sum(abandoned_short) AS abandoned_short,
    sum(abandoned_within_threshold) AS abandoned_within_threshold, sumForEach(abandoned_within) AS abandoned_within,
    sum(abandoned_in_transfer) AS abandoned_in_transfer, sum(callbacks) AS callbacks,
    sum(transferred_out) AS transferred_out, sum(answer_wait_sum) AS answer_wait_sum,
    sum(answer_wait_sumsq) AS answer_wait_sumsq, max(answer_wait_max) AS answer_wait_max,
    sum(abandon_wait_sum) AS abandon_wait_sum, max(longest_wait) AS longest_wait,
    quantilesTDigestMerge(0.5, 0.9)(answer_wait_quantiles) AS answer_wait_p50_p90
FROM contact_queue_15m FINAL
WHERE definition_hash = (SELECT any(definition_hash) FROM applied_definitions FINAL WHERE name = 'contact_queue_15m')
GROUP BY force_id, day, channel, queue, district;

CREATE OR REPLACE VIEW contact_queue_month
COMMENT 'contact_queue_15m by local calendar month (time zone of the active definitions)'
AS SELECT force_id, toStartOfMonth(toDate(bucket, ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London'))) AS month, channel, queue, district,
    sum(legs) AS legs, sum(entered) AS entered, sum(answered) AS answered,
    sum(answered_within_threshold) AS answered_within_threshold, sumForEach(answered_within) AS answered_within,
    sum(abandoned) AS abandoned, sum(abandoned_short) AS abandoned_short,
    sum(abandoned_within_threshold) AS abandoned_within_threshold, sumForEach(abandoned_within) AS abandoned_within,
    sum(abandoned_in_transfer) AS abandoned_in_transfer, sum(callbacks) AS callbacks,
    sum(transferred_out) AS transferred_out, sum(answer_wait_sum) AS answer_wait_sum,
    sum(answer_wait_sumsq) AS answer_wait_sumsq, max(answer_wait_max) AS answer_wait_max,
    sum(abandon_wait_sum) AS abandon_wait_sum, max(longest_wait) AS longest_wait,
    quantilesTDigestMerge(0.5, 0.9)(answer_wait_quantiles) AS answer_wait_p50_p90
FROM contact_queue_15m FINAL
WHERE definition_hash = (SELECT any(definition_hash) FROM applied_definitions FINAL WHERE name = 'contact_queue_15m')
GROUP BY force_id, month, channel, queue, district;

CREATE OR REPLACE VIEW contact_channel_day
COMMENT 'contact_channel_15m by local day (time zone of the active definitions): volumes and end-to-end abandonment'
AS SELECT force_id, toDate(bucket, ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London')) AS day, channel, district, report_type,
    sum(offered) AS offered, sum(answered) AS answered, sum(abandoned) AS abandoned,
    sum(abandoned_never_answered) AS abandoned_never_answered,
    sum(abandoned_never_answered_short) AS abandoned_never_answered_short,
    sum(short_abandoned) AS short_abandoned, sum(callbacks) AS callbacks,
    sum(reached_ivr) AS reached_ivr, sum(reached_primary) AS reached_primary,
    sum(reached_in_transfer) AS reached_in_transfer, sum(reached_secondary) AS reached_secondary,
    sum(abandoned_ivr) AS abandoned_ivr, sum(abandoned_primary) AS abandoned_primary,
    sum(abandoned_in_transfer) AS abandoned_in_transfer, sum(abandoned_secondary) AS abandoned_secondary,
    sum(e2e_answered) AS e2e_answered, sum(e2e_wait_sum) AS e2e_wait_sum,
    sum(e2e_wait_sumsq) AS e2e_wait_sumsq, max(e2e_wait_max) AS e2e_wait_max,
    sumForEach(e2e_answered_within) AS e2e_answered_within, sum(triaged) AS triaged
FROM contact_channel_15m FINAL
WHERE definition_hash = (SELECT any(definition_hash) FROM applied_definitions FINAL WHERE name = 'contact_channel_15m')
GROUP BY force_id, day, channel, district, report_type;

CREATE OR REPLACE VIEW contact_channel_month
COMMENT 'contact_channel_15m by local calendar month (time zone of the active definitions): volumes and end-to-end abandonment'
AS SELECT force_id, toStartOfMonth(toDate(bucket, ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London'))) AS month, channel, district, report_type,
    sum(offered) AS offered, sum(answered) AS answered, sum(abandoned) AS abandoned,
    sum(abandoned_never_answered) AS abandoned_never_answered,
    sum(abandoned_never_answered_short) AS abandoned_never_answered_short,
    sum(short_abandoned) AS short_abandoned, sum(callbacks) AS callbacks,
    sum(reached_ivr) AS reached_ivr, sum(reached_primary) AS reached_primary,
    sum(reached_in_transfer) AS reached_in_transfer, sum(reached_secondary) AS reached_secondary,
    sum(abandoned_ivr) AS abandoned_ivr, sum(abandoned_primary) AS abandoned_primary,
    sum(abandoned_in_transfer) AS abandoned_in_transfer, sum(abandoned_secondary) AS abandoned_secondary,
    sum(e2e_answered) AS e2e_answered, sum(e2e_wait_sum) AS e2e_wait_sum,
    sum(e2e_wait_sumsq) AS e2e_wait_sumsq, max(e2e_wait_max) AS e2e_wait_max,
    sumForEach(e2e_answered_within) AS e2e_answered_within, sum(triaged) AS triaged
FROM contact_channel_15m FINAL
WHERE definition_hash = (SELECT any(definition_hash) FROM applied_definitions FINAL WHERE name = 'contact_channel_15m')
GROUP BY force_id, month, channel, district, report_type;

CREATE OR REPLACE VIEW calls_service_level_15m
COMMENT 'Service level per queue and 15-minute bucket in which contacts left the queue (answered, abandoned, called back or transferred out: the contact-centre convention, so a bucket holds waits longer than itself), under each abandon convention, with counts; computed from the facts under the active definitions'
AS SELECT force_id, toDateTime(toStartOfFifteenMinutes(assumeNotNull(left_queue_at)), 'UTC') AS bucket, channel, queue,
    countIf(entered_queue) AS entered, countIf(outcome = 'answered') AS answered,
    countIf(outcome = 'answered' AND service_wait_seconds < threshold_seconds) AS answered_in_threshold,
    countIf(abandoned_in_queue) AS abandoned,
    countIf(abandoned_in_queue AND service_wait_seconds < threshold_seconds) AS abandoned_in_threshold,
    countIf(short_abandon) AS short_abandoned,
    answered_in_threshold AS answered_basis_num, answered AS answered_basis_den,
    answered_in_threshold AS ignore_num, answered + abandoned - abandoned_in_threshold AS ignore_den,
    answered_in_threshold + abandoned_in_threshold AS count_as_met_num, answered + abandoned AS count_as_met_den,
    answered_in_threshold AS count_as_missed_num, answered + abandoned AS count_as_missed_den,
    answered_in_threshold AS offered_basis_num, answered + abandoned - short_abandoned AS offered_basis_den,
    if(answered_basis_den = 0, NULL, 100 * answered_basis_num / answered_basis_den) AS service_level_pct,
    abandoned - short_abandoned AS abandonment_num, entered - short_abandoned AS abandonment_den,
    if(abandonment_den = 0, NULL, 100 * abandonment_num / abandonment_den) AS abandonment_pct
FROM
(
    SELECT *, coalesce(answered_at, abandoned_at, callback_at, transferred_out_at) AS left_queue_at
    FROM contact_legs_applied
    WHERE left_queue_at IS NOT NULL
)
GROUP BY force_id, bucket, channel, queue;
