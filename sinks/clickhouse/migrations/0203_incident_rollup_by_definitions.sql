-- incidents_hourly is a cache of figures under some incident definitions (migration 0004): its rows
-- carry the hash of the definitions they were computed under, and ORDER BY starts (force_id,
-- definition_hash). Re-created (a sorting key cannot gain a leading column in place); the worker's
-- refresher (or the first replay) recomputes every hour under its definitions and records them in
-- applied_definitions, and until then readers compute the same figures from the facts. The daily
-- and monthly views read the rows of the recorded definitions, in the active definitions' time zone.
DROP TABLE IF EXISTS incidents_hourly;

DELETE FROM applied_definitions WHERE name = 'incidents_hourly';

CREATE TABLE IF NOT EXISTS incidents_hourly
(
    force_id             LowCardinality(String) COMMENT 'Owning force',
    definition_hash      LowCardinality(String) COMMENT 'Hash of the incident definitions the row was computed under (applied_definitions)',
    hour                 DateTime('UTC') COMMENT 'Hour of creation (UTC start; local days and months are whole hours)',
    first_grade          LowCardinality(String) COMMENT 'First grade, empty if ungraded',
    final_grade          LowCardinality(String) COMMENT 'Grade held now, empty if ungraded',
    arrival_grade        LowCardinality(String) COMMENT 'Grade held at first arrival, empty if not attended',
    district             LowCardinality(String) COMMENT 'District, empty if unknown',
    area                 LowCardinality(String) COMMENT 'Area, empty if unknown',
    urban_rural          LowCardinality(String) COMMENT 'urban or rural, empty if unknown',
    incidents            UInt32 DEFAULT 0 COMMENT 'Incidents created, duplicates excluded',
    duplicates           UInt32 DEFAULT 0 COMMENT 'Incidents merged as duplicates',
    cancelled            UInt32 DEFAULT 0 COMMENT 'Cancelled incidents (not duplicates)',
    self_initiated       UInt32 DEFAULT 0 COMMENT 'Self-initiated incidents (not duplicates); left out of the response population when the row''s incidents.exclude_self_initiated',
    mix_base             UInt32 DEFAULT 0 COMMENT 'Grade-mix base: created, not cancelled, not a duplicate',
    mix_da_opening       UInt32 DEFAULT 0 COMMENT 'Grade-mix base with the domestic-abuse flag at opening',
    regraded             UInt32 DEFAULT 0 COMMENT 'Mix base incidents regraded at least once',
    upgraded             UInt32 DEFAULT 0 COMMENT 'Mix base incidents upgraded at least once',
    downgraded           UInt32 DEFAULT 0 COMMENT 'Mix base incidents downgraded at least once',
    immediate_downgraded UInt32 DEFAULT 0 COMMENT 'Mix base incidents first graded immediate and later downgraded',
    regrades             UInt32 DEFAULT 0 COMMENT 'Grade-changing regrades of mix base incidents',
    mental_health_now    UInt32 DEFAULT 0 COMMENT 'Incidents with the mental-health qualifier now',
    mental_health_ever   UInt32 DEFAULT 0 COMMENT 'Incidents with the mental-health qualifier ever',
    asb                  UInt32 DEFAULT 0 COMMENT 'ASB incidents by the row''s incidents.asb_basis (default: the category known when computed)',
    domestic_abuse       UInt32 DEFAULT 0 COMMENT 'Incidents flagged domestic abuse at opening or by qualifier',
    hate                 UInt32 DEFAULT 0 COMMENT 'Incidents with the hate qualifier now',
    attended             UInt32 DEFAULT 0 COMMENT 'Incidents (not duplicates, not cancelled) with a first arrival',
    never_attended       UInt32 DEFAULT 0 COMMENT 'Closed incidents (not cancelled or duplicate) never attended',
    open_unattended      UInt32 DEFAULT 0 COMMENT 'Open incidents not yet attended',
    resp_n               UInt32 DEFAULT 0 COMMENT 'Response population (the row''s incidents.response_clock)',
    resp_sum_s           Float64 DEFAULT 0 COMMENT 'Sum of response seconds (the row''s response clock)',
    resp_sumsq_s         Float64 DEFAULT 0 COMMENT 'Sum of squared response seconds (the row''s response clock)',
    resp_target_n        UInt32 DEFAULT 0 COMMENT 'Response population with a target (the row''s incidents.target_minutes)',
    resp_within_n        UInt32 DEFAULT 0 COMMENT 'Attended within target (the row''s response clock and targets)',
    resp_q               AggregateFunction(quantilesExactInclusive(0.5, 0.9), Float64) COMMENT 'Quantile state of response seconds (the row''s response clock): p50, p90',
    resp_g_n             UInt32 DEFAULT 0 COMMENT 'Response population with a known grade time (graded clock)',
    resp_g_sum_s         Float64 DEFAULT 0 COMMENT 'Sum of response seconds (graded clock)',
    resp_g_sumsq_s       Float64 DEFAULT 0 COMMENT 'Sum of squared response seconds (graded clock)',
    resp_g_target_n      UInt32 DEFAULT 0 COMMENT 'Graded-clock population with a target',
    resp_g_within_n      UInt32 DEFAULT 0 COMMENT 'Attended within target (graded clock)',
    resp_g_q             AggregateFunction(quantilesExactInclusive(0.5, 0.9), Float64) COMMENT 'Quantile state of response seconds (graded clock): p50, p90',
    is_deleted           UInt8 DEFAULT 0 COMMENT '1 marks a tombstone written before a bucket is recomputed',
    version              UInt64 COMMENT 'Refresh version: the warehouse clock in nanoseconds (the latest row wins)'
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (force_id, definition_hash, hour, first_grade, final_grade, arrival_grade, district, area, urban_rural)
COMMENT 'Incident building blocks per force, hour, grades, district and urban/rural (read with FINAL)';

CREATE OR REPLACE VIEW incidents_daily
COMMENT 'incidents_hourly summed by local (time zone of the active definitions) day' AS
SELECT force_id, toDate(hour, ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London')) AS day, first_grade, final_grade, arrival_grade,
       district, area, urban_rural,
       sum(incidents) AS incidents, sum(duplicates) AS duplicates, sum(cancelled) AS cancelled,
       sum(self_initiated) AS self_initiated, sum(mix_base) AS mix_base,
       sum(mix_da_opening) AS mix_da_opening, sum(regraded) AS regraded, sum(upgraded) AS upgraded,
       sum(downgraded) AS downgraded, sum(immediate_downgraded) AS immediate_downgraded,
       sum(regrades) AS regrades, sum(mental_health_now) AS mental_health_now,
       sum(mental_health_ever) AS mental_health_ever, sum(asb) AS asb,
       sum(domestic_abuse) AS domestic_abuse, sum(hate) AS hate, sum(attended) AS attended,
       sum(never_attended) AS never_attended, sum(open_unattended) AS open_unattended,
       sum(resp_n) AS resp_n, sum(resp_sum_s) AS resp_sum_s, sum(resp_sumsq_s) AS resp_sumsq_s,
       sum(resp_target_n) AS resp_target_n, sum(resp_within_n) AS resp_within_n,
       quantilesExactInclusiveMergeState(0.5, 0.9)(resp_q) AS resp_q,
       sum(resp_g_n) AS resp_g_n, sum(resp_g_sum_s) AS resp_g_sum_s,
       sum(resp_g_sumsq_s) AS resp_g_sumsq_s, sum(resp_g_target_n) AS resp_g_target_n,
       sum(resp_g_within_n) AS resp_g_within_n,
       quantilesExactInclusiveMergeState(0.5, 0.9)(resp_g_q) AS resp_g_q
FROM incidents_hourly FINAL
WHERE definition_hash = (SELECT any(definition_hash) FROM applied_definitions FINAL WHERE name = 'incidents_hourly')
GROUP BY force_id, day, first_grade, final_grade, arrival_grade, district, area, urban_rural;

CREATE OR REPLACE VIEW incidents_monthly
COMMENT 'incidents_hourly summed by local (time zone of the active definitions) calendar month (month = its first day)' AS
SELECT force_id, toStartOfMonth(toTimeZone(hour, ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London'))) AS month, first_grade,
       final_grade, arrival_grade, district, area, urban_rural,
       sum(incidents) AS incidents, sum(duplicates) AS duplicates, sum(cancelled) AS cancelled,
       sum(self_initiated) AS self_initiated, sum(mix_base) AS mix_base,
       sum(mix_da_opening) AS mix_da_opening, sum(regraded) AS regraded, sum(upgraded) AS upgraded,
       sum(downgraded) AS downgraded, sum(immediate_downgraded) AS immediate_downgraded,
       sum(regrades) AS regrades, sum(mental_health_now) AS mental_health_now,
       sum(mental_health_ever) AS mental_health_ever, sum(asb) AS asb,
       sum(domestic_abuse) AS domestic_abuse, sum(hate) AS hate, sum(attended) AS attended,
       sum(never_attended) AS never_attended, sum(open_unattended) AS open_unattended,
       sum(resp_n) AS resp_n, sum(resp_sum_s) AS resp_sum_s, sum(resp_sumsq_s) AS resp_sumsq_s,
       sum(resp_target_n) AS resp_target_n, sum(resp_within_n) AS resp_within_n,
       quantilesExactInclusiveMergeState(0.5, 0.9)(resp_q) AS resp_q,
       sum(resp_g_n) AS resp_g_n, sum(resp_g_sum_s) AS resp_g_sum_s,
       sum(resp_g_sumsq_s) AS resp_g_sumsq_s, sum(resp_g_target_n) AS resp_g_target_n,
       sum(resp_g_within_n) AS resp_g_within_n,
       quantilesExactInclusiveMergeState(0.5, 0.9)(resp_g_q) AS resp_g_q
FROM incidents_hourly FINAL
WHERE definition_hash = (SELECT any(definition_hash) FROM applied_definitions FINAL WHERE name = 'incidents_hourly')
GROUP BY force_id, month, first_grade, final_grade, arrival_grade, district, area, urban_rural;
