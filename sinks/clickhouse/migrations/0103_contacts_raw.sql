-- Contact facts keep what happened; every definitions.calls setting is applied when figures are read
-- (sinks/clickhouse/contacts_sql.py). The leg columns that baked a definition in at fold time
-- (clock_start, clock_started_at, service_wait_seconds, threshold_seconds, short_abandon_seconds,
-- short_abandon, definition_version) and the contact's short_abandon and definition_version are
-- dropped; contacts gain the raw times and values the read-time rules need (IVR entry time, the queue
-- and raw wait of the deciding queue abandon). Facts folded before this migration lack the new columns
-- (NULL / empty): `demandhub rebuild` re-folds every subject from the events ledger.
-- needs: rebuild
-- contact_legs_applied and contacts_applied give analysts the facts with the derived columns under
-- the definitions the worker runs under (applied_definitions, name 'active'; the defaults when none
-- are recorded); the live views read them. Replaces the views of 0100-0102 that read dropped columns.
ALTER TABLE contact_legs
    DROP COLUMN IF EXISTS clock_start,
    DROP COLUMN IF EXISTS clock_started_at,
    DROP COLUMN IF EXISTS service_wait_seconds,
    DROP COLUMN IF EXISTS threshold_seconds,
    DROP COLUMN IF EXISTS short_abandon_seconds,
    DROP COLUMN IF EXISTS short_abandon,
    DROP COLUMN IF EXISTS definition_version;

ALTER TABLE contact_legs
    COMMENT COLUMN wait_seconds 'Raw queue wait: queue entry to answer, abandon or callback (the platform wait when the entry is not known)';

ALTER TABLE contacts
    DROP COLUMN IF EXISTS short_abandon,
    DROP COLUMN IF EXISTS definition_version;

ALTER TABLE contacts
    ADD COLUMN IF NOT EXISTS ivr_entered_at Nullable(DateTime64(3, 'UTC')) COMMENT 'First IVR entry, if the call entered the IVR' AFTER reached_ivr,
    ADD COLUMN IF NOT EXISTS abandon_queue LowCardinality(String) COMMENT 'Queue of the leg whose abandon decided the outcome, else empty' AFTER abandon_stage,
    ADD COLUMN IF NOT EXISTS abandon_wait_seconds Nullable(Float64) COMMENT 'Raw queue wait of that leg (queue entry to the abandon, else the platform wait)' AFTER abandon_queue;

CREATE OR REPLACE VIEW contact_legs_applied
COMMENT 'contact_legs (FINAL) with the columns the active call definitions derive: clock_started_at, service_wait_seconds, threshold_seconds, short_abandon_seconds, short_abandon'
AS SELECT * EXCEPT (_active_definitions), if(queue = '999' AND multiIf(JSONExtractString(_active_definitions, 'calls', 'clock_start_999') = 'bt_connect' AND bt_connect_at IS NOT NULL, bt_connect_at, JSONExtractString(_active_definitions, 'calls', 'clock_start_999') IN ('bt_connect', 'offered') AND offered_at IS NOT NULL, offered_at, NULL) IS NOT NULL, multiIf(JSONExtractString(_active_definitions, 'calls', 'clock_start_999') = 'bt_connect' AND bt_connect_at IS NOT NULL, bt_connect_at, JSONExtractString(_active_definitions, 'calls', 'clock_start_999') IN ('bt_connect', 'offered') AND offered_at IS NOT NULL, offered_at, NULL), entered_at) AS clock_started_at, if(queue = '999' AND multiIf(JSONExtractString(_active_definitions, 'calls', 'clock_start_999') = 'bt_connect' AND bt_connect_at IS NOT NULL, bt_connect_at, JSONExtractString(_active_definitions, 'calls', 'clock_start_999') IN ('bt_connect', 'offered') AND offered_at IS NOT NULL, offered_at, NULL) IS NOT NULL, dateDiff('millisecond', multiIf(JSONExtractString(_active_definitions, 'calls', 'clock_start_999') = 'bt_connect' AND bt_connect_at IS NOT NULL, bt_connect_at, JSONExtractString(_active_definitions, 'calls', 'clock_start_999') IN ('bt_connect', 'offered') AND offered_at IS NOT NULL, offered_at, NULL), coalesce(answered_at, abandoned_at, callback_at)) / 1000, wait_seconds) AS service_wait_seconds, JSONExtract(_active_definitions, 'calls', 'service_threshold_seconds', queue, 'Nullable(UInt32)') AS threshold_seconds, JSONExtract(_active_definitions, 'calls', 'short_abandon_seconds', queue, 'Nullable(UInt32)') AS short_abandon_seconds, ifNull(abandoned_in_queue AND service_wait_seconds < JSONExtract(_active_definitions, 'calls', 'short_abandon_seconds', queue, 'Nullable(UInt32)'), 0) AS short_abandon FROM contact_legs FINAL CROSS JOIN (SELECT if(empty(recorded), '{"calls":{"abandon_convention":"answered_basis","band_edges_seconds":{"101-primary":[30,300,600],"101-secondary":[30,300,600],"999":[10,60],"webchat":[30,300,600]},"clock_start_999":"offered","dedupe_short_abandons_from_volumes":false,"ivr_short_abandon_seconds":5,"service_threshold_seconds":{"101-primary":30,"101-secondary":30,"999":10,"webchat":30},"short_abandon_seconds":{"101-primary":5,"101-secondary":5,"999":5,"webchat":5}}}', recorded) AS _active_definitions FROM (SELECT (SELECT any(definitions) FROM applied_definitions FINAL WHERE name = 'active') AS recorded)) AS active;

CREATE OR REPLACE VIEW contacts_applied
COMMENT 'contacts (FINAL) with short_abandon under the active call definitions (IVR and queue short abandons)'
AS SELECT * EXCEPT (_active_definitions), ifNull(outcome = 'abandoned' AND multiIf(abandon_stage = 'ivr', dateDiff('millisecond', coalesce(ivr_entered_at, offered_at), abandoned_at) / 1000 < JSONExtract(_active_definitions, 'calls', 'ivr_short_abandon_seconds', 'Nullable(UInt32)'), abandon_stage IN ('primary_queue', 'secondary_queue'), if(abandon_queue = '999' AND multiIf(JSONExtractString(_active_definitions, 'calls', 'clock_start_999') = 'bt_connect' AND bt_connect_at IS NOT NULL, bt_connect_at, JSONExtractString(_active_definitions, 'calls', 'clock_start_999') IN ('bt_connect', 'offered') AND offered_at IS NOT NULL, offered_at, NULL) IS NOT NULL, dateDiff('millisecond', multiIf(JSONExtractString(_active_definitions, 'calls', 'clock_start_999') = 'bt_connect' AND bt_connect_at IS NOT NULL, bt_connect_at, JSONExtractString(_active_definitions, 'calls', 'clock_start_999') IN ('bt_connect', 'offered') AND offered_at IS NOT NULL, offered_at, NULL), abandoned_at) / 1000, abandon_wait_seconds) < JSONExtract(_active_definitions, 'calls', 'short_abandon_seconds', abandon_queue, 'Nullable(UInt32)'), 0), 0) AS short_abandon FROM contacts FINAL CROSS JOIN (SELECT if(empty(recorded), '{"calls":{"abandon_convention":"answered_basis","band_edges_seconds":{"101-primary":[30,300,600],"101-secondary":[30,300,600],"999":[10,60],"webchat":[30,300,600]},"clock_start_999":"offered","dedupe_short_abandons_from_volumes":false,"ivr_short_abandon_seconds":5,"service_threshold_seconds":{"101-primary":30,"101-secondary":30,"999":10,"webchat":30},"short_abandon_seconds":{"101-primary":5,"101-secondary":5,"999":5,"webchat":5}}}', recorded) AS _active_definitions FROM (SELECT (SELECT any(definitions) FROM applied_definitions FINAL WHERE name = 'active') AS recorded)) AS active;

CREATE OR REPLACE VIEW live_queue_now
COMMENT 'Contacts waiting now per queue (entered within the last day, not ended): count, longest wait and past threshold on the service clock of the active definitions'
AS SELECT force_id, queue, count() AS waiting,
    max(dateDiff('millisecond', clock_started_at, now64(3)) / 1000) AS longest_wait_seconds,
    countIf(dateDiff('millisecond', clock_started_at, now64(3)) / 1000 >= threshold_seconds) AS waiting_past_threshold
FROM contact_legs_applied
WHERE outcome = 'waiting' AND entered_at IS NOT NULL AND contact_ended_at IS NULL
    AND clock_started_at IS NOT NULL AND clock_started_at > now64(3) - INTERVAL 1 DAY
    AND clock_started_at <= now64(3)
GROUP BY force_id, queue;

CREATE OR REPLACE VIEW live_queue_periods
COMMENT 'Per queue over the last 15 min, the last 60 min and today (local), by the time each contact left the queue: left (queued contacts that left), answered, service level and abandonment with counts (active definitions)'
AS SELECT force_id, queue, period, countIf(entered_queue) AS offered, countIf(outcome = 'answered') AS answered,
    countIf(outcome = 'answered' AND service_wait_seconds < threshold_seconds) AS answered_within,
    if(answered = 0, NULL, 100 * answered_within / answered) AS service_level_pct,
    countIf(abandoned_in_queue) AS abandoned, countIf(short_abandon) AS short_abandoned,
    abandoned - short_abandoned AS abandonment_num, offered - short_abandoned AS abandonment_den,
    if(abandonment_den = 0, NULL, 100 * abandonment_num / abandonment_den) AS abandonment_pct,
    max(service_wait_seconds) AS longest_wait_seconds
FROM
(
    SELECT *, arrayJoin(arrayFilter(p -> p.2, [
        ('last_15m', left_queue_at >= now64(3) - INTERVAL 15 MINUTE),
        ('last_60m', left_queue_at >= now64(3) - INTERVAL 60 MINUTE),
        ('today', toDate(left_queue_at, ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London')) = toDate(now(), ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London')))
    ])).1 AS period
    FROM
    (
        SELECT *, coalesce(answered_at, abandoned_at, callback_at, transferred_out_at) AS left_queue_at
        FROM contact_legs_applied
        WHERE placed_at >= now64(3) - INTERVAL 3 DAY AND placed_at <= now64(3)
    )
    WHERE left_queue_at IS NOT NULL AND left_queue_at >= now64(3) - INTERVAL 2 DAY
        AND left_queue_at <= now64(3)
)
GROUP BY force_id, queue, period;

-- contacts_board_month (0102) said its thresholds were those the legs were folded with; the rollups
-- it reads now count under the definitions recorded for them (applied_definitions). Same query.
CREATE OR REPLACE VIEW contacts_board_month
COMMENT 'Board contact measures per local month: volumes, 999 and 101 primary answered within their service thresholds, abandonment net of short abandons (the rollup rows of the definitions recorded in applied_definitions)'
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
        sumIf(answered, queue = '999') AS a999, sumIf(answered_within_threshold, queue = '999') AS a999_within,
        sumIf(entered, queue = '999') AS e999, sumIf(abandoned, queue = '999') AS b999,
        sumIf(abandoned_short, queue = '999') AS s999,
        sumIf(answered, queue = '101-primary') AS a101,
        sumIf(answered_within_threshold, queue = '101-primary') AS a101_within,
        sumIf(entered, queue = 'webchat') AS ew, sumIf(abandoned, queue = 'webchat') AS bw,
        sumIf(abandoned_short, queue = 'webchat') AS sw
    FROM contact_queue_month GROUP BY force_id, month
) AS q ON v.force_id = q.force_id AND v.month = q.month;
