-- Crime-recording facts written by streams.domain.crimes.CrimeFold (DOMAIN 3.4, 4.8-4.11).
-- Every row is rewritten whole with a higher version when a later event arrives (reclassification,
-- cancellation, outcomes), so readers use FINAL and the month figures restate by themselves.
-- No PARTITION BY: a crime's dates can still change and a replaced row must stay in its part's partition.
CREATE TABLE IF NOT EXISTS crimes
(
    force_id                  LowCardinality(String) COMMENT 'Owning force',
    crime_id                  String COMMENT 'Crime reference (the event subject)',
    reported_at               Nullable(DateTime64(3, 'UTC')) COMMENT 'Event time of the first crime.reported event',
    first_reported_at         Nullable(DateTime64(3, 'UTC')) COMMENT 'Earliest of the reported events first_reported_at and their event times (crime events only; see incident_id / online_report_id / contact_id for the linked contact times)',
    incident_id               Nullable(String) COMMENT 'Linked incident, if the report carried one',
    online_report_id          Nullable(String) COMMENT 'Linked online report, if the report carried one',
    contact_id                Nullable(String) COMMENT 'Linked call or web chat, if the report carried one',
    recorded                  Bool COMMENT 'A crime.recorded event has been received',
    recorded_at               Nullable(DateTime64(3, 'UTC')) COMMENT 'When the crime was recorded (first crime.recorded event)',
    occurred_at               Nullable(DateTime64(3, 'UTC')) COMMENT 'When the offence occurred, as recorded',
    district                  Nullable(String) COMMENT 'District of the crime, as recorded',
    area                      Nullable(String) COMMENT 'Area (within the district), as recorded',
    offence_code              Nullable(String) COMMENT 'Current Home Office offence code (latest recorded / reclassified event)',
    offence_group             LowCardinality(String) COMMENT 'Current offence group from schemas/reference/offence_groups.csv; unclassified when the code has no mapping on its date',
    unknown_offence_code      Bool COMMENT 'The current code has no mapping valid on the date it was applied (see view unknown_offence_codes)',
    original_offence_code     Nullable(String) COMMENT 'Offence code at recording',
    original_offence_group    LowCardinality(String) COMMENT 'Offence group at recording',
    reclassification_count    UInt16 COMMENT 'Number of crime.reclassified events',
    last_reclassified_at      Nullable(DateTime64(3, 'UTC')) COMMENT 'Time of the latest reclassification',
    domestic_abuse            Bool COMMENT 'Domestic abuse flag (current)',
    hate                      Bool COMMENT 'Hate crime flag: at least one hate strand (current)',
    hate_strands              Array(LowCardinality(String)) COMMENT 'Hate strands: race, religion, sexual_orientation, disability, transgender',
    cyber                     Bool COMMENT 'Cyber-enabled flag (current)',
    rural                     Bool COMMENT 'Rural crime flag (force definition, set by the recording system)',
    modern_slavery            Bool COMMENT 'Modern slavery flag (current)',
    cancelled                 Bool COMMENT 'Removed under the recording rules ("no-crime")',
    cancelled_at              Nullable(DateTime64(3, 'UTC')) COMMENT 'When it was cancelled (first cancellation)',
    cancellation_reason       Nullable(String) COMMENT 'Cancellation reason code',
    transferred               Bool COMMENT 'Transferred to another force',
    transferred_at            Nullable(DateTime64(3, 'UTC')) COMMENT 'When it was transferred',
    transferred_to            Nullable(String) COMMENT 'Force it was transferred to',
    counted                   Bool COMMENT 'Counts in recorded crime: recorded, not cancelled, not transferred',
    period_at                 Nullable(DateTime64(3, 'UTC')) COMMENT 'Instant placing the crime in a month: recorded_at (default) or occurred_at (definitions crimes.period_basis = occurred, falling back to recorded_at)',
    hours_to_record           Nullable(Float64) COMMENT 'Hours from first report to recording (clamped at 0); NULL without a report time',
    recorded_within_24h       Nullable(Bool) COMMENT 'NCRS: recorded within crimes.ncrs_hours (default 24) of the first report',
    outcome_type              Nullable(UInt8) COMMENT 'Current Home Office outcome type (1-22), see view outcome_types',
    outcome_subtype           Nullable(String) COMMENT 'Disposal subtype of the current outcome, e.g. conditional',
    offender_age_band         Nullable(String) COMMENT 'Offender age band at disposal: adult or youth',
    outcome_assigned_at       Nullable(DateTime64(3, 'UTC')) COMMENT 'When the current outcome type was set (subtype or age-band corrections do not move it)',
    first_outcome_at          Nullable(DateTime64(3, 'UTC')) COMMENT 'When the first outcome of any type was assigned',
    outcome_events            UInt16 COMMENT 'Outcome assigned / changed events (after recording)',
    prosecution_possible      Bool COMMENT 'Current outcome type is in crimes.prosecution_possible_types (default 1-8)',
    conditional_caution_adult Bool COMMENT 'Current outcome: conditional caution (type 2/3, conditional subtype), adult at disposal',
    conditional_caution_youth Bool COMMENT 'Current outcome: conditional caution (type 2/3, conditional subtype), youth at disposal',
    community_resolution      Bool COMMENT 'Current outcome is a community resolution (type 8)',
    days_to_outcome           Nullable(Float64) COMMENT 'Days from recording to outcome_assigned_at',
    qa_entries                UInt16 COMMENT 'Stays in the QA/Linking (or other IMU) queues',
    qa_unmatched_exits        UInt16 COMMENT 'Queue exits with no open stay (data quality)',
    in_qa_queue               Bool COMMENT 'Currently in a queue (an open stay)',
    version                   UInt64 COMMENT 'Number of distinct events folded (higher replaces lower)'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (force_id, crime_id)
COMMENT 'One row per crime: classification, flags, NCRS timeliness, cancellation and current outcome';

CREATE TABLE IF NOT EXISTS crime_outcomes
(
    force_id              LowCardinality(String) COMMENT 'Owning force',
    crime_id              String COMMENT 'Crime reference',
    event_source          LowCardinality(String) COMMENT 'Source of the outcome event',
    event_id              String COMMENT 'Id of the outcome event',
    kind                  LowCardinality(String) COMMENT 'assigned or changed',
    assigned_at           DateTime64(3, 'UTC') COMMENT 'Event time of this outcome decision',
    outcome_type          UInt8 COMMENT 'Home Office outcome type (1-22)',
    outcome_subtype       Nullable(String) COMMENT 'Disposal subtype, e.g. conditional',
    offender_age_band     Nullable(String) COMMENT 'Offender age band at disposal: adult or youth',
    previous_outcome_type Nullable(UInt8) COMMENT 'Outcome type before this decision',
    is_current            Bool COMMENT 'This is the crime''s current outcome',
    before_recording      Bool COMMENT 'Timed before the recording: quarantined and ignored by the figures',
    prosecution_possible  Bool COMMENT 'Type is in crimes.prosecution_possible_types (default 1-8)',
    offence_group         LowCardinality(String) COMMENT 'The crime''s current offence group',
    domestic_abuse        Bool COMMENT 'The crime''s current domestic abuse flag',
    hate                  Bool COMMENT 'The crime''s current hate flag',
    cyber                 Bool COMMENT 'The crime''s current cyber flag',
    rural                 Bool COMMENT 'The crime''s current rural flag',
    modern_slavery        Bool COMMENT 'The crime''s current modern slavery flag',
    district              Nullable(String) COMMENT 'The crime''s district',
    area                  Nullable(String) COMMENT 'The crime''s area',
    counted               Bool COMMENT 'The crime counts (recorded, not cancelled, not transferred)',
    recorded_at           Nullable(DateTime64(3, 'UTC')) COMMENT 'When the crime was recorded',
    version               UInt64 COMMENT 'Number of distinct events of the crime folded'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (force_id, crime_id, event_source, event_id)
COMMENT 'One row per outcome assigned / changed event (the audit trail of outcome decisions)';

CREATE TABLE IF NOT EXISTS qa_queue_intervals
(
    force_id        LowCardinality(String) COMMENT 'Owning force',
    crime_id        String COMMENT 'Crime reference',
    queue           LowCardinality(String) COMMENT 'IMU queue, qa_linking by default',
    entry_source    LowCardinality(String) COMMENT 'Source of the queue-entry event',
    entry_id        String COMMENT 'Id of the queue-entry event (identifies the stay)',
    entered_at      DateTime64(3, 'UTC') COMMENT 'When the crime entered the queue',
    exited_at       Nullable(DateTime64(3, 'UTC')) COMMENT 'When it left (first exit after entry); NULL while still in the queue',
    duplicate_entry Bool COMMENT 'Entry while already in the queue: not a stay, ignored by the figures',
    version         UInt64 COMMENT 'Number of distinct events of the crime folded'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (force_id, crime_id, queue, entry_source, entry_id)
COMMENT 'One row per stay of a crime in an IMU queue (QA/Linking); depth at t = stays with entered_at <= t < exited_at';
