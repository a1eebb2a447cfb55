-- NCRS first report across domains (DOMAIN 4.9): the earliest of the crime's own report time, the
-- linked incident's creation and the linked call / chat offered or online report submitted.
-- The crime fold only sees crime events; this view completes the first report from the contacts and
-- incidents facts when the links are present (default 24 h; see crimes.ncrs_hours).

CREATE VIEW IF NOT EXISTS crime_first_report
AS SELECT
    c.force_id AS force_id,
    c.crime_id AS crime_id,
    c.recorded_at AS recorded_at,
    c.first_reported_at AS crime_first_reported_at,
    i.created_at AS incident_created_at,
    k.offered_at AS contact_offered_at,
    o.offered_at AS online_report_submitted_at,
    arrayFilter(x -> x IS NOT NULL, [c.first_reported_at, i.created_at, k.offered_at, o.offered_at]) AS known_times,
    if(empty(known_times), NULL, arrayMin(known_times)) AS first_report_at,
    if(first_report_at IS NULL OR c.recorded_at IS NULL, NULL,
       greatest(0, dateDiff('millisecond', first_report_at, c.recorded_at)) / 3600000) AS hours_to_record,
    if(hours_to_record IS NULL, NULL, hours_to_record <= 24) AS recorded_within_24h
FROM (SELECT * FROM crimes FINAL WHERE counted) AS c
LEFT JOIN (SELECT force_id, incident_id, created_at FROM incidents FINAL) AS i
    ON i.force_id = c.force_id AND i.incident_id = c.incident_id
LEFT JOIN (SELECT force_id, contact_id, offered_at FROM contacts FINAL) AS k
    ON k.force_id = c.force_id AND k.contact_id = c.contact_id
LEFT JOIN (SELECT force_id, contact_id, offered_at FROM contacts FINAL) AS o
    ON o.force_id = c.force_id AND o.contact_id = c.online_report_id
COMMENT 'Counted crimes with the first report taken across the linked incident, call / chat and online report (NCRS, 24 h)';

CREATE VIEW IF NOT EXISTS crime_ncrs_linked_monthly
AS SELECT
    force_id,
    toStartOfMonth(toTimeZone(assumeNotNull(recorded_at), 'Europe/London')) AS month,
    count() AS recorded_crimes,
    countIf(hours_to_record IS NOT NULL) AS with_report_time,
    countIf(recorded_within_24h) AS within_24h,
    if(with_report_time = 0, NULL, 100 * within_24h / with_report_time) AS within_24h_pct
FROM crime_first_report
WHERE recorded_at IS NOT NULL
GROUP BY force_id, month
COMMENT 'NCRS timeliness by recording month with the first report taken across linked contacts and incidents';
