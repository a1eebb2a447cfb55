-- Social media contact facts written by streams.domain.social.SocialFold (issue 22), and the analysts'
-- monthly view. The facts keep raw times only: the first-response target, the short-abandon
-- threshold and the target's denominator (definitions group social) are applied when figures are
-- read, by demandhub.queries.social with sinks/clickhouse/social_sql.py, and by the view below with
-- the definitions the worker runs under (applied_definitions_active). A warehouse whose ledger held
-- social events before this migration gets its facts with `demandhub rebuild`.
CREATE TABLE IF NOT EXISTS social_threads
(
    force_id               LowCardinality(String) COMMENT 'Owning force',
    thread_id              String COMMENT 'Thread id (the event subject)',
    platform               LowCardinality(String) COMMENT 'Platform the thread came in on (schemas/reference/platforms.csv)',
    message_kind           LowCardinality(String) COMMENT 'direct_message, public_post or comment',
    district               LowCardinality(String) COMMENT 'District the contact concerns if known, else empty',
    received_at            DateTime64(3, 'UTC') COMMENT 'Raw: when the thread reached the force (social.received); places the thread in a period',
    first_assigned_at      Nullable(DateTime64(3, 'UTC')) COMMENT 'Raw: first assignment to a handler',
    assignments            UInt16 COMMENT 'Number of social.assigned events',
    first_response_at      Nullable(DateTime64(3, 'UTC')) COMMENT 'Raw: the force''s first reply (earliest social.responded)',
    last_response_at       Nullable(DateTime64(3, 'UTC')) COMMENT 'Raw: the force''s latest reply',
    responses              UInt16 COMMENT 'Number of replies (first and further responses)',
    first_response_seconds Nullable(Float64) COMMENT 'Raw: seconds from receipt to first response (no target applied)',
    closed_at              Nullable(DateTime64(3, 'UTC')) COMMENT 'Raw: when the thread was closed, NULL while open',
    closed_by              LowCardinality(String) COMMENT 'handler or public; empty while open',
    disposition            LowCardinality(String) COMMENT 'incident_created, crime_reported, intelligence, advice or no_action; empty while open',
    incident_id            String COMMENT 'Incident created from the thread, else empty',
    crime_id               String COMMENT 'Crime reported from the thread, else empty',
    abandoned              Bool COMMENT 'Raw: closed by the member of the public before any response (short abandons included)',
    abandon_seconds        Nullable(Float64) COMMENT 'Raw: seconds from receipt to an abandoning close (no short-abandon threshold applied)',
    version                UInt64 COMMENT 'Number of distinct events folded (higher replaces lower)'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (force_id, thread_id)
COMMENT 'One row per social media thread: raw times, closure and disposition (use FINAL)';

CREATE VIEW IF NOT EXISTS social_threads_monthly
COMMENT 'Social media threads per force, month (worker timezone) and platform, under the worker''s active definitions (applied_definitions_active): received, first response within target, mean minutes to first response, resolved without an incident, abandoned'
AS WITH
    (SELECT any(definitions) FROM applied_definitions_active) AS active,
    if(JSONHas(active, 'timezone'), JSONExtractString(active, 'timezone'), 'Europe/London') AS tz,
    if(JSONHas(active, 'social'), JSONExtractUInt(active, 'social', 'first_response_target_minutes'), 60) AS target_minutes,
    if(JSONHas(active, 'social'), JSONExtractUInt(active, 'social', 'short_abandon_minutes'), 2) AS short_minutes,
    if(JSONHas(active, 'social'), JSONExtractString(active, 'social', 'target_basis'), 'responded') AS basis
SELECT
    force_id,
    toStartOfMonth(toTimeZone(received_at, tz)) AS month,
    platform,
    any(target_minutes) AS first_response_target_minutes,
    any(basis) AS target_basis,
    count() AS threads_received,
    countIf(first_response_seconds IS NOT NULL) AS threads_responded,
    countIf(first_response_seconds <= target_minutes * 60) AS responded_within_target,
    countIf(if(basis = 'received', NOT (abandoned AND abandon_seconds < short_minutes * 60),
        first_response_seconds IS NOT NULL)) AS target_denominator,
    round(100 * responded_within_target / nullIf(target_denominator, 0), 1) AS within_target_pct,
    round(avgIf(first_response_seconds, first_response_seconds IS NOT NULL) / 60, 1) AS mean_minutes_to_first_response,
    countIf(closed_by = 'handler') AS threads_resolved,
    countIf(closed_by = 'handler' AND disposition != 'incident_created') AS resolved_without_incident,
    countIf(abandoned AND abandon_seconds >= short_minutes * 60) AS threads_abandoned,
    countIf(abandoned AND abandon_seconds < short_minutes * 60) AS short_abandons,
    countIf(closed_at IS NULL) AS still_open
FROM social_threads FINAL
GROUP BY force_id, month, platform;
