-- Crime facts keep what happened; every crime definition is applied when figures are read.
-- The crime fold no longer stores values that depend on a definition: the month-placing instant
-- (period_at, by crimes.period_basis), NCRS timeliness against crimes.ncrs_hours (hours_to_record,
-- recorded_within_24h: from crime events only, while timeliness runs from the first report on any
-- channel) and prosecution_possible (crimes.prosecution_possible_types) leave the fact tables. The
-- raw times (reported, first reported, recorded, occurred, outcome assigned) and the raw outcome type
-- stay. The board readers apply the definitions passed to them (sinks/clickhouse/crimes_sql.py);
-- the analysts' views below apply the definitions the worker runs under (applied_definitions row
-- 'active', migration 0004; view crime_definitions_active), in its timezone.
-- Facts folded before this migration keep every raw column, so nothing needs re-folding; offence
-- groups are now always classified on UK local dates (the reference data's calendar), so a warehouse
-- folded under another timezone is corrected by `demandhub rebuild` (re-folds every subject from the
-- events ledger).
-- Views that used a dropped column (or the fixed Europe/London calendar, 24 h and 23:59) are dropped
-- first and re-created below.
DROP VIEW IF EXISTS crime_ncrs_linked_monthly;
DROP VIEW IF EXISTS crime_ncrs_monthly_by_district;
DROP VIEW IF EXISTS crime_ncrs_monthly;
DROP VIEW IF EXISTS crime_first_report;
DROP VIEW IF EXISTS qa_queue_monthly;
DROP VIEW IF EXISTS qa_queue_daily;
DROP VIEW IF EXISTS crime_disposals_monthly;
DROP VIEW IF EXISTS crime_outcome_rates_monthly;
DROP VIEW IF EXISTS crime_outcome_decisions_monthly;
DROP VIEW IF EXISTS crime_outcomes_monthly;
DROP VIEW IF EXISTS crime_monthly;
DROP VIEW IF EXISTS crime_segments;
DROP VIEW IF EXISTS crimes_counted;

ALTER TABLE crimes
    DROP COLUMN IF EXISTS period_at,
    DROP COLUMN IF EXISTS hours_to_record,
    DROP COLUMN IF EXISTS recorded_within_24h,
    DROP COLUMN IF EXISTS prosecution_possible;

ALTER TABLE crimes
    COMMENT COLUMN first_reported_at 'Raw: earliest of the crime.reported events first_reported_at and their event times (crime events only; view crime_first_report adds the linked incident, call / chat and online report)',
    COMMENT COLUMN recorded_at 'Raw: when the crime was recorded (first crime.recorded event); the month it counts in is applied when read (crimes.period_basis)',
    COMMENT COLUMN occurred_at 'Raw: when the offence occurred, as recorded (the month with crimes.period_basis = occurred)',
    COMMENT COLUMN offence_group 'Current offence group from schemas/reference/offence_groups.csv on the UK local date the code was applied; unclassified when the code has no mapping on that date',
    COMMENT COLUMN outcome_type 'Raw: current Home Office outcome type (1-22), see view outcome_types; prosecution possible is applied when read (crimes.prosecution_possible_types)';

ALTER TABLE crimes MODIFY COMMENT 'One row per crime: what happened (raw times, classification, flags, cancellation, current outcome); every definition is applied when read';

ALTER TABLE crime_outcomes DROP COLUMN IF EXISTS prosecution_possible;

ALTER TABLE crime_outcomes
    COMMENT COLUMN outcome_type 'Raw: Home Office outcome type (1-22) of this decision';

CREATE VIEW IF NOT EXISTS crime_definitions_active
AS SELECT
    ifNull(nullIf(JSONExtractString(j, 'timezone'), ''), 'Europe/London') AS timezone,
    ifNull(nullIf(JSONExtractString(j, 'crimes', 'period_basis'), ''), 'recorded') AS period_basis,
    if(JSONHas(j, 'crimes', 'ncrs_hours'), JSONExtractFloat(j, 'crimes', 'ncrs_hours'), 24.0) AS ncrs_hours,
    if(JSONHas(j, 'crimes', 'prosecution_possible_types'),
       JSONExtract(j, 'crimes', 'prosecution_possible_types', 'Array(UInt8)'),
       CAST([1, 2, 3, 4, 5, 6, 7, 8], 'Array(UInt8)')) AS prosecution_possible_types,
    ifNull(nullIf(JSONExtractString(j, 'crimes', 'outcome_rate_basis'), ''), 'period') AS outcome_rate_basis,
    ifNull(nullIf(JSONExtractString(j, 'crimes', 'qa_snapshot_time'), ''), '23:59') AS qa_snapshot_time,
    h AS definition_hash
FROM
(
    SELECT any(definitions) AS j, any(definition_hash) AS h
    FROM applied_definitions FINAL
    WHERE name = 'active'
)
COMMENT 'The crime definitions and timezone the crime views apply (one row): the worker''s active definitions (applied_definitions row active), the defaults of schemas/definitions.py before a worker has run';

CREATE VIEW IF NOT EXISTS crimes_counted
AS WITH
    (SELECT timezone FROM crime_definitions_active) AS d_tz,
    (SELECT period_basis FROM crime_definitions_active) AS d_period_basis,
    (SELECT prosecution_possible_types FROM crime_definitions_active) AS d_pp
SELECT *,
    if(d_period_basis = 'occurred' AND occurred_at IS NOT NULL, occurred_at, recorded_at) AS period_at,
    toStartOfMonth(toTimeZone(assumeNotNull(period_at), d_tz)) AS month,
    has(d_pp, outcome_type) AS prosecution_possible
FROM crimes FINAL
WHERE counted
COMMENT 'Crimes that count (recorded, not cancelled, not transferred) with the active definitions applied: period_at (recording, or occurrence with crimes.period_basis = occurred), its local month and prosecution_possible (current outcome type in crimes.prosecution_possible_types)';

CREATE VIEW IF NOT EXISTS crime_segments
AS SELECT
    force_id, crime_id, month, district, area, offence_group, offence_code,
    recorded_at, outcome_type, outcome_assigned_at, prosecution_possible,
    segment_kind_and_name.1 AS segment_kind, segment_kind_and_name.2 AS segment
FROM crimes_counted
ARRAY JOIN arrayConcat(
    [('all', 'all'), ('group', offence_group)],
    arrayFilter(x -> x.2 != '', [
        ('flag', if(domestic_abuse, 'domestic_abuse', '')),
        ('flag', if(hate, 'hate', '')),
        ('flag', if(cyber, 'cyber', '')),
        ('flag', if(rural, 'rural', '')),
        ('flag', if(modern_slavery, 'modern_slavery', ''))]),
    arrayMap(s -> ('hate_strand', concat('hate_', s)), hate_strands)) AS segment_kind_and_name
COMMENT 'One row per counted crime and segment it belongs to: all, its group, each flag, each hate strand (month and prosecution_possible under the active definitions)';

CREATE VIEW IF NOT EXISTS crime_monthly
AS SELECT force_id, month, segment_kind, segment, district, area, count() AS crimes
FROM crime_segments
GROUP BY force_id, month, segment_kind, segment, district, area
COMMENT 'Recorded crime per month (crimes.period_basis, local to the active timezone) by segment (all / group / flag / hate strand), district and area: sum crimes over district and area for force totals';

CREATE VIEW IF NOT EXISTS crime_first_report
AS WITH (SELECT ncrs_hours FROM crime_definitions_active) AS d_ncrs_hours
SELECT
    c.force_id AS force_id,
    c.crime_id AS crime_id,
    c.district AS district,
    c.recorded_at AS recorded_at,
    c.first_reported_at AS crime_first_reported_at,
    i.created_at AS incident_created_at,
    k.offered_at AS contact_offered_at,
    o.offered_at AS online_report_submitted_at,
    arrayFilter(x -> x IS NOT NULL, [c.first_reported_at, i.created_at, k.offered_at, o.offered_at]) AS known_times,
    if(empty(known_times), NULL, arrayMin(known_times)) AS first_report_at,
    if(first_report_at IS NULL OR c.recorded_at IS NULL, NULL,
       greatest(0, dateDiff('millisecond', first_report_at, c.recorded_at)) / 3600000) AS hours_to_record,
    d_ncrs_hours AS ncrs_hours,
    if(hours_to_record IS NULL, NULL, hours_to_record <= d_ncrs_hours) AS recorded_within_ncrs_hours
FROM (SELECT * FROM crimes FINAL WHERE counted) AS c
LEFT JOIN (SELECT force_id, incident_id, created_at FROM incidents FINAL) AS i
    ON i.force_id = c.force_id AND i.incident_id = c.incident_id
LEFT JOIN (SELECT force_id, contact_id, offered_at FROM contacts FINAL) AS k
    ON k.force_id = c.force_id AND k.contact_id = c.contact_id
LEFT JOIN (SELECT force_id, contact_id, offered_at FROM contacts FINAL) AS o
    ON o.force_id = c.force_id AND o.contact_id = c.online_report_id
COMMENT 'Counted crimes with the first report taken across the crime''s own report, the linked incident, call / chat and online report (NCRS, DOMAIN 4.9): raw hours_to_record (clamped at 0), and recorded_within_ncrs_hours against the active crimes.ncrs_hours';

CREATE VIEW IF NOT EXISTS crime_ncrs_monthly
AS WITH (SELECT timezone FROM crime_definitions_active) AS d_tz
SELECT
    force_id,
    toStartOfMonth(toTimeZone(assumeNotNull(recorded_at), d_tz)) AS month,
    any(ncrs_hours) AS ncrs_hours,
    count() AS recorded_crimes,
    countIf(hours_to_record IS NOT NULL) AS with_report_time,
    countIf(recorded_within_ncrs_hours) AS within_ncrs_hours,
    if(with_report_time = 0, NULL, 100 * within_ncrs_hours / with_report_time) AS within_ncrs_hours_pct,
    avgOrNull(hours_to_record) AS mean_hours_to_record,
    quantileExactOrNull(0.5)(hours_to_record) AS median_hours_to_record,
    quantileExactOrNull(0.9)(hours_to_record) AS p90_hours_to_record,
    max(hours_to_record) AS max_hours_to_record
FROM crime_first_report
WHERE recorded_at IS NOT NULL
GROUP BY force_id, month
COMMENT 'NCRS timeliness by local recording month: share recorded within the active crimes.ncrs_hours (ncrs_hours) of the first report on any channel, and the delay distribution (crimes with no report time are left out of the share)';

CREATE VIEW IF NOT EXISTS crime_ncrs_monthly_by_district
AS WITH (SELECT timezone FROM crime_definitions_active) AS d_tz
SELECT
    force_id,
    toStartOfMonth(toTimeZone(assumeNotNull(recorded_at), d_tz)) AS month,
    district,
    any(ncrs_hours) AS ncrs_hours,
    count() AS recorded_crimes,
    countIf(hours_to_record IS NOT NULL) AS with_report_time,
    countIf(recorded_within_ncrs_hours) AS within_ncrs_hours,
    if(with_report_time = 0, NULL, 100 * within_ncrs_hours / with_report_time) AS within_ncrs_hours_pct
FROM crime_first_report
WHERE recorded_at IS NOT NULL
GROUP BY force_id, month, district
COMMENT 'NCRS timeliness by local recording month and district (first report on any channel, active crimes.ncrs_hours)';

CREATE VIEW IF NOT EXISTS crime_ncrs_linked_monthly
AS SELECT force_id, month, ncrs_hours, recorded_crimes, with_report_time, within_ncrs_hours, within_ncrs_hours_pct
FROM crime_ncrs_monthly
COMMENT 'Same as crime_ncrs_monthly (which now takes the first report across linked contacts and incidents): kept for existing queries';

CREATE VIEW IF NOT EXISTS crime_outcomes_monthly
AS WITH
    (SELECT timezone FROM crime_definitions_active) AS d_tz,
    (SELECT prosecution_possible_types FROM crime_definitions_active) AS d_pp
SELECT
    c.force_id AS force_id,
    toStartOfMonth(toTimeZone(assumeNotNull(c.outcome_assigned_at), d_tz)) AS month,
    c.outcome_type AS outcome_type,
    any(t.name) AS outcome_name,
    has(d_pp, c.outcome_type) AS prosecution_possible,
    count() AS crimes
FROM (SELECT * FROM crimes FINAL WHERE counted) AS c
LEFT JOIN outcome_types AS t ON toUInt8(assumeNotNull(c.outcome_type)) = t.outcome_type
WHERE c.outcome_type IS NOT NULL AND c.outcome_assigned_at IS NOT NULL
GROUP BY force_id, month, outcome_type
COMMENT 'Current outcomes by the local month the outcome type was set and Home Office outcome type (one per counted crime); prosecution_possible under the active crimes.prosecution_possible_types';

CREATE VIEW IF NOT EXISTS crime_outcome_decisions_monthly
AS WITH (SELECT timezone FROM crime_definitions_active) AS d_tz
SELECT
    force_id,
    toStartOfMonth(toTimeZone(assigned_at, d_tz)) AS month,
    kind,
    outcome_type,
    count() AS decisions
FROM crime_outcomes FINAL
WHERE counted AND NOT before_recording
GROUP BY force_id, month, kind, outcome_type
COMMENT 'Every outcome assigned / changed decision by local month, kind and type (an outcome changed twice counts twice)';

CREATE VIEW IF NOT EXISTS crime_outcome_rates_monthly
AS WITH
    (SELECT timezone FROM crime_definitions_active) AS d_tz,
    (SELECT outcome_rate_basis FROM crime_definitions_active) AS d_basis
SELECT
    force_id, month, segment_kind, segment,
    sum(recorded) AS recorded_crimes,
    sum(pp_assigned) AS pp_outcomes_assigned,
    if(recorded_crimes = 0, NULL, 100 * pp_outcomes_assigned / recorded_crimes) AS pp_rate_pct,
    sum(pp_cohort) AS cohort_pp_outcomes,
    if(recorded_crimes = 0, NULL, 100 * cohort_pp_outcomes / recorded_crimes) AS cohort_pp_rate_pct,
    any(d_basis) AS outcome_rate_basis,
    if(outcome_rate_basis = 'cohort', cohort_pp_rate_pct, pp_rate_pct) AS board_rate_pct
FROM
(
    SELECT force_id, month, segment_kind, segment, 1 AS recorded, 0 AS pp_assigned,
           toUInt8(prosecution_possible) AS pp_cohort
    FROM crime_segments
    UNION ALL
    SELECT force_id, toStartOfMonth(toTimeZone(assumeNotNull(outcome_assigned_at), d_tz)) AS month,
           segment_kind, segment, 0 AS recorded, 1 AS pp_assigned, 0 AS pp_cohort
    FROM crime_segments
    WHERE prosecution_possible AND outcome_assigned_at IS NOT NULL
)
GROUP BY force_id, month, segment_kind, segment
COMMENT 'Prosecution-possible outcome rate per local month and segment under the active definitions. Period rate: PP outcomes assigned in the month / crimes recorded in the month (can exceed 100%); cohort rate: the month''s crimes with a PP outcome by now; board_rate_pct: the one crimes.outcome_rate_basis selects';

CREATE VIEW IF NOT EXISTS crime_disposals_monthly
AS WITH (SELECT timezone FROM crime_definitions_active) AS d_tz
SELECT
    force_id,
    toStartOfMonth(toTimeZone(assumeNotNull(outcome_assigned_at), d_tz)) AS month,
    count() AS outcomes,
    countIf(conditional_caution_adult) AS conditional_cautions_adult,
    countIf(conditional_caution_youth) AS conditional_cautions_youth,
    countIf(community_resolution) AS community_resolutions,
    avgOrNull(days_to_outcome) AS mean_days_to_outcome,
    sum(days_to_outcome) AS sum_days_to_outcome,
    sum(days_to_outcome * days_to_outcome) AS sumsq_days_to_outcome
FROM crimes FINAL
WHERE counted AND outcome_assigned_at IS NOT NULL
GROUP BY force_id, month
COMMENT 'By the local month the current outcome was set: conditional cautions (adult / youth), community resolutions, mean days from recording to outcome';

CREATE VIEW IF NOT EXISTS qa_queue_daily
AS SELECT * FROM qa_queue_daily_p(
    tz = (SELECT timezone FROM crime_definitions_active),
    snap = (SELECT qa_snapshot_time FROM crime_definitions_active),
    until = toString(now64(3)))
COMMENT 'QA/Linking queue per local day: depth and oldest item age at the daily snapshot (active crimes.qa_snapshot_time, 23:59 by default), inflow and outflow in the 24 h ending at it (days from the first entry to the last snapshot before now). Other snapshot times: SELECT * FROM qa_queue_daily_p(tz=..., snap=''HH:MM'', until=''YYYY-MM-DD hh:mm:ss'')';

CREATE VIEW IF NOT EXISTS qa_queue_monthly
AS SELECT
    force_id,
    toStartOfMonth(day) AS month,
    count() AS days,
    min(depth) AS min_depth,
    max(depth) AS max_depth,
    argMax(depth, day) AS month_end_depth,
    max(day) AS month_end_day,
    avg(depth) AS mean_depth,
    stddevSamp(depth) AS stddev_daily_depth,
    max(oldest_age_seconds) AS max_oldest_age_seconds,
    sum(inflow) AS inflow,
    sum(outflow) AS outflow
FROM qa_queue_daily
GROUP BY force_id, month
COMMENT 'QA/Linking queue per local month from the daily snapshots (active crimes.qa_snapshot_time): min, max, month-end (last snapshot of the month so far), mean, sample standard deviation of daily depth, inflow and outflow';
