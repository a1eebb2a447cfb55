-- Incident facts keep what happened; every incidents definition is applied when figures are read
-- (sinks/clickhouse/incidents_sql.py). The columns that baked a definition into the facts leave the
-- table: response_clock, clock_start_at, response_seconds (configured clock), target_seconds,
-- amber_seconds, within_target and response_exclusion (which held the self-initiated exclusion). The
-- raw columns they came from stay: created_at, the grades with the times they were taken, first
-- arrival, urban_rural, self_initiated, the linked contact_id, and both raw durations
-- (response_seconds_created, response_seconds_graded). attendance_exclusion keeps the exclusions that
-- are facts; for rows written before this migration it is computed from the raw columns (its
-- DEFAULT), so existing facts need no re-fold.
--
-- The analyst views that read the dropped columns are re-created over incidents_response_active,
-- which applies the definitions the worker runs under (applied_definitions, row 'active'; the view is
-- empty until a worker or a replay has recorded them).
DROP VIEW IF EXISTS open_incidents_watch;

DROP VIEW IF EXISTS incident_response_monthly;

ALTER TABLE incidents
    ADD COLUMN IF NOT EXISTS attendance_exclusion LowCardinality(String)
        DEFAULT multiIf(duplicate, 'duplicate', cancelled, 'cancelled', created_at IS NULL, 'not_created',
                        first_arrival_at IS NULL, 'not_attended', grade_at_arrival IS NULL, 'ungraded_at_arrival', '')
        COMMENT 'Empty when the incident has a response time (created, attended, graded at arrival, not cancelled, not a duplicate), else the fact that keeps it out: duplicate, cancelled, not_created, not_attended or ungraded_at_arrival. Self-initiated incidents are left out when read, by definition (incidents.exclude_self_initiated)'
        AFTER graded_at_arrival_grade_at;

ALTER TABLE incidents
    DROP COLUMN IF EXISTS response_clock,
    DROP COLUMN IF EXISTS clock_start_at,
    DROP COLUMN IF EXISTS response_seconds,
    DROP COLUMN IF EXISTS target_seconds,
    DROP COLUMN IF EXISTS amber_seconds,
    DROP COLUMN IF EXISTS within_target,
    DROP COLUMN IF EXISTS response_exclusion;

ALTER TABLE incidents
    COMMENT COLUMN self_initiated 'Raised by an officer (self-initiated); left out of response times when read if incidents.exclude_self_initiated',
    COMMENT COLUMN contact_id 'Linked contact id, if any (the contact_offered response clock starts at the earliest offer of a linked contact: this one, or a contact naming the incident)',
    COMMENT COLUMN urban_rural 'urban or rural location flag; with the grade it selects the attendance target (incidents.target_minutes) when read',
    COMMENT COLUMN grade_at_arrival 'Grade held at first arrival: selects the attendance target when read',
    COMMENT COLUMN graded_at_arrival_grade_at 'When the incident took the grade it held at first arrival (start of the graded_at_arrival_grade clock)',
    COMMENT COLUMN final_grade_at 'When the incident took the grade it holds now (start of the graded clock while not attended)',
    COMMENT COLUMN response_seconds_created 'Creation to first arrival, seconds (raw duration)',
    COMMENT COLUMN response_seconds_graded 'Taking the grade held at arrival to first arrival, seconds (raw duration)',
    COMMENT COLUMN asb 'Final category in the NICL anti-social behaviour chapter (which incidents count as ASB is incidents.asb_basis, applied when read)';

ALTER TABLE incidents MODIFY COMMENT 'One row per incident: what happened (grading with times, attendance, qualifiers, status); definitions are applied when read (read with FINAL)';

CREATE VIEW IF NOT EXISTS incidents_response_active
COMMENT 'Every incident with its response clock, target and watch under the definitions the worker runs under (applied_definitions_active): response_clock, clock_start_at, response_seconds, target_seconds, amber_seconds, within_target, response_exclusion; empty until definitions are recorded' AS
SELECT i.*,
       multiIf(a.by_incident IS NULL, b.by_contact, b.by_contact IS NULL, a.by_incident,
               least(a.by_incident, b.by_contact)) AS linked_offered_at,
       d.d_clock AS response_clock,
       multiIf(d.d_clock = 'graded_at_arrival_grade',
               if(i.first_arrival_at IS NULL, i.final_grade_at, i.graded_at_arrival_grade_at),
               d.d_clock = 'contact_offered', ifNull(linked_offered_at, i.created_at),
               i.created_at) AS clock_start_at,
       dateDiff('millisecond', clock_start_at, i.first_arrival_at) / 1000 AS response_seconds,
       concat(ifNull(if(i.first_arrival_at IS NULL, i.final_grade, i.grade_at_arrival), ''), '_',
              ifNull(i.urban_rural, '')) AS target_key,
       if(mapContains(d.d_targets, target_key), 60 * d.d_targets[target_key], NULL) AS target_seconds,
       round(target_seconds * d.d_amber_share) AS amber_seconds,
       response_seconds <= target_seconds AS within_target,
       multiIf(i.attendance_exclusion IN ('duplicate', 'cancelled'), i.attendance_exclusion,
               i.self_initiated AND d.d_exclude_self, 'self_initiated',
               i.attendance_exclusion != '', i.attendance_exclusion,
               response_seconds IS NULL, 'no_clock', '') AS response_exclusion
FROM incidents AS i FINAL
CROSS JOIN
(
    SELECT JSONExtractString(definitions, 'incidents', 'response_clock') AS d_clock,
           JSONExtract(definitions, 'incidents', 'target_minutes', 'Map(String, UInt32)') AS d_targets,
           JSONExtractBool(definitions, 'incidents', 'exclude_self_initiated') AS d_exclude_self,
           JSONExtractFloat(definitions, 'incidents', 'amber_share') AS d_amber_share
    FROM applied_definitions_active
) AS d
LEFT JOIN
(
    SELECT force_id AS a_force, incident_id AS a_incident, min(offered_at) AS by_incident
    FROM contacts FINAL
    WHERE incident_id != '' AND offered_at IS NOT NULL AND (SELECT any(JSONExtractString(definitions, 'incidents', 'response_clock')) FROM applied_definitions_active) = 'contact_offered'
    GROUP BY a_force, a_incident
) AS a ON a.a_force = i.force_id AND a.a_incident = i.incident_id
LEFT JOIN
(
    SELECT force_id AS b_force, contact_id AS b_contact, min(offered_at) AS by_contact
    FROM contacts FINAL
    WHERE offered_at IS NOT NULL AND (SELECT any(JSONExtractString(definitions, 'incidents', 'response_clock')) FROM applied_definitions_active) = 'contact_offered'
    GROUP BY b_force, b_contact
) AS b ON b.b_force = i.force_id AND b.b_contact = ifNull(i.contact_id, '');

CREATE VIEW IF NOT EXISTS open_incidents_watch
COMMENT 'Open IMMEDIATE and PRIORITY incidents not yet attended (self-initiated left out when so defined), by time left to target at now() under the active definitions (clock, targets, amber share): ok, amber (amber_share of target elapsed), red (breached)' AS
SELECT force_id, incident_id, final_grade AS grade, district, area, urban_rural, created_at,
       clock_start_at,
       round(dateDiff('millisecond', clock_start_at, now64(3)) / 60000, 1) AS minutes_elapsed,
       round((1000 * target_seconds - dateDiff('millisecond', clock_start_at, now64(3))) / 60000, 1) AS minutes_left,
       intDiv(target_seconds, 60) AS target_minutes,
       multiIf(dateDiff('millisecond', clock_start_at, now64(3)) > 1000 * target_seconds, 'red',
               dateDiff('millisecond', clock_start_at, now64(3)) >= 1000 * amber_seconds, 'amber',
               'ok') AS watch_status
FROM incidents_response_active
WHERE status = 'open' AND response_exclusion = 'not_attended' AND final_grade IN ('IMMEDIATE', 'PRIORITY')
  AND clock_start_at IS NOT NULL AND target_seconds IS NOT NULL
ORDER BY minutes_left, incident_id;

CREATE VIEW IF NOT EXISTS incident_response_monthly
COMMENT 'Response time by creation month, grade at first arrival and urban/rural (all = both), under the definitions the incidents rollup was computed with: by their response clock, and by the graded clock (_graded_clock); cancelled, duplicates and (when so defined) self-initiated excluded; open unattended incidents past target at now() under the active definitions count as misses in within_target_pct' AS
WITH
    attended AS
    (
        SELECT force_id, month, arrival_grade AS grade,
               if(grouping(urban_rural) = 1, 'all', urban_rural) AS urban_rural_key,
               sum(resp_n) AS attended, sum(resp_sum_s) AS sum_s, sum(resp_target_n) AS target_n,
               sum(resp_within_n) AS within_n,
               quantilesExactInclusiveMerge(0.5, 0.9)(resp_q) AS q,
               sum(resp_g_n) AS g_n, sum(resp_g_sum_s) AS g_sum_s, sum(resp_g_within_n) AS g_within_n,
               sum(resp_g_target_n) AS g_target_n
        FROM incidents_monthly
        WHERE arrival_grade != '' AND resp_n > 0
        GROUP BY GROUPING SETS ((force_id, month, arrival_grade), (force_id, month, arrival_grade, urban_rural))
    ),
    breached AS
    (
        SELECT force_id, toStartOfMonth(toTimeZone(created_at, ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), 'Europe/London'))) AS month,
               assumeNotNull(final_grade) AS grade,
               if(grouping(urban_rural) = 1, 'all', assumeNotNull(urban_rural)) AS urban_rural_key,
               count() AS open_breached
        FROM incidents_response_active
        WHERE status = 'open' AND response_exclusion = 'not_attended' AND target_seconds IS NOT NULL
          AND clock_start_at IS NOT NULL
          AND dateDiff('millisecond', clock_start_at, now64(3)) > 1000 * target_seconds
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
       round(100 * a.g_within_n / nullIf(a.g_target_n + b.open_breached, 0), 1) AS within_target_pct_graded_clock
FROM attended AS a
FULL OUTER JOIN breached AS b
    ON a.force_id = b.force_id AND a.month = b.month AND a.grade = b.grade AND a.urban_rural_key = b.urban_rural_key
ORDER BY force_id, month, grade, urban_rural;
