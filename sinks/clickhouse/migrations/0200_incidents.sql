-- Incident facts (written by streams.domain.incidents.IncidentFold through the pipeline).
-- One row per incident; a fuller history replaces the row (higher version). No PARTITION BY on a
-- mutable column: FINAL only collapses versions inside one partition.
CREATE TABLE IF NOT EXISTS incidents
(
    force_id                   LowCardinality(String) COMMENT 'Owning force',
    incident_id                String COMMENT 'Incident id (the event subject)',
    created_at                 Nullable(DateTime64(3, 'UTC')) COMMENT 'Creation time; NULL while the created event has not arrived. Places the incident in its hour, day and month',
    channel                    LowCardinality(Nullable(String)) COMMENT 'Channel that raised it: 999, 101, webchat, online, self_initiated, other',
    contact_id                 Nullable(String) COMMENT 'Linked contact id, if any',
    self_initiated             Bool COMMENT 'Raised by an officer (self-initiated): excluded from response times by rule',
    opening_category           LowCardinality(Nullable(String)) COMMENT 'NICL category at opening',
    opening_chapter            LowCardinality(Nullable(String)) COMMENT 'NICL chapter of the opening category (ASB, CRIME, PUBLIC_SAFETY_WELFARE, TRANSPORT, ADMIN)',
    domestic_abuse_opening     Bool COMMENT 'Domestic-abuse flag set at opening (the over-grading indicator population)',
    district                   LowCardinality(Nullable(String)) COMMENT 'District (Community Safety Partnership) of the incident location',
    area                       LowCardinality(Nullable(String)) COMMENT 'Area of the district on the creation date, from the effective-dated reference mapping',
    urban_rural                LowCardinality(Nullable(String)) COMMENT 'urban or rural location flag; sets the immediate target',
    beat                       Nullable(String) COMMENT 'Coarse beat code (no address or coordinates are kept)',
    first_grade                LowCardinality(Nullable(String)) COMMENT 'First grade: IMMEDIATE, PRIORITY, SCHEDULED or RWD',
    first_graded_at            Nullable(DateTime64(3, 'UTC')) COMMENT 'When the first grade was given (NULL if known only from a regrade)',
    final_grade                LowCardinality(Nullable(String)) COMMENT 'Grade held now (the latest grading)',
    final_grade_at             Nullable(DateTime64(3, 'UTC')) COMMENT 'When the incident took the grade it holds now',
    regrade_count              UInt16 COMMENT 'Regrades that changed the grade',
    upgraded                   Bool COMMENT 'Regraded to a more urgent grade at least once',
    downgraded                 Bool COMMENT 'Regraded to a less urgent grade at least once',
    immediate_downgraded       Bool COMMENT 'First graded IMMEDIATE and later downgraded',
    regrade_mismatches         UInt16 COMMENT 'Regrades whose old grade differed from the grade held (accepted, recorded)',
    first_assigned_at          Nullable(DateTime64(3, 'UTC')) COMMENT 'First resource assignment',
    first_arrival_at           Nullable(DateTime64(3, 'UTC')) COMMENT 'First resource arrival (attendance)',
    delay_reason               LowCardinality(Nullable(String)) COMMENT 'Delay reason given with the first arrival',
    grade_at_arrival           LowCardinality(Nullable(String)) COMMENT 'Grade held at first arrival: sets the target',
    graded_at_arrival_grade_at Nullable(DateTime64(3, 'UTC')) COMMENT 'When the incident took the grade it held at first arrival (start of the alternative clock)',
    response_clock             LowCardinality(String) COMMENT 'Clock used for response_seconds and clock_start_at: created or graded_at_arrival_grade',
    clock_start_at             Nullable(DateTime64(3, 'UTC')) COMMENT 'Start of the configured response clock (for an unattended incident: by the grade held now)',
    response_seconds           Nullable(Float64) COMMENT 'Response time in seconds by the configured clock',
    response_seconds_created   Nullable(Float64) COMMENT 'Creation to first arrival, seconds (default clock)',
    response_seconds_graded    Nullable(Float64) COMMENT 'Taking the grade held at arrival to first arrival, seconds (alternative clock)',
    target_seconds             Nullable(UInt32) COMMENT 'Attendance target for the grade at arrival (or held now if unattended) and urban/rural; NULL if the grade has none',
    amber_seconds              Nullable(UInt32) COMMENT 'Open-incident watch turns amber after this many seconds (amber_share of the target)',
    within_target              Nullable(Bool) COMMENT 'Attended within the target by the configured clock',
    response_exclusion         LowCardinality(String) COMMENT 'Empty when in the response population, else why not: duplicate, cancelled, self_initiated, not_created, not_attended, ungraded_at_arrival',
    final_category             LowCardinality(Nullable(String)) COMMENT 'NICL category at (latest) closure',
    final_chapter              LowCardinality(Nullable(String)) COMMENT 'NICL chapter of the final category',
    asb                        Bool COMMENT 'Final category in the NICL anti-social behaviour chapter',
    cancelled                  Bool COMMENT 'Cancelled',
    cancelled_at               Nullable(DateTime64(3, 'UTC')) COMMENT 'When cancelled',
    duplicate                  Bool COMMENT 'Merged as a duplicate of another incident',
    duplicate_of               Nullable(String) COMMENT 'Incident it duplicates',
    closed_at                  Nullable(DateTime64(3, 'UTC')) COMMENT 'Latest closure, NULL while open (or reopened)',
    reopened                   Bool COMMENT 'Reopened at least once',
    reopen_count               UInt16 COMMENT 'Times reopened',
    status                     LowCardinality(String) COMMENT 'open, closed, cancelled or duplicate',
    quarantined_events         UInt16 COMMENT 'Events of this incident left out as impossible (see rejected_events)',
    mental_health_now          Bool COMMENT 'Mental-health qualifier present now (at extract)',
    mental_health_ever         Bool COMMENT 'Mental-health qualifier added at any time',
    domestic_abuse_qualifier   Bool COMMENT 'Domestic-abuse qualifier present now',
    domestic_abuse_ever        Bool COMMENT 'Domestic-abuse qualifier added at any time',
    hate                       Bool COMMENT 'Hate qualifier present now',
    hate_strand                LowCardinality(Nullable(String)) COMMENT 'Hate strand of the latest hate qualifier',
    qualifiers_now             Array(LowCardinality(String)) COMMENT 'Qualifiers present now',
    qualifiers_ever            Array(LowCardinality(String)) COMMENT 'Qualifiers ever added',
    version                    UInt64 COMMENT 'Number of distinct events folded (higher replaces lower)'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (force_id, incident_id)
COMMENT 'One row per incident: grading, attendance, response clocks, qualifiers and status (read with FINAL)';

CREATE TABLE IF NOT EXISTS incident_grade_history
(
    force_id          LowCardinality(String) COMMENT 'Owning force',
    incident_id       String COMMENT 'Incident id',
    seq               UInt16 COMMENT 'Position in the grading history, from 0',
    at                DateTime64(3, 'UTC') COMMENT 'When the grading or regrade happened',
    kind              LowCardinality(String) COMMENT 'graded or regraded (event type)',
    from_grade        LowCardinality(Nullable(String)) COMMENT 'Grade held before (NULL for the first grading)',
    to_grade          LowCardinality(String) COMMENT 'Grade given',
    direction         LowCardinality(String) COMMENT 'initial, up (more urgent), down or same',
    reason            LowCardinality(Nullable(String)) COMMENT 'Regrade reason code',
    claimed_old_grade LowCardinality(Nullable(String)) COMMENT 'Old grade stated by the regrade event',
    mismatch          Bool COMMENT 'The stated old grade differed from the grade held (accepted)',
    version           UInt64 COMMENT 'Events folded when written; only the highest version per incident is current'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (force_id, incident_id, seq)
COMMENT 'Grading and regrade history of incidents (use incident_grade_history_current)';

CREATE VIEW IF NOT EXISTS incident_grade_history_current
COMMENT 'Current grading history: rows of the latest fold of each incident' AS
SELECT h.*
FROM incident_grade_history AS h FINAL
WHERE (h.force_id, h.incident_id, h.version) IN (
    SELECT force_id, incident_id, max(version) FROM incident_grade_history GROUP BY force_id, incident_id
);

-- Hourly rollup recomputed from `incidents FINAL` for touched hours (sinks/clickhouse/rollups_incidents.py).
-- A recomputed hour first tombstones its rows (is_deleted = 1), so a bucket that emptied disappears.
CREATE TABLE IF NOT EXISTS incidents_hourly
(
    force_id             LowCardinality(String) COMMENT 'Owning force',
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
    self_initiated       UInt32 DEFAULT 0 COMMENT 'Self-initiated incidents (not duplicates)',
    mix_base             UInt32 DEFAULT 0 COMMENT 'Grade-mix base: created, not cancelled, not a duplicate',
    mix_da_opening       UInt32 DEFAULT 0 COMMENT 'Grade-mix base with the domestic-abuse flag at opening',
    regraded             UInt32 DEFAULT 0 COMMENT 'Mix base incidents regraded at least once',
    upgraded             UInt32 DEFAULT 0 COMMENT 'Mix base incidents upgraded at least once',
    downgraded           UInt32 DEFAULT 0 COMMENT 'Mix base incidents downgraded at least once',
    immediate_downgraded UInt32 DEFAULT 0 COMMENT 'Mix base incidents first graded immediate and later downgraded',
    regrades             UInt32 DEFAULT 0 COMMENT 'Grade-changing regrades of mix base incidents',
    mental_health_now    UInt32 DEFAULT 0 COMMENT 'Incidents with the mental-health qualifier now',
    mental_health_ever   UInt32 DEFAULT 0 COMMENT 'Incidents with the mental-health qualifier ever',
    asb                  UInt32 DEFAULT 0 COMMENT 'Incidents whose final category is in the ASB chapter',
    domestic_abuse       UInt32 DEFAULT 0 COMMENT 'Incidents flagged domestic abuse at opening or by qualifier',
    hate                 UInt32 DEFAULT 0 COMMENT 'Incidents with the hate qualifier now',
    attended             UInt32 DEFAULT 0 COMMENT 'Incidents (not duplicates, not cancelled) with a first arrival',
    never_attended       UInt32 DEFAULT 0 COMMENT 'Closed incidents (not cancelled or duplicate) never attended',
    open_unattended      UInt32 DEFAULT 0 COMMENT 'Open incidents not yet attended',
    resp_n               UInt32 DEFAULT 0 COMMENT 'Response population (creation clock)',
    resp_sum_s           Float64 DEFAULT 0 COMMENT 'Sum of response seconds (creation clock)',
    resp_sumsq_s         Float64 DEFAULT 0 COMMENT 'Sum of squared response seconds (creation clock)',
    resp_target_n        UInt32 DEFAULT 0 COMMENT 'Response population with a target',
    resp_within_n        UInt32 DEFAULT 0 COMMENT 'Attended within target (creation clock)',
    resp_q               AggregateFunction(quantilesExactInclusive(0.5, 0.9), Float64) COMMENT 'Quantile state of response seconds (creation clock): p50, p90',
    resp_g_n             UInt32 DEFAULT 0 COMMENT 'Response population with a known grade time (graded clock)',
    resp_g_sum_s         Float64 DEFAULT 0 COMMENT 'Sum of response seconds (graded clock)',
    resp_g_sumsq_s       Float64 DEFAULT 0 COMMENT 'Sum of squared response seconds (graded clock)',
    resp_g_target_n      UInt32 DEFAULT 0 COMMENT 'Graded-clock population with a target',
    resp_g_within_n      UInt32 DEFAULT 0 COMMENT 'Attended within target (graded clock)',
    resp_g_q             AggregateFunction(quantilesExactInclusive(0.5, 0.9), Float64) COMMENT 'Quantile state of response seconds (graded clock): p50, p90',
    is_deleted           UInt8 DEFAULT 0 COMMENT '1 marks a tombstone written before a bucket is recomputed',
    version              UInt64 COMMENT 'Refresh version (monotonic clock)'
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (force_id, hour, first_grade, final_grade, arrival_grade, district, area, urban_rural)
COMMENT 'Incident building blocks per force, hour, grades, district and urban/rural (read with FINAL)';

CREATE VIEW IF NOT EXISTS incidents_daily
COMMENT 'incidents_hourly summed by local (Europe/London) day' AS
SELECT force_id, toDate(hour, 'Europe/London') AS day, first_grade, final_grade, arrival_grade,
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
GROUP BY force_id, day, first_grade, final_grade, arrival_grade, district, area, urban_rural;

CREATE VIEW IF NOT EXISTS incidents_monthly
COMMENT 'incidents_hourly summed by local (Europe/London) calendar month (month = its first day)' AS
SELECT force_id, toStartOfMonth(toTimeZone(hour, 'Europe/London')) AS month, first_grade,
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
GROUP BY force_id, month, first_grade, final_grade, arrival_grade, district, area, urban_rural;

-- Analyst views: the board's definitions (DOMAIN 4.6-4.8) with their default choices.
CREATE VIEW IF NOT EXISTS incident_grade_mix_monthly
COMMENT 'Grade mix by creation month: share of graded incidents (not cancelled, not duplicates) by first grade (board default) and by final grade' AS
SELECT force_id, month, basis, grade, incidents,
       round(100 * incidents / sum(incidents) OVER (PARTITION BY force_id, month, basis), 1) AS share_pct
FROM
(
    SELECT force_id, month, 'first' AS basis, first_grade AS grade, sum(mix_base) AS incidents
    FROM incidents_monthly WHERE first_grade != '' GROUP BY force_id, month, grade
    UNION ALL
    SELECT force_id, month, 'final' AS basis, final_grade AS grade, sum(mix_base) AS incidents
    FROM incidents_monthly WHERE final_grade != '' GROUP BY force_id, month, grade
)
WHERE incidents > 0
ORDER BY force_id, month, basis, grade;

CREATE VIEW IF NOT EXISTS incident_regrade_rates_monthly
COMMENT 'Regrade rates by creation month over graded incidents (not cancelled, not duplicates), with the over-grading indicators' AS
SELECT force_id, month,
       sum(mix_base) AS graded_n,
       sum(regraded) AS regraded_n,
       round(100 * sum(regraded) / sum(mix_base), 1) AS regraded_pct,
       sum(upgraded) AS upgraded_n,
       round(100 * sum(upgraded) / sum(mix_base), 1) AS upgraded_pct,
       sum(downgraded) AS downgraded_n,
       round(100 * sum(downgraded) / sum(mix_base), 1) AS downgraded_pct,
       sumIf(mix_base, first_grade = 'IMMEDIATE') AS immediate_first_n,
       sum(immediate_downgraded) AS immediate_downgraded_n,
       round(100 * sum(immediate_downgraded) / nullIf(sumIf(mix_base, first_grade = 'IMMEDIATE'), 0), 1) AS immediate_downgraded_pct,
       round(100 * sumIf(mix_base, first_grade = 'IMMEDIATE') / sum(mix_base), 1) AS immediate_share_all_pct,
       sum(mix_da_opening) AS domestic_abuse_graded_n,
       round(100 * sumIf(mix_da_opening, first_grade = 'IMMEDIATE') / nullIf(sum(mix_da_opening), 0), 1) AS immediate_share_domestic_abuse_pct
FROM incidents_monthly
WHERE first_grade != ''
GROUP BY force_id, month
ORDER BY force_id, month;

CREATE VIEW IF NOT EXISTS incident_response_monthly
COMMENT 'Response time by creation month, grade at first arrival and urban/rural (all = both): creation-to-first-arrival clock; self-initiated, cancelled, duplicates excluded; open unattended incidents past target count as misses in within_target_pct' AS
WITH
    attended AS
    (
        SELECT force_id, month, arrival_grade AS grade,
               if(grouping(urban_rural) = 1, 'all', urban_rural) AS urban_rural_key,
               sum(resp_n) AS attended, sum(resp_sum_s) AS sum_s, sum(resp_target_n) AS target_n,
               sum(resp_within_n) AS within_n,
               quantilesExactInclusiveMerge(0.5, 0.9)(resp_q) AS q,
               sum(resp_g_n) AS g_n, sum(resp_g_sum_s) AS g_sum_s, sum(resp_g_within_n) AS g_within_n
        FROM incidents_monthly
        WHERE arrival_grade != '' AND resp_n > 0
        GROUP BY GROUPING SETS ((force_id, month, arrival_grade), (force_id, month, arrival_grade, urban_rural))
    ),
    breached AS
    (
        SELECT force_id, toStartOfMonth(toTimeZone(created_at, 'Europe/London')) AS month,
               assumeNotNull(final_grade) AS grade,
               if(grouping(urban_rural) = 1, 'all', assumeNotNull(urban_rural)) AS urban_rural_key,
               count() AS open_breached
        FROM incidents FINAL
        WHERE status = 'open' AND first_arrival_at IS NULL AND response_exclusion = 'not_attended'
          AND target_seconds IS NOT NULL
          AND dateDiff('millisecond', created_at, now64(3)) > 1000 * target_seconds
        GROUP BY GROUPING SETS ((force_id, month, grade), (force_id, month, grade, urban_rural))
    )
SELECT if(a.force_id = '', b.force_id, a.force_id) AS force_id,
       if(a.force_id = '', b.month, a.month) AS month,
       if(a.force_id = '', b.grade, a.grade) AS grade,
       if(a.force_id = '', b.urban_rural_key, a.urban_rural_key) AS urban_rural,
       a.attended AS attended,
       round(a.sum_s / nullIf(a.attended, 0) / 60, 2) AS mean_min,
       if(a.attended = 0, NULL, round(a.q[1] / 60, 2)) AS median_min,
       if(a.attended = 0, NULL, round(a.q[2] / 60, 2)) AS p90_min,
       a.within_n AS within_target,
       b.open_breached AS open_breached,
       round(100 * a.within_n / nullIf(a.target_n + b.open_breached, 0), 1) AS within_target_pct,
       round(a.g_sum_s / nullIf(a.g_n, 0) / 60, 2) AS mean_min_graded_clock,
       round(100 * a.g_within_n / nullIf(a.target_n + b.open_breached, 0), 1) AS within_target_pct_graded_clock
FROM attended AS a
FULL OUTER JOIN breached AS b
    ON a.force_id = b.force_id AND a.month = b.month AND a.grade = b.grade AND a.urban_rural_key = b.urban_rural_key
ORDER BY force_id, month, grade, urban_rural;

CREATE VIEW IF NOT EXISTS incident_response_by_district_monthly
COMMENT 'Response time (creation clock) by creation month, grade at first arrival, area and district' AS
SELECT force_id, month, arrival_grade AS grade, area, district,
       sum(resp_n) AS attended,
       round(sum(resp_sum_s) / sum(resp_n) / 60, 2) AS mean_min,
       round(quantilesExactInclusiveMerge(0.5, 0.9)(resp_q)[1] / 60, 2) AS median_min,
       round(quantilesExactInclusiveMerge(0.5, 0.9)(resp_q)[2] / 60, 2) AS p90_min,
       round(100 * sum(resp_within_n) / nullIf(sum(resp_target_n), 0), 1) AS within_target_pct_attended
FROM incidents_monthly
WHERE arrival_grade != '' AND resp_n > 0
GROUP BY force_id, month, grade, area, district
ORDER BY force_id, month, grade, area, district;

CREATE VIEW IF NOT EXISTS incident_qualifiers_monthly
COMMENT 'Incidents by creation month (duplicates excluded) with mental-health (present now = board default, and ever), ASB, domestic-abuse and hate counts and shares' AS
SELECT force_id, month, sum(incidents) AS incidents_n,
       sum(mental_health_now) AS mental_health_n,
       round(100 * sum(mental_health_now) / sum(incidents), 1) AS mental_health_pct,
       sum(mental_health_ever) AS mental_health_ever_n,
       round(100 * sum(mental_health_ever) / sum(incidents), 1) AS mental_health_ever_pct,
       sum(asb) AS asb_n, round(100 * sum(asb) / sum(incidents), 1) AS asb_pct,
       sum(domestic_abuse) AS domestic_abuse_n,
       round(100 * sum(domestic_abuse) / sum(incidents), 1) AS domestic_abuse_pct,
       sum(hate) AS hate_n
FROM incidents_monthly
GROUP BY force_id, month
HAVING incidents_n > 0
ORDER BY force_id, month;

CREATE VIEW IF NOT EXISTS incident_counts_by_district_monthly
COMMENT 'Incidents by creation month, area and district (duplicates excluded): totals, immediate first grade, mental health, ASB, domestic abuse' AS
SELECT force_id, month, area, district, sum(incidents) AS incidents,
       sumIf(mix_base, first_grade = 'IMMEDIATE') AS immediate_first_grade,
       sum(mental_health_now) AS mental_health, sum(asb) AS asb,
       sum(domestic_abuse) AS domestic_abuse
FROM incidents_monthly
GROUP BY force_id, month, area, district
HAVING incidents > 0
ORDER BY force_id, month, area, district;

CREATE VIEW IF NOT EXISTS incident_exclusions_monthly
COMMENT 'Incidents left out of response times by rule, by creation month: self-initiated, cancelled, duplicates, never attended (closed), open and not yet attended' AS
SELECT force_id, month, sum(incidents) AS incidents, sum(resp_n) AS in_response_population,
       sum(self_initiated) AS self_initiated, sum(cancelled) AS cancelled,
       sum(duplicates) AS duplicates, sum(never_attended) AS never_attended,
       sum(open_unattended) AS open_unattended
FROM incidents_monthly
GROUP BY force_id, month
ORDER BY force_id, month;

CREATE VIEW IF NOT EXISTS open_incidents_watch
COMMENT 'Open IMMEDIATE and PRIORITY incidents not yet attended (self-initiated left out), by time left to target at now(): ok, amber (amber_share of target elapsed), red (breached)' AS
SELECT force_id, incident_id, final_grade AS grade, district, area, urban_rural, created_at,
       clock_start_at,
       round(dateDiff('millisecond', clock_start_at, now64(3)) / 60000, 1) AS minutes_elapsed,
       round((1000 * target_seconds - dateDiff('millisecond', clock_start_at, now64(3))) / 60000, 1) AS minutes_left,
       intDiv(target_seconds, 60) AS target_minutes,
       multiIf(dateDiff('millisecond', clock_start_at, now64(3)) > 1000 * target_seconds, 'red',
               dateDiff('millisecond', clock_start_at, now64(3)) >= 1000 * amber_seconds, 'amber',
               'ok') AS watch_status
FROM incidents FINAL
WHERE status = 'open' AND first_arrival_at IS NULL AND final_grade IN ('IMMEDIATE', 'PRIORITY')
  AND NOT self_initiated AND clock_start_at IS NOT NULL AND target_seconds IS NOT NULL
ORDER BY minutes_left, incident_id;
