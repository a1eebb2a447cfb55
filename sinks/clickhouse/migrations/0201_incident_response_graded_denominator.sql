-- The graded-clock within-target percentage of incident_response_monthly divided the graded-clock
-- successes by the creation clock's population with a target (0200). An attended incident with no
-- graded-clock time is in the creation clock's denominator but can never be a graded-clock success,
-- so the graded percentage was understated. The graded clock now has its own denominator: attended
-- incidents with a graded-clock time and a target, plus the open ones past their target.
-- Replaces the view of 0200 (applied migrations never change).
CREATE OR REPLACE VIEW incident_response_monthly
COMMENT 'Response time by creation month, grade at first arrival and urban/rural (all = both): creation-to-first-arrival clock; self-initiated, cancelled, duplicates excluded; open unattended incidents past target count as misses in within_target_pct' AS
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
       round(100 * a.g_within_n / nullIf(a.g_target_n + b.open_breached, 0), 1) AS within_target_pct_graded_clock
FROM attended AS a
FULL OUTER JOIN breached AS b
    ON a.force_id = b.force_id AND a.month = b.month AND a.grade = b.grade AND a.urban_rural_key = b.urban_rural_key
ORDER BY force_id, month, grade, urban_rural;
