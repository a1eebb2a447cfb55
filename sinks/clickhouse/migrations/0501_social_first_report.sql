-- NCRS timeliness runs from the first report of the crime on any channel (DOMAIN 4.9): a social media
-- thread closed by a handler with disposition crime_reported and the crime's id is a report of that
-- crime, received when the thread reached the force. The view crime_first_report (migration 0303) is
-- replaced with the same columns plus social_received_at (the earliest such thread), which joins
-- the times the first report is taken across. The views over it (crime_ncrs_monthly,
-- crime_ncrs_monthly_by_district, crime_ncrs_linked_monthly) and the board readers
-- (demandhub.queries.crimes, demandhub.board.lineage) read it unchanged. Raw facts only: no replay.
CREATE OR REPLACE VIEW crime_first_report
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
    s.received_at AS social_received_at,
    arrayFilter(x -> x IS NOT NULL,
        [c.first_reported_at, i.created_at, k.offered_at, o.offered_at, s.received_at]) AS known_times,
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
LEFT JOIN
(
    SELECT force_id, crime_id, toNullable(min(received_at)) AS received_at
    FROM social_threads FINAL
    WHERE crime_id != '' AND disposition = 'crime_reported'
    GROUP BY force_id, crime_id
) AS s
    ON s.force_id = c.force_id AND s.crime_id = c.crime_id
COMMENT 'Counted crimes with the first report taken across the crime''s own report, the linked incident, call / chat, online report and social media thread (closed with disposition crime_reported and the crime''s id) (NCRS, DOMAIN 4.9): raw hours_to_record (clamped at 0), and recorded_within_ncrs_hours against the active crimes.ncrs_hours';

ALTER TABLE crimes
    COMMENT COLUMN first_reported_at 'Raw: earliest of the crime.reported events first_reported_at and their event times (crime events only; view crime_first_report adds the linked incident, call / chat, online report and social media thread)';
