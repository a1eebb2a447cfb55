-- Analyst views over the crime facts (DOMAIN 4.8-4.11), with the default definitions: months and days
-- in Europe/London, prosecution possible = the fold's flag (crimes.prosecution_possible_types), the QA
-- snapshot at 23:59. demandhub.queries.crimes computes the board figures with the definitions in force.
-- Views read the facts FINAL, so a reclassified crime moves group and a cancelled one leaves its month.

CREATE VIEW IF NOT EXISTS outcome_types
(
    outcome_type UInt8 COMMENT 'Home Office outcome type',
    name String COMMENT 'Outcome name (abridged)',
    prosecution_possible_default Bool COMMENT 'In the default prosecution-possible set (1-8)'
)
AS SELECT outcome_type, name, prosecution_possible_default
FROM values('outcome_type UInt8, name String, prosecution_possible_default Bool',
    (1, 'Charged/summonsed', true),
    (2, 'Caution - youths', true),
    (3, 'Caution - adults', true),
    (4, 'Taken into consideration', true),
    (5, 'Offender has died', true),
    (6, 'Penalty Notice for Disorder', true),
    (7, 'Cannabis/khat warning', true),
    (8, 'Community resolution', true),
    (9, 'Prosecution not in the public interest (CPS)', false),
    (10, 'Formal action not in the public interest (police)', false),
    (11, 'Prosecution prevented - suspect under age', false),
    (12, 'Prosecution prevented - suspect too ill', false),
    (13, 'Prosecution prevented - victim/key witness dead or too ill', false),
    (14, 'Evidential difficulties: suspect not identified; victim does not support action', false),
    (15, 'Evidential difficulties: suspect identified; victim supports action', false),
    (16, 'Evidential difficulties: suspect identified; victim does not support action', false),
    (17, 'Prosecution time limit expired', false),
    (18, 'Investigation complete - no suspect identified', false),
    (19, 'Not in use', false),
    (20, 'Action undertaken by another body or agency', false),
    (21, 'Further investigation not in the public interest (police)', false),
    (22, 'Diversionary or educational activity', false))
COMMENT 'Home Office outcome types (reference data, same as schemas/reference/outcome_types.csv)';

CREATE VIEW IF NOT EXISTS crimes_counted
AS SELECT *, toStartOfMonth(toTimeZone(period_at, 'Europe/London')) AS month
FROM crimes FINAL
WHERE counted
COMMENT 'Crimes that count (recorded, not cancelled, not transferred) with their month (period_at, Europe/London)';

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
COMMENT 'One row per counted crime and segment it belongs to: all, its group, each flag, each hate strand';

CREATE VIEW IF NOT EXISTS crime_monthly
AS SELECT force_id, month, segment_kind, segment, district, area, count() AS crimes
FROM crime_segments
GROUP BY force_id, month, segment_kind, segment, district, area
COMMENT 'Recorded crime per month by segment (all / group / flag / hate strand), district and area: sum crimes over district and area for force totals';

CREATE VIEW IF NOT EXISTS crime_ncrs_monthly
AS SELECT
    force_id,
    toStartOfMonth(toTimeZone(recorded_at, 'Europe/London')) AS month,
    count() AS recorded_crimes,
    countIf(hours_to_record IS NOT NULL) AS with_report_time,
    countIf(recorded_within_24h) AS within_24h,
    if(with_report_time = 0, NULL, 100 * within_24h / with_report_time) AS within_24h_pct,
    avgOrNull(hours_to_record) AS mean_hours_to_record,
    quantileExactOrNull(0.5)(hours_to_record) AS median_hours_to_record,
    quantileExactOrNull(0.9)(hours_to_record) AS p90_hours_to_record,
    max(hours_to_record) AS max_hours_to_record
FROM crimes_counted
GROUP BY force_id, month
COMMENT 'NCRS timeliness by recording month: share recorded within 24 h of the first report and the delay distribution (crimes without a report time are left out of the share)';

CREATE VIEW IF NOT EXISTS crime_ncrs_monthly_by_district
AS SELECT
    force_id,
    toStartOfMonth(toTimeZone(recorded_at, 'Europe/London')) AS month,
    district,
    count() AS recorded_crimes,
    countIf(hours_to_record IS NOT NULL) AS with_report_time,
    countIf(recorded_within_24h) AS within_24h,
    if(with_report_time = 0, NULL, 100 * within_24h / with_report_time) AS within_24h_pct
FROM crimes_counted
GROUP BY force_id, month, district
COMMENT 'NCRS timeliness by recording month and district';

CREATE VIEW IF NOT EXISTS crime_outcomes_monthly
AS SELECT
    c.force_id AS force_id,
    toStartOfMonth(toTimeZone(c.outcome_assigned_at, 'Europe/London')) AS month,
    c.outcome_type AS outcome_type,
    any(t.name) AS outcome_name,
    any(c.prosecution_possible) AS prosecution_possible,
    count() AS crimes
FROM crimes_counted AS c
LEFT JOIN outcome_types AS t ON toUInt8(assumeNotNull(c.outcome_type)) = t.outcome_type
WHERE c.outcome_type IS NOT NULL
GROUP BY force_id, month, outcome_type
COMMENT 'Current outcomes by the month the outcome type was set and Home Office outcome type (one per counted crime)';

CREATE VIEW IF NOT EXISTS crime_outcome_decisions_monthly
AS SELECT
    force_id,
    toStartOfMonth(toTimeZone(assigned_at, 'Europe/London')) AS month,
    kind,
    outcome_type,
    count() AS decisions
FROM crime_outcomes FINAL
WHERE counted AND NOT before_recording
GROUP BY force_id, month, kind, outcome_type
COMMENT 'Every outcome assigned / changed decision by month, kind and type (an outcome changed twice counts twice)';

CREATE VIEW IF NOT EXISTS crime_outcome_rates_monthly
AS SELECT
    force_id, month, segment_kind, segment,
    sum(recorded) AS recorded_crimes,
    sum(pp_assigned) AS pp_outcomes_assigned,
    if(recorded_crimes = 0, NULL, 100 * pp_outcomes_assigned / recorded_crimes) AS pp_rate_pct,
    sum(pp_cohort) AS cohort_pp_outcomes,
    if(recorded_crimes = 0, NULL, 100 * cohort_pp_outcomes / recorded_crimes) AS cohort_pp_rate_pct
FROM
(
    SELECT force_id, month, segment_kind, segment, 1 AS recorded, 0 AS pp_assigned,
           toUInt8(prosecution_possible) AS pp_cohort
    FROM crime_segments
    UNION ALL
    SELECT force_id, toStartOfMonth(toTimeZone(outcome_assigned_at, 'Europe/London')) AS month,
           segment_kind, segment, 0 AS recorded, 1 AS pp_assigned, 0 AS pp_cohort
    FROM crime_segments
    WHERE prosecution_possible AND outcome_assigned_at IS NOT NULL
)
GROUP BY force_id, month, segment_kind, segment
COMMENT 'Prosecution-possible outcome rate per month and segment. Default (board) rate: PP outcomes assigned in the month / crimes recorded in the month (can exceed 100%); cohort rate: the month''s crimes with a PP outcome by now';

CREATE VIEW IF NOT EXISTS crime_disposals_monthly
AS SELECT
    force_id,
    toStartOfMonth(toTimeZone(outcome_assigned_at, 'Europe/London')) AS month,
    count() AS outcomes,
    countIf(conditional_caution_adult) AS conditional_cautions_adult,
    countIf(conditional_caution_youth) AS conditional_cautions_youth,
    countIf(community_resolution) AS community_resolutions,
    avgOrNull(days_to_outcome) AS mean_days_to_outcome,
    sum(days_to_outcome) AS sum_days_to_outcome,
    sum(days_to_outcome * days_to_outcome) AS sumsq_days_to_outcome
FROM crimes_counted
WHERE outcome_assigned_at IS NOT NULL
GROUP BY force_id, month
COMMENT 'By the month the current outcome was set: conditional cautions (adult / youth), community resolutions, mean days from recording to outcome';

CREATE VIEW IF NOT EXISTS unknown_offence_codes
AS SELECT
    force_id,
    offence_code,
    count() AS crimes,
    countIf(counted) AS counted_crimes,
    min(recorded_at) AS first_recorded_at,
    max(recorded_at) AS last_recorded_at
FROM crimes FINAL
WHERE unknown_offence_code
GROUP BY force_id, offence_code
COMMENT 'Offence codes with no mapping in schemas/reference/offence_groups.csv on their date: such crimes stay in all crime as group unclassified';

CREATE VIEW IF NOT EXISTS qa_queue_daily_p
AS WITH
    {tz:String} AS tz,
    toUInt32(substring({snap:String}, 1, 2)) * 3600000 + toUInt32(substring({snap:String}, 4, 2)) * 60000 AS snap_ms,
    toDateTime64({until:String}, 3, 'UTC') AS until_at,
    toTimeZone(until_at, tz) AS until_local,
    toDate(until_local) - toUInt8(toHour(until_local) * 3600000 + toMinute(until_local) * 60000
        + toSecond(until_local) * 1000 + toMillisecond(until_local) < snap_ms) AS last_day,
    stays AS
    (
        SELECT force_id, entered_at,
            toDate(toTimeZone(entered_at, tz)) + toUInt8(toHour(toTimeZone(entered_at, tz)) * 3600000
                + toMinute(toTimeZone(entered_at, tz)) * 60000 + toSecond(toTimeZone(entered_at, tz)) * 1000
                + toMillisecond(toTimeZone(entered_at, tz)) > snap_ms) AS entry_day,
            if(exited_at IS NULL, NULL,
                toDate(toTimeZone(assumeNotNull(exited_at), tz)) + toUInt8(toHour(toTimeZone(assumeNotNull(exited_at), tz)) * 3600000
                + toMinute(toTimeZone(assumeNotNull(exited_at), tz)) * 60000 + toSecond(toTimeZone(assumeNotNull(exited_at), tz)) * 1000
                + toMillisecond(toTimeZone(assumeNotNull(exited_at), tz)) > snap_ms)) AS exit_day
        FROM qa_queue_intervals FINAL
        WHERE queue = 'qa_linking' AND NOT duplicate_entry AND entered_at <= until_at
    )
SELECT
    d.force_id AS force_id,
    d.day AS day,
    toTimeZone(toDateTime64(concat(toString(d.day), ' ', {snap:String}, ':00'), 3, tz), 'UTC') AS snapshot_at,
    o.depth AS depth,
    if(o.depth = 0, NULL, dateDiff('second', o.oldest_entered_at, snapshot_at)) AS oldest_age_seconds,
    f.inflow AS inflow,
    f.outflow AS outflow
FROM
(
    SELECT force_id, arrayJoin(arrayMap(n -> addDays(first_day, n),
        range(toUInt32(greatest(0, dateDiff('day', first_day, last_day) + 1))))) AS day
    FROM (SELECT force_id, min(entry_day) AS first_day FROM stays GROUP BY force_id)
) AS d
LEFT JOIN
(
    SELECT force_id, day, count() AS depth, min(entered_at) AS oldest_entered_at
    FROM
    (
        SELECT force_id, entered_at, arrayJoin(arrayMap(n -> addDays(entry_day, n),
            range(toUInt32(greatest(0, dateDiff('day', entry_day,
                least(last_day + 1, ifNull(exit_day, last_day + 1)))))))) AS day
        FROM stays
    )
    GROUP BY force_id, day
) AS o ON o.force_id = d.force_id AND o.day = d.day
LEFT JOIN
(
    SELECT force_id, day, sum(i) AS inflow, sum(x) AS outflow
    FROM
    (
        SELECT force_id, entry_day AS day, 1 AS i, 0 AS x FROM stays
        UNION ALL
        SELECT force_id, assumeNotNull(exit_day) AS day, 0 AS i, 1 AS x FROM stays WHERE exit_day IS NOT NULL
    )
    GROUP BY force_id, day
) AS f ON f.force_id = d.force_id AND f.day = d.day
ORDER BY force_id, day;

CREATE VIEW IF NOT EXISTS qa_queue_daily
AS SELECT * FROM qa_queue_daily_p(tz = 'Europe/London', snap = '23:59', until = toString(now64(3)))
COMMENT 'QA/Linking queue per day: depth and oldest item age at the 23:59 snapshot, inflow and outflow in the 24 h ending at it (days from the first entry to the last snapshot before now). Other snapshot times: SELECT * FROM qa_queue_daily_p(tz=..., snap=''HH:MM'', until=''YYYY-MM-DD hh:mm:ss'')';

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
COMMENT 'QA/Linking queue per month from the daily 23:59 snapshots: min, max, month-end (last snapshot of the month so far), mean, sample standard deviation of daily depth, inflow and outflow';
