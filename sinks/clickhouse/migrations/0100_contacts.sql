-- Contact facts (calls, web chats, online reports) and their 15-minute rollups (DOMAIN 3.2, 4.1-4.5).
-- Facts are rewritten as events arrive (ReplacingMergeTree on their identity, latest version wins);
-- rollups are recomputed from the facts (FINAL) for touched buckets only, never summed from rewrites.
CREATE TABLE IF NOT EXISTS contact_legs
(
    force_id              LowCardinality(String) COMMENT 'Owning force',
    contact_id            String COMMENT 'Contact id (the event subject)',
    channel               LowCardinality(String) COMMENT '999, 101 or webchat (empty until known)',
    district              LowCardinality(String) COMMENT 'Caller district if known, else empty',
    offered_at            Nullable(DateTime64(3, 'UTC')) COMMENT 'When the contact was offered to the force',
    bt_connect_at         Nullable(DateTime64(3, 'UTC')) COMMENT '999: when the BT operator connected the caller, if supplied',
    leg_id                String COMMENT 'Leg identity: <contact_id>/<queue> (one leg per queue visited)',
    queue                 LowCardinality(String) COMMENT 'Queue of this leg: 999, 101-primary, 101-secondary, webchat or x-...',
    leg_index             UInt8 COMMENT 'Order of the leg within the contact (0 = first queue)',
    stage                 LowCardinality(String) COMMENT 'primary_queue, or secondary_queue for a queue reached by transfer',
    entered_at            Nullable(DateTime64(3, 'UTC')) COMMENT 'Queue visit start: queued, or transferred in, whichever first',
    queued_at             Nullable(DateTime64(3, 'UTC')) COMMENT 'When the contact joined this queue',
    transferred_in_at     Nullable(DateTime64(3, 'UTC')) COMMENT 'When the contact was transferred to this queue',
    transferred_from      LowCardinality(String) COMMENT 'Queue it was transferred from, else empty',
    clock_start           LowCardinality(String) COMMENT 'Service clock used: offered, bt_connect or queued (999 per definitions; others queued)',
    clock_started_at      Nullable(DateTime64(3, 'UTC')) COMMENT 'When the service clock started',
    answered_at           Nullable(DateTime64(3, 'UTC')) COMMENT 'When answered in this queue',
    abandoned_at          Nullable(DateTime64(3, 'UTC')) COMMENT 'When the caller gave up on this leg',
    abandon_stage         LowCardinality(String) COMMENT 'primary_queue, in_transfer or secondary_queue when abandoned, else empty',
    callback_at           Nullable(DateTime64(3, 'UTC')) COMMENT 'When a callback was requested (not an abandon)',
    callback_requested    Bool COMMENT 'The leg ended in a callback request',
    transferred_out_at    Nullable(DateTime64(3, 'UTC')) COMMENT 'When the contact was transferred out of this queue',
    transferred_to        LowCardinality(String) COMMENT 'Queue it was transferred to, else empty',
    outcome               LowCardinality(String) COMMENT 'answered, abandoned, callback, transferred or waiting',
    entered_queue         Bool COMMENT 'The contact was queued here (the per-queue denominator)',
    abandoned_in_queue    Bool COMMENT 'Abandoned while queued (in-transfer abandons excluded)',
    wait_seconds          Nullable(Float64) COMMENT 'Raw queue wait: queue entry to answer, abandon or callback',
    service_wait_seconds  Nullable(Float64) COMMENT 'Wait on the service clock (clock_started_at to the end of the leg)',
    threshold_seconds     Nullable(UInt32) COMMENT 'Service threshold of the queue under the definitions the fact was built with',
    short_abandon_seconds Nullable(UInt32) COMMENT 'Short-abandon threshold of the queue under those definitions',
    short_abandon         Bool COMMENT 'Abandoned while queued with a service wait below the short-abandon threshold',
    placed_at             DateTime64(3, 'UTC') COMMENT 'Time that places the leg in a period: queue entry (else first event naming it)',
    contact_ended_at      Nullable(DateTime64(3, 'UTC')) COMMENT 'When the contact ended, if it has',
    definition_version    LowCardinality(String) COMMENT 'Version of the definitions the fact was built with',
    version               UInt64 COMMENT 'Number of events folded (the latest version wins)',
    INDEX ix_placed placed_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (force_id, leg_id)
COMMENT 'One row per queue visit of a call or web chat (use FINAL)';

CREATE TABLE IF NOT EXISTS contacts
(
    force_id           LowCardinality(String) COMMENT 'Owning force',
    contact_id         String COMMENT 'Contact id (the event subject)',
    channel            LowCardinality(String) COMMENT '999, 101, webchat or online (empty until known)',
    district           LowCardinality(String) COMMENT 'District if known, else empty',
    offered_at         Nullable(DateTime64(3, 'UTC')) COMMENT 'Offered (calls), requested (chats) or submitted (online reports)',
    bt_connect_at      Nullable(DateTime64(3, 'UTC')) COMMENT '999: BT connect time if supplied',
    placed_at          DateTime64(3, 'UTC') COMMENT 'Time that places the contact in a period: offered_at, else its first event',
    first_queue        LowCardinality(String) COMMENT 'First queue visited, else empty',
    legs               UInt8 COMMENT 'Number of queues visited',
    reached_ivr        Bool COMMENT 'The call entered the IVR',
    reached_primary    Bool COMMENT 'The contact was queued in a first (non-transfer) queue',
    transferred        Bool COMMENT 'The contact was transferred (reached the in_transfer stage)',
    reached_secondary  Bool COMMENT 'The contact was queued in a queue reached by transfer',
    outcome            LowCardinality(String) COMMENT 'Calls/chats: answered, abandoned, callback, ended, waiting; online: submitted, triaged, linked',
    ever_answered      Bool COMMENT 'Answered on at least one leg',
    first_answered_at  Nullable(DateTime64(3, 'UTC')) COMMENT 'First answer',
    answered_at        Nullable(DateTime64(3, 'UTC')) COMMENT 'Final answer (across the transfer)',
    e2e_wait_seconds   Nullable(Float64) COMMENT 'End to end: offered to final answer',
    abandoned_at       Nullable(DateTime64(3, 'UTC')) COMMENT 'When the contact was abandoned (final outcome abandoned)',
    abandon_stage      LowCardinality(String) COMMENT 'ivr, primary_queue, in_transfer or secondary_queue when abandoned',
    short_abandon      Bool COMMENT 'The final abandon was a short abandon',
    callback_requested Bool COMMENT 'A callback was requested on some leg',
    ended_at           Nullable(DateTime64(3, 'UTC')) COMMENT 'When the contact ended',
    disposition        LowCardinality(String) COMMENT 'Disposition code at the end, else empty',
    incident_id        String COMMENT 'Linked incident id, else empty',
    report_type        LowCardinality(String) COMMENT 'Online reports: crime, asb, traffic, intelligence or other',
    triaged_at         Nullable(DateTime64(3, 'UTC')) COMMENT 'Online reports: when triaged',
    triage_outcome     LowCardinality(String) COMMENT 'Online reports: triage outcome',
    crime_id           String COMMENT 'Online reports: linked crime id, else empty',
    definition_version LowCardinality(String) COMMENT 'Version of the definitions the fact was built with',
    version            UInt64 COMMENT 'Number of events folded (the latest version wins)',
    INDEX ix_placed placed_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (force_id, contact_id)
COMMENT 'One row per contact end to end: calls, web chats and online reports (use FINAL)';

-- answered_within / abandoned_within arrays are aligned with the wait edges
-- [2, 5, 10, 15, 20, 30, 60, 120, 300, 600] seconds (streams.domain.servicelevel.WAIT_EDGES):
-- element i counts waits strictly below edge i.
CREATE TABLE IF NOT EXISTS contact_queue_15m
(
    force_id                   LowCardinality(String) COMMENT 'Owning force',
    bucket                     DateTime('UTC') COMMENT 'Start of the 15-minute bucket of the leg placed_at',
    channel                    LowCardinality(String) COMMENT '999, 101 or webchat',
    queue                      LowCardinality(String) COMMENT 'Queue',
    district                   LowCardinality(String) COMMENT 'District, empty when unknown',
    legs                       UInt64 COMMENT 'Queue visits (in-transfer legs included)',
    entered                    UInt64 COMMENT 'Contacts queued (the per-queue volume and abandonment denominator)',
    answered                   UInt64 COMMENT 'Answered',
    answered_within_threshold  UInt64 COMMENT 'Answered with a service wait below the fact threshold_seconds',
    answered_within            Array(UInt64) COMMENT 'Answered with a service wait below each wait edge',
    abandoned                  UInt64 COMMENT 'Abandoned while queued (short abandons included)',
    abandoned_short            UInt64 COMMENT 'Short abandons (fact short_abandon flag)',
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
PARTITION BY toYYYYMM(bucket)
ORDER BY (force_id, bucket, channel, queue, district)
COMMENT 'Per queue and 15-minute bucket: building blocks of service level, bands, abandonment and waits (use FINAL)';

CREATE TABLE IF NOT EXISTS contact_channel_15m
(
    force_id                  LowCardinality(String) COMMENT 'Owning force',
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
PARTITION BY toYYYYMM(bucket)
ORDER BY (force_id, bucket, channel, district, report_type)
COMMENT 'Per channel and 15-minute bucket: volumes, end-to-end and by-stage abandonment (use FINAL)';

CREATE VIEW IF NOT EXISTS contact_queue_hour
COMMENT 'contact_queue_15m by local hour (Europe/London)'
AS SELECT force_id, toStartOfHour(toTimeZone(bucket, 'Europe/London')) AS hour, channel, queue, district,
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
GROUP BY force_id, hour, channel, queue, district;

CREATE VIEW IF NOT EXISTS contact_queue_day
COMMENT 'contact_queue_15m by local day (Europe/London)'
AS SELECT force_id, toDate(bucket, 'Europe/London') AS day, channel, queue, district,
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
GROUP BY force_id, day, channel, queue, district;

CREATE VIEW IF NOT EXISTS contact_queue_month
COMMENT 'contact_queue_15m by local calendar month (Europe/London)'
AS SELECT force_id, toStartOfMonth(toDate(bucket, 'Europe/London')) AS month, channel, queue, district,
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
GROUP BY force_id, month, channel, queue, district;

CREATE VIEW IF NOT EXISTS contact_channel_day
COMMENT 'contact_channel_15m by local day (Europe/London): volumes and end-to-end abandonment'
AS SELECT force_id, toDate(bucket, 'Europe/London') AS day, channel, district, report_type,
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
GROUP BY force_id, day, channel, district, report_type;

CREATE VIEW IF NOT EXISTS contact_channel_month
COMMENT 'contact_channel_15m by local calendar month (Europe/London): volumes and end-to-end abandonment'
AS SELECT force_id, toStartOfMonth(toDate(bucket, 'Europe/London')) AS month, channel, district, report_type,
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
GROUP BY force_id, month, channel, district, report_type;

-- Service level per queue and 15-minute bucket under every convention (DOMAIN 4.4), using each
-- fact's threshold and short-abandon flag. *_num / *_den are the pooled building blocks.
CREATE VIEW IF NOT EXISTS calls_service_level_15m
COMMENT 'Service level per queue and 15-minute bucket under each abandon convention, with counts'
AS SELECT force_id, bucket, channel, queue,
    sum(entered) AS entered, sum(answered) AS answered, sum(answered_within_threshold) AS answered_in_threshold,
    sum(abandoned) AS abandoned, sum(abandoned_within_threshold) AS abandoned_in_threshold,
    sum(abandoned_short) AS short_abandoned,
    answered_in_threshold AS answered_basis_num, answered AS answered_basis_den,
    answered_in_threshold AS ignore_num, answered + abandoned - abandoned_in_threshold AS ignore_den,
    answered_in_threshold + abandoned_in_threshold AS count_as_met_num, answered + abandoned AS count_as_met_den,
    answered_in_threshold AS count_as_missed_num, answered + abandoned AS count_as_missed_den,
    answered_in_threshold AS offered_basis_num, answered + abandoned - short_abandoned AS offered_basis_den,
    if(answered_basis_den = 0, NULL, 100 * answered_basis_num / answered_basis_den) AS service_level_pct,
    abandoned - short_abandoned AS abandonment_num, entered - short_abandoned AS abandonment_den,
    if(abandonment_den = 0, NULL, 100 * abandonment_num / abandonment_den) AS abandonment_pct
FROM contact_queue_15m FINAL
GROUP BY force_id, bucket, channel, queue;

CREATE VIEW IF NOT EXISTS calls_service_level_month
COMMENT 'Service level and abandonment per queue and local month, default (answered) basis, with counts and Home Office bands'
AS SELECT force_id, month, channel, queue, entered, answered,
    answered_within_threshold AS answered_in_threshold, abandoned, abandoned_short,
    if(answered = 0, NULL, 100 * answered_within_threshold / answered) AS service_level_pct,
    if(entered - abandoned_short = 0, NULL, 100 * (abandoned - abandoned_short) / (entered - abandoned_short)) AS abandonment_pct,
    answered_within[3] AS answered_under_10s, answered_within[7] - answered_within[3] AS answered_10_to_60s,
    answered - answered_within[7] AS answered_60s_or_more,
    if(answered = 0, NULL, answer_wait_sum / answered) AS mean_answer_seconds, longest_wait
FROM
(
    SELECT force_id, month, channel, queue, sum(entered) AS entered, sum(answered) AS answered,
        sum(answered_within_threshold) AS answered_within_threshold,
        sumForEach(answered_within) AS answered_within, sum(abandoned) AS abandoned,
        sum(abandoned_short) AS abandoned_short, sum(answer_wait_sum) AS answer_wait_sum,
        max(longest_wait) AS longest_wait
    FROM contact_queue_month
    GROUP BY force_id, month, channel, queue
);

CREATE VIEW IF NOT EXISTS live_queue_now
COMMENT 'Contacts waiting now per queue (entered within the last day, not ended): count, longest wait, past threshold'
AS SELECT force_id, queue, count() AS waiting,
    max(dateDiff('millisecond', clock_started_at, now64(3)) / 1000) AS longest_wait_seconds,
    countIf(dateDiff('millisecond', clock_started_at, now64(3)) / 1000 >= threshold_seconds) AS waiting_past_threshold
FROM contact_legs FINAL
WHERE outcome = 'waiting' AND entered_at IS NOT NULL AND contact_ended_at IS NULL
    AND clock_started_at IS NOT NULL AND clock_started_at > now64(3) - INTERVAL 1 DAY
    AND clock_started_at <= now64(3)
GROUP BY force_id, queue;

CREATE VIEW IF NOT EXISTS live_queue_periods
COMMENT 'Per queue over the last 15 min, the last 60 min and today (local): offered, answered, service level and abandonment with counts'
AS SELECT force_id, queue, period, countIf(entered_queue) AS offered, countIf(outcome = 'answered') AS answered,
    countIf(outcome = 'answered' AND service_wait_seconds < threshold_seconds) AS answered_within,
    if(answered = 0, NULL, 100 * answered_within / answered) AS service_level_pct,
    countIf(abandoned_in_queue) AS abandoned, countIf(short_abandon) AS short_abandoned,
    abandoned - short_abandoned AS abandonment_num, offered - short_abandoned AS abandonment_den,
    if(abandonment_den = 0, NULL, 100 * abandonment_num / abandonment_den) AS abandonment_pct
FROM
(
    SELECT *, arrayJoin(arrayFilter(p -> p.2, [
        ('last_15m', placed_at >= now64(3) - INTERVAL 15 MINUTE),
        ('last_60m', placed_at >= now64(3) - INTERVAL 60 MINUTE),
        ('today', toDate(placed_at, 'Europe/London') = toDate(now(), 'Europe/London'))
    ])).1 AS period
    FROM contact_legs FINAL
    WHERE placed_at >= now64(3) - INTERVAL 2 DAY AND placed_at <= now64(3)
)
GROUP BY force_id, queue, period;

CREATE VIEW IF NOT EXISTS contacts_board_month
COMMENT 'Board contact measures per local month: volumes, 999 in 10 s, 101 in 30 s, abandonment (default definitions)'
AS SELECT v.force_id AS force_id, v.month AS month,
    v.c999 AS contacts_999, v.c101 AS contacts_101, v.webchat AS contacts_webchat, v.online AS contacts_online,
    v.c999 + v.c101 + v.webchat + v.online AS contacts_total,
    q.a999_within AS calls_999_within_10s_num, q.a999 AS calls_999_within_10s_den,
    if(q.a999 = 0, NULL, 100 * q.a999_within / q.a999) AS calls_999_answered_within_10s,
    q.a101_within AS calls_101_within_30s_num, q.a101 AS calls_101_within_30s_den,
    if(q.a101 = 0, NULL, 100 * q.a101_within / q.a101) AS calls_101_answered_within_30s,
    if(q.e999 - q.s999 = 0, NULL, 100 * (q.b999 - q.s999) / (q.e999 - q.s999)) AS calls_999_abandoned_rate,
    if(v.c101 - v.s101 = 0, NULL, 100 * (v.n101 - v.s101) / (v.c101 - v.s101)) AS calls_101_abandoned_rate,
    if(q.ew - q.sw = 0, NULL, 100 * (q.bw - q.sw) / (q.ew - q.sw)) AS webchat_abandoned_rate
FROM
(
    SELECT force_id, month, sumIf(offered, channel = '999') AS c999, sumIf(offered, channel = '101') AS c101,
        sumIf(offered, channel = 'webchat') AS webchat, sumIf(offered, channel = 'online') AS online,
        sumIf(abandoned_never_answered, channel = '101') AS n101,
        sumIf(abandoned_never_answered_short, channel = '101') AS s101
    FROM contact_channel_month GROUP BY force_id, month
) AS v
LEFT JOIN
(
    SELECT force_id, month,
        sumIf(answered, queue = '999') AS a999, sumIf(answered_within[3], queue = '999') AS a999_within,
        sumIf(entered, queue = '999') AS e999, sumIf(abandoned, queue = '999') AS b999,
        sumIf(abandoned_within[2], queue = '999') AS s999,
        sumIf(answered, queue = '101-primary') AS a101,
        sumIf(answered_within[6], queue = '101-primary') AS a101_within,
        sumIf(entered, queue = 'webchat') AS ew, sumIf(abandoned, queue = 'webchat') AS bw,
        sumIf(abandoned_within[2], queue = 'webchat') AS sw
    FROM contact_queue_month GROUP BY force_id, month
) AS q ON v.force_id = q.force_id AND v.month = q.month;
